"""Live VIP discovery: list and watch LoadBalancer Services in a thread.

:class:`VipWatcher` keeps a :class:`~.model.VipSnapshot` current: it lists every
Service, then watches from the list's resourceVersion, applying ADDED /
MODIFIED / DELETED events.  On 410 Gone it lists again.  When the API server
is unreachable it keeps the last known VIPs, retries with exponential backoff
(capped), says so **once** through ``log`` and says once more when it is back.

It also learns node InternalIPs (re-listed every ``node_refresh`` seconds) for
:func:`~.nodes.mac_nodes`.

Callers read :meth:`VipWatcher.snapshot` (cheap, thread-safe) whenever they need
the VIP set, e.g. per batch of frames or at scrape time.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from ..core.addresses import VipSet, parse_vips
from .api import KubeError, KubeForbidden, KubeGone
from .model import VipSnapshot, node_internal_ips, service_ref, vip_snapshot

__all__ = ["Backoff", "VipWatcher", "snapshot_vipset"]


def snapshot_vipset(snap: VipSnapshot, extra: VipSet | None = None) -> VipSet:
    """A VipSet of the snapshot's VIPs (plus ``extra``'s networks) without ``singles``."""
    vs = parse_vips(sorted(snap.vips))
    nets = [*vs.networks, *(extra.networks if extra else ())]
    out = VipSet(nets)
    out.singles = list(extra.singles) if extra else []
    return out


class Backoff:
    """Exponential backoff with jitter: ``initial`` doubling up to ``cap`` seconds."""

    def __init__(self, initial: float = 1.0, cap: float = 60.0, jitter: float = 0.2) -> None:
        self.initial, self.cap, self.jitter = initial, cap, jitter
        self.attempt = 0

    def next(self) -> float:
        """The next delay."""
        base = min(self.cap, self.initial * (2 ** self.attempt))
        self.attempt += 1
        return base * (1 + random.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        """Back to ``initial`` after a success."""
        self.attempt = 0


class VipWatcher:
    """Maintain the cluster's LoadBalancer VIPs (and node IPs) from a background thread.

    ``api``: a :class:`~.api.KubeApi` (or anything with ``list_services``,
    ``watch_services``, ``list_nodes``).  ``log(message)`` receives the few
    state changes worth a line (unreachable, recovered, forbidden).
    """

    def __init__(self, api: Any, log: Callable[[str], None] = lambda m: None,
                 watch_timeout: int = 300, node_refresh: float = 300.0,
                 backoff: Backoff | None = None,
                 on_change: Callable[[VipSnapshot], None] | None = None) -> None:
        self.api = api
        self.log = log
        self.on_change = on_change
        """Called from the watcher thread with each new snapshot whose VIP set changed."""
        self.watch_timeout = watch_timeout
        self.node_refresh = node_refresh
        self.backoff = backoff or Backoff()
        self._lock = threading.Lock()
        self._services: dict[Any, dict[str, Any]] = {}
        self._snapshot = VipSnapshot()
        self._node_ips: dict[str, str] = {}
        self._nodes_at = -1e18
        self._nodes_forbidden = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.synced = threading.Event()
        """Set after the first successful list."""
        self.connected = False
        self.last_error: str | None = None
        self.errors = 0
        self.updates = 0

    # -- reading ------------------------------------------------------------

    def snapshot(self) -> VipSnapshot:
        """The latest VIPs (the last known ones while the API server is unreachable)."""
        with self._lock:
            return self._snapshot

    def vipset(self) -> VipSet:
        """The VIPs as a :class:`~arpwatch_lb.core.addresses.VipSet` that selects without demanding.

        Passive capture cannot tell a quiet VIP from a dead one (MetalLB only
        sends gratuitous ARP after a reconcile), so these VIPs are never
        reported ``unclaimed``: the set has no ``singles``.
        """
        return snapshot_vipset(self.snapshot())

    def node_ips(self) -> dict[str, str]:
        """Node InternalIP → node name (last known)."""
        with self._lock:
            return dict(self._node_ips)

    # -- running ------------------------------------------------------------

    def start(self) -> VipWatcher:
        """Start the background thread (daemon)."""
        self._thread = threading.Thread(target=self.run, name="vip-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to end and wait up to ``timeout`` seconds."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """List, watch, re-list on 410, back off while unreachable — until :meth:`stop`."""
        rv: str | None = None
        while not self._stop.is_set():
            try:
                self._refresh_nodes()
                if rv is None:
                    rv = self._relist()
                rv = self._watch(rv)
            except KubeGone:
                rv = None
                continue
            except KubeForbidden as exc:
                self._failed(str(exc))
            except KubeError as exc:
                self._failed(str(exc))
                rv = None  # list again after an outage: events may be lost
            except Exception as exc:  # never let the thread die silently
                self._failed(f"unexpected {type(exc).__name__}: {exc}")
                rv = None
            else:
                continue
            self._stop.wait(self.backoff.next())

    def _failed(self, message: str) -> None:
        self.errors += 1
        if self.connected or self.last_error is None:
            n = len(self.snapshot().vips)
            self.log(f"kubernetes: {message}; keeping the last {n} known VIPs, retrying with backoff")
        self.connected = False
        self.last_error = message

    def _ok(self) -> None:
        if not self.connected and self.last_error is not None:
            self.log("kubernetes: API server reachable again; VIPs resynchronised")
        self.connected = True
        self.backoff.reset()

    def _refresh_nodes(self) -> None:
        """Re-list node InternalIPs when due.  RBAC refusing nodes costs names, not VIPs."""
        now = time.monotonic()
        if now - self._nodes_at < self.node_refresh:
            return
        try:
            nodes = self.api.list_nodes()
        except KubeForbidden as exc:
            if not self._nodes_forbidden:
                self.log(f"kubernetes: {exc}; MACs stay without node names")
            self._nodes_forbidden = True
            self._nodes_at = now
            return
        ips = {ip: str(n["metadata"]["name"]) for n in nodes for ip in node_internal_ips(n)}
        with self._lock:
            self._node_ips = ips
        self._nodes_at = now

    def _relist(self) -> str | None:
        items, rv = self.api.list_services()
        services = {service_ref(s): s for s in items}
        self._publish(services, rv)
        self._ok()
        self.synced.set()
        return rv

    def _publish(self, services: dict[Any, dict[str, Any]], rv: str | None) -> None:
        snap = vip_snapshot(services.values(), rv)
        with self._lock:
            self._services = services
            old, self._snapshot = self._snapshot, snap
        self.updates += 1
        if self.on_change is not None and (old.services != snap.services or self.updates == 1):
            self.on_change(snap)

    def _watch(self, rv: str | None) -> str | None:
        services = dict(self._services)
        for ev in self.api.watch_services(rv, timeout_seconds=self.watch_timeout):
            if self._stop.is_set():
                break
            obj = ev.object
            new_rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
            if ev.type == "BOOKMARK":
                rv = new_rv
                continue
            ref = service_ref(obj)
            if ev.type == "DELETED":
                services.pop(ref, None)
            elif ev.type in ("ADDED", "MODIFIED"):
                services[ref] = obj
            else:
                continue
            rv = new_rv
            self._publish(dict(services), rv)
        return rv
