"""The ownership tracker: claims in, per-IP facts and change events out.

Pure and sans-I/O: it never reads a clock or a socket.  Time is the
timestamp of the claims fed to it ("network time"), so a live capture and a
replay of the same frames produce the same state.

Theory of operation, per (VLAN, inner VLAN, IP) key:

* The *owner* is the MAC of the latest claim.  Consecutive claims by the owner
  extend the current *run* (MAC, first, last, frames); a claim by another MAC
  is an *ownership change* that closes the run and opens a new one.
* A change to a MAC that itself claimed the IP no more than ``window`` seconds
  before is a *flip-flop*: two announcers fighting, not a failover (a
  failover moves to a MAC that was silent, or silent for longer than the
  window).
* A *duplicate reply*: non-gratuitous replies from two different MACs for the
  same IP to the same requester (target IP) within ``dup_window`` — and, when
  the requests themselves are visible, answering the same request.  Requests
  (requester IP → asked IP) are remembered for that: a client that re-asks
  every half second across a clean failover gets one answer per request from
  the old owner, then one from the new owner, and that is not two announcers.
  When the request was not seen (a switch delivered only the replies), the
  time window alone decides.
* Per claimant MAC: frames, first and last seen.  These are folded in when a
  run closes, so the hot path — another claim by the current owner — touches
  only the open run.
* Finished runs are kept in a bounded deque (``max_runs``); all counters are
  exact regardless.

The tracker records facts.  Whether an IP is ``ok``, ``moved`` or
``contested`` is policy and lives in :mod:`arpwatch_lb.verdicts`.  When
``record_events`` is true, rare transitions (new claimant, owner change,
flip-flop, duplicate reply) are queued as :class:`Change` objects for
:meth:`OwnershipTracker.drain`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .frames import Claim

__all__ = ["Change", "ClaimantStats", "IpState", "Key", "OwnershipTracker", "Run"]

Key = tuple[int | None, int | None, bytes]
"""(VLAN, inner VLAN, IPv4 address bytes)."""

DEFAULT_WINDOW = 60.0
DEFAULT_DUP_WINDOW = 1.0
DEFAULT_MAX_RUNS = 64
MAX_REQUESTERS = 1024  # pending reply slots per IP before old ones are pruned
MAX_ASKED = 65536  # remembered requests (requester → asked IP) before old ones are pruned
MAX_IPS_PER_MAC = 16  # "other IPs" remembered per MAC (the count stays exact)


@dataclass(slots=True)
class Run:
    """A stretch of consecutive claims of one IP by one MAC."""

    mac: bytes
    first: float
    last: float
    frames: int


@dataclass(slots=True)
class ClaimantStats:
    """What one MAC did for one IP (closed runs only; see :meth:`IpState.claimants`)."""

    frames: int = 0
    first: float = 0.0
    last: float = 0.0
    runs: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """A transition worth telling someone about (a fact, not a judgement)."""

    kind: str
    """``new_claimant``, ``owner_changed``, ``flip_flop`` or ``duplicate_reply``."""
    time: float
    key: Key
    mac: bytes
    previous: bytes | None = None
    requester: bytes | None = None
    """For duplicate replies: the requester's IP."""


@dataclass(slots=True, eq=False)
class IpState:
    """Everything known about one (VLAN, inner VLAN, IP)."""

    key: Key
    owner: bytes
    run_first: float
    run_last: float
    run_frames: int = 1
    closed: dict[bytes, ClaimantStats] = field(default_factory=dict)
    runs: deque[Run] = field(default_factory=deque)
    changes: int = 0
    flip_flops: int = 0
    duplicate_replies: int = 0
    requests: int = 0
    replies: int = 0
    gratuitous: int = 0
    eth_mismatch: int = 0
    first_flip_flop: float | None = None
    last_flip_flop: float | None = None
    last_duplicate_reply: float | None = None
    pending_replies: dict[bytes, tuple[bytes, float, float | None]] = field(default_factory=dict)
    """Requester IP → (MAC, time, time of the request it answered) of the latest reply."""

    @property
    def frames(self) -> int:
        """Claims seen for this IP, all MACs."""
        return self.run_frames + sum(c.frames for c in self.closed.values())

    @property
    def first_seen(self) -> float:
        """Time of the first claim."""
        return min([self.run_first, *(c.first for c in self.closed.values())])

    @property
    def last_seen(self) -> float:
        """Time of the latest claim."""
        return self.run_last

    def claimants(self) -> dict[bytes, ClaimantStats]:
        """Per-MAC totals including the open run, oldest first claim first."""
        out = {mac: ClaimantStats(c.frames, c.first, c.last, c.runs)
               for mac, c in self.closed.items()}
        cur = out.get(self.owner)
        if cur is None:
            out[self.owner] = ClaimantStats(self.run_frames, self.run_first, self.run_last, 1)
        else:
            cur.frames += self.run_frames
            cur.last = self.run_last
            cur.runs += 1
        return dict(sorted(out.items(), key=lambda kv: (kv[1].first, kv[0])))

    def timeline(self) -> list[Run]:
        """Owner runs, oldest first, ending with the open run (bounded)."""
        return [*self.runs, Run(self.owner, self.run_first, self.run_last, self.run_frames)]


class OwnershipTracker:
    """Track which MAC owns each (VLAN, IP) from a time-ordered stream of claims."""

    def __init__(self, window: float = DEFAULT_WINDOW, dup_window: float = DEFAULT_DUP_WINDOW,
                 max_runs: int = DEFAULT_MAX_RUNS, record_events: bool = False) -> None:
        if window < 0 or dup_window < 0:
            raise ValueError("windows must not be negative")
        self.window = window
        self.dup_window = dup_window
        self.max_runs = max_runs
        self.record_events = record_events
        self.ips: dict[Key, IpState] = {}
        self.mac_ips: dict[bytes, dict[Key, None]] = {}
        """For each MAC, the keys it claimed (first ``MAX_IPS_PER_MAC``)."""
        self.mac_ip_counts: dict[bytes, int] = {}
        self.events: list[Change] = []
        self.asked: dict[tuple[int | None, int | None, bytes, bytes], float] = {}
        """(VLAN, inner VLAN, asked IP, requester IP) → time of the latest request."""
        self.now = 0.0
        """Network time: the latest claim's timestamp."""

    # -- feeding ----------------------------------------------------------

    def feed(self, c: Claim) -> None:
        """Account one claim."""
        self.feed_all((c,))

    def feed_all(self, claims: Iterable[Claim]) -> None:
        """Account every claim of an iterable, in order.

        The hot path: another claim by the current owner costs one dict
        lookup and two attribute writes.  Everything rarer is a method call.
        """
        ips = self.ips
        get = ips.get
        now = self.now
        max_runs = self.max_runs
        asked = self.asked
        for c in claims:
            t, vlan, inner, op, sha, spa, _tha, tpa, src, _dst, _len = c
            key = (vlan, inner, spa)
            st = get(key)
            if st is None:
                st = IpState(key, sha, t, t, runs=deque(maxlen=max_runs))
                ips[key] = st
                self._new_claimant(st, sha, t)
            elif sha == st.owner:
                st.run_frames += 1
                st.run_last = t
            else:
                self._change(st, sha, t)
            if t > now:
                now = t
            if op == 1:
                st.requests += 1
                if tpa != spa:
                    asked[(vlan, inner, tpa, spa)] = t
            else:
                st.replies += 1
                if tpa != spa:
                    self._reply(st, c, t)
            if spa == tpa:
                st.gratuitous += 1
            if src != sha and src is not None:
                st.eth_mismatch += 1
        self.now = now
        if len(asked) > MAX_ASKED:
            self._prune_asked()

    def drain(self) -> list[Change]:
        """Return and forget the queued change events."""
        out, self.events = self.events, []
        return out

    def _new_claimant(self, st: IpState, mac: bytes, t: float) -> None:
        seen = self.mac_ips.setdefault(mac, {})
        self.mac_ip_counts[mac] = self.mac_ip_counts.get(mac, 0) + 1
        if len(seen) < MAX_IPS_PER_MAC:
            seen[st.key] = None
        if self.record_events:
            self.events.append(Change(kind="new_claimant", time=t, key=st.key, mac=mac))

    def _change(self, st: IpState, mac: bytes, t: float) -> None:
        old = st.owner
        prev = st.closed.get(old)
        if prev is None:
            st.closed[old] = ClaimantStats(st.run_frames, st.run_first, st.run_last, 1)
        else:
            prev.frames += st.run_frames
            prev.last = st.run_last
            prev.runs += 1
        st.runs.append(Run(old, st.run_first, st.run_last, st.run_frames))
        st.changes += 1
        returning = st.closed.get(mac)
        flip = returning is not None and t - returning.last <= self.window
        if returning is None:
            self._new_claimant(st, mac, t)
        st.owner, st.run_first, st.run_last, st.run_frames = mac, t, t, 1
        if flip:
            st.flip_flops += 1
            if st.first_flip_flop is None:
                st.first_flip_flop = t
            st.last_flip_flop = t
        if self.record_events:
            self.events.append(Change(kind="flip_flop" if flip else "owner_changed", time=t,
                                      key=st.key, mac=mac, previous=old))

    def _prune_asked(self) -> None:
        horizon = self.now - self.dup_window
        self.asked = {k: v for k, v in self.asked.items() if v >= horizon}
        if len(self.asked) > MAX_ASKED:  # a flood of distinct requests within one window
            self.asked.clear()

    def _reply(self, st: IpState, c: Claim, t: float) -> None:
        requester = c.tpa
        asked_at = self.asked.get((c.vlan, c.inner_vlan, c.spa, requester))
        pending = st.pending_replies
        prev = pending.get(requester)
        if (prev is not None and prev[0] != c.sha and t - prev[1] <= self.dup_window
                and prev[2] == asked_at):
            st.duplicate_replies += 1
            st.last_duplicate_reply = t
            if self.record_events:
                self.events.append(Change(kind="duplicate_reply", time=t, key=st.key,
                                          mac=c.sha, previous=prev[0], requester=c.tpa))
        pending[requester] = (c.sha, t, asked_at)
        if len(pending) > MAX_REQUESTERS:
            horizon = t - self.dup_window
            for k in [k for k, v in pending.items() if v[1] < horizon]:
                del pending[k]
            if len(pending) > MAX_REQUESTERS:  # a flood of distinct requesters
                pending.clear()

    # -- reading ----------------------------------------------------------

    def other_ips(self, mac: bytes, key: Key) -> list[Key]:
        """Keys of other IPs this MAC claims (bounded list; the same IP on other VLANs is left out)."""
        return [k for k in self.mac_ips.get(mac, ()) if k[2] != key[2]]

    def __iter__(self) -> Iterator[IpState]:
        return iter(self.ips.values())

    def __len__(self) -> int:
        return len(self.ips)
