"""Decode link-layer frames into ARP and NDP claims — a pure function of bytes.

An ARP frame for IPv4 over Ethernet-sized (6-byte) hardware addresses whose
sender IP is not 0.0.0.0 is a *claim*: "this IP is at this MAC".  So is an
IPv6 Neighbor Discovery (RFC 4861) Neighbor Advertisement — "this target
address is at this link-layer address" — and a Neighbor Solicitation that
names its sender's link-layer address (see :func:`decode_ndp` for how an NDP
message maps onto the :class:`Claim` fields).  Everything else a capture may
hold is classified by a frame-kind string and counted, never raised: RFC 5227
probes and DAD solicitations, RARP, ARP for other protocols, other ethertypes,
and malformed frames (``"malformed.<reason>"``, after Zeek's "weirds").

One other fact is decoded because it names an announcer: a VRRP
advertisement (IPv4 protocol 112, RFC 3768 version 2 or RFC 5798 version 3),
returned as a :class:`VrrpAdvert` — not a claim, and still a non-ARP frame
for the frame counts.  Any other IPv4 frame, and a VRRP frame that is not a
well-formed advertisement, is ``"non_arp"`` as before.

Addresses stay raw bytes (6-byte MACs, 4-byte IPv4 or 16-byte IPv6
addresses) so that the hot path never formats strings;
:mod:`arpwatch_lb.core.addresses` formats them for reports.  :func:`encode_arp`
is the inverse of the ARP part of the decoder.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, MutableMapping
from enum import IntEnum
from typing import NamedTuple

__all__ = [
    "ALL_NODES_MAC",
    "BROADCAST_MAC",
    "ETHERTYPE_IPV6",
    "LINKTYPE_ETHERNET",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "NA_OVERRIDE",
    "NA_ROUTER",
    "NA_SOLICITED",
    "ND_ADVERT",
    "ND_SOLICIT",
    "PLAIN_ARP",
    "SUPPORTED_LINKTYPES",
    "WIRE_REPLY",
    "WIRE_REQUEST",
    "ZERO_IP",
    "ZERO_MAC",
    "Claim",
    "Operation",
    "VrrpAdvert",
    "count_other",
    "decode",
    "decode_ndp",
    "decode_vrrp",
    "encode_arp",
    "ethernet_frame",
    "is_ndp",
    "is_request",
    "malformed_counts",
]

LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
SUPPORTED_LINKTYPES = {
    LINKTYPE_ETHERNET: "Ethernet",
    LINKTYPE_LINUX_SLL: "Linux cooked v1",
    LINKTYPE_LINUX_SLL2: "Linux cooked v2",
}

ETHERTYPE_ARP = 0x0806
ETHERTYPE_RARP = 0x8035
ETHERTYPE_IPV4 = 0x0800
IPPROTO_VRRP = 112
VRRP_MULTICAST = b"\xe0\x00\x00\x12"  # 224.0.0.18
VRRP_MAC_PREFIX = b"\x00\x00\x5e\x00\x01"  # IPv4 VRRP virtual router MACs: 00:00:5e:00:01:<VRID>
ETHERTYPE_IPV6 = 0x86DD
VLAN_ETHERTYPES = frozenset({0x8100, 0x88A8, 0x9100})
SLL_PROTOCOL_LLC = 0x0004  # Linux cooked capture: the payload is an 802.2 LLC frame
MAX_VLAN_TAGS = 8  # deeper stacks are hostile input, not a network
LLC_SNAP_ARP = b"\xaa\xaa\x03\x00\x00\x00\x08\x06"
LLC_SNAP_RARP = b"\xaa\xaa\x03\x00\x00\x00\x80\x35"
ZERO_IP = b"\x00\x00\x00\x00"
ZERO_MAC = b"\x00" * 6
BROADCAST_MAC = b"\xff" * 6
PLAIN_ARP = b"\x08\x06\x00\x01\x08\x00\x06\x04"
"""Ethertype ARP, then htype Ethernet, ptype IPv4, hlen 6, plen 4: the 8 bytes before the
opcode of every common ARP frame (fast paths compare them at once)."""
WIRE_REQUEST, WIRE_REPLY = b"\x00\x01", b"\x00\x02"
"""The claim opcodes as they are on the wire (see :func:`decode_arp`)."""

# IPv6 Neighbor Discovery (RFC 4861).  ``op`` of an NDP claim: the ICMPv6 type in the low byte
# (135 solicitation, 136 advertisement), an advertisement's R/S/O flags above it.
ND_SOLICIT = 135
"""``op`` of a Neighbor Solicitation claim (odd, like ARP's request 1)."""
ND_ADVERT = 136
"""ICMPv6 type of a Neighbor Advertisement: the low byte of its claim's ``op`` (even, like
ARP's reply 2)."""
NA_OVERRIDE = 0x100
"""``op`` bit: the advertisement's Override (O) flag."""
NA_SOLICITED = 0x200
"""``op`` bit: the advertisement's Solicited (S) flag — it answers a solicitation."""
NA_ROUTER = 0x400
"""``op`` bit: the advertisement's Router (R) flag."""
IPPROTO_ICMPV6 = 58
ND_HOP_LIMIT = 255  # RFC 4861: anything else did not come from the link
MAX_IPV6_HEADERS = 8  # extension headers walked before ICMPv6; deeper chains are hostile
_IPV6_EXT = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options: (len + 1) * 8
_IPV6_FRAGMENT, _IPV6_AH = 44, 51
ZERO_IP6 = bytes(16)
ALL_NODES_MAC = b"\x33\x33\x00\x00\x00\x01"
"""The Ethernet group of ff02::1 (all nodes): an NDP claim's ``eth_dst`` when an
advertisement went to every node — unsolicited announcements (MetalLB, kube-vip,
keepalived, the kernel's ``ndisc_notify``), as opposed to an answer to one asker."""
_ND_OPT_SOURCE_LL, _ND_OPT_TARGET_LL = 1, 2

# Frame kinds that are not claims.  Strings, so counting is a Counter update.
PROBE = "probe"  # RFC 5227 probe: sender IP 0.0.0.0; NDP: a DAD solicitation (source ::)
RARP = "rarp"  # reverse ARP (ethertype 0x8035 or opcodes 3/4)
ARP_OTHER = "arp_other"  # ARP for other sizes/opcodes; NDP that names no link-layer address
NON_ARP = "non_arp"  # any other ethertype / LLC payload; IPv6 that is not NS/NA
UNSUPPORTED_LINKTYPE = "unsupported_linktype"
MALFORMED_PREFIX = "malformed."


def malformed_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """``{"malformed.truncated_arp": 3, "claims": 9}`` → ``{"truncated_arp": 3}``, sorted."""
    n = len(MALFORMED_PREFIX)
    return {k[n:]: int(v) for k, v in sorted(counts.items()) if k.startswith(MALFORMED_PREFIX)}


class Operation(IntEnum):
    """ARP opcodes (RFC 826, RFC 903)."""

    REQUEST = 1
    REPLY = 2
    RARP_REQUEST = 3
    RARP_REPLY = 4


def is_request(op: int) -> bool:
    """An ARP request or a Neighbor Solicitation (odd ``op``): it asks, and claims its sender."""
    return bool(op & 1)


def is_ndp(op: int) -> bool:
    """The claim came from IPv6 Neighbor Discovery (``op`` above ARP's 1 and 2)."""
    return op > 2


class Claim(NamedTuple):
    """One ARP or NDP frame that claims an IP address for a MAC.

    Field names follow RFC 826.  MACs and IPs are raw bytes: IPs are 4 bytes
    (ARP, IPv4) or 16 bytes (NDP, IPv6).  ``vlan`` is the outermost
    802.1Q/802.1ad tag's VLAN ID and ``inner_vlan`` the innermost one of a
    stack (None when untagged or single-tagged).  ``eth_dst`` is None for
    Linux cooked captures, which do not record it.

    ``op`` is odd for a question (ARP request 1, Neighbor Solicitation
    :data:`ND_SOLICIT`) and even for an answer or announcement (ARP reply 2,
    Neighbor Advertisement :data:`ND_ADVERT` plus its flag bits); see
    :func:`decode_ndp` for the NDP mapping.
    """

    time: float
    """Capture timestamp, epoch seconds."""
    vlan: int | None
    inner_vlan: int | None
    op: int
    """ARP opcode: 1 request, 2 reply; NDP: 135 solicitation, 136 advertisement | R/S/O bits."""
    sha: bytes
    """Sender hardware address: the MAC that claims ``spa``."""
    spa: bytes
    """Sender protocol address: the claimed IP (4 or 16 bytes)."""
    tha: bytes
    """Target hardware address (NDP: the Ethernet destination; zero when not recorded)."""
    tpa: bytes
    """Target protocol address (NDP: see :func:`decode_ndp`)."""
    eth_src: bytes | None
    eth_dst: bytes | None
    length: int
    """Original frame length on the wire."""

    @property
    def gratuitous(self) -> bool:
        """A gratuitous ARP (or unsolicited NA) announces the sender's own IP (spa == tpa)."""
        return self.spa == self.tpa

    @property
    def eth_mismatch(self) -> bool:
        """The Ethernet source differs from the ARP sender MAC (proxies, spoofing)."""
        return self.eth_src is not None and self.eth_src != self.sha


class VrrpAdvert(NamedTuple):
    """One VRRP advertisement (a fact for the announcer fingerprints, not a claim).

    MACs and IPs are raw bytes, like :class:`Claim`.
    """

    time: float
    """Capture timestamp, epoch seconds."""
    vlan: int | None
    inner_vlan: int | None
    src_mac: bytes | None
    """Ethernet source: the router's MAC, or the virtual MAC with ``use_vmac``
    (None for Linux cooked captures without a link-layer address)."""
    src_ip: bytes
    """IPv4 source: the router's own address."""
    dst_ip: bytes
    """224.0.0.18, or a peer's address for unicast VRRP."""
    version: int
    """2 (RFC 3768) or 3 (RFC 5798)."""
    vrid: int
    """Virtual router ID, 1-255."""
    priority: int
    """0 (the master resigns) to 255 (the address owner)."""
    interval: float
    """Advertisement interval in seconds (v2: whole seconds; v3: centiseconds)."""
    addresses: tuple[bytes, ...]
    """The virtual IPv4 addresses the router claims."""


_ARP_HDR = struct.Struct("!HHBBH")
_ARP_ETH_IPV4 = struct.Struct("!HHBBH6s4s6s4s")
_SLL = struct.Struct("!HHH8sH")
_SLL2 = struct.Struct("!HHIHBB8s")
_U16 = struct.Struct("!H")


def decode(linktype: int, data: bytes, time: float = 0.0, wire_length: int | None = None
           ) -> Claim | VrrpAdvert | str:
    """Decode one captured frame.

    Returns a :class:`Claim`, a :class:`VrrpAdvert`, or a frame-kind string
    for everything else: ``"probe"``, ``"rarp"``, ``"arp_other"``,
    ``"non_arp"``, ``"unsupported_linktype"`` or ``"malformed.<reason>"``.
    Never raises for any input bytes.  A :class:`VrrpAdvert` counts as
    ``"non_arp"`` (see :func:`count_other`).  IPv6 frames go to :func:`decode_ndp`.
    """
    length = len(data) if wire_length is None else wire_length
    if linktype == LINKTYPE_ETHERNET:
        if len(data) < 14:
            return "malformed.truncated_ethernet"
        eth_dst = bytes(data[0:6])
        eth_src = bytes(data[6:12])
        (ethertype,) = _U16.unpack_from(data, 12)
        offset = 14
    elif linktype == LINKTYPE_LINUX_SLL:
        if len(data) < 16:
            return "malformed.truncated_sll"
        _pkttype, _hatype, halen, addr, ethertype = _SLL.unpack_from(data, 0)
        eth_dst = None
        eth_src = bytes(addr[:6]) if halen == 6 else None
        offset = 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        if len(data) < 20:
            return "malformed.truncated_sll2"
        ethertype, _res, _ifindex, _hatype, _pkttype, halen, addr = _SLL2.unpack_from(data, 0)
        eth_dst = None
        eth_src = bytes(addr[:6]) if halen == 6 else None
        offset = 20
    else:
        return UNSUPPORTED_LINKTYPE

    vlans: list[int] = []
    while ethertype in VLAN_ETHERTYPES:
        if len(data) < offset + 4:
            return "malformed.truncated_vlan"
        if len(vlans) == MAX_VLAN_TAGS:
            return "malformed.too_many_vlan_tags"
        tci, ethertype = struct.unpack_from("!HH", data, offset)
        vlans.append(tci & 0x0FFF)
        offset += 4

    if (ethertype <= 1500 and linktype == LINKTYPE_ETHERNET) or (
            ethertype == SLL_PROTOCOL_LLC and linktype != LINKTYPE_ETHERNET):
        # IEEE 802.3 length field (or a cooked capture's "802.2 LLC" protocol):
        # only LLC/SNAP-encapsulated ARP interests us.
        head = bytes(data[offset : offset + 8])
        if head == LLC_SNAP_ARP:
            ethertype, offset = ETHERTYPE_ARP, offset + 8
        elif head == LLC_SNAP_RARP:
            return RARP
        else:
            return NON_ARP
    if ethertype == ETHERTYPE_RARP:
        return RARP
    if ethertype != ETHERTYPE_ARP:
        if ethertype == ETHERTYPE_IPV4:
            return decode_vrrp(data, offset, time, vlans, eth_src)
        if ethertype == ETHERTYPE_IPV6:
            return decode_ndp(data, offset, time, vlans[0] if vlans else None,
                              vlans[-1] if len(vlans) > 1 else None, eth_src, eth_dst, length)
        return NON_ARP

    vlan = vlans[0] if vlans else None
    inner = vlans[-1] if len(vlans) > 1 else None
    return decode_arp(data, offset, time, vlan, inner, eth_src, eth_dst, length)


def decode_vrrp(data: bytes, offset: int, time: float, vlans: list[int],
                eth_src: bytes | None) -> VrrpAdvert | str:
    """The VRRP advertisement in the IPv4 packet at ``data[offset:]``, or ``"non_arp"``.

    Anything that is not a complete, unfragmented IPv4 packet of protocol 112
    carrying a version 2 or 3 advertisement (type 1) is ``"non_arp"``, like
    every other IPv4 frame; never raises.
    """
    end = len(data)
    if end < offset + 20 or data[offset + 9] != IPPROTO_VRRP or data[offset] >> 4 != 4:
        return NON_ARP
    ihl = (data[offset] & 0x0F) * 4
    (frag,) = _U16.unpack_from(data, offset + 6)
    start = offset + ihl
    if ihl < 20 or frag & 0x3FFF or end < start + 8:  # options ok; fragments are not adverts
        return NON_ARP
    (total,) = _U16.unpack_from(data, offset + 2)
    end = min(end, offset + total) if total >= ihl else end
    ver_type, vrid, priority, count = data[start], data[start + 1], data[start + 2], data[start + 3]
    version = ver_type >> 4
    if ver_type & 0x0F != 1 or version not in (2, 3) or not vrid:
        return NON_ARP
    if end < start + 8 + 4 * count:
        return NON_ARP
    if version == 2:
        interval = float(data[start + 5])
    else:
        interval = (_U16.unpack_from(data, start + 4)[0] & 0x0FFF) / 100.0
    addresses = tuple(bytes(data[a:a + 4]) for a in range(start + 8, start + 8 + 4 * count, 4))
    vlan = vlans[0] if vlans else None
    inner = vlans[-1] if len(vlans) > 1 else None
    return VrrpAdvert(time, vlan, inner, eth_src, bytes(data[offset + 12:offset + 16]),
                      bytes(data[offset + 16:offset + 20]), version, vrid, priority, interval,
                      addresses)


def decode_arp(data: bytes, offset: int, time: float, vlan: int | None, inner_vlan: int | None,
               eth_src: bytes | None, eth_dst: bytes | None, length: int) -> Claim | str:
    """Decode the ARP payload at ``data[offset:]`` (see :func:`decode`)."""
    if len(data) < offset + 8:
        return "malformed.truncated_arp"
    htype, ptype, hlen, plen, op = _ARP_HDR.unpack_from(data, offset)
    if len(data) < offset + 8 + 2 * (hlen + plen):
        return "malformed.truncated_arp"
    if op in (Operation.RARP_REQUEST, Operation.RARP_REPLY):
        return RARP
    if ptype != ETHERTYPE_IPV4 or hlen != 6 or plen != 4 or htype not in (1, 6):
        return ARP_OTHER
    if op not in (Operation.REQUEST, Operation.REPLY):
        return ARP_OTHER
    _h, _p, _hl, _pl, op, sha, spa, tha, tpa = _ARP_ETH_IPV4.unpack_from(data, offset)
    if spa == ZERO_IP:
        return PROBE
    if sha == ZERO_MAC or sha[0] & 1:
        # A multicast, broadcast or zero sender MAC cannot own an address.
        return "malformed.invalid_sender_mac"
    return Claim(time, vlan, inner_vlan, op, sha, spa, tha, tpa, eth_src, eth_dst, length)


def count_other(counts: MutableMapping[str, int], result: VrrpAdvert | str,
                adverts: list[VrrpAdvert]) -> None:
    """Count a decode result that is not a claim; collect it in ``adverts`` if it is one.

    The one rule every source follows: a VRRP advertisement is a non-ARP
    frame for the counts, and a fact for the core
    (:meth:`arpwatch_lb.core.tracker.OwnershipTracker.feed_adverts`).
    """
    if result.__class__ is VrrpAdvert:
        adverts.append(result)  # type: ignore[arg-type]
        result = NON_ARP
    counts[result] = counts.get(result, 0) + 1  # type: ignore[index,call-overload]
def decode_ndp(data: bytes, offset: int, time: float, vlan: int | None, inner_vlan: int | None,
               eth_src: bytes | None, eth_dst: bytes | None, length: int) -> Claim | str:
    """Decode the IPv6 packet at ``data[offset:]``: a Neighbor Solicitation or Advertisement
    becomes a claim (or a probe, or a malformed frame); any other IPv6 is ``"non_arp"``.

    Hop-by-hop, routing and destination-options headers (and AH) before
    ICMPv6 are walked, at most :data:`MAX_IPV6_HEADERS` of them
    (``malformed.too_many_ipv6_headers`` beyond); a non-first fragment, ESP or
    a header cut by the snap length before the ICMPv6 type is reached cannot
    be told from other traffic and counts as ``"non_arp"``.  The ICMPv6
    checksum is not verified (captures of outgoing frames may hold offloaded,
    unfinished checksums).

    Once the ICMPv6 type is 135 or 136, RFC 4861's validity rules apply:
    ``malformed.ndp_hop_limit`` (hop limit not 255: it did not come from the
    link), ``ndp_fragmented`` (RFC 6980), ``ipv6_version``, ``ndp_code``
    (not 0), ``truncated_ndp``, ``ndp_bad_option`` (an option of length 0,
    past the end, or a link-layer option that is not 6 bytes),
    ``ndp_multicast_target`` (or the unspecified address ::),
    ``ndp_multicast_source``,
    ``ndp_solicited_multicast`` (S flag on a multicast advertisement),
    ``invalid_sender_mac`` (a multicast or zero link-layer address).

    How an NDP message maps onto the :class:`Claim` fields:

    ==========  ================================================  ==========================
    field       Neighbor Advertisement (type 136)                 Neighbor Solicitation (135)
    ==========  ================================================  ==========================
    ``op``      ``ND_ADVERT`` | ``NA_ROUTER`` | ``NA_SOLICITED``  ``ND_SOLICIT``
                | ``NA_OVERRIDE`` as flagged (always even)        (odd: a request)
    ``sha``     target link-layer address option, else the        source link-layer address
                Ethernet source                                   option (required)
    ``spa``     the target address (the claimed IP)               the IPv6 source
    ``tha``     the Ethernet destination (zero when not           the Ethernet destination
                recorded: Linux cooked captures)                  (zero when not recorded)
    ``tpa``     S=1: the IPv6 destination (the soliciting node,   the target address (the
                like an ARP reply's requester); S=0: the target   address asked about)
                itself, so an unsolicited advertisement is
                gratuitous (``spa == tpa``)
    ==========  ================================================  ==========================

    So the tracker needs no NDP knowledge: a solicitation is a request from
    its source for its target, a solicited advertisement a reply to its
    destination, and two solicited advertisements from different MACs
    answering one solicitation are a duplicate reply.  What a fingerprint of
    the sender needs is kept: the S, O and R flags in ``op``, and the
    destination in ``eth_dst`` (33:33:00:00:00:01 is ff02::1, all nodes — the
    destination of MetalLB's, kube-vip's and the kernel's unsolicited
    advertisements).  A solicitation from the unspecified address (Duplicate
    Address Detection) is a ``"probe"``, like an RFC 5227 probe; one without
    a source link-layer option (a unicast reachability check) names no MAC
    and counts as ``"arp_other"``, as does an advertisement without a
    link-layer address in a cooked capture that recorded none.
    """
    n = len(data)
    if n < offset + 40:
        return NON_ARP
    nh = data[offset + 6]
    p = offset + 40
    fragmented = False
    for _ in range(MAX_IPV6_HEADERS):
        if nh == IPPROTO_ICMPV6:
            break
        if n < p + 8:
            return NON_ARP
        if nh in _IPV6_EXT:
            nh, p = data[p], p + (data[p + 1] + 1) * 8
        elif nh == _IPV6_FRAGMENT:
            if (data[p + 2] << 8 | data[p + 3]) & 0xFFF8:
                return NON_ARP  # not the first fragment: no ICMPv6 header in it
            nh, p, fragmented = data[p], p + 8, True
        elif nh == _IPV6_AH:
            nh, p = data[p], p + (data[p + 1] + 2) * 4
        else:
            return NON_ARP
    else:
        if nh != IPPROTO_ICMPV6:
            return "malformed.too_many_ipv6_headers"
    if n <= p:
        return NON_ARP
    icmp_type = data[p]
    if icmp_type != ND_SOLICIT and icmp_type != ND_ADVERT:
        return NON_ARP
    # From here on it is Neighbor Discovery: RFC 4861's validity rules.
    if fragmented:
        return "malformed.ndp_fragmented"
    if data[offset] >> 4 != 6:
        return "malformed.ipv6_version"
    if data[offset + 7] != ND_HOP_LIMIT:
        return "malformed.ndp_hop_limit"
    if n < p + 24:
        return "malformed.truncated_ndp"
    if data[p + 1] != 0:
        return "malformed.ndp_code"
    end = offset + 40 + (data[offset + 4] << 8 | data[offset + 5])  # the payload's end
    if end < p + 24:
        return "malformed.truncated_ndp"  # the payload length leaves no room for the message
    target = bytes(data[p + 8:p + 24])
    if target[0] == 0xFF or target == ZERO_IP6:
        return "malformed.ndp_multicast_target"  # (or unspecified: no address to resolve)
    want = _ND_OPT_SOURCE_LL if icmp_type == ND_SOLICIT else _ND_OPT_TARGET_LL
    ll = None
    q = p + 24
    limit = min(end, n)
    while q < limit:
        if q + 2 > limit:
            return "malformed.truncated_ndp" if end > n else "malformed.ndp_bad_option"
        olen = data[q + 1] * 8
        if olen == 0:
            return "malformed.ndp_bad_option"
        if q + olen > limit:
            return "malformed.truncated_ndp" if q + olen <= end else "malformed.ndp_bad_option"
        if data[q] == want and ll is None:
            if olen != 8:
                return "malformed.ndp_bad_option"  # Ethernet: 6 bytes, one 8-octet unit
            ll = bytes(data[q + 2:q + 8])
        q += olen
    src = bytes(data[offset + 8:offset + 24])
    dst = bytes(data[offset + 24:offset + 40])
    tha = eth_dst if eth_dst is not None else ZERO_MAC
    if icmp_type == ND_SOLICIT:
        if src == ZERO_IP6:
            return PROBE  # Duplicate Address Detection
        if src[0] == 0xFF:
            return "malformed.ndp_multicast_source"
        if ll is None:
            return ARP_OTHER
        if ll == ZERO_MAC or ll[0] & 1:
            return "malformed.invalid_sender_mac"
        return Claim(time, vlan, inner_vlan, ND_SOLICIT, ll, src, tha, target, eth_src, eth_dst,
                     length)
    flags = data[p + 4]
    if flags & 0x40 and dst[0] == 0xFF:
        return "malformed.ndp_solicited_multicast"
    if ll is None:
        ll = eth_src
        if ll is None:
            return ARP_OTHER
    if ll == ZERO_MAC or ll[0] & 1:
        return "malformed.invalid_sender_mac"
    op = ND_ADVERT | (flags & 0xE0) << 3
    return Claim(time, vlan, inner_vlan, op, ll, target, tha, dst if flags & 0x40 else target,
                 eth_src, eth_dst, length)


def encode_arp(op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes) -> bytes:
    """Serialize an IPv4-over-Ethernet ARP payload (28 bytes)."""
    return _ARP_ETH_IPV4.pack(1, ETHERTYPE_IPV4, 6, 4, op, sha, spa, tha, tpa)


def ethernet_frame(dst: bytes, src: bytes, payload: bytes, ethertype: int = ETHERTYPE_ARP,
                   vlans: tuple[int, ...] = (), pad_to: int = 60) -> bytes:
    """Build an Ethernet frame, optionally 802.1Q-tagged, zero-padded to ``pad_to``."""
    header = dst + src
    for vid in vlans:
        header += struct.pack("!HH", 0x8100, vid & 0x0FFF)
    frame = header + _U16.pack(ethertype) + payload
    return frame.ljust(pad_to, b"\x00")
