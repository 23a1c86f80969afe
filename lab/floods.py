"""Flood captures for load tests and benchmarks: written, not recorded.

Frames are broadcast, so a Linux bridge delivers every one to every port
(a replayed unicast flood would be dropped by MAC learning).  Addresses are
in 198.18.0.0/15 (RFC 2544 benchmarking) and MACs locally administered.
"""

from __future__ import annotations

import struct
from pathlib import Path

from arpwatch_lb.core.frames import BROADCAST_MAC as BROADCAST
from arpwatch_lb.core.frames import encode_arp, ethernet_frame
from arpwatch_lb.sinks.pcap_writer import PcapWriter

__all__ = ["flip_flop_pcap", "flood_pcap", "spray_pcap", "udp_flood_pcap"]


def flood_pcap(path: Path, frames: int, ips: int = 256) -> Path:
    """``frames`` broadcast gratuitous ARP requests, round robin over ``ips`` (IP, MAC) pairs
    in 198.18.0.0/15 — each IP always from its own MAC, so every IP is "ok"."""
    pkts = []
    for i in range(ips):
        mac = bytes((0x02, 0x00, 0x5E, 0x20, i >> 8, i & 0xFF))
        ip = bytes((198, 18, i >> 8, i & 0xFF))
        pkts.append(ethernet_frame(BROADCAST, mac, encode_arp(1, mac, ip, BROADCAST, ip)))
    w = PcapWriter(path)
    t = 1_700_000_000.0
    for n in range(frames):
        w.write(t + n * 1e-5, pkts[n % ips])
    w.close()
    return path


def spray_pcap(path: Path, frames: int, vip: str, fight_every: int = 1000, pps: int = 40_000
               ) -> Path:
    """An address spray: ``frames`` broadcast gratuitous ARPs, each from its own MAC, over the
    131,072 addresses of 198.18.0.0/15 (after that, addresses again with new MACs); every
    ``fight_every``-th frame claims ``vip`` instead, from two MACs in turns (a flip-flop
    underneath).  Timestamps ``1/pps`` apart."""
    fighters = (b"\x02\x00\x5e\x30\x00\x01", b"\x02\x00\x5e\x30\x00\x02")
    vaddr = bytes(int(p) for p in vip.split("."))
    w = PcapWriter(path)
    t = 1_700_000_000.0
    fights = 0
    for n in range(frames):
        if n % fight_every == fight_every // 2:
            mac = fighters[fights % 2]
            fights += 1
            w.write(t + n / pps, ethernet_frame(BROADCAST, mac, encode_arp(1, mac, vaddr, BROADCAST,
                                                                           vaddr)))
            continue
        k = n % (1 << 17)
        mac = bytes((0x02, 0x5E, 0x40 | (n >> 24 & 0x0F), n >> 16 & 0xFF, n >> 8 & 0xFF, n & 0xFF))
        ip = bytes((198, 18 + (k >> 16), k >> 8 & 0xFF, k & 0xFF))
        w.write(t + n / pps, ethernet_frame(BROADCAST, mac, encode_arp(1, mac, ip, BROADCAST, ip)))
    w.close()
    return path


def flip_flop_pcap(path: Path, ip: str, frames: int) -> Path:
    """``frames`` broadcast gratuitous replies for ``ip``, alternating between two MACs."""
    macs = (b"\x02\x00\x5e\x30\x00\x01", b"\x02\x00\x5e\x30\x00\x02")
    addr = bytes(int(p) for p in ip.split("."))
    pkts = [ethernet_frame(BROADCAST, m, encode_arp(2, m, addr, BROADCAST, addr)) for m in macs]
    w = PcapWriter(path)
    for n in range(frames):
        w.write(1_700_000_000.0 + n * 1e-4, pkts[n % 2])
    w.close()
    return path


def udp_flood_pcap(path: Path, frames: int) -> Path:
    """``frames`` broadcast UDP datagrams (198.18.0.1:9 → 198.18.255.255:9), not ARP."""
    src = b"\x02\x00\x5e\x20\xff\xfe"
    payload = b"x" * 18
    udp = struct.pack("!HHHH", 9, 9, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                      bytes((198, 18, 0, 1)), bytes((198, 18, 255, 255)))
    csum = 0
    for i in range(0, 20, 2):
        csum += (hdr[i] << 8) | hdr[i + 1]
    csum = (csum & 0xFFFF) + (csum >> 16)
    csum = ~((csum & 0xFFFF) + (csum >> 16)) & 0xFFFF
    hdr = hdr[:10] + struct.pack("!H", csum) + hdr[12:]
    frame = ethernet_frame(BROADCAST, src, hdr + udp, ethertype=0x0800)
    w = PcapWriter(path)
    for n in range(frames):
        w.write(1_700_000_000.0 + n * 1e-5, frame)
    w.close()
    return path
