"""Sinks: turn the report document (see :mod:`arpwatch_lb.report`) into output."""

from .jsondoc import render_json
from .table import render_table

__all__ = ["render_json", "render_table"]
