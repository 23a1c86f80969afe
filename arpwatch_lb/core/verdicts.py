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
