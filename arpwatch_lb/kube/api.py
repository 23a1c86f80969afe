"""Kubernetes API I/O through the official client: config, lists, watches, errors.

Objects come back as plain dicts exactly as the API server sent them (the
client is called with ``_preload_content=False`` and the JSON is parsed here),
so :mod:`.model` reads the same shapes in tests and in clusters.  Errors are
translated into two exceptions with one-line messages:

* :class:`KubeForbidden` — HTTP 403 naming the missing permission, or 401 (bad credentials);
* :class:`KubeUnreachable` — connection refused, timeouts, TLS failures, 5xx.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import require_kubernetes

__all__ = ["KubeApi", "KubeError", "KubeForbidden", "KubeGone", "KubeUnreachable", "WatchEvent"]

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
PAGE = 500
MAX_EVENTS = 100_000
"""Events read per doctor run: enough to see a storm, bounded for a 2-million-Event one."""


class KubeError(Exception):
    """A Kubernetes API problem with a one-line message."""


class KubeForbidden(KubeError):
    """RBAC refused a request (HTTP 403) or the credentials were rejected (HTTP 401)."""

    what: str = ""
    """The refused request, ``verb resource [scope]``."""


class KubeUnreachable(KubeError):
    """The API server could not be reached or failed (connection, TLS, timeout, 5xx)."""


class KubeGone(KubeError):
    """HTTP 410: the watch's resourceVersion is too old; list again."""


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One watch event: ``ADDED``, ``MODIFIED``, ``DELETED`` or ``BOOKMARK`` and the object."""

    type: str
    object: dict[str, Any]


def _status_message(body: Any) -> str:
    try:
        doc = json.loads(body) if isinstance(body, str | bytes) else None
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("message"):
        return str(doc["message"])
    return ""


def _tls_message(host: str, reason: str) -> str:
    """One line for a TLS failure the client reports as ``SSLError``, a newline, ``[SSL: CODE] text``."""
    text = " ".join(reason.split())
    text = re.sub(r"^SSLError\s*|\s*\(_ssl\.c:\d+\)", "", text).strip() or "TLS error"
    verify = re.search(r"certificate verify failed: (.*)", text)
    if verify:
        return (f"Kubernetes API server {host}: TLS certificate not trusted ({verify.group(1)}); "
                "check the cluster CA: the service account's ca.crt in a pod, "
                "certificate-authority(-data) in a kubeconfig")
    return f"Kubernetes API server {host}: TLS failed: {text}"


class KubeApi:
    """A thin wrapper over the official client that returns raw API objects.

    ``kubeconfig``: a kubeconfig path; without it the in-cluster service account
    is used when present (``KUBERNETES_SERVICE_HOST``), else the default
    kubeconfig (``$KUBECONFIG`` or ``~/.kube/config``).
    """

    def __init__(self, kubeconfig: str | None = None, context: str | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT) -> None:
        k8s = require_kubernetes()
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        self._k8s = k8s
        cfg = client.Configuration()
        try:
            if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
                config.load_incluster_config(client_configuration=cfg)
            else:
                config.load_kube_config(config_file=kubeconfig, context=context,
                                        client_configuration=cfg)
        except (ConfigException, OSError, TypeError, ValueError) as exc:
            where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
            raise KubeError(f"cannot load Kubernetes config from {where}: {exc}") from None
        cfg.retries = False  # we retry ourselves, with backoff, and say so
        self.host = cfg.host
        self.api_client = client.ApiClient(cfg)
        self.core = client.CoreV1Api(self.api_client)
        self.custom = client.CustomObjectsApi(self.api_client)
        self.coordination = client.CoordinationV1Api(self.api_client)
        self.apps = client.AppsV1Api(self.api_client)
        self.timeout = (connect_timeout, read_timeout)
        self.truncated: list[str] = []
        """Lists cut short by ``max_items`` (one line each)."""

    def close(self) -> None:
        """Release the connection pool."""
        self.api_client.close()

    # -- error translation ------------------------------------------------

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call ``fn`` and translate client exceptions; ``what`` is ``verb resource [scope]``."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return fn(*args, **kwargs)
        except ApiException as exc:
            raise self._translate(exc, what) from None
        except (HTTPError, OSError) as exc:
            raise KubeUnreachable(f"Kubernetes API server {self.host} unreachable: "
                                  f"{type(exc).__name__}") from None

    def _translate(self, exc: Any, what: str) -> KubeError:
        status = getattr(exc, "status", 0) or 0
        msg = _status_message(getattr(exc, "body", None))
        if status == 401:
            return KubeForbidden(f"unauthorized: the API server rejected the credentials for "
                                 f"'{what}'" + (f" ({msg})" if msg else "")
                                 + "; check the token (the service account's in a pod, the "
                                   "kubeconfig's user)")
        if status == 403:
            forbidden = KubeForbidden(f"forbidden: RBAC does not allow '{what}'"
                                      + (f" ({msg})" if msg else "")
                                      + "; grant get/list/watch on it (deploy/10-rbac.yaml)")
            forbidden.what = what
            return forbidden
        if status == 410:
            return KubeGone(msg or "resourceVersion too old (410 Gone)")
        if status == 0:  # the client's wrapping of a TLS failure: "SSLError\n[SSL: ...] ..."
            return KubeUnreachable(_tls_message(self.host, str(getattr(exc, "reason", "") or "")))
        if status >= 500:
            return KubeUnreachable(f"Kubernetes API server {self.host} failed: HTTP {status} "
                                   f"{getattr(exc, 'reason', '') or ''}".rstrip())
        return KubeError(f"Kubernetes API '{what}': HTTP {status} {msg or exc.reason}")

    def _json(self, resp: Any) -> dict[str, Any]:
        try:
            data = resp.data
        finally:
            resp.release_conn()
        return json.loads(data)

    # -- lists ------------------------------------------------------------

    def _list(self, what: str, fn: Any, max_items: int | None = None,
              **kwargs: Any) -> tuple[list[dict[str, Any]], str | None]:
        """All pages of a list call (up to ``max_items``): (items, list resourceVersion)."""
        items: list[dict[str, Any]] = []
        cont: str | None = None
        rv: str | None = None
        while True:
            resp = self._call(what, fn, limit=PAGE, _continue=cont, _preload_content=False,
                              _request_timeout=self.timeout, **kwargs)
            doc = self._json(resp)
            items += doc.get("items") or []
            meta = doc.get("metadata") or {}
            rv = meta.get("resourceVersion", rv)
            cont = meta.get("continue") or None
            if max_items is not None and len(items) >= max_items and cont:
                self.truncated.append(f"{what}: stopped after {len(items)} objects")
                return items, rv
            if not cont:
                return items, rv

    def list_services(self) -> tuple[list[dict[str, Any]], str | None]:
        """Every Service in every namespace, and the list's resourceVersion."""
        return self._list("list services (all namespaces)", self.core.list_service_for_all_namespaces)

    def list_nodes(self) -> list[dict[str, Any]]:
        """Every Node."""
        return self._list("list nodes", self.core.list_node)[0]

    def list_pods(self) -> list[dict[str, Any]]:
        """Every Pod in every namespace."""
        return self._list("list pods (all namespaces)", self.core.list_pod_for_all_namespaces)[0]

    def list_service_events(self, namespace: str | None = None,
                            max_items: int | None = MAX_EVENTS) -> list[dict[str, Any]]:
        """core/v1 Events about Services (one namespace, or all; at most ``max_items``)."""
        sel = "involvedObject.kind=Service"
        if namespace:
            return self._list(f"list events (namespace {namespace})",
                              self.core.list_namespaced_event, max_items, namespace=namespace,
                              field_selector=sel)[0]
        return self._list("list events (all namespaces)", self.core.list_event_for_all_namespaces,
                          max_items, field_selector=sel)[0]

    def list_servicel2statuses(self) -> list[dict[str, Any]] | None:
        """MetalLB ServiceL2Status objects, or None when the CRD is not installed (404)."""
        try:
            return self._list("list servicel2statuses.metallb.io (all namespaces)",
                              self.custom.list_cluster_custom_object, group="metallb.io",
                              version="v1beta1", plural="servicel2statuses")[0]
        except KubeError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise

    def list_leases(self) -> list[dict[str, Any]]:
        """Every coordination.k8s.io Lease (kube-vip's and Cilium's holders)."""
        return self._list("list leases.coordination.k8s.io (all namespaces)",
                          self.coordination.list_lease_for_all_namespaces)[0]

    def list_daemonsets(self) -> list[dict[str, Any]]:
        """Every apps/v1 DaemonSet (kube-vip's environment, k3s ``svclb-*``)."""
        return self._list("list daemonsets.apps (all namespaces)",
                          self.apps.list_daemon_set_for_all_namespaces)[0]

    def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        """One ConfigMap, or None when it does not exist (404)."""
        what = f"get configmaps {name} (namespace {namespace})"
        try:
            resp = self._call(what, self.core.read_namespaced_config_map, name, namespace,
                              _preload_content=False, _request_timeout=self.timeout)
        except KubeError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise
        return self._json(resp)

    def list_custom(self, group: str, versions: tuple[str, ...],
                    plural: str) -> list[dict[str, Any]] | None:
        """Objects of a custom resource (every namespace), trying ``versions`` in order.

        None when no version is served (the CRD is not installed: 404).
        """
        for version in versions:
            try:
                return self._list(f"list {plural}.{group} (all namespaces)",
                                  self.custom.list_cluster_custom_object, group=group,
                                  version=version, plural=plural)[0]
            except KubeError as exc:
                if "HTTP 404" not in str(exc):
                    raise
        return None

    # -- watch ------------------------------------------------------------

    def watch_services(self, resource_version: str | None, timeout_seconds: int = 300,
                       ) -> Iterator[WatchEvent]:
        """Stream Service watch events from ``resource_version``; ends after ``timeout_seconds``.

        Raises :class:`KubeGone` on 410 (list again), :class:`KubeUnreachable` when the
        connection fails or breaks mid-stream.
        """
        from kubernetes import watch

        w = watch.Watch()
        what = "watch services (all namespaces)"
        kwargs: dict[str, Any] = {"timeout_seconds": timeout_seconds, "allow_watch_bookmarks": True,
                                  "_request_timeout": (self.timeout[0], timeout_seconds + 10)}
        if resource_version:
            kwargs["resource_version"] = resource_version
        stream = w.stream(self.core.list_service_for_all_namespaces, **kwargs)
        end = object()
        try:
            while True:
                ev = self._call(what, next, stream, end)
                if ev is end:
                    return
                if not ev:  # a blank keep-alive line
                    continue
                raw = ev.get("raw_object") or {}
                yield WatchEvent(str(ev.get("type", "")), raw)
        finally:
            w.stop()
            stream.close()
