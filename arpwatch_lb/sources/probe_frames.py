"""Probe frames: ARP who-has requests and IPv6 Neighbor Solicitations, crafted with scapy
(imported only when probing)."""

from __future__ import annotations

from ..core.addresses import format_ip, format_mac

__all__ = ["neighbor_solicitation", "probe_frame", "solicited_node", "who_has"]

BROADCAST = "ff:ff:ff:ff:ff:ff"


def who_has(src_mac: bytes, src_ip: bytes, target: bytes) -> bytes:
    """An ARP request "who has ``target``? tell ``src_ip``", broadcast, as bytes."""
    from scapy.layers.l2 import ARP, Ether  # slow import: only when probing

    frame = Ether(dst=BROADCAST, src=format_mac(src_mac)) / ARP(
        op=1, hwsrc=format_mac(src_mac), psrc=format_ip(src_ip),
        hwdst="00:00:00:00:00:00", pdst=format_ip(target))
    return bytes(frame)


def solicited_node(target: bytes) -> tuple[bytes, bytes]:
    """(IPv6 solicited-node multicast group ff02::1:ffXX:XXXX, its Ethernet group 33:33:ffXX:XXXX)
    of a 16-byte ``target`` (RFC 4291, RFC 2464)."""
    low = target[13:16]
    return bytes.fromhex("ff02" + "00" * 9 + "01ff") + low, b"\x33\x33\xff" + low


def neighbor_solicitation(src_mac: bytes, src_ip6: bytes, target: bytes) -> bytes:
    """A Neighbor Solicitation for ``target`` from ``src_ip6`` with our source link-layer
    address option, to the target's solicited-node group, hop limit 255 (RFC 4861), as bytes.

    Every node that holds ``target`` answers with a solicited advertisement to
    ``src_ip6`` — two MACs answering are a duplicate reply.
    """
    from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6  # slow import
    from scapy.layers.l2 import Ether

    group, eth_group = solicited_node(target)
    frame = (Ether(dst=format_mac(eth_group), src=format_mac(src_mac))
             / IPv6(src=format_ip(src_ip6), dst=format_ip(group), hlim=255)
             / ICMPv6ND_NS(tgt=format_ip(target))
             / ICMPv6NDOptSrcLLAddr(lladdr=format_mac(src_mac)))
    return bytes(frame)


def probe_frame(src_mac: bytes, src_ip: bytes, target: bytes) -> bytes:
    """The probe for ``target``: an ARP request (4-byte addresses) or a Neighbor
    Solicitation (16-byte addresses); ``src_ip`` is ours, of the same family."""
    if len(target) == 16:
        return neighbor_solicitation(src_mac, src_ip, target)
    return who_has(src_mac, src_ip, target)
