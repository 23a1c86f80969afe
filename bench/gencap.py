"""Deterministic benchmark captures for ``arpwatch-lb replay``.

Four classic pcap files (little-endian, microsecond timestamps, Ethernet),
built from one seed:

``arp-<N>.pcap``
    N ARP frames over one hour.
``mixed-<N>.pcap``
    N frames of which 2 % are ARP (the same model, scaled down) and the rest
    IPv4 TCP/UDP frames of 60-1514 bytes (1518 when 802.1Q-tagged); about
    470 MB for N = 1,000,000.
``reply-<N>.pcap``
    N ARP frames of a busy segment of 250 hosts (:class:`ReplyModel`): 40 %
    unicast replies and 40 % requests among the hosts, the rest gratuitous,
    with one VIP flip-flopping between two MACs.
``spray-<N>.pcap``
    N gratuitous ARPs, each from its own address and MAC (:func:`spray_frames`):
    one misbehaving host or an attacker; distinct (VLAN, IP) keys, since the
    benchmarking range 198.18.0.0/15 holds 131,072 addresses.  A VIP
    flip-flops underneath.

The ARP model is a bare-metal Kubernetes segment as captured on node 0 (the
kube-vip leader for most of the hour) whose switch port also mirrors the
segment, so other hosts' unicast replies are visible:

* ~3,300 hosts (198.18.0.0/16 untagged, 198.19.0.0/16 on VLAN 20) resolve
  each other: a request from their own MAC/IP (broadcast, or unicast to the
  cached MAC as Linux re-confirms a neighbour), a unicast reply from the
  owner; ~2 % of broadcast requests go unanswered and are retried twice.
* 50 VIPs: 20 kube-vip VIPs (192.0.2.10-29): one burst every 3 s from the
  leader, opcodes alternating process-wide (op 2 with target MAC = own MAC,
  op 1 with target MAC broadcast); leadership moves from node 0 to node 1 at
  55 % of the hour (a clean failover).  24 MetalLB VIPs (192.0.2.100-123):
  request+reply pairs every 1.1 s for 5 s after each reconcile, 60 bytes.
  3 contested VIPs (192.0.2.200-202) that MetalLB (nodes 5-7) and kube-vip
  both announce and both answer: they flip-flop between two MACs.
  3 keepalived VIPs (198.51.100.10-12) that fail over twice (5 + 5 GARPs).
* RFC 5227 probes (sender IP 0.0.0.0) and announcements from rebooting hosts.
* ~4 % of the traffic is 802.1Q-tagged (VLAN 20).
* Frames node 0 sends are captured before padding: 42 bytes (46 tagged);
  everything received is padded: 60 bytes (64 tagged).

Schedules are given for N = 1,000,000 ARP frames per hour; for another count
every rate is scaled by N / 1,000,000 so that the mix of frame kinds stays the
same (the 20,000 ARP frames of the mixed file have the same shape).

Only TEST-NET / benchmarking addresses (192.0.2.0/24, 198.51.100.0/24,
198.18.0.0/15) and locally administered unicast MACs are used.  IPv4 header
checksums are correct; TCP/UDP checksums are zero (no tool here checks them).

Usage: ``python bench/gencap.py [--frames N] [--seed S] [--out bench/out]``.
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

__all__ = ["GENERATOR_VERSION", "ensure", "generate", "paths_for"]

GENERATOR_VERSION = 2
DEFAULT_SEED = 20260101
DEFAULT_FRAMES = 1_000_000
ARP_SHARE = 0.02  # of the mixed file
START = 1_767_225_600  # 2026-01-01T00:00:00Z
DURATION_US = 3_600_000_000
SECOND = 1_000_000

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
RECORD = struct.Struct("<IIII")
ARP = struct.Struct("!6s6sHHHBBH6s4s6s4s")  # Ethernet + ARP, 42 bytes
ARP_TAGGED = struct.Struct("!6s6sHHHHHBBH6s4s6s4s")  # with an 802.1Q tag, 46 bytes
PAD = bytes(18)
BCAST = b"\xff" * 6
ZERO_MAC = bytes(6)
ZERO_IP = bytes(4)
VLAN = 20
CHUNK = 1 << 16  # records per write


def ip(text: str) -> bytes:
    return bytes(int(x) for x in text.split("."))


def host_mac(index: int) -> bytes:
    """A locally administered unicast MAC, unique per index (odd multiplier: a bijection)."""
    first = (0x02, 0x06, 0x0A, 0x0E, 0x12, 0x1A)[index % 6]
    return bytes((first, 0x42)) + struct.pack(">I", (index * 2654435761 + 0x5EED) & 0xFFFFFFFF)


class Iface:
    """One (MAC, IPv4, VLAN) an ARP speaker uses; ``short``: node 0 sends unpadded frames."""

    __slots__ = ("ip", "mac", "short", "vlan")

    def __init__(self, mac: bytes, addr: bytes, vlan: int, short: bool) -> None:
        self.mac, self.ip, self.vlan, self.short = mac, addr, vlan, short


def arp_frame(dst: bytes, src: Iface | bytes, op: int, sha: bytes, spa: bytes, tha: bytes,
              tpa: bytes, vlan: int, short: bool) -> bytes:
    """An Ethernet ARP frame; ``short`` ones are not padded to the 60-byte minimum."""
    smac = src.mac if isinstance(src, Iface) else src
    if vlan:
        b = ARP_TAGGED.pack(dst, smac, 0x8100, vlan, 0x0806, 1, 0x0800, 6, 4, op, sha, spa, tha, tpa)
    else:
        b = ARP.pack(dst, smac, 0x0806, 1, 0x0800, 6, 4, op, sha, spa, tha, tpa)
    return b if short else b + PAD


# -- the ARP model -------------------------------------------------------------


class ArpModel:
    """Builds ``n`` ARP frames as a time-sorted list of ``(t_us, frame)``."""

    N_HOSTS = 3000  # untagged, 198.18.0.0/16; the first N_NODES are Kubernetes nodes
    N_VLAN_HOSTS = 300  # VLAN 20, 198.19.0.0/16 (plus every node's VLAN 20 interface)
    N_NODES = 40
    FAILOVER = 0.55  # kube-vip leadership moves node 0 -> node 1 at this share of the hour

    def __init__(self, rng: random.Random, n: int) -> None:
        self.rng = rng
        self.n = n
        self.scale = n / 1_000_000
        self.kinds: Counter[str] = Counter()
        self.hosts = [Iface(host_mac(i), ip(f"198.18.{1 + i // 250}.{1 + i % 250}"), 0, i == 0)
                      for i in range(self.N_HOSTS)]
        self.nodes = self.hosts[:self.N_NODES]
        self.vlan_hosts = [Iface(h.mac, ip(f"198.19.0.{1 + i}"), VLAN, i == 0)
                           for i, h in enumerate(self.nodes)]
        self.vlan_hosts += [Iface(host_mac(10_000 + i), ip(f"198.19.{1 + i // 250}.{1 + i % 250}"),
                                  VLAN, False) for i in range(self.N_VLAN_HOSTS)]
        self.kubevip = [ip(f"192.0.2.{10 + i}") for i in range(20)]
        self.metallb = [(ip(f"192.0.2.{100 + i}"), self.nodes[2 + (i * 7) % 38]) for i in range(24)]
        self.contested = [(ip(f"192.0.2.{200 + i}"), self.nodes[5 + i]) for i in range(3)]
        self.routers = (self.hosts[45], self.hosts[46])  # keepalived MASTER / BACKUP
        self.keepalived = [ip(f"198.51.100.{10 + i}") for i in range(3)]
        self.failover_us = int(DURATION_US * self.FAILOVER)
        self.keepalived_moves = (int(DURATION_US * 0.3), int(DURATION_US * 0.8))
        # Requesters: node 0 (the capture host, an ingress node) 12 %, other nodes
        # 8x an ordinary host.  Targets: 15 % VIPs, 10 % node 0, else hosts.
        weights = [0.0] + [8.0] * (self.N_NODES - 1) + [1.0] * (self.N_HOSTS - self.N_NODES)
        self.cum_host_weights = list(_accumulate(weights))
        self.vip_targets = ([("kv", v) for v in self.kubevip] * 3 + [("lb", v) for v in self.metallb]
                            + [("ct", v) for v in self.contested] + [("ka", v) for v in self.keepalived])

    # owners at a given time
    def kubevip_leader(self, t: int) -> Iface:
        return self.nodes[0] if t < self.failover_us else self.nodes[1]

    def keepalived_master(self, t: int) -> Iface:
        a, b = self.keepalived_moves
        return self.routers[1] if a <= t < b else self.routers[0]

    def build(self) -> list[tuple[int, bytes]]:
        frames: list[tuple[int, bytes]] = []
        self._kubevip(frames)
        self._metallb(frames)
        self._keepalived(frames)
        self._probes(frames)
        if len(frames) > self.n:  # tiny n: keep the earliest
            frames.sort(key=itemgetter(0))
            del frames[self.n:]
            self.kinds["trimmed"] = 1
        self._resolution(frames, self.n - len(frames))
        frames.sort(key=itemgetter(0))
        return frames

    def _emit(self, frames: list[tuple[int, bytes]], kind: str, t: int, dst: bytes, src: Iface, op: int,
              spa: bytes, tha: bytes, tpa: bytes, vlan: int | None = None) -> None:
        vlan = src.vlan if vlan is None else vlan
        frames.append((t, arp_frame(dst, src, op, src.mac, spa, tha, tpa, vlan, src.short)))
        self.kinds[kind] += 1
        if vlan:
            self.kinds["tagged"] += 1
        if src.short:
            self.kinds["unpadded"] += 1

    def _kubevip(self, frames: list[tuple[int, bytes]]) -> None:
        """One burst per tick for every kube-vip VIP (and the contested ones), opcodes alternating."""
        interval = int(3 * SECOND / self.scale)
        vips = self.kubevip + [v for v, _ in self.contested]
        for start, end in ((int(0.4 * SECOND), self.failover_us),
                           (self.failover_us + int(0.8 * SECOND), DURATION_US)):
            leader = self.kubevip_leader(start)
            op2 = True  # a new leader process starts with op 2
            t = start
            while t < end:
                for k, vip in enumerate(vips):
                    if op2:
                        self._emit(frames, "kubevip_garp", t + 15 * k, BCAST, leader, 2, vip, leader.mac, vip)
                    else:
                        self._emit(frames, "kubevip_garp", t + 15 * k, BCAST, leader, 1, vip, BCAST, vip)
                    op2 = not op2
                t += interval + self.rng.randrange(-2000, 2000)

    def _metallb(self, frames: list[tuple[int, bytes]]) -> None:
        """Request+reply GARP pairs every 1.1 s until 5 s after the last reconcile."""
        for vip, node in self.metallb:
            self._metallb_vip(frames, vip, node, 900 * SECOND / self.scale, "metallb_garp")
        for vip, node in self.contested:
            self._metallb_vip(frames, vip, node, 20 * SECOND / self.scale, "contested_garp")

    def _metallb_vip(self, frames: list[tuple[int, bytes]], vip: bytes, node: Iface, mean_us: float,
                     kind: str) -> None:
        rng = self.rng
        reconciles: list[int] = []
        t = rng.expovariate(1 / mean_us) * 0.5
        while t < DURATION_US - 6 * SECOND:
            reconciles.append(int(t))
            t += max(0.5 * SECOND, rng.expovariate(1 / mean_us))
        i = 0
        while i < len(reconciles):
            t = reconciles[i]
            end = t + 5 * SECOND
            while t <= end:
                self._emit(frames, kind, t, BCAST, node, 1, vip, BCAST, vip)
                self._emit(frames, kind, t + 3, BCAST, node, 2, vip, BCAST, vip)
                t += 1_100_000
                while i + 1 < len(reconciles) and reconciles[i + 1] <= t:
                    i += 1
                    end = reconciles[i] + 5 * SECOND
            i += 1

    def _keepalived(self, frames: list[tuple[int, bytes]]) -> None:
        """On each move the new MASTER sends 5 GARPs per VIP, and 5 more 5 s later."""
        for move in self.keepalived_moves:
            master = self.keepalived_master(move)
            for rnd in range(2):
                for rep in range(5):
                    for k, vip in enumerate(self.keepalived):
                        t = move + rnd * 5 * SECOND + rep * 1000 + k * 20
                        self._emit(frames, "keepalived_garp", t, BCAST, master, 1, vip, BCAST, vip)

    def _probes(self, frames: list[tuple[int, bytes]]) -> None:
        """RFC 5227: 3 probes (sender IP 0.0.0.0) 1-2 s apart, then 2 announcements 2 s apart."""
        rng = self.rng
        for _ in range(max(1, round(300 * self.scale))):
            pool = self.vlan_hosts if rng.random() < 0.05 else self.hosts
            h = pool[rng.randrange(self.N_NODES, len(pool))]
            t = rng.randrange(0, DURATION_US - 12 * SECOND)
            for _p in range(3):
                self._emit(frames, "probe", t, BCAST, h, 1, ZERO_IP, ZERO_MAC, h.ip)
                t += rng.randrange(SECOND, 2 * SECOND)
            for _a in range(2):
                t += 2 * SECOND
                self._emit(frames, "announcement", t, BCAST, h, 1, h.ip, ZERO_MAC, h.ip)

    def _resolution(self, frames: list[tuple[int, bytes]], budget: int) -> None:
        """Hosts resolving each other (and VIPs) until ``budget`` frames are used."""
        rng = self.rng
        rand = rng.random
        hosts, nodes, vhosts = self.hosts, self.nodes, self.vlan_hosts
        # Pass 1: the shape of every event (who asks whom, how many frames).
        events: list[tuple[Iface, object, bool, int]] = []
        used = 0
        n_h = len(hosts)
        choose = rng.choices
        picks = iter(())
        while used < budget:
            try:
                req_i, tgt_i = next(picks)
            except StopIteration:
                many = choose(range(n_h), cum_weights=self.cum_host_weights, k=2 * 65536)
                picks = iter(zip(many[::2], many[1::2], strict=True))
                continue
            tagged = rand() < 0.04
            if tagged:
                pool = vhosts
                req = pool[0] if rand() < 0.12 else pool[rng.randrange(1, len(pool))]
                r = rand()
                tgt: object = pool[0] if r < 0.1 and req is not pool[0] else pool[rng.randrange(1, len(pool))]
                if tgt is req:
                    continue
            else:
                req = nodes[0] if rand() < 0.12 else hosts[req_i]
                r = rand()
                if r < 0.15:
                    tgt = self.vip_targets[rng.randrange(len(self.vip_targets))]
                elif r < 0.25 and req is not nodes[0]:
                    tgt = nodes[0]
                else:
                    tgt = hosts[tgt_i]
                if tgt is req:
                    continue
            unicast = rand() < 0.55
            contested = isinstance(tgt, tuple) and tgt[0] == "ct"
            if not unicast and not isinstance(tgt, tuple) and rand() < 0.02:
                size = 3  # unanswered: the request and two retries
                mode = 0
            else:
                size = 3 if contested and not unicast else 2
                mode = 1
            if used + size > budget:
                size, mode = budget - used, 0  # the last event: an unanswered request (+ retry)
                unicast = False
            events.append((req, tgt, unicast, mode | size << 1))
            used += size
        # Pass 2: times (sorted uniform over the hour) and the frames.
        times = sorted(rng.randrange(0, DURATION_US - 3 * SECOND) for _ in events)
        emit = self._emit
        for t, (req, tgt, unicast, code) in zip(times, events, strict=True):
            size, answered = code >> 1, code & 1
            vlan = req.vlan
            userspace = None  # MetalLB answers from userspace (slower), kernels in 40-400 us
            if isinstance(tgt, Iface):
                answerers = [tgt]
                tpa = tgt.ip
            else:
                kind, v = tgt
                if kind == "kv":
                    tpa, answerers = v, [self.kubevip_leader(t)]
                elif kind == "lb":
                    tpa, answerers = v[0], [v[1]]
                    userspace = v[1]
                elif kind == "ct":
                    tpa, answerers = v[0], [v[1], self.kubevip_leader(t)]
                    userspace = v[1]
                else:
                    tpa, answerers = v, [self.keepalived_master(t)]
            if not answered:
                for k in range(size):
                    emit(frames, "request_unanswered", t + k * SECOND, BCAST, req, 1, req.ip, ZERO_MAC, tpa)
                continue
            if unicast:
                who = answerers[rng.randrange(len(answerers))]
                emit(frames, "request_unicast", t, who.mac, req, 1, req.ip, ZERO_MAC, tpa)
                answerers = [who]
            else:
                emit(frames, "request_broadcast", t, BCAST, req, 1, req.ip, ZERO_MAC, tpa)
            for who in answerers:
                delay = rng.randrange(300, 1500) if who is userspace else rng.randrange(40, 400)
                frames.append((t + delay, arp_frame(req.mac, who, 2, who.mac, tpa, req.mac, req.ip,
                                                    vlan, who.short)))
                self.kinds["reply"] += 1
                if vlan:
                    self.kinds["tagged"] += 1
                if who.short:
                    self.kinds["unpadded"] += 1


def _accumulate(values: Iterable[float]) -> Iterator[float]:
    total = 0.0
    for v in values:
        total += v
        yield total


# -- IPv4 background traffic ---------------------------------------------------


def ipv4_frames(rng: random.Random, n: int, model: ArpModel, kinds: Counter[str]
                ) -> Iterator[tuple[int, bytes]]:
    """``n`` IPv4 TCP/UDP frames in time order, spread over the hour.

    Sizes: TCP 88 % (54 % pure ACKs of 66 bytes, or 60 padded without the
    timestamp option; 18 % full 1514-byte segments; 28 % in between, skewed
    small), UDP 12 % (memberlist gossip on 7946, WireGuard on 51820; 60 %
    70-300 bytes, 40 % 110-1514 bytes).  Payloads are random bytes, so ports
    whose dissectors would decode them (VXLAN, DNS) are avoided.  Consecutive
    frames stick to one flow 70 % of the time.
    """
    ip_hdr = struct.Struct("!BBHHHBBH4s4s")
    tcp_hdr = struct.Struct("!HHIIBBHHH")
    tcp_ts = struct.Struct("!BBBBII")
    udp_hdr = struct.Struct("!HHHH")
    payload = rng.randbytes(1 << 16) + rng.randbytes(1600)
    # Flows, both directions: (eth prefix, partial checksum, src ip, dst ip, proto, sport, dport, ts option)
    flows = []
    hosts = model.hosts
    vhosts = model.vlan_hosts
    vip_owner = ([(v, model.nodes[0]) for v in model.kubevip] + list(model.metallb)
                 + [(v, n) for v, n in model.contested])
    for _ in range(3000):
        tagged = rng.random() < 0.03
        if tagged:
            a = vhosts[rng.randrange(len(vhosts))]
            b = vhosts[rng.randrange(len(vhosts))]
            b_ip, b_mac = b.ip, b.mac
        else:
            a = hosts[rng.randrange(len(hosts))]
            if rng.random() < 0.2:
                b_ip, owner = vip_owner[rng.randrange(len(vip_owner))]
                b_mac = owner.mac
            else:
                b = hosts[rng.randrange(len(hosts))]
                b_ip, b_mac = b.ip, b.mac
        proto = 6 if rng.random() < 0.88 else 17
        if proto == 6:
            sport, dport = rng.randrange(32768, 61000), rng.choice((443, 80, 6443, 2379, 9100, 5432, 8080))
        else:
            sport, dport = rng.randrange(32768, 61000), rng.choice((7946, 7946, 51820, 51820, 51820))
        ts = rng.random() < 0.9
        for src_ip, src_mac, dst_ip, dst_mac, sp, dp in ((a.ip, a.mac, b_ip, b_mac, sport, dport),
                                                         (b_ip, b_mac, a.ip, a.mac, dport, sport)):
            eth = dst_mac + src_mac + (b"\x81\x00" + struct.pack("!H", VLAN) if tagged else b"") + b"\x08\x00"
            partial = 0x4500 + 0x4000 + (64 << 8 | proto)
            for w in struct.unpack("!HHHH", src_ip + dst_ip):
                partial += w
            flows.append((eth, partial, src_ip, dst_ip, proto, sp, dp, ts, tagged))
    seqs = [rng.getrandbits(32) for _ in flows]
    rand = rng.random
    randrange = rng.randrange
    mean_gap = DURATION_US / n
    expo = rng.expovariate
    t = 0.0
    fi = 0
    n_flows = len(flows)
    for i in range(n):
        t += expo(1 / mean_gap)
        if rand() >= 0.7:
            fi = randrange(n_flows)
        eth, partial, src_ip, dst_ip, proto, sp, dp, ts, tagged = flows[fi]
        r = rand()
        if proto == 6:
            hl = 32 if ts else 20
            if r < 0.54:
                plen, flags = 0, 0x10
            elif r < 0.72:
                plen, flags = 1460 - (12 if ts else 0), 0x10
            else:
                plen, flags = 1 + int((1447 - (12 if ts else 0)) * rand() ** 2), 0x18
            l4 = tcp_hdr.pack(sp, dp, seqs[fi], seqs[fi ^ 1], hl << 2, flags, 502, 0, 0)
            if ts:
                l4 += tcp_ts.pack(1, 1, 8, 10, i & 0xFFFFFFFF, (i - 7) & 0xFFFFFFFF)
            seqs[fi] = (seqs[fi] + plen) & 0xFFFFFFFF
            kinds["tcp"] += 1
        else:
            plen = randrange(70, 301) - 42 if r < 0.6 else randrange(110, 1515) - 42
            hl = 8
            l4 = udp_hdr.pack(sp, dp, 8 + plen, 0)
            kinds["udp"] += 1
        total = 20 + hl + plen
        ident = i & 0xFFFF
        s = partial + total + ident
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        off = (i * 40503) & 0xFFFF
        frame = b"".join((eth, ip_hdr.pack(0x45, 0, total, ident, 0x4000, 64, proto, ~s & 0xFFFF, src_ip,
                                           dst_ip), l4, payload[off:off + plen]))
        if len(frame) < 60:
            frame += bytes(60 - len(frame))
        if tagged:
            kinds["tagged"] += 1
        yield int(t), frame


# -- writing -------------------------------------------------------------------


def write_pcap(path: Path, frames: Iterable[tuple[int, bytes]]) -> int:
    """Write ``(t_us, frame)`` pairs (time order) as pcap; times made strictly increasing."""
    tmp = path.with_name(path.name + ".part")
    pack = RECORD.pack
    count = 0
    last = -1
    with open(tmp, "wb") as f:
        f.write(PCAP_HEADER)
        parts: list[bytes] = []
        for t, frame in frames:
            if t <= last:
                t = last + 1
            last = t
            n = len(frame)
            parts.append(pack(START + t // SECOND, t % SECOND, n, n))
            parts.append(frame)
            if len(parts) >= 2 * CHUNK:
                f.write(b"".join(parts))
                parts.clear()
            count += 1
        f.write(b"".join(parts))
    tmp.replace(path)
    return count


def _merge(a: Iterable[tuple[int, bytes]], b: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    """Merge two time-sorted streams (stable: ``a`` first on ties)."""
    ib = iter(b)
    nb = next(ib, None)
    for x in a:
        while nb is not None and nb[0] < x[0]:
            yield nb
            nb = next(ib, None)
        yield x
    if nb is not None:
        yield nb
        yield from ib


# -- a busy segment: replies and requests ----------------------------------------


class ReplyModel:
    """250 hosts (198.18.0.1-250, node 0 the capture host) resolving each other.

    Per 100 frames: 40 requests (70 % broadcast, 30 % unicast re-confirmations)
    each answered by a unicast reply (another 40), and 20 gratuitous frames:
    hosts' announcements (kernel ``arp_notify``, 60 %) and one VIP
    (192.0.2.200) that two MACs announce in turns, MetalLB-style pairs and
    kube-vip-style singles, a few seconds apart (it flip-flops).  Frames the
    capture host sends are unpadded (42 bytes), the rest 60.
    """

    N_HOSTS = 250
    VIP = ip("192.0.2.200")

    def __init__(self, rng: random.Random, n: int) -> None:
        self.rng, self.n = rng, n
        self.kinds: Counter[str] = Counter()
        self.hosts = [Iface(host_mac(20_000 + i), ip(f"198.18.0.{1 + i}"), 0, i == 0)
                      for i in range(self.N_HOSTS)]
        self.fighters = (Iface(host_mac(30_001), self.VIP, 0, False),
                         Iface(host_mac(30_002), self.VIP, 0, False))

    def build(self) -> list[tuple[int, bytes]]:
        rng, hosts = self.rng, self.hosts
        frames: list[tuple[int, bytes]] = []
        gap = DURATION_US / self.n
        t = 0.0
        turn = 0
        while len(frames) < self.n:
            r = rng.random()
            t += rng.expovariate(1 / gap)
            if r < 0.8 and len(frames) + 2 <= self.n:  # a request and its reply
                req, tgt = rng.sample(hosts, 2)
                unicast = rng.random() < 0.3
                frames.append((int(t), arp_frame(tgt.mac if unicast else BCAST, req, 1, req.mac,
                                                 req.ip, ZERO_MAC, tgt.ip, 0, req.short)))
                frames.append((int(t) + rng.randrange(40, 400),
                               arp_frame(req.mac, tgt, 2, tgt.mac, tgt.ip, req.mac, req.ip, 0,
                                         tgt.short)))
                self.kinds["request_broadcast" if not unicast else "request_unicast"] += 1
                self.kinds["reply"] += 1
                t += gap  # the pair used two slots
            elif r < 0.92:  # a host announces itself
                h = hosts[rng.randrange(len(hosts))]
                frames.append((int(t), arp_frame(BCAST, h, 1, h.mac, h.ip, ZERO_MAC, h.ip, 0,
                                                 h.short)))
                self.kinds["announcement"] += 1
            else:  # the VIP: the two announcers take turns every few seconds
                who = self.fighters[(int(t) // 3_000_000) % 2]
                op = 2 if turn % 2 else 1
                turn += 1
                frames.append((int(t), arp_frame(BCAST, who, op, who.mac, self.VIP,
                                                 who.mac if op == 2 else BCAST, self.VIP, 0,
                                                 False)))
                self.kinds["vip_garp"] += 1
        del frames[self.n:]
        frames.sort(key=itemgetter(0))
        return frames


# -- an address spray -------------------------------------------------------------

SPRAY_RATE = 40_000  # frames per second
SPRAY_VLANS = (0, 101, 102, 103, 104, 105, 106, 107, 108)
SPRAY_VIP = ip("192.0.2.200")


def spray_frames(rng: random.Random, n: int, kinds: Counter[str]) -> Iterator[tuple[int, bytes]]:
    """``n`` gratuitous ARPs at 40,000/s, each from its own MAC and (VLAN, IP): the IPs of
    198.18.0.0/15 untagged first, then on VLANs 101, 102, ... (in a random order within each
    VLAN); every 20,000th frame a claim of 192.0.2.200, alternating between two MACs."""
    span = 1 << 17
    fighters = (host_mac(40_001), host_mac(40_002))
    done = 0
    t = 0
    for vlan in SPRAY_VLANS:
        order = list(range(span))
        rng.shuffle(order)
        for k in order:
            if done >= n:
                return
            if done % 20_000 == 10_000:
                m = fighters[(done // 20_000) % 2]
                yield t, arp_frame(BCAST, m, 1, m, SPRAY_VIP, BCAST, SPRAY_VIP, 0, False)
                kinds["vip_garp"] += 1
            else:
                m = host_mac(1_000_000 + done)
                a = bytes((198, 18 + (k >> 16), (k >> 8) & 0xFF, k & 0xFF))
                yield t, arp_frame(BCAST, m, 1, m, a, BCAST, a, vlan, False)
                kinds["spray_garp"] += 1
                if vlan:
                    kinds["tagged"] += 1
            done += 1
            t = done * SECOND // SPRAY_RATE


def paths_for(out: Path, frames: int) -> dict[str, Path]:
    return {kind: out / f"{kind}-{frames}.pcap" for kind in ("arp", "mixed", "reply", "spray")}


def generate(kind: str, path: Path, frames: int, seed: int) -> dict[str, Any]:
    """Write one file and its ``.json`` sidecar; return the sidecar's content."""
    t0 = time.perf_counter()
    if kind == "arp":
        model = ArpModel(random.Random(f"{seed}-arp"), frames)
        written = write_pcap(path, model.build())
        kinds = dict(model.kinds)
        arp_frames = frames
    elif kind == "reply":
        reply = ReplyModel(random.Random(f"{seed}-reply"), frames)
        written = write_pcap(path, reply.build())
        kinds = dict(reply.kinds)
        arp_frames = frames
    elif kind == "spray":
        counted: Counter[str] = Counter()
        written = write_pcap(path, spray_frames(random.Random(f"{seed}-spray"), frames, counted))
        kinds = dict(counted)
        arp_frames = frames
    else:
        arp_frames = round(frames * ARP_SHARE)
        model = ArpModel(random.Random(f"{seed}-mixed-arp"), arp_frames)
        arp = model.build()
        ipk: Counter[str] = Counter()
        written = write_pcap(path, _merge(ipv4_frames(random.Random(f"{seed}-mixed-ip"), frames - arp_frames,
                                                      model, ipk), arp))
        kinds = {**{f"arp.{k}": v for k, v in model.kinds.items()},
                 **{f"ipv4.{k}": v for k, v in ipk.items()}}
    assert written == frames, (written, frames)
    meta: dict[str, Any] = {
        "generator_version": GENERATOR_VERSION, "kind": kind, "seed": seed, "frames": frames,
        "arp_frames": arp_frames, "bytes": path.stat().st_size, "kinds": dict(sorted(kinds.items())),
        "seconds_to_generate": round(time.perf_counter() - t0, 2),
    }
    path.with_name(path.name + ".json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def ensure(out: Path, frames: int, seed: int, force: bool = False,
           log: Callable[[str], object] = print) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Generate the files unless an up-to-date copy (same version, seed, size) exists."""
    out.mkdir(parents=True, exist_ok=True)
    result = {}
    for kind, path in paths_for(out, frames).items():
        side = path.with_name(path.name + ".json")
        meta = None
        if not force and path.exists() and side.exists():
            try:
                meta = json.loads(side.read_text())
            except ValueError:
                meta = None
            if meta and (meta.get("generator_version") != GENERATOR_VERSION or meta.get("seed") != seed
                         or meta.get("frames") != frames or meta.get("bytes") != path.stat().st_size):
                meta = None
        if meta is None:
            log(f"generating {path} ({frames:,} frames, seed {seed}) ...")
            meta = generate(kind, path, frames, seed)
            log(f"  {meta['bytes'] / 1e6:.1f} MB in {meta['seconds_to_generate']} s")
        result[kind] = (path, meta)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="frames per file (default 1,000,000)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    ap.add_argument("--force", action="store_true", help="regenerate even if up to date")
    args = ap.parse_args(argv)
    if args.frames < 100:
        ap.error("--frames must be at least 100")
    for kind, (path, meta) in ensure(args.out, args.frames, args.seed, args.force).items():
        print(f"{kind}: {path} {meta['bytes']:,} bytes, {meta['frames']:,} frames")
        for k, v in meta["kinds"].items():
            print(f"    {k:32} {v:>9,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
