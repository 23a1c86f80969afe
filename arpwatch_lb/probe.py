"""Active probing: who-has requests crafted with scapy, sent at a bounded rate.

Replies are not matched here: they arrive on the capture socket like every
other frame and go through decode → tracker (see :mod:`arpwatch_lb.monitor`),
so *every* reply within the timeout counts — two MACs answering one request
become a duplicate reply, which ``arping -D`` (first reply wins) cannot show.

:class:`ProbePlan` is the pure schedule (rounds of requests over the targets,
spaced ``gap`` = 1/rate apart, rounds ``interval`` apart); :func:`run_probe`
is the ``probe`` command's session.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .addresses import VipSet, format_ip, format_mac
from .captures import FrameCounts
from .live import CaptureError, FrameSource, LinkSocket, interface_addresses
from .monitor import Monitor
from .tracker import OwnershipTracker

__all__ = ["DEFAULT_RATE", "ProbePlan", "ProbeResult", "run_probe", "who_has"]

DEFAULT_RATE = 200.0  # requests per second, all targets together
BROADCAST = "ff:ff:ff:ff:ff:ff"


def who_has(src_mac: bytes, src_ip: bytes, target: bytes) -> bytes:
    """An ARP request "who has ``target``? tell ``src_ip``", broadcast, as bytes."""
    from scapy.layers.l2 import ARP, Ether  # slow import: only when probing

    frame = Ether(dst=BROADCAST, src=format_mac(src_mac)) / ARP(
        op=1, hwsrc=format_mac(src_mac), psrc=format_ip(src_ip),
        hwdst="00:00:00:00:00:00", pdst=format_ip(target))
    return bytes(frame)


@dataclass
class ProbePlan:
    """When to send which request; a pure schedule driven by the caller's clock.

    ``count`` rounds (0 = forever) over ``targets``; inside a round requests
    are ``1/rate`` s apart; a round starts ``interval`` s after the previous
    one started, or right after it ended if it took longer.  After a stall
    the plan does not burst to catch up.
    """

    targets: list[bytes]
    count: int
    interval: float
    rate: float
    start: float
    rounds: int = 0
    sent: int = 0
    _index: int = 0
    _next: float = field(init=False)
    _round_start: float = field(init=False)

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        self._next = self._round_start = self.start

    @property
    def gap(self) -> float:
        """Seconds between two requests."""
        return 1.0 / self.rate

    @property
    def finished(self) -> bool:
        """Every round sent (never, for ``count`` 0)."""
        return not self.targets or (self.count > 0 and self.rounds >= self.count)

    def due(self, now: float) -> list[bytes]:
        """Targets to send a request to at ``now``."""
        out: list[bytes] = []
        if self._next < now - self.gap:  # stalled: resume pacing from now
            self._next = now
        while not self.finished and self._next <= now:
            out.append(self.targets[self._index])
            self.sent += 1
            self._index += 1
            if self._index == len(self.targets):
                self._index = 0
                self.rounds += 1
                self._next = max(self._round_start + self.interval, self._next + self.gap)
                self._round_start = self._next
            else:
                self._next += self.gap
        return out

    def wait(self, now: float) -> float:
        """Seconds until the next request is due (inf when finished)."""
        return float("inf") if self.finished else max(0.0, self._next - now)


@dataclass
class ProbeResult:
    """What a probe session gathered besides the tracker."""

    counts: FrameCounts
    sources: list[dict[str, Any]]
    warnings: list[str]
    requests: int


def run_probe(interface: str, vips: VipSet, tracker: OwnershipTracker, *, count: int,
              interval: float, timeout: float, rate: float = DEFAULT_RATE,
              open_source: Callable[[str], FrameSource] = LinkSocket,
              clock: Callable[[], float] = time.monotonic) -> ProbeResult:
    """Probe every address of ``vips`` on ``interface``, collecting replies into ``tracker``.

    Capture starts before the first request and goes on ``timeout`` s after
    the last one.  Raises :class:`~arpwatch_lb.live.CaptureError` (no
    privilege, unknown interface, no IPv4 address to ask from).
    """
    mac, ip = interface_addresses(interface)
    if ip is None:
        raise CaptureError(f"{interface} has no IPv4 address to send requests from")
    frames: dict[bytes, bytes] = {}
    monitor = Monitor([interface], tracker, open_source=open_source)
    try:
        plan = ProbePlan(vips.addresses(), count, interval, rate, clock())
        while not plan.finished:
            for target in plan.due(clock()):
                frame = frames.get(target)
                if frame is None:
                    frame = frames[target] = who_has(mac, ip, target)
                monitor.send(interface, frame)
            monitor.pump(min(plan.wait(clock()), 0.05))
        end = clock() + timeout
        while (left := end - clock()) > 0:
            monitor.pump(min(left, 0.1))
        monitor.drain_all()
        monitor.read_stats()
        return ProbeResult(monitor.counts, monitor.sources(), monitor.warnings(), plan.sent)
    finally:
        monitor.close()
