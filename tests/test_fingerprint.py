"""The wire fingerprints (core/fingerprint.py) from literal frame sequences.

Each test feeds the tracker the frames an announcer sends (from the field
notes, "Who sends what") and checks the kind named — and how soon: kube-vip
within three periods, MetalLB within one burst, Cilium with its GARP plus one
answered request, keepalived within one burst or one advert.  Without
distinctive evidence the kind is ``unknown``.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from collections import Counter
from pathlib import Path

import pcapgen as g
import pytest
from conftest import BROADCAST, ETH_IPV4, TPID_8021Q, ZERO_MAC, claim, ether, ip, mac

from arpwatch_lb.core.addresses import VipSet
from arpwatch_lb.core.event_policy import EventPolicy
from arpwatch_lb.core.fingerprint import HINT_EVERY_NODE, FingerprintTable
from arpwatch_lb.core.frames import Claim, VrrpAdvert, decode
from arpwatch_lb.core.report import build_report
from arpwatch_lb.core.tracker import OwnershipTracker
from arpwatch_lb.sessions.replay import replay
from arpwatch_lb.sources.capture_files import CaptureReader
from arpwatch_lb.sources.link_socket import ARP_FILTER

A, B, C = mac("02:00:5e:10:00:01"), mac("02:00:5e:10:00:02"), mac("02:00:5e:10:00:03")
CLIENT, CLIENT_IP = mac("02:00:5e:10:00:10"), ip("192.0.2.10")
VIP = ip("192.0.2.100")
KEY = (None, None, VIP)
T0 = 1_795_832_880.0


def kind(tr: OwnershipTracker, m: bytes, key: tuple = KEY) -> str:
    return tr.announcer(key, m).kind


def fed(*claims: Claim) -> OwnershipTracker:
    tr = OwnershipTracker()
    tr.feed_all(claims)
    return tr


def kubevip(t: float, m: bytes, op: int, vip: bytes = VIP) -> Claim:
    """kube-vip's GARP: op=2 with the target MAC = own MAC, op=1 with it broadcast; 42 bytes."""
    return claim(t, m, vip, op=op, tha=m if op == 2 else BROADCAST, length=42)


def pair(t: float, m: bytes) -> list[Claim]:
    """MetalLB's gratuitous pair: op=1 then op=2, target MAC broadcast, 60 bytes."""
    return [claim(t, m, VIP, op=1), claim(t + 0.0002, m, VIP, op=2)]


def request(t: float, vip: bytes = VIP, length: int = 58, sha: bytes = CLIENT,
            spa: bytes = CLIENT_IP) -> Claim:
    return claim(t, sha, spa, op=1, tha=ZERO_MAC, tpa=vip, length=length)


def reply(t: float, m: bytes, length: int = 42, vip: bytes = VIP) -> Claim:
    return claim(t, m, vip, op=2, tha=CLIENT, tpa=CLIENT_IP, eth_dst=CLIENT, length=length)


def vrrp_frame(src: bytes, src_ip: bytes, vrid: int, priority: int, addrs: list[bytes], *,
               version: int = 2, interval: int = 1, tags: tuple = (),
               dst: bytes = ip("224.0.0.18"), proto: int = 112, frag: int = 0) -> bytes:
    """An Ethernet frame with an IPv4 VRRP advertisement (RFC 3768 / RFC 5798), byte by byte."""
    if version == 2:
        body = struct.pack("!BBBBBBH", 0x21, vrid, priority, len(addrs), 0, interval, 0)
        body += b"".join(addrs) + bytes(8)
    else:
        body = struct.pack("!BBBBHH", 0x31, vrid, priority, len(addrs), interval * 100, 0)
        body += b"".join(addrs)
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(body), 0, frag, 255, proto, 0,
                      src_ip, dst)
    return ether(mac("01:00:5e:00:00:12"), src, ETH_IPV4, iph + body, tags=tags)


def advert(t: float, src: bytes, src_ip: bytes, vrid: int = 51, priority: int = 100,
           addrs: tuple[bytes, ...] = (VIP,)) -> VrrpAdvert:
    a = decode(1, vrrp_frame(src, src_ip, vrid, priority, list(addrs)), t)
    assert isinstance(a, VrrpAdvert)
    return a


# -- kube-vip ------------------------------------------------------------------


def test_kube_vip_alternating_named_within_three_periods() -> None:
    frames = [kubevip(T0 + 3.0 * i, A, 2 if i % 2 == 0 else 1) for i in range(4)]
    assert kind(fed(*frames[:2]), A) == "unknown"
    tr = fed(*frames[:3])
    assert tr.announcer(KEY, A) == ("kube-vip", "GARP op2/op1 alternating every 3.0 s (3 seen)")


@pytest.mark.parametrize("rate", [0.5, 1.0, 7.0])
def test_kube_vip_any_rate_from_half_a_second_when_alternating(rate: float) -> None:
    frames = [kubevip(T0 + rate * i, A, 2 if i % 2 == 0 else 1) for i in range(3)]
    assert kind(fed(*frames), A) == "kube-vip"


def test_kube_vip_with_an_even_number_of_vips_keeps_one_opcode_per_vip() -> None:
    # The toggle is process-wide, per frame: with two VIPs each VIP always gets the same opcode.
    other = ip("192.0.2.101")
    frames = []
    for i in range(3):
        frames += [kubevip(T0 + 3 * i, A, 2), kubevip(T0 + 3 * i + 0.0001, A, 1, other)]
    tr = fed(*frames)
    assert tr.announcer(KEY, A).evidence == ("GARP op2 with target MAC = own MAC every 3.0 s "
                                            "(3 seen)")
    assert tr.announcer((None, None, other), A).evidence == "GARP op1 every 3.0 s (3 seen)"


def test_steady_garps_that_are_not_kube_vip_shaped_are_unknown() -> None:
    op1_slow = [kubevip(T0 + 7.0 * i, A, 1) for i in range(4)]  # op1 only, not ~3 s
    op2_bcast = [claim(T0 + 3.0 * i, A, VIP, op=2) for i in range(4)]  # target MAC broadcast
    assert kind(fed(*op1_slow), A) == "unknown"
    assert kind(fed(*op2_bcast), A) == "unknown"


def test_kube_vip_answered_by_the_kernel() -> None:
    tr = fed(*[kubevip(T0 + 3.0 * i, A, 2 - i % 2) for i in range(3)], request(T0 + 7),
             reply(T0 + 7.0001, A))
    assert tr.announcer(KEY, A).evidence.endswith("; 1 request answered")


# -- MetalLB -------------------------------------------------------------------


def test_metallb_named_by_its_second_pair() -> None:
    assert kind(fed(*pair(T0, A)), A) == "unknown"
    tr = fed(*pair(T0, A), *pair(T0 + 1.1, A))
    assert tr.announcer(KEY, A) == (
        "metallb", "GARP pairs op1+op2 (target MAC broadcast, 60 bytes) 1.1 s apart (2 pairs seen)")


def test_pairs_without_the_cadence_are_unknown() -> None:
    assert kind(fed(*pair(T0, A), *pair(T0 + 30, A)), A) == "unknown"


# -- keepalived ----------------------------------------------------------------


def test_keepalived_named_by_one_burst() -> None:
    burst = [claim(T0 + 0.0001 * i, A, VIP, op=1, length=42) for i in range(5)]
    tr = fed(*burst)
    assert tr.announcer(KEY, A) == ("keepalived", "bursts of 5 GARP op1 back-to-back (1 burst)")
    again = [claim(T0 + 5 + 0.0001 * i, A, VIP, op=1, length=42) for i in range(5)]
    assert "the next about 5 s later" in fed(*burst, *again).announcer(KEY, A).evidence


def test_a_storm_of_garps_is_no_burst() -> None:
    storm = [claim(T0 + 0.001 * i, A, VIP, op=1) for i in range(100)]
    assert kind(fed(*storm), A) == "unknown"


def test_garps_a_second_apart_are_no_burst() -> None:  # Habets arping -U
    assert kind(fed(*[claim(T0 + i, A, VIP, op=1) for i in range(3)]), A) == "unknown"


def test_keepalived_named_by_one_advert_listing_the_address() -> None:
    tr = fed(request(T0), reply(T0 + 0.0001, A))
    assert kind(tr, A) == "unknown"
    tr.feed_adverts([advert(T0 + 1, A, ip("192.0.2.11"), priority=150)])
    assert tr.announcer(KEY, A) == (
        "keepalived", "its VRRP adverts for VRID 51 (priority 150) list this address (1 seen); "
        "1 request answered")


def test_an_advert_for_other_addresses_names_nothing() -> None:
    tr = fed(request(T0), reply(T0 + 0.0001, A))
    tr.feed_adverts([advert(T0 + 1, A, ip("192.0.2.11"), addrs=(ip("192.0.2.200"),))])
    assert kind(tr, A) == "unknown"


def test_keepalived_named_by_the_virtual_mac() -> None:
    vmac = mac("00:00:5e:00:01:33")
    tr = fed(request(T0), reply(T0 + 0.0001, vmac))
    assert tr.announcer(KEY, vmac).evidence.startswith(
        "claims from the VRRP virtual MAC of VRID 51")
    assert kind(tr, vmac) == "keepalived"


# -- Cilium --------------------------------------------------------------------


def cilium_garp(t: float, m: bytes) -> Claim:
    return claim(t, m, VIP, op=2, tha=BROADCAST, length=60)


def test_cilium_named_by_its_garp_and_one_reply_as_long_as_the_request() -> None:
    assert kind(fed(cilium_garp(T0, B)), B) == "unknown"
    tr = fed(cilium_garp(T0, B), request(T0 + 1, length=58), reply(T0 + 1.0001, B, length=58))
    assert tr.announcer(KEY, B) == (
        "cilium", "one op2 broadcast GARP at take-over, then silence; replies as long as the "
        "request (1 seen); 1 request answered")


def test_a_reply_of_another_length_is_not_cilium() -> None:
    tr = fed(cilium_garp(T0, B), request(T0 + 1, length=58), reply(T0 + 1.0001, B, length=42))
    a = tr.announcer(KEY, B)
    assert a.kind == "unknown" and "of another length than the request" in a.evidence


def test_repeated_op2_broadcasts_are_not_cilium() -> None:
    tr = fed(cilium_garp(T0, B), cilium_garp(T0 + 1, B), request(T0 + 2),
             reply(T0 + 2.0001, B, length=58))
    assert kind(tr, B) == "unknown"


def test_a_reply_to_a_request_for_another_ip_is_no_length_evidence() -> None:
    # The requester's latest request asked for another IP: nothing to compare.
    tr = fed(cilium_garp(T0, B), request(T0 + 1, vip=ip("192.0.2.99")),
             reply(T0 + 1.0001, B, length=58))
    assert kind(tr, B) == "unknown"


# -- the kernel ----------------------------------------------------------------


def test_requests_from_the_address_name_the_kernel() -> None:
    tr = fed(request(T0, vip=ip("192.0.2.1")))
    assert tr.announcer((None, None, CLIENT_IP), CLIENT) == (
        "kernel", "sends ARP requests from this address: a host's own address")


def test_replies_alone_name_nothing() -> None:
    tr = fed(request(T0), reply(T0 + 0.0001, A), reply(T0 + 0.0002, B))
    for m in (A, B):
        assert tr.announcer(KEY, m) == ("unknown", "no distinctive evidence: 1 request answered")
    assert tr.announcer_hint(KEY) is None


def test_three_macs_answering_one_request_is_every_node() -> None:
    frames = [request(T0), reply(T0 + 0.0001, A), reply(T0 + 0.0002, B), reply(T0 + 0.0003, C)]
    tr = fed(*frames)
    assert [kind(tr, m) for m in (A, B, C)] == ["kernel"] * 3
    assert tr.announcer_hint(KEY) == HINT_EVERY_NODE
    # ... unless one of them announces the address: then it is an announcer's VIP.
    tr = fed(claim(T0 - 5, A, VIP, op=1), *frames)
    assert tr.announcer_hint(KEY) is None and kind(tr, B) == "unknown"


def test_rfc5227_announcements_and_requests_name_the_kernel() -> None:
    announce = claim(T0, A, VIP, op=1, tha=ZERO_MAC)
    tr = fed(announce, request(T0 + 1, vip=ip("192.0.2.1"), sha=A, spa=VIP))
    assert kind(tr, A) == "kernel"


# -- shapes together -----------------------------------------------------------


def test_two_announcers_on_one_mac_name_both() -> None:
    frames = [kubevip(T0 + 3.0 * i, A, 2 - i % 2) for i in range(3)]
    frames += pair(T0 + 0.5, A) + pair(T0 + 1.6, A)
    frames.sort(key=lambda c: c.time)
    a = fed(*frames).announcer(KEY, A)
    assert a.kind == "kube-vip" and "; also metallb-shaped: GARP pairs" in a.evidence


def test_a_unicast_answer_to_a_garp_is_a_reply_not_an_announcement() -> None:
    # MetalLB's proxy answering kube-vip's op=1 GARP: sender IP = target IP, but unicast.
    answer = claim(T0, B, VIP, op=2, tha=A, eth_dst=A, length=42)
    tr = fed(answer)
    fp = tr.fingerprints.find(KEY, B)
    assert fp is not None and fp.garps is None and fp.replies == 1


def test_evict_forgets_an_ip() -> None:
    table = FingerprintTable()
    table.get(KEY, A)
    table.get(KEY, B)
    table.get((None, None, CLIENT_IP), CLIENT)
    table.answered_together(KEY, CLIENT_IP, A, B, T0, 1.0)
    assert len(table) == 3
    table.evict(KEY, [A, B])
    assert len(table) == 1
    assert table.find(KEY, A) is None and not table.shared


# -- VRRP ----------------------------------------------------------------------


def test_vrrp_v2_and_v3_adverts_decode() -> None:
    a = decode(1, vrrp_frame(A, ip("192.0.2.11"), 51, 150, [VIP, ip("192.0.2.101")]), T0)
    assert a == VrrpAdvert(T0, None, None, A, ip("192.0.2.11"), ip("224.0.0.18"), 2, 51, 150, 1.0,
                           (VIP, ip("192.0.2.101")))
    b = decode(1, vrrp_frame(A, ip("192.0.2.11"), 7, 0, [VIP], version=3, interval=2,
                             tags=((TPID_8021Q, 20),)), T0)
    assert isinstance(b, VrrpAdvert)
    assert (b.vlan, b.version, b.vrid, b.priority, b.interval) == (20, 3, 7, 0, 2.0)


@pytest.mark.parametrize("frame", [
    vrrp_frame(A, ip("192.0.2.11"), 51, 150, [VIP], proto=17),  # UDP
    vrrp_frame(A, ip("192.0.2.11"), 51, 150, [VIP], frag=0x0010),  # a later fragment
    vrrp_frame(A, ip("192.0.2.11"), 0, 150, [VIP]),  # VRID 0
    vrrp_frame(A, ip("192.0.2.11"), 51, 150, [VIP])[:40],  # cut inside the advert
])
def test_anything_else_of_ipv4_stays_non_arp(frame: bytes) -> None:
    assert decode(1, frame, T0) == "non_arp"


def adverts(*seq: tuple[float, bytes, int]) -> OwnershipTracker:
    """(time, router IP, priority) adverts of VRID 51, router MAC per IP."""
    tr = OwnershipTracker(record_events=True)
    for t, src_ip, prio in seq:
        tr.feed_adverts([advert(T0 + t, mac("02:00:5e:10:00:" + src_ip[-1:].hex()), src_ip,
                                priority=prio)])
    return tr


R1, R2 = ip("192.0.2.11"), ip("192.0.2.12")


def split(tr: OwnershipTracker) -> bool:
    [g] = tr.fingerprints.vrrp.groups.values()
    return g.splits > 0


def test_two_masters_alternating_are_a_split_brain() -> None:
    tr = adverts((0, R1, 150), (0.5, R2, 100), (1, R1, 150))
    assert split(tr)
    [ev] = EventPolicy(tr).changes(tr.drain(), "eth0")
    assert ev["event"] == "vrrp_split_brain" and ev["vrid"] == 51 and ev["ip"] == "192.0.2.100"
    assert sorted(s["priority"] for s in ev["sources"]) == [100, 150]


def test_masters_interleaving_in_runs_are_a_split_brain() -> None:
    seq = [(t, R1, 150) for t in range(5)] + [(t, R2, 100) for t in range(5, 8)] + [(8, R1, 150)]
    assert split(adverts(*seq))


@pytest.mark.parametrize("seq", [
    [(0, R1, 100), (1, R1, 100), (1.5, R2, 150), (2.5, R2, 150), (3.5, R2, 150)],  # preemption
    [(0, R1, 150), (1, R1, 0), (1.6, R2, 100), (2.6, R2, 100)],  # resignation, failover
    [(0, R1, 150), (1, R1, 150), (5, R2, 100), (6, R2, 100), (20, R1, 150)],  # deaths, silence
])
def test_failovers_are_no_split_brain(seq: list) -> None:
    assert not split(adverts(*seq))


# -- events and the report --------------------------------------------------------


def test_announcer_identified_once_when_known_and_again_when_it_changes() -> None:
    tr = OwnershipTracker(record_events=True)
    policy = EventPolicy(tr)
    lines = []
    for i in range(5):
        tr.feed(kubevip(T0 + 3.0 * i, A, 2 - i % 2))
        lines += [ev for ev in policy.changes(tr.drain(), "eth0")
                  if ev["event"] == "announcer_identified"]
    [ev] = lines
    assert (ev["announcer"], ev["previous_announcer"], ev["mac"]) == ("kube-vip", None,
                                                                      "02:00:5e:10:00:01")
    assert ev["evidence"].startswith("GARP op2/op1 alternating every 3.0 s")
    assert ev["time"] == T0 + 6.0  # the third tick
    tr.feed_adverts([advert(T0 + 13, A, R1, priority=150)])  # VRRP outranks the GARP shape
    [ev] = [e for e in policy.changes(tr.drain(), "eth0") if e["event"] == "announcer_identified"]
    assert (ev["announcer"], ev["previous_announcer"]) == ("keepalived", "kube-vip")


def test_a_burst_is_named_only_once_it_is_over() -> None:
    """Live, a tick of several frames is folded once TICK_GAP passed: a storm never flickers."""
    tr = OwnershipTracker(record_events=True)
    kinds = []
    for i in range(40):
        tr.feed(claim(T0 + 0.002 * i, A, VIP, op=1))
        kinds += [c.announcer for c in tr.drain() if c.kind == "announcer_identified"]
    tr.feed(request(T0 + 1.0, vip=ip("192.0.2.1")))  # time moves on: the storm is over
    kinds += [c.announcer for c in tr.drain() if c.kind == "announcer_identified"]
    assert kinds == ["kernel"]  # only the client's own address; the storm named nothing


def test_one_burst_is_named_when_time_moves_on() -> None:
    """A keepalived that sends a single burst (5 op=1 back-to-back) and falls silent is named at
    the first drain after the burst is over, whoever's frame moves network time on."""
    tr = OwnershipTracker(record_events=True)
    kinds = []
    for i in range(5):
        tr.feed(claim(T0 + 0.001 * i, A, VIP, op=1))
        kinds += [c.announcer for c in tr.drain() if c.kind == "announcer_identified"]
    assert kinds == []  # the burst may still grow into a storm
    tr.feed(request(T0 + 1.0, vip=ip("192.0.2.1")))  # another host: time moves on
    named = {(c.mac, c.announcer) for c in tr.drain() if c.kind == "announcer_identified"}
    assert (A, "keepalived") in named


def test_report_fields() -> None:
    tr = fed(*[kubevip(T0 + 3.0 * i, A, 2 - i % 2) for i in range(3)])
    tr.feed_adverts([advert(T0, B, R2, addrs=(ip("198.51.100.1"),))])
    doc = build_report(tr, {}, VipSet())
    [e] = doc["ips"]
    assert e["claimants"][0]["announcer"]["kind"] == "kube-vip"
    assert e["announcer_hint"] is None
    assert doc["schema"] == "arpwatch-lb/report/2"
    assert doc["vrrp"]["adverts"] == 1
    [g] = doc["vrrp"]["virtual_routers"]
    assert (g["vrid"], g["addresses"], g["split_brain"]) == (51, ["198.51.100.1"], False)


# -- every source passes VRRP on; the live kernel filter admits it -------------------------


def _mixed_frames() -> list[bytes]:
    """ARP, VRRP untagged and tagged, and noise (UDP, IGMP, IPv6), all as Ethernet frames."""
    garp = ether(BROADCAST, A, 0x0806, struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + A + VIP
                 + BROADCAST + VIP)
    udp = vrrp_frame(B, R2, 51, 100, [VIP], proto=17)
    igmp = vrrp_frame(B, R2, 51, 100, [VIP], proto=2)
    ipv6 = ether(BROADCAST, B, 0x86DD, b"\x60" + bytes(60))
    return [garp, vrrp_frame(A, R1, 51, 150, [VIP]), udp, igmp, ipv6,
            vrrp_frame(B, R2, 9, 100, [VIP], tags=((TPID_8021Q, 20),)), garp]


@pytest.mark.parametrize("fmt", ["pcap", "pcap-big-endian", "pcapng", "sll"])
def test_capture_reader_passes_vrrp_adverts_on(tmp_path: Path, fmt: str) -> None:
    frames = _mixed_frames()
    if fmt == "sll":  # Linux cooked v1: the Ethernet header becomes the SLL header
        data = [struct.pack("!HHH8sH", 0, 1, 6, f[6:12], int.from_bytes(f[12:14], "big"))
                + f[14:] for f in frames]
        content = g.pcap([g.Packet(d, 1_000 + i) for i, d in enumerate(data)],
                         linktype=g.LINKTYPE_LINUX_SLL)
    elif fmt == "pcapng":
        content = g.pcapng(g.shb(), g.idb(g.LINKTYPE_ETHERNET),
                           *(g.epb(0, (1_000 + i) * 1_000_000, f) for i, f in enumerate(frames)))
    else:
        content = g.pcap([g.Packet(f, 1_000 + i) for i, f in enumerate(frames)],
                         endian=">" if fmt.endswith("big-endian") else "<")
    reader = CaptureReader(g.write(tmp_path / "mixed.cap", content))
    claims = [c for batch in reader.batches() for c in batch]
    adverts = reader.take_adverts()
    assert len(claims) == 2
    assert [(a.time, a.vlan, a.vrid, a.priority) for a in adverts] == [
        (1_001.0, None, 51, 150), (1_005.0, 20, 9, 100)]
    # Counted exactly as before VRRP was decoded: non-ARP frames.
    assert reader.counts == Counter(total=7, claims=2, non_arp=5)
    assert reader.take_adverts() == []


def test_several_files_hand_adverts_over_in_time_order(tmp_path: Path) -> None:
    one = [g.Packet(vrrp_frame(A, R1, 51, 150, [VIP]), 100 + t) for t in (0, 1, 2)]
    two = [g.Packet(vrrp_frame(B, R2, 51, 100, [VIP]), 100 + t, 500_000) for t in (0, 1, 2)]
    paths = [g.write(tmp_path / "one.pcap", g.pcap(one)), g.write(tmp_path / "two.pcap", g.pcap(two))]
    tr = OwnershipTracker()
    replay(paths, tr)
    [grp] = tr.fingerprints.vrrp.groups.values()
    assert tr.fingerprints.vrrp.adverts == 6
    assert grp.splits == 1 and grp.split_first == 101.0  # A B A: the second hand-over


def _bpf(prog: tuple[tuple[int, int, int, int], ...], pkt: bytes) -> int:
    """Run a classic BPF program (the few instructions the filter uses), as the kernel would."""
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = prog[pc]
        if code == 0x28:  # ldh [k]
            if k + 2 > len(pkt):
                return 0
            acc, pc = int.from_bytes(pkt[k:k + 2], "big"), pc + 1
        elif code == 0x30:  # ldb [k]
            if k + 1 > len(pkt):
                return 0
            acc, pc = pkt[k], pc + 1
        elif code == 0x15:  # jeq #k
            pc += 1 + (jt if acc == k else jf)
        elif code == 0x06:  # ret #k
            return k
        else:
            raise AssertionError(f"unexpected BPF opcode {code:#x}")


def test_live_filter_admits_arp_and_vrrp_tagged_or_not() -> None:
    garp, vrrp, udp, igmp, ipv6, tagged_vrrp, _ = _mixed_frames()
    tagged_arp = garp[:12] + struct.pack("!HH", TPID_8021Q, 20) + garp[12:]
    tagged_udp = udp[:12] + struct.pack("!HH", TPID_8021Q, 20) + udp[12:]
    for pkt in (garp, vrrp, tagged_vrrp, tagged_arp):
        assert _bpf(ARP_FILTER, pkt) == 0x40000
    for pkt in (udp, igmp, ipv6, tagged_udp):
        assert _bpf(ARP_FILTER, pkt) == 0


def test_live_filter_is_what_tcpdump_compiles() -> None:
    """The program is ``tcpdump -dd`` of the expression in its comment (Ethernet, tags in data)."""
    tcpdump = shutil.which("tcpdump") or "/usr/bin/tcpdump"
    sample = Path(__file__).resolve().parents[1] / "pcaps" / "single-owner.pcap"
    expr = "arp or (ip proto 112) or (vlan and (arp or ip proto 112))"
    out = subprocess.run([tcpdump, "-dd", "-r", str(sample), expr], capture_output=True,
                         text=True, check=True).stdout
    compiled = tuple(tuple(int(x, 0) for x in re.findall(r"0x[0-9a-f]+|\d+", line))
                     for line in out.splitlines() if line.startswith("{"))
    assert compiled == ARP_FILTER


def test_metrics_show_each_claimants_announcer() -> None:
    from prometheus_client import CollectorRegistry

    from arpwatch_lb.sinks.metrics import TrackerCollector, snapshot_tracker

    tr = fed(*[kubevip(T0 + 3.0 * i, A, 2 - i % 2) for i in range(3)], request(T0 + 7),
             reply(T0 + 7.0001, B))
    reg = CollectorRegistry()
    reg.register(TrackerCollector(lambda: snapshot_tracker(tr)))
    labels = {"vip": "192.0.2.100", "vlan": "", "node": ""}
    assert reg.get_sample_value("arpwatch_lb_ip_claimant_info",
                                {**labels, "mac": A.hex(":"), "announcer": "kube-vip"}) == 1
    assert reg.get_sample_value("arpwatch_lb_ip_claimant_info",
                                {**labels, "mac": B.hex(":"), "announcer": "unknown"}) == 1
    assert reg.get_sample_value("arpwatch_lb_ip_claimant_info",
                                {"vip": "192.0.2.10", "vlan": "", "node": "",
                                 "mac": CLIENT.hex(":"), "announcer": "kernel"}) == 1


def test_table_shows_the_kind_and_a_split_brain() -> None:
    from arpwatch_lb.sinks.table import render_table

    tr = fed(*[kubevip(T0 + 3.0 * i, A, 2 - i % 2) for i in range(3)])
    for t, src, prio in ((0, R1, 150), (0.5, R2, 100), (1, R1, 150)):
        tr.feed_adverts([advert(T0 + t, mac(f"02:00:5e:10:00:{src[-1]}"), src, priority=prio)])
    text = render_table(build_report(tr, {}, VipSet()))
    assert "02:00:5e:10:00:01 kube-vip ×3" in text
    assert ("VRRP SPLIT BRAIN: VRID 51 (192.0.2.100) advertised at once by 192.0.2.11 "
            "(02:00:5e:10:00:11) priority 150, 192.0.2.12 (02:00:5e:10:00:12) priority 100") in text
