"""Floods replayed with tcpreplay into the lab (needs root and tcpreplay).

Every ARP frame sent is accounted for — counted by ``watch`` or reported as
dropped by the kernel — and the BPF filter keeps non-ARP traffic out of
Python entirely.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from pathlib import Path

from live_lab import (  # noqa: F401 - live_lab_fixture provides the live_lab fixture
    Lab,
    flood_pcap,
    live_lab_fixture,
    spray_pcap,
    start_watch,
    tcpreplay,
    udp_flood_pcap,
)

from lab.scenarios import arping

FLOOD_PPS = 20_000
FLOOD_FRAMES = 200_000  # 10 s at 20,000 frames/s


def test_arp_flood_every_frame_accounted_for(live_lab: Lab, tmp_path: Path) -> None:
    sender = live_lab.add_host("sender", ip=None)
    obs = live_lab.add_host("obs", ip=None)
    pcap = flood_pcap(tmp_path / "flood.pcap", FLOOD_FRAMES)
    w = start_watch(obs, "-i", "eth0", "--summary-interval", "2")
    t0 = time.monotonic()
    sent = tcpreplay(sender, pcap, FLOOD_PPS)
    seconds = time.monotonic() - t0
    time.sleep(0.5)
    live_lab.stop(w.proc, signal.SIGTERM)
    rc, events, report = w.finish()
    assert rc == 0, w.stderr
    assert sent == FLOOD_FRAMES
    assert seconds < FLOOD_FRAMES / FLOOD_PPS * 1.2  # the rate was really held
    [src] = report["sources"]
    counted, drops = report["frames"]["total"], src["kernel_drops"]
    print(f"flood: sent {sent} in {seconds:.2f} s, counted {counted}, kernel drops {drops}")
    assert counted + drops == sent, (counted, drops)
    assert src["kernel_packets"] == sent  # tp_packets includes the dropped ones
    assert src["frames"] == counted
    dropped_lines = sum(ev["drops"] for ev in events if ev["event"] == "kernel_drops")
    assert dropped_lines == drops  # drops are never hidden
    assert report["summary"]["ok"] == 256
    assert report["summary"]["contested"] == 0
    summaries = [ev for ev in events if ev["event"] == "summary"]
    assert len(summaries) >= 4
    assert summaries[-1]["frames"] == counted
    assert len(events) < 400  # 256 new claimants at most, the rest summaries


def test_bpf_keeps_non_arp_flood_out_of_python(live_lab: Lab, tmp_path: Path) -> None:
    sender = live_lab.add_host("sender")
    obs = live_lab.add_host("obs", ip=None)
    udp = udp_flood_pcap(tmp_path / "udp.pcap", 50_000)
    w = start_watch(obs, "-i", "eth0")
    sent = tcpreplay(sender, udp, 50_000)
    arping(sender, "192.0.2.99", "-U", "-S", "192.0.2.99", "-c", "3", "-W", "0.1",
           expect_rc=None)
    time.sleep(0.5)
    live_lab.stop(w.proc, signal.SIGTERM)
    rc, _events, report = w.finish()
    assert rc == 0, w.stderr
    assert sent == 50_000
    [src] = report["sources"]
    assert src["kernel_packets"] == 3  # the kernel passed only the 3 ARP frames to the socket
    assert report["frames"]["total"] == 3
    assert report["frames"]["non_arp"] == 0
    # ... although the UDP frames did reach the interface (tcpdump, no filter, sees them).
    with live_lab.capture(obs, tmp_path / "all.pcap") as cap:
        tcpreplay(sender, udp, 50_000)
    assert cap.captured is not None and cap.dropped is not None
    assert cap.captured + cap.dropped >= 50_000


def test_small_buffer_drops_are_reported_and_accounted(live_lab: Lab, tmp_path: Path) -> None:
    """With a tiny receive buffer the kernel drops; watch says so, and the sums still add up."""
    sender = live_lab.add_host("sender", ip=None)
    obs = live_lab.add_host("obs", ip=None)
    pcap = flood_pcap(tmp_path / "flood.pcap", 40_000)
    w = start_watch(obs, "-i", "eth0", "--buffer-mb", "0")
    sent = tcpreplay(sender, pcap, FLOOD_PPS)
    time.sleep(1.5)  # a statistics read after the flood
    live_lab.stop(w.proc, signal.SIGTERM)
    rc, events, report = w.finish()
    assert rc == 0, w.stderr
    [src] = report["sources"]
    counted, drops = report["frames"]["total"], src["kernel_drops"]
    print(f"tiny buffer ({src['rcvbuf']} bytes): sent {sent}, counted {counted}, drops {drops}")
    assert drops > 0
    assert counted + drops == sent == 40_000
    drop_lines = [ev for ev in events if ev["event"] == "kernel_drops"]
    assert sum(ev["drops"] for ev in drop_lines) == drops
    assert drop_lines[-1]["total_drops"] == drops
    assert all(ev["interface"] == "eth0" for ev in drop_lines)
    assert any("dropped" in x for x in report["warnings"])
    assert any("kernel dropped" in line for line in w.stderr)
    assert events[-1]["event"] == "summary" and events[-1]["kernel_drops"] == drops


SPRAY_FRAMES = 240_000  # 6 s at 40,000 frames/s: every address of 198.18.0.0/15, then again
SPRAY_PPS = 40_000
HALF_THE_DAEMONSET_LIMIT = 128 * 2**20  # deploy/20-daemonset.yaml: memory limit 256Mi


def _rss_kib(pid: int) -> tuple[int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = re.search(r"VmRSS:\s+(\d+) kB", status)
    hwm = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert rss and hwm, status
    return int(rss.group(1)), int(hwm.group(1))


def test_address_spray_memory_stays_bounded_and_the_vip_stays_contested(live_lab: Lab,
                                                                        tmp_path: Path) -> None:
    """The issue's case: a misbehaving host sprays gratuitous ARP from ever new addresses and
    MACs while a VIP flip-flops underneath.  ``watch`` with its default cap keeps its peak RSS
    (read from /proc) under half the DaemonSet's memory limit, still reports the VIP contested,
    and accounts for every frame (counted or dropped by the kernel)."""
    sender = live_lab.add_host("sender", ip=None)
    obs = live_lab.add_host("obs", ip=None)
    vip = "192.0.2.200"
    pcap = spray_pcap(tmp_path / "spray.pcap", SPRAY_FRAMES, vip)
    w = start_watch(obs, "-i", "eth0", "--vip", vip, "--probe-interval", "3600",
                    "--summary-interval", "1")
    pid = w.proc.pid
    assert "arpwatch_lb" in Path(f"/proc/{pid}/cmdline").read_text()  # ip netns exec execs
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                samples.append(_rss_kib(pid)[0])
            except (OSError, AssertionError):
                return
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.monotonic()
    sent = tcpreplay(sender, pcap, SPRAY_PPS)
    seconds = time.monotonic() - t0
    time.sleep(2.0)  # the backlog drains, a statistics read follows
    _, peak_kib = _rss_kib(pid)
    done.set()
    sampler.join(5)
    live_lab.stop(w.proc, signal.SIGTERM)
    rc, events, report = w.finish()
    peak = peak_kib * 1024
    [src] = report["sources"]
    counted, drops = report["frames"]["total"], src["kernel_drops"]
    print(f"spray: sent {sent} in {seconds:.1f} s, counted {counted}, kernel drops {drops}, "
          f"peak RSS {peak / 2**20:.1f} MiB (sampled max {max(samples) / 1024:.1f} MiB), "
          f"table {report['table']}")
    assert sent == SPRAY_FRAMES
    assert counted + drops == sent, (counted, drops)  # drops are accounted, never hidden
    assert peak < HALF_THE_DAEMONSET_LIMIT, f"peak RSS {peak / 2**20:.1f} MiB"
    [entry] = report["ips"]
    assert entry["ip"] == vip and entry["verdict"] == "contested", entry
    assert rc == 1  # contested
    table = report["table"]
    assert table["evictions"] > 0 and table["entries"] <= table["max_ips"] == 50_000
    full = [ev for ev in events if ev["event"] == "table_full"]
    assert full and full[0]["first"] and sum(ev["evicted"] for ev in full) == table["evictions"]
    live = [line for line in w.stderr if "IP table is full" in line and "table_full" in line]
    assert len(live) == 1  # said once while it happens (the final report's warnings repeat it)
