"""OwnershipTracker and verdicts: literal claim sequences, then properties checked
against a naive model written from the definitions in tracker.py's docstring."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

import pytest
from conftest import BROADCAST, claim, ip, mac
from hypothesis import given, settings
from hypothesis import strategies as st

from arpwatch_lb.core.frames import NA_OVERRIDE, NA_SOLICITED, ND_ADVERT, ND_SOLICIT, Claim
from arpwatch_lb.core.tracker import Change, OwnershipTracker, Run
from arpwatch_lb.core.verdicts import CONTESTED, MOVED, OK, exit_status, verdict

A = mac("02:00:5e:10:00:0a")
B = mac("02:00:5e:10:00:0b")
C = mac("02:00:5e:10:00:0c")
VIP = ip("192.0.2.10")
VIP2 = ip("192.0.2.11")
R1, R1_IP = mac("02:00:00:00:01:01"), ip("192.0.2.101")
R2, R2_IP = mac("02:00:00:00:01:02"), ip("192.0.2.102")
KEY = (None, None, VIP)


def track(claims: list[Claim], **kw: float) -> OwnershipTracker:
    t = OwnershipTracker(**kw)
    t.feed_all(claims)
    return t


def garps(sha: bytes, *times: float, spa: bytes = VIP, **kw) -> list[Claim]:
    return [claim(t, sha, spa, **kw) for t in times]


def reply(t: float, sha: bytes, to: tuple[bytes, bytes], spa: bytes = VIP) -> Claim:
    """A unicast answer to the requester ``to`` = (MAC, IP)."""
    return claim(t, sha, spa, op=2, tha=to[0], tpa=to[1], eth_dst=to[0])


def by_time(*groups: list[Claim]) -> list[Claim]:
    return sorted((c for g in groups for c in g), key=lambda c: c.time)


def stats(t: OwnershipTracker, key=KEY) -> tuple[str, int, int, int]:
    st_ = t.ips[key]
    return verdict(st_), st_.changes, st_.flip_flops, st_.duplicate_replies


# -- literal sequences ---------------------------------------------------------------------

def test_single_owner() -> None:
    t = track(garps(A, 0, 1, 2.5, 3, 100))
    st_ = t.ips[KEY]
    assert stats(t) == (OK, 0, 0, 0)
    assert st_.owner == A and st_.frames == 5
    assert (st_.first_seen, st_.last_seen) == (0, 100)
    c = st_.claimants()
    assert list(c) == [A] and (c[A].frames, c[A].first, c[A].last, c[A].runs) == (5, 0, 100, 1)
    assert st_.timeline() == [Run(A, 0, 100, 5)]
    assert t.now == 100 and len(t) == 1


def test_clean_failover() -> None:
    t = track(by_time(garps(A, 0, 1, 2), garps(B, 10, 11, 500)))
    assert stats(t) == (MOVED, 1, 0, 0)
    st_ = t.ips[KEY]
    assert st_.owner == B and st_.run_first == 10
    assert st_.timeline() == [Run(A, 0, 2, 3), Run(B, 10, 500, 3)]


def test_failback_after_more_than_the_window_is_not_a_flip_flop() -> None:
    t = track(by_time(garps(A, 0, 1, 2), garps(B, 10, 20), garps(A, 62.5, 63)), window=60)
    assert stats(t) == (MOVED, 2, 0, 0)  # A was last heard at 2: 60.5 s before it came back


def test_flip_flop_within_the_window() -> None:
    t = track(by_time(garps(A, 0, 1), garps(B, 5), garps(A, 30), garps(B, 31, 32)), window=60)
    assert stats(t) == (CONTESTED, 3, 2, 0)
    st_ = t.ips[KEY]
    assert (st_.first_flip_flop, st_.last_flip_flop) == (30, 31)


def test_window_boundary_is_inclusive() -> None:
    """"A change to a MAC that itself claimed the IP no more than ``window`` seconds before"."""
    at_edge = track(garps(A, 0) + garps(B, 10) + garps(A, 60.0), window=60)
    assert stats(at_edge) == (CONTESTED, 2, 1, 0)
    past_edge = track(garps(A, 0) + garps(B, 10) + garps(A, 60.0625), window=60)
    assert stats(past_edge) == (MOVED, 2, 0, 0)
    # the window is measured from the returning MAC's last claim, not its first
    late = track(garps(A, 0, 50) + garps(B, 55) + garps(A, 110.0), window=60)
    assert stats(late) == (CONTESTED, 2, 1, 0)


def test_zero_window_still_catches_same_instant_fights() -> None:
    t = track(garps(A, 5) + garps(B, 5) + garps(A, 5) + garps(B, 5.5), window=0)
    assert stats(t) == (CONTESTED, 3, 1, 0)


def test_negative_windows_are_rejected() -> None:
    with pytest.raises(ValueError):
        OwnershipTracker(window=-1)
    with pytest.raises(ValueError):
        OwnershipTracker(dup_window=-0.5)


def test_duplicate_replies_to_one_requester() -> None:
    t = track([reply(10.0, A, (R1, R1_IP)), reply(10.5, B, (R1, R1_IP))])
    assert stats(t) == (CONTESTED, 1, 0, 1)
    assert t.ips[KEY].last_duplicate_reply == 10.5


def test_replies_to_different_requesters_are_not_duplicates() -> None:
    t = track([reply(10.0, A, (R1, R1_IP)), reply(10.5, B, (R2, R2_IP))])
    assert stats(t) == (MOVED, 1, 0, 0)


def test_a_requester_is_its_ip() -> None:
    """tracker.py: "to the same requester (target IP)" — a requester that changed its MAC
    (or a target MAC left zero) is still the same requester."""
    t = track([reply(10.0, A, (R1, R1_IP)), reply(10.5, B, (R2, R1_IP))])
    assert stats(t) == (CONTESTED, 1, 0, 1)


def ask(t: float, requester: tuple[bytes, bytes], vip: bytes = VIP, vlan: int | None = None
        ) -> Claim:
    """The requester's ARP request for ``vip`` (itself a claim of the requester's IP)."""
    return claim(t, requester[0], requester[1], tha=b"\x00" * 6, tpa=vip, vlan=vlan)


def test_one_request_answered_by_two_macs() -> None:
    t = track([ask(10.0, (R1, R1_IP)), reply(10.001, A, (R1, R1_IP)),
               reply(10.002, B, (R1, R1_IP))])
    assert stats(t) == (CONTESTED, 1, 0, 1)


def test_a_client_asking_again_across_a_failover_is_not_a_duplicate() -> None:
    """Each request gets one answer: from the old owner, then (0.5 s later) from the new one."""
    seq = [ask(10.0, (R1, R1_IP)), reply(10.001, A, (R1, R1_IP)),
           ask(10.5, (R1, R1_IP)), reply(10.501, B, (R1, R1_IP)),
           ask(11.0, (R1, R1_IP)), reply(11.001, B, (R1, R1_IP))]
    assert stats(track(seq)) == (MOVED, 1, 0, 0)
    # the same answers without the requests in the capture: the window alone decides
    assert stats(track([c for c in seq if c.sha != R1])) == (CONTESTED, 1, 0, 1)


def test_pruning_the_request_table_changes_nothing() -> None:
    """The request/reply tables are pruned by network time (every 10 s); a request older than
    the duplicate window pairs with nothing, whether it was pruned yet or not."""
    seq = [ask(0.0, (R1, R1_IP)),
           claim(11.0, C, VIP2),  # time moves on: a prune when fed on its own
           reply(11.2, A, (R1, R1_IP)), reply(11.5, B, (R1, R1_IP))]
    whole = track(seq)
    one_by_one = OwnershipTracker()
    for c in seq:
        one_by_one.feed(c)
    assert one_by_one.asked == {}  # the stale request was pruned ...
    assert stats(one_by_one) == stats(whole) == (CONTESTED, 1, 0, 1)  # ... and nothing changed


def test_requests_pair_per_vlan() -> None:
    """A request seen on another VLAN does not tell which request a reply answers."""
    seq = [ask(10.0, (R1, R1_IP), vlan=7), reply(10.001, A, (R1, R1_IP)),
           ask(10.5, (R1, R1_IP), vlan=7), reply(10.501, B, (R1, R1_IP))]
    assert stats(track(seq)) == (CONTESTED, 1, 0, 1)


def test_replies_more_than_a_second_apart_are_not_duplicates() -> None:
    t = track([reply(10.0, A, (R1, R1_IP)), reply(11.25, B, (R1, R1_IP))])
    assert stats(t) == (MOVED, 1, 0, 0)
    t = track([reply(10.0, A, (R1, R1_IP)), reply(10.75, B, (R1, R1_IP))], dup_window=0.5)
    assert stats(t) == (MOVED, 1, 0, 0)


def test_the_same_mac_replying_twice_is_not_a_duplicate() -> None:
    t = track([reply(10.0, A, (R1, R1_IP)), reply(10.01, A, (R1, R1_IP))])
    assert stats(t) == (OK, 0, 0, 0)


def test_gratuitous_replies_never_count_as_duplicate_replies() -> None:
    # MetalLB-style (target MAC broadcast) and kube-vip-style (target MAC = own MAC) op=2 GARPs
    metallb = [claim(10.0, A, VIP, op=2, tha=BROADCAST), claim(10.2, B, VIP, op=2, tha=BROADCAST)]
    kubevip = [claim(10.0, A, VIP, op=2, tha=A), claim(10.2, B, VIP, op=2, tha=B)]
    for seq in (metallb, kubevip):
        t = track(seq)
        assert stats(t) == (MOVED, 1, 0, 0)
        assert t.ips[KEY].gratuitous == 2 and t.ips[KEY].replies == 2


def test_requests_are_never_duplicate_replies() -> None:
    t = track([claim(10.0, A, VIP, tha=R1, tpa=R1_IP), claim(10.1, B, VIP, tha=R1, tpa=R1_IP)])
    assert stats(t) == (MOVED, 1, 0, 0)
    assert t.ips[KEY].requests == 2


def test_vlans_keep_separate_state() -> None:
    seq = [claim(float(i), A if i % 2 else B, VIP, vlan=10 if i % 2 else 20) for i in range(10)]
    seq += [claim(20.0, C, VIP), claim(21.0, C, VIP, vlan=10, inner_vlan=7)]
    t = track(seq)
    assert set(t.ips) == {(10, None, VIP), (20, None, VIP), (None, None, VIP), (10, 7, VIP)}
    assert stats(t, (10, None, VIP)) == (OK, 0, 0, 0)
    assert stats(t, (20, None, VIP)) == (OK, 0, 0, 0)
    assert t.ips[(10, None, VIP)].owner == A and t.ips[(20, None, VIP)].owner == B
    assert t.ips[(10, 7, VIP)].owner == C
    assert t.other_ips(A, (10, None, VIP)) == []  # the same IP on another VLAN is not "other"


def test_run_history_is_capped_while_counters_stay_exact() -> None:
    seq = [claim(float(i), A if i % 2 == 0 else B, VIP) for i in range(100)]
    t = track(seq, max_runs=3)
    st_ = t.ips[KEY]
    assert (st_.changes, st_.flip_flops) == (99, 98)
    assert st_.timeline() == [Run(A, 96, 96, 1), Run(B, 97, 97, 1), Run(A, 98, 98, 1),
                              Run(B, 99, 99, 1)]
    c = st_.claimants()
    assert (c[A].frames, c[A].first, c[A].last, c[A].runs) == (50, 0, 98, 50)
    assert (c[B].frames, c[B].first, c[B].last, c[B].runs) == (50, 1, 99, 50)
    assert st_.frames == 100


def test_claimants_frames_first_last_exact() -> None:
    seq = by_time(garps(A, 1, 2), garps(B, 3), garps(A, 7), garps(B, 100), garps(C, 100.5, 101))
    t = track(seq, window=60)
    st_ = t.ips[KEY]
    c = st_.claimants()
    assert list(c) == [A, B, C]  # ordered by first claim
    assert [(s.frames, s.first, s.last, s.runs) for s in c.values()] == [
        (3, 1, 7, 2), (2, 3, 100, 2), (2, 100.5, 101, 1)]
    # 1→2 A, 3 B (new), 7 A (flip: 5 s), 100 B (97 s after its last claim), 100.5 C (new)
    assert stats(t) == (CONTESTED, 4, 1, 0)
    assert (st_.first_seen, st_.last_seen, st_.owner) == (1, 101, C)


def test_claim_kind_counters() -> None:
    seq = [claim(1, A, VIP), claim(2, A, VIP, op=2, tha=R1, tpa=R1_IP),
           claim(3, A, VIP, tpa=R2_IP), claim(4, A, VIP, eth_src=B),
           claim(5, A, VIP, eth_src=None, eth_dst=None)]  # Linux cooked: no Ethernet header
    st_ = track(seq).ips[KEY]
    assert (st_.requests, st_.replies, st_.gratuitous, st_.eth_mismatch) == (4, 1, 3, 1)


def test_other_ips_of_a_mac() -> None:
    k1, k2, k3 = (None, None, VIP), (None, None, VIP2), (None, None, ip("10.0.0.5"))
    t = track([claim(1, A, VIP), claim(2, A, VIP2), claim(3, A, ip("10.0.0.5"), vlan=None),
               claim(4, A, VIP, vlan=30), claim(5, B, VIP2)])
    assert t.other_ips(A, k1) == [k2, k3]
    assert t.other_ips(A, k2) == [k1, k3, (30, None, VIP)]
    assert t.other_ips(B, k2) == []
    assert t.other_ips(C, k1) == []
    assert t.mac_ip_counts[A] == 4 and t.mac_ip_counts[B] == 1


def test_other_ips_list_is_bounded_but_count_is_exact() -> None:
    seq = [claim(float(i), A, ip(f"10.1.0.{i + 1}")) for i in range(40)]
    t = track(seq)
    assert len(t.other_ips(A, (None, None, ip("10.1.0.1")))) < 40
    assert t.mac_ip_counts[A] == 40


def test_change_events() -> None:
    t = OwnershipTracker(window=60, record_events=True)
    t.feed_all([claim(1, A, VIP), claim(2, B, VIP), reply(2.5, A, (R1, R1_IP)),
                reply(2.75, B, (R1, R1_IP))])
    events = t.drain()
    assert [(e.kind, e.time, e.mac, e.previous) for e in events] == [
        ("new_claimant", 1, A, None), ("new_claimant", 2, B, None), ("owner_changed", 2, B, A),
        ("flip_flop", 2.5, A, B), ("flip_flop", 2.75, B, A), ("duplicate_reply", 2.75, B, A)]
    assert events[-1] == Change(kind="duplicate_reply", time=2.75, key=KEY, mac=B, previous=A,
                                requester=R1_IP)
    assert t.drain() == []
    quiet = OwnershipTracker()
    quiet.feed_all([claim(1, A, VIP), claim(2, B, VIP)])
    assert quiet.drain() == []


def test_exit_status() -> None:
    assert exit_status([]) == 0
    assert exit_status([OK, MOVED]) == 0
    assert exit_status([OK, CONTESTED]) == 1
    assert exit_status(["unclaimed"]) == 1


# -- properties, against a naive model --------------------------------------------------------

MACS = [A, B, C]
IPS = [VIP, VIP2]
REQUESTERS = [(R1, R1_IP), (R2, R2_IP)]


@st.composite
def claim_streams(draw: st.DrawFn) -> list[Claim]:
    """Time-ordered claims by three MACs for two IPs on two VLANs, with two requesters that
    ask for the IPs and get answers; time steps straddle the windows (0, 0.5, 1 and 60 s)."""
    n = draw(st.integers(0, 60))
    t = draw(st.sampled_from([0.0, 1_700_000_000.0]))
    out = []
    for _ in range(n):
        t += draw(st.sampled_from([0, 0.25, 0.5, 1, 1.25, 30, 59.75, 60, 60.25, 120]))
        sha = draw(st.sampled_from(MACS))
        spa = draw(st.sampled_from(IPS))
        vlan = draw(st.sampled_from([None, None, 10]))
        r = draw(st.sampled_from(REQUESTERS))
        kind = draw(st.sampled_from(["garp_req", "garp_rep", "kubevip", "request", "reply",
                                     "reply", "ask"]))
        if kind == "garp_req":
            c = claim(t, sha, spa, vlan=vlan)
        elif kind == "garp_rep":
            c = claim(t, sha, spa, op=2, vlan=vlan)
        elif kind == "kubevip":
            c = claim(t, sha, spa, op=2, tha=sha, vlan=vlan)
        elif kind == "request":  # an announcer asking for a requester's address
            c = claim(t, sha, spa, tha=b"\x00" * 6, tpa=r[1], vlan=vlan)
        elif kind == "ask":  # a requester asking for a VIP
            c = ask(t, r, spa, vlan=vlan)
        else:
            c = claim(t, sha, spa, op=2, tha=draw(st.sampled_from([r[0], b"\x00" * 6])),
                      tpa=r[1], vlan=vlan)
        out.append(c)
    return out


def model(claims: list[Claim], window: float, dup_window: float) -> dict:
    """Per key: changes, flip-flops, duplicate replies, owner and claimant totals, by brute
    force over the whole stream, from the definitions in tracker.py's docstring."""
    def asked_at(i: int) -> float | None:
        """When the requester last asked for the IP that reply ``claims[i]`` answers for."""
        c = claims[i]
        times = [d.time for d in claims[:i] if d.op == 1 and d.tpa != d.spa
                 and (d.vlan, d.inner_vlan, d.tpa, d.spa) == (c.vlan, c.inner_vlan, c.spa, c.tpa)]
        return times[-1] if times else None

    keys: dict[tuple, list[int]] = defaultdict(list)
    for i, c in enumerate(claims):
        keys[(c.vlan, c.inner_vlan, c.spa)].append(i)
    out = {}
    for key, idx in keys.items():
        cs = [claims[i] for i in idx]
        flips = dups = 0
        pairs: dict[tuple[bytes, bytes], int] = defaultdict(int)  # who fought whom
        for j, c in enumerate(cs):
            if j and c.sha != cs[j - 1].sha:
                before = [d.time for d in cs[:j] if d.sha == c.sha]
                if before and c.time - before[-1] <= window:
                    flips += 1
                    pairs[tuple(sorted((c.sha, cs[j - 1].sha)))] += 1
            if c.op == 2 and c.tpa != c.spa:
                prev = [i for i in idx[:j] if claims[i].op == 2 and claims[i].tpa != claims[i].spa
                        and claims[i].tpa == c.tpa]
                if prev:
                    p = claims[prev[-1]]
                    if (p.sha != c.sha and c.time - p.time <= dup_window
                            and asked_at(prev[-1]) == asked_at(idx[j])):
                        dups += 1
                        pairs[tuple(sorted((c.sha, p.sha)))] += 1
        claimants = {}
        for m in dict.fromkeys(c.sha for c in cs):
            mine = [c.time for c in cs if c.sha == m]
            claimants[m] = (len(mine), mine[0], mine[-1])
        out[key] = {
            "changes": sum(a.sha != b.sha for a, b in pairwise(cs)),
            "flip_flops": flips,
            "duplicate_replies": dups,
            "owner": cs[-1].sha,
            "claimants": claimants,
            "frames": len(cs),
            "requests": sum(c.op == 1 for c in cs),
            "gratuitous": sum(c.spa == c.tpa for c in cs),
            "fight_pairs": dict(pairs),
        }
    return out


def snapshot(t: OwnershipTracker) -> dict:
    """Everything observable about a tracker, as plain data."""
    return {
        key: {
            "changes": s.changes, "flip_flops": s.flip_flops,
            "duplicate_replies": s.duplicate_replies, "owner": s.owner, "frames": s.frames,
            "requests": s.requests, "gratuitous": s.gratuitous,
            "claimants": {m: (c.frames, c.first, c.last) for m, c in s.claimants().items()},
            "timeline": s.timeline(), "verdict": verdict(s),
            "flip_times": (s.first_flip_flop, s.last_flip_flop),
            "dup_time": s.last_duplicate_reply,
        } for key, s in t.ips.items()
    } | {"now": t.now, "mac_ip_counts": dict(t.mac_ip_counts)}


WINDOWS = st.sampled_from([0.0, 1.0, 60.0])
DUP_WINDOWS = st.sampled_from([0.0, 0.5, 1.0])


@settings(max_examples=300, deadline=None)
@given(claims=claim_streams(), window=WINDOWS, dup_window=DUP_WINDOWS)
def test_tracker_matches_model(claims: list[Claim], window: float, dup_window: float) -> None:
    t = track(claims, window=window, dup_window=dup_window)
    want = model(claims, window, dup_window)
    assert set(t.ips) == set(want)
    for key, w in want.items():
        s = t.ips[key]
        got_claimants = {m: (c.frames, c.first, c.last) for m, c in s.claimants().items()}
        assert got_claimants == w["claimants"]
        assert list(got_claimants) == sorted(got_claimants, key=lambda m: (got_claimants[m][1], m))
        assert (s.changes, s.flip_flops, s.duplicate_replies, s.owner, s.frames, s.requests,
                s.gratuitous) == (w["changes"], w["flip_flops"], w["duplicate_replies"],
                                  w["owner"], w["frames"], w["requests"], w["gratuitous"])
        assert (s.fight_pairs or {}) == w["fight_pairs"] and not s.fight_pairs_overflow


@settings(max_examples=300, deadline=None)
@given(claims=claim_streams(), window=WINDOWS, max_runs=st.sampled_from([0, 1, 2, 64]))
def test_tracker_invariants(claims: list[Claim], window: float, max_runs: int) -> None:
    t = track(claims, window=window, max_runs=max_runs)
    assert sum(c.frames for s in t.ips.values() for c in s.claimants().values()) == len(claims)
    assert sum(s.frames for s in t.ips.values()) == len(claims)
    if claims:
        assert t.now == max(c.time for c in claims)
    for s in t.ips.values():
        v = verdict(s)
        assert s.flip_flops <= s.changes
        assert (v == CONTESTED) == bool(s.flip_flops or s.duplicate_replies)
        assert (v == OK) == (s.changes == 0 and s.duplicate_replies == 0)
        assert v in (OK, MOVED, CONTESTED)
        assert s.changes == sum(c.runs for c in s.claimants().values()) - 1
        timeline = s.timeline()
        assert 1 <= len(timeline) <= max_runs + 1  # memory bound
        assert len(timeline) == min(s.changes, max_runs) + 1
        assert timeline[-1].mac == s.owner
        assert all(a.mac != b.mac for a, b in pairwise(timeline))
        if len(timeline) == s.changes + 1:  # nothing dropped: the runs add up
            assert sum(r.frames for r in timeline) == s.frames
    assert exit_status([verdict(s) for s in t.ips.values()]) == int(
        any(verdict(s) == CONTESTED for s in t.ips.values()))


@settings(max_examples=200, deadline=None)
@given(claims=claim_streams(), window=WINDOWS, cuts=st.lists(st.integers(0, 60), max_size=5))
def test_feed_one_by_one_or_in_batches_equals_feed_all(claims: list[Claim], window: float,
                                                      cuts: list[int]) -> None:
    whole = track(claims, window=window)
    single = OwnershipTracker(window=window)
    for c in claims:
        single.feed(c)
    batched = OwnershipTracker(window=window)
    bounds = [0, *sorted(min(x, len(claims)) for x in cuts), len(claims)]
    for lo, hi in pairwise(bounds):
        batched.feed_all(claims[lo:hi])
    assert snapshot(single) == snapshot(whole) == snapshot(batched)


def test_memory_bound_for_a_long_fight() -> None:
    """20,000 alternations: the kept history stays at max_runs + 1 runs."""
    seq = [claim(i * 0.5, MACS[i % 3], VIP) for i in range(20_000)]
    t = track(seq, max_runs=8)
    s = t.ips[KEY]
    assert len(s.runs) == 8 and len(s.timeline()) == 9
    assert s.changes == 19_999 and s.flip_flops == 19_997
    assert len(s.closed) == 3


# -- IPv6 Neighbor Discovery: the same tracker, 16-byte keys -----------------------------------

def _v6(b: bytes) -> bytes:
    """An IPv4 test address embedded in the documentation prefix (2001:db8::a.b.c.d)."""
    return bytes.fromhex("20010db8") + bytes(8) + b


def to_ndp(c: Claim) -> Claim:
    """The Neighbor Discovery twin of an ARP claim, as decode_ndp maps it: a request is a
    solicitation (op 135) for ``tpa`` from ``spa``; a gratuitous claim an unsolicited
    advertisement (S=0, tpa = the target); a reply a solicited advertisement to ``tpa``."""
    if c.op == 1:
        op = ND_SOLICIT
    elif c.spa == c.tpa:
        op = ND_ADVERT | NA_OVERRIDE
    else:
        op = ND_ADVERT | NA_SOLICITED | NA_OVERRIDE
    return c._replace(op=op, spa=_v6(c.spa), tpa=_v6(c.tpa))


@settings(max_examples=200, deadline=None)
@given(claims=claim_streams(), window=WINDOWS, dup_window=DUP_WINDOWS)
def test_ndp_claims_are_judged_like_their_arp_twins(claims: list[Claim], window: float,
                                                     dup_window: float) -> None:
    arp = snapshot(track(claims, window=window, dup_window=dup_window))
    ndp = snapshot(track([to_ndp(c) for c in claims], window=window, dup_window=dup_window))
    rekeyed = {(k[0], k[1], _v6(k[2])) if isinstance(k, tuple) else k: v for k, v in arp.items()}
    assert ndp == rekeyed


def _nd_frames() -> dict[str, bytes]:
    """Real frames (conftest's builders): a client's solicitation and answers to it."""
    from conftest import ETH_IPV6, ether, ip6, ipv6, ll_option, nd

    client, vip, group = ip6("2001:db8::10"), ip6("2001:db8::100"), ip6("ff02::1:ff00:100")
    all_nodes = ip6("ff02::1")

    def answer(mac_: bytes, flags: int = 0x60) -> bytes:
        return ether(R1, mac_, ETH_IPV6, ipv6(vip, client, nd(vip, client, 136, vip, flags=flags,
                                                                options=ll_option(2, mac_))))

    return {
        "ask": ether(mac("33:33:ff:00:01:00"), R1, ETH_IPV6,
                     ipv6(client, group, nd(client, group, 135, vip, options=ll_option(1, R1)))),
        "a": answer(A), "b": answer(B),
        "unsolicited_a": ether(mac("33:33:00:00:00:01"), A, ETH_IPV6, ipv6(
            vip, all_nodes, nd(vip, all_nodes, 136, vip, flags=0x20, options=ll_option(2, A)))),
        "unsolicited_b": ether(mac("33:33:00:00:00:01"), B, ETH_IPV6, ipv6(
            vip, all_nodes, nd(vip, all_nodes, 136, vip, flags=0x20, options=ll_option(2, B)))),
    }


def _decoded(*seq: tuple[float, str]) -> list[Claim]:
    from arpwatch_lb.core.frames import decode

    frames = _nd_frames()
    out = [decode(1, frames[name], t) for t, name in seq]
    assert all(isinstance(c, Claim) for c in out)
    return out  # type: ignore[return-value]


V6_KEY = (None, None, bytes.fromhex("20010db8000000000000000000000100"))


def test_two_solicited_advertisements_for_one_solicitation_are_a_duplicate_reply() -> None:
    t = track(_decoded((10.0, "ask"), (10.001, "a"), (10.002, "b")))
    assert stats(t, V6_KEY) == (CONTESTED, 1, 0, 1)
    st_ = t.ips[V6_KEY]
    assert st_.replies == 2 and st_.fight_pairs == {(A, B): 1}
    asker = (None, None, bytes.fromhex("20010db8000000000000000000000010"))
    assert stats(t, asker) == (OK, 0, 0, 0) and t.ips[asker].requests == 1


def test_a_client_soliciting_again_across_a_v6_failover_is_not_a_duplicate() -> None:
    t = track(_decoded((10.0, "ask"), (10.001, "a"), (10.5, "ask"), (10.501, "b")))
    assert stats(t, V6_KEY) == (MOVED, 1, 0, 0)


def test_unsolicited_advertisements_alternating_are_a_flip_flop() -> None:
    t = track(_decoded((0.0, "unsolicited_a"), (1.1, "unsolicited_b"), (2.2, "unsolicited_a")))
    assert stats(t, V6_KEY) == (CONTESTED, 2, 1, 0)
    assert t.ips[V6_KEY].gratuitous == 3 and t.ips[V6_KEY].replies == 3


def test_an_ipv4_and_an_ipv6_vip_are_separate_keys() -> None:
    t = track([*garps(A, 0, 1), *_decoded((2.0, "unsolicited_b"))])
    assert set(t.ips) == {KEY, V6_KEY}
    assert verdict(t.ips[KEY]) == verdict(t.ips[V6_KEY]) == OK
