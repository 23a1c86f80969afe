"""IPv6 Neighbor Discovery in the reference decoder: a table of frames built byte by byte.

Expected claims follow the mapping documented in ``frames.decode_ndp`` (an
advertisement claims its target at its target link-layer address; a
solicitation with a real source and a source link-layer option claims its
source).  Frames come from conftest's builders (RFC 8200 IPv6, RFC 4861 NDP,
checksums computed), not from the decoder's module, and tshark must read the
same addresses and flags from every claim of the table.
"""

from __future__ import annotations

import struct
import subprocess
from typing import NamedTuple

import pcapgen
import pytest
from conftest import (
    BROADCAST,
    ETH_IPV6,
    TPID_8021AD,
    TPID_8021Q,
    ZERO_MAC,
    ether,
    ext_header,
    icmp6,
    ip6,
    ipv6,
    ll_option,
    mac,
    nd,
    sll,
    sll2,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from arpwatch_lb.core.frames import (
    NA_OVERRIDE,
    NA_ROUTER,
    NA_SOLICITED,
    ND_ADVERT,
    ND_SOLICIT,
    Claim,
    decode,
    is_ndp,
    is_request,
)

ETH, SLL, SLL2 = 1, 113, 276
T = 1_700_000_000.5

A = mac("02:00:5e:10:00:01")  # node1
B = mac("02:00:5e:10:00:02")  # node2
CLIENT = mac("02:00:5e:10:00:10")
VIP = ip6("2001:db8::100")
NODE1 = ip6("2001:db8::11")
ASKER = ip6("2001:db8::10")
LL1 = ip6("fe80::200:5eff:fe10:1")
ALL_NODES = ip6("ff02::1")
ALL_NODES_MAC = mac("33:33:00:00:00:01")
SOLICITED = ip6("ff02::1:ff00:100")  # VIP's solicited-node group
SOLICITED_MAC = mac("33:33:ff:00:01:00")
UNSPECIFIED = bytes(16)
F_R, F_S, F_O = 0x80, 0x40, 0x20


def eth6(dst: bytes, src: bytes, packet: bytes, tags: tuple = ()) -> bytes:
    return ether(dst, src, ETH_IPV6, packet, tags=tags)


def na(target: bytes = VIP, *, flags: int = F_O, src: bytes = LL1, dst: bytes = ALL_NODES,
       options: bytes | None = None, lladdr: bytes = A, **ip_kw) -> bytes:
    """An advertisement packet (IPv6 + ICMPv6); a target link-layer option unless told."""
    opts = ll_option(2, lladdr) if options is None else options
    return ipv6(src, dst, nd(src, dst, 136, target, flags=flags, options=opts), **ip_kw)


def ns(target: bytes = VIP, *, src: bytes = ASKER, dst: bytes = SOLICITED,
       options: bytes | None = None, lladdr: bytes = CLIENT, **ip_kw) -> bytes:
    """A solicitation packet; a source link-layer option unless told."""
    opts = ll_option(1, lladdr) if options is None else options
    return ipv6(src, dst, nd(src, dst, 135, target, options=opts), **ip_kw)


MLB_NA = na()  # MetalLB: unsolicited, O=1 S=0, to ff02::1
ETH_MLB_NA = eth6(ALL_NODES_MAC, A, MLB_NA)
ASK = ns()
ETH_ASK = eth6(SOLICITED_MAC, CLIENT, ASK)
ANSWER = na(flags=F_S | F_O, src=VIP, dst=ASKER)


def claim(op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes, length: int, *,
          vlan: int | None = None, inner: int | None = None, eth_src: bytes | None = None,
          eth_dst: bytes | None = None) -> Claim:
    return Claim(T, vlan, inner, op, sha, spa, tha, tpa, sha if eth_src is None else eth_src,
                 eth_dst, length)


UNSOLICITED_O = ND_ADVERT | NA_OVERRIDE
SOLICITED_SO = ND_ADVERT | NA_SOLICITED | NA_OVERRIDE


class Case(NamedTuple):
    desc: str
    linktype: int
    frame: bytes
    expected: Claim | str


CASES: list[Case] = [
    # -- advertisements -------------------------------------------------------------------------
    Case("unsolicited NA, O=1, to ff02::1 (MetalLB, kube-vip, ndisc_notify)", ETH, ETH_MLB_NA,
         claim(UNSOLICITED_O, A, VIP, ALL_NODES_MAC, VIP, len(ETH_MLB_NA),
               eth_dst=ALL_NODES_MAC)),
    Case("unsolicited NA, O=0 (no announcer sends it: all set O=1)", ETH, eth6(ALL_NODES_MAC, A, na(flags=0)),
         claim(ND_ADVERT, A, VIP, ALL_NODES_MAC, VIP, 86, eth_dst=ALL_NODES_MAC)),
    Case("unsolicited NA with the router flag", ETH,
         eth6(ALL_NODES_MAC, A, na(flags=F_R | F_O)),
         claim(ND_ADVERT | NA_ROUTER | NA_OVERRIDE, A, VIP, ALL_NODES_MAC, VIP, 86,
               eth_dst=ALL_NODES_MAC)),
    Case("solicited NA, S=1 O=1, to the asker (a kernel's answer)", ETH,
         eth6(CLIENT, A, ANSWER),
         claim(SOLICITED_SO, A, VIP, CLIENT, ASKER, 86, eth_dst=CLIENT)),
    Case("solicited NA, S=1 O=0 (a proxy, MetalLB's speaker)", ETH,
         eth6(CLIENT, B, na(flags=F_S, src=LL1, dst=ASKER, lladdr=B)),
         claim(ND_ADVERT | NA_SOLICITED, B, VIP, CLIENT, ASKER, 86, eth_dst=CLIENT)),
    Case("solicited NA without a target link-layer option: the Ethernet source claims", ETH,
         eth6(CLIENT, A, na(flags=F_S | F_O, src=VIP, dst=ASKER, options=b"")),
         claim(SOLICITED_SO, A, VIP, CLIENT, ASKER, 78, eth_dst=CLIENT)),
    Case("NA whose target link-layer address is not the Ethernet source", ETH,
         eth6(ALL_NODES_MAC, B, na(lladdr=A)),
         claim(UNSOLICITED_O, A, VIP, ALL_NODES_MAC, VIP, 86, eth_src=B,
               eth_dst=ALL_NODES_MAC)),
    Case("NA with two target link-layer options: the first counts", ETH,
         eth6(ALL_NODES_MAC, A, na(options=ll_option(2, A) + ll_option(2, B))),
         claim(UNSOLICITED_O, A, VIP, ALL_NODES_MAC, VIP, 94, eth_dst=ALL_NODES_MAC)),
    Case("NA with an unknown option before the link-layer option", ETH,
         eth6(ALL_NODES_MAC, A, na(options=bytes([200, 2]) + bytes(14) + ll_option(2, A))),
         claim(UNSOLICITED_O, A, VIP, ALL_NODES_MAC, VIP, 102, eth_dst=ALL_NODES_MAC)),
    Case("NA for a link-local target", ETH, eth6(ALL_NODES_MAC, A, na(LL1)),
         claim(UNSOLICITED_O, A, LL1, ALL_NODES_MAC, LL1, 86, eth_dst=ALL_NODES_MAC)),
    Case("NA with trailing bytes after the payload length (padding is not options)", ETH,
         eth6(ALL_NODES_MAC, A, MLB_NA + b"\x01\x00\xde\xad"),
         claim(UNSOLICITED_O, A, VIP, ALL_NODES_MAC, VIP, 90, eth_dst=ALL_NODES_MAC)),
    # -- solicitations --------------------------------------------------------------------------
    Case("NS with a source link-layer option claims its source", ETH, ETH_ASK,
         claim(ND_SOLICIT, CLIENT, ASKER, SOLICITED_MAC, VIP, 86, eth_dst=SOLICITED_MAC)),
    Case("NS with a nonce option (RFC 3971) too", ETH,
         eth6(SOLICITED_MAC, CLIENT, ns(options=ll_option(1, CLIENT) + bytes([14, 1]) + bytes(6))),
         claim(ND_SOLICIT, CLIENT, ASKER, SOLICITED_MAC, VIP, 94, eth_dst=SOLICITED_MAC)),
    Case("NS from a link-local source", ETH, eth6(SOLICITED_MAC, A, ns(src=LL1, lladdr=A)),
         claim(ND_SOLICIT, A, LL1, SOLICITED_MAC, VIP, 86, eth_dst=SOLICITED_MAC)),
    Case("unicast NS without a source link-layer option (reachability check)", ETH,
         eth6(A, CLIENT, ns(dst=VIP, options=b"")), "arp_other"),
    Case("DAD: NS from the unspecified address is a probe", ETH,
         eth6(SOLICITED_MAC, A, ns(src=UNSPECIFIED, options=b"")), "probe"),
    # -- tags and cooked captures ---------------------------------------------------------------
    Case("802.1Q-tagged unsolicited NA", ETH,
         eth6(ALL_NODES_MAC, A, MLB_NA, tags=((TPID_8021Q, 100),)),
         claim(UNSOLICITED_O, A, VIP, ALL_NODES_MAC, VIP, 90, vlan=100, eth_dst=ALL_NODES_MAC)),
    Case("QinQ-tagged solicitation", ETH,
         eth6(SOLICITED_MAC, CLIENT, ASK, tags=((TPID_8021AD, 200), (TPID_8021Q, 2001))),
         claim(ND_SOLICIT, CLIENT, ASKER, SOLICITED_MAC, VIP, 94, vlan=200, inner=2001,
               eth_dst=SOLICITED_MAC)),
    Case("tagged DAD probe", ETH,
         eth6(SOLICITED_MAC, A, ns(src=UNSPECIFIED, options=b""), tags=((TPID_8021Q, 7),)),
         "probe"),
    Case("Linux cooked v1 NA: no Ethernet destination, tha zero", SLL,
         sll(MLB_NA, protocol=ETH_IPV6, addr=A),
         claim(UNSOLICITED_O, A, VIP, ZERO_MAC, VIP, 16 + 72)),
    Case("Linux cooked v2 NS", SLL2, sll2(ASK, protocol=ETH_IPV6, addr=CLIENT),
         claim(ND_SOLICIT, CLIENT, ASKER, ZERO_MAC, VIP, 20 + 72)),
    Case("Linux cooked v2 NA without option or address: nothing to claim with", SLL2,
         sll2(na(flags=F_S | F_O, src=VIP, dst=ASKER, options=b""), protocol=ETH_IPV6, halen=0),
         "arp_other"),
    Case("Linux cooked v1 NA without option: the SLL address claims", SLL,
         sll(na(flags=F_S | F_O, src=VIP, dst=ASKER, options=b""), protocol=ETH_IPV6, addr=B),
         claim(SOLICITED_SO, B, VIP, ZERO_MAC, ASKER, 16 + 64)),
    Case("Linux cooked v1 NA with an 802.1Q tag in the payload", SLL,
         sll(struct.pack("!HH", 55, ETH_IPV6) + MLB_NA, protocol=TPID_8021Q, addr=A),
         claim(UNSOLICITED_O, A, VIP, ZERO_MAC, VIP, 16 + 4 + 72, vlan=55)),
    # -- extension headers --------------------------------------------------------------------
    Case("NA behind hop-by-hop and destination options", ETH,
         eth6(ALL_NODES_MAC, A, ipv6(LL1, ALL_NODES, nd(LL1, ALL_NODES, 136, VIP, flags=F_O,
                                                          options=ll_option(2, A)),
                                     nh=0, ext=ext_header(60) + ext_header(58, 16))),
         claim(UNSOLICITED_O, A, VIP, ALL_NODES_MAC, VIP, 14 + 40 + 8 + 16 + 32,
               eth_dst=ALL_NODES_MAC)),
    Case("NA behind eight extension headers (the most walked)", ETH,
         eth6(ALL_NODES_MAC, A, ipv6(LL1, ALL_NODES, nd(LL1, ALL_NODES, 136, VIP, flags=F_O,
                                                          options=ll_option(2, A)),
                                     nh=60, ext=ext_header(60) * 7 + ext_header(58))),
         claim(UNSOLICITED_O, A, VIP, ALL_NODES_MAC, VIP, 14 + 40 + 64 + 32,
               eth_dst=ALL_NODES_MAC)),
    Case("nine extension headers are hostile", ETH,
         eth6(ALL_NODES_MAC, A, ipv6(LL1, ALL_NODES, nd(LL1, ALL_NODES, 136, VIP, flags=F_O),
                                     nh=60, ext=ext_header(60) * 8 + ext_header(58))),
         "malformed.too_many_ipv6_headers"),
    Case("NA in a first fragment (RFC 6980: never valid)", ETH,
         eth6(ALL_NODES_MAC, A, ipv6(LL1, ALL_NODES, nd(LL1, ALL_NODES, 136, VIP, flags=F_O),
                                     nh=44, ext=bytes([58, 0, 0, 1, 0, 0, 0, 9]))),
         "malformed.ndp_fragmented"),
    Case("a later fragment holds no ICMPv6 header", ETH,
         eth6(ALL_NODES_MAC, A, ipv6(LL1, ALL_NODES, bytes(32), nh=44,
                                     ext=bytes([58, 0, 0, 0x10, 0, 0, 0, 9]))), "non_arp"),
    Case("ESP: opaque", ETH, eth6(ALL_NODES_MAC, A, ipv6(LL1, ALL_NODES, bytes(40), nh=50)),
         "non_arp"),
    Case("an extension header cut by the snap length", ETH,
         eth6(ALL_NODES_MAC, A, ipv6(LL1, ALL_NODES, b"", nh=0, plen=8))[:14 + 44], "non_arp"),
    # -- other IPv6 -----------------------------------------------------------------------------
    Case("ICMPv6 echo request", ETH,
         eth6(A, B, ipv6(ASKER, VIP, icmp6(ASKER, VIP, 128, bytes(12)), hlim=64)), "non_arp"),
    Case("router advertisement (134)", ETH,
         eth6(ALL_NODES_MAC, A, ipv6(LL1, ALL_NODES, icmp6(LL1, ALL_NODES, 134, bytes(12)))),
         "non_arp"),
    Case("MLDv2 report behind a hop-by-hop router alert", ETH,
         eth6(mac("33:33:00:00:00:16"), A,
              ipv6(LL1, ip6("ff02::16"), icmp6(LL1, ip6("ff02::16"), 143, bytes(24)), nh=0,
                   hlim=1, ext=bytes([58, 0, 5, 2, 0, 0, 1, 0]))), "non_arp"),
    Case("UDP over IPv6", ETH, eth6(A, B, ipv6(ASKER, VIP, bytes(16), nh=17, hlim=64)),
         "non_arp"),
    Case("IPv6 header cut at 39 bytes", ETH, eth6(A, B, MLB_NA)[:14 + 39], "non_arp"),
    Case("ICMPv6 type byte not captured", ETH, eth6(A, B, MLB_NA)[:14 + 40], "non_arp"),
    # -- malformed Neighbor Discovery -------------------------------------------------------------
    Case("NA with hop limit 64: not from the link", ETH,
         eth6(ALL_NODES_MAC, A, na(hlim=64)), "malformed.ndp_hop_limit"),
    Case("NS with hop limit 254", ETH, eth6(SOLICITED_MAC, CLIENT, ns(hlim=254)),
         "malformed.ndp_hop_limit"),
    Case("DAD probe with hop limit 1 is malformed first", ETH,
         eth6(SOLICITED_MAC, A, ns(src=UNSPECIFIED, options=b"", hlim=1)),
         "malformed.ndp_hop_limit"),
    Case("NA with ICMPv6 code 1", ETH,
         eth6(ALL_NODES_MAC, A, ipv6(LL1, ALL_NODES, nd(LL1, ALL_NODES, 136, VIP, flags=F_O,
                                                          code=1))), "malformed.ndp_code"),
    Case("version 4 in the IPv6 header", ETH, eth6(ALL_NODES_MAC, A, na(version=4)),
         "malformed.ipv6_version"),
    Case("NA cut inside the target address", ETH, ETH_MLB_NA[:14 + 40 + 20],
         "malformed.truncated_ndp"),
    Case("payload length too short for an NA", ETH, eth6(ALL_NODES_MAC, A, na(plen=16)),
         "malformed.truncated_ndp"),
    Case("option cut by the snap length", ETH, ETH_MLB_NA[:-3], "malformed.truncated_ndp"),
    Case("option of length 0", ETH,
         eth6(ALL_NODES_MAC, A, na(options=bytes([2, 0]) + A)), "malformed.ndp_bad_option"),
    Case("option longer than the payload", ETH,
         eth6(ALL_NODES_MAC, A, na(options=bytes([2, 3]) + A)), "malformed.ndp_bad_option"),
    Case("link-layer option of 16 bytes on Ethernet", ETH,
         eth6(ALL_NODES_MAC, A, na(options=bytes([2, 2]) + A + bytes(8))),
         "malformed.ndp_bad_option"),
    Case("multicast target", ETH, eth6(ALL_NODES_MAC, A, na(ip6("ff02::1"))),
         "malformed.ndp_multicast_target"),
    Case("unspecified target", ETH, eth6(SOLICITED_MAC, CLIENT, ns(UNSPECIFIED)),
         "malformed.ndp_multicast_target"),
    Case("NS from a multicast source", ETH, eth6(SOLICITED_MAC, A, ns(src=ip6("ff02::1"))),
         "malformed.ndp_multicast_source"),
    Case("solicited NA to a multicast destination", ETH,
         eth6(ALL_NODES_MAC, A, na(flags=F_S | F_O)), "malformed.ndp_solicited_multicast"),
    Case("multicast target link-layer address", ETH,
         eth6(ALL_NODES_MAC, A, na(lladdr=ALL_NODES_MAC)), "malformed.invalid_sender_mac"),
    Case("zero source link-layer address", ETH,
         eth6(SOLICITED_MAC, CLIENT, ns(lladdr=ZERO_MAC)), "malformed.invalid_sender_mac"),
    Case("NA without option from a broadcast Ethernet source", ETH,
         eth6(CLIENT, BROADCAST, na(flags=F_S, src=VIP, dst=ASKER, options=b"")),
         "malformed.invalid_sender_mac"),
]


def test_case_descriptions_are_unique() -> None:
    assert len({c.desc for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.desc for c in CASES])
def test_decode_ndp_table(case: Case) -> None:
    got = decode(case.linktype, case.frame, T)
    assert got == case.expected
    if isinstance(got, Claim):
        assert type(got.sha) is bytes and type(got.spa) is bytes and type(got.tpa) is bytes
        assert decode(case.linktype, bytearray(case.frame), T) == case.expected
        assert decode(case.linktype, memoryview(case.frame), T) == case.expected


TSHARK_FIELDS = ["icmpv6.type", "ipv6.src", "ipv6.dst", "icmpv6.nd.ns.target_address",
                 "icmpv6.nd.na.target_address", "icmpv6.opt.linkaddr", "icmpv6.nd.na.flag.r",
                 "icmpv6.nd.na.flag.s", "icmpv6.nd.na.flag.o", "ieee8021ad.id", "vlan.id",
                 "icmpv6.checksum.status"]


def _flag(v: str) -> bool:
    return v in ("1", "True")


@pytest.mark.parametrize("linktype", [ETH, SLL, SLL2])
def test_ndp_claims_agree_with_tshark(linktype: int, tmp_path) -> None:
    """tshark reads the same target, link-layer address, flags and VLANs from every claim
    (and a correct checksum: the builders make real messages)."""
    cases = [c for c in CASES if c.linktype == linktype and isinstance(c.expected, Claim)]
    assert cases
    pkts = [pcapgen.Packet(c.frame, sec=i + 1) for i, c in enumerate(cases)]
    path = pcapgen.write(tmp_path / "nd.pcap", pcapgen.pcap(pkts, linktype))
    argv = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=a",
            "-E", "aggregator=,"]
    for f in TSHARK_FIELDS:
        argv += ["-e", f]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == len(cases)
    for line, case in zip(out, cases, strict=True):
        row = dict(zip(TSHARK_FIELDS, line.split("\t"), strict=True))
        c = case.expected
        assert isinstance(c, Claim)
        ntype = int(row["icmpv6.type"].split(",")[0])
        assert ntype == c.op & 0xFF, case.desc
        linkaddrs = [m for m in row["icmpv6.opt.linkaddr"].split(",") if m]
        src, dst = row["ipv6.src"].split(",")[-1], row["ipv6.dst"].split(",")[-1]
        if ntype == ND_SOLICIT:
            assert row["icmpv6.nd.ns.target_address"] == _text(c.tpa), case.desc
            assert src == _text(c.spa), case.desc
        else:
            assert row["icmpv6.nd.na.target_address"] == _text(c.spa), case.desc
            flags = (NA_ROUTER * _flag(row["icmpv6.nd.na.flag.r"])
                     | NA_SOLICITED * _flag(row["icmpv6.nd.na.flag.s"])
                     | NA_OVERRIDE * _flag(row["icmpv6.nd.na.flag.o"]))
            assert c.op == ND_ADVERT | flags, case.desc
            assert _text(c.tpa) == (dst if flags & NA_SOLICITED else
                                    row["icmpv6.nd.na.target_address"]), case.desc
        assert c.sha.hex(":") == (linkaddrs[0] if linkaddrs else c.eth_src.hex(":")), case.desc
        ids = [int(v) for v in (row["ieee8021ad.id"] + "," + row["vlan.id"]).split(",") if v]
        assert (ids[0] if ids else None) == c.vlan, case.desc
        assert (ids[-1] if len(ids) > 1 else None) == c.inner_vlan, case.desc
        assert row["icmpv6.checksum.status"] in ("1", "Good"), case.desc


def _text(b: bytes) -> str:
    import ipaddress
    return str(ipaddress.IPv6Address(b))


def test_op_values_keep_request_parity_and_the_flags() -> None:
    """Odd ops ask (the tracker's request path), even ops answer; the NA flags sit above
    the ICMPv6 type, so ``op & 0xFF`` is the type and ARP's 1 and 2 stay as they were."""
    assert is_request(1) and is_request(ND_SOLICIT)
    assert not any(is_request(ND_ADVERT | f) for f in range(0, 0x800, 0x100))
    assert not is_request(2)
    assert not is_ndp(1) and not is_ndp(2) and is_ndp(ND_SOLICIT) and is_ndp(SOLICITED_SO)
    assert {(ND_ADVERT | f) & 0xFF for f in range(0, 0x800, 0x100)} == {136}
    assert (NA_ROUTER, NA_SOLICITED, NA_OVERRIDE) == (F_R << 3, F_S << 3, F_O << 3)


def test_unsolicited_na_is_gratuitous_and_a_solicited_one_answers_the_asker() -> None:
    unsolicited = decode(ETH, ETH_MLB_NA)
    solicited = decode(ETH, eth6(CLIENT, A, ANSWER))
    ask = decode(ETH, ETH_ASK)
    assert unsolicited.gratuitous and not solicited.gratuitous and not ask.gratuitous
    # the tracker's pairing key: (vlan, inner, asked IP, requester IP) on both sides
    assert (ask.tpa, ask.spa) == (solicited.spa, solicited.tpa) == (VIP, ASKER)


# -- robustness -------------------------------------------------------------------------------

def _check(r: object) -> None:
    if isinstance(r, Claim):
        assert len(r.sha) == 6 and not r.sha[0] & 1 and r.sha != ZERO_MAC
        assert len(r.spa) == len(r.tpa) == 16 and r.spa[0] != 0xFF and r.spa != bytes(16)
        assert r.op == ND_SOLICIT or r.op & 0xF8FF == ND_ADVERT
    else:
        assert isinstance(r, str)
        assert r in {"probe", "arp_other", "non_arp"} or r.startswith("malformed.")


@st.composite
def nd_packets(draw: st.DrawFn) -> bytes:
    """Neighbor Discovery with every field drawn, behind drawn extension headers."""
    kind = draw(st.sampled_from([135, 136, 135, 136, 134, 128, 143]))
    src = draw(st.sampled_from([ASKER, LL1, UNSPECIFIED, ALL_NODES]) | st.binary(min_size=16,
                                                                                  max_size=16))
    dst = draw(st.sampled_from([ALL_NODES, SOLICITED, ASKER]))
    target = draw(st.sampled_from([VIP, LL1, ALL_NODES]) | st.binary(min_size=16, max_size=16))
    opts = b"".join(draw(st.lists(
        st.sampled_from([ll_option(1, A), ll_option(2, B), ll_option(2, ALL_NODES_MAC),
                         bytes([14, 1]) + bytes(6), bytes([2, 0]), bytes([1, 9])])
        | st.binary(max_size=16), max_size=3)))
    msg = nd(src, dst, kind, target, flags=draw(st.integers(0, 255)), options=opts,
             code=draw(st.sampled_from([0, 0, 0, 1])))
    chain = draw(st.lists(st.sampled_from([0, 43, 60, 44, 51]), max_size=10))
    ext = b""
    for i, h in enumerate(chain):
        nxt = chain[i + 1] if i + 1 < len(chain) else 58
        if h == 44:
            ext += bytes([nxt, 0]) + struct.pack("!H", draw(st.sampled_from([0, 1, 8, 0x10])))
            ext += bytes(4)
        elif h == 51:
            ext += bytes([nxt, 1]) + bytes(6)
        else:
            ext += ext_header(nxt, draw(st.sampled_from([8, 16])))
    packet = ipv6(src, dst, msg, nh=chain[0] if chain else 58,
                  hlim=draw(st.sampled_from([255, 255, 64, 1])),
                  version=draw(st.sampled_from([6, 6, 6, 4])), ext=ext,
                  plen=draw(st.none() | st.integers(0, 200)))
    return packet[:draw(st.integers(0, len(packet) + 8))]


@settings(max_examples=500, deadline=None)
@given(packet=nd_packets(), tagged=st.booleans(), linktype=st.sampled_from([ETH, SLL, SLL2]))
def test_decode_never_raises_on_neighbor_discovery(packet: bytes, tagged: bool,
                                                  linktype: int) -> None:
    if linktype == ETH:
        frame = eth6(ALL_NODES_MAC, A, packet, tags=((TPID_8021Q, 5),) if tagged else ())
    elif linktype == SLL:
        frame = sll(packet, protocol=ETH_IPV6, addr=A)
    else:
        frame = sll2(packet, protocol=ETH_IPV6, addr=A)
    _check(decode(linktype, frame, 1.0))


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=120))
def test_decode_never_raises_on_random_ipv6_payloads(data: bytes) -> None:
    _check(decode(ETH, eth6(ALL_NODES_MAC, A, data)))
    _check(decode(ETH, eth6(ALL_NODES_MAC, A, b"\x60" + data)))
