"""Policy: what the tracker's facts mean for a person.

The tracker counts; this module judges.  An IP is

* ``contested`` — at least one flip-flop or duplicate reply: two announcers;
* ``moved`` — the owner changed, but never back and forth within the window:
  a failover;
* ``ok`` — one MAC throughout;
* ``unclaimed`` — a VIP the user named that nobody claimed.
"""

from __future__ import annotations

from .tracker import IpState

__all__ = ["CONTESTED", "MOVED", "OK", "UNCLAIMED", "VERDICT_ORDER", "exit_status", "verdict"]

CONTESTED = "contested"
MOVED = "moved"
OK = "ok"
UNCLAIMED = "unclaimed"
VERDICT_ORDER = {CONTESTED: 0, UNCLAIMED: 1, MOVED: 2, OK: 3}
UNHEALTHY = frozenset({CONTESTED, UNCLAIMED})

EXIT_OK = 0
EXIT_UNHEALTHY = 1
EXIT_ERROR = 2


def verdict(st: IpState) -> str:
    """The verdict for one tracked IP."""
    if st.flip_flops or st.duplicate_replies:
        return CONTESTED
    if st.changes:
        return MOVED
    return OK


def exit_status(verdicts: list[str]) -> int:
    """0 when every verdict is healthy, 1 when any is contested or unclaimed."""
    return EXIT_UNHEALTHY if any(v in UNHEALTHY for v in verdicts) else EXIT_OK
