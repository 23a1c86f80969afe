"""Pure reading of Kubernetes API objects: VIPs of Services, node addresses, controllers.

Every function takes plain dicts shaped as the API server returns them (camelCase
keys, ``metadata``/``spec``/``status``) and never performs I/O.  What the field
notes say each announcer leaves on a Service (README.md's Kubernetes section has the
table):

* MetalLB: handles Services with **no** ``spec.loadBalancerClass`` (unless run
  with ``--lb-class``); annotations ``metallb.io/*`` (``metallb.universe.tf/*``
  before v0.14); status ingress with the IP only; ``nodeAssigned`` Events from
  the speaker; ``ServiceL2Status`` objects.
* kube-vip: class ``kube-vip.io/kube-vip-class`` or no class (legacy, unless
  ``lb_class_only=true``); annotations ``kube-vip.io/*`` (``vipHost`` names the
  announcing node); status ingress with IP **and ports**; field manager
  ``kube-vip``; no Events.
* Cilium: class ``io.cilium/l2-announcer`` or none; LB IPAM field manager
  ``cilium-operator-lb-ipam``; condition ``io.cilium/lb-ipam-request-satisfied``.
* k3s ServiceLB: no class; status IPs that are node addresses; Events
  ``AppliedDaemonSet``/``UpdatedLoadBalancer``; ``svclb-*`` pods.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..core.announcers import CILIUM, KUBE_VIP, METALLB, SERVICELB

__all__ = [
    "ANNOUNCERS",
    "CILIUM",
    "KUBE_VIP",
    "METALLB",
    "SERVICELB",
    "Evidence",
    "ServiceRef",
    "VipSnapshot",
    "api_time",
    "classify_pods",
    "event_stats",
    "is_load_balancer",
    "node_internal_ips",
    "service_evidence",
    "service_ref",
    "service_vips",
    "vip_snapshot",
]

Obj = Mapping[str, Any]

ANNOUNCERS = (METALLB, KUBE_VIP, CILIUM, SERVICELB)
"""Controllers that answer ARP for a Service's VIP (or make nodes answer)."""

KUBE_VIP_CLASS = "kube-vip.io/kube-vip-class"
CILIUM_CLASS = "io.cilium/l2-announcer"
ANNOTATION_VIPS = ("metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs",
                   "kube-vip.io/loadbalancerIPs")
_MANAGERS = ((METALLB, "metallb"), (KUBE_VIP, "kube-vip"), (CILIUM, "cilium"),
             (SERVICELB, "k3s"), (SERVICELB, "svclb"))
_NODE_ASSIGNED = re.compile(r'announcing from node "?([^" ]+)"?')


@dataclass(frozen=True, slots=True, order=True)
class ServiceRef:
    """``namespace/name`` of a Service."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def service_ref(svc: Obj) -> ServiceRef:
    """The Service's namespace and name."""
    md = svc.get("metadata") or {}
    return ServiceRef(md.get("namespace") or "default", md.get("name") or "")


def is_load_balancer(svc: Obj) -> bool:
    """True for ``spec.type: LoadBalancer``."""
    return (svc.get("spec") or {}).get("type") == "LoadBalancer"


def _ip(text: Any) -> str | None:
    """An IPv4 or IPv6 address in its canonical text form (RFC 5952 for IPv6), or None.

    Scoped IPv6 addresses (``fe80::1%eth0``) are not VIPs and give None.
    """
    try:
        addr = ipaddress.ip_address(str(text).strip())
    except ValueError:
        return None
    if getattr(addr, "scope_id", None):
        return None
    return str(addr)


def service_vips(svc: Obj) -> list[str]:
    """VIPs of a Service, IPv4 and IPv6: status ingress IPs, ``spec.loadBalancerIP``, the VIP
    annotations.

    Order: status first (what is announced), then requested addresses; no duplicates.
    Hostnames are skipped.  A dual-stack Service has one VIP of each family.
    """
    out: dict[str, None] = {}
    status = (svc.get("status") or {}).get("loadBalancer") or {}
    for ing in status.get("ingress") or ():
        ip = _ip((ing or {}).get("ip", ""))
        if ip:
            out[ip] = None
    spec = svc.get("spec") or {}
    if spec.get("loadBalancerIP"):
        ip = _ip(spec["loadBalancerIP"])
        if ip:
            out[ip] = None
    ann = (svc.get("metadata") or {}).get("annotations") or {}
    for key in ANNOTATION_VIPS:
        for part in str(ann.get(key, "")).split(","):
            ip = _ip(part) if part.strip() else None
            if ip:
                out[ip] = None
    return list(out)


@dataclass(frozen=True, slots=True)
class VipSnapshot:
    """The LoadBalancer VIPs of a cluster at one moment: VIP → Services that use it."""

    services: Mapping[str, tuple[ServiceRef, ...]] = field(default_factory=dict)
    resource_version: str | None = None

    @property
    def vips(self) -> frozenset[str]:
        """Every VIP."""
        return frozenset(self.services)

    def packed(self) -> frozenset[bytes]:
        """Every VIP as bytes (the tracker's key: 4 bytes IPv4, 16 bytes IPv6)."""
        return frozenset(ipaddress.ip_address(v).packed for v in self.services)


def vip_snapshot(services: Iterable[Obj], resource_version: str | None = None) -> VipSnapshot:
    """Build a :class:`VipSnapshot` from Service objects (non-LoadBalancer ones are ignored)."""
    by_vip: dict[str, list[ServiceRef]] = {}
    for svc in services:
        if not is_load_balancer(svc):
            continue
        ref = service_ref(svc)
        for vip in service_vips(svc):
            by_vip.setdefault(vip, []).append(ref)
    return VipSnapshot({v: tuple(sorted(refs)) for v, refs in sorted(by_vip.items())},
                       resource_version)


def node_internal_ips(node: Obj) -> list[str]:
    """A Node's ``InternalIP`` addresses, IPv4 and IPv6 (``status.addresses``)."""
    out = []
    for a in (node.get("status") or {}).get("addresses") or ():
        if a.get("type") == "InternalIP":
            ip = _ip(a.get("address", ""))
            if ip:
                out.append(ip)
    return out


# -- evidence -------------------------------------------------------------


@dataclass(slots=True)
class Evidence:
    """Why we think which controllers act on one Service."""

    acting: dict[str, list[str]] = field(default_factory=dict)
    """Controller → evidence lines that it *acts* on the Service (wrote something)."""
    eligible: dict[str, str] = field(default_factory=dict)
    """Controller → why it would handle the Service if it runs (class rules)."""
    announcing_nodes: dict[str, set[str]] = field(default_factory=dict)
    """Controller → nodes it says announce the VIP (vipHost, nodeAssigned, ServiceL2Status)."""
    opted_out: dict[str, str] = field(default_factory=dict)
    """Controller → the Service's opt-out (``kube-vip.io/ignore=true``)."""

    def add(self, controller: str, line: str) -> None:
        """Record one piece of evidence that ``controller`` acts on the Service."""
        lines = self.acting.setdefault(controller, [])
        if line not in lines:
            lines.append(line)

    def node(self, controller: str, node: str) -> None:
        """Record that ``controller`` announces from ``node``."""
        self.announcing_nodes.setdefault(controller, set()).add(node)


def _eligibility(svc: Obj) -> dict[str, str]:
    cls = (svc.get("spec") or {}).get("loadBalancerClass")
    if cls is None:
        return {
            METALLB: "no loadBalancerClass (MetalLB's default without --lb-class)",
            KUBE_VIP: "no loadBalancerClass (kube-vip's legacy default unless lb_class_only=true)",
            CILIUM: "no loadBalancerClass (Cilium L2 policies without a service selector)",
            SERVICELB: "no loadBalancerClass (k3s ServiceLB unless --disable=servicelb)",
        }
    if cls == KUBE_VIP_CLASS:
        return {KUBE_VIP: f"loadBalancerClass {cls}"}
    if cls == CILIUM_CLASS:
        return {CILIUM: f"loadBalancerClass {cls}"}
    if "metallb" in cls:
        return {METALLB: f"loadBalancerClass {cls} (MetalLB with --lb-class)"}
    return {}


def service_evidence(svc: Obj, events: Iterable[Obj] = (), l2statuses: Iterable[Obj] = (),
                     node_ips: Mapping[str, str] | None = None) -> Evidence:
    """Which controllers act on ``svc``, from the Service, its Events and ServiceL2Statuses.

    ``events`` and ``l2statuses`` may contain objects of other Services; they are
    filtered here.  ``node_ips`` (IP → node) recognises ServiceLB's node-IP status.
    """
    ev = Evidence(eligible=_eligibility(svc))
    ref = service_ref(svc)
    md = svc.get("metadata") or {}
    ann = md.get("annotations") or {}
    for key, value in sorted(ann.items()):
        if key.startswith(("metallb.io/", "metallb.universe.tf/")):
            ev.add(METALLB, f"annotation {key}={value}")
        elif key == "kube-vip.io/ignore":
            if str(value).lower() == "true":
                ev.eligible.pop(KUBE_VIP, None)
                ev.opted_out[KUBE_VIP] = f"annotation {key}={value}"
        elif key.startswith("kube-vip.io/"):
            ev.add(KUBE_VIP, f"annotation {key}={value}")
            if key == "kube-vip.io/vipHost" and value:
                ev.node(KUBE_VIP, str(value))
    for mf in md.get("managedFields") or ():
        manager = str(mf.get("manager", ""))
        sub = f" ({mf['subresource']})" if mf.get("subresource") else ""
        for controller, needle in _MANAGERS:
            if needle in manager.lower():
                ev.add(controller, f"field manager {manager}{sub}")
                break
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    for ing in ingress:
        ip = (ing or {}).get("ip")
        if node_ips and isinstance(ip, str) and ip in node_ips:
            ev.add(SERVICELB, f"status ingress {ip} is node {node_ips[ip]}'s address")
        elif ing and ing.get("ports") and KUBE_VIP not in ev.opted_out:
            ev.eligible.setdefault(KUBE_VIP, "status ingress with ports (kube-vip's shape)")
    for cond in (svc.get("status") or {}).get("conditions") or ():
        if str(cond.get("type", "")).startswith("io.cilium/"):
            ev.add(CILIUM, f"condition {cond['type']}")
    for e in events:
        inv = e.get("involvedObject") or e.get("regarding") or {}
        if inv.get("kind", "Service") != "Service" or (
                inv.get("namespace"), inv.get("name")) != (ref.namespace, ref.name):
            continue
        reason = e.get("reason") or ""
        src = (e.get("source") or {}).get("component") or e.get("reportingComponent") or ""
        if reason == "nodeAssigned":
            ev.add(METALLB, "Events nodeAssigned" + (f" from {src}" if src else ""))
            m = _NODE_ASSIGNED.search(e.get("message") or e.get("note") or "")
            if m:
                ev.node(METALLB, m.group(1))
        elif reason in ("IPAllocated", "AllocationFailed") and "metallb" in src.lower():
            ev.add(METALLB, f"Events {reason} from {src}")
        elif reason in ("AppliedDaemonSet", "UpdatedLoadBalancer"):
            ev.add(SERVICELB, f"Events {reason}" + (f" from {src}" if src else ""))
    for s in l2statuses:
        st = s.get("status") or {}
        labels = (s.get("metadata") or {}).get("labels") or {}
        owner = (st.get("serviceNamespace") or labels.get("metallb.io/service-namespace"),
                 st.get("serviceName") or labels.get("metallb.io/service-name"))
        if owner != (ref.namespace, ref.name):
            continue
        node = st.get("node")
        ev.add(METALLB, "ServiceL2Status " + (md_name(s) or "?") + (f" node={node}" if node else ""))
        if node:
            ev.node(METALLB, str(node))
    return ev


def md_name(obj: Obj) -> str:
    """``metadata.name`` or an empty string."""
    return str((obj.get("metadata") or {}).get("name") or "")


def api_time(text: Any) -> float | None:
    """An API timestamp (RFC 3339, ``Z`` or an offset) as epoch seconds; None if absent or bad."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class EventStats:
    """How many Events a Service got and how fast (the status-fight storm symptom)."""

    events: int
    """Occurrences: the sum of ``count``/``series.count`` (aggregated Events count once each)."""
    objects: int
    first: float | None
    last: float | None
    by_reason: Mapping[str, int]

    @property
    def per_minute(self) -> float | None:
        """Occurrences per minute over first..last (None with fewer than two occurrences)."""
        if self.first is None or self.last is None or self.events < 2:
            return None
        span = max(self.last - self.first, 1.0)
        return self.events * 60.0 / span


def event_stats(events: Iterable[Obj], ref: ServiceRef) -> EventStats:
    """Event counts and rate for one Service."""
    total = objects = 0
    first: float | None = None
    last: float | None = None
    reasons: dict[str, int] = {}
    for e in events:
        inv = e.get("involvedObject") or e.get("regarding") or {}
        if inv.get("kind", "Service") != "Service" or (
                inv.get("namespace"), inv.get("name")) != (ref.namespace, ref.name):
            continue
        n = int((e.get("series") or {}).get("count") or e.get("count") or 1)
        objects += 1
        total += n
        reason = str(e.get("reason") or "")
        reasons[reason] = reasons.get(reason, 0) + n
        t0 = api_time(e.get("firstTimestamp") or e.get("eventTime")
                   or (e.get("metadata") or {}).get("creationTimestamp"))
        t1 = api_time(e.get("lastTimestamp") or (e.get("series") or {}).get("lastObservedTime")
                   or e.get("eventTime")) or t0
        if t0 is not None:
            first = t0 if first is None else min(first, t0)
        if t1 is not None:
            last = t1 if last is None else max(last, t1)
    return EventStats(total, objects, first, last, dict(sorted(reasons.items())))


def classify_pods(pods: Iterable[Obj]) -> dict[str, list[str]]:
    """Controller → ``namespace/pod (node)`` of its running pods, recognised by image or name."""
    out: dict[str, list[str]] = {}
    for p in pods:
        md = p.get("metadata") or {}
        name = str(md.get("name") or "")
        images = " ".join(str(c.get("image", "")) for c in
                          (p.get("spec") or {}).get("containers") or ()).lower()
        if "klipper-lb" in images or name.startswith("svclb-"):
            controller = SERVICELB
        elif "metallb" in images:
            controller = METALLB
        elif "kube-vip" in images:
            controller = KUBE_VIP
        elif "cilium" in images and "operator" not in images:
            controller = CILIUM
        else:
            continue
        phase = (p.get("status") or {}).get("phase")
        if phase not in (None, "Running", "Pending"):
            continue
        node = (p.get("spec") or {}).get("nodeName")
        out.setdefault(controller, []).append(
            f"{md.get('namespace', 'default')}/{name}" + (f" ({node})" if node else ""))
    return {k: sorted(v) for k, v in sorted(out.items())}
