"""The ``watch`` session: passive capture plus periodic probes, until stopped.

One loop, one thread: wait for frames (:meth:`Monitor.pump`, at most
``TICK`` s), send the requests that are due, and once a second read the
kernel counters, check the interfaces, let the event policy notice resolved
fights and redraw the table.  Every ``summary_interval`` s a ``summary``
event.  ``stop()`` (from a signal handler) or ``duration`` ends the loop;
the caller then gets the final report.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..core.addresses import VipSet
from ..core.event_policy import EventPolicy
from ..core.report import build_report
from ..core.tracker import DEFAULT_MAX_IPS, Change, OwnershipTracker
from ..sinks import render_table
from ..sinks.jsonl import JsonLines
from ..sinks.pcap_writer import PcapWriter
from ..sources.capture_files import FrameCounts
from ..sources.link_socket import DEFAULT_RCVBUF, FrameSource, LinkSocket, interface_addresses
from ..sources.live_capture import Monitor
from .probe import DEFAULT_RATE, ProbePlan, ProbeRtts, who_has

__all__ = ["Protected", "WatchConfig", "WatchSession"]

TICK = 0.1
HOUSEKEEPING = 1.0
CLEAR = "\x1b[H\x1b[2J"
RECENT_EVENTS = 10
RTT_LIMIT = 5.0
"""A probe reply counts as a round trip within min(--probe-interval, this) seconds."""


@dataclass
class WatchConfig:
    """Everything ``watch`` was asked to do."""

    interfaces: list[str]
    vips: VipSet = field(default_factory=VipSet)
    window: float = 60.0
    probe_interval: float = 10.0
    rate: float = DEFAULT_RATE
    duration: float | None = None
    fmt: str = "jsonl"
    write_pcap: Path | None = None
    pcap_max_bytes: int = 0
    promisc: bool = False
    summary_interval: float = 10.0
    buffer_bytes: int = DEFAULT_RCVBUF
    max_ips: int = DEFAULT_MAX_IPS
    """The IP table's cap (0: none)."""


class Protected:
    """The addresses a watch never evicts: the VIPs selected now and the nodes' InternalIPs.

    Reads the session's VIP selection at every look (Kubernetes discovery
    swaps it at run time); node addresses come from ``node_source`` (IP text →
    node name, ``--kubernetes``), re-read by :meth:`refresh` once a second.
    """

    def __init__(self, cfg: WatchConfig) -> None:
        self.cfg = cfg
        self.node_source: Callable[[], Mapping[str, str]] | None = None
        self.nodes: frozenset[bytes] = frozenset()
        self._seen: Mapping[str, str] | None = None

    def refresh(self) -> None:
        """Re-read the node addresses."""
        if self.node_source is None:
            return
        current = self.node_source()
        if current != self._seen:
            import ipaddress

            self._seen = current
            self.nodes = frozenset(ipaddress.IPv4Address(ip).packed for ip in current)

    def __contains__(self, ip: bytes) -> bool:
        vips = self.cfg.vips
        return (bool(vips) and ip in vips) or ip in self.nodes


class WatchSession:
    """Run ``watch``: build with a config, :meth:`run`, then :meth:`report`."""

    def __init__(self, cfg: WatchConfig, out: TextIO | None = None, err: TextIO | None = None,
                 open_source: Callable[[str], FrameSource] | None = None) -> None:
        self.cfg = cfg
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.protected = Protected(cfg)
        self.tracker = OwnershipTracker(window=cfg.window, record_events=True,
                                        max_ips=cfg.max_ips or None, protect=self.protected)
        self.counts = FrameCounts()
        self.policy = EventPolicy(self.tracker, cfg.vips, table_interval=cfg.summary_interval)
        self.lines = JsonLines(self.out) if cfg.fmt == "jsonl" else None
        self.recent: deque[str] = deque(maxlen=RECENT_EVENTS)
        self._stop = False
        self.nodes: Callable[[], Mapping[bytes, str]] | None = None
        """MAC → node name (``--kubernetes``, set by :class:`.watch_services.WatchExtras`)."""
        self.rtts = ProbeRtts(min(cfg.probe_interval, RTT_LIMIT))
        opener = open_source or (lambda name: LinkSocket(name, cfg.promisc, cfg.buffer_bytes))
        self.monitor = Monitor(list(cfg.interfaces), self.tracker, self.counts,
                               open_source=opener, on_changes=self._changes,
                               on_fact=self._fact, on_claims=self.rtts.observe)
        self.pcap: PcapWriter | None = None
        if cfg.write_pcap is not None:
            try:
                self.pcap = PcapWriter(cfg.write_pcap, cfg.pcap_max_bytes)
            except BaseException:
                self.monitor.close()
                raise
            self.monitor.pcap = self.pcap
        self._probers = self._probe_sources() if cfg.vips else {}

    def _probe_sources(self) -> dict[str, tuple[bytes, bytes]]:
        out = {}
        for name in self.cfg.interfaces:
            mac, ip = interface_addresses(name)
            if ip is None:
                self.err.write(f"arpwatch-lb: warning: {name} has no IPv4 address: not probing "
                               "there (passive only)\n")
                continue
            out[name] = (mac, ip)
        return out

    # -- events ------------------------------------------------------------

    def _emit(self, ev: dict[str, Any]) -> None:
        if self.lines is not None:
            self.lines.write(ev)
            if self.lines.broken:  # `watch | head`: the reader is gone, stop like on SIGPIPE
                self.stop()
        else:
            who = ev.get("ip") or ev.get("interface") or ""
            self.recent.append(f"{time.strftime('%H:%M:%S', time.gmtime(ev['time']))} "
                               f"{ev['event']} {who} {ev.get('mac') or ''}".rstrip())

    def _changes(self, changes: list[Change], interface: str) -> None:
        for ev in self.policy.changes(changes, interface):
            self._emit(ev)

    def _fact(self, kind: str, interface: str, *, time: float, **extra: Any) -> None:
        if kind == "kernel_drops":
            self._emit(EventPolicy.kernel_drops(interface, time, extra["drops"],
                                                extra["packets"], extra["total"]))
        else:
            self._emit(EventPolicy.interface_event(kind, interface, time, **extra))

    def stop(self) -> None:
        """Ask the loop to end (safe from a signal handler)."""
        self._stop = True

    # -- the loop ----------------------------------------------------------

    def run(self, ready: Callable[[], None] | None = None) -> None:
        """Watch until :meth:`stop` or the configured duration."""
        cfg = self.cfg
        mono = time.monotonic
        start = mono()
        end = start + cfg.duration if cfg.duration is not None else float("inf")
        plan = (ProbePlan(self.cfg.vips.addresses(), 0, cfg.probe_interval, cfg.rate, start)
                if self._probers else None)
        frames: dict[tuple[str, bytes], bytes] = {}
        wall = time.time  # CLOCK_REALTIME, like the kernel's receive timestamps
        next_house = start + HOUSEKEEPING
        next_summary = start + cfg.summary_interval
        if ready is not None:
            ready()
        while not self._stop:
            now = mono()
            if now >= end:
                break
            if plan is not None:
                for target in plan.due(now):
                    for name, (mac, ip) in self._probers.items():
                        frame = frames.get((name, target))
                        if frame is None:
                            frame = frames[name, target] = who_has(mac, ip, target)
                        t = wall()  # before the send: the reply may be received before it returns
                        if self.monitor.send(name, frame):
                            self.rtts.sent(name, mac, ip, target, t)
            wait = min(TICK, end - now, next_house - now)
            if plan is not None:
                wait = min(wait, plan.wait(now))
            self.monitor.pump(max(wait, 0.0))
            now = mono()
            if now >= next_house:
                next_house = now + HOUSEKEEPING
                self._housekeeping()
            if now >= next_summary:
                next_summary = now + cfg.summary_interval
                self._summary()
        self.monitor.drain_all()
        self._housekeeping(final=True)
        self._summary()

    def _housekeeping(self, final: bool = False) -> None:
        self.monitor.read_stats()
        self.monitor.check_links()
        self.protected.refresh()
        now = time.time()
        for ev in self.policy.tick(now):
            self._emit(ev)
        for ev in self.policy.table(now):
            if ev["first"]:
                self.err.write(f"arpwatch-lb: warning: {self._table_warning()}; evictions are "
                               "counted in table_full events\n")
                self.err.flush()
            self._emit(ev)
        if self.pcap is not None:
            self.pcap.flush()
        if self.lines is None and not final:
            self.out.write(CLEAR + render_table(self.report()) + "\n")
            if self.recent:
                self.out.write("\nrecent events:\n" + "\n".join(self.recent) + "\n")
            self.out.flush()

    def _summary(self) -> None:
        if self.lines is not None:
            states = {lk.name: lk.state for lk in self.monitor.links.values()}
            self._emit(self.policy.summary(time.time(), self.counts,
                                           self.monitor.kernel_drops, states))

    # -- the end -----------------------------------------------------------

    def _table_warning(self) -> str:
        return (f"the IP table is full ({self.cfg.max_ips} entries): the least recently claimed "
                "IPs are evicted, never a VIP or a node address (raise --max-ips to keep more)")

    def report(self) -> dict[str, Any]:
        """The report document (the replay schema, mode ``watch``)."""
        sources = self.monitor.sources()
        if self.pcap is not None:
            for s in sources:
                s["pcap"] = [str(p) for p in self.pcap.files]
        warnings = self.monitor.warnings()
        if self.tracker.evictions:
            warnings.append(f"{self._table_warning()}: {self.tracker.evictions} IPs evicted")
        return build_report(self.tracker, self.counts, self.cfg.vips, sources, warnings,
                            mode="watch", probes=self.rtts,
                            nodes=self.nodes() if self.nodes is not None else None)

    def close(self) -> None:
        """Close sockets and the pcap file."""
        self.monitor.close()
        if self.pcap is not None:
            self.pcap.close()
