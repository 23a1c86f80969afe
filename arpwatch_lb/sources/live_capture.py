"""The live source: frames from interfaces, through decode → tracker, like a replay.

:class:`Monitor` owns one :class:`~arpwatch_lb.sources.link_socket.FrameSource` per
interface and does the bookkeeping that ``probe`` and ``watch`` share:

* :meth:`Monitor.pump` waits (select) for frames and hands every queued batch,
  with kernel timestamps, to :func:`arpwatch_lb.core.ingest.ingest_many` — the
  same decode → count → collect step a replay uses; claims go to the
  :class:`~arpwatch_lb.core.tracker.OwnershipTracker`, and the raw frames to
  an optional ``tee(time, data, wire_length)`` (the session's pcap writer);
  VRRP adverts go to the tracker after the claims
  (:meth:`~arpwatch_lb.core.tracker.OwnershipTracker.feed_adverts`);
* :meth:`Monitor.read_stats` folds the kernel's ``PACKET_STATISTICS`` into
  per-interface totals (packets = frames passed to us + frames dropped);
* :meth:`Monitor.check_links` follows each interface's state: down (the
  process stays, the socket resumes by itself), up again, vanished (the
  socket is closed; it is reopened if the name comes back).

Interface and drop facts are handed to ``on_fact(LinkFact)`` and tracker
changes to ``on_changes(changes, interface)``; the caller turns
them into output.  ``on_claims(claims, interface)`` sees every batch of
decoded claims after the tracker (the probe sources match replies there).
The clock is injected (``clock``) for the facts that are not frames (a link
going down has no packet timestamp).
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.frames import LINKTYPE_ETHERNET, Claim, VrrpAdvert
from ..core.ingest import FrameCounts, ingest_many
from ..core.tracker import Change, OwnershipTracker
from .link_socket import FrameSource, LinkDown, LinkGone, LinkSocket, Received, interface_state

__all__ = ["Link", "LinkFact", "Monitor"]

MAX_BATCH = 4096  # frames read from one interface before looking at the others
COALESCE = 0.005  # s: wake up at most this often, so frames come in batches, not one by one


@dataclass(frozen=True, slots=True)
class LinkFact:
    """Something that happened to an interface rather than a frame on it."""

    kind: str
    """``kernel_drops``, ``interface_down``, ``interface_up`` or ``interface_vanished``."""
    interface: str
    time: float
    """Epoch seconds, from the injected clock (a link going down has no frame timestamp)."""
    fields: dict[str, Any] = field(default_factory=dict)
    """Kind-specific facts: ``drops``/``packets``/``total`` for drops, ``reopened`` for up."""


@dataclass
class Link:
    """One watched interface and its totals."""

    name: str
    source: FrameSource | None
    state: str = "up"
    """``up``, ``down`` or ``gone``."""
    frames: int = 0
    """Frames read from the socket (and decoded)."""
    kernel_packets: int = 0
    """``tp_packets`` totals: frames that passed the filter, dropped ones included."""
    kernel_drops: int = 0
    """``tp_drops`` totals: frames dropped because the receive buffer was full."""
    transitions: list[str] = field(default_factory=list)
    """States the interface went through after the start (``down``, ``up``, ``gone``)."""
    promisc: bool = False
    rcvbuf: int | None = None

    def attach(self, source: FrameSource) -> None:
        """Use ``source`` (remembering its settings)."""
        self.source = source
        self.promisc = bool(getattr(source, "promisc", False))
        self.rcvbuf = getattr(source, "rcvbuf", None)


class Monitor:
    """Read frames from interfaces into a tracker; see the module docstring."""

    def __init__(self, names: list[str], tracker: OwnershipTracker,
                 counts: FrameCounts | None = None, *,
                 open_source: Callable[[str], FrameSource] = LinkSocket,
                 state_of: Callable[[str], str] = interface_state,
                 tee: Callable[[float, bytes, int], None] | None = None,
                 on_changes: Callable[[list[Change], str], None] | None = None,
                 on_fact: Callable[[LinkFact], None] | None = None,
                 clock: Callable[[], float] = time.time,
                 on_claims: Callable[[list[Claim], str], None] | None = None) -> None:
        self.tracker = tracker
        self.counts = counts if counts is not None else FrameCounts()
        self.open_source = open_source
        self.state_of = state_of
        self.tee = tee
        self.on_changes = on_changes
        self.on_fact = on_fact or (lambda fact: None)
        self.on_claims = on_claims
        self.clock = clock
        self.links: dict[str, Link] = {}
        self._last_wake = 0.0
        try:
            for name in names:
                link = Link(name, None)
                link.attach(open_source(name))
                self.links[name] = link
        except BaseException:
            self.close()
            raise

    # -- frames ------------------------------------------------------------

    def pump(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for frames, then read every queued one; return how many.

        Wakes up at most every ``COALESCE`` s: under load each wake-up then
        reads a batch (the kernel buffers meanwhile), which costs far less
        CPU than one select and one decode call per frame.
        """
        live = [lk for lk in self.links.values() if lk.source is not None]
        if not live:
            time.sleep(timeout)
            return 0
        pause = self._last_wake + COALESCE - time.monotonic()
        if pause > 0:
            time.sleep(min(pause, timeout))
            timeout = max(0.0, timeout - pause)
        try:
            ready, _, _ = select.select([lk.source for lk in live if lk.source], [], [],
                                        timeout)
        except (OSError, ValueError):  # a descriptor closed under us: look again next time
            return 0
        self._last_wake = time.monotonic()
        n = 0
        for src in ready:
            link = next(lk for lk in live if lk.source is src)
            n += self._drain(link)
        return n

    def drain_all(self) -> int:
        """Read whatever is queued on every interface, without waiting."""
        return sum(self._drain(lk) for lk in self.links.values() if lk.source is not None)

    def _drain(self, link: Link) -> int:
        src = link.source
        assert src is not None
        total = 0
        while True:
            batch: list[Received] = []
            try:
                while len(batch) < MAX_BATCH:
                    r = src.recv()
                    if r is None:
                        break
                    batch.append(r)
            except LinkDown:
                self._set_state(link, "down")
            except LinkGone:
                self._gone(link)
            if batch:
                self._process(link, batch)
                total += len(batch)
            if len(batch) < MAX_BATCH:
                return total

    def _process(self, link: Link, batch: list[Received]) -> None:
        if self.tee is not None:
            tee = self.tee
            for t, data, wire, _out in batch:
                tee(t, data, wire)
        claims: list[Claim] = []
        adverts: list[VrrpAdvert] = []
        link.frames += ingest_many(LINKTYPE_ETHERNET, ((r[0], r[1], r[2]) for r in batch),
                                   self.counts, claims, adverts)
        self.tracker.feed_all(claims)
        if adverts:
            self.tracker.feed_adverts(adverts)
        if self.on_claims is not None and claims:
            self.on_claims(claims, link.name)
        if self.on_changes is not None and self.tracker.record_events:
            changes = self.tracker.drain()
            if changes:
                self.on_changes(changes, link.name)

    def send(self, name: str, frame: bytes) -> bool:
        """Send ``frame`` on interface ``name``; False when it is down or gone."""
        link = self.links[name]
        if link.source is None or link.state != "up":
            return False
        try:
            link.source.send(frame)
        except OSError:  # ENETDOWN/ENXIO between two checks: the link check reports it
            return False
        return True

    # -- kernel counters and link state -------------------------------------

    def read_stats(self) -> None:
        """Fold the kernel counters in; report drops as a ``kernel_drops`` fact."""
        now = self.clock()
        for link in self.links.values():
            if link.source is None:
                continue
            try:
                st = link.source.stats()
            except OSError:
                continue
            link.kernel_packets += st.packets
            link.kernel_drops += st.drops
            if st.drops:
                self.on_fact(LinkFact("kernel_drops", link.name, now, {
                    "drops": st.drops, "packets": st.packets, "total": link.kernel_drops}))

    def check_links(self) -> None:
        """Notice interfaces that went down, came back, vanished or reappeared."""
        for link in self.links.values():
            try:
                state = self.state_of(link.name)
            except OSError:
                continue
            if link.state == "gone":
                if state != "gone":
                    self._reopen(link, state)
            elif state == "gone":
                self._gone(link)
            elif state != link.state:
                self._set_state(link, state)

    def _set_state(self, link: Link, state: str, **extra: Any) -> None:
        if link.state == state:
            return
        link.state = state
        link.transitions.append(state)
        kind = {"up": "interface_up", "down": "interface_down", "gone": "interface_vanished"}
        self.on_fact(LinkFact(kind[state], link.name, self.clock(), extra))

    def _gone(self, link: Link) -> None:
        if link.source is not None:
            try:  # keep what the kernel counted until now
                st = link.source.stats()
                link.kernel_packets += st.packets
                link.kernel_drops += st.drops
            except OSError:
                pass
            link.source.close()
            link.source = None
        self._set_state(link, "gone")

    def _reopen(self, link: Link, state: str) -> None:
        try:
            link.attach(self.open_source(link.name))
        except Exception:
            return
        self._set_state(link, state, reopened=True)

    # -- reading -----------------------------------------------------------

    def sources(self) -> list[dict[str, Any]]:
        """Per-interface facts for the report's ``sources``."""
        out = []
        for lk in self.links.values():
            out.append({
                "interface": lk.name,
                "state": lk.state,
                "frames": lk.frames,
                "kernel_packets": lk.kernel_packets,
                "kernel_drops": lk.kernel_drops,
                "promisc": lk.promisc,
                "rcvbuf": lk.rcvbuf,
                "transitions": list(lk.transitions),
            })
        return out

    def warnings(self) -> list[str]:
        """One line per interface that lost frames or is not up."""
        out = []
        for lk in self.links.values():
            if lk.kernel_drops:
                out.append(f"{lk.name}: the kernel dropped {lk.kernel_drops} of "
                           f"{lk.kernel_packets} ARP frames (receive buffer full); claims may "
                           "be missing")
            if lk.state != "up":
                out.append(f"{lk.name}: interface {lk.state}")
        return out

    @property
    def kernel_drops(self) -> int:
        """Drops on every interface so far."""
        return sum(lk.kernel_drops for lk in self.links.values())

    def close(self) -> None:
        """Close every socket."""
        for lk in self.links.values():
            if lk.source is not None:
                lk.source.close()
                lk.source = None
