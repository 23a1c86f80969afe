"""``watch --kubernetes --metrics-port``: VIP discovery and metrics for a running watch session.

Kept apart from :mod:`arpwatch_lb.sessions.watch` so the capture loop stays as it is:
:class:`WatchExtras` attaches to any object with the session's shape
(``tracker``, ``counts``, ``cfg.vips``, ``policy.vips``, ``monitor``) and

* with ``kubernetes``: starts a :class:`~arpwatch_lb.kube.discovery.VipWatcher`
  whose snapshots replace the session's VIP selection as Services change (the
  user's ``--vip`` addresses stay in it); MAC → node names from the nodes'
  InternalIPs for metrics, for the report (``session.nodes``) and for the
  events (``session.policy.nodes``);
* with ``metrics_port``: serves ``/metrics`` and ``/healthz`` (probe round
  trips from ``session.rtts`` when the session has them).

The command wires it with three lines: the :func:`watch_extras_options`
decorator, ``extras = WatchExtras(...).attach(session)`` and ``extras.close()``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from ..cli.options import InputError
from ..core.addresses import VipSet

if TYPE_CHECKING:
    from ..sinks.metrics import IpSelection

__all__ = ["WatchExtras", "kubernetes_options", "kubernetes_targets", "kubernetes_vips",
           "watch_extras_options"]

F = TypeVar("F", bound=Callable[..., Any])
FIRST_SYNC = 10.0
"""Seconds ``attach`` waits for the first Service list before capturing anyway."""
NODE_MAP_CHEAP = 4096
"""Up to this many tracked IPs the MAC → node map is recomputed whenever it may change."""


def watch_extras_options(f: F) -> F:
    """``--kubernetes``, ``--kubeconfig FILE``, ``--metrics-port N``."""
    f = click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, metavar="N",
                     help="Serve Prometheus metrics on :N/metrics and a health check on "
                          ":N/healthz (needs arpwatch-lb[metrics]).")(f)
    return kubernetes_options(f)


def kubernetes_options(f: F) -> F:
    """``--kubernetes``, ``--kubeconfig FILE``."""
    f = click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None,
                     metavar="FILE", help="kubeconfig for --kubernetes. Default: in-cluster "
                                          "service account, else $KUBECONFIG or ~/.kube/config.")(f)
    f = click.option("--kubernetes", is_flag=True,
                     help="Take the VIPs from Services of type LoadBalancer (watch: listed "
                          "and watched, updated live; probe: listed once) and name nodes by "
                          "their InternalIPs (needs arpwatch-lb[kubernetes]).")(f)
    return f


def kubernetes_vips(vips: VipSet, kubernetes: bool, kubeconfig: str | None) -> VipSet:
    """For one-shot commands (``probe``): ``--vip`` plus, with ``--kubernetes``, every LoadBalancer VIP.

    One list, no watch.  Kubernetes VIPs are single addresses, so one that
    nobody answers is reported ``unclaimed``.  Raises ``click.UsageError``
    when there is nothing to probe and
    :class:`~arpwatch_lb.cli.options.InputError` on API problems.
    """
    return kubernetes_targets(vips, kubernetes, kubeconfig, nodes=False)[0]


def kubernetes_targets(vips: VipSet, kubernetes: bool, kubeconfig: str | None,
                       nodes: bool = True, warn: Callable[[str], None] | None = None,
                       ) -> tuple[VipSet, dict[str, str]]:
    """:func:`kubernetes_vips` and, with ``nodes``, the nodes' InternalIPs (IP → node name).

    RBAC refusing to list nodes costs the names, not the VIPs: ``warn`` is
    told and the mapping is empty.
    """
    if not kubernetes:
        if not vips:
            raise click.UsageError("Missing option '--vip' (or use --kubernetes).")
        return vips, {}
    from ..core.addresses import parse_vips
    from ..kube import MissingExtra

    node_ips: dict[str, str] = {}
    try:
        from ..kube.api import KubeApi, KubeError, KubeForbidden
        from ..kube.model import node_internal_ips, vip_snapshot

        try:
            api = KubeApi(kubeconfig)
            try:
                items, rv = api.list_services()
                if nodes:
                    try:
                        node_ips = {ip: str(n["metadata"]["name"]) for n in api.list_nodes()
                                    for ip in node_internal_ips(n)}
                    except KubeForbidden as exc:
                        if warn is not None:
                            warn(f"kubernetes: {exc}; MACs stay without node names")
            finally:
                api.close()
        except KubeError as exc:
            raise InputError(str(exc)) from None
    except MissingExtra as exc:
        raise InputError(str(exc)) from None
    found = sorted(vip_snapshot(items, rv).vips)
    if not found and not vips:
        raise InputError("no Service of type LoadBalancer has a VIP yet: nothing to probe")
    return parse_vips([*(str(n) for n in vips.networks), *found]), node_ips


class WatchExtras:
    """Kubernetes VIP discovery and the metrics server around one watch session."""

    def __init__(self, kubernetes: bool = False, kubeconfig: str | None = None,
                 metrics_port: int | None = None, metrics_host: str = "0.0.0.0",
                 err: TextIO | None = None, api: Any = None) -> None:
        self.kubernetes = kubernetes
        self.kubeconfig = kubeconfig
        self.metrics_port = metrics_port
        self.metrics_host = metrics_host
        self.err = err or sys.stderr
        self.api = api
        self.watcher: Any = None
        self.server: Any = None
        self.session: Any = None
        self._user_vips = VipSet()
        self._node_cache: tuple[int, int, dict[str, str], dict[bytes, str]] | None = None
        self._node_cache_at = 0.0

    def _log(self, message: str) -> None:
        self.err.write(f"arpwatch-lb: {message}\n")
        self.err.flush()

    def attach(self, session: Any) -> WatchExtras:
        """Start what was asked for; raise :class:`~arpwatch_lb.cli.options.InputError` if impossible."""
        from ..kube import MissingExtra

        self.session = session
        self._user_vips = session.cfg.vips
        try:
            if self.metrics_port is not None:
                from ..sinks.metrics import require_metrics
                require_metrics()
            if self.kubernetes:
                self._start_kubernetes()
                session.nodes = self._nodes
                session.policy.nodes = self._nodes
                protected = getattr(session, "protected", None)
                if protected is not None:  # node InternalIPs are never evicted from the table
                    protected.node_source = self.watcher.node_ips
                    protected.refresh()
            if self.metrics_port is not None:
                self._start_metrics()
        except MissingExtra as exc:
            self.close()
            raise InputError(str(exc)) from None
        except OSError as exc:  # the metrics port is taken
            self.close()
            raise InputError(f"--metrics-port {self.metrics_port}: {exc.strerror}") from None
        return self

    # -- Kubernetes ---------------------------------------------------------

    def _start_kubernetes(self) -> None:
        from ..kube.api import KubeApi, KubeError
        from ..kube.discovery import VipWatcher

        if self.api is None:
            try:
                self.api = KubeApi(self.kubeconfig)
            except KubeError as exc:
                raise InputError(str(exc)) from None
        self.watcher = VipWatcher(self.api, log=lambda m: self._log(m), on_change=self._vips_changed)
        self.watcher.start()
        if not self.watcher.synced.wait(FIRST_SYNC):
            self._log("kubernetes: no Service list yet; capturing meanwhile, VIPs follow when the "
                      "API server answers")

    def _vips_changed(self, snap: Any) -> None:
        from ..kube.discovery import snapshot_vipset

        vs = snapshot_vipset(snap, self._user_vips if self._user_vips else None)
        # Attribute swaps: atomic for the capture thread, which reads them per event.
        self.session.policy.vips = vs
        self.session.cfg.vips = vs
        self._log(f"kubernetes: {len(snap.vips)} LoadBalancer VIPs: "
                  + (", ".join(sorted(snap.vips)[:8]) + (" …" if len(snap.vips) > 8 else "")
                     if snap.vips else "none"))

    def _selection(self) -> IpSelection | None:
        """What metrics export: Kubernetes VIPs (+ --vip), --vip alone, or everything."""
        if self.watcher is not None and self.watcher.synced.is_set():
            packed = self.watcher.snapshot().packed()
            user = self._user_vips
            if not user:
                return packed
            return _Union(packed, user)
        return self.session.cfg.vips or None

    def _nodes(self) -> dict[bytes, str]:
        if self.watcher is None:
            return {}
        from ..kube.nodes import mac_nodes

        node_ips = self.watcher.node_ips()
        tracker = self.session.tracker
        # A new (IP, MAC) claimant pair — a second NIC of a node claiming its
        # address, say — changes the mapping; nothing else does.  Recomputing
        # walks every tracked IP: cheap for a normal segment; during a flood of
        # new IPs (a big tracker) at most once a second, so the names may lag.
        version = (len(tracker.ips), getattr(tracker, "claimant_pairs", 0))
        cache = self._node_cache
        now = time.monotonic()
        if cache is not None and cache[2] == node_ips and (
                cache[:2] == version
                or (version[0] > NODE_MAP_CHEAP and now - self._node_cache_at < 1.0)):
            return cache[3]
        nodes = mac_nodes(tracker, node_ips)
        self._node_cache = (*version, node_ips, nodes)
        self._node_cache_at = now
        return nodes

    # -- metrics ------------------------------------------------------------

    def _start_metrics(self) -> None:
        from ..sinks.metrics import serve, snapshot_tracker

        s = self.session

        def source() -> Any:
            kube = None
            if self.watcher is not None:
                kube = (len(self.watcher.snapshot().vips), bool(self.watcher.connected))
            return snapshot_tracker(s.tracker, vips=self._selection(), counts=s.counts,
                                    nodes=self._nodes, kernel_drops=s.monitor.kernel_drops,
                                    kubernetes=kube, probes=getattr(s, "rtts", None))

        def healthy() -> bool:
            links = getattr(s.monitor, "links", {})
            return not links or any(lk.state != "gone" for lk in links.values())

        assert self.metrics_port is not None
        self.server = serve(source, self.metrics_port, self.metrics_host, health=healthy)
        self._log(f"metrics on http://{self.metrics_host}:{self.server.port}/metrics")

    def close(self) -> None:
        """Stop the metrics server and the watcher."""
        if self.server is not None:
            self.server.close()
            self.server = None
        if self.watcher is not None:
            self.watcher.stop(timeout=1.0)
            self.watcher = None
        if self.api is not None and hasattr(self.api, "close"):
            self.api.close()
            self.api = None


class _Union:
    """``ip in a or ip in b``."""

    def __init__(self, a: IpSelection, b: IpSelection) -> None:
        self.a, self.b = a, b

    def __contains__(self, ip: bytes, /) -> bool:
        return ip in self.a or ip in self.b
