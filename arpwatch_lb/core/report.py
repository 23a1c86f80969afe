"""Build the report document — the JSON schema every command shares.

The document is plain data (dicts, lists, strings, numbers) so that every sink
(JSON, table, metrics) reads the same thing.  The schema is documented in the
README; fields are only ever added, never renamed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .addresses import VipSet, format_ip, format_mac, ip_sort_key, parse_ip
from .frames import malformed_counts
from .tracker import IpState, OwnershipTracker
from .verdicts import UNCLAIMED, VERDICT_ORDER, judge, one_node, summary_counts

if TYPE_CHECKING:
    from .probe_plan import ProbeRtts

__all__ = ["SCHEMA", "build_report", "frames_section", "vrrp_section"]

SCHEMA = "arpwatch-lb/report/2"
"""Version 2 added ``announcer`` to claimants, ``announcer_hint`` to IPs and the
top-level ``vrrp`` object; nothing of version 1 changed."""
HOST_IPS = 4  # other IPs listed per claimant; ``other_ips`` has the exact count
FRAME_KINDS = ("total", "claims", "probe", "rarp", "arp_other", "non_arp",
               "unsupported_linktype", "truncated")


def _t(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def frames_section(counts: Mapping[str, int], tracker: OwnershipTracker) -> dict[str, Any]:
    """The ``frames`` object: counts by kind, malformed by reason, claim kinds."""
    out: dict[str, Any] = {k: int(counts.get(k, 0)) for k in FRAME_KINDS}
    ips = tracker.ips.values()
    out["requests"] = sum(s.requests for s in ips)
    out["replies"] = sum(s.replies for s in ips)
    out["gratuitous"] = sum(s.gratuitous for s in ips)
    out["eth_mismatch"] = sum(s.eth_mismatch for s in ips)
    out["malformed"] = malformed_counts(counts)
    return out


def _announcer(tracker: OwnershipTracker, st: IpState, mac: bytes) -> dict[str, str]:
    a = tracker.announcer(st.key, mac)
    return {"kind": a.kind, "evidence": a.evidence}


def _ip_entry(st: IpState, verdict: str, tracker: OwnershipTracker,
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
            "other_ips": tracker.mac_ip_counts.get(mac, 1) - 1,
            "announcer": _announcer(tracker, st, mac),
        })
        if nodes is not None:
            claimants[-1]["node"] = nodes.get(mac)
    timeline = st.timeline()
    entry = {
        "ip": format_ip(ip),
        "vlan": vlan,
        "inner_vlan": inner,
        "verdict": verdict,
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
        "announcer_hint": tracker.announcer_hint(st.key),
    }
    if tracker.max_marks:  # kept on request (``--html``): the latest duplicate replies
        entry["duplicate_reply_events"] = [
            {"time": _t(t), "macs": [format_mac(a), format_mac(b)], "requester": format_ip(r)}
            for t, a, b, r in st.duplicate_marks or ()]
    if nodes is not None:
        named = [c["node"] for c in claimants]
        entry["nodes"] = list(dict.fromkeys(n for n in named if n is not None))
        entry["same_node"] = one_node(named)
    return entry


def _unclaimed_entry(ip: bytes) -> dict[str, Any]:
    return {
        "ip": format_ip(ip), "vlan": None, "inner_vlan": None, "verdict": UNCLAIMED,
        "owner": None, "owner_since": None, "claimants": [], "changes": 0, "flip_flops": 0,
        "duplicate_replies": 0, "frames": 0, "requests": 0, "replies": 0, "gratuitous": 0,
        "eth_mismatch": 0, "first_seen": None, "last_seen": None, "first_flip_flop": None,
        "last_flip_flop": None, "timeline": [], "timeline_complete": True,
        "announcer_hint": None,
    }


def _sort_key(entry: Mapping[str, Any]) -> tuple:
    """Worst verdict first, untagged first, by VLAN, then IPv4 before IPv6, by address."""
    return (VERDICT_ORDER[entry["verdict"]], entry["vlan"] is not None, entry["vlan"] or 0,
            entry["inner_vlan"] or 0, ip_sort_key(entry["ip"]))


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
    judged, nobody = judge(tracker.ips, vips, nodes)
    entries = [_ip_entry(st, v, tracker, nodes) for st, v in judged]
    unclaimed = [_unclaimed_entry(ip) for ip in nobody]
    if nodes is not None:
        for e in unclaimed:
            e.update(nodes=[], same_node=False)
    if tracker.max_marks:
        for e in unclaimed:
            e["duplicate_reply_events"] = []
    entries += unclaimed
    if probes is not None:
        for e in entries:
            e["probe_rtt"] = probes.ip_doc(parse_ip(e["ip"]))
    entries.sort(key=_sort_key)
    times = [st.first_seen for st in tracker.ips.values()]
    doc = {
        "schema": SCHEMA,
        "mode": mode,
        "window": tracker.window,
        "duplicate_window": tracker.dup_window,
        "vips": [str(n) for n in vips.networks],
        "first_time": _t(min(times)) if times else None,
        "last_time": _t(tracker.now) if times else None,
        "summary": summary_counts(e["verdict"] for e in entries),
        "ips": entries,
        "frames": frames_section(counts, tracker),
        "sources": list(sources),
        "warnings": list(warnings),
        "errors": list(errors),
        "vrrp": vrrp_section(tracker, vips),
    }
    if probes is not None:
        doc["probes"] = probes.report()
    return doc


def vrrp_section(tracker: OwnershipTracker, vips: VipSet) -> dict[str, Any]:
    """The ``vrrp`` object: adverts read, and the virtual routers whose addresses are selected."""
    table = tracker.fingerprints.vrrp
    return {"adverts": table.adverts,
            "virtual_routers": [g.doc() for g in table.routers(vips if vips else None)]}
