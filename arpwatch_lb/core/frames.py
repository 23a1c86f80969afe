"""Decode link-layer frames into ARP claims — a pure function of bytes.

An ARP frame for IPv4 over Ethernet-sized (6-byte) hardware addresses whose
sender IP is not 0.0.0.0 is a *claim*: "this IP is at this MAC".  Everything
else a capture may hold is classified by a :data:`FrameKind` string and
counted, never raised: RFC 5227 probes, RARP, ARP for other protocols, other
ethertypes, and malformed frames (``"malformed.<reason>"``, after Zeek's
"weirds").

Addresses stay raw bytes (6-byte MACs, 4-byte IPv4 addresses) so that the hot
path never formats strings; :mod:`arpwatch_lb.core.addresses` formats them for
reports.  :func:`encode_arp` is the inverse of the ARP part of the decoder.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from enum import IntEnum
from typing import NamedTuple

__all__ = [
    "BROADCAST_MAC",
    "LINKTYPE_ETHERNET",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "PLAIN_ARP",
    "SUPPORTED_LINKTYPES",
    "WIRE_REPLY",
    "WIRE_REQUEST",
    "ZERO_IP",
    "ZERO_MAC",
    "Claim",
    "Operation",
    "decode",
    "encode_arp",
    "ethernet_frame",
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

# Frame kinds that are not claims.  Strings, so counting is a Counter update.
PROBE = "probe"  # RFC 5227 probe: sender IP 0.0.0.0
RARP = "rarp"  # reverse ARP (ethertype 0x8035 or opcodes 3/4)
ARP_OTHER = "arp_other"  # ARP for other hardware/protocol sizes, or other opcodes
NON_ARP = "non_arp"  # any other ethertype / LLC payload
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


class Claim(NamedTuple):
    """One ARP frame that claims an IPv4 address for a MAC.

    Field names follow RFC 826.  MACs and IPs are raw bytes.  ``vlan`` is the
    outermost 802.1Q/802.1ad tag's VLAN ID and ``inner_vlan`` the innermost
    one of a stack (None when untagged or single-tagged).  ``eth_dst`` is None
    for Linux cooked captures, which do not record it.
    """

    time: float
    """Capture timestamp, epoch seconds."""
    vlan: int | None
    inner_vlan: int | None
    op: int
    """ARP opcode: 1 request, 2 reply."""
    sha: bytes
    """Sender hardware address: the MAC that claims ``spa``."""
    spa: bytes
    """Sender protocol (IPv4) address: the claimed IP."""
    tha: bytes
    """Target hardware address."""
    tpa: bytes
    """Target protocol (IPv4) address."""
    eth_src: bytes | None
    eth_dst: bytes | None
    length: int
    """Original frame length on the wire."""

    @property
    def gratuitous(self) -> bool:
        """A gratuitous ARP announces the sender's own IP (sender IP == target IP)."""
        return self.spa == self.tpa

    @property
    def eth_mismatch(self) -> bool:
        """The Ethernet source differs from the ARP sender MAC (proxies, spoofing)."""
        return self.eth_src is not None and self.eth_src != self.sha


_ARP_HDR = struct.Struct("!HHBBH")
_ARP_ETH_IPV4 = struct.Struct("!HHBBH6s4s6s4s")
_SLL = struct.Struct("!HHH8sH")
_SLL2 = struct.Struct("!HHIHBB8s")
_U16 = struct.Struct("!H")


def decode(linktype: int, data: bytes, time: float = 0.0, wire_length: int | None = None
           ) -> Claim | str:
    """Decode one captured frame.

    Returns a :class:`Claim`, or a frame-kind string for everything else:
    ``"probe"``, ``"rarp"``, ``"arp_other"``, ``"non_arp"``,
    ``"unsupported_linktype"`` or ``"malformed.<reason>"``.  Never raises for
    any input bytes.
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
        return NON_ARP

    vlan = vlans[0] if vlans else None
    inner = vlans[-1] if len(vlans) > 1 else None
    return decode_arp(data, offset, time, vlan, inner, eth_src, eth_dst, length)


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
