"""Streamed reports (replay of very large tables) are byte for byte the in-memory ones."""

from __future__ import annotations

import io
from pathlib import Path
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from test_tracker_bounded import ALL, NODES, busy_streams

from arpwatch_lb.core.addresses import parse_vips
from arpwatch_lb.core.frames import Claim
from arpwatch_lb.core.report import (
    build_report,
    document_exit_status,
    report_document,
    report_exit_status,
)
from arpwatch_lb.core.tracker import OwnershipTracker
from arpwatch_lb.sessions.replay import replay
from arpwatch_lb.sinks import render_json, render_table
from arpwatch_lb.sinks import table as table_sink
from arpwatch_lb.sinks.json_report import write_json
from arpwatch_lb.sinks.table import write_table

ROOT = Path(__file__).resolve().parent.parent
SELECTIONS = [ALL, parse_vips(["192.0.2.10", "192.0.2.99"]), parse_vips(["198.18.0.0/29"])]


def streamed(tracker: OwnershipTracker, vips, nodes, writer, counts=None) -> str:
    out = io.StringIO()
    writer(report_document(tracker, counts or {}, vips, nodes=nodes), out)
    return out.getvalue()


@settings(max_examples=200)
@given(claims=busy_streams(), sel=st.sampled_from(SELECTIONS), named=st.booleans(),
       cap=st.sampled_from([None, 3]))
def test_streamed_json_and_table_equal_the_rendered_ones(claims: list[Claim], sel, named: bool,
                                                         cap: int | None) -> None:
    tracker = OwnershipTracker(max_ips=cap)
    tracker.feed_all(claims)
    nodes = NODES if named else None
    doc = build_report(tracker, {}, sel, nodes=nodes)
    assert streamed(tracker, sel, nodes, write_json) == render_json(doc) + "\n"
    with mock.patch.object(table_sink, "STREAM_ABOVE", -1):  # always the two-pass layout
        assert streamed(tracker, sel, nodes, write_table) == render_table(doc) + "\n"
    assert document_exit_status(report_document(tracker, {}, sel, nodes=nodes)) == \
        report_exit_status(doc)


def test_lab_captures_stream_alike() -> None:
    for path in sorted((ROOT / "pcaps").glob("*.pcap")):
        tracker = OwnershipTracker()
        result = replay([path], tracker)
        doc = build_report(tracker, result.counts, ALL, result.sources)
        out = io.StringIO()
        write_json(report_document(tracker, result.counts, ALL, result.sources), out)
        assert out.getvalue() == render_json(doc) + "\n"
        with mock.patch.object(table_sink, "STREAM_ABOVE", -1):
            out = io.StringIO()
            write_table(report_document(tracker, result.counts, ALL, result.sources), out)
            assert out.getvalue() == render_table(doc) + "\n", path.name


@settings(max_examples=2000)
@given(t=st.floats(0, 2**33, allow_nan=False) | st.integers(0, 2**32).map(lambda s: s + 0.5)
       | st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 999_999)).map(
           lambda p: p[0] + p[1] * 1e-6)
       | st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 999_999_999)).map(
           lambda p: p[0] + p[1] * 1e-9))
def test_time_text_is_what_json_writes(t: float) -> None:
    from arpwatch_lb.core.report import time_text

    assert time_text(t) == repr(round(t, 6))
