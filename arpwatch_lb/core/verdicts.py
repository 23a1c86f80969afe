"""Judgement: every verdict, every "is this a fight?", every exit status — in this one file.

The tracker counts; this module judges.  Reports, events, metrics, ``doctor``
and the exit status of every command call it; no other module spells a
verdict or an exit code.

**Wire verdicts** (per tracked IP):

* ``contested`` — at least one flip-flop or duplicate reply: two announcers;
* ``moved`` — the owner changed, but never back and forth within the window:
  a failover;
* ``ok`` — one MAC throughout;
* ``unclaimed`` — a VIP the user named that nobody claimed.

**With a MAC → node mapping** (``--kubernetes``: node names from the nodes'
InternalIPs, :func:`arpwatch_lb.kube.nodes.mac_nodes`) the same rules apply
to *nodes* instead of MACs: a flip-flop or duplicate reply between two MACs
of one node (a bond, two NICs on the segment, ARP flux) is one machine
answering twice, not two announcers; it does not make the IP contested.  A
MAC without a node name counts as a node of its own, so unknown MACs are
judged exactly as without a mapping.  The tracker remembers which MAC pairs
fought (:attr:`~arpwatch_lb.core.tracker.IpState.fight_pairs`); if more pairs
fought than it remembers, the IP stays contested (never hide a fight).

**Across several tracked keys of one VIP** (``doctor``: the same IP on
several VLANs), :func:`wire_summary` adds ``one-node``: MACs fought, but all
of one node.

**Service verdicts** (``doctor``): ``contested``, ``at-risk``, ``pending``,
``ok`` (see :mod:`arpwatch_lb.kube.diagnosis` for the evidence rules).

**Exit statuses**: 0 healthy, 1 contested or unclaimed, 2 usage or input
error — the same for every command.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .addresses import VipSet
from .tracker import IpState, Key

__all__ = [
    "AT_RISK",
    "CONTESTED",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_UNHEALTHY",
    "MOVED",
    "OK",
    "ONE_NODE",
    "PENDING",
    "UNCLAIMED",
    "VERDICT_ORDER",
    "claimant_macs",
    "contested_now",
    "cross_node_fights",
    "distinct_nodes",
    "doctor_exit_status",
    "document_exit_status",
    "exit_status",
    "judge",
    "one_node",
    "report_exit_status",
    "same_node",
    "summary_counts",
    "verdict",
    "wire_summary",
]

CONTESTED = "contested"
MOVED = "moved"
OK = "ok"
UNCLAIMED = "unclaimed"
ONE_NODE = "one-node"
"""``doctor``'s wire summary: MACs fought over the VIP, but every one of them is one node's."""
VERDICT_ORDER = {CONTESTED: 0, UNCLAIMED: 1, MOVED: 2, OK: 3}
"""Report order: the worst first."""
UNHEALTHY = frozenset({CONTESTED, UNCLAIMED})

AT_RISK = "at-risk"
"""Doctor verdict: nothing fights yet, but a cause is in place (a second eligible announcer,
an Event storm, an overlapping pool); also a finding severity."""
PENDING = "pending"
"""Doctor verdict: no VIP assigned yet."""

EXIT_OK = 0
EXIT_UNHEALTHY = 1
EXIT_ERROR = 2

NodeMap = Mapping[bytes, str]


def _node(mac: bytes, nodes: NodeMap) -> str | bytes:
    return nodes.get(mac, mac)  # an unknown MAC is a node of its own


def claimant_macs(st: IpState) -> list[bytes]:
    """Every MAC that claimed ``st``: the owner first, then the others."""
    return list(dict.fromkeys([st.owner, *st.closed]))


def same_node(a: bytes | None, b: bytes | None, nodes: NodeMap | None) -> bool:
    """Both MACs are known and belong to one node (a fight between them is no fight)."""
    if not nodes or a is None or b is None or a not in nodes:
        return False
    return nodes.get(b) == nodes[a]


def distinct_nodes(st: IpState, nodes: NodeMap) -> int:
    """Claimants of ``st`` counting each known node once and each unknown MAC once."""
    return len({_node(m, nodes) for m in claimant_macs(st)})


def one_node(named: list[str | None]) -> bool:
    """Node names of an IP's claimants (None: unknown): several claimants, all of one known node."""
    return len(named) > 1 and None not in named and len(set(named)) == 1


def cross_node_fights(st: IpState, nodes: NodeMap) -> int:
    """Flip-flops + duplicate replies of ``st`` between MACs of *different* nodes.

    Exact while the tracker remembered every pair; otherwise every fight counts.
    """
    fights = st.flip_flops + st.duplicate_replies
    if not fights or not nodes or st.fight_pairs_overflow or st.fight_pairs is None:
        return fights
    return sum(n for (a, b), n in st.fight_pairs.items() if _node(a, nodes) != _node(b, nodes))


def verdict(st: IpState, nodes: NodeMap | None = None) -> str:
    """The verdict for one tracked IP; with ``nodes`` (MAC → node name), judged per node."""
    if not nodes:
        if st.flip_flops or st.duplicate_replies:
            return CONTESTED
        if st.changes:
            return MOVED
        return OK
    if cross_node_fights(st, nodes):
        return CONTESTED
    if st.changes and distinct_nodes(st, nodes) > 1:
        return MOVED
    return OK


def contested_now(st: IpState, nodes: NodeMap, now: float, horizon: float) -> bool:
    """Contested, between at least two nodes, with a fight at most ``horizon`` s before ``now``.

    The metrics' "contested" gauge: a fight that ended long ago is history,
    not a page.
    """
    last_fight = max(st.last_flip_flop or -1e18, st.last_duplicate_reply or -1e18)
    return (now - last_fight <= horizon and verdict(st, nodes) == CONTESTED
            and distinct_nodes(st, nodes) > 1)


def wire_summary(states: Iterable[IpState], nodes: NodeMap) -> tuple[str, bool]:
    """(worst wire verdict, a fight between nodes?) over every tracked key of one VIP.

    ``one-node`` where MACs fought but all belong to one node; ``unclaimed``
    when there is no state at all.
    """
    worst, fight, seen = OK, False, False
    for st in states:
        seen = True
        v = verdict(st)
        if v == CONTESTED and verdict(st, nodes) == CONTESTED:
            fight, worst = True, CONTESTED
        elif v == CONTESTED:
            worst = worst if worst == CONTESTED else ONE_NODE
        elif v == MOVED and worst == OK:
            worst = MOVED
    return (worst if seen else UNCLAIMED), fight


def judge(ips: Mapping[Key, IpState], vips: VipSet, nodes: NodeMap | None = None
          ) -> tuple[list[tuple[IpState, str]], list[bytes]]:
    """The verdict of every tracked IP that ``vips`` selects (all without ``--vip``), and
    the single VIPs that nobody claimed (``unclaimed``)."""
    judged = [(st, verdict(st, nodes)) for st in list(ips.values()) if st.key[2] in vips]
    claimed = {k[2] for k in list(ips)}
    return judged, [ip for ip in vips.singles if ip not in claimed]


def summary_counts(verdicts: Iterable[str]) -> dict[str, int]:
    """``{"ips": n, "contested": .., "unclaimed": .., "moved": .., "ok": ..}``."""
    out = {v: 0 for v in VERDICT_ORDER}
    n = 0
    for v in verdicts:
        out[v] += 1
        n += 1
    return {"ips": n, **out}


def exit_status(verdicts: Iterable[str]) -> int:
    """0 when every verdict is healthy, 1 when any is contested or unclaimed."""
    return EXIT_UNHEALTHY if any(v in UNHEALTHY for v in verdicts) else EXIT_OK


def report_exit_status(report: Mapping[str, Any]) -> int:
    """Exit status a report calls for: 0 healthy, 1 contested/unclaimed, 2 input errors."""
    if report["errors"]:
        return EXIT_ERROR
    return exit_status(e["verdict"] for e in report["ips"])


def document_exit_status(doc: Mapping[str, Any]) -> int:
    """:func:`report_exit_status` from the summary (for a document whose ``ips`` are streamed)."""
    if doc["errors"]:
        return EXIT_ERROR
    s = doc["summary"]
    return EXIT_UNHEALTHY if s[CONTESTED] or s[UNCLAIMED] else EXIT_OK


# -- doctor: Service verdicts, finding severities, exit status -----------------
#
# ``doctor`` judges Services from findings (a cause, its evidence, its fix).  Each
# finding has a severity; the Service's verdict follows from its findings, and the
# exit status from the findings of every Service and of the cluster.

STALE = "stale"
"""Doctor verdict: the VIP is answered by a node that does not hold it (Lease, vipHost,
ServiceL2Status), and/or the holder does not answer while another node does."""
DOCTOR_VERDICT_ORDER = {CONTESTED: 0, STALE: 1, UNCLAIMED: 2, AT_RISK: 3, PENDING: 4, OK: 5}
"""Service verdicts, worst first (summary keys and sort order)."""

FAULT = "fault"
"""Finding severity: broken now (a contest, a stale announcer, a silent holder, the
control-plane VIP in a Service pool).  Any fault makes ``doctor`` exit 1."""
INFO = "info"
"""Finding severity: a fact worth knowing that causes nothing by itself."""
SEVERITIES = (FAULT, AT_RISK, INFO)
"""Finding severities, worst first (``at-risk`` is shown and never changes the exit status)."""
SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}


def doctor_exit_status(doc: Mapping[str, Any]) -> int:
    """``doctor``: 2 on errors, 1 when any finding (of a Service or of the cluster) is a
    fault — a contested or stale Service, a control-plane VIP in a pool… —, else 0."""
    if doc["errors"]:
        return EXIT_ERROR
    severities = [f["severity"] for e in doc["services"] for f in e["findings"]]
    severities += [f["severity"] for f in doc["findings"]]
    return EXIT_UNHEALTHY if FAULT in severities else EXIT_OK


def service_verdict(severities: dict[str, str], has_vip: bool, contested_ids: frozenset[str],
                    unanswered_ids: frozenset[str]) -> str:
    """A Service's doctor verdict from its findings (id → severity).

    No VIP: ``pending``.  A fault among ``contested_ids``: ``contested``; a fault among
    ``unanswered_ids`` with no other fault: ``unclaimed``; any other fault: ``stale``;
    an ``at-risk`` finding: ``at-risk``; else ``ok``.  ``info`` findings change nothing.
    """
    if not has_vip:
        return PENDING
    faults = {i for i, s in severities.items() if s == FAULT}
    if faults & contested_ids:
        return CONTESTED
    if faults and faults <= unanswered_ids:
        return UNCLAIMED
    if faults:
        return STALE
    if AT_RISK in severities.values():
        return AT_RISK
    return OK


__all__ += ["DOCTOR_VERDICT_ORDER", "FAULT", "INFO", "SEVERITIES", "SEVERITY_ORDER", "STALE",
            "service_verdict"]
