"""What the cluster's objects say about its announcers (pure): holders, VIPs, kube-proxy, policies.

Read from the field notes ("What each announcer leaves in the Kubernetes API"):

* **Who holds a VIP.**  kube-vip: the Lease ``plndr-svcs-lock`` in its own
  namespace (one leader for every Service), or with ``svc_election`` one Lease
  per Service, ``kubevip-<service>`` in the Service's namespace (annotation
  ``kube-vip.io/leaseName`` overrides the name); ``plndr-cp-lock`` for the
  control plane; the annotation ``kube-vip.io/vipHost``.  Cilium: the Lease
  ``cilium-l2announce-<namespace>-<service>`` in Cilium's namespace.  MetalLB:
  ``ServiceL2Status.status.node`` (no Lease).  Every holder is a node name.
* **kube-vip's own VIP** (the control plane): env ``address`` / ``vip_address``
  of its pods (static pods show as mirror pods) and DaemonSets; ``cp_enable``.
* **kube-proxy**: ConfigMap ``kube-system/kube-proxy``, key ``config.conf``
  (``mode``, ``ipvs.strictARP``).  k3s passes flags instead (the node
  annotation ``k3s.io/node-args`` shows them); Cilium may replace kube-proxy
  (``cilium-config``: ``kube-proxy-replacement``).  Whatever is not visible is
  ``unknown``, never ``ok``.
* **Cilium L2 announcement policies** (``CiliumL2AnnouncementPolicy``): which
  Services and nodes they select, their interfaces and conditions.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.announcers import CILIUM, KUBE_VIP, METALLB
from .model import ServiceRef, api_time, service_ref
from .pools import labels_match

__all__ = ["CP_LOCK", "KP_NOT_RUNNING", "KP_OK", "KP_STRICT_ARP_OFF", "KP_UNKNOWN", "SVCS_LOCK",
           "CiliumPolicy", "ControlPlaneVip", "Holder", "K3s", "KubeProxy", "cilium_policies",
           "control_plane_vips", "k3s_info", "kube_proxy", "kube_vip_interface", "kube_vip_serves",
           "l2status_interfaces", "service_holders"]

Obj = Mapping[str, Any]

SVCS_LOCK = "plndr-svcs-lock"
CP_LOCK = "plndr-cp-lock"
CILIUM_LEASE_PREFIX = "cilium-l2announce-"
KUBEVIP_LEASE_PREFIX = "kubevip-"
LEASE_NAME_ANNOTATION = "kube-vip.io/leaseName"


def _md(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


# -- holders ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Holder:
    """A node that an announcer's own record says announces a Service's VIP."""

    node: str
    announcer: str
    source: str
    """``Lease default/kubevip-web``, ``annotation kube-vip.io/vipHost``,
    ``ServiceL2Status metallb-system/l2-abcde``."""
    lease: bool = False
    """From a Lease (as opposed to an annotation or a status object)."""
    renewed: str | None = None
    expired_for: float | None = None
    """Seconds since the Lease ran out (renewTime + leaseDurationSeconds), if it did."""

    def describe(self) -> str:
        """One line: ``Lease default/kubevip-web is held by node-b (renewed …)``."""
        if self.lease:
            when = f" (renewed {self.renewed})" if self.renewed else ""
            late = (f"; it ran out {self.expired_for:.0f} s before this read"
                    if self.expired_for is not None else "")
            return f"{self.source} is held by {self.node}{when}{late}"
        return f"{self.source} names {self.node}"


def _lease_holder(lease: Obj, announcer: str, now: float | None) -> Holder | None:
    spec = lease.get("spec") or {}
    node = spec.get("holderIdentity")
    if not node:
        return None
    md = _md(lease)
    renewed = spec.get("renewTime") or spec.get("acquireTime")
    expired = None
    t = api_time(renewed)
    duration = spec.get("leaseDurationSeconds")
    if now is not None and t is not None and isinstance(duration, int | float):
        late = now - (t + float(duration))
        expired = late if late > 0 else None
    return Holder(str(node), announcer, f"Lease {md.get('namespace', '')}/{md.get('name', '')}",
                  lease=True, renewed=str(renewed) if renewed else None, expired_for=expired)


def service_holders(svc: Obj, leases: Iterable[Obj], l2statuses: Iterable[Obj],
                    kube_vip_handles: bool, now: float | None = None) -> list[Holder]:
    """Every record of who announces ``svc``: Leases, ``vipHost``, ``ServiceL2Status``.

    ``kube_vip_handles``: kube-vip acts on (or is the class of) the Service, so its
    cluster-wide ``plndr-svcs-lock`` leader announces it when no per-Service Lease exists.
    """
    ref = service_ref(svc)
    ann = _md(svc).get("annotations") or {}
    leases = list(leases)
    by_key = {(_md(le).get("namespace"), _md(le).get("name")): le for le in leases}
    out: list[Holder] = []
    # kube-vip: the per-Service Lease (leaseName annotation, or kubevip-<name>), else the leader
    per_service = ann.get(LEASE_NAME_ANNOTATION) or f"{KUBEVIP_LEASE_PREFIX}{ref.name}"
    lease = by_key.get((ref.namespace, per_service))
    if lease is not None:
        h = _lease_holder(lease, KUBE_VIP, now)
        if h:
            out.append(h)
    elif kube_vip_handles:
        for le in leases:
            if _md(le).get("name") == SVCS_LOCK:
                h = _lease_holder(le, KUBE_VIP, now)
                if h:
                    out.append(h)
    if ann.get("kube-vip.io/vipHost"):
        out.append(Holder(str(ann["kube-vip.io/vipHost"]), KUBE_VIP, "annotation kube-vip.io/vipHost"))
    cilium_name = f"{CILIUM_LEASE_PREFIX}{ref.namespace}-{ref.name}"
    for le in leases:
        if _md(le).get("name") == cilium_name:
            h = _lease_holder(le, CILIUM, now)
            if h:
                out.append(h)
    for s in l2statuses:
        st = s.get("status") or {}
        labels = _md(s).get("labels") or {}
        owner = (st.get("serviceNamespace") or labels.get("metallb.io/service-namespace"),
                 st.get("serviceName") or labels.get("metallb.io/service-name"))
        node = st.get("node") or labels.get("metallb.io/node")
        if owner == (ref.namespace, ref.name) and node:
            out.append(Holder(str(node), METALLB,
                              f"ServiceL2Status {_md(s).get('namespace', '')}/{_md(s).get('name', '')}"))
    return out


def l2status_interfaces(svc: Obj, l2statuses: Iterable[Obj]) -> list[str]:
    """Interfaces MetalLB says it announces ``svc`` on (``ServiceL2Status.status.interfaces``)."""
    ref = service_ref(svc)
    out: dict[str, None] = {}
    for s in l2statuses:
        st = s.get("status") or {}
        if (st.get("serviceNamespace"), st.get("serviceName")) == (ref.namespace, ref.name):
            for i in st.get("interfaces") or ():
                if (i or {}).get("name"):
                    out[str(i["name"])] = None
    return list(out)


# -- kube-vip's own VIP ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ControlPlaneVip:
    """An address kube-vip announces for itself (env ``address`` / ``vip_address``)."""

    vip: str
    source: str
    """``static pod kube-system/kube-vip-node-a``, ``DaemonSet kube-system/kube-vip-ds``."""
    control_plane: bool
    """``cp_enable=true``: the API server's VIP."""
    interface: str | None = None
    """``vip_interface``, when set."""


def _env(containers: Iterable[Obj]) -> Iterable[dict[str, str]]:
    for c in containers:
        if "kube-vip" not in str(c.get("image", "")).lower():
            continue
        yield {str(e.get("name")): str(e["value"]) for e in c.get("env") or ()
               if e.get("name") and e.get("value") is not None}


def _is_static(pod: Obj) -> bool:
    md = _md(pod)
    return "kubernetes.io/config.mirror" in (md.get("annotations") or {}) or any(
        (o or {}).get("kind") == "Node" for o in md.get("ownerReferences") or ())


def control_plane_vips(pods: Iterable[Obj], daemonsets: Iterable[Obj] = ()) -> list[ControlPlaneVip]:
    """kube-vip's own VIPs from its pods (static pods included) and DaemonSets, one per address."""
    seen: dict[str, ControlPlaneVip] = {}
    sources: list[tuple[str, Sequence[Obj]]] = []
    for p in pods:
        md = _md(p)
        kind = "static pod" if _is_static(p) else "pod"
        sources.append((f"{kind} {md.get('namespace', 'default')}/{md.get('name', '')}",
                        (p.get("spec") or {}).get("containers") or ()))
    for d in daemonsets:
        md = _md(d)
        tmpl = ((d.get("spec") or {}).get("template") or {}).get("spec") or {}
        sources.append((f"DaemonSet {md.get('namespace', 'default')}/{md.get('name', '')}",
                        tmpl.get("containers") or ()))
    for source, containers in sources:
        for env in _env(containers):
            addr = env.get("address") or env.get("vip_address")
            if not addr:
                continue
            try:
                vip = str(ipaddress.ip_address(addr.strip()))
            except ValueError:
                continue  # a DNS name: nothing to compare with pools
            cp = env.get("cp_enable", "").lower() == "true"
            if vip not in seen or (cp and not seen[vip].control_plane):
                seen[vip] = ControlPlaneVip(vip, source, cp, env.get("vip_interface") or None)
    return [seen[v] for v in sorted(seen)]


def kube_vip_serves(pods: Iterable[Obj]) -> tuple[bool, bool]:
    """(serves Services, only its own class) from the running kube-vip pods' env.

    A kube-vip pod whose env is not visible (none set literally) counts as serving
    every Service (the legacy default); one with ``svc_enable`` other than ``true``
    is there for the control plane only; ``lb_class_only=true`` keeps it to
    ``kube-vip.io/kube-vip-class``.
    """
    serves = class_only = False
    any_pod = False
    for p in pods:
        for c in (p.get("spec") or {}).get("containers") or ():
            if "kube-vip" not in str(c.get("image", "")).lower():
                continue
            any_pod = True
            env = next(iter(_env([c])))
            if not env:
                return True, False
            if env.get("svc_enable", "").lower() == "true":
                serves = True
                class_only = class_only or env.get("lb_class_only", "").lower() == "true"
    return (serves, class_only) if any_pod else (False, False)


def kube_vip_interface(pods: Iterable[Obj], node: str) -> str | None:
    """``vip_interface`` of the kube-vip pod on ``node`` (None: not set or no pod)."""
    for p in pods:
        if (p.get("spec") or {}).get("nodeName") != node:
            continue
        for env in _env((p.get("spec") or {}).get("containers") or ()):
            if env.get("vip_interface"):
                return env["vip_interface"]
    return None


# -- k3s and kube-proxy --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class K3s:
    """k3s as seen on its Nodes (``kubeletVersion`` ``+k3s``, annotation ``k3s.io/node-args``)."""

    nodes: tuple[str, ...]
    args: tuple[str, ...]
    """The first server's arguments (empty: not visible)."""
    args_node: str | None
    servicelb_disabled: bool | None
    """None: args not visible."""
    kube_proxy_disabled: bool | None
    kube_proxy_args: tuple[str, ...] = ()


def _k3s_values(args: Sequence[str], flag: str) -> list[str]:
    out = []
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            out.append(args[i + 1])
        elif a.startswith(flag + "="):
            out.append(a.split("=", 1)[1])
    return out


def k3s_info(nodes: Iterable[Obj]) -> K3s | None:
    """k3s facts, or None when no node runs k3s."""
    names = []
    args: list[str] = []
    args_node = None
    for n in nodes:
        info = ((n.get("status") or {}).get("nodeInfo") or {})
        if "k3s" not in str(info.get("kubeletVersion", "")):
            continue
        name = str(_md(n).get("name") or "")
        names.append(name)
        raw = (_md(n).get("annotations") or {}).get("k3s.io/node-args")
        if raw and not args:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            if isinstance(parsed, list) and parsed and parsed[0] == "server":
                args, args_node = [str(a) for a in parsed], name
    if not names:
        return None
    if not args:
        return K3s(tuple(names), (), None, None, None)
    disabled = {p.strip() for v in _k3s_values(args, "--disable") for p in v.split(",")}
    return K3s(tuple(names), tuple(args), args_node, "servicelb" in disabled,
               "--disable-kube-proxy" in args, tuple(_k3s_values(args, "--kube-proxy-arg")))


KP_STRICT_ARP_OFF = "strict-arp-off"
"""kube-proxy in IPVS mode without strictARP: every node answers for every VIP."""
KP_OK = "ok"
"""Visible, and not IPVS, or IPVS with strictARP."""
KP_NOT_RUNNING = "not-running"
"""Visibly replaced (Cilium) or disabled (k3s)."""
KP_UNKNOWN = "unknown"
"""Not visible: never taken for ok."""


@dataclass(frozen=True, slots=True)
class KubeProxy:
    """What we could tell about kube-proxy's ARP behaviour."""

    status: str
    """``strict-arp-off`` (IPVS without strictARP: every node answers for every VIP),
    ``ok`` (visible: not IPVS, or strictARP on), ``not-running`` (visibly replaced or
    disabled), ``unknown``."""
    mode: str | None
    strict_arp: bool | None
    source: str
    detail: str
    k3s: bool = False

    def to_json(self) -> dict[str, Any]:
        """The ``kube_proxy`` object of the doctor document."""
        return {"status": self.status, "mode": self.mode, "strict_arp": self.strict_arp,
                "source": self.source, "detail": self.detail}


def _bool(text: Any) -> bool | None:
    if isinstance(text, bool):
        return text
    t = str(text).strip().lower()
    return True if t == "true" else False if t == "false" else None


def kube_proxy(configmap: Obj | None, configmap_readable: bool, k3s: K3s | None,
               cilium_config: Obj | None, kube_proxy_pods: int) -> KubeProxy:
    """kube-proxy's mode and strictARP from what is visible; ``unknown`` otherwise."""
    if configmap:
        text = (configmap.get("data") or {}).get("config.conf")
        if text:
            import yaml  # ships with the Kubernetes client

            try:
                conf = yaml.safe_load(text) or {}
            except yaml.YAMLError:
                conf = None
            if isinstance(conf, dict):
                mode = str(conf.get("mode") or "") or "iptables"
                strict = _bool((conf.get("ipvs") or {}).get("strictARP"))
                src = "ConfigMap kube-system/kube-proxy (config.conf)"
                if mode == "ipvs" and not strict:
                    return KubeProxy(KP_STRICT_ARP_OFF, mode, False, src,
                                     "mode: ipvs with ipvs.strictARP: "
                                     f"{'false' if strict is False else 'unset (false)'}")
                return KubeProxy(KP_OK, mode, strict, src,
                                 f"mode: {mode}" + (", ipvs.strictARP: true" if mode == "ipvs" else ""))
            return KubeProxy(KP_UNKNOWN, None, None, "ConfigMap kube-system/kube-proxy",
                             "config.conf is not valid YAML")
    if k3s is not None and k3s.args:
        src = f"k3s node-args of {k3s.args_node}"
        if k3s.kube_proxy_disabled:
            return KubeProxy(KP_NOT_RUNNING, None, None, src, "k3s runs with --disable-kube-proxy",
                             k3s=True)
        opts = dict(a.split("=", 1) for a in k3s.kube_proxy_args if "=" in a)
        if opts.get("proxy-mode") == "ipvs":
            strict = _bool(opts.get("ipvs-strict-arp", "false"))
            if not strict:
                return KubeProxy(KP_STRICT_ARP_OFF, "ipvs", False, src,
                                 "--kube-proxy-arg proxy-mode=ipvs without ipvs-strict-arp=true",
                                 k3s=True)
            return KubeProxy(KP_OK, "ipvs", True, src, "proxy-mode=ipvs, ipvs-strict-arp=true", k3s=True)
    kpr = _bool(((cilium_config or {}).get("data") or {}).get("kube-proxy-replacement"))
    if kpr is None and str(((cilium_config or {}).get("data") or {}).get(
            "kube-proxy-replacement", "")).lower() == "strict":
        kpr = True
    if kpr and kube_proxy_pods == 0 and k3s is None:
        return KubeProxy(KP_NOT_RUNNING, None, None, "ConfigMap cilium-config",
                         "Cilium replaces kube-proxy (kube-proxy-replacement) and no kube-proxy "
                         "pod runs")
    if k3s is not None:
        why = ("k3s passes kube-proxy its flags (no ConfigMap); node-args show no proxy-mode"
               if k3s.args else "k3s passes kube-proxy its flags (no ConfigMap), and node-args "
               "are not visible")
        return KubeProxy(KP_UNKNOWN, None, None, "k3s", why, k3s=True)
    if not configmap_readable:
        return KubeProxy(KP_UNKNOWN, None, None, "ConfigMap kube-system/kube-proxy",
                         "could not read it (RBAC)")
    if kpr:
        return KubeProxy(KP_UNKNOWN, None, None, "ConfigMap cilium-config",
                         "Cilium replaces kube-proxy, but kube-proxy pods run too")
    return KubeProxy(KP_UNKNOWN, None, None, "ConfigMap kube-system/kube-proxy",
                     "no such ConfigMap (kube-proxy configured by flags, or not running)")


# -- Cilium L2 announcement policies --------------------------------------------


@dataclass(frozen=True, slots=True)
class CiliumPolicy:
    """One ``CiliumL2AnnouncementPolicy``."""

    name: str
    service_selector: Mapping[str, Any] | None
    node_selector: Mapping[str, Any] | None
    interfaces: tuple[str, ...]
    load_balancer_ips: bool
    external_ips: bool
    bad_conditions: tuple[tuple[str, str], ...] = field(default=())
    """(condition type, message) of ``io.cilium/bad-*`` conditions that are True."""

    def selects(self, svc: Obj) -> bool:
        """True when the policy announces ``svc``'s LoadBalancer address."""
        if not self.load_balancer_ips:
            return False
        spec = svc.get("spec") or {}
        cls = spec.get("loadBalancerClass")
        if cls not in (None, "io.cilium/l2-announcer"):
            return False
        if self.service_selector is None:
            return True
        ref: ServiceRef = service_ref(svc)
        labels = {**(_md(svc).get("labels") or {}),
                  "io.kubernetes.service.namespace": ref.namespace,
                  "io.kubernetes.service.name": ref.name}
        return labels_match(self.service_selector, labels)


def cilium_policies(objs: Iterable[Obj]) -> list[CiliumPolicy]:
    """``CiliumL2AnnouncementPolicy`` objects."""
    out = []
    for o in objs:
        spec = o.get("spec") or {}
        bad = tuple((str(c.get("type")), str(c.get("message") or ""))
                    for c in (o.get("status") or {}).get("conditions") or ()
                    if str(c.get("type", "")).startswith("io.cilium/bad-")
                    and str(c.get("status")) == "True")
        sel = spec.get("serviceSelector")
        out.append(CiliumPolicy(str(_md(o).get("name") or ""), sel if sel else None,
                                spec.get("nodeSelector") or None,
                                tuple(str(i) for i in spec.get("interfaces") or ()),
                                bool(spec.get("loadBalancerIPs")), bool(spec.get("externalIPs")),
                                bad))
    return sorted(out, key=lambda p: p.name)
