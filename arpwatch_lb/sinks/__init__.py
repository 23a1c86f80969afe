"""Sinks: turn the report document (see :mod:`arpwatch_lb.core.report`) into output."""

from .json_report import render_json
from .table import render_table

__all__ = ["render_json", "render_table"]
