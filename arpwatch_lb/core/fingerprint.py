"""Wire fingerprints: which software makes a MAC claim an IP, from its frames alone.

Pure and sans-I/O, like the tracker that feeds it: time comes from the
frames, so a replay and a live capture of the same frames name the same
announcers.  The vocabulary is :mod:`arpwatch_lb.core.announcers`.

Theory of operation.  Per (IP key, claimant MAC) a :class:`Fingerprint`
keeps a few counters (requests the MAC sent *from* the IP, requests it
answered, how long its replies were against the request) and, created only
once the MAC announces the IP a second time, an :class:`Announcements` record
of its gratuitous frames (the first announcement is two fields of the
fingerprint: most addresses announce once or never).  Both are O(1) in
memory: counters and a few last timestamps, never a list of frames.
Fingerprints live in one :class:`FingerprintTable` (``table.fps[key, mac]``),
except that of an IP's only MAC, which the tracker keeps on the IP's compact
record (``table.local`` finds it); :meth:`FingerprintTable.evict` drops an
IP's fingerprints.

Announcements are grouped into *ticks*: frames closer than ``TICK_GAP``
seconds.  A tick of one frame is a *single*; op=1 then op=2, both with the
target MAC broadcast, a *pair*; three or more op=1 (target MAC broadcast) —
or three or more unsolicited NAs — a *burst* (up to ``BURST_MAX``: more is
a storm, no announcer's shape).  The
shapes, from the field notes (shared/docs/field-notes.md, "Who sends what"):

* **kube-vip** — singles every ``vip_arpRate`` (default 3 s, at least
  0.5 s), opcodes alternating process-wide between op=2 with the target MAC
  = its own MAC and op=1 with the target MAC broadcast.  Named after three
  singles: two alternations at least 0.45 s apart, or two equal gaps (±15 %)
  with either the own-MAC op=2 in them or a period of about 3 s (with an
  even number of VIPs every VIP keeps one opcode).
* **MetalLB** — pairs, 1.1 s apart for 5 s after each reconcile.  Named after
  two pairs 0.9–1.4 s apart.
* **keepalived** — a burst (5 op=1 back-to-back, 5 more after
  ``garp_master_delay``, 5 s); or the MAC sends VRRP advertisements that
  list the IP; or the MAC is a VRRP virtual MAC ``00:00:5e:00:01:<VRID>``
  (``use_vmac``).  One burst, one advert or one frame from a virtual MAC.
* **Cilium** — one op=2 with the target MAC broadcast per take-over and then
  silence (no two announcements within ``CILIUM_QUIET`` s), and its BPF
  program answers a request with a reply of the *same length* (the request
  rewritten in place, padding kept).  Named with its announcement plus one
  such answered request, and no reply of another length.
* **kernel** — the MAC sends ARP requests *from* the IP (a host resolving
  its neighbours from its own address) and announces nothing, or only
  RFC 5227-style announcements (op=1, target MAC zero); or the IP is one
  for which ``EVERY_NODE`` or more MACs answered one request while nobody
  announced it (every node's kernel answers: kube-proxy IPVS without
  ``strictARP``), which also gives the IP a hint.

**IPv6 (Neighbor Discovery).**  An unsolicited Neighbor Advertisement
(S=0, so the decoder makes it gratuitous: see
:func:`arpwatch_lb.core.frames.decode_ndp`) with O=1 to all nodes (Ethernet
33:33:00:00:00:01, or unknown in a cooked capture) is shape ``NA_UNSOL``;
any other gratuitous NDP frame is ``NDP_OTHER``.  Every announcer below sends
the same ``NA_UNSOL`` frame (target link-layer option, hop limit 255), so
only cadence, bursts and the R flag tell them apart — ticks, singles and
bursts are folded exactly as for ARP (there are no NDP pairs).  Read from
their sources:

* **MetalLB** (``internal/layer2/ndp.go``, ``announcer.go``) — one NA
  (R=0 S=0 O=1, from the link-local address to ff02::1) at once, then one
  per tick of its 1.1 s ticker until 5 s after the last reconcile (about 5
  singles, then silence; a status fight keeps the window open).  Named
  after two gaps of ``ND_TICKER`` between singles, no R flag.  Its speaker
  answers solicitations itself with S=1 O=0 (the tracker counts those as
  answered requests; the O flag of answers is not kept).
* **kube-vip** (``pkg/vip/ndp.go``, ``pkg/arp/arp.go``) — the same NA
  (the same mdlayher/ndp code), one per VIP per ``vip_arpRate`` tick while
  leader; the ARP opcode alternation has no NDP counterpart.  Named after
  three singles with a steady period of about 3 s (the default), no R
  flag.  The VIP is bound, so the kernel answers solicitations (S=1 O=1).
* **keepalived** (``vrrp_ndisc.c``) — ``garp_master_repeat`` (5) NAs
  back-to-back (``vrrp_gna_interval`` 0), the same again after
  ``garp_master_delay`` (5 s); O=1, R=1 when the interface forwards, sent
  from the VIP itself.  Named after one burst (VRRPv3 over IPv6 is not
  decoded, so no advert names it).
* **kernel** (``net/ipv6/ndisc.c``, ``addrconf.c``) — one NA per address
  (O=1, R=forwarding) on ``NETDEV_NOTIFY_PEERS``, and with ``ndisc_notify``
  on link up, address change and DAD completion; it defends an address
  against a DAD probe with one NA to all nodes too.  None at a cadence.  As
  for ARP the kernel is named from Neighbor Solicitations the MAC sends
  *from* the address (a host resolving its neighbours), with no
  announcements or only such event-driven NAs.
* **Cilium** — IPv4 only in the versions described; never named for IPv6.

Look-alikes named by their defaults, said here once: kube-vip with
``vip_arpRate`` set near 1100 ms, or keepalived with ``vrrp_gna_interval``
near 1.1 s and the forwarding flag off, would be named MetalLB; MetalLB's
window and kube-vip's ticks differ in nothing else on the wire (the IPv6
source — link-local for MetalLB and kube-vip, the VIP for keepalived and the
kernel — is not kept in a claim).  A single NA is the kernel's, a
keepalived burst cut short, or any announcer's first frame: never named.

Never a guess: without one of these the kind is ``unknown``, with a sentence
saying what was seen.  A MAC that matches two shapes (two announcers on one
node) gets the more specific kind in this order — keepalived by VRRP,
kube-vip, MetalLB, keepalived by burst, Cilium — and the sentence names the
other one.  Replies alone never name the kernel: MetalLB's speaker and
Cilium answer requests too, and their announcements may have been before
the capture started.

**VRRP.**  :class:`VrrpTable` keeps per (VLAN, VRID) the routers that
advertise it (source IP, MAC, priority, interval, addresses).  Only the
MASTER advertises, so consecutive adverts of a VRID come from one router;
a *hand-over* is an advert from another router than the previous advert's,
while that one had not resigned (priority 0) and had advertised within the
master-down interval (three intervals, plus ``TAKEOVER_SLACK``).  A
preempting MASTER makes one hand-over; a failover after a resignation or a
silence makes none.  A second hand-over within ``SPLIT_SWITCHES`` intervals
of the first means two routers keep advertising: a **split brain** (both
think they are MASTER).  Two MASTERs that cannot hear each other alternate
(A B A B), and two keepalived that drop each other's adverts (different
passwords) interleave in runs — each resets its own advert timer on every
packet it reads, so the lab shows A A A B B B A — both give hand-overs
every few seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator
from typing import Any, NamedTuple

from .addresses import format_ip, format_mac
from .announcers import CILIUM, KEEPALIVED, KERNEL, KUBE_VIP, METALLB, UNKNOWN
from .frames import (
    ALL_NODES_MAC,
    NA_OVERRIDE,
    NA_ROUTER,
    NA_SOLICITED,
    VRRP_MAC_PREFIX,
    VrrpAdvert,
)

__all__ = ["Announcements", "Announcer", "Fingerprint", "FingerprintTable", "VrrpGroup",
           "VrrpSource", "VrrpTable"]

Key = tuple[int | None, int | None, bytes]
"""(VLAN, inner VLAN, IPv4 or IPv6 address bytes), as in :mod:`arpwatch_lb.core.tracker`."""

TICK_GAP = 0.1  # s: announcements closer than this are one tick (a pair, a burst)
PAIR_CADENCE = (0.9, 1.4)  # s between two MetalLB pairs (its 1.1 s ticker)
BURST_MIN = 3  # op=1 announcements in one tick that make a keepalived burst ...
BURST_MAX = 16  # ... and at most this many (garp_master_repeat, default 5): more is a storm
BURST_REPEAT = (3.0, 8.0)  # s between keepalived's two bursts (garp_master_delay, 5 s)
ND_TICKER = (1.02, 1.25)  # s between two of MetalLB's NDP singles (its 1.1 s ticker)
MIN_RATE = 0.45  # s: kube-vip's shortest period (vip_arpRate 500 ms), with slack
STEADY = 0.15  # two gaps within this fraction of each other make a steady period
DEFAULT_PERIOD = (2.7, 3.3)  # s: kube-vip's default period (vip_arpRate 3000 ms)
CILIUM_QUIET = 5.0  # s: Cilium announces once per take-over
EVERY_NODE = 3  # MACs answering one request that make the "every node answers" hint
MAX_SHARED = 64  # MACs remembered answering one request (forged replies must not grow it)
TAKEOVER_SLACK = 1.0  # s beyond three advert intervals (VRRP's master-down interval, skew < 1 s)
SPLIT_SWITCHES = 10  # advert intervals within which a second hand-over makes a split brain
MAX_VRRP_GROUPS = 1024  # (VLAN, VRID) pairs remembered; later ones are counted only
MAX_VRRP_SOURCES = 8  # routers remembered per VRID

BROADCAST = b"\xff" * 6
ZERO_MAC = b"\x00" * 6

# What one announcement looks like (opcode, target MAC).
REQ_BCAST = 1  # op=1, target MAC broadcast: MetalLB, keepalived, kube-vip's odd ticks
REP_BCAST = 2  # op=2, target MAC broadcast: MetalLB, Cilium
REP_OWN = 3  # op=2, target MAC = the sender's own MAC: kube-vip's even ticks
REQ_ZERO = 4  # op=1, target MAC zero: RFC 5227 announcements, the kernel's arp_notify
OTHER = 5
NA_UNSOL = 6  # unsolicited NA, S=0 O=1, to all nodes: MetalLB, kube-vip, keepalived, the kernel
NDP_OTHER = 7  # any other gratuitous NDP (O=0, another destination, an NS from its target)
_SHAPE_WORDS = {REQ_BCAST: "op1 (target MAC broadcast)", REP_BCAST: "op2 (target MAC broadcast)",
                REP_OWN: "op2 (target MAC = own MAC)", REQ_ZERO: "op1 (target MAC zero)",
                OTHER: "of another shape", NA_UNSOL: "unsolicited NA (O=1) to all-nodes",
                NDP_OTHER: "NDP of another shape"}
_NA_SO = NA_SOLICITED | NA_OVERRIDE
_UNSOL = "unsolicited NAs (O=1) to all-nodes"

HINT_EVERY_NODE = "every node answers — kube-proxy IPVS without strictARP?"
ASKS = "sends ARP requests from this address: a host's own address"
ASKS_NDP = "sends neighbor solicitations from this address: a host's own address"
ORDER = (KEEPALIVED, KUBE_VIP, METALLB, CILIUM, KERNEL)


class Announcer(NamedTuple):
    """What the frames say about one claimant."""

    kind: str
    """One of :data:`arpwatch_lb.core.announcers.WIRE_KINDS`."""
    evidence: str
    """A sentence a person can check against the capture."""


def _s(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class Announcements:
    """The gratuitous frames one MAC sent for one IP, folded into ticks (O(1) state)."""

    __slots__ = ("alternations", "burst_max", "burst_repeats", "burst_t", "bursts", "codes",
                 "first", "frames", "last", "min_gap", "mixed", "nd_cadence", "nd_gap",
                 "pair_cadence", "pair_gap", "pair_t", "pairs", "period", "routers", "short",
                 "single_code", "single_other", "single_own", "single_t", "singles", "steady",
                 "steady_period", "tick_all_req", "tick_first", "tick_last", "tick_n", "tick_t")

    def __init__(self) -> None:
        self.frames = 0
        self.codes = [0, 0, 0, 0, 0, 0, 0, 0]
        """Announcements per shape code (index 1-7)."""
        self.routers = 0
        """Advertisements with the Router flag (R=1: the sender forwards)."""
        self.short = 0
        """Frames shorter than 60 bytes (not padded: sent from this host, or no padding)."""
        self.first = self.last = 0.0
        self.tick_t = 0.0
        self.tick_n = 0
        self.tick_first = self.tick_last = 0
        self.tick_all_req = True
        """Every frame of the open tick has one burstable shape (op1 broadcast, or unsolicited
        NA)."""
        self.singles = self.pairs = self.bursts = self.mixed = 0
        self.single_own = 0
        """Singles that were op=2 with the target MAC = own MAC."""
        self.single_other = 0
        """Singles of neither kube-vip shape (op=2 own MAC, op=1 broadcast)."""
        self.min_gap: float | None = None
        """Smallest gap between two ticks."""
        self.single_t: float | None = None
        self.single_code = 0
        self.period: float | None = None
        """Gap between the last two singles."""
        self.steady = 0
        """Singles whose gap to the previous single matched the gap before it."""
        self.steady_period = 0.0
        self.alternations = 0
        """Consecutive singles alternating op=2 (own MAC) / op=1 (broadcast), >= MIN_RATE apart."""
        self.pair_t: float | None = None
        self.pair_cadence = 0
        self.pair_gap = 0.0
        self.nd_cadence = 0
        """Consecutive unsolicited-NA singles ``ND_TICKER`` apart (MetalLB's 1.1 s ticker)."""
        self.nd_gap = 0.0
        self.burst_t: float | None = None
        self.burst_max = 0
        self.burst_repeats = 0

    def add(self, t: float, code: int, short: bool) -> None:
        """One announcement at network time ``t`` with shape ``code``."""
        self.frames += 1
        self.codes[code] += 1
        if short:
            self.short += 1
        if self.tick_n and t - self.last <= TICK_GAP:
            self.tick_n += 1
            self.tick_last = code
            self.tick_all_req = self.tick_all_req and code == self.tick_first
        else:
            if self.tick_n:
                gap = t - self.tick_t
                if self.min_gap is None or gap < self.min_gap:
                    self.min_gap = gap
                self._close()
            else:
                self.first = t
            self.tick_t, self.tick_n = t, 1
            self.tick_first = self.tick_last = code
            self.tick_all_req = code in (REQ_BCAST, NA_UNSOL)
        self.last = t

    def _close(self) -> None:
        """Fold the open tick into the counters."""
        n, t0 = self.tick_n, self.tick_t
        if n == 1:
            code = self.tick_first
            if self.single_t is not None:
                gap = t0 - self.single_t
                if self.period is not None and abs(gap - self.period) <= STEADY * self.period:
                    self.steady += 1
                    self.steady_period = gap
                if gap >= MIN_RATE and {code, self.single_code} == {REQ_BCAST, REP_OWN}:
                    self.alternations += 1
                elif (code == NA_UNSOL == self.single_code
                      and ND_TICKER[0] <= gap <= ND_TICKER[1]):
                    self.nd_cadence += 1
                    self.nd_gap = gap
                self.period = gap
            self.single_t, self.single_code = t0, code
            self.singles += 1
            if code == REP_OWN:
                self.single_own += 1
            elif code != REQ_BCAST and code != NA_UNSOL:
                self.single_other += 1
        elif n == 2 and self.tick_first == REQ_BCAST and self.tick_last == REP_BCAST:
            if self.pair_t is not None and PAIR_CADENCE[0] <= t0 - self.pair_t <= PAIR_CADENCE[1]:
                self.pair_cadence += 1
                self.pair_gap = t0 - self.pair_t
            self.pair_t = t0
            self.pairs += 1
        elif BURST_MIN <= n <= BURST_MAX and self.tick_all_req:
            if self.burst_t is not None and BURST_REPEAT[0] <= t0 - self.burst_t <= BURST_REPEAT[1]:
                self.burst_repeats += 1
            self.burst_t = t0
            self.bursts += 1
            self.burst_max = max(self.burst_max, n)
        else:
            self.mixed += 1
        self.tick_n = 0

    def folded(self, now: float | None = None) -> Announcements:
        """A copy with the open tick folded in: what the frames so far amount to.

        ``now`` (network time, live): a tick of several frames is folded only
        once ``TICK_GAP`` has passed since its last frame — until then it may
        still grow from a burst into a storm.  ``None``: the frames are all
        there is (a report), so every tick is folded.
        """
        new = Announcements.__new__(Announcements)
        for name in Announcements.__slots__:
            setattr(new, name, getattr(self, name))
        new.codes = list(self.codes)
        if new.tick_n and (now is None or new.tick_n == 1 or now - new.last > TICK_GAP):
            new._close()
        return new

    # -- shapes (call on a folded copy) -------------------------------------

    def cilium_shaped(self) -> bool:
        """Only single op=2 broadcast announcements, none within CILIUM_QUIET of another."""
        return (self.codes[REP_BCAST] == self.frames == self.singles + self.tick_n
                and self.tick_n <= 1 and (self.min_gap is None or self.min_gap >= CILIUM_QUIET))

    def kernel_like(self) -> bool:
        """Only RFC 5227-style announcements (op=1, target MAC zero), if any; IPv6: only
        unsolicited NAs on events (``ndisc_notify``), each alone and at no cadence."""
        codes = self.codes
        return codes[REQ_ZERO] == self.frames or (
            codes[NA_UNSOL] == self.frames and not self.bursts and not self.steady
            and not self.nd_cadence)

    def kube_vip(self) -> str | None:
        """The kube-vip evidence, or None."""
        if self.singles < 3 or self.single_other:
            return None  # kube-vip sends singles of two shapes only (IPv6: one)
        if self.codes[NA_UNSOL]:  # NDP: no opcode to alternate, the default period only
            if (not self.routers and self.steady
                    and DEFAULT_PERIOD[0] <= self.steady_period <= DEFAULT_PERIOD[1]):
                return f"{_UNSOL}, one every {self.steady_period:.1f} s ({self.singles} seen)"
            return None
        if self.alternations >= 2 and self.period is not None:
            return (f"GARP op2/op1 alternating every {self._rate():.1f} s "
                    f"({self.singles} seen)")
        if self.steady and self.steady_period >= MIN_RATE:
            own = self.single_own
            if own or DEFAULT_PERIOD[0] <= self.steady_period <= DEFAULT_PERIOD[1]:
                shape = ("op2 with target MAC = own MAC" if own == self.singles else
                         "op1" if not own else "op1/op2")
                return f"GARP {shape} every {self.steady_period:.1f} s ({self.singles} seen)"
        return None

    def _rate(self) -> float:
        return self.steady_period if self.steady else (self.period or 0.0)

    def metallb(self) -> str | None:
        """The MetalLB evidence, or None."""
        if self.codes[NA_UNSOL]:  # NDP: singles on the 1.1 s ticker
            if self.nd_cadence < 2 or self.routers or self.single_other:
                return None
            return f"{_UNSOL}, one every {self.nd_gap:.1f} s ({self.singles} seen)"
        if self.pairs < 2 or not self.pair_cadence:
            return None
        padded = ", 60 bytes" if not self.short else ""
        return (f"GARP pairs op1+op2 (target MAC broadcast{padded}) {self.pair_gap:.1f} s apart "
                f"({self.pairs} pairs seen)")

    def keepalived(self) -> str | None:
        """The keepalived evidence from GARP bursts alone, or None."""
        if not self.bursts:
            return None
        again = ", the next about 5 s later" if self.burst_repeats else ""
        what = "GARP op1"
        if self.codes[NA_UNSOL]:
            what = _UNSOL if not self.routers else _UNSOL.replace("(O=1)", "(O=1, R=1)")
        return (f"bursts of {self.burst_max} {what} back-to-back "
                f"({_s(self.bursts, 'burst')}{again})")

    def describe(self) -> str:
        """What was announced, for an ``unknown`` sentence."""
        codes = self.codes
        shapes = ", ".join(f"{n} {_SHAPE_WORDS[c]}" for c, n in enumerate(codes) if n)
        noun = "NDP announcement" if codes[NA_UNSOL] or codes[NDP_OTHER] else "GARP"
        return f"{_s(self.frames, noun)}: {shapes}"


class Fingerprint:
    """What one MAC did for one IP (counters; announcements created on the first one)."""

    __slots__ = ("ask_len", "first_code", "first_t", "garps", "kind", "lencheck", "other_len",
                 "replies", "same_len")

    def __init__(self) -> None:
        self.ask_len = 0
        """Frame length of the latest ARP request this MAC sent *from* the IP (not
        gratuitous); 0: it sent none.  One store per request is all the hot path pays."""
        self.replies = 0
        """Requests answered (non-gratuitous replies, and answers to others' GARPs)."""
        self.same_len = 0
        """Replies as long as the request they answer (checked while Cilium-shaped)."""
        self.other_len = 0
        """Replies of another length than their request (checked while Cilium-shaped)."""
        self.lencheck = False
        """The announcements so far are Cilium-shaped: compare reply and request lengths."""
        self.garps: Announcements | None = None
        """The announcements, from the second one on (see :meth:`announcements`)."""
        self.first_t: float | None = None
        """The time of the only announcement so far (most IPs announce once or never: an
        :class:`Announcements` record, ~360 bytes, is made at the second)."""
        self.first_code = 0
        """Its shape code, times two, plus one if the frame was short."""
        self.kind: str | None = None
        """The kind last reported in an ``announcer_identified`` event (live only)."""

    def gratuitous(self, t: float, op: int, sha: bytes, tha: bytes, dst: bytes | None,
                   length: int) -> None:
        """Account a gratuitous frame (sender IP = target IP) from this MAC."""
        if dst is not None and dst != BROADCAST and not dst[0] & 1:
            self.replies += 1  # unicast: an answer to someone's GARP, not an announcement
            return
        if tha == BROADCAST:
            code = REQ_BCAST if op == 1 else REP_BCAST if op == 2 else NDP_OTHER
        elif op == 2 and tha == sha:
            code = REP_OWN
        elif op == 1 and tha == ZERO_MAC:
            code = REQ_ZERO
        elif dst is None and op == 2:
            self.replies += 1  # cooked capture: a reply to the target MAC's owner
            return
        elif op > 2:
            self._ndp(t, op, dst)
            return
        else:
            code = OTHER
        g = self.garps
        if g is None:
            if self.first_t is None:  # the first announcement: kept inline
                self.first_t, self.first_code = t, code * 2 + (length < 60)
                self.lencheck = code == REP_BCAST
                return
            g = self.garps = self.announcements()
            self.first_t = None
        g.add(t, code, length < 60)  # type: ignore[union-attr]
        self.lencheck = g.codes[REP_BCAST] == g.frames and g.tick_n == 1 and not (
            g.pairs or g.bursts or g.mixed) and (g.min_gap is None or g.min_gap >= CILIUM_QUIET)

    def _ndp(self, t: float, op: int, dst: bytes | None) -> None:
        """A gratuitous NDP frame: an advertisement with S=0 (``tha`` is its Ethernet
        destination, ``dst`` None in a cooked capture), or a solicitation of its own source."""
        code = (NA_UNSOL if (op & _NA_SO) == NA_OVERRIDE and (dst is None or dst == ALL_NODES_MAC)
                else NDP_OTHER)
        g = self.garps
        if g is None:
            g = self.garps = Announcements()
        g.add(t, code, False)  # an advertisement is 86 bytes or more: never short
        if op & NA_ROUTER:
            g.routers += 1
        self.lencheck = False  # Cilium's length mark is an IPv4 one

    def settling(self, now: float) -> bool:
        """Whether a tick of several announcements may still grow (a burst not yet folded
        at network time ``now``, see :meth:`Announcements.folded`)."""
        g = self.garps
        return g is not None and g.tick_n > 1 and now - g.last <= TICK_GAP

    def only_op2_broadcast(self) -> bool:
        """Whether every announcement so far (if any) was op=2 with the target MAC broadcast."""
        if self.garps is not None:
            return self.garps.codes[REP_BCAST] == self.garps.frames
        return self.first_t is None or self.first_code >> 1 == REP_BCAST

    def announced(self) -> bool:
        """Whether this MAC announced the IP at all."""
        return self.garps is not None or self.first_t is not None

    def announcements(self) -> Announcements | None:
        """The announcements folded into ticks, or None if there were none."""
        if self.garps is not None or self.first_t is None:
            return self.garps
        g = Announcements()
        g.add(self.first_t, self.first_code >> 1, bool(self.first_code & 1))
        return g


class _Shared:
    """The latest request for an IP that several MACs answered."""

    __slots__ = ("macs", "most", "requester", "t")

    def __init__(self) -> None:
        self.requester = b""
        self.t = 0.0
        self.macs: set[bytes] = set()
        self.most = 0
        """Most MACs that ever answered one request for the IP."""


class FingerprintTable:
    """Every fingerprint, keyed by (IP key, MAC), plus the VRRP routers seen.

    Created lazily: a (key, MAC) gets a :class:`Fingerprint` when it first
    claims the IP.  :meth:`evict` forgets an IP (a memory bound for address
    sprays calls it with the tracker's own eviction, with the IP's MACs).
    Methods that look at all claimants of an IP take its MACs (the tracker
    knows them).
    """

    def __init__(self, local: Callable[[Key, bytes], Fingerprint | None] | None = None) -> None:
        self.fps: dict[tuple[Key, bytes], Fingerprint] = {}
        """Fingerprints kept in the table (see ``local`` for the others)."""
        self.local = local
        """Where fingerprints kept outside :attr:`fps` are found: the tracker keeps the
        fingerprint of an IP's only MAC on the IP's compact record (no table entry, about
        170 bytes less per IP), and moves it here when a second MAC claims the IP."""
        self.shared: dict[Key, _Shared] = {}
        """IPs for which two or more MACs answered one request (rare)."""
        self.vrrp = VrrpTable()
        self._single: dict[int, Announcer] = {}
        """What one announcement of each shape names (:meth:`announcer`)."""

    def get(self, key: Key, mac: bytes) -> Fingerprint:
        """The fingerprint of ``mac`` for ``key``, created in the table if missing."""
        fp = self.find(key, mac)
        if fp is None:
            fp = self.fps[key, mac] = Fingerprint()
        return fp

    def find(self, key: Key, mac: bytes) -> Fingerprint | None:
        """The fingerprint if there is one."""
        fp = self.fps.get((key, mac))
        if fp is None and self.local is not None:
            fp = self.local(key, mac)
        return fp

    def evict(self, key: Key, macs: Iterable[bytes]) -> None:
        """Forget the fingerprints of ``key``'s ``macs`` (the eviction hook)."""
        for mac in macs:
            self.fps.pop((key, mac), None)
        self.shared.pop(key, None)

    def __len__(self) -> int:
        return len(self.fps)

    def answered_together(self, key: Key, requester: bytes, first: bytes, second: bytes,
                          t: float, window: float) -> None:
        """Two MACs answered one request from ``requester`` for ``key`` (a duplicate reply)."""
        sh = self.shared.get(key)
        if sh is None:
            sh = self.shared[key] = _Shared()
        if sh.requester != requester or t - sh.t > window or first not in sh.macs:
            sh.requester, sh.macs = requester, {first}
        sh.t = t
        if len(sh.macs) < MAX_SHARED:
            sh.macs.add(second)
        sh.most = max(sh.most, len(sh.macs))

    def every_node(self, key: Key, macs: Iterable[bytes]) -> int:
        """How many MACs answered one request, if that makes the "every node" hint; else 0.

        ``macs``: every claimant of ``key`` (none of them may announce it).
        """
        sh = self.shared.get(key)
        if sh is None or sh.most < EVERY_NODE:
            return 0
        find = self.find
        if any((fp := find(key, m)) is not None and fp.announced() for m in macs):
            return 0
        return sh.most

    def hint(self, key: Key, macs: Iterable[bytes]) -> str | None:
        """The IP's announcer hint, or None (``macs``: every claimant of ``key``)."""
        return HINT_EVERY_NODE if self.every_node(key, macs) else None

    def may_name(self, key: Key, mac: bytes, fp: Fingerprint) -> bool:
        """Whether ``fp`` holds anything that could name a kind.

        A cheap test that spares :meth:`announcer` (and its sentence) for
        claimants that so far only answered requests.
        """
        return bool(fp.announced() or fp.ask_len or fp.same_len or key in self.shared
                    or self.vrrp.groups or mac[:5] == VRRP_MAC_PREFIX)

    def announcer(self, key: Key, mac: bytes, macs: Iterable[bytes] = (),
                  now: float | None = None, fp: Fingerprint | None = None) -> Announcer:
        """Name the announcer of ``mac``'s claims of ``key`` (see the module docstring).

        ``macs``: every claimant of ``key`` (for the "every node answers"
        rule).  ``now``: network time while frames still arrive (see
        :meth:`Announcements.folded`); None for a report.  ``fp``: the fingerprint, when
        the caller has it at hand.
        """
        if fp is None:
            fp = self.find(key, mac)
        if fp is None:
            return Announcer(UNKNOWN, "nothing kept about this MAC for this address")
        if (fp.garps is None and fp.first_t is not None and not (
                fp.ask_len or fp.replies or fp.same_len or fp.other_len or self.vrrp.groups)
                and mac[:5] != VRRP_MAC_PREFIX and key not in self.shared):
            # One announcement and nothing else (an address spray: every IP): what it names
            # depends on its shape alone, so the sentence is made once per shape.
            a = self._single.get(fp.first_code)
            if a is None:
                a = self._single[fp.first_code] = self._announcer(fp, key, mac, macs, now)
            return a
        return self._announcer(fp, key, mac, macs, now)

    def _announcer(self, fp: Fingerprint, key: Key, mac: bytes, macs: Iterable[bytes],
                   now: float | None) -> Announcer:
        v6 = len(key[2]) == 16
        request = "solicitation" if v6 else "request"
        asks = ASKS_NDP if v6 else ASKS
        if (not fp.announced() and fp.ask_len and not self.vrrp.groups
                and mac[:5] != VRRP_MAC_PREFIX):  # most claimants: a host's own address
            return Announcer(KERNEL, asks + (f"; {_s(fp.replies, request)} answered"
                                             if fp.replies else ""))
        found: dict[str, list[str]] = {}
        if mac[:5] == VRRP_MAC_PREFIX:
            found[KEEPALIVED] = [f"claims from the VRRP virtual MAC of VRID {mac[5]}"]
        listed = self.vrrp.listing(key, mac) if self.vrrp.groups else None
        if listed is not None:
            vrid, prio, n = listed
            found.setdefault(KEEPALIVED, []).append(
                f"its VRRP adverts for VRID {vrid} (priority {prio}) list this address "
                f"({n} seen)")
        a = fp.announcements()
        g = a.folded(now) if a is not None else None
        cilium_note = ""
        if g is not None:
            for kind, text in ((KUBE_VIP, g.kube_vip()), (METALLB, g.metallb()),
                               (KEEPALIVED, g.keepalived())):
                if text:
                    found.setdefault(kind, []).append(text)
            if g.cilium_shaped():
                once = ("one op2 broadcast GARP at take-over, then silence" if g.frames == 1 else
                        f"{g.frames} op2 broadcast GARPs, each alone")
                if fp.same_len and not fp.other_len:
                    found[CILIUM] = [f"{once}; replies as long as the request "
                                     f"({fp.same_len} seen)"]
                elif fp.other_len:
                    cilium_note = (f"{once} (Cilium-shaped), but {_s(fp.other_len, 'reply')} "
                                   "of another length than the request")
                else:
                    cilium_note = (f"{once} (Cilium-shaped), no answered request seen to "
                                   "compare lengths")
        if not found:
            if fp.ask_len and (g is None or g.kernel_like()):
                found[KERNEL] = [asks]
            elif fp.replies and (n := self.every_node(key, macs)):
                found[KERNEL] = [f"one of {n} MACs answering the same {request} while nobody "
                                 "announces the address (every node's kernel answers)"]
        answered = f"; {_s(fp.replies, request)} answered" if fp.replies else ""
        if not found:
            parts = []
            if cilium_note:
                parts.append(cilium_note)
            elif g is not None:
                parts.append(f"{g.describe()}, no known announcer's shape or cadence")
            if fp.ask_len:
                parts.append(f"{request}s sent from this address")
            if fp.replies:
                parts.append(f"{_s(fp.replies, request)} answered")
            return Announcer(UNKNOWN, "no distinctive evidence: " + ("; ".join(parts) or
                                                                     "nothing announced"))
        kinds = sorted(found, key=ORDER.index)
        kind = kinds[0]
        text = "; ".join(found[kind])
        for other in kinds[1:]:
            text += f"; also {other}-shaped: " + "; ".join(found[other])
        if kind != KERNEL or "answering" not in text:
            text += answered
        return Announcer(kind, text)


# -- VRRP ----------------------------------------------------------------------


class VrrpSource:
    """One router advertising a VRID."""

    __slots__ = ("addresses", "adverts", "first", "interval", "ip", "last", "mac", "priority",
                 "resigned")

    def __init__(self, ip: bytes, mac: bytes | None, t: float) -> None:
        self.ip = ip
        self.mac = mac
        self.priority = 0
        """The latest non-zero priority advertised."""
        self.resigned = False
        """The latest advert had priority 0 (the MASTER left)."""
        self.interval = 1.0
        self.adverts = 0
        self.first = self.last = t
        self.addresses: tuple[bytes, ...] = ()


class VrrpGroup:
    """One virtual router: a (VLAN, inner VLAN, VRID) and the routers advertising it."""

    __slots__ = ("addresses", "handover", "inner_vlan", "latest", "sources", "split",
                 "split_first", "split_last", "splits", "version", "vlan", "vrid")

    def __init__(self, vlan: int | None, inner: int | None, vrid: int) -> None:
        self.vlan, self.inner_vlan, self.vrid = vlan, inner, vrid
        self.version = 0
        self.addresses: tuple[bytes, ...] = ()
        self.sources: dict[bytes, VrrpSource] = {}
        """Source IP → router (at most MAX_VRRP_SOURCES)."""
        self.split = False
        """Two routers are advertising at once right now."""
        self.splits = 0
        """Split-brain episodes seen."""
        self.split_first: float | None = None
        self.split_last: float | None = None
        self.latest: VrrpSource | None = None
        """The router of the latest advert."""
        self.handover: float | None = None
        """Time of the latest hand-over."""

    def doc(self) -> dict[str, Any]:
        """The report's JSON object for this virtual router."""
        return {
            "vlan": self.vlan, "inner_vlan": self.inner_vlan, "vrid": self.vrid,
            "version": self.version, "addresses": [format_ip(a) for a in self.addresses],
            "split_brain": self.splits > 0,
            "split_first": None if self.split_first is None else round(self.split_first, 6),
            "split_last": None if self.split_last is None else round(self.split_last, 6),
            "sources": [{"ip": format_ip(s.ip), "mac": format_mac(s.mac) if s.mac else None,
                         "priority": s.priority, "resigned": s.resigned,
                         "interval": s.interval, "adverts": s.adverts,
                         "first_seen": round(s.first, 6), "last_seen": round(s.last, 6)}
                        for s in sorted(self.sources.values(), key=lambda s: (s.first, s.ip))],
        }


class VrrpTable:
    """VRRP virtual routers seen, and their split brains (see the module docstring)."""

    def __init__(self) -> None:
        self.groups: dict[tuple[int | None, int | None, int], VrrpGroup] = {}
        self.adverts = 0
        """Adverts fed, all of them."""

    def feed(self, a: VrrpAdvert) -> VrrpGroup | None:
        """Account one advert; return its group when it *starts* a split brain."""
        self.adverts += 1
        gk = (a.vlan, a.inner_vlan, a.vrid)
        g = self.groups.get(gk)
        if g is None:
            if len(self.groups) >= MAX_VRRP_GROUPS:
                return None
            g = self.groups[gk] = VrrpGroup(a.vlan, a.inner_vlan, a.vrid)
        g.version = a.version
        if a.priority:
            g.addresses = a.addresses
        s = g.sources.get(a.src_ip)
        if s is None:
            if len(g.sources) >= MAX_VRRP_SOURCES:
                return None
            s = g.sources[a.src_ip] = VrrpSource(a.src_ip, a.src_mac, a.time)
        s.mac = a.src_mac
        if a.priority:
            s.priority = a.priority
        s.resigned = not a.priority
        if a.addresses:
            s.addresses = a.addresses
        t, iv = a.time, max(a.interval, 0.1)
        prev = g.latest
        started = None
        if (a.priority and prev is not None and prev is not s and not prev.resigned
                and t - prev.last <= 3 * max(iv, prev.interval) + TAKEOVER_SLACK):
            if g.handover is not None and t - g.handover <= SPLIT_SWITCHES * iv:
                g.split_last = t
                if g.split_first is None:
                    g.split_first = t
                if not g.split:
                    g.split = True
                    g.splits += 1
                    started = g
            g.handover = t
        elif g.split and (g.handover is None or t - g.handover > SPLIT_SWITCHES * iv):
            g.split = False
        s.interval, s.adverts, s.last = a.interval, s.adverts + 1, t
        g.latest = s
        return started

    def listing(self, key: Key, mac: bytes) -> tuple[int, int, int] | None:
        """(VRID, priority, adverts) of a router with ``mac`` whose adverts list ``key``'s IP."""
        vlan, inner, ip = key
        for g in self.groups.values():
            if g.vlan != vlan or g.inner_vlan != inner:
                continue
            for s in g.sources.values():
                if s.mac == mac and ip in s.addresses:
                    return g.vrid, s.priority, s.adverts
        return None

    def routers(self, selected: Container[bytes] | None = None) -> Iterator[VrrpGroup]:
        """Virtual routers, by VLAN and VRID; with ``selected``, those listing one of its IPs."""
        for _k, g in sorted(self.groups.items(), key=lambda kv: (kv[0][0] is not None,
                                                                 kv[0][0] or 0, kv[0][1] or 0,
                                                                 kv[0][2])):
            addrs = set(g.addresses).union(*(s.addresses for s in g.sources.values()))
            if selected is None or any(a in selected for a in addrs):
                yield g
