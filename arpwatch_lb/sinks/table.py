"""The table sink: a person's view of the report, via tabulate."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from ..core.verdicts import CONTESTED

MAX_TIMELINE = 12  # runs shown per contested IP; the JSON has them all


def _clock(t: float | None) -> str:
    if t is None:
        return "-"
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S.%f")[:-3]


def _stamp(t: float | None) -> str:
    if t is None:
        return "-"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _claimants(entry: Mapping[str, Any]) -> str:
    lines = []
    for c in entry["claimants"]:
        node = f" [{c['node'] or '?'}]" if "node" in c else ""  # --kubernetes: the node name
        host = f" (host {', '.join(c['host_ips'][:2])})" if c["host_ips"] else ""
        kind = f" {c['announcer']['kind']}" if "announcer" in c else ""
        lines.append(f"{c['mac']}{node}{kind}{host} ×{c['frames']}")
    if entry.get("same_node"):
        lines.append(f"(one node, {len(entry['claimants'])} MACs)")
    if entry.get("announcer_hint"):
        lines.append(f"({entry['announcer_hint']})")
    return "\n".join(lines) or "-"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.2f}"


def _rtt(r: Mapping[str, Any] | None) -> str:
    """``min/avg/max ms (n)`` or ``-``."""
    if not r or not r["count"]:
        return "-"
    return f"{_ms(r['min'])}/{_ms(r['avg'])}/{_ms(r['max'])} ms ({r['count']})"


def _vlan(entry: Mapping[str, Any]) -> str:
    if entry["vlan"] is None:
        return "-"
    if entry["inner_vlan"] is None:
        return str(entry["vlan"])
    return f"{entry['vlan']}/{entry['inner_vlan']}"


def timeline_lines(entry: Mapping[str, Any], per_line: int = 4) -> list[str]:
    """A compact owner timeline, ``per_line`` runs a line: ``12:00:01.200 02:..:01 ×5 → ...``."""
    runs = entry["timeline"]
    shown = runs[-MAX_TIMELINE:]
    parts = [f"{_clock(r['first'])} {r['mac']} ×{r['frames']}" for r in shown]
    skipped = entry["changes"] + 1 - len(shown)
    lines = [f"(… {skipped} earlier runs)"] if skipped > 0 else []
    for i in range(0, len(parts), per_line):
        lines.append(("→ " if i else "") + " → ".join(parts[i:i + per_line]))
    return lines


def vrrp_lines(report: Mapping[str, Any]) -> list[str]:
    """A VRRP split brain, one line each: VRID, addresses and the routers with their priorities."""
    out = []
    for g in report.get("vrrp", {}).get("virtual_routers", []):
        if not g["split_brain"]:
            continue
        routers = ", ".join(f"{s['ip']} ({s['mac'] or '?'}) priority {s['priority']}"
                            for s in g["sources"])
        vlan = "" if g["vlan"] is None else f" on vlan {g['vlan']}"
        out += ["", f"VRRP SPLIT BRAIN: VRID {g['vrid']}{vlan} ({', '.join(g['addresses'])}) "
                    f"advertised at once by {routers}, from {_clock(g['split_first'])} to "
                    f"{_clock(g['split_last'])}"]
    return out


STREAM_ABOVE = 10_000
"""More IPs than this: :func:`write_table` lays the table out itself, in two passes."""


def _row(e: Mapping[str, Any], probed: bool) -> list[Any]:
    return [e["verdict"].upper(), _vlan(e), e["ip"], e["owner"] or "-", _claimants(e),
            e["changes"], e["flip_flops"], e["duplicate_replies"],
            *([_rtt(e.get("probe_rtt"))] if probed else [])]


def _headers(named: bool, probed: bool) -> list[str]:
    return ["VERDICT", "VLAN", "IP", "OWNER",
            "CLAIMANTS [node] announcer (host, frames)" if named
            else "CLAIMANTS announcer (host, frames)", "CHANGES",
            "FLIP-FLOPS", "DUP REPLIES", *(["PROBE RTT min/avg/max"] if probed else [])]


def _head(report: Mapping[str, Any]) -> list[str]:
    if report["first_time"] is None:
        return []
    return [f"claims from {_stamp(report['first_time'])} to {_stamp(report['last_time'])}"
            f" (flip-flop window {report['window']:g} s)"]


def _tail(report: Mapping[str, Any], contested: list[Mapping[str, Any]]) -> list[str]:
    out: list[str] = []
    if contested:
        out.append("")
        out.append("owner timelines of contested IPs:")
        for e in contested:
            out.append(f"  {e['ip']} (vlan {_vlan(e)}):")
            out.extend(f"    {line}" for line in timeline_lines(e))
    out.extend(vrrp_lines(report))
    s = report["summary"]
    f = report["frames"]
    out.append("")
    out.append(f"{s['ips']} IPs: {s['contested']} contested, {s['unclaimed']} unclaimed, "
               f"{s['moved']} moved, {s['ok']} ok")
    out.append(f"frames: {f['total']} total, {f['claims']} claims ({f['requests']} requests, "
               f"{f['replies']} replies, {f['gratuitous']} gratuitous), {f['probe']} probes, "
               f"{f['rarp']} RARP, {f['arp_other']} other ARP, {f['non_arp']} non-ARP, "
               f"{f['eth_mismatch']} with Ethernet/ARP sender mismatch")
    if "probes" in report:
        p = report["probes"]
        out.append(f"our probes: {p['sent']} sent, {p['answered']} answered; round trips "
                   f"{_rtt(p['rtt_seconds'])}")
    if f["malformed"]:
        out.append("malformed: " + ", ".join(f"{k} {v}" for k, v in f["malformed"].items()))
    if f["unsupported_linktype"]:
        out.append(f"unsupported link type: {f['unsupported_linktype']} frames")
    table = report.get("table")
    if table and table["evictions"]:
        out.append(f"IP table full: {table['evictions']} IPs evicted, least recently claimed first "
                   f"(cap --max-ips {table['max_ips']}; VIPs and node IPs are kept)")
    return out


def render_table(report: Mapping[str, Any]) -> str:
    """The whole report as text."""
    from tabulate import tabulate  # deferred: the JSON path need not pay for its import

    out = _head(report)
    ips = report["ips"]
    if ips:
        probed = "probes" in report
        rows = [_row(e, probed) for e in ips]
        named = any("node" in c for e in ips for c in e["claimants"])
        out.append(tabulate(rows, headers=_headers(named, probed), tablefmt="simple",
                            disable_numparse=True))
    else:
        out.append("no ARP or NDP claims" + (" for the selected VIPs" if report["vips"] else ""))
    out += _tail(report, [e for e in ips if e["verdict"] == CONTESTED])
    return "\n".join(out)


def write_table(report: Mapping[str, Any], out: TextIO) -> None:
    """Write :func:`render_table`'s text and a newline, for a report whose ``ips`` is re-iterable.

    Up to :data:`STREAM_ABOVE` IPs this is :func:`render_table`.  Above, the
    table is laid out like tabulate's "simple" format by two passes over the
    entries (column widths, then rows), so no list of every row is ever held.
    """
    if report["summary"]["ips"] <= max(STREAM_ABOVE, 0):
        out.write(render_table({**report, "ips": list(report["ips"])}) + "\n")
        return
    probed = "probes" in report
    named = False
    widths: list[int] | None = None
    for e in report["ips"]:
        cells = [str(c).split("\n") for c in _row(e, probed)]
        named = named or any("node" in c for c in e["claimants"])
        w = [max(len(line) for line in c) for c in cells]
        widths = w if widths is None else [max(a, b) for a, b in zip(widths, w, strict=True)]
    headers = _headers(named, probed)
    widths = [max(len(h) + 2, w) for h, w in zip(headers, widths or [0] * len(headers),
                                                 strict=True)]
    for line in _head(report):
        out.write(line + "\n")
    out.write("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    contested = []
    for e in report["ips"]:
        if e["verdict"] == CONTESTED:
            contested.append(e)
        cells = [str(c).split("\n") for c in _row(e, probed)]
        for k in range(max(len(c) for c in cells)):
            out.write("  ".join((c[k] if k < len(c) else "").ljust(w)
                                for c, w in zip(cells, widths, strict=True)).rstrip() + "\n")
    for line in _tail(report, contested):
        out.write(line + "\n")
