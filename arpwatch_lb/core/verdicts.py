"""Policy: what the tracker's facts mean for a person.

The tracker counts; this module judges.  An IP is

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
"""

from __future__ import annotations

from collections.abc import Mapping

from .tracker import IpState

__all__ = ["CONTESTED", "MOVED", "OK", "UNCLAIMED", "VERDICT_ORDER", "cross_node_fights",
           "exit_status", "verdict"]

CONTESTED = "contested"
MOVED = "moved"
OK = "ok"
UNCLAIMED = "unclaimed"
VERDICT_ORDER = {CONTESTED: 0, UNCLAIMED: 1, MOVED: 2, OK: 3}
UNHEALTHY = frozenset({CONTESTED, UNCLAIMED})

EXIT_OK = 0
EXIT_UNHEALTHY = 1
EXIT_ERROR = 2


def _node(mac: bytes, nodes: Mapping[bytes, str]) -> str | bytes:
    return nodes.get(mac, mac)  # an unknown MAC is a node of its own


def cross_node_fights(st: IpState, nodes: Mapping[bytes, str]) -> int:
    """Flip-flops + duplicate replies of ``st`` between MACs of *different* nodes.

    Exact while the tracker remembered every pair; otherwise every fight counts.
    """
    fights = st.flip_flops + st.duplicate_replies
    if not fights or not nodes or st.fight_pairs_overflow or st.fight_pairs is None:
        return fights
    return sum(n for (a, b), n in st.fight_pairs.items() if _node(a, nodes) != _node(b, nodes))


def verdict(st: IpState, nodes: Mapping[bytes, str] | None = None) -> str:
    """The verdict for one tracked IP; with ``nodes`` (MAC → node name), judged per node."""
    if not nodes:
        if st.flip_flops or st.duplicate_replies:
            return CONTESTED
        if st.changes:
            return MOVED
        return OK
    if cross_node_fights(st, nodes):
        return CONTESTED
    if st.changes and len({_node(m, nodes) for m in (st.owner, *st.closed)}) > 1:
        return MOVED
    return OK


def exit_status(verdicts: list[str]) -> int:
    """0 when every verdict is healthy, 1 when any is contested or unclaimed."""
    return EXIT_UNHEALTHY if any(v in UNHEALTHY for v in verdicts) else EXIT_OK


# -- doctor: Service verdicts, finding severities, exit status -----------------
#
# ``doctor`` judges Services from findings (a cause, its evidence, its fix).  Each
# finding has a severity; the Service's verdict follows from its findings, and the
# exit status from the findings of every Service and of the cluster.

ONE_NODE = "one-node"
"""Wire verdict of a VIP claimed by several MACs that all belong to one node (not a fight)."""

STALE = "stale"
"""Doctor verdict: the VIP is answered by a node that does not hold it (Lease, vipHost,
ServiceL2Status), and/or the holder does not answer while another node does."""
AT_RISK = "at-risk"
"""Doctor verdict: nothing fights yet, but a cause is in place (a second eligible announcer,
an Event storm, an overlapping pool)."""
PENDING = "pending"
"""Doctor verdict: no VIP assigned yet."""
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


def doctor_exit_status(severities: list[str], errors: bool = False) -> int:
    """``doctor``: 2 on errors, 1 when any finding (of a Service or the cluster) is a fault, else 0."""
    if errors:
        return EXIT_ERROR
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


__all__ += ["AT_RISK", "DOCTOR_VERDICT_ORDER", "FAULT", "INFO", "ONE_NODE", "PENDING",
            "SEVERITIES", "SEVERITY_ORDER", "STALE", "doctor_exit_status", "service_verdict"]
