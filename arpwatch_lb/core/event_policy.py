"""Event policy for ``watch``: tracker changes and capture facts → JSON-able events.

The tracker records every change (:class:`arpwatch_lb.core.tracker.Change`); this
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
* ``announcer_identified`` — a claimant's announcer (its wire fingerprint,
  :mod:`arpwatch_lb.core.fingerprint`) is first known or changes; within the
  same per-second budget as ``new_claimant``.
* ``vrrp_split_brain`` — two routers advertise one VRID at once (both
  MASTER).  Never rate-limited: once per episode.
* ``table_full`` — the tracker's IP table reached its cap and evicted IPs
  (:meth:`EventPolicy.table`): at once the first time, then at most one line
  per ``table_interval`` seconds while evictions go on, each with the count
  since the previous line.

With a MAC → node mapping (``nodes``, a callable: ``--kubernetes``), events
that name MACs also name nodes: ``node`` (for ``mac``), ``previous_node``
(for ``previous``), ``nodes`` (the distinct known nodes of ``macs``), null
when unknown; ``flip_flop``/``duplicate_reply`` lines get ``same_node`` —
true when both MACs belong to one node.  Such a same-node fight (a bond, two
NICs, ARP flux) is still a line (it is a fact) but does not make the IP
``contested`` (:mod:`arpwatch_lb.core.verdicts`).

Pure: time comes from the claims (kernel timestamps) or from the caller's
``now``; nothing here reads a clock or a socket.

Every event has ``event``, ``time`` (epoch seconds), ``interface``, ``ip``,
``vlan``, ``inner_vlan`` and ``mac`` (``null`` where they do not apply), plus
fields of its own — see README.md ("Output: --format jsonl") for the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .addresses import VipSet, format_ip, format_mac
from .report import table_summary
from .tracker import Change, Key, OwnershipTracker
from .verdicts import CONTESTED, same_node

__all__ = ["EVENT_KINDS", "EventPolicy"]

EVENT_KINDS = ("new_claimant", "owner_changed", "flip_flop", "contested", "resolved",
               "duplicate_reply", "kernel_drops", "interface_down", "interface_up",
               "interface_vanished", "summary", "announcer_identified", "vrrp_split_brain",
               "table_full")
DEFAULT_INTERVAL = 1.0
DEFAULT_BURST = 50
DEFAULT_TABLE_INTERVAL = 10.0


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
                 interval: float = DEFAULT_INTERVAL, burst: int = DEFAULT_BURST,
                 nodes: Callable[[], Mapping[bytes, str]] | None = None,
                 table_interval: float = DEFAULT_TABLE_INTERVAL) -> None:
        self.tracker = tracker
        self.nodes = nodes
        """MAC → node name provider, or None (no node fields)."""
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
        self._node_map: Mapping[bytes, str] | None = None
        self.table_interval = table_interval
        self._evictions_told = 0
        self._table_line_at: float | None = None
        tracker.on_evict(self._forget)

    def _forget(self, key: Key) -> None:
        """The tracker evicted ``key`` (a full table): drop what is kept about it here."""
        self.contested.pop(key, None)
        for kind in ("flip_flop", "duplicate_reply"):
            self._last_line.pop((kind, key), None)
            self._folded.pop((kind, key), None)

    # -- tracker changes -------------------------------------------------

    def changes(self, changes: Iterable[Change], interface: str | None = None
                ) -> list[dict[str, Any]]:
        """Events for a batch of tracker changes seen on ``interface``."""
        out: list[dict[str, Any]] = []
        self._node_map = self.nodes() if self.nodes is not None else None
        for ch in changes:
            if ch.key[2] not in self.vips:
                continue
            if ch.kind in ("flip_flop", "duplicate_reply"):
                self._fight(ch, interface, out)
            elif ch.kind == "vrrp_split_brain":
                out.append(self._split_brain(ch, interface))
            elif self._budget(ch.time):
                ev = self._event(ch.kind, ch.time, interface, ch.key, ch.mac)
                if ch.kind == "owner_changed":
                    self._previous(ev, ch.previous)
                elif ch.kind == "announcer_identified":
                    ev.update(announcer=ch.announcer, evidence=ch.evidence,
                              previous_announcer=ch.previous_announcer)
                out.append(ev)
            else:
                self.suppressed += 1
        return out

    def _event(self, kind: str, time: float, interface: str | None, key: Key | None,
               mac: bytes | None) -> dict[str, Any]:
        ev = _base(kind, time, interface, key, mac)
        if self._node_map is not None and mac:
            ev["node"] = self._node_map.get(mac)
        return ev

    def _split_brain(self, ch: Change, interface: str | None) -> dict[str, Any]:
        ev = self._event("vrrp_split_brain", ch.time, interface, ch.key, ch.mac)
        group = ch.vrrp or {}
        ev.update(vrid=group.get("vrid"), addresses=group.get("addresses", []),
                  sources=[{k: s[k] for k in ("ip", "mac", "priority")}
                           for s in group.get("sources", []) if not s.get("resigned")])
        return ev

    def _previous(self, ev: dict[str, Any], previous: bytes | None) -> None:
        ev["previous"] = format_mac(previous) if previous else None
        if self._node_map is not None:
            ev["previous_node"] = self._node_map.get(previous) if previous else None

    def _budget(self, t: float) -> bool:
        second = int(t)
        if second != self._second:
            self._second, self._second_lines = second, 0
        self._second_lines += 1
        return self._second_lines <= self.burst

    def _fight(self, ch: Change, interface: str | None, out: list[dict[str, Any]]) -> None:
        nodes = self._node_map
        same = same_node(ch.mac, ch.previous, nodes)
        slot = (ch.kind, ch.key)
        last = self._last_line.get(slot)
        if last is not None and ch.time - last < self.interval:
            self._folded[slot] = self._folded.get(slot, 0) + 1
            self.suppressed += 1
        else:
            ev = self._event(ch.kind, ch.time, interface, ch.key, ch.mac)
            self._previous(ev, ch.previous)
            if nodes is not None:
                ev["same_node"] = same
            if ch.kind == "duplicate_reply":
                ev["requester"] = format_ip(ch.requester) if ch.requester else None
            ev["suppressed"] = self._folded.pop(slot, 0)
            self._last_line[slot] = ch.time
            out.append(ev)
        if same:  # one node answering twice: a fact, not a fight
            return
        if ch.key not in self.contested:
            ev = self._event(CONTESTED, ch.time, interface, ch.key, ch.mac)
            self._add_macs(ev, ch.key)
            ev["reason"] = ch.kind
            out.append(ev)
        self.contested[ch.key] = ch.time

    def _add_macs(self, ev: dict[str, Any], key: Key) -> None:
        st = self.tracker.ips.get(key)
        macs = list(st.claimants()) if st else []
        ev["macs"] = [format_mac(m) for m in macs]
        if self._node_map is not None:
            named = (self._node_map.get(m) for m in macs)
            ev["nodes"] = list(dict.fromkeys(n for n in named if n is not None))

    # -- time ------------------------------------------------------------

    def tick(self, now: float) -> list[dict[str, Any]]:
        """``resolved`` events for contested IPs quiet for a window before ``now``."""
        out = []
        window = self.tracker.window
        self._node_map = None
        for key, last in list(self.contested.items()):
            if now - last >= window:
                del self.contested[key]
                if self._node_map is None and self.nodes is not None:
                    self._node_map = self.nodes()
                st = self.tracker.ips.get(key)
                ev = self._event("resolved", now, None, key, st.owner if st else None)
                self._add_macs(ev, key)
                ev["quiet_since"] = round(last, 6)
                out.append(ev)
        return out

    def table(self, now: float) -> list[dict[str, Any]]:
        """A ``table_full`` event when the tracker evicted IPs since the last one (rate-limited)."""
        total = self.tracker.evictions
        new = total - self._evictions_told
        if new <= 0:
            return []
        if self._table_line_at is not None and now - self._table_line_at < self.table_interval:
            return []
        ev = _base("table_full", now)
        ev.update(self.tracker.table(), evicted=new, first=self._table_line_at is None)
        self._evictions_told = total
        self._table_line_at = now
        return [ev]

    # -- capture facts ---------------------------------------------------

    @classmethod
    def link_event(cls, kind: str, interface: str, time: float, fields: Mapping[str, Any]
                   ) -> dict[str, Any]:
        """The event for a fact about an interface (``kernel_drops``, ``interface_*``)."""
        if kind == "kernel_drops":
            return cls.kernel_drops(interface, time, fields["drops"], fields["packets"],
                                    fields["total"])
        return cls.interface_event(kind, interface, time, **fields)

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
        ips = table_summary(self.tracker, self.vips,
                             self.nodes() if self.nodes is not None else None)
        ev = _base("summary", now)
        ev.update(
            ips=ips,
            contested_now=len(self.contested),
            frames=int(counts.get("total", 0)),
            claims=int(counts.get("claims", 0)),
            kernel_drops=drops,
            suppressed=self.suppressed,
            interfaces=dict(interfaces),
        )
        if self.tracker.max_ips is not None:
            ev["table"] = self.tracker.table()
        return ev
