"""The ownership tracker as it was before compact records and bounded tables: every IP a full
``IpState`` from its first claim, nothing ever evicted.  Tests compare the real tracker's
reports with this one's (tests/test_tracker_bounded.py).  Test code only."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from arpwatch_lb.core.announcers import UNKNOWN
from arpwatch_lb.core.fingerprint import Announcer, Fingerprint, FingerprintTable
from arpwatch_lb.core.frames import Claim, VrrpAdvert
from arpwatch_lb.core.tracker import Change, ClaimantStats, IpState, Run, identity_order, ikey

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
                 max_runs: int = DEFAULT_MAX_RUNS, record_events: bool = False,
                 max_marks: int = 0) -> None:
        if window < 0 or dup_window < 0:
            raise ValueError("windows must not be negative")
        self.window = window
        self.dup_window = dup_window
        self.max_runs = max_runs
        self.max_marks = max_marks
        """Duplicate replies remembered per IP with their time and MACs (0: none)."""
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
        self.fingerprints = FingerprintTable()
        """Wire fingerprints per (IP key, MAC) and the VRRP routers seen."""
        self._dirty: dict[tuple[Key, bytes], None] = {}
        """Fingerprints to name again at the next drain (``record_events`` only)."""

    # -- feeding ----------------------------------------------------------

    def feed(self, c: Claim) -> None:
        """Account one claim."""
        self.feed_all((c,))

    def feed_all(self, claims: Iterable[Claim]) -> None:
        """Account every claim of an iterable, in order.

        The hot path: another claim by the current owner costs one dict
        lookup and two attribute writes, and its fingerprint (cached on the IP
        state) one store for a request or a counter for a reply.  Everything
        rarer — gratuitous frames included — is a method call.
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
        record = self.record_events
        dirty = self._dirty
        for c in claims:
            t, vlan, inner, op, sha, spa, tha, tpa, src, dst, length = c
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
            fp = st.fp
            if spa == tpa:  # gratuitous: announces, answers nobody
                st.gratuitous += 1
                if op & 1:
                    st.requests += 1
                fp.gratuitous(t, op, sha, tha, dst, length)
                if record:
                    dirty[(key, sha)] = None
            elif op & 1:  # a request (ARP 1, NDP solicitation 135): odd opcodes ask
                st.requests += 1
                asked[(vlan, inner, tpa, spa)] = t
                if record and not fp.ask_len:
                    dirty[(key, sha)] = None
                fp.ask_len = length
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
                fp.replies += 1
                if fp.lencheck:
                    self._reply_length(fp, key, sha, tpa, length)
            if src != sha and src is not None:
                st.eth_mismatch += 1
        self.now = now
        if now - self._pruned > PRUNE_EVERY or len(asked) + len(answered) > MAX_PENDING:
            self._prune()

    def feed_adverts(self, adverts: Iterable[VrrpAdvert]) -> None:
        """Account VRRP advertisements (the one way VRRP facts reach the core).

        Sources hand them over after the claims of the same batch.  They do
        not move network time (``now`` follows the claims).
        """
        table = self.fingerprints
        vrrp = table.vrrp
        for a in adverts:
            started = vrrp.feed(a)
            if not self.record_events:
                continue
            if a.src_mac is not None:
                for ip in a.addresses:
                    key = (a.vlan, a.inner_vlan, ip)
                    if table.find(key, a.src_mac) is not None:
                        self._dirty[(key, a.src_mac)] = None
            if started is not None:
                ip = started.addresses[0] if started.addresses else a.src_ip
                self.events.append(Change(kind="vrrp_split_brain", time=a.time,
                                          key=(a.vlan, a.inner_vlan, ip), mac=a.src_mac or b"",
                                          vrrp=started.doc()))

    def announcer(self, key: Key, mac: bytes) -> Announcer:
        """The announcer of ``mac``'s claims of ``key``, named from its frames."""
        return self.fingerprints.announcer(key, mac, self._macs(key))

    def announcer_hint(self, key: Key) -> str | None:
        """The IP's announcer hint (every node answers), or None."""
        return self.fingerprints.hint(key, self._macs(key))

    def _macs(self, key: Key) -> list[bytes]:
        st = self.ips.get(key)
        return [] if st is None else [st.owner, *st.closed]

    def drain(self) -> list[Change]:
        """Return and forget the queued change events (naming announcers first)."""
        if self._dirty:
            self._identify()
        out, self.events = self.events, []
        return out

    def _identify(self) -> None:
        """``announcer_identified`` for each fingerprint touched whose kind changed."""
        dirty, self._dirty = self._dirty, {}
        table = self.fingerprints
        for key, mac in sorted(dirty, key=identity_order):
            fp = table.find(key, mac)
            if fp is None or (fp.kind is None and not table.may_name(key, mac, fp)):
                continue  # nothing that could name an announcer yet: skip the sentence
            a = table.announcer(key, mac, self._macs(key), self.now)
            if fp.settling(self.now):  # a burst still open: look again at the next drain
                self._dirty[(key, mac)] = None
            if a.kind == (fp.kind or UNKNOWN):
                continue
            previous, fp.kind = fp.kind, a.kind
            self.events.append(Change(kind="announcer_identified", time=self.now, key=key,
                                      mac=mac, announcer=a.kind, evidence=a.evidence,
                                      previous_announcer=previous))

    def _reply_length(self, fp: Fingerprint, key: Key, mac: bytes, requester: bytes,
                      length: int) -> None:
        """Compare a reply's length with the request it answers (Cilium's mark).

        The requester's fingerprint keeps the length of its latest request;
        that is the request answered when the latest claim of the requester's
        IP is the request for this IP (same timestamp in ``asked``).
        Otherwise — it claimed anything since — there is no evidence.
        """
        vlan, inner, ip = key
        rq = self.ips.get((vlan, inner, requester))
        if rq is None or rq.fp is None or self.asked.get((vlan, inner, ip, requester)) != rq.run_last:
            return
        if rq.fp.ask_len == length:
            fp.same_len += 1
        else:
            fp.other_len += 1
        if self.record_events:
            self._dirty[(key, mac)] = None

    def _new_claimant(self, st: IpState, mac: bytes, t: float) -> None:
        st.fp = self.fingerprints.get(st.key, mac)
        if self.record_events:
            self._dirty[(st.key, mac)] = None
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
        else:
            st.fp = self.fingerprints.get(st.key, mac)
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
        if self.max_marks:
            if st.duplicate_marks is None:
                st.duplicate_marks = deque(maxlen=self.max_marks)
            st.duplicate_marks.append((t, first, second, requester))
        # One request's answers: the same request (its time, when it was seen), else replies
        # within the window of the group's first duplicate.
        asked_at = self.asked.get((*st.key, requester))
        group = st.answer_group
        if group is not None and group[0] == requester and first in group[2] and (
                group[1] == asked_at if asked_at is not None else t - group[1] <= self.dup_window):
            if len(group[2]) < MAX_FIGHT_PAIRS:
                group[2].add(second)
        else:
            group = st.answer_group = (requester, asked_at if asked_at is not None else t,
                                       {first, second})
        if len(group[2]) > len(st.widest_answer):
            st.widest_answer = tuple(sorted(group[2]))
        self.fingerprints.answered_together(st.key, requester, first, second, t, self.dup_window)
        if self.record_events:
            for mac in self._macs(st.key):
                self._dirty[(st.key, mac)] = None  # "every node answers" may name them all
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
