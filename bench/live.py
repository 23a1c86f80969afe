"""Live-capture benchmark (not a test): ARP floods into a watched lab interface.

Needs root, ``tcpreplay`` and ``tcpdump``.  In a throw-away namespace lab
(:mod:`lab.netlab`; TEST-NET addresses only, nothing leaves the namespaces)
one host replays broadcast gratuitous ARP with ``tcpreplay --pps RATE`` into
the segment; a passive observer runs, one after the other on the same flood:

* ``arpwatch-lb watch -i eth0`` — kernel drops and frames counted from its
  final report, CPU seconds (utime + stime from ``/proc/PID/stat``) spent
  while the flood ran;
* ``tcpdump -i eth0 -w /dev/null arp`` — its "dropped by kernel" and CPU.

Then a non-ARP flood (UDP broadcast) at the highest rate shows that the BPF
filter keeps ``watch``'s CPU flat.  Prints a Markdown table and writes it to
``bench/out/live.md``::

    sudo python bench/live.py [--rates 20000,50000,100000,200000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lab import Lab  # noqa: E402
from lab.floods import flood_pcap, udp_flood_pcap  # noqa: E402
from lab.netlab import Host  # noqa: E402

PCAP_FRAMES = 100_000
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    """One measurement."""

    flood: str
    rate: int
    tool: str
    sent: int
    achieved_pps: float
    seen: int
    drops: int
    cpu: float

    @property
    def cpu_per_100k(self) -> float:
        """CPU seconds per 100,000 frames sent."""
        return self.cpu / self.sent * 100_000 if self.sent else 0.0


def arp_flood(path: Path) -> Path:
    """Broadcast gratuitous ARP requests over 256 (IP, MAC) pairs in 198.18.0.0/15."""
    return flood_pcap(path, PCAP_FRAMES)


def udp_flood(path: Path) -> Path:
    """Broadcast UDP (198.18.0.1 → 198.18.255.255, port 9): not ARP."""
    return udp_flood_pcap(path, PCAP_FRAMES)


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def replay(sender: Host, pcap: Path, rate: int, seconds: float) -> tuple[int, float]:
    """tcpreplay ``rate`` frames/s for ``seconds``; return (frames sent, achieved pps)."""
    total = int(rate * seconds)
    loops = -(-total // PCAP_FRAMES)
    r = sender.run(["tcpreplay", "-i", "eth0", "-K", "--pps", str(rate), "--loop", str(loops),
                    "--limit", str(total), str(pcap)], timeout=seconds * 10 + 60)
    sent = int(re.search(r"Actual: (\d+) packets", r.stdout).group(1))  # type: ignore[union-attr]
    pps = float(re.search(r"Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps",  # type: ignore[union-attr]
                          r.stdout).group(1))
    return sent, pps


def _wait_line(proc: subprocess.Popen[str], needle: str, lines: list[str]) -> None:
    ready = threading.Event()

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if needle in line:
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(20) or proc.poll() is not None:
        raise RuntimeError(f"did not start: {''.join(lines)}")


def run_watch(lab: Lab, obs: Host, sender: Host, pcap: Path, rate: int, seconds: float,
              flood: str) -> Row:
    """One flood with ``arpwatch-lb watch`` listening."""
    proc = obs.popen([sys.executable, "-m", "arpwatch_lb", "watch", "-i", "eth0", "--format",
                      "jsonl", "--summary-interval", "3600"], cwd=str(REPO),
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err: list[str] = []
    _wait_line(proc, "watching", err)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(proc.stdout or []), daemon=True)
    reader.start()
    time.sleep(0.5)
    cpu0 = cpu_seconds(proc.pid)
    sent, pps = replay(sender, pcap, rate, seconds)
    time.sleep(1.0)  # let it drain its buffer
    cpu = cpu_seconds(proc.pid) - cpu0
    lab.stop(proc, signal.SIGTERM, timeout=60)
    reader.join(10)
    report = json.loads(out[-1])
    [src] = report["sources"]
    return Row(flood, rate, "arpwatch-lb watch", sent, pps, src["frames"], src["kernel_drops"],
               cpu)


def run_tcpdump(lab: Lab, obs: Host, sender: Host, pcap: Path, rate: int, seconds: float,
                flood: str) -> Row:
    """The same flood with ``tcpdump -w /dev/null arp`` listening."""
    proc = obs.popen(["tcpdump", "-i", "eth0", "-w", "/dev/null", "-n", "arp"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err: list[str] = []
    _wait_line(proc, "listening on", err)
    time.sleep(0.5)
    cpu0 = cpu_seconds(proc.pid)
    sent, pps = replay(sender, pcap, rate, seconds)
    time.sleep(1.0)
    cpu = cpu_seconds(proc.pid) - cpu0
    lab.stop(proc, signal.SIGINT, timeout=30)
    time.sleep(0.2)
    text = "".join(err)
    seen = int(re.search(r"(\d+) packets? captured", text).group(1))  # type: ignore[union-attr]
    drops = int(re.search(r"(\d+) packets? dropped by kernel",  # type: ignore[union-attr]
                          text).group(1))
    return Row(flood, rate, "tcpdump -w /dev/null arp", sent, pps, seen, drops, cpu)


def table(rows: list[Row]) -> str:
    """The Markdown table."""
    out = ["| flood | target rate (frames/s) | achieved (frames/s) | tool | frames sent | "
           "frames seen | kernel drops | CPU s | CPU s per 100k frames |",
           "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r.flood} | {r.rate:,} | {r.achieved_pps:,.0f} | {r.tool} | {r.sent:,} | "
                   f"{r.seen:,} | {r.drops:,} | {r.cpu:.2f} | {r.cpu_per_100k:.3f} |")
    return "\n".join(out)


def main() -> int:
    """Run the benchmark; print and write the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="20000,50000,100000,200000")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "live.md")
    args = ap.parse_args()
    rates = [int(x) for x in args.rates.split(",")]
    rows: list[Row] = []
    with Lab() as lab:
        sender = lab.add_host("sender", ip=None)
        obs = lab.add_host("obs", ip=None)
        assert lab.tmpdir is not None
        arp = arp_flood(lab.tmpdir / "arp.pcap")
        udp = udp_flood(lab.tmpdir / "udp.pcap")
        for rate in rates:
            for run in (run_watch, run_tcpdump):
                row = run(lab, obs, sender, arp, rate, args.seconds, "ARP")
                rows.append(row)
                print(table([row]).splitlines()[-1], flush=True)
        for run in (run_watch, run_tcpdump):
            row = run(lab, obs, sender, udp, max(rates), args.seconds, "UDP (non-ARP)")
            rows.append(row)
            print(table([row]).splitlines()[-1], flush=True)
    clean = [r.rate for r in rows if r.tool.startswith("arpwatch") and r.flood == "ARP"
             and r.drops == 0 and r.seen == r.sent]
    best = max(clean) if clean else None
    text = (f"# Live capture benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"{os.cpu_count()} CPUs, {args.seconds:g} s per flood)\n\n" + table(rows) + "\n\n"
            + (f"Highest ARP rate with zero kernel drops for `arpwatch-lb watch`: "
               f"{best:,} frames/s (of {', '.join(f'{r:,}' for r in rates)}).\n"
               if best else "`arpwatch-lb watch` dropped frames at every rate tried.\n")
            + "\nCPU: utime+stime of the listening process while the flood ran (plus 1 s). "
              "'frames seen' for UDP is what passed the socket's BPF filter. In this veth lab "
              "the kernel's side of delivery (BPF, queueing or copying into tcpdump's mmap "
              "ring) runs in the sender's softirq and is charged to tcpreplay, so the CPU "
              "column is the listener's own work: per-frame recvmsg + decode + tracker for "
              "watch, one wake-up per ring block for tcpdump.\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
