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

from lab import Lab, LabError  # noqa: E402
from lab.floods import flip_flop_pcap, flood_pcap, spray_pcap, udp_flood_pcap  # noqa: E402 - re-exported
from lab.netlab import Host  # noqa: E402

__all__ = ["ARPWATCH", "Lab", "LabError", "Watch", "arpwatch", "flip_flop_pcap", "flood_pcap",
           "live_lab_fixture", "spray_pcap", "start_watch", "tcpreplay", "udp_flood_pcap"]

ARPWATCH = [sys.executable, "-m", "arpwatch_lb"]


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
        assert report.get("schema") == "arpwatch-lb/report/2", lines[-1]
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
