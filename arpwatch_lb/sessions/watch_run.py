"""One ``watch`` from start to report: the session and the services around it, wired.

:class:`WatchRun` picks the interfaces (the default route's when none is
named), opens the capture, starts Kubernetes discovery and the metrics
endpoint when asked, hands the session its providers, runs it and returns the
final report — closing everything on the way out, whatever happens.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

from ..sources.errors import CaptureError
from ..sources.link_socket import check_interfaces, default_interface
from .watch import WatchConfig, WatchSession
from .watch_services import KubernetesTargets, MetricsEndpoint

__all__ = ["WatchRun"]


class WatchRun:
    """``watch`` as one object: :meth:`start`, :meth:`run` (→ report), :meth:`stop` from a signal."""

    def __init__(self, cfg: WatchConfig, *, kubernetes: bool = False,
                 kubeconfig: str | None = None, metrics_port: int | None = None,
                 metrics_host: str = "0.0.0.0", err: TextIO | None = None,
                 session_factory: Callable[..., WatchSession] = WatchSession) -> None:
        self.cfg = cfg
        self.kubernetes = kubernetes
        self.kubeconfig = kubeconfig
        self.metrics_port = metrics_port
        self.metrics_host = metrics_host
        self.err = err or sys.stderr
        self.session_factory = session_factory
        self.session: WatchSession | None = None
        self.kube: KubernetesTargets | None = None
        self.metrics: MetricsEndpoint | None = None
        self._stopped = False

    def start(self) -> WatchRun:
        """Open everything; raise :class:`CaptureError` or
        :class:`~arpwatch_lb.sessions.watch_services.ServiceError` (nothing left open)."""
        cfg = self.cfg
        cfg.interfaces = cfg.interfaces or [default_interface()]
        check_interfaces(cfg.interfaces)
        try:
            # The capture opens first: without CAP_NET_RAW, one line and nothing else (no
            # API traffic).  The session pulls from the Kubernetes providers, which answer
            # the user's --vip (and no nodes) until discovery has started.
            if self.kubernetes:
                self.kube = KubernetesTargets(cfg.vips, self.kubeconfig, err=self.err)
            kube = self.kube
            try:
                self.session = self.session_factory(
                    cfg, err=self.err,
                    vips=kube.vips if kube is not None else None,
                    nodes=kube.nodes if kube is not None else None,
                    node_ips=kube.node_ips if kube is not None else None)
            except OSError as exc:  # --write-pcap or --html not writable
                raise CaptureError(f"{exc.filename or cfg.write_pcap or cfg.html}: "
                                   f"{exc.strerror}") from None
            if kube is not None:
                kube.start()
            if self.metrics_port is not None:
                self.metrics = MetricsEndpoint(self.session, self.metrics_port, self.metrics_host,
                                               kube, err=self.err).start()
        except BaseException:
            self.close()
            raise
        if self._stopped:
            self.session.stop()
        return self

    def stop(self) -> None:
        """End the loop (safe from a signal handler)."""
        self._stopped = True
        if self.session is not None:
            self.session.stop()

    def run(self, ready: Callable[[list[str]], None] | None = None) -> dict[str, Any]:
        """Watch until stopped; the final report.  Closes everything."""
        session = self.session
        assert session is not None, "start() first"
        try:
            session.run(ready=(lambda: ready(self.cfg.interfaces)) if ready else None)
            return session.report()
        finally:
            self.close()

    def close(self) -> None:
        """Close the metrics endpoint, the watcher and the capture."""
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None
        if self.kube is not None:
            self.kube.close()
            self.kube = None
        if self.session is not None:
            self.session.close()
            self.session = None
