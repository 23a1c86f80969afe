"""The ``watch`` session: passive capture plus periodic probes, until stopped.

One loop, one thread: wait for frames (:meth:`Monitor.pump`, at most
``TICK`` s), send the requests that are due, and once a second read the
kernel counters, check the interfaces, pull the VIP selection and node names
from their providers, let the event policy notice resolved fights and redraw
the table.  Every ``summary_interval`` s a ``summary`` event.  ``stop()``
(from a signal handler) or ``duration`` ends the loop; :meth:`report` then
gives the final report.

What changes at run time — the VIPs (Kubernetes discovery), the MAC → node
map, the nodes' InternalIPs — comes from *providers* passed in (callables,
read on this thread); nothing from outside writes to the session.  Clocks are
injected too: ``wall`` (epoch seconds, the clock of the kernel's receive
timestamps) and ``mono`` (for pacing).

Probes: every address of the VIP selection each ``probe_interval``, and, when
a ``node_ips`` provider is given, the nodes' InternalIPs once at the start and
again whenever that list changes (paced by the same ``rate``), so that every
claimant MAC carries its node name from the first event on.

With ``html``, the HTML timeline page is written at the start and rewritten at
every summary and at the end (atomically).
"""

from __future__ import annotations

import ipaddress
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..core.addresses import VipSet
from ..core.event_policy import EventPolicy
from ..core.ingest import FrameCounts
from ..core.probe_plan import DEFAULT_RATE, ProbePlan, ProbeRtts
from ..core.report import build_report
from ..core.tracker import DEFAULT_MAX_IPS, Change, OwnershipTracker
from ..sinks import render_table
from ..sinks.console import CLEAR
from ..sinks.html_timeline import HTML_MAX_MARKS, HTML_MAX_RUNS, write_html
from ..sinks.jsonl import JsonLines
from ..sinks.pcap_writer import PcapWriter
from ..sources.link_socket import (
    DEFAULT_RCVBUF,
    FrameSource,
    LinkSocket,
    interface_addresses,
    interface_ipv6,
)
from ..sources.live_capture import LinkFact, Monitor
from ..sources.probe_frames import probe_frame

__all__ = ["Protected", "WatchConfig", "WatchSession"]

TICK = 0.1
HOUSEKEEPING = 1.0
RECENT_EVENTS = 10
RTT_LIMIT = 5.0
"""A probe reply counts as a round trip within min(--probe-interval, this) seconds."""


@dataclass(kw_only=True)
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
    html: Path | None = None
    """Rewrite this HTML page (atomically) at every summary interval and at the end."""
    max_ips: int = DEFAULT_MAX_IPS
    """The IP table's cap (0: none)."""


class Protected:
    """The addresses a watch never evicts: the VIPs selected now and the nodes' InternalIPs.

    Reads the session's VIP selection (``vips``, a provider) at every look
    (Kubernetes discovery swaps it at run time); node addresses come from
    ``node_source`` (IP text → node name, ``--kubernetes``), re-read by
    :meth:`refresh` once a second.
    """

    def __init__(self, vips: Callable[[], VipSet],
                 node_source: Callable[[], Mapping[str, str]] | None = None) -> None:
        self.vips = vips
        self.node_source = node_source
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
            self.nodes = frozenset(ipaddress.ip_address(ip).packed for ip in current)

    def __contains__(self, ip: bytes) -> bool:
        vips = self.vips()
        return (bool(vips) and ip in vips) or ip in self.nodes


class WatchSession:
    """Run ``watch``: build with a config (and providers), :meth:`run`, then :meth:`report`."""

    def __init__(self, cfg: WatchConfig, out: TextIO | None = None, err: TextIO | None = None,
                 open_source: Callable[[str], FrameSource] | None = None, *,
                 vips: Callable[[], VipSet] | None = None,
                 nodes: Callable[[OwnershipTracker], Mapping[bytes, str]] | None = None,
                 node_ips: Callable[[], Mapping[str, str]] | None = None,
                 wall: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.vips: Callable[[], VipSet] = vips or (lambda: cfg.vips)
        """The VIP selection provider (``--vip``, or Kubernetes discovery)."""
        self._nodes = nodes
        self._node_ips = node_ips
        self.wall, self.mono = wall, mono
        self.protected = Protected(self.vips, node_ips)
        """VIPs and node InternalIPs: never evicted from the tracker's table."""
        self.protected.refresh()
        kept = ({"max_runs": HTML_MAX_RUNS, "max_marks": HTML_MAX_MARKS}
                if cfg.html is not None else {})
        self.tracker = OwnershipTracker(window=cfg.window, record_events=True,
                                        max_ips=cfg.max_ips or None, protect=self.protected,
                                        **kept)
        self._html_failed = False
        self.counts = FrameCounts()
        self.policy = EventPolicy(self.tracker, self.vips(),
                                  nodes=self.nodes if nodes is not None else None,
                                  table_interval=cfg.summary_interval)
        self.lines = JsonLines(self.out) if cfg.fmt == "jsonl" else None
        self.recent: deque[str] = deque(maxlen=RECENT_EVENTS)
        self._stop = False
        self.rtts = ProbeRtts(min(cfg.probe_interval, RTT_LIMIT))
        self.pcap: PcapWriter | None = (PcapWriter(cfg.write_pcap, cfg.pcap_max_bytes)
                                        if cfg.write_pcap is not None else None)
        opener = open_source or (lambda name: LinkSocket(name, cfg.promisc, cfg.buffer_bytes))
        try:
            self.monitor = Monitor(list(cfg.interfaces), self.tracker, self.counts,
                                   open_source=opener, on_changes=self._changes,
                                   on_fact=self._fact, on_claims=self.rtts.observe,
                                   tee=self.pcap.write if self.pcap is not None else None,
                                   clock=wall)
        except BaseException:
            if self.pcap is not None:
                self.pcap.close()
            raise
        self._probers = (self._probe_sources()
                         if cfg.vips or vips is not None or node_ips is not None else {})
        self._frames: dict[tuple[str, bytes], bytes] = {}
        self._warned: set[tuple[str, int]] = set()
        if cfg.html is not None:  # at once: the page exists from the start, or we fail now
            try:
                write_html(cfg.html, self.report())
            except BaseException:
                self.close()
                raise

    def nodes(self) -> Mapping[bytes, str]:
        """MAC → node name now (empty without a provider)."""
        return self._nodes(self.tracker) if self._nodes is not None else {}

    def _probe_sources(self) -> dict[str, tuple[bytes, dict[int, bytes]]]:
        """Interface → (our MAC, {4: our IPv4 address, 16: our IPv6 address}) to probe from."""
        out = {}
        for name in self.cfg.interfaces:
            mac, ip = interface_addresses(name)
            ip6 = interface_ipv6(name)
            ours = {n: a for n, a in ((4, ip), (16, ip6)) if a is not None}
            if not ours:
                self.err.write(f"arpwatch-lb: warning: {name} has no IPv4 or IPv6 address: not "
                               "probing there (passive only)\n")
                continue
            out[name] = (mac, ours)
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

    def _fact(self, fact: LinkFact) -> None:
        self._emit(EventPolicy.link_event(fact.kind, fact.interface, fact.time, fact.fields))

    def stop(self) -> None:
        """Ask the loop to end (safe from a signal handler)."""
        self._stop = True

    # -- probing -----------------------------------------------------------

    def _send(self, targets: list[bytes]) -> None:
        for target in targets:
            for name, (mac, ours) in self._probers.items():
                ip = ours.get(len(target))
                if ip is None:  # no address of this family here: passive for it
                    self._no_family(name, len(target))
                    continue
                frame = self._frames.get((name, target))
                if frame is None:
                    frame = self._frames[name, target] = probe_frame(mac, ip, target)
                t = self.wall()  # before the send: the reply may be received before it returns
                if self.monitor.send(name, frame):
                    self.rtts.sent(name, mac, ip, target, t)

    def _no_family(self, name: str, size: int) -> None:
        """Warn once per interface and address family that cannot be probed from there."""
        if (name, size) not in self._warned:
            self._warned.add((name, size))
            family = "IPv4" if size == 4 else "IPv6"
            self.err.write(f"arpwatch-lb: warning: {name} has no {family} address: not probing "
                           f"{family} addresses there (passive only)\n")

    def _node_targets(self) -> list[bytes]:
        assert self._node_ips is not None
        return sorted((ipaddress.ip_address(ip).packed for ip in self._node_ips()),
                      key=lambda b: (len(b), b))

    # -- the loop ----------------------------------------------------------

    def run(self, ready: Callable[[], None] | None = None) -> None:
        """Watch until :meth:`stop` or the configured duration."""
        cfg, mono = self.cfg, self.mono
        start = mono()
        end = start + cfg.duration if cfg.duration is not None else float("inf")
        vips = self.vips()
        plan = nodes_plan = None
        planned: VipSet | None = None
        node_targets: list[bytes] = []
        look_at_nodes = self._node_ips is not None
        next_house = start + HOUSEKEEPING
        next_summary = start + cfg.summary_interval
        if ready is not None:
            ready()
        while not self._stop:
            now = mono()
            if now >= end:
                break
            if self._probers:
                if vips is not planned:  # at the start and whenever the selection changes
                    planned = vips
                    plan = ProbePlan(vips.addresses(), 0, cfg.probe_interval, cfg.rate, now)
                if look_at_nodes and (fresh := self._node_targets()) != node_targets:
                    node_targets = fresh  # at the start and whenever the node list changes
                    nodes_plan = ProbePlan(node_targets, 1, cfg.probe_interval, cfg.rate, now)
                look_at_nodes = False
                assert plan is not None
                self._send(plan.due(now))
                if nodes_plan is not None:
                    self._send(nodes_plan.due(now))
            wait = min(TICK, end - now, next_house - now)
            for p in (plan, nodes_plan):
                if p is not None:
                    wait = min(wait, p.wait(now))
            self.monitor.pump(max(wait, 0.0))
            now = mono()
            if now >= next_house:
                next_house = now + HOUSEKEEPING
                vips = self.vips()
                self.policy.vips = vips
                look_at_nodes = self._node_ips is not None
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
        now = self.wall()
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
            self._emit(self.policy.summary(self.wall(), self.counts,
                                           self.monitor.kernel_drops, states))
        if self.cfg.html is not None:
            self._write_html(self.cfg.html)

    def _write_html(self, path: Path) -> None:
        """Rewrite the page; a failure is a warning (once), never the end of the watch."""
        try:
            write_html(path, self.report())
        except OSError as exc:
            if not self._html_failed:
                self.err.write(f"arpwatch-lb: warning: --html {exc.filename}: {exc.strerror}\n")
            self._html_failed = True
        else:
            self._html_failed = False

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
        return build_report(self.tracker, self.counts, self.vips(), sources, warnings,
                            mode="watch", probes=self.rtts,
                            nodes=self.nodes() if self._nodes is not None else None)

    def close(self) -> None:
        """Close sockets and the pcap file."""
        self.monitor.close()
        if self.pcap is not None:
            self.pcap.close()
