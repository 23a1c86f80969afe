"""Build the report document — the JSON schema every command shares.

The document is plain data (dicts, lists, strings, numbers) so that every sink
(JSON, table, metrics) reads the same thing.  The schema is documented in the
README; fields are only ever added, never renamed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .addresses import VipSet, format_ip, format_mac
from .fingerprint import Announcer
from .frames import malformed_counts
from .tracker import IpState, Key, MacIps, OwnershipTracker, Quiet, public_key
from .verdicts import (
    OK,
    UNCLAIMED,
    VERDICT_ORDER,
    document_exit_status,
    one_node,
    report_exit_status,
    verdict,
)

if TYPE_CHECKING:
    from .probe_plan import ProbeRtts

__all__ = ["SCHEMA", "build_report", "document_exit_status", "frames_section", "report_document",
           "report_exit_status", "table_summary", "vrrp_section"]

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
    totals = tracker.totals()  # every claim, evicted and untracked IPs' too
    for k in ("requests", "replies", "gratuitous", "eth_mismatch"):
        out[k] = totals[k]
    out["malformed"] = malformed_counts(counts)
    return out


def _announcer(tracker: OwnershipTracker, key: Key, mac: bytes) -> dict[str, str]:
    a = tracker.announcer(key, mac)
    return {"kind": a.kind, "evidence": a.evidence}


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
            "announcer": _announcer(tracker, st.key, mac),
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


def _quiet_entry(key: Key, q: Quiet, tracker: OwnershipTracker,
                 nodes: Mapping[bytes, str] | None = None) -> dict[str, Any]:
    """:func:`_ip_entry` of a compact record (one MAC, no change), without building an IpState."""
    vlan, inner, ip = key
    mac = format_mac(q.owner)
    first, last, frames = _t(q.run_first), _t(q.run_last), q.run_frames
    claimant = {"mac": mac, "frames": frames, "first_seen": first, "last_seen": last, "runs": 1,
                "host_ips": [format_ip(k[2]) for k in tracker.other_ips(q.owner, key)[:HOST_IPS]],
                "other_ips": max(tracker.other_ip_count(q.owner), 1) - 1,
                "announcer": _announcer(tracker, key, q.owner)}
    if nodes is not None:
        node = claimant["node"] = nodes.get(q.owner)
    entry = {
        "ip": format_ip(ip), "vlan": vlan, "inner_vlan": inner, "verdict": OK, "owner": mac,
        "owner_since": first, "claimants": [claimant], "changes": 0, "flip_flops": 0,
        "duplicate_replies": 0, "frames": frames, "requests": q.requests,
        "replies": frames - q.requests, "gratuitous": q.gratuitous,
        "eth_mismatch": q.eth_mismatch, "first_seen": first, "last_seen": last,
        "first_flip_flop": None, "last_flip_flop": None,
        "timeline": [{"mac": mac, "first": first, "last": last, "frames": frames}],
        "timeline_complete": True,
        "announcer_hint": tracker.announcer_hint(key),
    }
    if tracker.max_marks:
        entry["duplicate_reply_events"] = []  # a compact record never saw a duplicate reply
    if nodes is not None:
        entry["nodes"] = [] if node is None else [node]
        entry["same_node"] = False
    return entry


def _ordered(tracker: OwnershipTracker, vips: VipSet, nodes: Mapping[bytes, str] | None
             ) -> tuple[dict[str, list[Any]], list[bytes]]:
    """The selected records' internal keys by verdict, each list in report order, and the
    unclaimed single VIPs (sorted).  Report order: verdict, untagged before tagged, VLAN,
    inner VLAN, IPv4 before IPv6, address (big-endian bytes of one length sort as the number)."""
    buckets: dict[str, list[Any]] = {v: [] for v in VERDICT_ORDER}
    keys = list(tracker._ips)
    if vips:
        keys = [k for k in keys if (k if k.__class__ is bytes else k[2]) in vips]
    fulls = tracker._fulls  # the few IPs with full records; the rest are compact: ok
    buckets[OK] = [k for k in keys if k not in fulls] if fulls else keys
    ips = tracker._ips
    for k in list(fulls):
        if not vips or (k if k.__class__ is bytes else k[2]) in vips:
            buckets[verdict(ips[k], nodes)].append(k)  # type: ignore[arg-type]
    for v, keys in buckets.items():
        plain = [k for k in keys if k.__class__ is bytes]
        plain.sort()
        if any(len(k) != 4 for k in plain):
            plain.sort(key=len)  # stable: IPv4 before IPv6, each in address order
        if len(plain) < len(keys):
            tagged = [k for k in keys if k.__class__ is not bytes]
            tagged.sort(key=lambda k: (k[0], k[1] or 0, len(k[2]), k[2]))
            plain += tagged
        buckets[v] = plain
    claimed: set[bytes] = set()
    if vips.singles:
        claimed = {ik if ik.__class__ is bytes else ik[2] for ik in tracker._ips}
    unclaimed = sorted((ip for ip in vips.singles if ip not in claimed),
                       key=lambda ip: (len(ip), ip))
    return buckets, unclaimed


def _entries(tracker: OwnershipTracker, buckets: Mapping[str, list[Any]], unclaimed: list[bytes],
             nodes: Mapping[bytes, str] | None, probes: ProbeRtts | None
             ) -> Iterator[dict[str, Any]]:
    ips = tracker._ips
    for v in VERDICT_ORDER:
        if v == UNCLAIMED:
            for ip in unclaimed:
                e = _unclaimed_entry(ip)
                if tracker.max_marks:
                    e["duplicate_reply_events"] = []
                if nodes is not None:
                    e.update(nodes=[], same_node=False)
                if probes is not None:
                    e["probe_rtt"] = probes.ip_doc(ip)
                yield e
            continue
        for ik in buckets[v]:
            st = ips.get(ik)
            if st is None:  # evicted meanwhile (a live session): leave it out
                continue
            key = public_key(ik)
            if st.__class__ is IpState:
                e = _ip_entry(st, tracker, nodes)  # type: ignore[arg-type]
            else:
                e = _quiet_entry(key, st, tracker, nodes)  # type: ignore[arg-type]
            if probes is not None:
                e["probe_rtt"] = probes.ip_doc(key[2])
            yield e


class _Entries:
    """The report's IP entries, built anew on every iteration (a sink may pass twice)."""

    def __init__(self, *args: Any) -> None:
        self.args = args

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return _entries(*self.args)

    def json_lines(self) -> Iterator[str]:
        """Each entry as ``json.dumps`` would write it; compact records straight from a template."""
        tracker, buckets, unclaimed, nodes, probes = self.args
        if nodes is not None or probes is not None or tracker.max_marks:
            yield from map(json.dumps, _entries(*self.args))
            return
        ips_get = tracker._ips.get
        macs_get = tracker._macs.get
        dumps = json.dumps
        full, single = IpState, bytes
        o, small, text = _OCTETS, _SMALL, time_text
        said: dict[Announcer, str] = {}
        name = tracker.fingerprints.announcer
        # A compact record has one MAC: no hint (it takes several MACs answering one request).
        for v in VERDICT_ORDER:
            if v == UNCLAIMED:
                for ip in unclaimed:
                    yield dumps(_unclaimed_entry(ip))
                continue
            for ik in buckets[v]:
                q = ips_get(ik)
                if q is None:
                    continue
                if q.__class__ is full:
                    yield dumps(_ip_entry(q, tracker))  # type: ignore[arg-type]
                    continue
                # _quiet_entry(key, q), as json.dumps writes it (tests compare the two)
                if ik.__class__ is single:
                    ip, vlan, inner = ik, "null", "null"
                else:
                    vl, inn, ip = ik
                    vlan, inner = str(vl), "null" if inn is None else str(inn)
                owner = q.owner
                mac = owner.hex(":")
                t = q.run_first
                if 1.0 <= t < 4294967296.0:  # time_text, inline: the hot loop of a spray
                    first = f"{t:.6f}".rstrip("0")
                    if first[-1] == ".":
                        first += "0"
                else:
                    first = text(t)
                last = first if q.run_last is t else text(q.run_last)
                n, req, grat, mm = q.run_frames, q.requests, q.gratuitous, q.eth_mismatch
                e = macs_get(owner)
                if e.__class__ is MacIps:
                    others = tracker.other_ips(owner, public_key(ik))[:HOST_IPS]
                    hosts = "[" + ", ".join(f'"{format_ip(k[2])}"' for k in others) + "]"
                    count = str(e.count - 1)  # type: ignore[union-attr]
                else:  # the MAC claimed this IP only
                    hosts, count = "[]", "0"
                ipt = (f"{o[ip[0]]}.{o[ip[1]]}.{o[ip[2]]}.{o[ip[3]]}" if len(ip) == 4
                       else format_ip(ip))
                ann = name(public_key(ik), owner, (owner,), None, q.fp)
                announcer = said.get(ann)
                if announcer is None:  # a spray repeats a few sentences a million times
                    announcer = said[ann] = dumps({"kind": ann.kind, "evidence": ann.evidence})
                fr = small[n] if n < 1024 else str(n)
                rq = small[req] if req < 1024 else str(req)
                rp = small[n - req] if n - req < 1024 else str(n - req)
                gr = small[grat] if grat < 1024 else str(grat)
                yield (f'{{"ip": "{ipt}", "vlan": {vlan}, "inner_vlan": {inner}, "verdict": "ok", '
                       f'"owner": "{mac}", "owner_since": {first}, "claimants": [{{"mac": "{mac}", '
                       f'"frames": {fr}, "first_seen": {first}, "last_seen": {last}, "runs": 1, '
                       f'"host_ips": {hosts}, "other_ips": {count}, "announcer": {announcer}}}], '
                       f'"changes": 0, '
                       f'"flip_flops": 0, "duplicate_replies": 0, "frames": {fr}, '
                       f'"requests": {rq}, "replies": {rp}, "gratuitous": {gr}, '
                       f'"eth_mismatch": {mm}, "first_seen": {first}, "last_seen": {last}, '
                       f'"first_flip_flop": null, "last_flip_flop": null, "timeline": '
                       f'[{{"mac": "{mac}", "first": {first}, "last": {last}, "frames": {fr}}}], '
                       f'"timeline_complete": true, "announcer_hint": null}}')


_SMALL = [str(i) for i in range(1024)]
_OCTETS = [str(i) for i in range(256)]


def time_text(t: float) -> str:
    """``repr(round(t, 6))`` — what JSON writes for a report time — in about half the time.

    For 1 <= t < 2**32 (every capture time until 2106), ``"%.6f"`` gives the
    same correctly rounded six decimals as ``round``, and since doubles there
    are less than a millionth apart, the shortest repr of the rounded value is
    exactly those decimals without trailing zeros (tests check).
    """
    if 1.0 <= t < 4294967296.0:
        s = f"{t:.6f}".rstrip("0")
        return s + "0" if s[-1] == "." else s
    return repr(round(t, 6))


def report_document(tracker: OwnershipTracker, counts: Mapping[str, int], vips: VipSet,
                    sources: Iterable[Mapping[str, Any]] = (), warnings: Iterable[str] = (),
                    errors: Iterable[str] = (), mode: str = "replay",
                    probes: ProbeRtts | None = None,
                    nodes: Mapping[bytes, str] | None = None) -> dict[str, Any]:
    """:func:`build_report` with ``ips`` an iterable: entries are built as a sink writes them.

    For very large tables (a replay of an address spray): the summary is
    counted first, then one entry at a time exists (each iteration builds
    them anew).  Iterate before feeding the tracker again.
    """
    buckets, unclaimed = _ordered(tracker, vips, nodes)
    summary = {v: len(buckets[v]) for v in VERDICT_ORDER}
    summary[UNCLAIMED] = len(unclaimed)
    first = tracker.first_seen()
    doc = {
        "schema": SCHEMA,
        "mode": mode,
        "window": tracker.window,
        "duplicate_window": tracker.dup_window,
        "vips": [str(n) for n in vips.networks],
        "first_time": _t(first),
        "last_time": _t(tracker.now) if first is not None else None,
        "summary": {"ips": sum(summary.values()), **summary},
        "ips": _Entries(tracker, buckets, unclaimed, nodes, probes),
        "frames": frames_section(counts, tracker),
        "sources": list(sources),
        "warnings": list(warnings),
        "errors": list(errors),
        "vrrp": vrrp_section(tracker, vips),
    }
    if probes is not None:
        doc["probes"] = probes.report()
    if tracker.max_ips is not None:
        doc["table"] = tracker.table()
    return doc


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
    With a capped tracker, the ``table`` object (entries, cap, evictions).
    """
    doc = report_document(tracker, counts, vips, sources, warnings, errors, mode, probes, nodes)
    doc["ips"] = list(doc["ips"])
    doc["summary"]["ips"] = len(doc["ips"])
    return doc


def vrrp_section(tracker: OwnershipTracker, vips: VipSet) -> dict[str, Any]:
    """The ``vrrp`` object: adverts read, and the virtual routers whose addresses are selected."""
    table = tracker.fingerprints.vrrp
    return {"adverts": table.adverts,
            "virtual_routers": [g.doc() for g in table.routers(vips if vips else None)]}


def table_summary(tracker: OwnershipTracker, vips: VipSet,
                  nodes: Mapping[bytes, str] | None = None) -> dict[str, int]:
    """The report's ``summary`` object alone, without building entries (periodic summaries)."""
    buckets, unclaimed = _ordered(tracker, vips, nodes)
    summary = {v: len(buckets[v]) for v in VERDICT_ORDER}
    summary[UNCLAIMED] = len(unclaimed)
    return {"ips": sum(summary.values()), **summary}
