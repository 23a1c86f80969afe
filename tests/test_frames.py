"""The reference decoder, ``frames.decode``: a table of frames built byte by byte.

Expected results come from how each frame was built (see conftest's
builders), and the table's Ethernet and Linux cooked frames are also handed to
tshark, which must see the same ARP fields, so that a builder mistake cannot
hide a decoder mistake.
"""

from __future__ import annotations

import struct
import subprocess
from typing import NamedTuple

import pcapgen
import pytest
from conftest import (
    BROADCAST,
    ETH_ARP,
    ETH_IPV4,
    ETH_RARP,
    TPID_8021AD,
    TPID_8021Q,
    ZERO_IP,
    ZERO_MAC,
    arp,
    ether,
    ip,
    mac,
    sll,
    sll2,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from arpwatch_lb.core import frames
from arpwatch_lb.core.frames import Claim, decode

ETH, SLL, SLL2 = 1, 113, 276
T = 1_700_000_000.25

A = mac("02:00:5e:10:00:01")  # an announcer (locally administered, unicast)
B = mac("00:1b:21:3c:4d:5e")  # another, with a real OUI
VIP = ip("192.0.2.10")
HOST = ip("192.0.2.21")
GW = ip("192.0.2.1")
SNAP_ARP = bytes.fromhex("aaaa03000000") + struct.pack("!H", ETH_ARP)
SNAP_RARP = bytes.fromhex("aaaa03000000") + struct.pack("!H", ETH_RARP)


SAME = b"same as the sender"


def want(op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes, length: int, *,
         vlan: int | None = None, inner: int | None = None, eth_src: bytes | None = SAME,
         eth_dst: bytes | None = BROADCAST) -> Claim:
    """The claim a frame built from these fields must decode to."""
    return Claim(T, vlan, inner, op, sha, spa, tha, tpa, sha if eth_src is SAME else eth_src,
                 eth_dst, length)


class Case(NamedTuple):
    desc: str
    linktype: int
    frame: bytes
    expected: Claim | str


def _802_3(dst: bytes, src: bytes, llc_payload: bytes, tags: tuple = ()) -> bytes:
    """An IEEE 802.3 frame: a length field instead of an ethertype."""
    return ether(dst, src, len(llc_payload), llc_payload, tags=tags)


REQ = arp(1, A, HOST, ZERO_MAC, GW)
GARP_REQ = arp(1, A, VIP, BROADCAST, VIP)
ETH_REQ_42 = ether(BROADCAST, A, ETH_ARP, REQ, pad=42)

CASES: list[Case] = [
    # -- plain IPv4-over-Ethernet ARP ------------------------------------------------------
    Case("request, 42 bytes (no padding)", ETH, ETH_REQ_42,
         want(1, A, HOST, ZERO_MAC, GW, 42)),
    Case("request, zero-padded to 60 bytes", ETH, ether(BROADCAST, A, ETH_ARP, REQ),
         want(1, A, HOST, ZERO_MAC, GW, 60)),
    Case("request padded with non-zero junk", ETH,
         ether(BROADCAST, A, ETH_ARP, REQ + b"\xde\xad" * 9),
         want(1, A, HOST, ZERO_MAC, GW, 60)),
    Case("unicast reply", ETH, ether(A, B, ETH_ARP, arp(2, B, GW, A, HOST)),
         want(2, B, GW, A, HOST, 60, eth_dst=A)),
    Case("gratuitous request, target MAC broadcast (keepalived)", ETH,
         ether(BROADCAST, A, ETH_ARP, GARP_REQ), want(1, A, VIP, BROADCAST, VIP, 60)),
    Case("gratuitous request, target MAC zero (arping -U)", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(1, A, VIP, ZERO_MAC, VIP)),
         want(1, A, VIP, ZERO_MAC, VIP, 60)),
    Case("gratuitous reply, target MAC broadcast (MetalLB)", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(2, A, VIP, BROADCAST, VIP)),
         want(2, A, VIP, BROADCAST, VIP, 60)),
    Case("kube-vip GARP: op=2, target MAC = own MAC", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(2, A, VIP, A, VIP)),
         want(2, A, VIP, A, VIP, 60)),
    Case("hardware type 6 (IEEE 802) is Ethernet-sized too", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(1, A, HOST, ZERO_MAC, GW, htype=6)),
         want(1, A, HOST, ZERO_MAC, GW, 60)),
    # -- not claims ------------------------------------------------------------------------
    Case("RFC 5227 probe: sender IP 0.0.0.0", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(1, A, ZERO_IP, ZERO_MAC, VIP)), "probe"),
    Case("reply with sender IP 0.0.0.0", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(2, A, ZERO_IP, B, VIP)), "probe"),
    Case("RARP request, ethertype 0x8035, op 3", ETH,
         ether(BROADCAST, A, ETH_RARP, arp(3, A, ZERO_IP, A, ZERO_IP)), "rarp"),
    Case("RARP reply, ethertype 0x8035, op 4", ETH,
         ether(A, B, ETH_RARP, arp(4, B, GW, A, HOST)), "rarp"),
    Case("ethertype 0x8035 decides even with op 1", ETH,
         ether(BROADCAST, A, ETH_RARP, REQ), "rarp"),
    Case("op 3 inside ethertype 0x0806", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(3, A, ZERO_IP, A, ZERO_IP)), "rarp"),
    Case("op 4 inside ethertype 0x0806", ETH,
         ether(A, B, ETH_ARP, arp(4, B, GW, A, HOST)), "rarp"),
    Case("protocol type IPv6 (0x86dd), plen 16", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(1, A, bytes(range(16)), ZERO_MAC, bytes(16),
                                          ptype=0x86DD)), "arp_other"),
    Case("protocol type 0x0801 with IPv4-sized addresses", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(1, A, HOST, ZERO_MAC, GW, ptype=0x0801)),
         "arp_other"),
    Case("hlen 8 (EUI-64 hardware address)", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(1, A + b"\x01\x02", HOST, bytes(8), GW)),
         "arp_other"),
    Case("hlen 6 but plen 5", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(1, A, HOST + b"\x07", ZERO_MAC, GW + b"\x07")),
         "arp_other"),
    Case("hardware type 7 (ARCNET) with Ethernet sizes", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(1, A, HOST, ZERO_MAC, GW, htype=7)), "arp_other"),
    Case("hardware type 19 (ATM) with Ethernet sizes", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(1, A, HOST, ZERO_MAC, GW, htype=19)), "arp_other"),
    Case("hardware type 0", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(1, A, HOST, ZERO_MAC, GW, htype=0)), "arp_other"),
    Case("hlen 0, plen 0, op 1", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(1, b"", b"", b"", b"")), "arp_other"),
    *[Case(f"opcode {op}", ETH, ether(BROADCAST, A, ETH_ARP, arp(op, A, HOST, ZERO_MAC, GW)),
           "arp_other") for op in (0, 5, 8, 9, 10, 0x0101, 0xFFFF)],
    Case("IPv4 frame", ETH, ether(BROADCAST, A, ETH_IPV4, b"\x45" + bytes(19)), "non_arp"),
    Case("IPv6 frame", ETH, ether(BROADCAST, A, 0x86DD, b"\x60" + bytes(39)), "non_arp"),
    Case("LLDP (0x88cc)", ETH, ether(BROADCAST, A, 0x88CC, bytes(30)), "non_arp"),
    Case("AppleTalk AARP (0x80f3)", ETH, ether(BROADCAST, A, 0x80F3, REQ), "non_arp"),
    Case("ethertype 0x0600, the first type value", ETH, ether(BROADCAST, A, 0x0600, REQ),
         "non_arp"),
    Case("ethertype 0x05dd: neither a length nor a type", ETH, ether(BROADCAST, A, 0x05DD, REQ),
         "non_arp"),
    # -- VLAN tags ---------------------------------------------------------------------------
    Case("802.1Q tag, VLAN 100", ETH,
         ether(BROADCAST, A, ETH_ARP, GARP_REQ, tags=((TPID_8021Q, 100),)),
         want(1, A, VIP, BROADCAST, VIP, 60, vlan=100)),
    Case("802.1Q tag with priority 7 and DEI set: VLAN ID is the low 12 bits", ETH,
         ether(BROADCAST, A, ETH_ARP, GARP_REQ, tags=((TPID_8021Q, 0xF000 | 100),)),
         want(1, A, VIP, BROADCAST, VIP, 60, vlan=100)),
    Case("priority tag (VLAN 0)", ETH,
         ether(BROADCAST, A, ETH_ARP, GARP_REQ, tags=((TPID_8021Q, 0xA000),)),
         want(1, A, VIP, BROADCAST, VIP, 60, vlan=0)),
    Case("QinQ: 802.1ad S-tag 200 + 802.1Q C-tag 2001", ETH,
         ether(BROADCAST, A, ETH_ARP, GARP_REQ, tags=((TPID_8021AD, 200), (TPID_8021Q, 2001))),
         want(1, A, VIP, BROADCAST, VIP, 60, vlan=200, inner=2001)),
    Case("old QinQ TPID 0x9100 outer tag", ETH,
         ether(BROADCAST, A, ETH_ARP, GARP_REQ, tags=((0x9100, 5), (TPID_8021Q, 6))),
         want(1, A, VIP, BROADCAST, VIP, 60, vlan=5, inner=6)),
    Case("three stacked 802.1Q tags: outer and innermost kept", ETH,
         ether(BROADCAST, A, ETH_ARP, GARP_REQ,
               tags=((TPID_8021Q, 1), (TPID_8021Q, 10), (TPID_8021Q, 100))),
         want(1, A, VIP, BROADCAST, VIP, 60, vlan=1, inner=100)),
    Case("eight stacked tags are still decoded", ETH,
         ether(BROADCAST, A, ETH_ARP, GARP_REQ, tags=tuple((TPID_8021Q, v) for v in range(1, 9))),
         want(1, A, VIP, BROADCAST, VIP, 14 + 32 + 28, vlan=1, inner=8)),
    Case("nine stacked tags are hostile", ETH,
         ether(BROADCAST, A, ETH_ARP, GARP_REQ, tags=tuple((TPID_8021Q, v) for v in range(1, 10))),
         "malformed.too_many_vlan_tags"),
    Case("tagged IPv4", ETH,
         ether(BROADCAST, A, ETH_IPV4, bytes(20), tags=((TPID_8021Q, 100),)), "non_arp"),
    Case("tagged RARP", ETH,
         ether(BROADCAST, A, ETH_RARP, arp(3, A, ZERO_IP, A, ZERO_IP), tags=((TPID_8021Q, 7),)),
         "rarp"),
    Case("tagged probe", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(1, A, ZERO_IP, ZERO_MAC, VIP),
               tags=((TPID_8021Q, 7),)), "probe"),
    # -- IEEE 802.3 with LLC -------------------------------------------------------------------
    Case("802.3 LLC/SNAP ARP", ETH, _802_3(BROADCAST, A, SNAP_ARP + arp(1, A, HOST, ZERO_MAC, GW,
                                                                        htype=6)),
         want(1, A, HOST, ZERO_MAC, GW, 60)),
    Case("802.3 LLC/SNAP ARP reply inside an 802.1Q tag", ETH,
         _802_3(A, B, SNAP_ARP + arp(2, B, GW, A, HOST), tags=((TPID_8021Q, 42),)),
         want(2, B, GW, A, HOST, 60, vlan=42, eth_dst=A)),
    Case("802.3 LLC/SNAP RARP", ETH, _802_3(BROADCAST, A, SNAP_RARP + arp(3, A, ZERO_IP, A, ZERO_IP)),
         "rarp"),
    Case("802.3 LLC spanning tree (42 42 03)", ETH,
         _802_3(mac("01:80:c2:00:00:00"), A, b"\x42\x42\x03" + bytes(35)), "non_arp"),
    Case("802.3 SNAP with another OUI", ETH,
         _802_3(BROADCAST, A, bytes.fromhex("aaaa0300000c2000") + bytes(30)), "non_arp"),
    Case("802.3 LLC/SNAP ARP truncated after the SNAP header", ETH,
         (BROADCAST + A + struct.pack("!H", 36) + SNAP_ARP + REQ[:6]), "malformed.truncated_arp"),
    # -- Linux cooked captures -------------------------------------------------------------
    Case("Linux cooked v1 request: source from the SLL address, no destination", SLL,
         sll(REQ, addr=A), want(1, A, HOST, ZERO_MAC, GW, 16 + 28, eth_dst=None)),
    Case("Linux cooked v1, outgoing (packet type 4), 8-byte address field padded", SLL,
         sll(GARP_REQ, addr=A + b"\x00\x00", halen=6, pkttype=4),
         want(1, A, VIP, BROADCAST, VIP, 16 + 28, eth_dst=None)),
    Case("Linux cooked v1 with no link-layer address (halen 0)", SLL,
         sll(GARP_REQ, addr=b"", halen=0), want(1, A, VIP, BROADCAST, VIP, 44, eth_src=None,
                                                eth_dst=None)),
    Case("Linux cooked v1 whose address is not the ARP sender", SLL,
         sll(arp(2, B, GW, A, HOST), addr=A),
         want(2, B, GW, A, HOST, 44, eth_src=A, eth_dst=None)),
    Case("Linux cooked v1 with an 802.1Q tag in the payload", SLL,
         sll(struct.pack("!HH", 55, ETH_ARP) + GARP_REQ, protocol=TPID_8021Q, addr=A),
         want(1, A, VIP, BROADCAST, VIP, 48, vlan=55, eth_dst=None)),
    Case("Linux cooked v1 IPv4", SLL, sll(bytes(20), protocol=ETH_IPV4, addr=A), "non_arp"),
    Case("Linux cooked v1, protocol 0x0004 (802.2 LLC) carrying SNAP ARP", SLL,
         sll(SNAP_ARP + GARP_REQ, protocol=0x0004, addr=A),
         want(1, A, VIP, BROADCAST, VIP, 16 + 8 + 28, eth_dst=None)),
    Case("Linux cooked v2, 802.2 LLC that is not SNAP ARP", SLL2,
         sll2(bytes.fromhex("424203") + bytes(40), protocol=0x0004, addr=A), "non_arp"),
    Case("Linux cooked v1 RARP", SLL, sll(arp(3, A, ZERO_IP, A, ZERO_IP), protocol=ETH_RARP,
                                          addr=A), "rarp"),
    Case("Linux cooked v2 request", SLL2, sll2(REQ, addr=A),
         want(1, A, HOST, ZERO_MAC, GW, 20 + 28, eth_dst=None)),
    Case("Linux cooked v2 kube-vip GARP", SLL2, sll2(arp(2, A, VIP, A, VIP), addr=A, pkttype=4),
         want(2, A, VIP, A, VIP, 48, eth_dst=None)),
    Case("Linux cooked v2 probe", SLL2, sll2(arp(1, A, ZERO_IP, ZERO_MAC, VIP), addr=A), "probe"),
    Case("Linux cooked v2 RARP (op 3)", SLL2, sll2(arp(3, A, ZERO_IP, A, ZERO_IP), addr=A),
         "rarp"),
    Case("Linux cooked v2 IPv6", SLL2, sll2(bytes(40), protocol=0x86DD, addr=A), "non_arp"),
    # -- link types we do not decode -------------------------------------------------------------
    *[Case(f"link type {lt}", lt, ether(BROADCAST, A, ETH_ARP, GARP_REQ), "unsupported_linktype")
      for lt in (0, 101, 105, 127, 129, 242, 0xFFFF)],
    # -- truncation ----------------------------------------------------------------------------
    Case("empty Ethernet frame", ETH, b"", "malformed.truncated_ethernet"),
    Case("13-byte Ethernet frame", ETH, ETH_REQ_42[:13], "malformed.truncated_ethernet"),
    Case("Ethernet header only, ARP ethertype", ETH, ETH_REQ_42[:14], "malformed.truncated_arp"),
    Case("ARP header cut after 7 bytes", ETH, ETH_REQ_42[:21], "malformed.truncated_arp"),
    Case("ARP cut one byte short of the target IP", ETH, ETH_REQ_42[:41],
         "malformed.truncated_arp"),
    Case("hlen 255 in a 60-byte frame", ETH,
         ether(BROADCAST, A, ETH_ARP, struct.pack("!HHBBH", 1, ETH_IPV4, 255, 4, 1) + A),
         "malformed.truncated_arp"),
    Case("VLAN ethertype with the tag cut", ETH,
         (BROADCAST + A + struct.pack("!HH", TPID_8021Q, 100)), "malformed.truncated_vlan"),
    Case("second VLAN tag cut", ETH,
         (BROADCAST + A + struct.pack("!HHH", TPID_8021Q, 100, TPID_8021Q)),
         "malformed.truncated_vlan"),
    Case("tagged ARP cut inside the ARP header", ETH,
         (BROADCAST + A + struct.pack("!HHH", TPID_8021Q, 100, ETH_ARP) + REQ[:5]),
         "malformed.truncated_arp"),
    Case("Linux cooked v1, 15 bytes", SLL, sll(b"", addr=A)[:15], "malformed.truncated_sll"),
    Case("Linux cooked v1 with the ARP cut", SLL, sll(REQ[:20], addr=A), "malformed.truncated_arp"),
    Case("Linux cooked v2, 19 bytes", SLL2, sll2(b"", addr=A)[:19], "malformed.truncated_sll2"),
    Case("Linux cooked v2 with the ARP cut", SLL2, sll2(REQ[:27], addr=A),
         "malformed.truncated_arp"),
    # -- sender MACs that cannot own an address ------------------------------------------------
    Case("broadcast sender MAC", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(1, BROADCAST, VIP, BROADCAST, VIP)),
         "malformed.invalid_sender_mac"),
    Case("multicast sender MAC (01:00:5e)", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(2, mac("01:00:5e:00:00:12"), VIP, BROADCAST, VIP)),
         "malformed.invalid_sender_mac"),
    Case("group bit set in a real OUI (01:1b:21:...)", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(1, mac("01:1b:21:3c:4d:5e"), HOST, ZERO_MAC, GW)),
         "malformed.invalid_sender_mac"),
    Case("all-zero sender MAC", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(1, ZERO_MAC, HOST, ZERO_MAC, GW)),
         "malformed.invalid_sender_mac"),
    Case("all-zero sender MAC in a tagged frame", ETH,
         ether(BROADCAST, A, ETH_ARP, arp(1, ZERO_MAC, HOST, ZERO_MAC, GW),
               tags=((TPID_8021Q, 3),)), "malformed.invalid_sender_mac"),
    Case("multicast sender MAC, Linux cooked v2", SLL2,
         sll2(arp(1, mac("33:33:00:00:00:01"), HOST, ZERO_MAC, GW), addr=A),
         "malformed.invalid_sender_mac"),
    Case("locally administered sender MAC is fine (02:...)", ETH,
         ether(BROADCAST, mac("02:00:00:00:00:00"), ETH_ARP,
               arp(1, mac("02:00:00:00:00:00"), HOST, ZERO_MAC, GW)),
         want(1, mac("02:00:00:00:00:00"), HOST, ZERO_MAC, GW, 60)),
    Case("Ethernet source differs from the ARP sender (proxy ARP)", ETH,
         ether(A, B, ETH_ARP, arp(2, mac("00:11:22:33:44:55"), VIP, A, HOST)),
         want(2, mac("00:11:22:33:44:55"), VIP, A, HOST, 60, eth_src=B, eth_dst=A)),
    Case("multicast Ethernet source, valid ARP sender", ETH,
         ether(BROADCAST, mac("01:00:5e:00:00:01"), ETH_ARP, GARP_REQ),
         want(1, A, VIP, BROADCAST, VIP, 60, eth_src=mac("01:00:5e:00:00:01"))),
]

KINDS = {"probe", "rarp", "arp_other", "non_arp", "unsupported_linktype"}


def test_case_descriptions_are_unique() -> None:
    descs = [c.desc for c in CASES]
    assert len(descs) == len(set(descs))


@pytest.mark.parametrize("case", CASES, ids=[c.desc for c in CASES])
def test_decode_table(case: Case) -> None:
    got = decode(case.linktype, case.frame, T)
    assert got == case.expected
    # a claim's bytes fields are real bytes (hashable keys), whatever the input buffer was
    if isinstance(got, Claim):
        assert type(got.sha) is bytes and type(got.spa) is bytes
        assert decode(case.linktype, bytearray(case.frame), T) == case.expected
        assert decode(case.linktype, memoryview(case.frame), T) == case.expected


@pytest.mark.parametrize("linktype", [ETH, SLL, SLL2])
def test_table_agrees_with_tshark(linktype: int, tmp_path) -> None:
    """tshark sees the same ARP fields and VLAN IDs in the frames of the table."""
    cases = [c for c in CASES if c.linktype == linktype and isinstance(c.expected, Claim)]
    pkts = [pcapgen.Packet(c.frame, sec=i + 1) for i, c in enumerate(cases)]
    path = pcapgen.write(tmp_path / "t.pcap", pcapgen.pcap(pkts, linktype))
    fields = ["arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac",
              "arp.dst.proto_ipv4", "ieee8021ad.id", "vlan.id"]
    argv = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=a",
            "-E", "aggregator=,"]
    for f in fields:
        argv += ["-e", f]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == len(cases)
    for line, case in zip(out, cases, strict=True):
        op, sha, spa, tha, tpa, stag, ctags = line.split("\t")
        c = case.expected
        assert int(op) == c.op, case.desc
        assert (sha, spa, tha, tpa) == (c.sha.hex(":"), _dotted(c.spa), c.tha.hex(":"),
                                        _dotted(c.tpa)), case.desc
        ids = [int(v) for v in (stag + "," + ctags).split(",") if v]
        # tshark calls 0x9100 tags "vlan" and 0x88a8 tags "ieee8021ad"; order: outer first
        assert (ids[0] if ids else None) == c.vlan, case.desc
        assert (ids[-1] if len(ids) > 1 else None) == c.inner_vlan, case.desc


def _dotted(b: bytes) -> str:
    return ".".join(str(x) for x in b)


# -- properties of the Claim ------------------------------------------------------------------

def test_gratuitous_property() -> None:
    assert decode(ETH, ether(BROADCAST, A, ETH_ARP, GARP_REQ)).gratuitous
    assert decode(ETH, ether(BROADCAST, A, ETH_ARP, arp(2, A, VIP, A, VIP))).gratuitous
    assert not decode(ETH, ETH_REQ_42).gratuitous
    assert not decode(ETH, ether(A, B, ETH_ARP, arp(2, B, GW, A, HOST))).gratuitous


def test_eth_mismatch_property() -> None:
    assert not decode(ETH, ETH_REQ_42).eth_mismatch
    assert decode(ETH, ether(A, B, ETH_ARP, arp(2, A, VIP, A, HOST))).eth_mismatch
    assert not decode(SLL, sll(GARP_REQ, addr=b"", halen=0)).eth_mismatch  # nothing to compare
    assert decode(SLL2, sll2(GARP_REQ, addr=B)).eth_mismatch


def test_wire_length_versus_captured_length() -> None:
    """``length`` is the frame's length on the wire, not what the snap length kept."""
    frame = ether(BROADCAST, A, ETH_ARP, GARP_REQ)  # 60 bytes captured
    assert decode(ETH, frame, T).length == 60
    assert decode(ETH, frame, T, 64).length == 64  # the FCS was not captured
    assert decode(ETH, frame[:42], T, 60).length == 60  # snaplen 42, padding cut
    assert decode(ETH, frame[:42], T, 60).spa == VIP
    assert decode(ETH, frame[:41], T, 60) == "malformed.truncated_arp"
    assert decode(ETH, frame, 5.5).time == 5.5


# -- robustness -------------------------------------------------------------------------------

LINKTYPES = st.sampled_from([ETH, SLL, SLL2, 0, 101, 242]) | st.integers(0, 2**32 - 1)


def _check_result(r: object) -> None:
    if isinstance(r, Claim) and len(r.spa) == 16:  # Neighbor Discovery (tests/test_ndp.py)
        assert len(r.sha) == 6 and len(r.tha) == 6 and len(r.tpa) == 16
        assert r.op & 0xFF in (135, 136) and not r.sha[0] & 1 and r.sha != ZERO_MAC
    elif isinstance(r, Claim):
        assert len(r.sha) == 6 and len(r.spa) == 4 and len(r.tha) == 6 and len(r.tpa) == 4
        assert r.op in (1, 2) and r.spa != ZERO_IP and not r.sha[0] & 1 and r.sha != ZERO_MAC
    else:
        assert isinstance(r, str)
        assert r in KINDS or (r.startswith("malformed.") and len(r) > len("malformed."))


@settings(max_examples=400, deadline=None)
@given(linktype=LINKTYPES, data=st.binary(max_size=120), wire=st.none() | st.integers(0, 2**32 - 1))
def test_decode_never_raises_on_random_bytes(linktype: int, data: bytes, wire: int | None) -> None:
    _check_result(decode(linktype, data, 0.0, wire))


@st.composite
def plausible_frames(draw: st.DrawFn) -> tuple[int, bytes]:
    """Random bytes behind headers that are right, so that the deep branches get visited."""
    linktype = draw(st.sampled_from([ETH, SLL, SLL2]))
    tags = draw(st.lists(st.tuples(st.sampled_from([TPID_8021Q, TPID_8021AD, 0x9100]),
                                   st.integers(0, 0xFFFF)), max_size=10))
    ethertype = draw(st.sampled_from([ETH_ARP, ETH_RARP, ETH_IPV4, 0x86DD, 0x0026, 1500, 1501]))
    # after the addresses: TPID1, TCI1, TPID2, TCI2, ..., ethertype
    types = [tpid for tpid, _ in tags] + [ethertype]
    first = types[0]
    head = b"".join(struct.pack("!HH", tci, nxt) for (_, tci), nxt in zip(tags, types[1:], strict=True))
    body = draw(st.sampled_from([b"", SNAP_ARP, SNAP_RARP]))
    body += draw(st.sampled_from([b"", struct.pack("!HHBB", 1, ETH_IPV4, 6, 4),
                                  # an IPv6 header up to the addresses: ICMPv6, hop limit 255
                                  struct.pack("!IHBB", 6 << 28, 32, 58, 255) + bytes(32)]))
    body += draw(st.sampled_from([b"", b"\x88\x00", b"\x87\x00"]))
    body += draw(st.binary(max_size=80))
    if linktype == ETH:
        frame = draw(st.binary(min_size=12, max_size=12)) + struct.pack("!H", first) + head + body
    elif linktype == SLL:
        frame = sll(head + body, first, draw(st.binary(max_size=8)),
                    halen=draw(st.integers(0, 0xFFFF)))
    else:
        frame = sll2(head + body, first, draw(st.binary(max_size=8)),
                     halen=draw(st.integers(0, 255)))
    cut = draw(st.integers(0, len(frame)))
    return linktype, frame[:cut]


@settings(max_examples=400, deadline=None)
@given(plausible_frames())
def test_decode_never_raises_on_plausible_frames(lf: tuple[int, bytes]) -> None:
    linktype, frame = lf
    _check_result(decode(linktype, frame, 1.0))


# -- encoder round trip -----------------------------------------------------------------------

UNICAST_MAC = st.binary(min_size=6, max_size=6).filter(lambda m: not m[0] & 1 and m != ZERO_MAC)
ANY_MAC = st.binary(min_size=6, max_size=6)
IPV4 = st.binary(min_size=4, max_size=4)


@given(op=st.sampled_from([1, 2]), sha=UNICAST_MAC, spa=IPV4.filter(lambda b: b != ZERO_IP),
       tha=ANY_MAC, tpa=IPV4, src=ANY_MAC, dst=ANY_MAC,
       vlans=st.lists(st.integers(0, 4095), max_size=3), pad=st.sampled_from([0, 60, 64, 1514]))
def test_encode_decode_round_trip(op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes,
                                  src: bytes, dst: bytes, vlans: list[int], pad: int) -> None:
    payload = frames.encode_arp(op, sha, spa, tha, tpa)
    assert payload == arp(op, sha, spa, tha, tpa)  # the RFC 826 layout, built independently
    frame = frames.ethernet_frame(dst, src, payload, vlans=tuple(vlans), pad_to=pad)
    assert frame == ether(dst, src, ETH_ARP, payload,
                          tags=tuple((TPID_8021Q, v) for v in vlans), pad=pad)
    c = decode(ETH, frame, 3.0)
    assert c == Claim(3.0, vlans[0] if vlans else None, vlans[-1] if len(vlans) > 1 else None,
                      op, sha, spa, tha, tpa, src, dst, len(frame))
    assert frames.encode_arp(c.op, c.sha, c.spa, c.tha, c.tpa) == payload
