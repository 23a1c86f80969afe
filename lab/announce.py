"""Scapy announcers reproducing MetalLB, kube-vip, Cilium and tagged-GARP wire behaviour.

Run inside a lab host namespace (``host.popen([sys.executable, "-m",
"lab.announce", ...])``)::

    python -m lab.announce metallb --iface eth0 --vip IP [--reconcile-every S] [--duration S]
    python -m lab.announce kubevip --iface eth0 --vip IP [--rate-ms 3000] [--duration S]
    python -m lab.announce cilium  --iface eth0 --vip IP [--duration S]
    python -m lab.announce garp    --iface eth0 --vip IP [--vlan N] [--count 3] [--interval 1]

Each command prints ``ready`` on stdout once its L2 socket is open (so a
caller can wait for it), then logs every frame it sends on stderr.  SIGTERM
and SIGINT stop it cleanly.  Only ``cilium`` answers ARP requests itself; for
the others the scenario makes the host kernel answer (VIP bound, or
:meth:`lab.netlab.Host.enable_proxy_arp` / :meth:`~lab.netlab.Host.enable_proxy_ndp`);
none answers Neighbor Solicitations itself.

Wire formats (see the field notes: shared/docs/field-notes.md beside the repository):

* ``metallb``: a *pair* per announcement, op=1 then op=2, sender MAC =
  interface MAC, sender IP = target IP = VIP, target MAC ff:ff:ff:ff:ff:ff,
  Ethernet destination broadcast, zero-padded to 60 bytes.  Schedule as in
  MetalLB's ``spamLoop``: a reconcile sets the stop time to now + 5 s and
  sends a pair at once unless a window is already open; a 1.1 s ticker,
  started when the window opens, sends a pair on every tick until the stop
  time.  ``--reconcile-every`` repeats the reconcile, so bursts go on.
* ``kubevip``: one frame per tick (``--rate-ms``, values under 500 become
  3000, as kube-vip does); opcode alternates, first op=2 with target MAC =
  own MAC, then op=1 with target MAC broadcast.  Ethernet destination
  broadcast, 42 bytes (kube-vip sends 28 ARP bytes on a SOCK_DGRAM socket).
  With several ``--vip`` (comma-separated) every tick sends one frame per
  VIP and the opcode flips per frame, process-wide, as kube-vip's global
  toggle does: with an even number of VIPs each VIP keeps one opcode.
* ``cilium``: on start (taking the Service over) **one** op=2, target MAC
  broadcast, Ethernet destination broadcast, padded to 60 bytes (the agent
  sends it with a userspace ARP library that pads; an assumption — the
  field notes do not give the length); then silence.  While running it
  answers every ARP request for the VIP (not gratuitous ones) the way
  Cilium's BPF program on TC ingress does: the request frame is rewritten
  in place into a unicast op=2 reply to the requester's Ethernet source,
  **same length as the request** (padding kept).  The VIP is not bound, so
  the kernel stays silent.  SIGTERM stops answering (the Lease moved).
* ``garp``: gratuitous ARP (op ``--op``, default 1, target MAC broadcast,
  sender IP = target IP = VIP), 802.1Q-tagged with ``--vlan``.

With an IPv6 ``--vip`` (``metallb`` and ``kubevip``), each announcement is one
unsolicited Neighbor Advertisement instead: both MetalLB's speaker and
kube-vip send it through an ICMPv6 socket bound to the interface's link-local
address (mdlayher/ndp), so it goes from that fe80:: address to all nodes
(ff02::1, Ethernet 33:33:00:00:00:01), hop limit 255, flags O=1 S=0 R=0,
target = VIP, with a target link-layer address option (read from both
projects' sources; the same schedules as for IPv4, one advertisement per
tick — the ARP opcode alternation has no NDP counterpart).
"""

from __future__ import annotations

import argparse
import select
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

BROADCAST = "ff:ff:ff:ff:ff:ff"
MIN_FRAME = 60  # minimum Ethernet frame without FCS
ARP_REQUEST_HEAD = b"\x08\x06\x00\x01\x08\x00\x06\x04\x00\x01"  # ethertype, Ethernet/IPv4, op=1

__all__ = [
    "ALL_NODES_MAC",
    "BROADCAST",
    "Stopped",
    "build_cilium_garp",
    "build_garp",
    "build_kubevip",
    "build_metallb_pair",
    "build_unsolicited_na",
    "cilium_reply",
    "interface_link_local",
    "interface_mac",
    "main",
]

ALL_NODES_MAC = "33:33:00:00:00:01"  # ff02::1


class Stopped(Exception):
    """Raised from the signal handler to stop an announcer loop."""


def interface_mac(iface: str) -> str:
    """MAC address of ``iface`` read from sysfs (in the current namespace)."""
    with open(f"/sys/class/net/{iface}/address", encoding="ascii") as fh:
        return fh.read().strip().lower()


def interface_link_local(iface: str) -> str:
    """The fe80:: address of ``iface`` (from /proc/net/if_inet6, in the current namespace)."""
    import ipaddress

    with open("/proc/net/if_inet6", encoding="ascii") as fh:
        for line in fh:
            addr, _idx, _plen, _scope, _flags, name = line.split()
            if name == iface and addr.startswith("fe80"):
                return str(ipaddress.IPv6Address(bytes.fromhex(addr)))
    raise RuntimeError(f"{iface} has no IPv6 link-local address")


def _is_v6(vip: str) -> bool:
    return ":" in vip


def build_unsolicited_na(mac: str, vip: str, src: str) -> bytes:
    """An unsolicited Neighbor Advertisement for ``vip`` from ``src`` (a link-local address)
    to all nodes: O=1 S=0 R=0, target link-layer address ``mac``, hop limit 255."""
    from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
    from scapy.layers.l2 import Ether

    pkt = (Ether(dst=ALL_NODES_MAC, src=mac) / IPv6(src=src, dst="ff02::1", hlim=255)
           / ICMPv6ND_NA(tgt=vip, R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=mac))
    return bytes(pkt)


def _pad(frame: bytes, size: int = MIN_FRAME) -> bytes:
    return frame.ljust(size, b"\x00")


def build_metallb_pair(mac: str, vip: str) -> list[bytes]:
    """MetalLB's gratuitous pair: op=1 then op=2, padded to 60 bytes."""
    from scapy.layers.l2 import ARP, Ether

    frames = []
    for op in (1, 2):
        pkt = Ether(dst=BROADCAST, src=mac) / ARP(op=op, hwsrc=mac, psrc=vip, hwdst=BROADCAST, pdst=vip)
        frames.append(_pad(bytes(pkt)))
    return frames


def build_kubevip(mac: str, vip: str, op: int) -> bytes:
    """kube-vip's GARP: op=2 has target MAC = own MAC, op=1 target broadcast; 42 bytes."""
    from scapy.layers.l2 import ARP, Ether

    hwdst = mac if op == 2 else BROADCAST
    pkt = Ether(dst=BROADCAST, src=mac) / ARP(op=op, hwsrc=mac, psrc=vip, hwdst=hwdst, pdst=vip)
    return bytes(pkt)


def build_cilium_garp(mac: str, vip: str) -> bytes:
    """Cilium's take-over announcement: op=2, target MAC broadcast, padded to 60 bytes."""
    from scapy.layers.l2 import ARP, Ether

    pkt = Ether(dst=BROADCAST, src=mac) / ARP(op=2, hwsrc=mac, psrc=vip, hwdst=BROADCAST, pdst=vip)
    return _pad(bytes(pkt))


def cilium_reply(request: bytes, mac: str, vip: str) -> bytes | None:
    """The reply Cilium's BPF program makes of ``request``, or None if it would not answer.

    Answers an untagged Ethernet ARP request (op=1) for ``vip`` that is not
    gratuitous: the frame is rewritten in place — Ethernet destination =
    the request's source, source = ``mac``, op=2, sender = (``mac``,
    ``vip``), target = the requester's (MAC, IP) — so the reply is exactly
    as long as the request, trailing padding included.
    """
    if len(request) < 42 or request[12:22] != ARP_REQUEST_HEAD:
        return None
    vip_b = socket.inet_aton(vip)
    sha, spa, tpa = request[22:28], request[28:32], request[38:42]
    if tpa != vip_b or spa == tpa:
        return None
    own = bytes.fromhex(mac.replace(":", ""))
    return (request[6:12] + own + b"\x08\x06" + request[14:20] + b"\x00\x02" + own + vip_b
            + sha + spa + request[42:])


def build_garp(mac: str, vip: str, vlan: int | None = None, op: int = 1, pad: bool = True) -> bytes:
    """A gratuitous ARP for ``vip`` from ``mac``, optionally 802.1Q-tagged."""
    from scapy.layers.l2 import ARP, Dot1Q, Ether

    arp = ARP(op=op, hwsrc=mac, psrc=vip, hwdst=BROADCAST, pdst=vip)
    pkt = Ether(dst=BROADCAST, src=mac) / (Dot1Q(vlan=vlan) / arp if vlan is not None else arp)
    raw = bytes(pkt)
    return _pad(raw, MIN_FRAME + (4 if vlan is not None else 0)) if pad else raw


def _describe(frame: bytes) -> str:
    """Short text for the log: opcode, sender, target (an advertisement: its target)."""
    if frame[12:14] == b"\x86\xdd":
        import ipaddress

        target = ipaddress.IPv6Address(frame[62:78])
        return f"NA flags=0x{frame[58]:02x} target {target} len={len(frame)}"
    off = 14
    tag = ""
    if frame[12:14] == b"\x81\x00":
        tag = f"vlan {int.from_bytes(frame[14:16], 'big') & 0xFFF} "
        off = 18
    arp = frame[off:]
    op = int.from_bytes(arp[6:8], "big")
    sha = ":".join(f"{b:02x}" for b in arp[8:14])
    spa = ".".join(str(b) for b in arp[14:18])
    tha = ":".join(f"{b:02x}" for b in arp[18:24])
    tpa = ".".join(str(b) for b in arp[24:28])
    return f"{tag}op={op} {spa} is-at {sha} -> {tpa} ({tha}) len={len(frame)}"


class _Sender:
    """A persistent scapy L2 socket that logs what it sends."""

    def __init__(self, iface: str, name: str) -> None:
        import scapy.arch  # noqa: F401  (sets conf.L2socket for this platform)
        from scapy.config import conf

        self.name = name
        self.sock = conf.L2socket(iface=iface)
        self.t0 = time.monotonic()

    def send(self, frame: bytes) -> None:
        self.sock.send(frame)
        print(
            f"{self.name} +{time.monotonic() - self.t0:7.3f}s {_describe(frame)}", file=sys.stderr, flush=True
        )

    def close(self) -> None:
        self.sock.close()


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def run_metallb(iface: str, vip: str, reconcile_every: float | None, duration: float | None) -> None:
    """MetalLB layer-2 GARP schedule (see module docstring)."""
    mac = interface_mac(iface)
    if _is_v6(vip):  # one unsolicited advertisement per announcement
        pair = [build_unsolicited_na(mac, vip, interface_link_local(iface))]
    else:
        pair = build_metallb_pair(mac, vip)
    tx = _Sender(iface, "metallb")
    print("ready", flush=True)
    start = time.monotonic()
    end = start + duration if duration is not None else None
    next_reconcile: float | None = start
    until: float | None = None  # spam stop time; None = no open window
    next_tick: float | None = None
    try:
        while True:
            now = time.monotonic()
            if end is not None and now >= end:
                break
            if next_reconcile is not None and now >= next_reconcile:
                if until is None:
                    for frame in pair:
                        tx.send(frame)
                    next_tick = now + 1.1  # ticker.Reset(1100ms)
                until = now + 5.0
                print(
                    f"metallb +{now - start:7.3f}s reconcile: window until +{until - start:.3f}s",
                    file=sys.stderr,
                    flush=True,
                )
                next_reconcile = now + reconcile_every if reconcile_every else None
            if next_tick is not None and now >= next_tick:
                assert until is not None
                if now > until:
                    until = None
                    next_tick = None
                else:
                    for frame in pair:
                        tx.send(frame)
                    next_tick += 1.1
            if until is None and next_reconcile is None:
                break
            wakeups = [t for t in (next_reconcile, next_tick, end) if t is not None]
            _sleep_until(min(wakeups))
    finally:
        tx.close()


def run_kubevip(iface: str, vip: str, rate_ms: int, duration: float | None) -> None:
    """kube-vip ARP-mode GARP loop (see module docstring)."""
    if rate_ms < 500:
        rate_ms = 3000
    mac = interface_mac(iface)
    vips = [v.strip() for v in vip.split(",") if v.strip()]
    frames = [(build_unsolicited_na(mac, v, interface_link_local(iface)),) * 2 if _is_v6(v)
              else (build_kubevip(mac, v, 2), build_kubevip(mac, v, 1)) for v in vips]
    tx = _Sender(iface, "kubevip")
    print("ready", flush=True)
    start = time.monotonic()
    end = start + duration if duration is not None else None
    n = 0
    sent = 0  # the opcode toggles per frame, process-wide (op=2 first)
    try:
        while end is None or time.monotonic() < end:
            for pair in frames:
                tx.send(pair[sent % 2])
                sent += 1
            n += 1
            next_t = start + n * rate_ms / 1000.0
            if end is not None and next_t >= end:
                break
            _sleep_until(next_t)
    finally:
        tx.close()


def run_cilium(iface: str, vip: str, duration: float | None) -> None:
    """Cilium L2 announcement: one GARP at take-over, then answer requests (see module docstring)."""
    mac = interface_mac(iface)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    sock.bind((iface, 0))
    tx = _Sender(iface, "cilium")
    print("ready", flush=True)
    start = time.monotonic()
    end = start + duration if duration is not None else None
    try:
        tx.send(build_cilium_garp(mac, vip))
        while end is None or time.monotonic() < end:
            wait = 0.5 if end is None else max(0.0, min(0.5, end - time.monotonic()))
            ready, _, _ = select.select([sock], [], [], wait)
            if not ready:
                continue
            frame, addr = sock.recvfrom(65536)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            reply = cilium_reply(frame, mac, vip)
            if reply is not None:
                tx.send(reply)
    finally:
        tx.close()
        sock.close()


def run_garp(iface: str, vip: str, vlan: int | None, count: int, interval: float, op: int) -> None:
    """``count`` gratuitous ARPs, ``interval`` seconds apart."""
    mac = interface_mac(iface)
    frame = build_garp(mac, vip, vlan, op)
    tx = _Sender(iface, "garp")
    print("ready", flush=True)
    start = time.monotonic()
    try:
        for i in range(count):
            if i:
                _sleep_until(start + i * interval)
            tx.send(frame)
    finally:
        tx.close()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signum)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lab.announce", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--iface", default="eth0", help="interface (default eth0)")
        sp.add_argument("--vip", required=True,
                        help="address to announce (IPv6: metallb and kubevip only)")

    m = sub.add_parser("metallb", help="MetalLB layer-2 GARP pairs")
    common(m)
    m.add_argument(
        "--reconcile-every",
        type=float,
        default=None,
        metavar="S",
        help="simulate a Service reconcile every S seconds (restarts the 5 s window)",
    )
    m.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="stop after S seconds (default: when the window closes, or never with --reconcile-every)",
    )
    k = sub.add_parser("kubevip", help="kube-vip ARP-mode GARPs")
    common(k)
    k.add_argument("--rate-ms", type=int, default=3000, help="vip_arpRate in ms (default 3000)")
    k.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    c = sub.add_parser("cilium", help="Cilium L2 announcement: one GARP, then BPF-style replies")
    common(c)
    c.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    g = sub.add_parser("garp", help="plain (optionally 802.1Q-tagged) gratuitous ARP")
    common(g)
    g.add_argument("--vlan", type=int, default=None, help="802.1Q VLAN id (default untagged)")
    g.add_argument("--count", type=int, default=3)
    g.add_argument("--interval", type=float, default=1.0, metavar="S")
    g.add_argument("--op", type=int, choices=(1, 2), default=1, help="ARP opcode (default 1)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    runners: dict[str, Callable[[], Any]] = {
        "metallb": lambda: run_metallb(args.iface, args.vip, args.reconcile_every, args.duration),
        "kubevip": lambda: run_kubevip(args.iface, args.vip, args.rate_ms, args.duration),
        "cilium": lambda: run_cilium(args.iface, args.vip, args.duration),
        "garp": lambda: run_garp(args.iface, args.vip, args.vlan, args.count, args.interval, args.op),
    }
    try:
        runners[args.mode]()
    except Stopped:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
