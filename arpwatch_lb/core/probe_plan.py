"""Active probing, the pure half: when to send which request, and which replies answer them.

Replies arrive on the capture socket like every other frame and go through
decode → tracker, so *every* reply within the timeout counts — two MACs
answering one request become a duplicate reply, which ``arping -D`` (first
reply wins) cannot show.

Round-trip times are the probe's business, not the tracker's (the tracker's
only clock is the frames): :class:`ProbeRtts` is told when each request left
— the caller reads the wall clock (``CLOCK_REALTIME``, the clock of the
kernel's ``SO_TIMESTAMPNS`` receive timestamps) right before the send call —
and sees the decoded claims of every batch.  A reply *for* a probed address
*to* our own MAC and IP address — an ARP reply, or a solicited Neighbor
Advertisement (:func:`arpwatch_lb.core.frames.decode_ndp`) — is a round trip:
its kernel receive timestamp minus the send time of the latest request for
that address on that interface sent before it, once per replying MAC and
request, if it came within ``timeout``.  ARP and NDP have no sequence
numbers: a reply slower than the gap between two requests for the same
address is credited to the later request.

:class:`ProbePlan` is the schedule (rounds of requests over the targets,
spaced ``gap`` = 1/rate apart, rounds ``interval`` apart), driven by the
caller's clock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .frames import Claim

__all__ = ["DEFAULT_RATE", "ProbePlan", "ProbeRtts", "RttStats"]

DEFAULT_RATE = 200.0  # requests per second, all targets together


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


@dataclass(slots=True)
class RttStats:
    """Count, sum, min and max of round-trip times (seconds)."""

    count: int = 0
    total: float = 0.0
    min: float = float("inf")
    max: float = 0.0

    def add(self, rtt: float) -> None:
        """Account one round trip."""
        self.count += 1
        self.total += rtt
        if rtt < self.min:
            self.min = rtt
        if rtt > self.max:
            self.max = rtt

    def doc(self) -> dict[str, Any]:
        """``{count, min, avg, max}`` (seconds, microsecond precision; null without any)."""
        if not self.count:
            return {"count": 0, "min": None, "avg": None, "max": None}
        return {"count": self.count, "min": round(self.min, 6),
                "avg": round(self.total / self.count, 6), "max": round(self.max, 6)}


@dataclass(slots=True)
class _Sent:
    time: float
    repliers: set[bytes] = field(default_factory=set)


class ProbeRtts:
    """Round trips of our who-has requests; see the module docstring.

    :meth:`sent` is called by the sender, :meth:`observe` with every batch of
    decoded claims (capture thread); :meth:`snapshot`/:meth:`report` may be
    called from another thread (the metrics server).
    """

    KEEP = 4
    """Requests remembered per (interface, address) for matching replies."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        """A reply later than this after its request is not counted."""
        self.requests = 0
        """Requests sent (all interfaces)."""
        self.answered = 0
        """Requests that got at least one reply."""
        self.total = RttStats()
        self.per_ip: dict[bytes, RttStats] = {}
        self._ours: dict[str, set[tuple[bytes, bytes]]] = {}
        """Interface → our (MAC, IP) pairs that requests were sent from (IPv4 and IPv6)."""
        self._pending: dict[tuple[str, bytes], deque[_Sent]] = {}
        self._lock = threading.Lock()

    def sent(self, interface: str, mac: bytes, ip: bytes, target: bytes, t: float) -> None:
        """A request for ``target`` left ``interface`` (our ``mac``/``ip``) at wall time ``t``.

        ``ip`` is our IPv4 address for an ARP request, our IPv6 address for a
        Neighbor Solicitation.
        """
        self._ours.setdefault(interface, set()).add((mac, ip))
        q = self._pending.get((interface, target))
        if q is None:
            q = self._pending[interface, target] = deque(maxlen=self.KEEP)
        q.append(_Sent(t))
        with self._lock:
            self.requests += 1

    def observe(self, claims: Iterable[Claim], interface: str) -> None:
        """Match the replies among ``claims`` (received on ``interface``) to our requests."""
        ours = self._ours.get(interface)
        if ours is None:
            return
        pending = self._pending
        for c in claims:
            if c.op & 1 or (c.tha, c.tpa) not in ours:
                continue  # a request, or an answer to someone else
            q = pending.get((interface, c.spa))
            if not q:
                continue
            t = c.time
            req = next((s for s in reversed(q) if s.time <= t), None)
            if req is None or t - req.time > self.timeout or c.sha in req.repliers:
                continue
            req.repliers.add(c.sha)
            rtt = t - req.time
            with self._lock:
                if len(req.repliers) == 1:
                    self.answered += 1
                self.total.add(rtt)
                st = self.per_ip.get(c.spa)
                if st is None:
                    st = self.per_ip[c.spa] = RttStats()
                st.add(rtt)

    def report(self) -> dict[str, Any]:
        """The report's ``probes`` object."""
        with self._lock:
            return {"sent": self.requests, "answered": self.answered,
                    "rtt_seconds": self.total.doc()}

    def ip_doc(self, ip: bytes) -> dict[str, Any] | None:
        """The report's per-IP ``probe_rtt``: ``{count, min, avg, max}``, or None."""
        with self._lock:
            st = self.per_ip.get(ip)
            return st.doc() if st is not None else None

    def snapshot(self) -> tuple[int, int, tuple[int, float], Mapping[bytes, tuple[int, float]]]:
        """(requests, answered, (count, sum), {ip: (count, sum)}) for the metrics."""
        with self._lock:
            return (self.requests, self.answered, (self.total.count, self.total.total),
                    {ip: (s.count, s.total) for ip, s in self.per_ip.items()})
