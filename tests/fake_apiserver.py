"""A local fake Kubernetes API server speaking the real REST and watch protocol.

Enough of the protocol for the official Python client, byte-compatible in shape
with kube-apiserver:

* lists: ``{"kind": "ServiceList", "apiVersion": "v1", "metadata":
  {"resourceVersion": "N"}, "items": [...]}`` (items without kind/apiVersion),
  ``limit``/``continue`` paging, ``fieldSelector`` on ``involvedObject.kind``;
* watches: ``?watch=true&resourceVersion=N`` streams newline-delimited
  ``{"type": "ADDED|MODIFIED|DELETED", "object": {...}}`` over chunked HTTP/1.1
  until ``timeoutSeconds``; a resourceVersion older than the compacted history
  gets an ``ERROR`` event carrying a 410 ``Status`` (``reason: Expired``);
* single objects: ``GET …/namespaces/NS/RESOURCE/NAME`` (404 ``Status`` when absent);
* RBAC: a forbidden resource answers 403 with a ``Status`` object — either the
  (verb, resource) pairs in :attr:`FakeApiServer.forbidden`, or, with
  :attr:`FakeApiServer.rules` set (a ClusterRole's ``rules``), everything those
  rules do not allow (verbs, API groups, resources, resourceNames);
* 404 ``Status`` for resources whose CRD is not installed.

It binds 127.0.0.1 unless told ``host`` (an address inside a lab namespace),
and speaks HTTPS when given ``tls`` (an :class:`ssl.SSLContext` with the server's
certificate), as a real API server does.  :meth:`FakeApiServer.stop` closes the
listener and every open watch (the API server going down); :meth:`start` brings
it back on the same port.
"""

from __future__ import annotations

import copy
import json
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

RESOURCES = {
    # path segment → (group/version prefix, kind, namespaced)
    "services": ("/api/v1", "Service", True),
    "nodes": ("/api/v1", "Node", False),
    "events": ("/api/v1", "Event", True),
    "pods": ("/api/v1", "Pod", True),
    "servicel2statuses": ("/apis/metallb.io/v1beta1", "ServiceL2Status", True),
    "configmaps": ("/api/v1", "ConfigMap", True),
    "leases": ("/apis/coordination.k8s.io/v1", "Lease", True),
    "daemonsets": ("/apis/apps/v1", "DaemonSet", True),
    "ipaddresspools": ("/apis/metallb.io/v1beta1", "IPAddressPool", True),
    "l2advertisements": ("/apis/metallb.io/v1beta1", "L2Advertisement", True),
    "ciliumloadbalancerippools": ("/apis/cilium.io/v2alpha1", "CiliumLoadBalancerIPPool", False),
    "ciliuml2announcementpolicies": ("/apis/cilium.io/v2alpha1", "CiliumL2AnnouncementPolicy",
                                     False),
}
SA_USER = "system:serviceaccount:arpwatch-lb:arpwatch-lb"


def status(code: int, reason: str, message: str, kind: str | None = None) -> dict[str, Any]:
    """A ``Status`` object as the API server returns it for failures."""
    doc: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                           "status": "Failure", "message": message, "reason": reason,
                           "code": code}
    if kind:
        doc["details"] = {"kind": kind}
    return doc


class FakeApiServer:
    """In-memory objects, a global resourceVersion, watch history, RBAC and outages."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {r: {} for r in RESOURCES}
        self.history: list[tuple[int, str, str, dict[str, Any]]] = []  # (rv, resource, type, obj)
        self.rv = 100
        self.compacted = 0  # watches from a resourceVersion below this get 410
        self.forbidden: set[tuple[str, str]] = set()  # (verb, resource)
        self.missing: set[str] = set()  # resources whose CRD is absent (404)
        self.rules: list[dict[str, Any]] | None = None  # a ClusterRole's rules, enforced if set
        self.requests: list[str] = []
        self.cond = threading.Condition()
        self.port = 0
        self.host = "127.0.0.1"
        self.tls: ssl.SSLContext | None = None
        """Serve HTTPS with this context (its certificate loaded); None: plain HTTP."""
        self.token: str | None = None
        """Answer 401 to requests without ``Authorization: Bearer <token>`` (the scheme in any
        case, as RFC 7235 says: the client's in-cluster configuration sends ``bearer``)."""
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.generation = 0  # bumped by stop(): open watches end

    # -- objects ------------------------------------------------------------

    def _bump(self, resource: str, etype: str, obj: dict[str, Any]) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.history.append((self.rv, resource, etype, copy.deepcopy(obj)))

    def put(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object (ADDED or MODIFIED event)."""
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        if RESOURCES[resource][2]:
            md.setdefault("namespace", "default")
        key = (md.get("namespace", ""), md["name"])
        with self.cond:
            old = self.objects[resource].get(key)
            md.setdefault("uid", old["metadata"]["uid"] if old else str(uuid.uuid4()))
            md.setdefault("creationTimestamp", old["metadata"]["creationTimestamp"] if old
                          else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            self.objects[resource][key] = obj
            self._bump(resource, "MODIFIED" if old else "ADDED", obj)
            self.cond.notify_all()
        return obj

    def delete(self, resource: str, namespace: str, name: str) -> None:
        """Delete an object (DELETED event carrying its last state)."""
        with self.cond:
            obj = self.objects[resource].pop((namespace, name))
            self._bump(resource, "DELETED", obj)
            self.cond.notify_all()

    def allowed(self, verb: str, group: str, resource: str, name: str | None) -> bool:
        """Whether :attr:`rules` (None: allow everything not in :attr:`forbidden`) allow it."""
        if (verb, resource) in self.forbidden:
            return False
        if self.rules is None:
            return True
        for rule in self.rules:
            if verb not in rule.get("verbs", ()) and "*" not in rule.get("verbs", ()):
                continue
            if group not in rule.get("apiGroups", ()) or resource not in rule.get("resources", ()):
                continue
            names = rule.get("resourceNames")
            if names and name not in names:
                continue
            return True
        return False

    def compact(self) -> None:
        """Forget the watch history: older resourceVersions now get 410 Gone."""
        with self.cond:
            self.compacted = self.rv + 1

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> FakeApiServer:
        """Listen on ``host`` (the same port again after :meth:`stop`)."""
        handler = type("Handler", (_Handler,), {"api": self, "gen": self.generation})
        self.server = _Server((self.host, self.port), handler)
        self.server.daemon_threads = True
        if self.tls is not None:  # the handshake happens in the handler's thread, on first read
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True,
                                                      do_handshake_on_connect=False)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        """Go down: stop listening and end every open watch."""
        with self.cond:
            self.generation += 1
            self.cond.notify_all()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def kubeconfig(self, path: Path, ca: Path | None = None) -> Path:
        """Write a kubeconfig pointing at this server (token auth, like a ServiceAccount);
        ``ca``: the CA certificate to trust (HTTPS)."""
        cluster: dict[str, Any] = {"server": self.url}
        if ca is not None:
            cluster["certificate-authority"] = str(ca)
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": cluster}],
            "users": [{"name": "sa", "user": {"token": self.token or "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "sa"}}],
        }))
        return path


class _Server(ThreadingHTTPServer):
    """Quiet about clients that give up the TLS handshake (a client distrusting the CA)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ssl.SSLError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    api: FakeApiServer
    gen: int  # the server generation this handler class belongs to
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, code: int, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        api = self.api
        url = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        api.requests.append(self.path)
        scheme, _, credentials = (self.headers.get("Authorization") or "").partition(" ")
        if api.token is not None and (scheme.lower(), credentials) != ("bearer", api.token):
            self._send(401, status(401, "Unauthorized", "Unauthorized"))
            return
        parts = url.path.strip("/").split("/")
        namespace = None
        if "namespaces" in parts and parts.index("namespaces") + 2 < len(parts):
            i = parts.index("namespaces")
            namespace = parts[i + 1]
            del parts[i:i + 2]
        name = None
        if parts[-1] not in RESOURCES and len(parts) >= 2 and parts[-2] in RESOURCES:
            name = parts.pop()  # a single object: GET …/RESOURCE/NAME
        resource = parts[-1]
        if resource not in RESOURCES:
            self._send(404, status(404, "NotFound", "the server could not find the requested resource"))
            return
        prefix, kind, _ = RESOURCES[resource]
        if "/" + "/".join(parts[:-1]) != prefix:
            self._send(404, status(404, "NotFound", "the server could not find the requested resource"))
            return
        watching = q.get("watch") in ("true", "1")
        verb = "get" if name is not None else "watch" if watching else "list"
        group = prefix.split("/")[2] if prefix.startswith("/apis/") else ""
        if not api.allowed(verb, group, resource, name):
            scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            what = f'{resource}{"." + group if group else ""}' + (f' "{name}"' if name else "")
            self._send(403, status(403, "Forbidden",
                                   f'{what} is forbidden: User '
                                   f'"{SA_USER}" cannot {verb} resource "{resource}" in API group '
                                   f'"{group}" {scope}', resource))
            return
        if resource in api.missing:
            self._send(404, status(404, "NotFound", "the server could not find the requested resource"))
            return
        if name is not None:
            with api.cond:
                obj = api.objects[resource].get((namespace or "", name))
                obj = copy.deepcopy(obj) if obj is not None else None
            if obj is None:
                self._send(404, status(404, "NotFound", f'{resource} "{name}" not found', kind))
            else:
                self._send(200, {"kind": kind, "apiVersion": prefix.removeprefix("/api/")
                                 .removeprefix("/apis/"), **obj})
            return
        if watching:
            self._watch(resource, namespace, q)
        else:
            self._list(resource, kind, prefix, namespace, q)

    def _select(self, resource: str, namespace: str | None, obj: dict[str, Any],
                q: dict[str, str]) -> bool:
        if namespace and obj["metadata"].get("namespace") != namespace:
            return False
        for term in filter(None, q.get("fieldSelector", "").split(",")):
            path, _, want = term.partition("=")
            cur: Any = obj
            for p in path.split("."):
                cur = cur.get(p) if isinstance(cur, dict) else None
            if str(cur) != want:
                return False
        return True

    def _list(self, resource: str, kind: str, prefix: str, namespace: str | None,
              q: dict[str, str]) -> None:
        api = self.api
        start = int(q.get("continue") or 0)
        with api.cond:
            items = [o for _, o in sorted(api.objects[resource].items())
                     if self._select(resource, namespace, o, q)]
            limit = int(q.get("limit") or 0) or len(items) or 1
            page = copy.deepcopy(items[start:start + limit])
            rv = str(api.rv)
        meta: dict[str, Any] = {"resourceVersion": rv}
        if start + limit < len(items):
            meta["continue"] = str(start + limit)
        self._send(200, {"kind": f"{kind}List", "apiVersion": prefix.removeprefix("/api/")
                         .removeprefix("/apis/"), "metadata": meta, "items": page})

    def _watch(self, resource: str, namespace: str | None, q: dict[str, str]) -> None:
        api = self.api
        since = int(q.get("resourceVersion") or 0)
        deadline = time.monotonic() + float(q.get("timeoutSeconds") or 1800)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(doc: dict[str, Any]) -> None:
            data = json.dumps(doc).encode() + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        gen = self.gen
        with api.cond:
            if since and since < api.compacted:
                expired = status(410, "Expired",
                                 f"too old resource version: {since} ({api.compacted})")
                chunk({"type": "ERROR", "object": expired})
                self.wfile.write(b"0\r\n\r\n")
                return
            sent = since
            if not since:  # no resourceVersion: synthetic ADDED for current state
                for o in api.objects[resource].values():
                    if self._select(resource, namespace, o, q):
                        chunk({"type": "ADDED", "object": copy.deepcopy(o)})
                sent = api.rv
        try:
            while True:
                with api.cond:
                    pending = [h for h in api.history if h[0] > sent and h[1] == resource]
                    if not pending:
                        left = deadline - time.monotonic()
                        if left <= 0 or api.generation != gen:
                            break
                        api.cond.wait(min(left, 0.2))
                        if api.generation != gen:
                            break
                        continue
                for rv, _, etype, obj in pending:
                    sent = rv
                    if self._select(resource, namespace, obj, q):
                        chunk({"type": etype, "object": obj})
            if api.generation == gen:
                self.wfile.write(b"0\r\n\r\n")
            else:  # going down: cut the connection without a proper end
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            pass
