"""The HTML timeline sink: the report document as one self-contained page.

:func:`render_html` is a pure function of the report document
(:func:`arpwatch_lb.core.report.build_report`, schema in the README): a header
(sources, time span, verdict counts); per IP, in the report's order
(contested first), one lane per claimant (MAC, node and announcer kind when
the report knows them) with its owner runs as bars on a time axis shared by
every IP, flip-flops and duplicate replies as marks, owner changes as
connectors between lanes, and a strip of claims and changes per minute; then
the text table (:func:`arpwatch_lb.sinks.table.render_table`) for copy and
paste.

Nothing is fetched: CSS and script are inline, the SVG is drawn by the
script from a JSON blob in the page, and a Content-Security-Policy forbids
loading anything else, so the file opens from disk in any current browser.
The script merges runs (and marks) closer together than one pixel into one
bar and says so on the page; hovering a bar shows its exact times and frames.

Where the marks come from:

* **flip-flops** are derived from the timeline with the tracker's rule: a run
  whose MAC's previous run ended at most ``window`` seconds before the new run
  began (:func:`flip_flop_runs`).  Exact when ``timeline_complete`` is true
  (up to the report's microsecond rounding); otherwise only the kept runs are
  marked and the page says so.
* **duplicate replies** come from ``ips[].duplicate_reply_events``, which the
  report has when the tracker kept them (``max_marks``, see
  :data:`HTML_MAX_MARKS`); without it the page gives the count only.

The report's timelines hold at most the tracker's ``max_runs`` runs per IP:
sessions that write a page build their tracker with :data:`HTML_MAX_RUNS`.
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from .table import render_table

__all__ = ["HTML_MAX_MARKS", "HTML_MAX_RUNS", "flip_flop_runs", "page_data", "render_html",
           "write_html"]

HTML_MAX_RUNS = 100_000
"""Owner runs kept per IP when a page is asked for (the default tracker keeps 64)."""
HTML_MAX_MARKS = 100_000
"""Duplicate replies kept per IP (time and MACs) when a page is asked for."""

VERDICTS = ("contested", "unclaimed", "moved", "ok")


@cache
def _asset(name: str) -> str:
    """``html_timeline.{html,css,js}``: the page, its style and its script (package data)."""
    return (files(__package__) / f"html_timeline.{name}").read_text(encoding="utf-8")


def _us(x: float) -> int:
    """Seconds (≥ 0) → whole microseconds, the report's precision."""
    return int(x * 1e6 + 0.5)


def flip_flop_runs(timeline: Sequence[Mapping[str, Any]], window: float) -> list[tuple[int, float]]:
    """``(run index, seconds since that MAC's previous run ended)`` for every flip-flop.

    The tracker's rule on the kept runs: a change to a MAC whose latest claim
    (the end of its previous run) is at most ``window`` seconds older than the
    change.  A MAC whose earlier runs were dropped from a bounded timeline
    cannot be judged, so an incomplete timeline gives a lower bound.
    """
    last_end: dict[str, float] = {}
    out = []
    for i, run in enumerate(timeline):
        mac = run["mac"]
        end = last_end.get(mac)
        if i and end is not None and run["first"] - end <= window:
            out.append((i, run["first"] - end))
        last_end[mac] = run["last"]
    return out


def _evidence(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "; ".join(_evidence(v) for v in value)
    return json.dumps(value, sort_keys=True)


def _ip_data(entry: Mapping[str, Any], t0: float, window: float) -> dict[str, Any]:
    claimants = entry["claimants"]
    lanes = {c["mac"]: i for i, c in enumerate(claimants)}
    timeline = entry["timeline"]
    for r in timeline:  # a MAC only the timeline names (never in a well-formed report)
        if r["mac"] not in lanes:
            lanes[r["mac"]] = len(lanes)
    lane_docs = []
    for mac, i in lanes.items():
        c = claimants[i] if i < len(claimants) else {"mac": mac}
        announcer = c.get("announcer") or {}
        if not isinstance(announcer, Mapping):  # tolerate a bare kind
            announcer = {"kind": str(announcer)}
        lane_docs.append({
            "mac": mac,
            "node": c.get("node"),
            "kind": announcer.get("kind"),
            "evidence": _evidence(announcer.get("evidence")),
            "frames": c.get("frames"),
            "runs": c.get("runs"),
            "hosts": list(c.get("host_ips") or ()),
        })
    runs = [[lanes[r["mac"]], _us(r["first"] - t0), _us(r["last"] - t0), r["frames"]]
            for r in timeline]
    events = entry.get("duplicate_reply_events")
    dups = None
    if events is not None:
        dups = [[_us(d["time"] - t0), lanes.get(d["macs"][0], -1), lanes.get(d["macs"][1], -1),
                 d.get("requester")] for d in events]
    return {
        "ip": entry["ip"], "vlan": entry["vlan"], "inner_vlan": entry["inner_vlan"],
        "verdict": entry["verdict"], "owner": entry["owner"],
        "changes": entry["changes"], "flip_flops": entry["flip_flops"],
        "duplicate_replies": entry["duplicate_replies"], "frames": entry["frames"],
        "complete": bool(entry["timeline_complete"]),
        "dropped": max(entry["changes"] + 1 - len(timeline), 0) if timeline else 0,
        "lanes": lane_docs,
        "runs": runs,
        "flips": [[i, _us(since)] for i, since in flip_flop_runs(timeline, window)],
        "dups": dups,
    }


def page_data(report: Mapping[str, Any]) -> dict[str, Any]:
    """What the page's script draws: times in whole microseconds after ``t0`` (whole epoch
    seconds), so the page is compact and exact."""
    first = report.get("first_time")
    last = report.get("last_time")
    t0 = float(math.floor(first)) if first is not None else 0.0
    window = float(report.get("window") or 0.0)
    return {
        "t0": t0,
        "start": _us(first - t0) if first is not None else 0,
        "end": _us(last - t0) if last is not None else 0,
        "window": window,
        "dup_window": report.get("duplicate_window"),
        "ips": [_ip_data(e, t0, window) for e in report["ips"]],
    }


def _stamp(t: float | None) -> str:
    if t is None:
        return "-"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.3g} s" if seconds < 10 else f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {seconds % 60:.0f} s"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
    return f"{int(seconds // 86400)} d {int(seconds % 86400 // 3600)} h"


def _source(s: Mapping[str, Any]) -> str:
    if "path" in s:
        extra = [s.get("format") or ""]
        if s.get("compressed"):
            extra.append("gzip")
        return f"{s['path']} ({', '.join(x for x in extra if x)})"
    if "interface" in s:
        drops = s.get("kernel_drops")
        tail = f", {drops} kernel drops" if drops else ""
        return f"{s['interface']} ({s.get('state', '?')}, {s.get('frames', 0)} frames{tail})"
    return json.dumps(s, sort_keys=True)


def _vlan(entry: Mapping[str, Any]) -> str:
    if entry["vlan"] is None:
        return "untagged"
    if entry["inner_vlan"] is None:
        return f"VLAN {entry['vlan']}"
    return f"VLAN {entry['vlan']}/{entry['inner_vlan']}"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def _section(entry: Mapping[str, Any], index: int) -> str:
    e = html.escape
    v = entry["verdict"]
    vlan = "" if entry["vlan"] is None else str(entry["vlan"])
    if entry["inner_vlan"] is not None:
        vlan += f".{entry['inner_vlan']}"
    facts = []
    if v == "unclaimed":
        facts.append("nobody claimed it")
    else:
        facts += [_plural(len(entry["claimants"]), "claimant"),
                  _plural(entry["changes"], "owner change"),
                  _plural(entry["flip_flops"], "flip-flop"),
                  _plural(entry["duplicate_replies"], "duplicate reply", "duplicate replies"),
                  f"{_plural(entry['frames'], 'frame')} ({entry['requests']:,} requests, "
                  f"{entry['replies']:,} replies, {entry['gratuitous']:,} gratuitous)"]
    notes = []
    if entry.get("same_node"):
        notes.append(f"One node, {len(entry['claimants'])} MACs: not a fight between nodes.")
    if not entry["timeline_complete"]:
        kept = len(entry["timeline"])
        notes.append(f"Timeline incomplete: the {entry['changes'] + 1 - kept:,} oldest of "
                     f"{entry['changes'] + 1:,} owner runs were dropped (the counts are exact); "
                     "only the kept runs are drawn and marked.")
    if v != "unclaimed" and "duplicate_reply_events" not in entry and entry["duplicate_replies"]:
        notes.append("This report does not carry the times of the duplicate replies: they are "
                     "counted, not marked.")
    note_html = "".join(f'<p class="note">{e(n)}</p>' for n in notes)
    owner = (f' · owner <code>{e(entry["owner"])}</code> since {e(_stamp(entry["owner_since"]))}'
             if entry["owner"] else "")
    chart = (f'<div class="chart" data-index="{index}"></div><p class="merge-note" hidden></p>'
             '<details class="runs-text"><summary>owner runs as text</summary><pre></pre></details>'
             if v != "unclaimed" else "")
    return (f'<section class="ip {e(v)}" id="ip-{index}" data-index="{index}" '
            f'data-ip="{e(entry["ip"])}" data-vlan="{e(vlan)}" data-verdict="{e(v)}">'
            f'<h2><span class="badge {e(v)}">{e(v)}</span> <span class="addr">{e(entry["ip"])}</span>'
            f' <span class="vlan">{e(_vlan(entry))}</span></h2>'
            f'<p class="facts">{e(" · ".join(facts))}{owner}</p>{note_html}{chart}</section>')


def render_html(report: Mapping[str, Any], title: str | None = None) -> str:
    """The whole report as one self-contained HTML page (a string)."""
    e = html.escape
    s = report["summary"]
    first, last = report.get("first_time"), report.get("last_time")
    span = (f"{_stamp(first)} → {_stamp(last)} ({_duration(last - first)})"
            if first is not None and last is not None else "no claims")
    sources = report.get("sources") or []
    title = title or "arpwatch-lb: who owned each IP, and when"
    badges = " ".join(
        f'<a class="badge {v}{"" if s.get(v) else " zero"}" href="#ip-'
        f'{next((i for i, x in enumerate(report["ips"]) if x["verdict"] == v), 0)}">'
        f'{s.get(v, 0):,} {v}</a>' for v in VERDICTS)
    header_notes = []
    incomplete = [x["ip"] for x in report["ips"] if not x["timeline_complete"]]
    if incomplete:
        header_notes.append(f"Incomplete timelines (oldest runs dropped) for "
                            f"{', '.join(incomplete[:5])}{' …' if len(incomplete) > 5 else ''}.")
    for w in report.get("warnings") or ():
        header_notes.append(f"warning: {w}")
    for w in report.get("errors") or ():
        header_notes.append(f"error: {w}")
    sections = "".join(_section(x, i) for i, x in enumerate(report["ips"]))
    if not report["ips"]:
        sections = '<p class="empty">No IPv4 ARP claims in this report.</p>'
    data = json.dumps(page_data(report), separators=(",", ":"), allow_nan=False)
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    meta = [f"mode <b>{e(str(report.get('mode', '?')))}</b>",
            f"flip-flop window {report.get('window', 0):g} s",
            f"duplicate-reply window {report.get('duplicate_window', 0):g} s"]
    frames = report.get("frames") or {}
    if frames:
        meta.append(f"{frames.get('total', 0):,} frames, {frames.get('claims', 0):,} claims")
    return _asset("html").format(
        title=e(title),
        span=e(span),
        sources="" if not sources else (f'<p class="meta">{"source" if len(sources) == 1 else "sources"}: '
                 f'{e(", ".join(_source(x) for x in sources))}</p>' if len(sources) <= 3 else
                 f'<details class="sources"><summary>{len(sources)} sources</summary><ul>'
                 + "".join(f"<li>{e(_source(x))}</li>" for x in sources) + "</ul></details>"),
        meta=" · ".join(meta),
        badges=badges,
        header_notes="".join(f'<p class="note">{e(n)}</p>' for n in header_notes),
        sections=sections,
        table=e(render_table(report)),
        data=data,
        css=_asset("css"),
        script=_asset("js"),
    )


def write_html(path: str | Path, report: Mapping[str, Any]) -> None:
    """Write the page for ``report`` to ``path`` atomically (a temporary file, then rename).

    A reader never sees half a page.  Raises :class:`OSError` naming ``path``.
    """
    path = Path(path)
    text = render_html(report).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            view = memoryview(text)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OSError(exc.errno, exc.strerror, str(path)) from None
