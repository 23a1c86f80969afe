"""Sinks: everything that writes — the report as a table or JSON, JSON lines, the doctor's table,
progress on stderr, the pcap writer, the Prometheus exposition.

A sink reads what the core built (the report document of
:mod:`arpwatch_lb.core.report`, events of :mod:`arpwatch_lb.core.event_policy`,
tracker snapshots) and formats it; it judges nothing.

May import: :mod:`arpwatch_lb.core` and :mod:`arpwatch_lb.extras`.  Never sources,
sessions, ``kube`` or the CLI.
"""

from .json_report import render_json
from .table import render_table

__all__ = ["render_json", "render_table"]
