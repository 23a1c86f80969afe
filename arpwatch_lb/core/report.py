"""Build the report document — the JSON schema every command shares.

The document is plain data (dicts, lists, strings, numbers) so that every sink
(JSON, table, metrics) reads the same thing.  The schema is documented in the
README; fields are only ever added, never renamed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .addresses import VipSet, format_ip, format_mac, parse_ip
from .frames import malformed_counts
from .tracker import IpState, OwnershipTracker
from .verdicts import EXIT_ERROR, UNCLAIMED, VERDICT_ORDER, exit_status, verdict

if TYPE_CHECKING:
    from ..sessions.probe import ProbeRtts

__all__ = ["SCHEMA", "build_report", "frames_section", "report_exit_status"]

SCHEMA = "arpwatch-lb/report/1"
HOST_IPS = 4  # other IPs listed per claimant; ``other_ips`` has the exact count
FRAME_KINDS = ("total", "claims", "probe", "rarp", "arp_other", "non_arp",
               "unsupported_linktype", "truncated")


def _t(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def frames_section(counts: Mapping[str, int], tracker: OwnershipTracker) -> dict[str, Any]:
    """The ``frames`` object: counts by kind, malformed by reason, claim kinds."""
    out: dict[str, Any] = {k: int(counts.get(k, 0)) for k in FRAME_KINDS}
    totals = tracker.totals()  # every claim, evicted and untracked IPs' too
    for k in ("requests", "replies", "gratuitous", "eth_mismatch"):
        out[k] = totals[k]
    out["malformed"] = malformed_counts(counts)
    return out


def _ip_entry(st: IpState, tracker: OwnershipTracker,
              nodes: Mapping[bytes, str] | None = None) -> dict[str, Any]:
    vlan, inner, ip = st.key
    claimants = []
    for mac, c in st.claimants().items():
        claimants.append({
            "mac": format_mac(mac),
            "frames": c.frames,
            "first_seen": _t(c.first),
            "last_seen": _t(c.last),
            "runs": c.runs,
            "host_ips": [format_ip(k[2]) for k in tracker.other_ips(mac, st.key)[:HOST_IPS]],
            "other_ips": max(tracker.other_ip_count(mac), 1) - 1,
        })
        if nodes is not None:
            claimants[-1]["node"] = nodes.get(mac)
    timeline = st.timeline()
    entry = {
        "ip": format_ip(ip),
        "vlan": vlan,
        "inner_vlan": inner,
        "verdict": verdict(st, nodes),
        "owner": format_mac(st.owner),
        "owner_since": _t(st.run_first),
        "claimants": claimants,
        "changes": st.changes,
        "flip_flops": st.flip_flops,
        "duplicate_replies": st.duplicate_replies,
        "frames": st.frames,
        "requests": st.requests,
        "replies": st.replies,
        "gratuitous": st.gratuitous,
        "eth_mismatch": st.eth_mismatch,
        "first_seen": _t(st.first_seen),
        "last_seen": _t(st.last_seen),
        "first_flip_flop": _t(st.first_flip_flop),
        "last_flip_flop": _t(st.last_flip_flop),
        "timeline": [{"mac": format_mac(r.mac), "first": _t(r.first), "last": _t(r.last),
                      "frames": r.frames} for r in timeline],
        "timeline_complete": st.changes + 1 == len(timeline),
    }
    if nodes is not None:
        named = [c["node"] for c in claimants]
        entry["nodes"] = list(dict.fromkeys(n for n in named if n is not None))
        entry["same_node"] = len(claimants) > 1 and None not in named and len(entry["nodes"]) == 1
    return entry


def _unclaimed_entry(ip: bytes) -> dict[str, Any]:
    return {
        "ip": format_ip(ip), "vlan": None, "inner_vlan": None, "verdict": UNCLAIMED,
        "owner": None, "owner_since": None, "claimants": [], "changes": 0, "flip_flops": 0,
        "duplicate_replies": 0, "frames": 0, "requests": 0, "replies": 0, "gratuitous": 0,
        "eth_mismatch": 0, "first_seen": None, "last_seen": None, "first_flip_flop": None,
        "last_flip_flop": None, "timeline": [], "timeline_complete": True,
    }


def _sort_key(entry: Mapping[str, Any]) -> tuple:
    ip = tuple(int(p) for p in entry["ip"].split("."))
    return (VERDICT_ORDER[entry["verdict"]], entry["vlan"] is not None, entry["vlan"] or 0,
            entry["inner_vlan"] or 0, ip)


def select(tracker: OwnershipTracker, vips: VipSet) -> list[IpState]:
    """Tracked IPs that the VIP selection covers (all of them without ``--vip``)."""
    get = tracker.ips.get
    return [get(k) for k in tracker.ips if k[2] in vips]


def build_report(tracker: OwnershipTracker, counts: Mapping[str, int], vips: VipSet,
                 sources: Iterable[Mapping[str, Any]] = (), warnings: Iterable[str] = (),
                 errors: Iterable[str] = (), mode: str = "replay",
                 probes: ProbeRtts | None = None,
                 nodes: Mapping[bytes, str] | None = None) -> dict[str, Any]:
    """The whole report document.

    ``probes`` (``probe``/``watch``): adds the top-level ``probes`` object and
    a ``probe_rtt`` to every IP.  ``nodes`` (MAC → node name, ``--kubernetes``):
    adds ``node`` to every claimant and ``nodes``/``same_node`` to every IP,
    and the verdicts are judged per node (:func:`arpwatch_lb.core.verdicts.verdict`).
    """
    entries = [_ip_entry(st, tracker, nodes) for st in select(tracker, vips)]
    claimed: set[bytes] = {k[2] for k in tracker.ips}
    unclaimed = [_unclaimed_entry(ip) for ip in vips.singles if ip not in claimed]
    if nodes is not None:
        for e in unclaimed:
            e.update(nodes=[], same_node=False)
    entries += unclaimed
    if probes is not None:
        for e in entries:
            e["probe_rtt"] = probes.ip_doc(parse_ip(e["ip"]))
    entries.sort(key=_sort_key)
    summary = {v: 0 for v in VERDICT_ORDER}
    for e in entries:
        summary[e["verdict"]] += 1
    first = tracker.first_seen()
    doc = {
        "schema": SCHEMA,
        "mode": mode,
        "window": tracker.window,
        "duplicate_window": tracker.dup_window,
        "vips": [str(n) for n in vips.networks],
        "first_time": _t(first),
        "last_time": _t(tracker.now) if first is not None else None,
        "summary": {"ips": len(entries), **summary},
        "ips": entries,
        "frames": frames_section(counts, tracker),
        "sources": list(sources),
        "warnings": list(warnings),
        "errors": list(errors),
    }
    if probes is not None:
        doc["probes"] = probes.report()
    if tracker.max_ips is not None:
        doc["table"] = tracker.table()
    return doc


def report_exit_status(report: Mapping[str, Any]) -> int:
    """Exit status a report calls for: 0 healthy, 1 contested/unclaimed, 2 input errors."""
    if report["errors"]:
        return EXIT_ERROR
    return exit_status([e["verdict"] for e in report["ips"]])


