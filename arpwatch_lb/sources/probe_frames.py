"""Probe frames: ARP who-has requests, crafted with scapy (imported only when probing)."""

from __future__ import annotations

from ..core.addresses import format_ip, format_mac

__all__ = ["who_has"]

BROADCAST = "ff:ff:ff:ff:ff:ff"


def who_has(src_mac: bytes, src_ip: bytes, target: bytes) -> bytes:
    """An ARP request "who has ``target``? tell ``src_ip``", broadcast, as bytes."""
    from scapy.layers.l2 import ARP, Ether  # slow import: only when probing

    frame = Ether(dst=BROADCAST, src=format_mac(src_mac)) / ARP(
        op=1, hwsrc=format_mac(src_mac), psrc=format_ip(src_ip),
        hwdst="00:00:00:00:00:00", pdst=format_ip(target))
    return bytes(frame)
