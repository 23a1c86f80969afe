"""``watch --kubernetes --metrics-port``: VIP discovery and metrics for a running watch session.

Kept apart from :mod:`arpwatch_lb.watch` so the capture loop stays as it is:
:class:`WatchExtras` attaches to any object with the session's shape
(``tracker``, ``counts``, ``cfg.vips``, ``policy.vips``, ``monitor``) and

* with ``kubernetes``: starts a :class:`~arpwatch_lb.kube.discovery.VipWatcher`
  whose snapshots replace the session's VIP selection as Services change (the
  user's ``--vip`` addresses stay in it); MAC → node names from the nodes'
  InternalIPs for metrics;
* with ``metrics_port``: serves ``/metrics`` and ``/healthz``.

The command wires it with three lines: the :func:`watch_extras_options`
decorator, ``extras = WatchExtras(...).attach(session)`` and ``extras.close()``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from .addresses import VipSet
from .options import InputError

if TYPE_CHECKING:
    from .metrics import IpSelection

__all__ = ["WatchExtras", "kubernetes_options", "kubernetes_vips", "watch_extras_options"]

F = TypeVar("F", bound=Callable[..., Any])
FIRST_SYNC = 10.0
"""Seconds ``attach`` waits for the first Service list before capturing anyway."""


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
                     help="Take the VIPs from Services of type LoadBalancer (list+watch, "
                          "updated live) and name nodes by their InternalIPs (needs "
                          "arpwatch-lb[kubernetes]).")(f)
    return f


def kubernetes_vips(vips: VipSet, kubernetes: bool, kubeconfig: str | None) -> VipSet:
    """For one-shot commands (``probe``): ``--vip`` plus, with ``--kubernetes``, every LoadBalancer VIP.

    One list, no watch.  Kubernetes VIPs are single addresses, so one that
    nobody answers is reported ``unclaimed``.  Raises ``click.UsageError``
    when there is nothing to probe and
    :class:`~arpwatch_lb.options.InputError` on API problems.
    """
    if not kubernetes:
        if not vips:
            raise click.UsageError("Missing option '--vip' (or use --kubernetes).")
        return vips
    from .addresses import parse_vips
    from .kube import MissingExtra

    try:
        from .kube.api import KubeApi, KubeError
        from .kube.model import vip_snapshot

        try:
            api = KubeApi(kubeconfig)
            try:
                items, rv = api.list_services()
            finally:
                api.close()
        except KubeError as exc:
            raise InputError(str(exc)) from None
    except MissingExtra as exc:
        raise InputError(str(exc)) from None
    found = sorted(vip_snapshot(items, rv).vips)
    if not found and not vips:
        raise InputError("no Service of type LoadBalancer has a VIP yet: nothing to probe")
    return parse_vips([*(str(n) for n in vips.networks), *found])


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
        self._node_cache: tuple[int, dict[str, str], dict[bytes, str]] | None = None

    def _log(self, message: str) -> None:
        self.err.write(f"arpwatch-lb: {message}\n")
        self.err.flush()

    def attach(self, session: Any) -> WatchExtras:
        """Start what was asked for; raise :class:`~arpwatch_lb.options.InputError` if impossible."""
        from .kube import MissingExtra

        self.session = session
        self._user_vips = session.cfg.vips
        try:
            if self.metrics_port is not None:
                from .metrics import require_metrics
                require_metrics()
            if self.kubernetes:
                self._start_kubernetes()
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
        from .kube.api import KubeApi, KubeError
        from .kube.discovery import VipWatcher

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
        from .kube.discovery import snapshot_vipset

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
        from .kube.nodes import mac_nodes

        node_ips = self.watcher.node_ips()
        tracked = len(self.session.tracker.ips)
        cache = self._node_cache
        if cache is not None and cache[0] == tracked and cache[1] == node_ips:
            return cache[2]
        nodes = mac_nodes(self.session.tracker, node_ips)
        self._node_cache = (tracked, node_ips, nodes)
        return nodes

    # -- metrics ------------------------------------------------------------

    def _start_metrics(self) -> None:
        from .metrics import serve, snapshot_tracker

        s = self.session

        def source() -> Any:
            kube = None
            if self.watcher is not None:
                kube = (len(self.watcher.snapshot().vips), bool(self.watcher.connected))
            return snapshot_tracker(s.tracker, vips=self._selection(), counts=s.counts,
                                    nodes=self._nodes, kernel_drops=s.monitor.kernel_drops,
                                    kubernetes=kube)

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
