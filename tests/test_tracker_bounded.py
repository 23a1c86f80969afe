"""Compact records and the bounded table: same reports as the full state, evictions that never
touch a VIP or node IP, least recently claimed first, and memory per IP.

The reference is the tracker as it was before compact records (tests/reference_tracker.py:
every IP a full ``IpState``, nothing evicted); reports are compared whole.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from itertools import pairwise

from conftest import claim, ip, mac
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_tracker import ReferenceTracker

from arpwatch_lb.core.addresses import VipSet, parse_vips
from arpwatch_lb.core.frames import Claim
from arpwatch_lb.core.report import build_report
from arpwatch_lb.core.tracker import MAX_CLAIMANTS, IpState, OwnershipTracker, Quiet
from arpwatch_lb.core.verdicts import CONTESTED, verdict

MACS = [mac(f"02:00:5e:10:00:{i:02x}") for i in range(1, 7)]
IPS = [ip(f"192.0.2.{i}") for i in (10, 11, 12)] + [ip(f"198.18.0.{i}") for i in range(1, 9)]
VIPS = IPS[:3]  # the protected ones
REQUESTERS = [(mac("02:00:00:00:01:01"), ip("198.51.100.1")),
              (mac("02:00:00:00:01:02"), ip("198.51.100.2"))]
NODES = {MACS[0]: "node-a", MACS[1]: "node-a", MACS[2]: "node-b"}


@st.composite
def busy_streams(draw: st.DrawFn, max_size: int = 80) -> list[Claim]:
    """Time-ordered claims of 11 IPs by 6 MACs and 2 requesters on two VLANs: announcements,
    requests, answers, Ethernet/ARP sender mismatches; steps straddle the windows."""
    n = draw(st.integers(0, max_size))
    t = draw(st.sampled_from([0.0, 1_700_000_000.0]))
    out = []
    for _ in range(n):
        t += draw(st.sampled_from([0, 0.25, 0.5, 1, 1.25, 30, 60.25]))
        sha = draw(st.sampled_from(MACS))
        spa = draw(st.sampled_from(IPS))
        vlan = draw(st.sampled_from([None, None, None, 10]))
        r = draw(st.sampled_from(REQUESTERS))
        kind = draw(st.sampled_from(["garp", "garp_rep", "request", "reply", "reply", "ask"]))
        src = draw(st.sampled_from([None, sha, sha, sha, MACS[5]]))
        kw = {"vlan": vlan, "eth_src": src}
        if kind == "garp":
            c = claim(t, sha, spa, **kw)
        elif kind == "garp_rep":
            c = claim(t, sha, spa, op=2, **kw)
        elif kind == "request":
            c = claim(t, sha, spa, tha=b"\x00" * 6, tpa=r[1], **kw)
        elif kind == "ask":
            c = claim(t, r[0], r[1], tha=b"\x00" * 6, tpa=spa, vlan=vlan)
        else:
            c = claim(t, sha, spa, op=2, tha=r[0], tpa=r[1], **kw)
        out.append(c)
    return out


def fed(tracker: OwnershipTracker, claims: list[Claim], cuts: list[int] = ()) -> OwnershipTracker:
    bounds = [0, *sorted(min(x, len(claims)) for x in cuts), len(claims)]
    for lo, hi in pairwise(bounds):
        tracker.feed_all(claims[lo:hi])
    return tracker


ALL = VipSet()


def report(tracker: OwnershipTracker, vips: VipSet = ALL, nodes: dict | None = None) -> dict:
    return build_report(tracker, {}, vips, nodes=nodes)


@settings(max_examples=300)
@given(claims=busy_streams(), window=st.sampled_from([0.0, 1.0, 60.0]),
       cuts=st.lists(st.integers(0, 80), max_size=4))
def test_compact_state_reports_like_the_full_state(claims: list[Claim], window: float,
                                                   cuts: list[int]) -> None:
    new = fed(OwnershipTracker(window=window), claims, cuts)
    ref = fed(ReferenceTracker(window=window), claims, cuts)
    assert report(new) == report(ref)
    assert report(new, nodes=NODES) == report(ref, nodes=NODES)
    assert report(new, parse_vips(["192.0.2.10", "192.0.2.99"])) == report(
        ref, parse_vips(["192.0.2.10", "192.0.2.99"]))
    for key in ref.ips:
        assert verdict(new.ips[key], NODES) == verdict(ref.ips[key], NODES)
    # compact records hold exactly the IPs that never changed owner
    for key, rec in new.records():
        assert (rec.__class__ is IpState) == bool(ref.ips[key].changes or ref.ips[key].duplicate_replies)


@settings(max_examples=300)
@given(claims=busy_streams(), window=st.sampled_from([1.0, 60.0]))
def test_events_of_compact_and_full_state_agree(claims: list[Claim], window: float) -> None:
    new = fed(OwnershipTracker(window=window, record_events=True), claims)
    ref = fed(ReferenceTracker(window=window, record_events=True), claims)
    assert facts(new.drain()) == facts(ref.drain())


def facts(events: list) -> list[tuple]:
    return [(e.kind, e.time, e.key, e.mac, e.previous, e.requester) for e in events]


@settings(max_examples=300)
@given(claims=busy_streams(), sel=st.sets(st.sampled_from(IPS), min_size=1))
def test_untracked_ips_change_no_report_of_the_selection(claims: list[Claim], sel: set[bytes]
                                                          ) -> None:
    """``track`` (replay --vip): IPs outside the selection get no record, and the report on the
    selection is the same as with every IP tracked."""
    vips = parse_vips([f"{a[0]}.{a[1]}.{a[2]}.{a[3]}" for a in sel])
    filtered = fed(OwnershipTracker(track=vips), claims)
    full = fed(OwnershipTracker(), claims)
    assert report(filtered, vips) == report(full, vips)
    assert all(k[2] in sel for k in filtered.ips)
    assert filtered.totals() == full.totals()


@settings(max_examples=300)
@given(claims=busy_streams(max_size=120), cap=st.integers(1, 6),
       cuts=st.lists(st.integers(0, 120), max_size=6))
def test_eviction_never_touches_vips_and_keeps_their_state(claims: list[Claim], cap: int,
                                                          cuts: list[int]) -> None:
    protect = set(VIPS)
    bounded = OwnershipTracker(max_ips=cap, protect=protect, record_events=True)
    evicted: list = []
    bounded.on_evict(evicted.append)
    bounds = [0, *sorted(min(x, len(claims)) for x in cuts), len(claims)]
    full = OwnershipTracker(record_events=True)
    last: dict = {}
    for lo, hi in pairwise(bounds):
        batch = claims[lo:hi]
        for c in batch:
            last[(c.vlan, c.inner_vlan, c.spa)] = c.time
        before = len(evicted)
        bounded.feed_all(batch)
        full.feed_all(batch)
        unprotected = [k for k in bounded.ips if k[2] not in protect]
        assert bounded.table()["entries"] <= cap or not unprotected  # the cap holds, VIPs aside
        for k in evicted[before:]:  # least recently claimed first
            assert k[2] not in protect
            assert all(last[k] <= last[other] for other in unprotected)
    assert bounded.evictions == len(evicted)
    assert bounded.totals() == full.totals()  # evicted IPs still count in the totals
    for key in full.ips:
        if key[2] in protect:  # never evicted, and exactly as without a cap
            a, b = bounded.ips[key], full.ips[key]
            assert (verdict(a), a.changes, a.flip_flops, a.duplicate_replies, a.frames,
                    a.claimants(), a.timeline()) == (verdict(b), b.changes, b.flip_flops,
                                                     b.duplicate_replies, b.frames,
                                                     b.claimants(), b.timeline())
    vip_events = [e for e in full.drain() if e.key[2] in protect]
    assert [e for e in bounded.drain() if e.key[2] in protect] == vip_events
    # the identity table holds pairs of tracked IPs only
    tracked = set(bounded.ips)
    for m in list(bounded.mac_ip_counts):
        assert bounded.other_ip_count(m) >= 1
        assert all(k in tracked for k in bounded.other_ips(m, (None, None, b"\x00" * 4)))


def spray(n: int, start: float = 1000.0, base: int = 0) -> list[Claim]:
    """``n`` gratuitous ARPs, each from its own IP (198.18.0.0/15) and MAC."""
    out = []
    for i in range(base, base + n):
        m = bytes((0x02, 0x5E, 0, i >> 16 & 0xFF, i >> 8 & 0xFF, i & 0xFF))
        a = bytes((198, 18 + (i >> 16 & 1), i >> 8 & 0xFF, i & 0xFF))
        out.append(claim(start + i * 1e-4, m, a))
    return out


def test_a_spray_leaves_a_named_vips_verdict_alone() -> None:
    vip, a, b = ip("192.0.2.10"), MACS[0], MACS[1]
    fight = [claim(float(t), a if t % 2 else b, vip) for t in range(10)]
    tracker = OwnershipTracker(max_ips=100, protect=parse_vips(["192.0.2.10"]))
    tracker.feed_all(fight)
    for k in range(20):
        tracker.feed_all(spray(500, start=20.0 + k, base=500 * k))
    st_ = tracker.ips[(None, None, vip)]
    assert verdict(st_) == CONTESTED and st_.flip_flops == 8
    # the VIP's full record remembers 2 claimants and 9 runs: 12 entries of the 100
    assert len(tracker) == 100 - 11 and tracker.evictions == 10_000 + 1 - len(tracker)
    assert len(tracker.mac_ip_counts) == 88 + 2  # the sprayed MACs still tracked, and the VIP's two
    assert tracker.totals()["frames"] == 10 + 10_000
    doc = build_report(tracker, {}, parse_vips(["192.0.2.10"]))
    assert [e["verdict"] for e in doc["ips"]] == [CONTESTED]
    assert doc["table"] == {"ips": 89, "entries": 100, "macs": 90, "max_ips": 100,
                            "evictions": 9912}


def test_protection_follows_the_selection_at_run_time() -> None:
    tracker = OwnershipTracker(max_ips=2)
    first = spray(1)
    vip = first[0].spa
    tracker.feed_all(first)
    tracker.protect = {vip}  # Kubernetes discovered it as a VIP
    tracker.feed_all(spray(50, start=2000.0, base=2))
    assert (None, None, vip) in tracker.ips and len(tracker) == 2
    tracker.protect = set()  # no longer a VIP: the least recently claimed goes first
    tracker.feed_all(spray(1, start=3000.0, base=100))
    assert (None, None, vip) not in tracker.ips


def test_nothing_evictable_keeps_everything() -> None:
    tracker = OwnershipTracker(max_ips=3, protect={a for a in IPS})
    tracker.feed_all([claim(float(i), MACS[0], a) for i, a in enumerate(IPS)])
    assert len(tracker) == len(IPS) and tracker.evictions == 0


def test_a_crowd_of_macs_on_one_ip_is_bounded() -> None:
    vip = ip("192.0.2.10")
    crowd = [claim(i * 0.001, bytes((2, 0xAA, 0, 0, i >> 8, i & 0xFF)), vip) for i in range(3000)]
    tracker = OwnershipTracker(max_ips=1000, protect={vip})
    tracker.feed_all(crowd)
    st_ = tracker.ips[(None, None, vip)]
    assert len(st_.closed) == MAX_CLAIMANTS
    assert st_.frames == 3000 and st_.changes == 2999 and st_.claimant_count == 3000
    assert st_.first_seen == 0.0
    assert len(tracker.mac_ip_counts) <= MAX_CLAIMANTS + 1
    assert tracker.table()["entries"] == 1 + MAX_CLAIMANTS + 64  # the IP, claimants, runs


def test_an_address_sprayed_with_new_macs_weighs_its_history() -> None:
    """Addresses reused with ever new MACs get full records; those count their claimants and
    runs against the cap, so memory stays bounded like for a spray of new addresses."""
    reuse = [claim(i * 0.001, bytes((2, 0xAB, 0, 0, i >> 8, i & 0xFF)), IPS[3 + i % 8])
             for i in range(4000)]
    tracker = OwnershipTracker(max_ips=100)
    for k in range(0, 4000, 100):
        tracker.feed_all(reuse[k:k + 100])
        assert tracker.table()["entries"] <= 100
    assert tracker.evictions > 0 and tracker.totals()["frames"] == 4000


def test_evicted_ip_comes_back_fresh() -> None:
    tracker = OwnershipTracker(max_ips=1)
    a, b = IPS[3], IPS[4]
    tracker.feed_all([claim(1.0, MACS[0], a)])
    tracker.feed_all([claim(2.0, MACS[1], b)])
    assert list(tracker.ips) == [(None, None, b)]
    tracker.feed_all([claim(3.0, MACS[2], a)])
    st_ = tracker.ips[(None, None, a)]
    assert st_.owner == MACS[2] and st_.changes == 0 and st_.first_seen == 3.0
    assert tracker.evictions == 2 and tracker.totals()["frames"] == 3
    assert tracker.first_seen() == 1.0  # the report's first_time still covers evicted IPs


def bytes_per_ip(n: int, repeats: int) -> tuple[float, float]:
    """Traced bytes kept per IP for ``n`` IPs, each claimed ``repeats`` times by its own MAC:
    (IP table: dict slot, key, record, times; identity table: dict slot and MAC object)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracker = OwnershipTracker()
        claims = spray(n)
        for r in range(repeats):
            tracker.feed_all([claim(c.time + 10.0 * r, c.sha, c.spa) for c in claims])
        del claims
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert all(rec.__class__ is Quiet for _, rec in tracker.records())
    # the identity table: one dict slot per MAC, and here every MAC object is the sprayer's own
    identity = (sys.getsizeof(tracker._macs) + 40 * n) / n
    return (used / n - identity, identity)


def test_a_quiet_ip_is_a_small_fixed_record() -> None:
    """An IP that only ever had one MAC costs a small fixed record: dict slot, key, record, its
    first and last claim times and its MAC's fingerprint, about 300 bytes when it announced once
    (the MAC's identity entry comes on top).  Announcing again adds the announcements record
    (its cadence and shapes, what names the announcer): a fixed ~500 bytes more, however many."""
    once, ident = bytes_per_ip(50_000, 1)
    again, _ = bytes_per_ip(50_000, 3)
    many, _ = bytes_per_ip(20_000, 6)
    print(f"bytes per IP: claimed once {once:.0f}, claimed three times {again:.0f}, six times "
          f"{many:.0f}; identity entry {ident:.0f}")
    assert once <= 320 and again <= 850 and many <= again + 16
