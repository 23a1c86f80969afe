"""Helpers for the live tests (``tests/test_live_*.py``): a lab, ``watch`` and ``probe``
run as subprocesses inside a lab host's namespace, and flood captures.

The tests need root (network namespaces).  When the lab cannot be built they
FAIL with the lab's message — never skip.  Nothing is sent outside the lab's
namespaces and every address is TEST-NET.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from arpwatch_lb.frames import encode_arp, ethernet_frame  # noqa: E402
from arpwatch_lb.sinks.pcapwriter import PcapWriter  # noqa: E402
from lab import Lab, LabError  # noqa: E402
from lab.netlab import Host  # noqa: E402

__all__ = ["ARPWATCH", "Lab", "LabError", "Watch", "arpwatch", "flip_flop_pcap", "flood_pcap",
           "live_lab_fixture", "start_watch", "tcpreplay", "udp_flood_pcap"]

ARPWATCH = [sys.executable, "-m", "arpwatch_lb"]
BROADCAST = b"\xff" * 6


@pytest.fixture(name="live_lab")
def live_lab_fixture() -> Iterator[Lab]:
    """A fresh lab; the test fails (not skips) when it cannot be built."""
    try:
        lab = Lab()
        lab.build()
    except LabError as exc:
        pytest.fail(f"the namespace lab cannot be built here: {exc}")
    try:
        yield lab
    finally:
        lab.close()


def arpwatch(host: Host, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``arpwatch-lb ARGS`` in ``host``'s namespace and wait for it."""
    return host.run([*ARPWATCH, *args], check=False, timeout=timeout, cwd=str(REPO))


@dataclass
class Watch:
    """A running ``arpwatch-lb watch`` (JSONL on stdout)."""

    proc: subprocess.Popen[str]
    stderr: list[str] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    def finish(self, timeout: float = 60.0) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
        """Wait for the end; return (exit status, events, final report)."""
        self.proc.wait(timeout=timeout)
        for t in self.readers:
            t.join(timeout)
        lines = [json.loads(line) for line in self.stdout if line.strip()]
        assert lines, f"watch printed nothing; stderr: {self.stderr}"
        report = lines[-1]
        assert report.get("schema") == "arpwatch-lb/report/1", lines[-1]
        return self.proc.returncode, lines[:-1], report


def start_watch(host: Host, *args: str, ready_timeout: float = 20.0) -> Watch:
    """Start ``arpwatch-lb watch --format jsonl ARGS`` on ``host``; return once it captures."""
    proc = host.popen([*ARPWATCH, "watch", "--format", "jsonl", *args], cwd=str(REPO),
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    w = Watch(proc)
    ready = threading.Event()

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            w.stderr.append(line.rstrip("\n"))
            if "watching" in line:
                ready.set()
        ready.set()

    def read_stdout() -> None:  # keep the pipe empty, or watch blocks on a full pipe
        assert proc.stdout is not None
        for line in proc.stdout:
            w.stdout.append(line)

    for fn in (drain, read_stdout):
        t = threading.Thread(target=fn, daemon=True)
        t.start()
        w.readers.append(t)
    deadline = time.monotonic() + ready_timeout
    while not ready.wait(0.05):
        if time.monotonic() > deadline:
            break
    if proc.poll() is not None or not any("watching" in line for line in w.stderr):
        host.lab.stop(proc)
        raise AssertionError(f"watch did not start: {w.stderr}")
    return w


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
    import struct

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


def tcpreplay(host: Host, pcap: Path, pps: int, timeout: float = 120.0) -> int:
    """Replay ``pcap`` out of ``host``'s eth0 at ``pps``; return the packets tcpreplay sent."""
    if shutil.which("tcpreplay") is None:
        raise AssertionError("tcpreplay is not installed")
    r = host.run(["tcpreplay", "-i", host.ifname, "--pps", str(pps), str(pcap)],
                 check=False, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    import re

    m = re.search(r"Actual: (\d+) packets", r.stdout)
    assert m, r.stdout
    failed = re.search(r"Failed packets:\s+(\d+)", r.stdout)
    assert failed is None or failed.group(1) == "0", r.stdout
    return int(m.group(1))
