"""The ownership tracker as it was before compact records and bounded tables: every IP a full
``IpState`` from its first claim, nothing ever evicted.  Tests compare the real tracker's
reports with this one's (tests/test_tracker_bounded.py).  Test code only."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from arpwatch_lb.core.frames import Claim
from arpwatch_lb.core.tracker import Change, ClaimantStats, IpState, Run, ikey

Key = tuple[int | None, int | None, bytes]
"""(VLAN, inner VLAN, IPv4 address bytes)."""

DEFAULT_WINDOW = 60.0
DEFAULT_DUP_WINDOW = 1.0
DEFAULT_MAX_RUNS = 64
PRUNE_EVERY = 10.0  # s of network time between prunes of the request/reply tables
MAX_PENDING = 1 << 18  # remembered requests + replies before a prune is forced
MAX_IPS_PER_MAC = 16  # "other IPs" remembered per MAC (the count stays exact)
MAX_FIGHT_PAIRS = 32  # MAC pairs remembered per IP for flip-flops / duplicate replies










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
        self.answered: dict[tuple[int | None, int | None, bytes, bytes], tuple[bytes, float]] = {}
        """Same key → (MAC, time) of the latest reply."""
        self._pruned = 0.0
        self.now = 0.0
        """Network time: the latest claim's timestamp."""
        self.claimant_pairs = 0
        """(IP key, MAC) claimant pairs seen so far: grows whenever any IP gets a new MAC."""

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
        asked_get = asked.get
        answered = self.answered
        answered_get = answered.get
        dup_window = self.dup_window
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
            if spa == tpa:  # gratuitous: announces, answers nobody
                st.gratuitous += 1
                if op == 1:
                    st.requests += 1
            elif op == 1:
                st.requests += 1
                asked[(vlan, inner, tpa, spa)] = t
            else:
                rk = (vlan, inner, spa, tpa)
                prev = answered_get(rk)
                if prev is not None and prev[0] != sha and t - prev[1] <= dup_window:
                    # Two MACs answered this requester within the window: one request, or
                    # a new request in between (see the module docstring)?
                    asked_at = asked_get(rk)
                    if asked_at is None or t - asked_at > dup_window or asked_at <= prev[1]:
                        self._duplicate_reply(st, prev[0], sha, tpa, t)
                answered[rk] = (sha, t)
            if src != sha and src is not None:
                st.eth_mismatch += 1
        self.now = now
        if now - self._pruned > PRUNE_EVERY or len(asked) + len(answered) > MAX_PENDING:
            self._prune()

    def drain(self) -> list[Change]:
        """Return and forget the queued change events."""
        out, self.events = self.events, []
        return out

    def _new_claimant(self, st: IpState, mac: bytes, t: float) -> None:
        seen = self.mac_ips.setdefault(mac, {})
        self.claimant_pairs += 1
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
            _fight_pair(st, old, mac)
        if self.record_events:
            self.events.append(Change(kind="flip_flop" if flip else "owner_changed", time=t,
                                      key=st.key, mac=mac, previous=old))

    def _prune(self) -> None:
        """Forget requests and replies older than the duplicate window.

        Runs every ``PRUNE_EVERY`` seconds of network time, so these tables
        hold at most that much traffic; a flood of distinct requests within
        one window is cut at ``MAX_PENDING``.  A request older than the window
        pairs with nothing any more, so forgetting it changes no verdict.
        """
        horizon = self.now - self.dup_window
        self.asked = {k: v for k, v in self.asked.items() if v >= horizon}
        self.answered = {k: v for k, v in self.answered.items() if v[1] >= horizon}
        if len(self.asked) + len(self.answered) > MAX_PENDING:
            self.asked.clear()
            self.answered.clear()
        self._pruned = self.now

    def _duplicate_reply(self, st: IpState, first: bytes, second: bytes, requester: bytes,
                         t: float) -> None:
        st.duplicate_replies += 1
        st.last_duplicate_reply = t
        _fight_pair(st, first, second)
        if self.record_events:
            self.events.append(Change(kind="duplicate_reply", time=t, key=st.key,
                                      mac=second, previous=first, requester=requester))

    # -- reading ----------------------------------------------------------

    def other_ips(self, mac: bytes, key: Key) -> list[Key]:
        """Keys of other IPs this MAC claims (bounded list; the same IP on other VLANs is left out)."""
        return [k for k in self.mac_ips.get(mac, ()) if k[2] != key[2]]

    def __iter__(self) -> Iterator[IpState]:
        return iter(self.ips.values())

    def __len__(self) -> int:
        return len(self.ips)


def _fight_pair(st: IpState, a: bytes, b: bytes) -> None:
    """Remember that ``a`` and ``b`` fought over ``st`` (a flip-flop or a duplicate reply)."""
    pairs = st.fight_pairs
    if pairs is None:
        pairs = st.fight_pairs = {}
    pair = (a, b) if a < b else (b, a)
    n = pairs.get(pair)
    if n is not None:
        pairs[pair] = n + 1
    elif len(pairs) < MAX_FIGHT_PAIRS:
        pairs[pair] = 1
    else:
        st.fight_pairs_overflow = True


class ReferenceTracker(OwnershipTracker):
    """The old tracker with the few read methods the report now uses."""

    max_ips = None

    @property
    def _ips(self) -> dict:
        return {ikey(k): st for k, st in self.ips.items()}

    @property
    def _fulls(self) -> set:
        return set(self._ips)  # every record here is a full one

    def state(self, key):
        return self.ips.get(key)

    def totals(self) -> dict[str, int]:
        ips = list(self.ips.values())
        return {"frames": sum(s.frames for s in ips), "requests": sum(s.requests for s in ips),
                "replies": sum(s.replies for s in ips), "gratuitous": sum(s.gratuitous for s in ips),
                "eth_mismatch": sum(s.eth_mismatch for s in ips)}

    def first_seen(self) -> float | None:
        return min((s.first_seen for s in self.ips.values()), default=None)

    def other_ip_count(self, mac: bytes) -> int:
        return self.mac_ip_counts.get(mac, 0)

    def records(self):
        for st in self.ips.values():
            yield st.key, st
