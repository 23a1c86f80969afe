"""Services around a ``watch`` session: Kubernetes discovery and the metrics endpoint.

Both run on threads of their own; neither touches the session's attributes.

* :class:`KubernetesTargets` runs a
  :class:`~arpwatch_lb.kube.discovery.VipWatcher` and publishes what it learns
  through :class:`Handoff` boxes — the VIP selection (the user's ``--vip``
  addresses stay in it) and the nodes' InternalIPs.  The session *pulls* them
  (:meth:`KubernetesTargets.vips`, :meth:`KubernetesTargets.node_ips`,
  :meth:`KubernetesTargets.nodes`) from its own thread.
* :class:`MetricsEndpoint` serves ``/metrics`` and ``/healthz`` from
  snapshots of the session's state.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TextIO, TypeVar

from ..core.addresses import VipSet
from ..core.tracker import OwnershipTracker

if TYPE_CHECKING:
    from ..sinks.metrics import IpSelection

__all__ = ["Handoff", "KubernetesTargets", "MetricsEndpoint", "ServiceError"]

T = TypeVar("T")
FIRST_SYNC = 10.0
"""Seconds :meth:`KubernetesTargets.start` waits for the first Service list before capturing anyway."""
NODE_MAP_CHEAP = 4096
"""Up to this many tracked IPs the MAC → node map is recomputed whenever it may change."""


class ServiceError(Exception):
    """A service cannot start (missing extra, API refused, port taken); one line for the user."""


class Handoff(Generic[T]):
    """The latest value from a producer thread, for a consumer thread to pull.

    ``put`` replaces the value and bumps :attr:`version`; ``get`` returns the
    current one.  A lock makes the pair explicit, whatever the interpreter.
    """

    def __init__(self, value: T) -> None:
        self._lock = threading.Lock()
        self._value = value
        self._version = 0

    def put(self, value: T) -> None:
        """Publish ``value``."""
        with self._lock:
            self._value = value
            self._version += 1

    def get(self) -> T:
        """The latest published value."""
        with self._lock:
            return self._value

    @property
    def version(self) -> int:
        """How many values were published (consumers compare it to notice a change)."""
        with self._lock:
            return self._version


class KubernetesTargets:
    """VIPs of LoadBalancer Services and node names, discovered and watched."""

    def __init__(self, user_vips: VipSet, kubeconfig: str | None = None, api: Any = None,
                 err: TextIO | None = None) -> None:
        self.user_vips = user_vips
        self.kubeconfig = kubeconfig
        self.api = api
        self.err = err or sys.stderr
        self.watcher: Any = None
        self._vips: Handoff[VipSet] = Handoff(user_vips)
        self._node_cache: tuple[int, int, dict[str, str], dict[bytes, str]] | None = None
        self._node_cache_at = 0.0

    def _log(self, message: str) -> None:
        self.err.write(f"arpwatch-lb: {message}\n")
        self.err.flush()

    def start(self) -> KubernetesTargets:
        """Connect and start watching; :class:`ServiceError` when that is impossible."""
        from ..kube import MissingExtra

        try:
            from ..kube.api import KubeApi, KubeError
            from ..kube.discovery import VipWatcher

            if self.api is None:
                try:
                    self.api = KubeApi(self.kubeconfig)
                except KubeError as exc:
                    raise ServiceError(str(exc)) from None
        except MissingExtra as exc:
            raise ServiceError(str(exc)) from None
        self.watcher = VipWatcher(self.api, log=self._log, on_change=self._vips_changed)
        self.watcher.start()
        if not self.watcher.synced.wait(FIRST_SYNC):
            self._log("kubernetes: no Service list yet; capturing meanwhile, VIPs follow when the "
                      "API server answers")
        return self

    def _vips_changed(self, snap: Any) -> None:  # the watcher's thread
        from ..kube.discovery import snapshot_vipset

        self._vips.put(snapshot_vipset(snap, self.user_vips if self.user_vips else None))
        self._log(f"kubernetes: {len(snap.vips)} LoadBalancer VIPs: "
                  + (", ".join(sorted(snap.vips)[:8]) + (" …" if len(snap.vips) > 8 else "")
                     if snap.vips else "none"))

    def vips(self) -> VipSet:
        """The current VIP selection (Kubernetes VIPs plus the user's ``--vip``)."""
        return self._vips.get()

    def node_ips(self) -> dict[str, str]:
        """The nodes' InternalIPs (IP text → node name)."""
        return self.watcher.node_ips() if self.watcher is not None else {}

    def selection(self) -> IpSelection | None:
        """What metrics export: Kubernetes VIPs (+ ``--vip``), ``--vip`` alone, or everything."""
        if self.watcher is not None and self.watcher.synced.is_set():
            packed = self.watcher.snapshot().packed()
            return _Union(packed, self.user_vips) if self.user_vips else packed
        return self.user_vips or None

    def api_state(self) -> tuple[int, bool] | None:
        """(VIPs known, API reachable), for the metrics."""
        if self.watcher is None:
            return None
        return len(self.watcher.snapshot().vips), bool(self.watcher.connected)

    def nodes(self, tracker: OwnershipTracker) -> dict[bytes, str]:
        """MAC → node name, from which MACs claim the nodes' InternalIPs in ``tracker``."""
        if self.watcher is None:
            return {}
        from ..kube.nodes import mac_nodes

        node_ips = self.node_ips()
        # A new (IP, MAC) claimant pair — a second NIC of a node claiming its
        # address, say — changes the mapping; nothing else does.  Recomputing
        # walks every tracked IP: cheap for a normal segment; during a flood of
        # new IPs (a big tracker) at most once a second, so the names may lag.
        version = (len(tracker.ips), tracker.claimant_pairs)
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

    def close(self) -> None:
        """Stop the watcher and close the API client."""
        if self.watcher is not None:
            self.watcher.stop(timeout=1.0)
            self.watcher = None
        if self.api is not None and hasattr(self.api, "close"):
            self.api.close()
            self.api = None


class MetricsEndpoint:
    """``/metrics`` and ``/healthz`` for a running session.

    ``session`` needs ``tracker``, ``counts``, ``monitor`` (``kernel_drops``,
    ``links``) and may have ``rtts``; ``kube`` supplies the selection and node
    names when Kubernetes discovery runs.
    """

    def __init__(self, session: Any, port: int, host: str = "0.0.0.0",
                 kube: KubernetesTargets | None = None, err: TextIO | None = None) -> None:
        self.session = session
        self.port = port
        self.host = host
        self.kube = kube
        self.err = err or sys.stderr
        self.server: Any = None

    def start(self) -> MetricsEndpoint:
        """Serve; :class:`ServiceError` when the extra is missing or the port is taken."""
        from ..kube import MissingExtra
        from ..sinks.metrics import require_metrics, serve

        try:
            require_metrics()
        except MissingExtra as exc:
            raise ServiceError(str(exc)) from None
        try:
            self.server = serve(self._snapshot, self.port, self.host, health=self._healthy)
        except OSError as exc:
            raise ServiceError(f"--metrics-port {self.port}: {exc.strerror}") from None
        self.err.write(f"arpwatch-lb: metrics on http://{self.host}:{self.server.port}/metrics\n")
        self.err.flush()
        return self

    def _snapshot(self) -> Any:
        from ..sinks.metrics import snapshot_tracker

        s, kube = self.session, self.kube
        nodes: Callable[[], Mapping[bytes, str]] | None = None
        if kube is not None:
            nodes = lambda: kube.nodes(s.tracker)  # noqa: E731
        sel = kube.selection() if kube is not None else (s.vips() or None)
        return snapshot_tracker(s.tracker, vips=sel, counts=s.counts, nodes=nodes,
                                kernel_drops=s.monitor.kernel_drops,
                                kubernetes=kube.api_state() if kube is not None else None,
                                probes=getattr(s, "rtts", None))

    def _healthy(self) -> bool:
        links = getattr(self.session.monitor, "links", {})
        return not links or any(lk.state != "gone" for lk in links.values())

    def close(self) -> None:
        """Stop serving."""
        if self.server is not None:
            self.server.close()
            self.server = None


class _Union:
    """``ip in a or ip in b``."""

    def __init__(self, a: IpSelection, b: IpSelection) -> None:
        self.a, self.b = a, b

    def __contains__(self, ip: bytes, /) -> bool:
        return ip in self.a or ip in self.b
