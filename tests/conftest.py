"""Shared test helpers: addresses, frames built byte by byte, claims.

Frames are packed here with :mod:`struct` from the wire formats (Ethernet II,
802.1Q, LLC/SNAP, Linux cooked v1/v2, RFC 826 ARP, RFC 8200 IPv6, RFC 4861
Neighbor Discovery) rather than with
:mod:`arpwatch_lb.core.frames`, so decoder tests do not check the decoder against
its own encoder.  Test modules import these names: ``from conftest import mac``.
"""

from __future__ import annotations

import ipaddress
import os
import struct
from pathlib import Path

import pytest
from hypothesis import settings

from arpwatch_lb.core.frames import Claim

# Property tests: no per-example deadline (a loaded 2-core machine is slow at times), and in CI
# the same examples every run, so what landed green stays green; locally they explore.
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

TESTS = Path(__file__).resolve().parent
PUBLIC = TESTS / "data" / "public"

BROADCAST = b"\xff" * 6
ZERO_MAC = b"\x00" * 6
ZERO_IP = b"\x00" * 4

ETH_ARP = 0x0806
ETH_RARP = 0x8035
ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
TPID_8021Q = 0x8100
TPID_8021AD = 0x88A8


def mac(text: str) -> bytes:
    """``"02:00:00:00:00:01"`` → six bytes."""
    b = bytes.fromhex(text.replace(":", "").replace("-", ""))
    assert len(b) == 6, text
    return b


def ip(text: str) -> bytes:
    """Dotted quad → four bytes."""
    return ipaddress.IPv4Address(text).packed


def arp(op: int, sha: bytes, spa: bytes, tha: bytes = ZERO_MAC, tpa: bytes = ZERO_IP, *,
        htype: int = 1, ptype: int = ETH_IPV4, hlen: int | None = None,
        plen: int | None = None) -> bytes:
    """An ARP payload (RFC 826); lengths default to the address sizes given."""
    hlen = len(sha) if hlen is None else hlen
    plen = len(spa) if plen is None else plen
    return struct.pack("!HHBBH", htype, ptype, hlen, plen, op) + sha + spa + tha + tpa


def ether(dst: bytes, src: bytes, ethertype: int, payload: bytes, *,
          tags: tuple[tuple[int, int], ...] = (), pad: int = 60) -> bytes:
    """An Ethernet II frame; ``tags`` are (TPID, TCI) pairs, outermost first; zero-padded."""
    head = dst + src + b"".join(struct.pack("!HH", tpid, tci) for tpid, tci in tags)
    return (head + struct.pack("!H", ethertype) + payload).ljust(pad, b"\x00")


def sll(payload: bytes, protocol: int = ETH_ARP, addr: bytes = b"", *, halen: int | None = None,
        pkttype: int = 0, hatype: int = 1) -> bytes:
    """A Linux cooked (SLL v1) frame: packet type, ARPHRD type, address length, address, protocol."""
    halen = len(addr) if halen is None else halen
    return struct.pack("!HHH8sH", pkttype, hatype, halen, addr, protocol) + payload


def sll2(payload: bytes, protocol: int = ETH_ARP, addr: bytes = b"", *, halen: int | None = None,
         ifindex: int = 2, hatype: int = 1, pkttype: int = 0) -> bytes:
    """A Linux cooked v2 (SLL2) frame."""
    halen = len(addr) if halen is None else halen
    return struct.pack("!HHIHBB8s", protocol, 0, ifindex, hatype, pkttype, halen, addr) + payload


def ip6(text: str) -> bytes:
    """IPv6 text → sixteen bytes."""
    return ipaddress.IPv6Address(text).packed


def ll_option(kind: int, address: bytes) -> bytes:
    """An NDP link-layer address option (1 source, 2 target): type, length in 8-octet units,
    address, zero padding (RFC 4861 4.6.1)."""
    body = bytes([kind, (len(address) + 2 + 7) // 8]) + address
    return body.ljust((len(body) + 7) // 8 * 8, b"\x00")


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def icmp6(src: bytes, dst: bytes, icmp_type: int, body: bytes, *, code: int = 0) -> bytes:
    """An ICMPv6 message with its checksum over the IPv6 pseudo-header (RFC 4443 2.3)."""
    msg = struct.pack("!BBH", icmp_type, code, 0) + body
    pseudo = src + dst + struct.pack("!IxxxB", len(msg), 58)
    return msg[:2] + struct.pack("!H", _checksum(pseudo + msg)) + msg[4:]


def nd(src: bytes, dst: bytes, icmp_type: int, target: bytes, *, flags: int = 0,
       options: bytes = b"", code: int = 0) -> bytes:
    """A Neighbor Solicitation (135) or Advertisement (136); ``flags`` is the NA's first
    byte (R 0x80, S 0x40, O 0x20)."""
    return icmp6(src, dst, icmp_type, bytes([flags, 0, 0, 0]) + target + options, code=code)


def ipv6(src: bytes, dst: bytes, payload: bytes, *, nh: int = 58, hlim: int = 255,
         version: int = 6, plen: int | None = None, ext: bytes = b"") -> bytes:
    """An IPv6 header (RFC 8200) and its payload; ``ext`` (extension headers, their own next
    header fields already set) goes between, ``nh`` is the first next header."""
    body = ext + payload
    plen = len(body) if plen is None else plen
    return struct.pack("!IHBB", version << 28, plen, nh, hlim) + src + dst + body


def ext_header(nh: int, size: int = 8) -> bytes:
    """A hop-by-hop/routing/destination-options-shaped header of ``size`` bytes (PadN)."""
    return bytes([nh, size // 8 - 1, 1, size - 4]) + bytes(size - 4)


SENDER = b"(the ARP sender)"


def claim(t: float, sha: bytes, spa: bytes, *, op: int = 1, tha: bytes = BROADCAST,
          tpa: bytes | None = None, vlan: int | None = None, inner_vlan: int | None = None,
          eth_src: bytes | None = SENDER, eth_dst: bytes | None = BROADCAST,
          length: int = 60) -> Claim:
    """A claim as the decoder would make it: gratuitous (target IP = sender IP) and sent from
    the sender's MAC unless told otherwise (``eth_src=None``: a Linux cooked capture)."""
    return Claim(t, vlan, inner_vlan, op, sha, spa, tha, spa if tpa is None else tpa,
                 sha if eth_src is SENDER else eth_src, eth_dst, length)


def unprivileged(argv: list[str]) -> list[str]:
    """``argv`` run without the privilege to read other people's files.

    As root, drop every capability (``CAP_DAC_OVERRIDE`` lets root read
    anything) but keep the uid, so the interpreter under /root stays usable.
    """
    if os.geteuid() != 0:
        return argv
    return ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--", *argv]


@pytest.fixture
def unreadable_file(tmp_path: Path) -> Path:
    """A valid capture with mode 000 (see :func:`unprivileged`)."""
    p = tmp_path / "secret.pcap"
    # pcap header + one 42-byte record would do; the content must not matter.
    p.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    p.chmod(0)
    return p
