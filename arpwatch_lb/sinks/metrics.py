"""Prometheus metrics: a custom collector that reads the tracker at scrape time.

Nothing is mirrored into global gauges: every scrape takes a
:class:`MetricsSnapshot` (under the caller's lock) and yields metric families
from it, so an IP that is no longer selected disappears at once.  The registry
is injected (tests use a fresh ``CollectorRegistry``).  No sample timestamps.

Metric families (``vip``: the IPv4 or IPv6 address; ``vlan``: the VLAN, ``"outer.inner"``
for QinQ, ``""`` untagged; ``node``: the node a MAC belongs to, ``""`` unknown;
README.md ("Kubernetes", "Metrics") has the table and the PromQL):

* per IP: ``arpwatch_lb_ip_claimants``, ``_ip_claimant_nodes``,
  ``_ip_claimant_frames_total{mac,node}``, ``_ip_owner_info{mac,node}``,
  ``_ip_claimant_info{mac,node,announcer}`` (the announcer named by the MAC's
  frames, :mod:`arpwatch_lb.core.fingerprint`; ``unknown`` until known),
  ``_ip_owner_changes_total``, ``_ip_flip_flops_total``,
  ``_ip_duplicate_replies_total``, ``_ip_contested`` (1 while two or more
  nodes fight: the last flip-flop or duplicate reply within the window);
* global: ``arpwatch_lb_frames_total{kind}``, ``_tracked_ips``,
  ``_exported_ips``; with a capped IP table (``watch``): ``_table_evictions_total``,
  ``_table_entries``, ``_table_max_entries``; when the source has them: ``_kernel_drops_total``,
  ``_probe_rtt_seconds`` (summary), ``_probe_requests_total``,
  ``_probe_answered_total``, ``_kubernetes_vips``, ``_kubernetes_api_up``;
* per probed VIP: ``arpwatch_lb_ip_probe_rtt_seconds{vip}`` (summary) — only
  for VIPs exported with per-IP metrics, so bounded like them.

With a MAC → node mapping, ``_ip_contested`` follows the node-aware verdict
(:mod:`arpwatch_lb.core.verdicts`): two MACs of one node are not a fight.

**Bounded labels.**  A flood of spoofed MACs must not explode cardinality:
per IP only the first ``max_macs`` MACs to claim it get their own ``mac``
label; the rest are summed into ``mac="other"`` (and an owner among them is
shown as ``mac="other"``).  The labelled set never changes, so the counters
stay monotonic.  Without a
VIP selection at most ``max_ips`` IPs are exported (contested first).
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from ..core.addresses import format_ip, format_mac
from ..core.fingerprint import Announcer
from ..core.tracker import IpState, Key, OwnershipTracker
from ..core.verdicts import contested_now, distinct_nodes

try:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        Metric,
        SummaryMetricFamily,
    )
    from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
except ImportError:  # pragma: no cover - exercised by the CLI's install hint
    CollectorRegistry = None  # type: ignore[assignment,misc]

__all__ = [
    "INSTALL_HINT", "IpSample", "IpSelection", "MetricsServer", "MetricsSnapshot", "TrackerCollector",
    "require_metrics", "serve", "snapshot_tracker",
]

INSTALL_HINT = "prometheus-client is not installed: pip install 'arpwatch-lb[metrics]'"
MAX_MACS = 8
MAX_IPS = 1024
OTHER = "other"


class IpSelection(Protocol):
    """Which IPs to export: a VipSet (empty selects all) or a set of packed IPs."""

    def __contains__(self, ip: bytes, /) -> bool: ...


def require_metrics() -> None:
    """Raise :class:`~arpwatch_lb.kube.MissingExtra` when prometheus-client is missing."""
    if CollectorRegistry is None:
        from ..extras import MissingExtra
        raise MissingExtra(INSTALL_HINT)


@dataclass(frozen=True, slots=True)
class IpSample:
    """What the exporter shows for one tracked IP (a copy, safe to read off-lock)."""

    vip: str
    vlan: str
    macs: tuple[tuple[str, str, int], ...]
    """(mac, node, frames) — already bounded, ``mac="other"`` last when aggregated."""
    owner: str
    owner_node: str
    claimants: int
    nodes: int
    changes: int
    flip_flops: int
    duplicate_replies: int
    contested: bool
    announcers: tuple[tuple[str, str, str], ...] = ()
    """(mac, node, announcer kind) of the MACs with their own ``mac`` label."""


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Everything one scrape shows."""

    ips: tuple[IpSample, ...] = ()
    frames: Mapping[str, int] = field(default_factory=dict)
    tracked_ips: int = 0
    kernel_drops: int | None = None
    probe_rtts: tuple[int, float] | None = None
    """(count, sum of seconds) of probe round trips, if probes ran."""
    probe_requests: tuple[int, int] | None = None
    """(requests sent, requests answered), if the source probes."""
    probe_rtts_by_vip: Mapping[str, tuple[int, float]] = field(default_factory=dict)
    """VIP → (count, sum of seconds); only exported VIPs (see :func:`snapshot_tracker`)."""
    kubernetes: tuple[int, bool] | None = None
    """(VIPs known, API reachable) when Kubernetes discovery is on."""
    table: tuple[int, int, int] | None = None
    """(entries, cap, evictions) of a capped IP table."""


def _bounded_macs(st: IpState, nodes: Mapping[bytes, str], max_macs: int,
                  ) -> tuple[tuple[tuple[str, str, int], ...], frozenset[bytes]]:
    """Per-MAC frame counts with at most ``max_macs`` MAC labels, and the MACs labelled.

    The labelled MACs are the first ``max_macs`` to claim the IP: a stable set
    (MACs are only ever added), so every series — ``mac="other"`` too — is a
    monotonic counter, and a flood of spoofed MACs lands in ``other``.
    """
    ordered = list(st.claimants().items())  # by first claim: stable
    keep = ordered[:max_macs]
    out = [(format_mac(m), nodes.get(m, ""), c.frames) for m, c in keep]
    if len(ordered) > max_macs or st.dropped_frames:  # the tracker's own crowd counts as "other"
        out.append((OTHER, "", sum(c.frames for _, c in ordered[max_macs:]) + st.dropped_frames))
    return tuple(out), frozenset(m for m, _ in keep)


def _sample(st: IpState, nodes: Mapping[bytes, str], now: float, horizon: float,
            max_macs: int, announcer: Callable[[Key, bytes], Announcer]) -> IpSample:
    vlan, inner, ip = st.key
    frames, labelled = _bounded_macs(st, nodes, max_macs)
    kinds = tuple((format_mac(m), nodes.get(m, ""), announcer(st.key, m).kind)
                  for m in st.claimants() if m in labelled)
    return IpSample(
        vip=format_ip(ip),
        vlan="" if vlan is None else (str(vlan) if inner is None else f"{vlan}.{inner}"),
        macs=frames, owner=format_mac(st.owner) if st.owner in labelled else OTHER,
        owner_node=nodes.get(st.owner, "") if st.owner in labelled else "",
        # a crowd of MACs without statistics counts as unknown nodes
        claimants=st.claimant_count, nodes=distinct_nodes(st, nodes) + st.dropped_claimants,
        changes=st.changes, flip_flops=st.flip_flops, duplicate_replies=st.duplicate_replies,
        contested=contested_now(st, nodes, now, horizon),
        announcers=kinds,
    )


def snapshot_tracker(tracker: OwnershipTracker,
                     vips: IpSelection | Callable[[], IpSelection | None] | None = None,
                     counts: Mapping[str, int] | None = None,
                     nodes: Mapping[bytes, str] | Callable[[], Mapping[bytes, str]] | None = None,
                     lock: AbstractContextManager[Any] | None = None,
                     recent: float | None = None, max_macs: int = MAX_MACS,
                     max_ips: int = MAX_IPS, **extra: Any) -> MetricsSnapshot:
    """Copy what a scrape shows out of ``tracker`` (under ``lock`` if given).

    ``vips``: the IPs to export (a VipSet — empty means all —, a set of packed
    IPs — empty means none —, or a callable returning either, e.g. Kubernetes
    discovery); ``None``: all.  ``nodes``: MAC → node name (or a callable); ``recent``: an IP is
    contested while its last flip-flop/duplicate reply is at most this many
    seconds older than the tracker's network time (default: the tracker's
    window).  ``extra``: ``kernel_drops``, ``probe_rtts``, ``probe_requests``,
    ``kubernetes`` fields, or ``probes``: a :class:`~arpwatch_lb.sessions.probe.ProbeRtts`
    whose totals fill ``probe_rtts``/``probe_requests`` and whose per-VIP round
    trips are exported for the VIPs that get per-IP metrics.
    """
    sel = vips() if callable(vips) else vips
    horizon = tracker.window if recent is None else recent
    for attempt in range(3):
        try:
            with lock or nullcontext():
                node_map = (nodes() if callable(nodes) else nodes) or {}
                return _snapshot(tracker, sel, counts, node_map, horizon, max_macs, max_ips,
                                 extra)
        except RuntimeError:  # "dict changed size during iteration": no lock, busy capture
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _fights(rec: Any) -> tuple[int, int]:
    if rec.__class__ is IpState:
        return -(rec.flip_flops + rec.duplicate_replies), -rec.changes
    return 0, 0  # a compact record: one MAC, never a change


def _snapshot(tracker: OwnershipTracker, sel: IpSelection | None, counts: Mapping[str, int] | None,
              node_map: Mapping[bytes, str], horizon: float, max_macs: int, max_ips: int,
              extra: Mapping[str, Any]) -> MetricsSnapshot:
    # Records, not IpStates: a table of 50,000 compact records is sorted without expanding them.
    recs = [(k, r) for k, r in tracker.records() if sel is None or k[2] in sel]
    if len(recs) > max_ips:
        recs.sort(key=lambda kr: (*_fights(kr[1]), kr[0][0] is not None, kr[0][0] or 0,
                                  kr[0][1] or 0, kr[0][2]))
        recs = recs[:max_ips]
    states = [r if r.__class__ is IpState else tracker.state(k) for k, r in recs]
    now = tracker.now
    samples = [_sample(st, node_map, now, horizon, max_macs, tracker.announcer)
               for st in states if st is not None]
    frames = dict(counts or {})
    frames.setdefault("claims", tracker.totals()["frames"])
    fields = dict(extra)
    probes = fields.pop("probes", None)
    if probes is not None:
        requests, answered, total, per_ip = probes.snapshot()
        exported = {s.vip for s in samples}
        fields.update(probe_rtts=total, probe_requests=(requests, answered),
                      probe_rtts_by_vip={v: per_ip[ip] for ip in per_ip
                                         if (v := format_ip(ip)) in exported})
    if tracker.max_ips is not None:
        t = tracker.table()
        fields.setdefault("table", (t["entries"], t["max_ips"], t["evictions"]))
    return MetricsSnapshot(ips=tuple(samples), frames=frames, tracked_ips=len(tracker.ips),
                           **fields)


IP_LABELS = ["vip", "vlan"]
MAC_LABELS = ["vip", "vlan", "mac", "node"]
PER_IP: list[tuple[str, str, str, str]] = [
    # (family name, type, help, IpSample attribute) of the per-IP series
    ("arpwatch_lb_ip_claimants", "gauge",
     "Distinct MACs that claimed the IP in ARP or Neighbor Discovery.", "claimants"),
    ("arpwatch_lb_ip_claimant_nodes", "gauge",
     "Distinct nodes that claimed the IP (MACs of one node count once; unknown MACs once each).",
     "nodes"),
    ("arpwatch_lb_ip_owner_changes", "counter", "Ownership changes of the IP.",
     "changes"),
    ("arpwatch_lb_ip_flip_flops", "counter",
     "Ownership changes back to a MAC that claimed the IP within the flip-flop window.",
     "flip_flops"),
    ("arpwatch_lb_ip_duplicate_replies", "counter",
     "Requests (ARP, Neighbor Solicitations) for the IP answered by two different MACs.",
     "duplicate_replies"),
    ("arpwatch_lb_ip_contested", "gauge",
     "1 while two or more nodes fight over the IP (a flip-flop or duplicate reply within the "
     "window).", "contested"),
]


class TrackerCollector:
    """A custom collector: ``source()`` returns a :class:`MetricsSnapshot` at each scrape."""

    def __init__(self, source: Callable[[], MetricsSnapshot]) -> None:
        self.source = source

    def describe(self) -> Iterable[Any]:
        """No up-front description: the families depend on the snapshot."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Yield every metric family from one snapshot."""
        snap = self.source()
        types = {"gauge": GaugeMetricFamily, "counter": CounterMetricFamily}
        per_ip = [(types[kind](name, doc, labels=IP_LABELS), attr) for name, kind, doc, attr in PER_IP]
        frames = CounterMetricFamily("arpwatch_lb_ip_claimant_frames",
                                     "ARP/NDP claims of the IP per MAC (at most a few MACs per IP; "
                                     "the rest summed as mac=\"other\").", labels=MAC_LABELS)
        owner = GaugeMetricFamily("arpwatch_lb_ip_owner_info",
                                  "The MAC (and node) that claimed the IP last.", labels=MAC_LABELS)
        claimant = GaugeMetricFamily("arpwatch_lb_ip_claimant_info",
                                     "The announcer a claimant's frames name (metallb, kube-vip, "
                                     "cilium, keepalived, kernel or unknown).",
                                     labels=[*MAC_LABELS, "announcer"])
        for s in snap.ips:
            base = [s.vip, s.vlan]
            for family, attr in per_ip:
                family.add_metric(base, int(getattr(s, attr)))
            for mac, node, n in s.macs:
                frames.add_metric([*base, mac, node], n)
            owner.add_metric([*base, s.owner, s.owner_node], 1)
            for mac, node, kind in s.announcers:
                claimant.add_metric([*base, mac, node, kind], 1)
        families = [f for f, _ in per_ip]
        yield from (*families[:2], frames, owner, claimant, *families[2:])
        kinds = CounterMetricFamily("arpwatch_lb_frames", "Frames read, by kind.", labels=["kind"])
        for k, v in sorted(snap.frames.items()):
            kinds.add_metric([k], v)
        yield kinds
        yield GaugeMetricFamily("arpwatch_lb_tracked_ips", "IPs the tracker holds.",
                                value=snap.tracked_ips)
        yield GaugeMetricFamily("arpwatch_lb_exported_ips", "IPs exported with per-IP metrics.",
                                value=len(snap.ips))
        if snap.kernel_drops is not None:
            yield CounterMetricFamily("arpwatch_lb_kernel_drops",
                                      "Frames the kernel dropped before we read them.",
                                      value=snap.kernel_drops)
        if snap.probe_rtts is not None:
            yield SummaryMetricFamily("arpwatch_lb_probe_rtt_seconds",
                                      "Round-trip time of probes (request sent to reply "
                                      "received, per replying MAC).",
                                      count_value=snap.probe_rtts[0], sum_value=snap.probe_rtts[1])
        if snap.probe_requests is not None:
            yield CounterMetricFamily("arpwatch_lb_probe_requests",
                                      "Probes sent (ARP who-has, IPv6 Neighbor Solicitations).",
                                      value=snap.probe_requests[0])
            yield CounterMetricFamily("arpwatch_lb_probe_answered",
                                      "Probes that got at least one reply.",
                                      value=snap.probe_requests[1])
        if snap.probe_rtts_by_vip:
            per_vip = SummaryMetricFamily("arpwatch_lb_ip_probe_rtt_seconds",
                                          "Round-trip time of probes of the VIP.",
                                          labels=["vip"])
            for vip, (n, total) in sorted(snap.probe_rtts_by_vip.items()):
                per_vip.add_metric([vip], count_value=n, sum_value=total)
            yield per_vip
        if snap.table is not None:
            entries, cap, evictions = snap.table
            yield CounterMetricFamily("arpwatch_lb_table_evictions",
                                      "IPs evicted from the full IP table, least recently "
                                      "claimed first (never a VIP or node address).",
                                      value=evictions)
            yield GaugeMetricFamily("arpwatch_lb_table_entries",
                                    "Entries of the IP table: IPs, plus the claimants and runs "
                                    "remembered for IPs whose owner changed.", value=entries)
            yield GaugeMetricFamily("arpwatch_lb_table_max_entries",
                                    "The IP table's cap (--max-ips).", value=cap)
        if snap.kubernetes is not None:
            yield GaugeMetricFamily("arpwatch_lb_kubernetes_vips",
                                    "LoadBalancer VIPs known from the Kubernetes API.",
                                    value=snap.kubernetes[0])
            yield GaugeMetricFamily("arpwatch_lb_kubernetes_api_up",
                                    "1 while the Kubernetes API server is reachable.",
                                    value=1 if snap.kubernetes[1] else 0)


class MetricsServer:
    """``/metrics`` and ``/healthz`` over HTTP in a daemon thread."""

    def __init__(self, registry: Any, port: int, host: str = "0.0.0.0",
                 health: Callable[[], bool] = lambda: True) -> None:
        handler = type("Handler", (_Handler,), {"registry": registry, "health": staticmethod(health)})
        self.httpd = (_HTTPServer6 if ":" in host else _HTTPServer)((host, port), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="metrics", daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self.httpd.shutdown()
        self.httpd.server_close()


class _HTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` without its reverse DNS lookup of the address at start.

    ``HTTPServer.server_bind`` asks ``socket.getfqdn`` for a name it only uses in CGI
    variables: seconds of resolver timeouts on a node whose DNS is slow or unreachable.
    """

    daemon_threads = True

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), port


class _HTTPServer6(_HTTPServer):
    """The same server on an IPv6 address (``--metrics-address ::1``)."""

    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    registry: Any
    health: Callable[[], bool]

    def log_message(self, format: str, *args: Any) -> None:  # no access log on stderr
        pass

    def _reply(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            try:
                body = generate_latest(self.registry)
            except Exception as exc:  # a scrape must not kill the server
                self._reply(500, f"collect failed: {type(exc).__name__}: {exc}\n".encode())
                return
            self._reply(200, body, CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            ok = self.health()
            self._reply(200 if ok else 503, b"ok\n" if ok else b"unhealthy\n")
        else:
            self._reply(404, b"not found: try /metrics or /healthz\n")


def serve(source: Callable[[], MetricsSnapshot], port: int, host: str = "0.0.0.0",
          health: Callable[[], bool] = lambda: True, registry: Any = None) -> MetricsServer:
    """Register a :class:`TrackerCollector` for ``source`` and serve it on ``host:port``.

    ``port`` 0 picks a free port (see ``.port``).  Without ``registry`` a fresh
    ``CollectorRegistry`` is used (no process/platform collectors: the output
    is only ours).
    """
    require_metrics()
    reg = registry if registry is not None else CollectorRegistry()
    reg.register(TrackerCollector(source))
    return MetricsServer(reg, port, host, health)
