"""Event policy for ``watch``: tracker changes and capture facts → JSON-able events.

The tracker records every change (:class:`arpwatch_lb.tracker.Change`); this
module decides which become a line, so a storm of frames never becomes a
storm of lines:

* ``new_claimant``, ``owner_changed`` — at most ``burst`` lines per second
  of network time in total (a scan or a flood of fake senders); the rest are
  counted in ``suppressed`` of the next ``summary``.
* ``flip_flop``, ``duplicate_reply`` — at most one line per (VLAN, IP) per
  ``interval`` seconds; a line's ``suppressed`` says how many of the same
  kind for that IP were folded into it since the previous line.
* ``contested`` — when an IP becomes contested (its first flip-flop or
  duplicate reply, or the first one after it was ``resolved``).  Never
  rate-limited: it happens once per episode.
* ``resolved`` — a contested IP with no flip-flop and no duplicate reply for
  ``window`` seconds (checked by :meth:`EventPolicy.tick`).  The final report
  still says ``contested``: it judges the whole run.

Pure: time comes from the claims (kernel timestamps) or from the caller's
``now``; nothing here reads a clock or a socket.

Every event has ``event``, ``time`` (epoch seconds), ``interface``, ``ip``,
``vlan``, ``inner_vlan`` and ``mac`` (``null`` where they do not apply), plus
fields of its own — see docs/live.md for the schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .addresses import VipSet, format_ip, format_mac
from .report import build_report
from .tracker import Change, Key, OwnershipTracker

__all__ = ["EVENT_KINDS", "EventPolicy"]

EVENT_KINDS = ("new_claimant", "owner_changed", "flip_flop", "contested", "resolved",
               "duplicate_reply", "kernel_drops", "interface_down", "interface_up",
               "interface_vanished", "summary")
DEFAULT_INTERVAL = 1.0
DEFAULT_BURST = 50


def _base(event: str, time: float, interface: str | None = None, key: Key | None = None,
          mac: bytes | None = None) -> dict[str, Any]:
    return {
        "event": event,
        "time": round(time, 6),
        "interface": interface,
        "ip": format_ip(key[2]) if key else None,
        "vlan": key[0] if key else None,
        "inner_vlan": key[1] if key else None,
        "mac": format_mac(mac) if mac else None,
    }


class EventPolicy:
    """Turn tracker changes into events; see the module docstring for the rules."""

    def __init__(self, tracker: OwnershipTracker, vips: VipSet | None = None,
                 interval: float = DEFAULT_INTERVAL, burst: int = DEFAULT_BURST) -> None:
        self.tracker = tracker
        self.vips = vips or VipSet()
        self.interval = interval
        self.burst = burst
        self.contested: dict[Key, float] = {}
        """Keys currently contested → time of their latest flip-flop or duplicate reply."""
        self.suppressed = 0
        """Lines left out so far (all kinds)."""
        self._last_line: dict[tuple[str, Key], float] = {}
        self._folded: dict[tuple[str, Key], int] = {}
        self._second = -1
        self._second_lines = 0

    # -- tracker changes -------------------------------------------------

    def changes(self, changes: Iterable[Change], interface: str | None = None
                ) -> list[dict[str, Any]]:
        """Events for a batch of tracker changes seen on ``interface``."""
        out: list[dict[str, Any]] = []
        for ch in changes:
            if ch.key[2] not in self.vips:
                continue
            if ch.kind in ("flip_flop", "duplicate_reply"):
                self._fight(ch, interface, out)
            elif self._budget(ch.time):
                ev = _base(ch.kind, ch.time, interface, ch.key, ch.mac)
                if ch.kind == "owner_changed":
                    ev["previous"] = format_mac(ch.previous) if ch.previous else None
                out.append(ev)
            else:
                self.suppressed += 1
        return out

    def _budget(self, t: float) -> bool:
        second = int(t)
        if second != self._second:
            self._second, self._second_lines = second, 0
        self._second_lines += 1
        return self._second_lines <= self.burst

    def _fight(self, ch: Change, interface: str | None, out: list[dict[str, Any]]) -> None:
        slot = (ch.kind, ch.key)
        last = self._last_line.get(slot)
        if last is not None and ch.time - last < self.interval:
            self._folded[slot] = self._folded.get(slot, 0) + 1
            self.suppressed += 1
        else:
            ev = _base(ch.kind, ch.time, interface, ch.key, ch.mac)
            ev["previous"] = format_mac(ch.previous) if ch.previous else None
            if ch.kind == "duplicate_reply":
                ev["requester"] = format_ip(ch.requester) if ch.requester else None
            ev["suppressed"] = self._folded.pop(slot, 0)
            self._last_line[slot] = ch.time
            out.append(ev)
        if ch.key not in self.contested:
            ev = _base("contested", ch.time, interface, ch.key, ch.mac)
            ev["macs"] = self._macs(ch.key)
            ev["reason"] = ch.kind
            out.append(ev)
        self.contested[ch.key] = ch.time

    def _macs(self, key: Key) -> list[str]:
        st = self.tracker.ips.get(key)
        return [format_mac(m) for m in st.claimants()] if st else []

    # -- time ------------------------------------------------------------

    def tick(self, now: float) -> list[dict[str, Any]]:
        """``resolved`` events for contested IPs quiet for a window before ``now``."""
        out = []
        window = self.tracker.window
        for key, last in list(self.contested.items()):
            if now - last >= window:
                del self.contested[key]
                ev = _base("resolved", now, None, key, self.tracker.ips[key].owner)
                ev["macs"] = self._macs(key)
                ev["quiet_since"] = round(last, 6)
                out.append(ev)
        return out

    # -- capture facts ---------------------------------------------------

    @staticmethod
    def interface_event(kind: str, interface: str, time: float, **extra: Any) -> dict[str, Any]:
        """``interface_down``, ``interface_up`` or ``interface_vanished``."""
        ev = _base(kind, time, interface)
        ev.update(extra)
        return ev

    @staticmethod
    def kernel_drops(interface: str, time: float, drops: int, packets: int, total: int
                     ) -> dict[str, Any]:
        """Frames the kernel dropped since the previous statistics read."""
        ev = _base("kernel_drops", time, interface)
        ev.update(drops=drops, packets=packets, total_drops=total)
        return ev

    def summary(self, now: float, counts: Mapping[str, int], drops: int,
                interfaces: Mapping[str, str]) -> dict[str, Any]:
        """A periodic ``summary`` line: verdict counts, frame counts, drops."""
        report = build_report(self.tracker, counts, self.vips, mode="watch")
        ev = _base("summary", now)
        ev.update(
            ips=report["summary"],
            contested_now=len(self.contested),
            frames=int(counts.get("total", 0)),
            claims=int(counts.get("claims", 0)),
            kernel_drops=drops,
            suppressed=self.suppressed,
            interfaces=dict(interfaces),
        )
        return ev
