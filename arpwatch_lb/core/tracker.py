"""The ownership tracker: claims in, per-IP facts and change events out.

Pure and sans-I/O: it never reads a clock or a socket.  Time is the
timestamp of the claims fed to it ("network time"), so a live capture and a
replay of the same frames produce the same state.

Theory of operation, per (VLAN, inner VLAN, IP) key — IPv4 from ARP and IPv6
from Neighbor Discovery alike (a 16-byte address is just another key; see
:func:`arpwatch_lb.core.frames.decode_ndp` for how a solicitation becomes a
request and a solicited advertisement a reply):

* The *owner* is the MAC of the latest claim.  Consecutive claims by the owner
  extend the current *run* (MAC, first, last, frames); a claim by another MAC
  is an *ownership change* that closes the run and opens a new one.
* A change to a MAC that itself claimed the IP no more than ``window`` seconds
  before is a *flip-flop*: two announcers fighting, not a failover (a
  failover moves to a MAC that was silent, or silent for longer than the
  window).
* A *duplicate reply*: non-gratuitous replies from two different MACs for the
  same IP to the same requester (target IP) within ``dup_window`` — and, when
  the requests themselves are visible, answering the same request: no request
  from that requester for that IP between the two replies.  Requests
  (requester IP → asked IP) are remembered for that: a client that re-asks
  every half second across a clean failover gets one answer per request from
  the old owner, then one from the new owner, and that is not two announcers.
  When the request was not seen (a switch delivered only the replies), the
  time window alone decides.  A reply pairs with a request at most
  ``dup_window`` older than itself, so forgetting older requests (the tables
  are pruned by network time) never changes a result.
* Per claimant MAC: frames, first and last seen.  These are folded in when a
  run closes, so the hot path — another claim by the current owner — touches
  only the open run.
* Per IP, which two MACs each flip-flop or duplicate reply was between
  (``fight_pairs``, bounded): policy that knows which MACs belong to one
  machine (:mod:`arpwatch_lb.core.verdicts` with a MAC → node mapping) needs it.
* Finished runs are kept in a bounded list (the last ``max_runs``); all
  counters are exact regardless.  With ``max_marks``, the latest duplicate
  replies (time, the two MACs, the requester) are kept too, in a deque of that
  length.
* Per (IP, claimant MAC), a wire fingerprint
  (:class:`~arpwatch_lb.core.fingerprint.FingerprintTable`, ``fingerprints``):
  requests sent from the IP, requests answered, the shape and cadence of its
  gratuitous frames, and the VRRP adverts seen (:meth:`OwnershipTracker.feed_adverts`).
  Each IP record (compact or full) caches its owner's fingerprint (``fp``), so
  the hot path pays an attribute read and a counter or two; gratuitous frames
  (a few per cent of the traffic) pay a method call.  A compact record's
  fingerprint lives on the record alone (the table finds it there); it joins
  the table when a second MAC claims the IP.  An evicted IP's fingerprints go
  with it.

**Compact state.**  An IP that only ever had one MAC is a :class:`Quiet`
record — owner, first and last claim, three counters — about 200 bytes with
its dict slot and key.  The full :class:`IpState` (claimants, runs, fight
pairs) is built at its first ownership change.  Internally an untagged IP is
keyed by its four address bytes alone, a tagged one by the (VLAN, inner VLAN,
IP) tuple; :attr:`OwnershipTracker.ips` shows every IP as an :class:`IpState`
under its :data:`Key`, whatever its record.

**Bounded state** (``max_ips``).  The table's *entries* are its IPs plus the
claimants and runs that full records remember (so an address sprayed with
ever new MACs weighs what several addresses weigh).  At the end of every
batch, while there are more entries than the cap, the least recently claimed
IP (smallest last-claim network time) is evicted — except IPs in ``protect`` (VIPs, node addresses:
the session's selection, which may change at run time).  An evicted IP's
claim counts stay in the totals (:meth:`OwnershipTracker.totals`); its state
is gone, and a later claim starts it afresh.  Every per-IP table elsewhere
follows the same evictions through :meth:`OwnershipTracker.on_evict`.  The
MAC → other-IPs identity table holds only (MAC, IP) pairs of tracked IPs, so
it shrinks with every eviction.  Per IP at most ``MAX_CLAIMANTS`` MACs keep
their own statistics (later ones are counted, not remembered).

``track`` (a selection of addresses, e.g. ``replay --vip``): IPs outside it
get no record at all; their claims count in the totals, the identity table
and the request/reply tables.

The tracker records facts.  Whether an IP is ``ok``, ``moved`` or
``contested`` is policy and lives in :mod:`arpwatch_lb.core.verdicts`.  When
``record_events`` is true, rare transitions (new claimant, owner change,
flip-flop, duplicate reply, a VRRP split brain) are queued as :class:`Change`
objects for :meth:`OwnershipTracker.drain`, which also names the announcers
whose fingerprints changed since the previous drain (``announcer_identified``
when a claimant's kind is first known or changes).

Two ways in, with the same result: :meth:`OwnershipTracker.feed_all` takes
claims one by one; :meth:`OwnershipTracker.feed_batch` takes a
:class:`ClaimBatch` — a chunk of claims already grouped per IP (by a
vectorized decoder), so that the common case costs one step per IP and chunk
instead of one per claim.  A batch carries no frame lengths, shapes or
VRRP adverts, so it feeds no fingerprints: sessions use it only where
fingerprints are not wanted (the replay session takes the claim-by-claim way).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .announcers import UNKNOWN
from .fingerprint import Announcer, Fingerprint, FingerprintTable
from .frames import Claim, VrrpAdvert

__all__ = ["Change", "ClaimBatch", "ClaimantStats", "IpState", "Key", "OwnershipTracker", "Quiet",
           "Run"]

Key = tuple[int | None, int | None, bytes]
"""(VLAN, inner VLAN, IP address bytes: 4 for IPv4, 16 for IPv6)."""
IKey = Any
"""Internal key: the IPv4 address bytes (untagged) or the :data:`Key` tuple (tagged)."""

DEFAULT_WINDOW = 60.0
DEFAULT_DUP_WINDOW = 1.0
DEFAULT_MAX_RUNS = 64
DEFAULT_MAX_IPS = 50_000
"""The cap ``watch`` and ``probe`` use: about 30 MB of state (README: "Memory")."""
PRUNE_EVERY = 10.0  # s of network time between prunes of the request/reply tables
MAX_PENDING = 1 << 18  # remembered requests + replies before a prune is forced
MAX_IPS_PER_MAC = 16  # "other IPs" listed per MAC (the count stays exact)
MAX_KEYS_PER_MAC = 256  # IPs remembered per MAC to tell a new (IP, MAC) pair from a known one
MAX_FIGHT_PAIRS = 32  # MAC pairs remembered per IP for flip-flops / duplicate replies
MAX_CLAIMANTS = 64  # MACs with their own statistics per IP
EVICT_BATCH = 8  # a rebuild of the eviction order lists 1/8 of the table


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
    """``new_claimant``, ``owner_changed``, ``flip_flop``, ``duplicate_reply``,
    ``announcer_identified`` or ``vrrp_split_brain``."""
    time: float
    key: Key
    mac: bytes
    previous: bytes | None = None
    requester: bytes | None = None
    """For duplicate replies: the requester's IP."""
    announcer: str | None = None
    """For ``announcer_identified``: the kind now named."""
    evidence: str | None = None
    """For ``announcer_identified``: the evidence sentence."""
    previous_announcer: str | None = None
    """For ``announcer_identified``: the kind named before (None: none yet)."""
    vrrp: dict[str, Any] | None = None
    """For ``vrrp_split_brain``: the virtual router (the report's ``vrrp`` object form)."""


class Quiet:
    """The compact record of an IP that only ever had one MAC (see the module docstring).

    Same attribute names as :class:`IpState` for everything the claim loop
    touches; the rest of the read API is derived.
    """

    __slots__ = ("fp", "gratuitous", "owner", "requests", "run_first", "run_frames", "run_last")
    eth_mismatch = 0  # Quiet records with a mismatch are QuietX

    def __init__(self, owner: bytes, first: float, last: float, frames: int = 1,
                 requests: int = 0, gratuitous: int = 0) -> None:
        self.owner = owner
        self.run_first = first
        self.run_last = last
        self.run_frames = frames
        self.requests = requests
        self.gratuitous = gratuitous
        self.fp: Fingerprint | None = None
        """The owner's fingerprint (a cache of ``fingerprints.get(key, owner)``)."""

    def full(self, key: Key, max_runs: int) -> IpState:
        """The same facts as a full :class:`IpState`."""
        return IpState(key, self.owner, self.run_first, self.run_last, self.run_frames,
                       requests=self.requests,
                       gratuitous=self.gratuitous, eth_mismatch=self.eth_mismatch, fp=self.fp)


class QuietX(Quiet):
    """A compact record with Ethernet/ARP sender mismatches (proxy ARP, spoofing)."""

    __slots__ = ("eth_mismatch",)  # type: ignore[assignment]

    def __init__(self, owner: bytes, first: float, last: float, frames: int = 1,
                 requests: int = 0, gratuitous: int = 0, eth_mismatch: int = 0) -> None:
        super().__init__(owner, first, last, frames, requests, gratuitous)
        self.eth_mismatch = eth_mismatch


@dataclass(slots=True, eq=False)
class IpState:
    """Everything known about one (VLAN, inner VLAN, IP)."""

    key: Key
    owner: bytes
    run_first: float
    run_last: float
    run_frames: int = 1
    closed: dict[bytes, ClaimantStats] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    """The latest finished runs, oldest first (at most the tracker's ``max_runs``)."""
    changes: int = 0
    flip_flops: int = 0
    duplicate_replies: int = 0
    requests: int = 0
    gratuitous: int = 0
    eth_mismatch: int = 0
    first_flip_flop: float | None = None
    last_flip_flop: float | None = None
    last_duplicate_reply: float | None = None
    fight_pairs: dict[tuple[bytes, bytes], int] | None = None
    """Which two MACs each flip-flop or duplicate reply was between (sorted pair → count),
    created on the first one; at most ``MAX_FIGHT_PAIRS`` pairs."""
    fight_pairs_overflow: bool = False
    """More distinct pairs fought than were remembered (policy must assume the worst)."""
    duplicate_marks: deque[tuple[float, bytes, bytes, bytes]] | None = None
    """(time, earlier MAC, later MAC, requester IP) of the latest duplicate replies, when the
    tracker keeps them (``max_marks``); created on the first one."""
    widest_answer: tuple[bytes, ...] = ()
    """The most MACs seen answering one request for this IP (chained duplicate replies to
    one requester within ``dup_window``; at most ``MAX_FIGHT_PAIRS``).  Every node
    answering (kube-proxy IPVS without strictARP) shows as three or more MACs here."""
    answer_group: tuple[bytes, float, set[bytes]] | None = None
    """The current chain: (requester IP, time of the request it answers — or of its first
    duplicate reply when the request was not seen —, MACs)."""
    fp: Fingerprint | None = None
    """The owner's fingerprint (a cache of ``fingerprints.get(key, owner)``)."""
    dropped_claimants: int = 0
    """Take-overs by MACs beyond the first ``MAX_CLAIMANTS``, which get no statistics of their
    own (a crowd of spoofed MACs must not grow the state)."""
    dropped_frames: int = 0
    """Their claims (still counted in :attr:`frames`)."""
    dropped_first: float | None = None
    """The earliest first claim among them (still counted in :attr:`first_seen`)."""

    @property
    def claimant_count(self) -> int:
        """Distinct MACs that claimed the IP (late members of a crowd may count twice)."""
        n = len(self.closed) + self.dropped_claimants
        if self.owner not in self.closed and len(self.closed) < MAX_CLAIMANTS:
            n += 1
        return n

    @property
    def replies(self) -> int:
        """Claims that were ARP replies (every claim is a request or a reply)."""
        return self.frames - self.requests

    @property
    def frames(self) -> int:
        """Claims seen for this IP, all MACs."""
        return self.run_frames + self.dropped_frames + sum(c.frames for c in self.closed.values())

    @property
    def first_seen(self) -> float:
        """Time of the first claim."""
        firsts = [self.run_first, *(c.first for c in self.closed.values())]
        if self.dropped_first is not None:
            firsts.append(self.dropped_first)
        return min(firsts)

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


@dataclass(slots=True)
class ClaimBatch:
    """One chunk of claims, grouped per IP by a vectorized decoder (see :meth:`OwnershipTracker.feed_batch`).

    Claims are numbered 0..n-1 in their order; every list is in that order (``groups`` and
    ``mixed`` each by the number of their IP's first claim).
    Replaying the chunk claim by claim through :meth:`OwnershipTracker.feed_all`
    gives the same state — a property the tests check.
    """

    groups: list[tuple[IKey, bytes, float, float, int, int, int, int, int, int, int]] = field(
        default_factory=list)
    """IPs claimed by one MAC only in this chunk: (internal key, MAC, first time, last time,
    claims, requests, gratuitous, Ethernet mismatches, number of the first claim, length of
    its latest non-gratuitous request or 0, non-gratuitous replies)."""
    mixed: list[tuple[IKey, list[tuple[int, float, bytes]], int, int, int]] = field(
        default_factory=list)
    """IPs claimed by several MACs: (internal key, [(number, time, MAC), ...] in order,
    requests, gratuitous, Ethernet mismatches)."""
    asked: list[tuple[Any, float]] = field(default_factory=list)
    """Non-gratuitous requests in order: (request-table key, time)."""
    answered: list[tuple[Any, tuple[bytes, float]]] = field(default_factory=list)
    """Non-gratuitous replies in order: (reply-table key, (MAC, time))."""
    candidates: list[tuple[int, IKey, Any, bytes, float, bytes, float, bytes, float | None]] = field(
        default_factory=list)
    """Replies answered before by another MAC within the duplicate window: (number, internal
    key, reply-table key, previous MAC, previous time, MAC, time, requester IP, time of the
    latest request for it earlier in this chunk or None)."""
    now: float = float("-inf")
    """The latest claim time in the chunk."""
    first: float = float("inf")
    """The earliest claim time in the chunk."""
    claims: int = 0
    """Claims in the chunk, and of them: requests, gratuitous ones, Ethernet/ARP mismatches."""
    requests: int = 0
    gratuitous: int = 0
    mismatches: int = 0
    answers: list[tuple[IKey, bytes, int, int]] = field(default_factory=list)
    """Per (IP, MAC) of the ``mixed`` IPs that sent non-gratuitous requests or replies:
    (internal key, MAC, length of its latest request or 0, replies) — as in ``groups``."""
    answering: list[tuple[IKey, bytes]] = field(default_factory=list)
    """The ``groups`` IPs that sent non-gratuitous replies: (internal key, MAC)."""
    announcements: list[tuple[IKey, bytes, float, int, bytes, bytes | None, int]] = field(
        default_factory=list)
    """Gratuitous claims in order: (internal key, MAC, time, opcode, target MAC, Ethernet
    destination, frame length) — what :meth:`Fingerprint.gratuitous` takes."""
    exact: bool = False
    """The chunk must go claim by claim (:meth:`OwnershipTracker.may_compare_lengths`)."""


def identity_order(pair: tuple[Key, bytes]) -> tuple[int, int, int, bytes, bytes]:
    """A sort key for (IP key, MAC) pairs: VLANs, address family, address, MAC."""
    (vlan, inner, ip), mac = pair
    return (-1 if vlan is None else vlan, -1 if inner is None else inner, len(ip), ip, mac)


def ikey(key: Key) -> IKey:
    """The internal key of a :data:`Key`."""
    return key[2] if key[0] is None and key[1] is None else key


def public_key(ik: IKey) -> Key:
    """The :data:`Key` of an internal key."""
    return (None, None, ik) if ik.__class__ is bytes else ik


def request_key(vlan: int | None, inner: int | None, asked: bytes, requester: bytes) -> Any:
    """Key of the request/reply tables: which IP was asked for, by which requester IP."""
    k = asked + requester
    return k if vlan is None else (vlan, inner, k)


class MacIps:
    """Identity of one MAC that claimed several IPs: the keys it claimed and how many."""

    __slots__ = ("count", "keys")

    def __init__(self, keys: dict[IKey, None], count: int) -> None:
        self.keys = keys
        self.count = count


class OwnershipTracker:
    """Track which MAC owns each (VLAN, IP) from a time-ordered stream of claims."""

    def __init__(self, window: float = DEFAULT_WINDOW, dup_window: float = DEFAULT_DUP_WINDOW,
                 max_runs: int = DEFAULT_MAX_RUNS, record_events: bool = False,
                 max_ips: int | None = None, track: Container[bytes] | None = None,
                 protect: Container[bytes] | None = None, max_marks: int = 0) -> None:
        if window < 0 or dup_window < 0:
            raise ValueError("windows must not be negative")
        if max_ips is not None and max_ips < 1:
            raise ValueError("max_ips must be at least 1 (or None: no cap)")
        self.window = window
        self.dup_window = dup_window
        self.max_runs = max_runs
        self.max_marks = max_marks
        """Duplicate replies remembered per IP with their time and MACs (0: none)."""
        self.record_events = record_events
        self.max_ips = max_ips
        """The cap on tracked IPs, or None."""
        self.track = track
        """Addresses that get a record (None: all)."""
        self.protect = protect
        """Addresses never evicted (VIPs, node IPs); a session may swap it at run time."""
        self._ips: dict[IKey, Quiet | IpState] = {}
        self._macs: dict[bytes, IKey | MacIps] = {}
        """MAC → the one key it claimed, or a :class:`MacIps`."""
        self.events: list[Change] = []
        self.asked: dict[Any, float] = {}
        """Request key (:func:`request_key`) → time of the latest request."""
        self.answered: dict[Any, tuple[bytes, float]] = {}
        """Same key → (MAC, time) of the latest reply."""
        self._pruned = 0.0
        self.now = 0.0
        """Network time: the latest claim's timestamp."""
        self.first_time: float | None = None
        """The earliest claim time seen (the report's ``first_time``)."""
        self._claims = self._requests = self._gratuitous = self._mismatches = 0
        """Every claim ever fed, whatever became of its IP (the report's ``frames`` sums)."""
        self._fulls: set[IKey] = set()
        """Keys whose record is a full :class:`IpState`."""
        self.claimant_pairs = 0
        """(IP key, MAC) claimant pairs seen so far: grows whenever any IP gets a new MAC."""
        self.evictions = 0
        """IPs evicted because the table was full."""
        self._units = 0
        """Claimants and runs remembered by full records: each counts like one IP against the cap."""
        self.max_pending = MAX_PENDING if max_ips is None else min(MAX_PENDING, max(4096, max_ips))
        """Requests + replies remembered before a prune is forced."""
        self._gone = Quiet(b"", 0.0, 0.0, 0)
        """Where the claim loop counts the claims of untracked IPs (read by nobody)."""
        self._gone.fp = Fingerprint()
        self._gone_last: dict[IKey, tuple[float, bytes]] = {}
        """Untracked IPs claimed within the duplicate window: (last claim time, its MAC)."""
        self._gone_ask: dict[tuple[IKey, bytes], int] = {}
        """Their (IP, MAC) latest request lengths (what a reply's length is compared with)."""
        self.fingerprints = FingerprintTable(self._local_fp)
        """Wire fingerprints per (IP key, MAC) and the VRRP routers seen."""
        self._dirty: dict[tuple[Key, bytes], None] = {}
        """Fingerprints to name again at the next drain (``record_events`` only)."""
        self._hooks: list[Callable[[Key], None]] = []
        self._order: list[tuple[IKey, float]] = []  # eviction candidates, least recent last
        self._later: list[tuple[int, bool, bytes, IKey]] | None = None
        """In :meth:`feed_batch`: identity-table changes, applied in claim order at the end."""
        self._cur = 0  # the claim number being accounted (feed_batch)
        self.ips: Mapping[Key, IpState] = _IpTable(self)
        """Every tracked IP as an :class:`IpState` (compact records are expanded on access)."""
        self.mac_ip_counts: Mapping[bytes, int] = _MacCounts(self)
        """MAC → how many (tracked) IPs it claimed."""

    # -- feeding ----------------------------------------------------------

    def feed(self, c: Claim) -> None:
        """Account one claim."""
        self.feed_all((c,))

    def feed_all(self, claims: Iterable[Claim]) -> None:
        """Account every claim of an iterable, in order.

        The hot path: another claim by the current owner costs one dict
        lookup and a few attribute writes, and its fingerprint (cached on the
        IP record) one store for a request or a counter for a reply.
        Everything rarer — gratuitous frames included — is a method call.
        """
        ips = self._ips
        get = ips.get
        now = self.now
        asked = self.asked
        asked_get = asked.get
        answered = self.answered
        answered_get = answered.get
        dup_window = self.dup_window
        track = self.track
        gone = self._gone
        first = self.first_time if self.first_time is not None else float("inf")
        record = self.record_events
        dirty = self._dirty
        nf = nr = ng = nm = 0
        for c in claims:
            t, vlan, inner, op, sha, spa, tha, tpa, src, dst, length = c
            nf += 1
            ik = spa if vlan is None else (vlan, inner, spa)
            st = get(ik)
            if st is None:
                if track is not None and spa not in track:
                    st = gone  # counts nowhere: the IP is outside the selection
                    self._link(sha, ik)
                else:
                    st = ips[ik] = Quiet(sha, t, t)
                    self._new_claimant(ik, sha, t)
            elif sha == st.owner:
                st.run_frames += 1
                st.run_last = t
            else:
                st = self._change(ik, st, sha, t)
            if t > now:
                now = t
            if t < first:
                first = t
            fp = st.fp
            if spa == tpa:  # gratuitous: announces, answers nobody
                st.gratuitous += 1
                ng += 1
                if op & 1:
                    st.requests += 1
                    nr += 1
                fp.gratuitous(t, op, sha, tha, dst, length)  # type: ignore[union-attr]
                if record and st is not gone:
                    dirty[((vlan, inner, spa), sha)] = None
            elif op & 1:  # a request (ARP 1, NDP solicitation 135): odd opcodes ask
                st.requests += 1
                nr += 1
                asked[tpa + spa if vlan is None else (vlan, inner, tpa + spa)] = t
                if record and not fp.ask_len and st is not gone:  # type: ignore[union-attr]
                    dirty[((vlan, inner, spa), sha)] = None
                fp.ask_len = length  # type: ignore[union-attr]
            else:
                rk = spa + tpa if vlan is None else (vlan, inner, spa + tpa)
                prev = answered_get(rk)
                if prev is not None and prev[0] != sha and t - prev[1] <= dup_window:
                    # Two MACs answered this requester within the window: one request, or
                    # a new request in between (see the module docstring)?
                    asked_at = asked_get(rk)
                    if asked_at is None or t - asked_at > dup_window or asked_at <= prev[1]:
                        st = self._duplicate_reply(ik, st, prev[0], sha, tpa, t)
                answered[rk] = (sha, t)
                fp.replies += 1  # type: ignore[union-attr]
                if fp.lencheck and st is not gone:  # type: ignore[union-attr]
                    self._reply_length(fp, (vlan, inner, spa), sha, tpa, length)  # type: ignore[arg-type]
            if st is gone:
                self._gone_last[ik] = (t, sha)
                if op & 1 and spa != tpa:
                    self._gone_ask[(ik, sha)] = length
            if src != sha and src is not None:
                nm += 1
                self._mismatch(ik, st)
        self.now = now
        if nf:
            self.first_time = first
            self._claims += nf
            self._requests += nr
            self._gratuitous += ng
            self._mismatches += nm
        self._end_batch()

    def feed_batch(self, b: ClaimBatch) -> None:
        """Account a :class:`ClaimBatch`: the same result as its claims through :meth:`feed_all`.

        Per IP of the chunk: one step when one MAC claimed it (the common
        case, however many claims); claim by claim when several did.  Then the
        duplicate-reply candidates, then the request/reply tables in bulk.
        Events come out in claim order.
        """
        ips = self._ips
        get = ips.get
        track = self.track
        gone = self._gone
        events = self.events
        record = self.record_events
        tags: list[int] = []
        mixed = b.mixed
        # Identity pairs must be learnt in claim order; the IPs come in order of their first
        # claim, so only IPs with several MACs (claims later than their first) need deferring.
        later = self._later = [] if mixed else None
        mi = 0  # IPs with several MACs go in between, in order of their first claim
        upcoming = mixed[0][1][0][0] if mixed else -1
        plain = upcoming < 0 and track is None and not record  # nothing to defer or tell
        new = object.__new__
        macs = self._macs
        macs_get = macs.get
        new_ips = 0
        for ik, sha, first, last, n, req, grat, mism, idx, ask, nrep in b.groups:
            st = get(ik)
            if plain and not mism:
                if st is None:  # a new IP (an address spray: every one), its first MAC
                    st = ips[ik] = new(Quiet)  # slots set here: cheaper than an __init__ call
                    st.owner, st.run_first, st.run_last = sha, first, last
                    st.fp = fp = Fingerprint()  # kept on the record (see _local_fp)
                    if ask or nrep:
                        fp.ask_len, fp.replies = ask, nrep
                    st.run_frames, st.requests, st.gratuitous = n, req, grat
                    new_ips += 1
                    if macs_get(sha) is None:
                        macs[sha] = ik
                    else:
                        self._pair(sha, ik)
                    continue
                if sha == st.owner:  # the common case: more claims by the owner
                    st.run_frames += n
                    st.run_last = last
                    st.requests += req
                    st.gratuitous += grat
                    if ask or nrep:
                        fp = st.fp
                        if ask:
                            fp.ask_len = ask
                        fp.replies += nrep
                    continue
            if 0 <= upcoming < idx:
                while mi < len(mixed) and mixed[mi][1][0][0] < idx:
                    self._mixed(mixed[mi], tags)
                    mi += 1
                upcoming = mixed[mi][1][0][0] if mi < len(mixed) else -1
            before = len(events)
            self._cur = idx
            if st is None:
                spa = ik if ik.__class__ is bytes else ik[2]
                if track is not None and spa not in track:
                    self._link(sha, ik)  # an IP outside the selection: its identity only
                    self._gone_last[ik] = (last, sha)  # and its latest claim, as feed_all
                    if ask:
                        self._gone_ask[(ik, sha)] = ask
                    continue
                st = ips[ik] = (Quiet(sha, first, last, n, req, grat) if not mism
                                else QuietX(sha, first, last, n, req, grat, mism))
                self._new_claimant(ik, sha, first)
            else:
                if sha == st.owner:
                    st.run_frames += n
                else:
                    st = self._change(ik, st, sha, first)
                    st.run_frames = n
                st.run_last = last
                st.requests += req
                st.gratuitous += grat
                if mism:
                    self._mismatch(ik, st, mism)
            if ask or nrep:  # sha owns the IP now
                self._answers(st.fp, ik, sha, ask, nrep)
            if record and len(events) > before:
                tags += [idx] * (len(events) - before)
        self.claimant_pairs += new_ips
        for item in mixed[mi:]:
            self._mixed(item, tags)
        self._later = None
        if later:  # the identity table learns pairs in claim order, as claim by claim
            later.sort(key=_first)
            for _, add, mac, ik in later:
                if add:
                    self._pair(mac, ik)
                else:
                    self._unpair(mac, ik)
        if b.candidates:
            asked_get = self.asked.get
            dup_window = self.dup_window
            for idx, ik, rk, prev_mac, prev_t, sha, t, requester, asked_in in b.candidates:
                asked_at = asked_in if asked_in is not None else asked_get(rk)
                if asked_at is None or t - asked_at > dup_window or asked_at <= prev_t:
                    st = get(ik)
                    before = len(events)
                    self._duplicate_reply(ik, st if st is not None else gone, prev_mac, sha,
                                          requester, t)
                    if record and len(events) > before:
                        tags += [idx] * (len(events) - before)
        if b.answers or b.announcements:
            self._fingerprint_batch(b)
        if record and tags:
            # Ownership events of a claim come before its duplicate reply: a stable sort by number.
            start = len(events) - len(tags)
            order = sorted(range(len(tags)), key=tags.__getitem__)
            tail = events[start:]
            events[start:] = [tail[i] for i in order]
        self.asked.update(b.asked)
        self.answered.update(b.answered)
        if b.now > self.now:
            self.now = b.now
        if b.claims:
            if self.first_time is None or b.first < self.first_time:
                self.first_time = b.first
            self._claims += b.claims
            self._requests += b.requests
            self._gratuitous += b.gratuitous
            self._mismatches += b.mismatches
        self._end_batch()

    def _fingerprint_batch(self, b: ClaimBatch) -> None:
        """The fingerprint side of :meth:`feed_batch`, after its claims made their records.

        Each (IP, MAC)'s fingerprint gets what :meth:`feed_all` gives it claim by
        claim: its latest request length, its reply count and its announcements
        in order.  (Reply lengths are compared only claim by claim:
        :attr:`ClaimBatch.exact`.)
        """
        record = self.record_events
        dirty = self._dirty
        for ik, mac, ask, nrep in b.answers:
            if ik in self._ips:
                self._answers(self._fp_of(ik, mac), ik, mac, ask, nrep)
            elif ask and self.track is not None:  # an untracked requester: what feed_all keeps
                self._gone_ask[(ik, mac)] = ask
        for ik, mac, t, op, tha, dst, length in b.announcements:
            fp = self._fp_of(ik, mac)
            if fp is not None:
                fp.gratuitous(t, op, mac, tha, dst, length)
                if record:
                    dirty[(public_key(ik), mac)] = None

    def _answers(self, fp: Fingerprint | None, ik: IKey, mac: bytes, ask: int,
                 nrep: int) -> None:
        """A chunk's non-gratuitous requests (the latest one's length) and replies of ``mac``
        for ``ik``, told to its fingerprint (:meth:`feed_batch` off its hot path)."""
        if fp is None:
            return
        if ask:
            if self.record_events and not fp.ask_len:
                self._dirty[(public_key(ik), mac)] = None
            fp.ask_len = ask
        fp.replies += nrep

    def may_compare_lengths(self, pairs: Iterable[tuple[IKey, bytes]],
                            announcing: Container[tuple[IKey, bytes]]) -> bool:
        """Whether a reply of one of these (IP, MAC) ``pairs`` may need its length compared
        with its request's (Cilium's mark): its fingerprint compares lengths now, or its first
        announcement in the chunk is an op=2 broadcast one (``announcing``) and it announced
        nothing else before, so that it may start to."""
        ips_get = self._ips.get
        fps_get = self.fingerprints.fps.get
        for ik, mac in pairs:  # one per answering (IP, MAC): self._fp_of, inline
            st = ips_get(ik)
            fp = (None if st is None else st.fp if st.owner == mac
                  else fps_get((public_key(ik), mac)))
            if fp is not None and fp.lencheck:
                return True
            if (ik, mac) in announcing and (fp is None or fp.only_op2_broadcast()):
                return True
        return False

    def horizons(self, batch_now: float) -> tuple[float, float]:
        """For a chunk whose latest claim is at ``batch_now``: (``lookup``, ``keep``).

        A reply later than ``lookup`` cannot pair with anything in the reply
        table (every entry there is older than ``lookup`` minus the window), so
        it need not be looked up; a request or reply older than ``keep`` would
        be pruned at the end of the chunk anyway, so it need not be inserted.
        """
        now = max(self.now, batch_now)
        keep = now - self.dup_window if now - self._pruned > PRUNE_EVERY else float("-inf")
        return self.now + self.dup_window, keep

    def _mixed(self, item: tuple[IKey, list[tuple[int, float, bytes]], int, int, int],
               tags: list[int]) -> None:
        """An IP claimed by several MACs in a :class:`ClaimBatch`: its claims one by one."""
        ik, claims, req, grat, mism = item
        get = self._ips.get
        events = self.events
        record = self.record_events
        track = self.track
        st = get(ik)
        for idx, t, sha in claims:
            before = len(events)
            self._cur = idx
            if st is None:
                spa = ik if ik.__class__ is bytes else ik[2]
                if track is not None and spa not in track:
                    self._link(sha, ik)
                    self._gone_last[ik] = (t, sha)
                    continue
                st = self._ips[ik] = Quiet(sha, t, t)
                self._new_claimant(ik, sha, t)
            elif sha == st.owner:
                st.run_frames += 1
                st.run_last = t
            else:
                st = self._change(ik, st, sha, t)
            if record and len(events) > before:
                tags += [idx] * (len(events) - before)
        if st is not None:  # (an untracked IP keeps nothing)
            st.requests += req
            st.gratuitous += grat
            if mism:
                self._mismatch(ik, st, mism)

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
        return self.fingerprints.announcer(key, mac, self._claimants(key))

    def announcer_hint(self, key: Key) -> str | None:
        """The IP's announcer hint (every node answers), or None."""
        return self.fingerprints.hint(key, self._claimants(key))

    def _claimants(self, key: Key) -> list[bytes]:
        """The MACs ``key``'s record remembers (owner first; none when it is not tracked)."""
        st = self._ips.get(ikey(key))
        if st is None:
            return []
        if st.__class__ is IpState:
            return [st.owner, *st.closed]  # type: ignore[union-attr]
        return [st.owner]

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
        # In address order: the claim loop and the per-chunk fold touch fingerprints in
        # different orders, and must tell the same events.
        for key, mac in sorted(dirty, key=identity_order):
            fp = table.find(key, mac)
            if fp is None or (fp.kind is None and not table.may_name(key, mac, fp)):
                continue  # nothing that could name an announcer yet: skip the sentence
            a = table.announcer(key, mac, self._claimants(key), self.now)
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
        rk = ikey((vlan, inner, requester))
        rq = self._ips.get(rk)
        if rq is None:  # an untracked requester (``track``): its latest claim, if recent
            gone = self._gone_last.get(rk)
            if gone is None or self.asked.get(request_key(vlan, inner, ip, requester)) != gone[0]:
                return
            ask_len = self._gone_ask.get((rk, gone[1]), 0)
        elif rq.fp is None or self.asked.get(request_key(vlan, inner, ip, requester)) != rq.run_last:
            return
        else:
            ask_len = rq.fp.ask_len
        if ask_len == length:
            fp.same_len += 1
        else:
            fp.other_len += 1
        if self.record_events:
            self._dirty[(key, mac)] = None

    # -- rare transitions ---------------------------------------------------

    def _pair(self, mac: bytes, ik: IKey) -> bool:
        """Remember that ``mac`` claimed ``ik``; True when the pair is new to the identity table."""
        macs = self._macs
        e = macs.get(mac)
        if e is None:
            macs[mac] = ik
        elif e.__class__ is MacIps:
            if ik in e.keys:  # type: ignore[union-attr]
                return False
            e.count += 1  # type: ignore[union-attr]
            if len(e.keys) < MAX_KEYS_PER_MAC:  # type: ignore[union-attr]
                e.keys[ik] = None  # type: ignore[union-attr]
        elif e == ik:
            return False
        else:
            macs[mac] = MacIps({e: None, ik: None}, 2)
        return True

    def _link(self, mac: bytes, ik: IKey) -> None:
        if self._later is None:
            self._pair(mac, ik)
        else:
            self._later.append((self._cur, True, mac, ik))

    def _unlink(self, mac: bytes, ik: IKey) -> None:
        if self._later is None:
            self._unpair(mac, ik)
        else:
            self._later.append((self._cur, False, mac, ik))

    def _unpair(self, mac: bytes, ik: IKey) -> None:
        """Forget that ``mac`` claimed ``ik`` (the IP or the claimant was evicted)."""
        macs = self._macs
        e = macs.get(mac)
        if e is None:
            return
        if e.__class__ is MacIps:
            if ik in e.keys:  # type: ignore[union-attr]
                del e.keys[ik]  # type: ignore[union-attr]
                e.count -= 1  # type: ignore[union-attr]
                if not e.keys:  # type: ignore[union-attr]
                    del macs[mac]
        elif e == ik:
            del macs[mac]

    def _new_claimant(self, ik: IKey, mac: bytes, t: float) -> None:
        key = public_key(ik)
        st = self._ips.get(ik)
        if st is not None:
            # A compact record keeps its only MAC's fingerprint itself (see _local_fp).
            st.fp = self.fingerprints.get(key, mac) if st.__class__ is IpState else Fingerprint()
        self.claimant_pairs += 1
        self._link(mac, ik)
        if self.record_events:
            self._dirty[(key, mac)] = None
            self.events.append(Change(kind="new_claimant", time=t, key=key, mac=mac))

    def _fp_of(self, ik: IKey, mac: bytes) -> Fingerprint | None:
        """The fingerprint of ``mac`` for the tracked IP ``ik``, if any (by internal key)."""
        st = self._ips.get(ik)
        if st is None:
            return None
        if st.owner == mac:
            return st.fp
        return self.fingerprints.fps.get((public_key(ik), mac))

    def _local_fp(self, key: Key, mac: bytes) -> Fingerprint | None:
        """The fingerprint a compact record keeps for its only MAC (the table's ``local``)."""
        st = self._ips.get(ikey(key))
        if st is None or st.__class__ is IpState or st.owner != mac:
            return None
        return st.fp

    def _full(self, ik: IKey, st: Quiet | IpState) -> IpState:
        """The record of ``ik`` as a full :class:`IpState` (built from a compact one)."""
        if st.__class__ is IpState:
            return st  # type: ignore[return-value]
        full = st.full(public_key(ik), self.max_runs)  # type: ignore[union-attr]
        if full.fp is not None:  # the fingerprint moves to the table with the second MAC
            self.fingerprints.fps[full.key, full.owner] = full.fp
        self._ips[ik] = full
        self._fulls.add(ik)
        return full

    def _change(self, ik: IKey, st: Quiet | IpState, mac: bytes, t: float) -> IpState:
        st = self._full(ik, st)
        old = st.owner
        closed = st.closed
        prev = closed.get(old)
        if prev is not None:
            prev.frames += st.run_frames
            prev.last = st.run_last
            prev.runs += 1
        elif len(closed) < MAX_CLAIMANTS:
            closed[old] = ClaimantStats(st.run_frames, st.run_first, st.run_last, 1)
            self._units += 1
        else:  # a crowd of MACs: the late ones are counted, not remembered
            st.dropped_frames += st.run_frames
            if st.dropped_first is None or st.run_first < st.dropped_first:
                st.dropped_first = st.run_first
            self._unlink(old, ik)
            self.fingerprints.fps.pop((st.key, old), None)  # nor fingerprinted
        runs = st.runs
        runs.append(Run(old, st.run_first, st.run_last, st.run_frames))
        if len(runs) > self.max_runs:
            del runs[0]
        else:
            self._units += 1
        st.changes += 1
        returning = closed.get(mac)
        flip = returning is not None and t - returning.last <= self.window
        if returning is None:
            if len(closed) >= MAX_CLAIMANTS:
                st.dropped_claimants += 1
            self._new_claimant(ik, mac, t)
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
        return st

    def _mismatch(self, ik: IKey, st: Quiet | IpState, n: int = 1) -> None:
        """Count Ethernet/ARP sender mismatches (a compact record grows a counter for them)."""
        if st.__class__ is Quiet:
            if st is self._gone:
                return
            fp = st.fp
            st = self._ips[ik] = QuietX(st.owner, st.run_first, st.run_last, st.run_frames,
                                       st.requests, st.gratuitous)
            st.fp = fp
        st.eth_mismatch += n  # type: ignore[misc]

    def _duplicate_reply(self, ik: IKey, st: Quiet | IpState, first: bytes, second: bytes,
                         requester: bytes, t: float) -> Quiet | IpState:
        if st is self._gone:  # an untracked IP: nothing to record it on
            return st
        st = self._full(ik, st)
        st.duplicate_replies += 1
        st.last_duplicate_reply = t
        _fight_pair(st, first, second)
        if self.max_marks:
            if st.duplicate_marks is None:
                st.duplicate_marks = deque(maxlen=self.max_marks)
            st.duplicate_marks.append((t, first, second, requester))
        # One request's answers: the same request (its time, when it was seen), else replies
        # within the window of the group's first duplicate.
        vlan, inner, ip = st.key
        asked_at = self.asked.get(request_key(vlan, inner, ip, requester))
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
            for mac in self._claimants(st.key):
                self._dirty[(st.key, mac)] = None  # "every node answers" may name them all
            self.events.append(Change(kind="duplicate_reply", time=t, key=st.key,
                                      mac=second, previous=first, requester=requester))
        return st

    # -- housekeeping -------------------------------------------------------

    def _end_batch(self) -> None:
        if (self.now - self._pruned > PRUNE_EVERY
                or len(self.asked) + len(self.answered) > self.max_pending):
            self._prune()
        if self.max_ips is not None and len(self._ips) + self._units > self.max_ips:
            self._evict_down(self.max_ips)

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
        if self._gone_last:  # an untracked IP's claims older than the window can name nothing
            self._gone_last = {k: v for k, v in self._gone_last.items() if v[0] >= horizon}
            self._gone_ask = {k: v for k, v in self._gone_ask.items() if k[0] in self._gone_last}
        if len(self.asked) + len(self.answered) > self.max_pending:
            self.asked.clear()
            self.answered.clear()
        self._pruned = self.now

    def protected(self, key: Key) -> bool:
        """Whether ``key`` is never evicted (its address is in :attr:`protect`)."""
        return self.protect is not None and key[2] in self.protect

    def _evict_down(self, cap: int) -> None:
        """Evict the least recently claimed unprotected IPs until the table's entries fit ``cap``.

        Entries: one per IP, plus one per claimant and per run a full record
        remembers — so a spray that reuses addresses with new MACs is bounded
        in memory like one of new addresses.

        The order is listed for an eighth of the table at a time (a sort by
        last claim); an IP claimed since it was listed is skipped, so the IP
        evicted is always the least recently claimed one.
        """
        ips = self._ips
        protect = self.protect
        while len(ips) + self._units > cap:
            if not self._order:
                self._list_order(max(len(ips) + self._units - cap, cap // EVICT_BATCH))
                if not self._order:
                    return  # everything left is protected
            ik, last = self._order.pop()
            st = ips.get(ik)
            if st is None or st.run_last != last:
                continue
            if protect is not None and (ik if ik.__class__ is bytes else ik[2]) in protect:
                continue
            self._evict(ik, st)

    def _list_order(self, k: int) -> None:
        keys = list(self._ips)
        lasts = [st.run_last for st in self._ips.values()]
        protect = self.protect
        out = []
        for i in sorted(range(len(keys)), key=lasts.__getitem__):
            ik = keys[i]
            if protect is not None and (ik if ik.__class__ is bytes else ik[2]) in protect:
                continue
            out.append((ik, lasts[i]))
            if len(out) >= k:
                break
        out.reverse()
        self._order = out

    def _evict(self, ik: IKey, st: Quiet | IpState) -> None:
        del self._ips[ik]
        key = public_key(ik)
        if st.__class__ is IpState:
            self._fulls.discard(ik)
            self._units -= len(st.closed) + len(st.runs)  # type: ignore[union-attr]
            macs = {st.owner, *st.closed}  # type: ignore[union-attr]
            for mac in macs:
                self._unpair(mac, ik)
        else:
            macs = {st.owner}
            self._unpair(st.owner, ik)
        self.fingerprints.evict(key, macs)  # its fingerprints go with it
        self.evictions += 1
        if self._hooks:
            for hook in self._hooks:
                hook(key)

    def on_evict(self, hook: Callable[[Key], None]) -> None:
        """Call ``hook(key)`` whenever an IP is evicted, so that another per-IP table drops it too.

        A table keyed by :data:`Key` (or by (Key, anything)) that adds entries
        only for keys the tracker holds (``key in tracker.ips``) and deletes
        them in this hook is bounded by the same cap and keeps the same IPs
        (VIPs and node IPs are never evicted).
        """
        self._hooks.append(hook)

    # -- reading ----------------------------------------------------------

    def records(self) -> Iterator[tuple[Key, Quiet | IpState]]:
        """(key, record) of every tracked IP; a record is a :class:`Quiet` or an :class:`IpState`."""
        ips = self._ips
        for ik in list(ips):
            st = ips.get(ik)
            if st is not None:
                yield public_key(ik), st

    def state(self, key: Key) -> IpState | None:
        """The :class:`IpState` of ``key`` (a copy for a compact record), or None."""
        st = self._ips.get(ikey(key))
        if st is None:
            return None
        if st.__class__ is IpState:
            return st  # type: ignore[return-value]
        return st.full(key, self.max_runs)  # type: ignore[union-attr]

    def first_seen(self) -> float | None:
        """The earliest claim time seen (tracked, evicted or untracked IPs), or None."""
        return self.first_time

    def totals(self) -> dict[str, int]:
        """Claims, requests, replies, gratuitous claims and mismatches of every IP ever seen."""
        return {"frames": self._claims, "requests": self._requests,
                "replies": self._claims - self._requests, "gratuitous": self._gratuitous,
                "eth_mismatch": self._mismatches}

    def table(self) -> dict[str, Any]:
        """The report's ``table`` object: tracked IPs and MACs, the cap, evictions."""
        return {"ips": len(self._ips), "entries": len(self._ips) + self._units,
                "macs": len(self._macs), "max_ips": self.max_ips, "evictions": self.evictions}

    def other_ips(self, mac: bytes, key: Key) -> list[Key]:
        """Keys of other IPs this MAC claims (bounded list; the same IP on other VLANs is left out)."""
        e = self._macs.get(mac)
        if e is None:
            return []
        keys = list(e.keys)[:MAX_IPS_PER_MAC] if e.__class__ is MacIps else [e]  # type: ignore[union-attr]
        return [k for k in map(public_key, keys) if k[2] != key[2]]

    def other_ip_count(self, mac: bytes) -> int:
        """How many IPs (counting the same IP on two VLANs twice) ``mac`` claimed, 0 if unknown."""
        e = self._macs.get(mac)
        if e is None:
            return 0
        return e.count if e.__class__ is MacIps else 1  # type: ignore[union-attr]

    def __iter__(self) -> Iterator[IpState]:
        return iter(self.ips.values())

    def __len__(self) -> int:
        return len(self._ips)


class _IpTable(Mapping[Key, IpState]):
    """The tracker's IPs by :data:`Key`, each as an :class:`IpState`."""

    def __init__(self, tracker: OwnershipTracker) -> None:
        self._t = tracker

    def __getitem__(self, key: Key) -> IpState:
        st = self._t.state(key)
        if st is None:
            raise KeyError(key)
        return st

    def get(self, key: Key, default: Any = None) -> Any:
        st = self._t.state(key)
        return default if st is None else st

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and len(key) == 3 and ikey(key) in self._t._ips  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Key]:
        return map(public_key, list(self._t._ips))

    def __len__(self) -> int:
        return len(self._t._ips)

    def values(self) -> Any:
        max_runs = self._t.max_runs
        return [st if st.__class__ is IpState else st.full(key, max_runs)  # type: ignore[union-attr]
                for key, st in self._t.records()]


class _MacCounts(Mapping[bytes, int]):
    """MAC → number of IPs it claimed, for the MACs the tracker knows."""

    def __init__(self, tracker: OwnershipTracker) -> None:
        self._t = tracker

    def __getitem__(self, mac: bytes) -> int:
        n = self._t.other_ip_count(mac)
        if not n:
            raise KeyError(mac)
        return n

    def __iter__(self) -> Iterator[bytes]:
        return iter(list(self._t._macs))

    def __len__(self) -> int:
        return len(self._t._macs)


def _first(x: tuple[int, bool, bytes, IKey]) -> int:
    return x[0]


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
