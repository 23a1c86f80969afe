"""Address formatting and VIP parsing shared by every command (IPv4 and IPv6)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["MAX_RANGE", "VipSet", "format_ip", "format_mac", "ip_sort_key", "parse_ip",
           "parse_mac", "parse_vips"]

MAX_RANGE = 65536  # a /16 of VIPs is already far more than any pool (IPv6: a /112)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def format_mac(mac: bytes) -> str:
    """``b'\\x02\\x00...'`` → ``'02:00:...'`` (lower case, colons)."""
    return mac.hex(":")


def format_ip(ip: bytes) -> str:
    """Four bytes → dotted quad; sixteen bytes → the compressed IPv6 form (RFC 5952)."""
    if len(ip) == 4:
        return f"{ip[0]}.{ip[1]}.{ip[2]}.{ip[3]}"
    return str(ipaddress.IPv6Address(bytes(ip)))


def parse_mac(text: str) -> bytes:
    """``'02:00:5e:10:00:01'`` (or dashes) → six bytes; ValueError otherwise."""
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6 or not all(1 <= len(p) <= 2 for p in parts):
        raise ValueError(f"not a MAC address: {text!r}")
    return bytes(int(p, 16) for p in parts)


def parse_ip(text: str) -> bytes:
    """Dotted quad → four bytes, IPv6 text → sixteen bytes; ValueError otherwise."""
    return ipaddress.ip_address(text).packed


def ip_sort_key(text: str) -> tuple[int, int]:
    """Order addresses as text: IPv4 first, then IPv6, each numerically."""
    a = ipaddress.ip_address(text)
    return a.version, int(a)


class VipSet:
    """The VIPs a user named: single addresses (expected to be claimed) and ranges.

    Single addresses that nobody claims are reported as ``unclaimed``; ranges
    (``192.0.2.0/28``, ``2001:db8::/64``) only select which claimed IPs are
    reported — a pool of which most addresses are free is not a fault.  IPv4
    and IPv6 mix freely; a 4-byte key is only ever in an IPv4 range.
    """

    def __init__(self, networks: Iterable[Network] = ()) -> None:
        self.networks = list(networks)
        self.singles = [n.network_address.packed for n in self.networks
                        if n.prefixlen == n.max_prefixlen]
        self._ints = [(n.version, int(n.network_address), int(n.broadcast_address))
                      for n in self.networks]

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, ip: bytes) -> bool:
        if not self.networks:
            return True
        version = 4 if len(ip) == 4 else 6
        v = int.from_bytes(ip, "big")
        return any(fam == version and lo <= v <= hi for fam, lo, hi in self._ints)

    def too_large_to_probe(self) -> list[str]:
        """Ranges with more than :data:`MAX_RANGE` addresses (only IPv6 ones can be)."""
        return [str(n) for n in self.networks if n.num_addresses > MAX_RANGE]

    def addresses(self) -> list[bytes]:
        """Every address named, ranges expanded (for probing).

        Raises ValueError for a range too large to probe (see :meth:`too_large_to_probe`).
        """
        big = self.too_large_to_probe()
        if big:
            raise ValueError(f"{', '.join(big)}: too many addresses to probe (at most "
                             f"{MAX_RANGE}: an IPv6 /112); name single VIPs or a smaller range")
        out: dict[bytes, None] = {}
        for n in self.networks:
            hosts = [n.network_address] if n.prefixlen == n.max_prefixlen else list(
                n.hosts()) or [n.network_address]
            for a in hosts:
                out[a.packed] = None
        return list(out)


def parse_vips(values: Iterable[str]) -> VipSet:
    """Parse ``--vip`` values: IPv4/IPv6 addresses or CIDR ranges; ValueError with a clear message.

    An IPv4 range may hold at most :data:`MAX_RANGE` addresses (a /16).  An
    IPv6 prefix of any length selects (a /64 is the usual subnet); only
    probing it is bounded (:meth:`VipSet.addresses`).
    """
    nets: list[Network] = []
    for text in values:
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                net = ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not an IPv4 or IPv6 address or CIDR range"
                                 ) from None
            if net.version == 4 and net.num_addresses > MAX_RANGE:
                raise ValueError(f"{part!r} is too large a range (at most /16)")
            nets.append(net)
    return VipSet(nets)
