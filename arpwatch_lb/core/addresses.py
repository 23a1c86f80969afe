"""Address formatting and VIP parsing shared by every command."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["VipSet", "format_ip", "format_mac", "parse_ip", "parse_mac", "parse_vips"]

MAX_RANGE = 65536  # a /16 of VIPs is already far more than any pool


def format_mac(mac: bytes) -> str:
    """``b'\\x02\\x00...'`` → ``'02:00:...'`` (lower case, colons)."""
    return mac.hex(":")


def format_ip(ip: bytes) -> str:
    """Four bytes → dotted quad."""
    return f"{ip[0]}.{ip[1]}.{ip[2]}.{ip[3]}"


def parse_mac(text: str) -> bytes:
    """``'02:00:5e:10:00:01'`` (or dashes) → six bytes; ValueError otherwise."""
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6 or not all(1 <= len(p) <= 2 for p in parts):
        raise ValueError(f"not a MAC address: {text!r}")
    return bytes(int(p, 16) for p in parts)


def parse_ip(text: str) -> bytes:
    """Dotted quad → four bytes; ValueError otherwise."""
    return ipaddress.IPv4Address(text).packed


class VipSet:
    """The VIPs a user named: single addresses (expected to be claimed) and ranges.

    Single addresses that nobody claims are reported as ``unclaimed``; ranges
    (``192.0.2.0/28``) only select which claimed IPs are reported — a pool of
    which most addresses are free is not a fault.
    """

    def __init__(self, networks: Iterable[ipaddress.IPv4Network] = ()) -> None:
        self.networks = list(networks)
        self.singles = [n.network_address.packed for n in self.networks if n.prefixlen == 32]
        self._ints = [(int(n.network_address), int(n.broadcast_address)) for n in self.networks]

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, ip: bytes) -> bool:
        if not self.networks:
            return True
        v = int.from_bytes(ip, "big")
        return any(lo <= v <= hi for lo, hi in self._ints)

    def addresses(self) -> list[bytes]:
        """Every address named, ranges expanded (for probing)."""
        out: dict[bytes, None] = {}
        for n in self.networks:
            hosts = [n.network_address] if n.prefixlen == 32 else list(n.hosts()) or [
                n.network_address]
            for a in hosts:
                out[a.packed] = None
        return list(out)


def parse_vips(values: Iterable[str]) -> VipSet:
    """Parse ``--vip`` values: IPv4 addresses or CIDR ranges; ValueError with a clear message."""
    nets = []
    for text in values:
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                net = ipaddress.IPv4Network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not an IPv4 address or CIDR range") from None
            if net.num_addresses > MAX_RANGE:
                raise ValueError(f"{part!r} is too large a range (at most /16)")
            nets.append(net)
    return VipSet(nets)
