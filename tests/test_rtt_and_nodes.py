"""Probe round trips (:class:`~arpwatch_lb.sessions.probe.ProbeRtts`) and node-aware judging: verdicts,
report fields, events, table and metrics — fast, no kernel (the lab tests are in
``test_live_probe.py``, ``test_live_watch.py`` and ``test_live_kubernetes.py``)."""

from __future__ import annotations

import json

import pytest
from conftest import claim, ip, mac
from prometheus_client import CollectorRegistry

from arpwatch_lb.core.addresses import VipSet, parse_vips
from arpwatch_lb.core.event_policy import EventPolicy
from arpwatch_lb.core.frames import Claim
from arpwatch_lb.core.probe_plan import ProbeRtts
from arpwatch_lb.core.report import build_report
from arpwatch_lb.core.tracker import MAX_FIGHT_PAIRS, OwnershipTracker
from arpwatch_lb.core.verdicts import CONTESTED, MOVED, OK, cross_node_fights, verdict
from arpwatch_lb.sinks import render_table
from arpwatch_lb.sinks.metrics import TrackerCollector, snapshot_tracker
from arpwatch_lb.sources.capture_files import FrameCounts

US_MAC, US_IP = mac("02:00:5e:10:00:99"), ip("192.0.2.99")
VIP, OTHER = ip("192.0.2.100"), ip("192.0.2.101")
N1A, N1B, N2 = mac("02:00:5e:10:00:01"), mac("02:00:5e:10:01:01"), mac("02:00:5e:10:00:02")
KEY = (None, None, VIP)
BOND = {N1A: "node1", N1B: "node1", N2: "node2"}


def to_us(t: float, sha: bytes, spa: bytes = VIP, tha: bytes = US_MAC, tpa: bytes = US_IP
          ) -> Claim:
    """A reply from ``sha`` for ``spa`` addressed to ``tha``/``tpa`` (default: us)."""
    return claim(t, sha, spa, op=2, tha=tha, tpa=tpa, eth_dst=tha, eth_src=sha)


def ask(t: float, target: bytes = VIP) -> Claim:
    """Our who-has for ``target``."""
    return claim(t, US_MAC, US_IP, tpa=target, eth_src=US_MAC)


# -- round trips --------------------------------------------------------------------------


def test_rtt_per_replying_mac_for_replies_to_us_only() -> None:
    r = ProbeRtts(timeout=1.0)
    r.sent("eth0", US_MAC, US_IP, VIP, 100.0)
    r.observe([
        ask(100.0001),                                      # our own request, seen outgoing
        to_us(100.002, N1A),                                # 2 ms
        to_us(100.003, N1B),                                # a second MAC: a second round trip
        to_us(100.004, N1A),                                # the same MAC again: once per request
        to_us(100.005, N2, tha=mac("02:00:5e:10:00:33"), tpa=ip("192.0.2.33")),  # not to us
        to_us(100.005, N2, spa=OTHER),                      # an address we did not ask for
        claim(100.006, N2, VIP, op=2, tpa=VIP),             # a gratuitous reply
    ], "eth0")
    r.observe([to_us(100.007, N2)], "eth1")                 # not sent on eth1
    assert (r.requests, r.answered) == (1, 1)
    assert r.report() == {"sent": 1, "answered": 1,
                          "rtt_seconds": {"count": 2, "min": 0.002, "avg": 0.0025, "max": 0.003}}
    assert r.ip_doc(VIP) == {"count": 2, "min": 0.002, "avg": 0.0025, "max": 0.003}
    assert r.ip_doc(OTHER) is None
    requests, answered, total, per_ip = r.snapshot()
    assert (requests, answered, total[0]) == (1, 1, 2) and total[1] == pytest.approx(0.005)
    assert set(per_ip) == {VIP}


def test_rtt_window_and_matching_to_the_latest_earlier_request() -> None:
    r = ProbeRtts(timeout=1.0)
    r.observe([to_us(10.0, N1A)], "eth0")                   # nothing sent yet: nothing
    r.sent("eth0", US_MAC, US_IP, VIP, 100.0)
    r.observe([to_us(99.9, N1A)], "eth0")                   # before the request: not its reply
    r.observe([to_us(101.5, N1A)], "eth0")                  # after the timeout: not counted
    assert r.total.count == 0 and r.answered == 0
    r.sent("eth0", US_MAC, US_IP, VIP, 102.0)
    r.sent("eth0", US_MAC, US_IP, VIP, 102.5)
    r.observe([to_us(102.7, N1A)], "eth0")                  # credited to the later request
    r.observe([to_us(102.8, N1A)], "eth0")                  # that request already answered by N1A
    assert r.report()["rtt_seconds"] == {"count": 1, "min": 0.2, "avg": 0.2, "max": 0.2}
    assert (r.requests, r.answered) == (3, 1)
    assert ProbeRtts(1.0).report() == {"sent": 0, "answered": 0, "rtt_seconds": {
        "count": 0, "min": None, "avg": None, "max": None}}


def test_report_and_table_carry_probe_rtts() -> None:
    tr = OwnershipTracker()
    r = ProbeRtts(timeout=1.0)
    r.sent("eth0", US_MAC, US_IP, VIP, 100.0)
    claims = [ask(100.0), to_us(100.0015, N1A)]
    tr.feed_all(claims)
    r.observe(claims, "eth0")
    rep = build_report(tr, FrameCounts(), parse_vips(["192.0.2.100", "192.0.2.102"]),
                       mode="probe", probes=r)
    assert rep["probes"] == {"sent": 1, "answered": 1, "rtt_seconds": {
        "count": 1, "min": 0.0015, "avg": 0.0015, "max": 0.0015}}
    by_ip = {e["ip"]: e for e in rep["ips"]}
    assert by_ip["192.0.2.100"]["probe_rtt"]["count"] == 1
    assert by_ip["192.0.2.102"]["probe_rtt"] is None        # unclaimed: never answered
    assert by_ip["192.0.2.102"]["verdict"] == "unclaimed"
    text = render_table(rep)
    assert "our probes: 1 sent, 1 answered; round trips 1.50/1.50/1.50 ms (1)" in text
    assert "PROBE RTT" in text
    plain = build_report(tr, FrameCounts(), VipSet())        # replay: no new fields
    assert "probes" not in plain and "probe_rtt" not in plain["ips"][0]
    assert "PROBE RTT" not in render_table(plain)


# -- node-aware verdicts ------------------------------------------------------------------


def arp_flux(t0: float = 0.0, rounds: int = 3) -> list[Claim]:
    """Every request for the VIP answered by both NICs of node1."""
    out = []
    for i in range(rounds):
        t = t0 + i
        out += [ask(t), to_us(t + 0.001, N1A), to_us(t + 0.002, N1B)]
    return out


def test_two_macs_of_one_node_are_one_claimant() -> None:
    tr = OwnershipTracker()
    tr.feed_all(arp_flux())
    st = tr.ips[KEY]
    assert st.duplicate_replies == 3 and st.flip_flops == 4
    assert st.fight_pairs == {tuple(sorted((N1A, N1B))): 7}
    assert verdict(st) == CONTESTED                      # MACs alone: two announcers
    assert verdict(st, BOND) == OK                       # nodes: one machine answering twice
    assert cross_node_fights(st, BOND) == 0
    assert verdict(st, {N1A: "node1"}) == CONTESTED      # an unknown MAC is a node of its own
    assert verdict(st, {N1A: "node1", N1B: "node2"}) == CONTESTED


def test_a_failover_from_a_bonded_node_is_moved_and_a_real_fight_stays_contested() -> None:
    tr = OwnershipTracker(window=60)
    tr.feed_all(arp_flux())
    tr.feed_all([claim(30.0, N2, VIP, op=2, tpa=VIP)])  # node2 takes over (a new MAC)
    st = tr.ips[KEY]
    assert verdict(st) == CONTESTED and verdict(st, BOND) == MOVED
    tr.feed_all([claim(31.0, N1A, VIP, op=2, tpa=VIP)])  # ... and node1 back within the window
    assert verdict(tr.ips[KEY], BOND) == CONTESTED
    assert cross_node_fights(tr.ips[KEY], BOND) == 1


def test_too_many_fighting_pairs_stay_contested() -> None:
    tr = OwnershipTracker()
    macs = [bytes((2, 0, 0, 0, 1, i)) for i in range(MAX_FIGHT_PAIRS + 5)]
    t = 0.0
    for m in macs[1:]:  # macs[0] against each of the others: more pairs than remembered
        tr.feed_all([claim(t, macs[0], VIP, tpa=VIP), claim(t + 0.1, m, VIP, tpa=VIP),
                     claim(t + 0.2, macs[0], VIP, tpa=VIP)])
        t += 1
    st = tr.ips[KEY]
    assert st.fight_pairs is not None and len(st.fight_pairs) == MAX_FIGHT_PAIRS
    assert st.fight_pairs_overflow
    one_node = dict.fromkeys(macs, "node1")
    assert verdict(st, one_node) == CONTESTED            # cannot prove it was one node: say so


def test_report_names_nodes_and_one_node_many_macs() -> None:
    tr = OwnershipTracker()
    tr.feed_all(arp_flux())
    vips = parse_vips(["192.0.2.100", "192.0.2.102"])
    rep = build_report(tr, FrameCounts(), vips, mode="probe", nodes=BOND)
    e = {x["ip"]: x for x in rep["ips"]}
    vip = e["192.0.2.100"]
    assert vip["verdict"] == "ok" and vip["same_node"] is True and vip["nodes"] == ["node1"]
    assert [(c["mac"], c["node"]) for c in vip["claimants"]] == [
        ("02:00:5e:10:00:01", "node1"), ("02:00:5e:10:01:01", "node1")]
    assert vip["duplicate_replies"] == 3                  # the facts stay exact
    assert e["192.0.2.102"]["nodes"] == [] and e["192.0.2.102"]["same_node"] is False
    text = render_table(rep)
    assert "02:00:5e:10:00:01 [node1]" in text and "(one node, 2 MACs)" in text
    assert "CLAIMANTS [node]" in text
    # without the mapping: the same facts, judged per MAC, and no node fields
    plain = build_report(tr, FrameCounts(), vips, mode="probe")
    pv = next(x for x in plain["ips"] if x["ip"] == "192.0.2.100")
    assert pv["verdict"] == "contested"
    assert "nodes" not in pv and "same_node" not in pv and "node" not in pv["claimants"][0]
    # a MAC without a name: null, and not "one node"
    partial = build_report(tr, FrameCounts(), vips, nodes={N1A: "node1"})
    pe = next(x for x in partial["ips"] if x["ip"] == "192.0.2.100")
    assert [c["node"] for c in pe["claimants"]] == ["node1", None]
    assert pe["same_node"] is False and pe["verdict"] == "contested"
    json.dumps(rep)


# -- events -------------------------------------------------------------------------------


def test_events_name_nodes_and_same_node_fights_are_not_contested() -> None:
    tr = OwnershipTracker(record_events=True)
    policy = EventPolicy(tr, nodes=lambda: BOND)
    tr.feed_all(arp_flux(rounds=1))
    evs = policy.changes(tr.drain(), "eth0")
    kinds = [e["event"] for e in evs]
    assert "contested" not in kinds and policy.contested == {}
    dup = next(e for e in evs if e["event"] == "duplicate_reply")
    assert (dup["mac"], dup["node"], dup["previous_node"], dup["same_node"]) == (
        "02:00:5e:10:01:01", "node1", "node1", True)
    new = [e for e in evs if e["event"] == "new_claimant" and e["ip"] == "192.0.2.100"]
    assert [e["node"] for e in new] == ["node1", "node1"]
    # node2 answers the same request too: a fight between nodes
    tr.feed_all([ask(5.0), to_us(5.001, N1A), to_us(5.002, N2)])
    evs = policy.changes(tr.drain(), "eth0")
    contested = [e for e in evs if e["event"] == "contested"]
    assert len(contested) == 1 and contested[0]["nodes"] == ["node1", "node2"]
    assert contested[0]["node"] == "node2"
    summary = policy.summary(6.0, FrameCounts(), 0, {})
    assert summary["ips"]["contested"] == 1
    [resolved] = policy.tick(1000.0)
    assert resolved["nodes"] == ["node1", "node2"] and resolved["node"] in ("node1", "node2")


def test_events_without_nodes_are_unchanged() -> None:
    tr = OwnershipTracker(record_events=True)
    policy = EventPolicy(tr)
    tr.feed_all(arp_flux(rounds=1))
    evs = policy.changes(tr.drain(), "eth0")
    assert any(e["event"] == "contested" for e in evs)
    assert not any(k in e for e in evs for k in ("node", "nodes", "previous_node", "same_node"))


# -- metrics ------------------------------------------------------------------------------


def registry(source) -> CollectorRegistry:  # type: ignore[no-untyped-def]
    reg = CollectorRegistry()
    reg.register(TrackerCollector(source))
    return reg


def test_metrics_probe_rtts_global_and_per_exported_vip() -> None:
    tr = OwnershipTracker()
    r = ProbeRtts(timeout=1.0)
    for i, target in enumerate((VIP, OTHER)):
        r.sent("eth0", US_MAC, US_IP, target, 100.0 + i)
        claims = [to_us(100.0 + i + 0.001, N1A, spa=target)]
        tr.feed_all(claims)
        r.observe(claims, "eth0")
    r.sent("eth0", US_MAC, US_IP, ip("192.0.2.102"), 103.0)  # nobody answers
    g = registry(lambda: snapshot_tracker(tr, vips=parse_vips(["192.0.2.100"]),
                                          probes=r)).get_sample_value
    assert g("arpwatch_lb_probe_rtt_seconds_count") == 2
    assert g("arpwatch_lb_probe_rtt_seconds_sum") == pytest.approx(0.002)
    assert g("arpwatch_lb_probe_requests_total") == 3
    assert g("arpwatch_lb_probe_answered_total") == 2
    assert g("arpwatch_lb_ip_probe_rtt_seconds_count", {"vip": "192.0.2.100"}) == 1
    assert g("arpwatch_lb_ip_probe_rtt_seconds_count", {"vip": "192.0.2.101"}) is None  # not exported
    none = registry(lambda: snapshot_tracker(tr)).get_sample_value
    assert none("arpwatch_lb_probe_rtt_seconds_count") is None


def test_metrics_contested_follows_the_node_verdict() -> None:
    """node1's two NICs answer every request, then node2 takes over cleanly: no fight
    between nodes, although two nodes claimed the VIP and it had duplicate replies."""
    tr = OwnershipTracker(window=60)
    tr.feed_all(arp_flux(t0=100.0))
    tr.feed_all([claim(110.0, N2, VIP, op=2, tpa=VIP)])
    v = {"vip": "192.0.2.100", "vlan": ""}
    g = registry(lambda: snapshot_tracker(tr, nodes=BOND)).get_sample_value
    assert g("arpwatch_lb_ip_claimant_nodes", v) == 2
    assert g("arpwatch_lb_ip_contested", v) == 0
    assert registry(lambda: snapshot_tracker(tr)).get_sample_value(
        "arpwatch_lb_ip_contested", v) == 1                # per MAC it is a fight


def test_doctor_wire_fight_is_between_nodes_only() -> None:
    """doctor's wire view: node1's two NICs alternating, then node2 taking over cleanly,
    is no fight; node2 fighting back within the window is one."""
    from arpwatch_lb.kube.diagnosis import _wire

    tr = OwnershipTracker(window=60)
    tr.feed_all(arp_flux())
    tr.feed_all([claim(30.0, N2, VIP, op=2, tpa=VIP)])
    w = _wire("192.0.2.100", tr, BOND)
    assert w["fight"] is False and sorted(w["nodes"]) == ["node1", "node2"]
    tr.feed_all([claim(31.0, N1A, VIP, op=2, tpa=VIP)])
    assert _wire("192.0.2.100", tr, BOND)["fight"] is True
