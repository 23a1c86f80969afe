"""CaptureReader: pcap/pcapng/gzip files written by tests/pcapgen.py.

Two kinds of expectation:

* the fast path (Ethernet pcap, incl. the uniform-run block decoder) must give
  exactly what the reference decoder ``frames.decode`` gives frame by frame;
* file-format facts (timestamps, interfaces, sections, truncation) come from
  how the file was built, and tshark confirms that pcapgen builds them right.
"""

from __future__ import annotations

import gzip
import math
import os
import random
import struct
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from unittest import mock

import pcapgen as g
import pytest
from conftest import (
    BROADCAST,
    ETH_ARP,
    ETH_IPV4,
    ETH_IPV6,
    ETH_RARP,
    TPID_8021AD,
    TPID_8021Q,
    ZERO_IP,
    ZERO_MAC,
    arp,
    ether,
    ext_header,
    icmp6,
    ip,
    ip6,
    ipv6,
    ll_option,
    mac,
    nd,
    sll,
    sll2,
    unprivileged,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arpwatch_lb.core.frames import Claim, decode
from arpwatch_lb.sources import capture_files as captures
from arpwatch_lb.sources.capture_files import CaptureError, CaptureReader, FrameCounts

A = mac("02:00:5e:10:00:01")
B = mac("02:00:5e:10:00:02")
C = mac("00:1b:21:3c:4d:5e")
VIP = ip("192.0.2.10")
VIP2 = ip("192.0.2.11")
V6_VIP = ip6("2001:db8::100")
V6_ASKER = ip6("2001:db8::10")
V6_ALL_NODES = ip6("ff02::1")


def garp(sha: bytes, spa: bytes = VIP, op: int = 1, *, pad: int = 60) -> bytes:
    return ether(BROADCAST, sha, ETH_ARP, arp(op, sha, spa, BROADCAST, spa), pad=pad)


def read(path: Path) -> tuple[list[Claim], CaptureReader]:
    r = CaptureReader(path)
    return list(r), r


def close_to(t: float, exact: Fraction | int) -> bool:
    """``t`` is the float nearest to the exact time, give or take one unit in the last place."""
    return abs(Fraction(t) - Fraction(exact)) <= Fraction(math.ulp(t))


# -- pcapgen writes what tshark reads ----------------------------------------------------------

def _tshark(path: Path, *fields: str) -> list[list[str]]:
    argv = ["tshark", "-n", "-r", str(path), "-T", "fields"]
    for f in fields:
        argv += ["-e", f]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


@pytest.mark.parametrize("gz", [False, True])
def test_pcapgen_output_is_what_tshark_reads(tmp_path: Path, gz: bool) -> None:
    f = garp(A)
    s = sll(arp(1, B, VIP2, ZERO_MAC, VIP2), addr=B)
    path = g.write(tmp_path / "g.pcapng", g.pcapng(
        g.shb(comment="section 1"),
        g.idb(g.LINKTYPE_ETHERNET, tsresol=9),
        g.idb(g.LINKTYPE_LINUX_SLL2, tsoffset=1000),
        g.idb(g.LINKTYPE_ETHERNET, tsresol=0x80 | 10),
        g.epb(0, 1_700_000_000_123_456_789, f),
        g.epb(1, 5_500_000, sll2(arp(2, B, VIP2, A, VIP), addr=B)),
        g.epb(2, 1024 * 7 + 512, f),
        g.spb(f),
        g.opb(0, 42, f),
        g.block(g.BT_NRB, b"\x00" * 4),
        g.shb(">"),
        g.idb(g.LINKTYPE_LINUX_SLL, ">", tsoffset=-10),
        g.epb(0, 20_000_001, s, endian=">"),
    ), gz=gz)
    rows = _tshark(path, "frame.time_epoch", "frame.len", "arp.src.proto_ipv4", "arp.opcode")
    assert rows == [
        ["1700000000.123456789", "60", "192.0.2.10", "1"],
        ["1005.500000000", "48", "192.0.2.11", "2"],
        ["7.500000000", "60", "192.0.2.10", "1"],
        ["", "60", "192.0.2.10", "1"],  # a Simple Packet Block has no timestamp
        ["0.000000042", "60", "192.0.2.10", "1"],
        ["10.000001000", "44", "192.0.2.11", "1"],
    ]
    for endian in "<>":
        for nanos in (False, True):
            p = g.write(tmp_path / f"g{endian == '<'}{nanos}.pcap", g.pcap(
                [g.Packet(f, 1_700_000_000, 123_456_789 if nanos else 123_456, 64)],
                endian=endian, nanos=nanos), gz=gz)
            want = "1700000000.123456789" if nanos else "1700000000.123456000"
            assert _tshark(p, "frame.time_epoch", "frame.len", "frame.cap_len",
                           "arp.src.hw_mac") == [[want, "64", "60", A.hex(":")]]


# -- the fast path equals the reference decoder ---------------------------------------------

SENDERS = st.sampled_from([A, B, C, BROADCAST, ZERO_MAC, mac("01:00:5e:00:00:01")]) | st.binary(
    min_size=6, max_size=6)
IPS = st.sampled_from([VIP, VIP2, ZERO_IP]) | st.binary(min_size=4, max_size=4)


@st.composite
def arp_frame(draw: st.DrawFn, size: int | None = None) -> bytes:
    """An ARP frame in Ethernet II framing: mostly claims, sometimes odd in any field."""
    op = draw(st.sampled_from([1, 2, 1, 2, 3, 4, 0, 9]))
    sha, spa = draw(SENDERS), draw(IPS)
    tha, tpa = draw(SENDERS), draw(IPS)
    htype = draw(st.sampled_from([1, 1, 1, 6, 7]))
    ptype = draw(st.sampled_from([ETH_IPV4, ETH_IPV4, 0x86DD]))
    payload = arp(op, sha, spa, tha, tpa, htype=htype, ptype=ptype)
    if draw(st.integers(0, 9)) == 0:  # odd address sizes
        payload = payload[:4] + bytes([draw(st.integers(0, 255)), draw(st.integers(0, 255))]) + \
            payload[6:]
    src = draw(st.sampled_from([sha, A, C]))
    if size is None:
        size = draw(st.sampled_from([42, 60, 64, 42, 60]) | st.integers(14, 120))
    return ether(BROADCAST, src, ETH_ARP, payload, pad=size)[:size]


@st.composite
def other_frame(draw: st.DrawFn, size: int | None = None) -> bytes:
    """Anything else: tagged or LLC/SNAP ARP, RARP, IP, short or random frames."""
    kind = draw(st.sampled_from(["vlan", "qinq", "snap", "rarp", "ipv4", "ipv6", "lldp", "aarp",
                                 "stp", "short", "random", "jumbo", "nd", "nd", "nd_tagged",
                                 "ipv6_udp", "ipv6_ext", "ipv6_icmp", "type_86xx"]))
    inner = arp(draw(st.sampled_from([1, 2])), draw(SENDERS), draw(IPS), BROADCAST, VIP)
    if kind == "vlan":
        f = ether(BROADCAST, A, ETH_ARP, inner, tags=((TPID_8021Q, draw(st.integers(0, 4095))),))
    elif kind == "qinq":
        f = ether(BROADCAST, A, ETH_ARP, inner, tags=((TPID_8021AD, 200), (TPID_8021Q, 2001)))
    elif kind == "snap":
        llc = bytes.fromhex("aaaa030000000806") + inner
        f = ether(BROADCAST, A, len(llc), llc)
    elif kind == "rarp":
        f = ether(BROADCAST, A, ETH_RARP, arp(draw(st.sampled_from([1, 3, 4])), A, ZERO_IP, A,
                                              ZERO_IP))
    elif kind == "ipv4":
        f = ether(A, B, ETH_IPV4, b"\x45" + bytes(19))
    elif kind == "ipv6":
        f = ether(A, B, 0x86DD, b"\x60" + bytes(39))
    elif kind == "lldp":
        f = ether(mac("01:80:c2:00:00:0e"), A, 0x88CC, bytes(30))
    elif kind == "aarp":
        f = ether(BROADCAST, A, 0x80F3, inner)
    elif kind == "stp":
        f = ether(mac("01:80:c2:00:00:00"), A, 38, b"\x42\x42\x03" + bytes(35))
    elif kind == "short":
        f = garp(A)[: draw(st.integers(0, 41))]
    elif kind == "jumbo":
        f = ether(A, B, ETH_IPV4, bytes(draw(st.sampled_from([1500, 9000]))))
    elif kind in ("nd", "nd_tagged"):  # Neighbor Discovery: claims, probes, malformed
        icmp_type = draw(st.sampled_from([135, 136]))
        src = draw(st.sampled_from([V6_ASKER, bytes(16)]))
        opt = draw(st.sampled_from([b"", ll_option(1 if icmp_type == 135 else 2, draw(SENDERS))]))
        packet = ipv6(src, V6_ALL_NODES, nd(src, V6_ALL_NODES, icmp_type, V6_VIP,
                                            flags=draw(st.sampled_from([0x20, 0x40, 0xA0])),
                                            options=opt),
                      hlim=draw(st.sampled_from([255, 255, 255, 64])))
        tags = ((TPID_8021Q, draw(st.integers(0, 4095))),) if kind == "nd_tagged" else ()
        f = ether(mac("33:33:00:00:00:01"), draw(st.sampled_from([A, C])), ETH_IPV6, packet,
                  tags=tags)
    elif kind == "ipv6_udp":
        f = ether(A, B, ETH_IPV6, ipv6(V6_ASKER, V6_VIP, bytes(draw(st.integers(8, 300))),
                                       nh=17, hlim=64))
    elif kind == "ipv6_ext":  # an extension header first: the reference path walks it
        f = ether(A, B, ETH_IPV6, ipv6(V6_ASKER, V6_ALL_NODES,
                                       nd(V6_ASKER, V6_ALL_NODES, 136, V6_VIP, flags=0x20),
                                       nh=0, ext=ext_header(draw(st.sampled_from([58, 17])))))
    elif kind == "ipv6_icmp":  # ICMPv6 that is not NDP: an echo, an RA, an MLD report
        f = ether(A, B, ETH_IPV6, ipv6(V6_ASKER, V6_VIP,
                                       icmp6(V6_ASKER, V6_VIP, draw(st.sampled_from(
                                           [128, 129, 133, 134, 137, 143])), bytes(20))))
    elif kind == "type_86xx":
        f = ether(A, B, 0x8600 | draw(st.integers(0, 255)), bytes(60))
    else:
        f = draw(st.binary(max_size=200))
    if size is not None:
        f = f.ljust(size, b"\x00")[:size]
    return f


@st.composite
def uniform_run(draw: st.DrawFn) -> list[bytes]:
    """Equal-sized frames in a row (an ARP storm), the block decoder's input."""
    size = draw(st.sampled_from([42, 60, 64]) | st.integers(42, 100))
    frame = arp_frame(size) | other_frame(size)
    if draw(st.booleans()):  # a pure storm: one claim repeated, or nearly
        base = draw(arp_frame(size))
        frame = st.just(base) | arp_frame(size)
    return draw(st.lists(frame, min_size=4, max_size=40))


FRAME_LISTS = st.lists(
    uniform_run() | st.lists(arp_frame() | other_frame(), min_size=1, max_size=6),
    min_size=0, max_size=8).map(lambda parts: [f for part in parts for f in part])


@st.composite
def records(draw: st.DrawFn, nanos: bool) -> list[g.Packet]:
    frames = draw(FRAME_LISTS)
    top = 10**9 if nanos else 10**6
    sec = draw(st.integers(0, 2**32 - 1 - len(frames)))
    out = []
    for f in frames:
        sec += draw(st.integers(0, 1))
        wire = draw(st.none() | st.integers(len(f), len(f) + 100))
        out.append(g.Packet(f, sec, draw(st.integers(0, top - 1)), wire))
    return out


def reference(pkts: list[g.Packet], unit: int, linktype: int = 1) -> tuple[list[Claim], Counter]:
    """Claims and counts by calling frames.decode on each frame."""
    claims, counts = [], Counter()
    for p in pkts:
        r = decode(linktype, p.data, p.sec + p.frac / unit, p.wire_len)
        counts["total"] += 1
        if isinstance(r, Claim):
            counts["claims"] += 1
            claims.append(r)
        else:
            counts[r] += 1
    return claims, counts


def assert_same_claims(got: list[Claim], want: list[Claim]) -> None:
    assert [c[1:] for c in got] == [c[1:] for c in want]
    for a, b in zip(got, want, strict=True):
        assert abs(a.time - b.time) <= 2 * math.ulp(max(abs(b.time), 1.0)), (a.time, b.time)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory for hypothesis examples (function-scoped tmp_path does not fit @given)."""
    return tmp_path_factory.mktemp("examples")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(data=st.data(), endian=st.sampled_from("<>"), nanos=st.booleans(),
       chunk=st.sampled_from([None, 1000, 1536, 4096]))
def test_fast_path_equals_reference_decoder(scratch: Path, data: st.DataObject, endian: str,
                                            nanos: bool, chunk: int | None) -> None:
    pkts = data.draw(records(nanos))
    path = g.write(scratch / "fast.pcap", g.pcap(pkts, endian=endian, nanos=nanos))
    want_claims, want_counts = reference(pkts, 10**9 if nanos else 10**6)
    with mock.patch.object(captures, "CHUNK_SIZE", chunk or captures.CHUNK_SIZE):
        got, reader = read(path)
    assert reader.error is None and reader.warnings == []
    assert_same_claims(got, want_claims)
    assert reader.counts == want_counts


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(data=st.data(), endian=st.sampled_from("<>"), chunk=st.sampled_from([None, 1000]))
def test_pcapng_equals_reference_decoder(scratch: Path, data: st.DataObject, endian: str,
                                         chunk: int | None) -> None:
    pkts = data.draw(records(nanos=True))
    blocks = [g.shb(endian), g.idb(g.LINKTYPE_ETHERNET, endian, tsresol=9)]
    blocks += [g.epb(0, p.sec * 10**9 + p.frac, p.data, p.wire_len, endian) for p in pkts]
    path = g.write(scratch / "fast.pcapng", g.pcapng(*blocks))
    want_claims, want_counts = reference(pkts, 10**9)
    with mock.patch.object(captures, "CHUNK_SIZE", chunk or captures.CHUNK_SIZE):
        got, reader = read(path)
    assert reader.error is None and reader.warnings == []
    # pcapng timestamps are one 64-bit count: allow for the float product's rounding
    assert [c[1:] for c in got] == [c[1:] for c in want_claims]
    for a, b in zip(got, want_claims, strict=True):
        assert abs(a.time - b.time) <= 4 * math.ulp(max(b.time, 1.0))
    assert reader.counts == want_counts


def _cooked(frame: bytes, linktype: int) -> bytes:
    """The same frame as a Linux cooked capture would hold it (short frames stay as they are)."""
    if len(frame) < 14:
        return frame
    proto = struct.unpack_from("!H", frame, 12)[0]
    make = sll if linktype == g.LINKTYPE_LINUX_SLL else sll2
    return make(frame[14:], proto, frame[6:12])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(data=st.data(), endian=st.sampled_from("<>"),
       linktype=st.sampled_from([g.LINKTYPE_LINUX_SLL, g.LINKTYPE_LINUX_SLL2]),
       chunk=st.sampled_from([None, 1000]))
def test_cooked_pcap_equals_reference_decoder(scratch: Path, data: st.DataObject, endian: str,
                                              linktype: int, chunk: int | None) -> None:
    """Linux cooked pcaps take the generic path: the same check, records straddling chunks."""
    pkts = [p._replace(data=_cooked(p.data, linktype)) for p in data.draw(records(nanos=False))]
    path = g.write(scratch / "cooked.pcap", g.pcap(pkts, linktype, endian=endian))
    want_claims, want_counts = reference(pkts, 10**6, linktype)
    with mock.patch.object(captures, "CHUNK_SIZE", chunk or captures.CHUNK_SIZE):
        got, reader = read(path)
    assert reader.error is None and reader.warnings == []
    assert_same_claims(got, want_claims)
    assert reader.counts == want_counts


def test_long_storm_crosses_chunks_in_one_run(tmp_path: Path, monkeypatch) -> None:
    """A 5000-frame storm of equal frames, 1000-byte chunks: every frame once, in order."""
    monkeypatch.setattr(captures, "CHUNK_SIZE", 1000)
    frames = [garp(A if i % 3 else B, ip(f"10.0.{i // 256}.{i % 256}")) for i in range(5000)]
    frames[2500] = garp(BROADCAST)  # one invalid sender MAC in the middle of the run
    frames[4000] = ether(BROADCAST, A, ETH_RARP, arp(3, A, ZERO_IP, A, ZERO_IP))  # and a RARP
    pkts = [g.Packet(f, 100 + i, i) for i, f in enumerate(frames)]
    path = g.write(tmp_path / "storm.pcap", g.pcap(pkts))
    got, reader = read(path)
    want, counts = reference(pkts, 10**6)
    assert_same_claims(got, want)
    assert len(got) == 4998
    assert reader.counts == counts == Counter(total=5000, claims=4998, rarp=1,
                                              **{"malformed.invalid_sender_mac": 1})


# -- pcap -----------------------------------------------------------------------------------

@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nanos", [False, True], ids=["usec", "nsec"])
def test_pcap_byte_orders_and_resolutions(tmp_path: Path, endian: str, nanos: bool) -> None:
    unit = 10**9 if nanos else 10**6
    stamps = [(1_700_000_000, unit - 1), (1, 123_456_789 if nanos else 123_456), (0, 0),
              (2**32 - 1, unit // 2)]
    pkts = [g.Packet(garp(A, op=1 + i % 2), s, f, 60 + i) for i, (s, f) in enumerate(stamps)]
    got, reader = read(g.write(tmp_path / "x.pcap", g.pcap(pkts, endian=endian, nanos=nanos)))
    assert reader.format == "pcap" and not reader.compressed
    assert [c.op for c in got] == [1, 2, 1, 2]
    assert [c.length for c in got] == [60, 61, 62, 63]
    for c, (s, f) in zip(got, stamps, strict=True):
        assert close_to(c.time, s + Fraction(f, unit)), (c.time, s, f)
    assert reader.counts == Counter(total=4, claims=4)


def test_pcap_nanosecond_precision_survives(tmp_path: Path) -> None:
    """A nanosecond file keeps sub-microsecond digits (not truncated to µs)."""
    pkts = [g.Packet(garp(A), 1, 123_456_789), g.Packet(garp(A), 1, 123_456_001)]
    got, _ = read(g.write(tmp_path / "ns.pcap", g.pcap(pkts, nanos=True)))
    assert got[0].time - got[1].time == pytest.approx(788e-9, abs=1e-12)


def test_pcap_linux_cooked(tmp_path: Path) -> None:
    pkts = [g.Packet(sll(arp(1, A, VIP, BROADCAST, VIP), addr=A), 5, 0),
            g.Packet(sll(bytes(20), ETH_IPV4, addr=B), 6, 0),
            g.Packet(sll(arp(2, B, VIP2, A, VIP), addr=C), 7, 0)]
    got, reader = read(g.write(tmp_path / "sll.pcap", g.pcap(pkts, g.LINKTYPE_LINUX_SLL)))
    assert [(c.sha, c.eth_src, c.eth_dst, c.time) for c in got] == [(A, A, None, 5.0),
                                                                     (B, C, None, 7.0)]
    assert reader.counts == Counter(total=3, claims=2, non_arp=1)


def test_pcap_linktype_with_fcs_bits(tmp_path: Path) -> None:
    """The link-type field's top bits say how long the FCS is (FCS length in bits 28-31, present
    when bit 26 is set; libpcap's LT_LINKTYPE() keeps bits 0-25): still Ethernet.  tshark 4.0
    reads this file as Ethernet and shows the 4 trailing bytes as the FCS."""
    linktype = (2 << 28) | 0x04000000 | g.LINKTYPE_ETHERNET  # 2 × 16 bits of FCS
    pkts = [g.Packet(garp(A, pad=60) + b"\x12\x34\x56\x78", 1, 0)]
    got, reader = read(g.write(tmp_path / "fcs.pcap", g.pcap(pkts, linktype)))
    assert reader.warnings == [] and reader.unsupported == set()
    assert [c.sha for c in got] == [A]


@pytest.mark.parametrize("linktype", [0, 105, 129, 242])
def test_pcap_unsupported_linktype(tmp_path: Path, linktype: int) -> None:
    pkts = [g.Packet(garp(A), 1, 0), g.Packet(garp(B), 2, 0)]
    path = g.write(tmp_path / "u.pcap", g.pcap(pkts, linktype))
    got, reader = read(path)
    assert got == [] and reader.error is None
    assert reader.unsupported == {linktype}
    assert reader.counts == Counter(total=2, unsupported_linktype=2)
    assert len(reader.warnings) == 1 and f"link type {linktype}" in reader.warnings[0]
    assert str(path) in reader.warnings[0]


def test_counts_accumulate_across_readers_and_malformed_view(tmp_path: Path) -> None:
    shared = FrameCounts()
    p1 = g.write(tmp_path / "1.pcap", g.pcap([g.Packet(garp(A)), g.Packet(garp(A)[:20])]))
    p2 = g.write(tmp_path / "2.pcap", g.pcap([g.Packet(garp(BROADCAST)), g.Packet(b"")]))
    for p in (p1, p2):
        list(CaptureReader(p, shared))
    assert shared["total"] == 4 and shared["claims"] == 1
    assert shared.malformed() == {"invalid_sender_mac": 1, "truncated_arp": 1,
                                  "truncated_ethernet": 1}


def test_progress_and_close(tmp_path: Path) -> None:
    pkts = [g.Packet(garp(A), i, 0) for i in range(3000)]
    path = g.write(tmp_path / "p.pcap", g.pcap(pkts))
    seen: list[int] = []
    with mock.patch.object(captures, "CHUNK_SIZE", 50_000):
        reader = CaptureReader(path, progress=seen.append)
        batches = list(reader.batches())
    assert len(batches) >= 4  # one list per chunk
    assert sum(len(b) for b in batches) == 3000
    assert seen == sorted(seen) and seen[-1] == path.stat().st_size
    assert reader._raw.closed


# -- pcapng ---------------------------------------------------------------------------------

@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_interfaces_with_different_link_types(tmp_path: Path, endian: str) -> None:
    e = endian
    path = g.write(tmp_path / "multi.pcapng", g.pcapng(
        g.shb(e),
        g.idb(g.LINKTYPE_ETHERNET, e, tsresol=9),
        g.idb(g.LINKTYPE_LINUX_SLL2, e),  # default resolution: microseconds
        g.idb(g.LINKTYPE_LINUX_SLL, e, tsresol=0x80 | 10),  # 2^-10 s
        g.epb(0, 1_700_000_000_123_456_789, garp(A), 64, e),
        g.epb(1, 1_700_000_001_500_000, sll2(arp(2, B, VIP, A, VIP), addr=B), endian=e),
        g.epb(2, 1024 * 1_700_000_002 + 3, sll(arp(1, C, VIP2, ZERO_MAC, VIP), addr=C), endian=e),
        g.epb(1, 1_700_000_003_000_000, sll2(bytes(20), ETH_IPV4, addr=B), endian=e),
        g.epb(0, 1_700_000_004_000_000_000, ether(BROADCAST, A, 0x86DD, bytes(40)), endian=e),
    ))
    got, reader = read(path)
    assert reader.format == "pcapng" and reader.error is None and reader.warnings == []
    assert [(c.sha, c.spa, c.eth_src, c.eth_dst, c.length) for c in got] == [
        (A, VIP, A, BROADCAST, 64), (B, VIP, B, None, 48), (C, VIP2, C, None, 44)]
    # one 64-bit nanosecond count times 1e-9: within two units in the last place
    assert abs(Decimal(got[0].time) - Decimal("1700000000.123456789")) <= 2 * Decimal(
        math.ulp(got[0].time))
    assert close_to(got[1].time, Fraction("1700000001.5"))
    assert got[2].time == 1_700_000_002 + 3 / 1024  # a binary fraction: exact
    assert reader.counts == Counter(total=5, claims=3, non_arp=2)


@pytest.mark.parametrize("offset", [1_600_000_000, -10])
def test_pcapng_tsoffset(tmp_path: Path, offset: int) -> None:
    path = g.write(tmp_path / "off.pcapng", g.pcapng(
        g.shb(), g.idb(g.LINKTYPE_ETHERNET, tsoffset=offset), g.epb(0, 100_500_000, garp(A))))
    got, _ = read(path)
    assert close_to(got[0].time, offset + Fraction("100.5"))


def test_pcapng_simple_and_obsolete_packet_blocks(tmp_path: Path) -> None:
    """SPBs belong to interface 0 and carry no time: they get the time of the packet
    before them, so they stay in order when files are merged."""
    path = g.write(tmp_path / "spb.pcapng", g.pcapng(
        g.shb(), g.idb(g.LINKTYPE_LINUX_SLL2), g.idb(g.LINKTYPE_ETHERNET),
        g.epb(1, 7_250_000, garp(A)),
        g.spb(sll2(arp(1, B, VIP2, BROADCAST, VIP2), addr=B)),
        g.spb(sll2(arp(1, C, VIP, BROADCAST, VIP), addr=C)[:30]),  # ARP cut short
        g.opb(1, 9_000_000, garp(C)),
        g.spb(sll2(arp(2, A, VIP, A, VIP), addr=A) + b"\x00" * 3),  # padding in the block
    ))
    got, reader = read(path)
    assert [(c.sha, c.time) for c in got] == [(A, 7.25), (B, 7.25), (C, 9.0), (A, 9.0)]
    assert reader.counts == Counter(total=5, claims=4, **{"malformed.truncated_arp": 1})


def test_pcapng_spb_wire_length_longer_than_data(tmp_path: Path) -> None:
    """An SPB from an interface with a snap length: original length > data kept."""
    frame = garp(A, pad=42)
    path = g.write(tmp_path / "snap.pcapng", g.pcapng(
        g.shb(), g.idb(g.LINKTYPE_ETHERNET, snaplen=42), g.spb(frame, wire_len=1514)))
    got, _ = read(path)
    assert [(c.sha, c.length) for c in got] == [(A, 1514)]
    # a cut ARP stays cut: the data ends with the block, not where the wire length says
    path = g.write(tmp_path / "snap30.pcapng", g.pcapng(
        g.shb(), g.idb(g.LINKTYPE_ETHERNET, snaplen=32), g.spb(frame[:32], wire_len=60),
        g.epb(0, 5_000_000, garp(B))))
    got, reader = read(path)
    assert [c.sha for c in got] == [B]
    assert reader.counts["malformed.truncated_arp"] == 1


def test_pcapng_several_sections(tmp_path: Path) -> None:
    """Each section has its own byte order and interfaces (numbered from 0 again)."""
    path = g.write(tmp_path / "sections.pcapng", g.pcapng(
        g.shb("<"), g.idb(g.LINKTYPE_ETHERNET), g.idb(g.LINKTYPE_ETHERNET),
        g.epb(1, 1_000_000, garp(A)),
        g.shb(">"), g.idb(g.LINKTYPE_LINUX_SLL2, ">", tsresol=9),
        g.epb(0, 2_000_000_000, sll2(arp(1, B, VIP, BROADCAST, VIP), addr=B), endian=">"),
        g.epb(1, 3_000_000_000, garp(C), endian=">"),  # interface 1 was the last section's
        g.shb("<"), g.idb(g.LINKTYPE_ETHERNET),
        g.epb(0, 4_000_000, garp(C)),
    ))
    got, reader = read(path)
    assert [(c.sha, c.time, c.eth_dst) for c in got] == [(A, 1.0, BROADCAST), (B, 2.0, None),
                                                         (C, 4.0, BROADCAST)]
    assert reader.counts == Counter(total=4, claims=3, **{"malformed.bad_pcapng_packet": 1})
    assert reader.error is None


def test_pcapng_packets_without_interface(tmp_path: Path) -> None:
    path = g.write(tmp_path / "noif.pcapng", g.pcapng(
        g.shb(), g.spb(garp(A)), g.epb(0, 1, garp(A)), g.idb(g.LINKTYPE_ETHERNET),
        g.epb(0, 2_000_000, garp(B))))
    got, reader = read(path)
    assert [c.sha for c in got] == [B]
    assert reader.counts == Counter(total=3, claims=1, **{"malformed.bad_pcapng_packet": 2})


def test_pcapng_packet_longer_than_its_block(tmp_path: Path) -> None:
    bad = bytearray(g.epb(0, 1, garp(A)))
    struct.pack_into("<I", bad, 8 + 12, 200)  # captured length 200 in a block of 60 bytes
    path = g.write(tmp_path / "long.pcapng", g.pcapng(
        g.shb(), g.idb(g.LINKTYPE_ETHERNET), bytes(bad), g.epb(0, 5_000_000, garp(B))))
    got, reader = read(path)
    assert [c.sha for c in got] == [B]
    assert reader.counts["malformed.bad_pcapng_packet"] == 1


def test_pcapng_skips_other_blocks(tmp_path: Path) -> None:
    path = g.write(tmp_path / "other.pcapng", g.pcapng(
        g.shb(), g.block(g.BT_NRB, struct.pack("<HH", 0, 0)), g.idb(g.LINKTYPE_ETHERNET),
        g.block(g.BT_ISB, bytes(12)), g.block(0x0000000A, bytes(8)),  # Decryption Secrets
        g.block(0x00000BAD, b"custom" + bytes(10)), g.epb(0, 1_000_000, garp(A)),
        g.block(0x40000BAD, bytes(4)),
    ))
    got, reader = read(path)
    assert [c.sha for c in got] == [A]
    assert reader.counts == Counter(total=1, claims=1)


def test_pcapng_unsupported_interface(tmp_path: Path) -> None:
    path = g.write(tmp_path / "ib.pcapng", g.pcapng(
        g.shb(), g.idb(242), g.idb(g.LINKTYPE_ETHERNET), g.idb(242),
        g.epb(0, 1, bytes(40)), g.epb(1, 2, garp(A)), g.epb(2, 3, bytes(40))))
    got, reader = read(path)
    assert [c.sha for c in got] == [A]
    assert reader.unsupported == {242} and len(reader.warnings) == 1
    assert reader.counts == Counter(total=3, claims=1, unsupported_linktype=2)


# -- gzip -----------------------------------------------------------------------------------

def _mixed_packets() -> list[g.Packet]:
    return [g.Packet(garp(A if i % 2 else B, op=1 + i % 2), 1000 + i, 0) for i in range(50)] + [
        g.Packet(ether(A, B, ETH_IPV4, bytes(20)), 1100, 0)]


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_gzip(tmp_path: Path, fmt: str) -> None:
    pkts = _mixed_packets()
    if fmt == "pcap":
        content = g.pcap(pkts, endian=">")
    else:
        content = g.pcapng(g.shb(), g.idb(g.LINKTYPE_ETHERNET),
                           *[g.epb(0, p.sec * 10**6, p.data) for p in pkts])
    plain, r1 = read(g.write(tmp_path / f"x.{fmt}", content))
    packed, r2 = read(g.write(tmp_path / f"x.{fmt}.gz", content, gz=True))
    assert (r1.compressed, r2.compressed) == (False, True)
    assert r1.format == r2.format == fmt
    assert packed == plain and len(plain) == 50
    assert r2.counts == r1.counts == Counter(total=51, claims=50, non_arp=1)


def test_gzip_truncated_keeps_what_was_decompressed(tmp_path: Path) -> None:
    """A .pcap.gz cut short (a copy taken while tcpdump | gzip was writing)."""
    rnd = random.Random(3)  # incompressible padding: half the stream holds about half the frames
    pkts = [g.Packet(ether(BROADCAST, A, ETH_ARP, arp(1, A, VIP, BROADCAST, VIP) + rnd.randbytes(32)),
                     i, 0) for i in range(4000)]
    whole = gzip.compress(g.pcap(pkts), mtime=0)
    path = g.write(tmp_path / "cut.pcap.gz", whole[: len(whole) // 2])
    got, reader = read(path)
    # the compressed twin of a truncated last record: a warning, like a plain cut-off pcap
    assert reader.error is None
    assert len(reader.warnings) == 1 and str(path) in reader.warnings[0]
    assert "truncated" in reader.warnings[0] and "\n" not in reader.warnings[0]
    assert reader.counts["truncated"] == 1
    # about half of the frames were in the first half of the stream
    assert 1000 < len(got) < 3000
    assert [c.time for c in got] == [float(i) for i in range(len(got))]


def test_gzip_corrupt(tmp_path: Path) -> None:
    path = g.write(tmp_path / "bad.pcap.gz", b"\x1f\x8b" + os.urandom(100))
    with pytest.raises(CaptureError, match=r"bad\.pcap\.gz"):
        CaptureReader(path)
    empty = g.write(tmp_path / "empty.pcap.gz", b"", gz=True)
    with pytest.raises(CaptureError, match="empty"):
        CaptureReader(empty)


# -- truncation and corruption ---------------------------------------------------------------

def _six_records(tmp_path: Path, linktype: int = 1) -> tuple[bytes, list[bytes]]:
    frames = [garp(A), garp(B), garp(C), garp(A, VIP2), garp(B, VIP2), garp(C, VIP2)]
    if linktype == g.LINKTYPE_LINUX_SLL:
        frames = [sll(f[14:42], addr=f[6:12]) for f in frames]
    content = g.pcap([g.Packet(f, i + 1, 0) for i, f in enumerate(frames)], linktype)
    return content, frames


@pytest.mark.parametrize("chunk", [None, 1000])
@pytest.mark.parametrize("cut", [1, 10, 15, 16, 17, 50])
def test_truncated_last_record(tmp_path: Path, cut: int, chunk: int | None) -> None:
    """A capture cut inside its last record (header or data): the rest is read, one warning."""
    content, frames = _six_records(tmp_path)
    last = 16 + len(frames[-1])
    path = g.write(tmp_path / "t.pcap", content[: len(content) - last + cut])
    with mock.patch.object(captures, "CHUNK_SIZE", chunk or captures.CHUNK_SIZE):
        got, reader = read(path)
    assert [c.time for c in got] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert reader.error is None
    assert len(reader.warnings) == 1 and "truncated" in reader.warnings[0]
    assert str(path) in reader.warnings[0]
    assert reader.counts == Counter(total=5, claims=5, truncated=1)


def test_truncated_pcapng_block(tmp_path: Path) -> None:
    content = g.pcapng(g.shb(), g.idb(g.LINKTYPE_ETHERNET),
                       *[g.epb(0, (i + 1) * 10**6, garp(A)) for i in range(3)])
    path = g.write(tmp_path / "t.pcapng", content[:-7])
    got, reader = read(path)
    assert [c.time for c in got] == [1.0, 2.0]
    assert reader.error is None and len(reader.warnings) == 1
    assert reader.counts == Counter(total=2, claims=2, truncated=1)


@pytest.mark.parametrize("linktype", [g.LINKTYPE_ETHERNET, g.LINKTYPE_LINUX_SLL])
@pytest.mark.parametrize("bad_len", [0x7FFFFFFF, 0xFFFFFFFF, 300_000])
def test_corrupt_record_length_mid_file(tmp_path: Path, linktype: int, bad_len: int) -> None:
    content, frames = _six_records(tmp_path, linktype)
    buf = bytearray(content)
    third = 24 + 2 * (16 + len(frames[0]))
    struct.pack_into("<I", buf, third + 8, bad_len)
    path = g.write(tmp_path / "c.pcap", bytes(buf))
    got, reader = read(path)
    assert [c.time for c in got] == [1.0, 2.0]
    assert reader.error is not None and str(path) in reader.error
    assert f"byte {third}" in reader.error
    assert reader.counts == Counter(total=2, claims=2)


def test_corrupt_pcapng_block_length(tmp_path: Path) -> None:
    blocks = [g.shb(), g.idb(g.LINKTYPE_ETHERNET)] + [g.epb(0, (i + 1) * 10**6, garp(A))
                                                     for i in range(4)]
    bad = bytearray(blocks[4])
    struct.pack_into("<I", bad, 4, 13)  # not a multiple of 4
    blocks[4] = bytes(bad)
    path = g.write(tmp_path / "c.pcapng", g.pcapng(*blocks))
    got, reader = read(path)
    assert [c.time for c in got] == [1.0, 2.0]
    assert reader.error is not None and "corrupt" in reader.error


def test_pcapng_bad_byte_order_magic(tmp_path: Path) -> None:
    second = bytearray(g.shb())
    second[8:12] = b"\x01\x02\x03\x04"
    path = g.write(tmp_path / "bom.pcapng", g.pcapng(
        g.shb(), g.idb(g.LINKTYPE_ETHERNET), g.epb(0, 10**6, garp(A)), bytes(second),
        g.idb(g.LINKTYPE_ETHERNET), g.epb(0, 2 * 10**6, garp(B))))
    got, reader = read(path)
    assert [c.sha for c in got] == [A]
    assert reader.error is not None and "byte-order" in reader.error


# -- files that are not captures ------------------------------------------------------------

def _one_line_error(exc: pytest.ExceptionInfo, path: Path, *words: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg
    for w in words:
        assert w in msg


def test_empty_file(tmp_path: Path) -> None:
    path = g.write(tmp_path / "empty.pcap", b"")
    with pytest.raises(CaptureError) as exc:
        CaptureReader(path)
    _one_line_error(exc, path, "empty")


@pytest.mark.parametrize("content", [random.Random(7).randbytes(1000), b"not a capture\n",
                                     b"\xd4\xc3", b"GIF89a" + bytes(100)])
def test_not_a_capture(tmp_path: Path, content: bytes) -> None:
    path = g.write(tmp_path / "junk.pcap", content)
    with pytest.raises(CaptureError) as exc:
        CaptureReader(path)
    _one_line_error(exc, path)


@pytest.mark.parametrize("magic", [b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d"])
def test_truncated_file_header(tmp_path: Path, magic: bytes) -> None:
    path = g.write(tmp_path / "hdr.pcap", magic + bytes(10))
    got, reader = read(path)
    assert got == [] and reader.error is not None and "header" in reader.error


def test_header_only_pcap_is_empty_but_fine(tmp_path: Path) -> None:
    got, reader = read(g.write(tmp_path / "h.pcap", g.pcap([])))
    assert got == [] and reader.error is None and reader.warnings == []
    assert reader.counts == Counter()


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(CaptureError) as exc:
        CaptureReader(tmp_path)
    _one_line_error(exc, tmp_path, "directory")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.pcap"
    with pytest.raises(CaptureError) as exc:
        CaptureReader(path)
    _one_line_error(exc, path, "no such file")


def test_no_read_permission(unreadable_file: Path) -> None:
    """Really unreadable: a mode-000 file opened by a process without CAP_DAC_OVERRIDE."""
    code = ("import sys\nfrom arpwatch_lb.sources.capture_files import CaptureReader, CaptureError\n"
            "try:\n    CaptureReader(sys.argv[1])\nexcept CaptureError as e:\n    print(e)\n")
    out = subprocess.run(unprivileged([sys.executable, "-c", code, str(unreadable_file)]),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"{unreadable_file}: permission denied\n"
