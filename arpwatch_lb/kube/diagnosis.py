"""``doctor``: which announcers act on each LoadBalancer Service, who holds its VIP, what is wrong.

Two halves:

* :func:`gather` (I/O, read-only): Services, Nodes, Service Events, Pods,
  DaemonSets, Leases, the ConfigMaps ``kube-proxy``, ``kubevip`` and
  ``cilium-config``, and the announcers' custom resources (MetalLB
  ``ServiceL2Status``, ``IPAddressPool``, ``L2Advertisement``; Cilium
  ``CiliumLoadBalancerIPPool``, ``CiliumL2AnnouncementPolicy``) →
  :class:`ClusterFacts`.  A custom resource that is not installed is "not
  installed"; a read that RBAC forbids is recorded (``unseen``: what, the rule
  that is missing, what the report lacks) and the doctor carries on.  Only a
  forbidden Service list, or an unreachable API server, stops it.
* :func:`diagnose` (pure): cluster facts + optional wire facts (an
  :class:`~arpwatch_lb.core.tracker.OwnershipTracker` fed by a replay or a probe)
  → the doctor document (``arpwatch-lb/doctor/1``): per Service its verdict and
  its **findings** (:mod:`.findings`: id, severity, evidence, fix), plus the
  cluster's findings (pools, kube-proxy, Cilium policies).

A Service's verdict follows from its findings
(:func:`arpwatch_lb.core.verdicts.service_verdict`); the exit status from every
finding (:func:`arpwatch_lb.core.verdicts.doctor_exit_status`: any ``fault`` → 1).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.addresses import format_mac, parse_ip
from ..core.announcers import KEEPALIVED, UNKNOWN
from ..core.tracker import OwnershipTracker
from ..core.verdicts import (
    AT_RISK,
    DOCTOR_VERDICT_ORDER,
    FAULT,
    INFO,
    ONE_NODE,
    SEVERITIES,
    UNCLAIMED,
    service_verdict,
    wire_summary,
)
from . import findings as F
from .findings import Finding
from .inventory import (
    CP_LOCK,
    KP_NOT_RUNNING,
    KP_OK,
    KP_STRICT_ARP_OFF,
    KP_UNKNOWN,
    CiliumPolicy,
    ControlPlaneVip,
    Holder,
    KubeProxy,
    cilium_policies,
    control_plane_vips,
    k3s_info,
    kube_proxy,
    kube_vip_interface,
    kube_vip_serves,
    l2status_interfaces,
    service_holders,
)
from .model import (
    ANNOUNCERS,
    CILIUM,
    KUBE_VIP,
    METALLB,
    SERVICELB,
    Evidence,
    classify_pods,
    event_stats,
    is_load_balancer,
    node_internal_ips,
    service_evidence,
    service_ref,
    service_vips,
)
from .nodes import claimant_nodes, mac_nodes
from .pools import (
    Pool,
    cilium_pools,
    contains,
    format_ranges,
    kubevip_pools,
    metallb_pools,
    overlap,
)

__all__ = ["READS", "SCHEMA", "ClusterFacts", "Read", "diagnose", "gather"]

SCHEMA = "arpwatch-lb/doctor/1"
STORM_PER_MINUTE = 20.0
"""Events per minute for one Service that we call a storm (a healthy Service gets a handful a day)."""
STORM_MIN_EVENTS = 50
KUBE_VIP_ARP_RATE = 3.0
"""kube-vip's default gratuitous ARP period (s): a leader sends one per VIP per period."""


# -- reading ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Read:
    """One thing ``doctor`` reads, and the RBAC rule that allows it."""

    key: str
    group: str
    resource: str
    without: str
    """What the report lacks when the read is forbidden."""
    names: tuple[str, ...] = ()
    """resourceNames (ConfigMaps are read by name only)."""
    verbs: tuple[str, ...] = ("get", "list", "watch")

    @property
    def rule(self) -> str:
        """The ClusterRole rule, as YAML flow text."""
        names = f", resourceNames: [{', '.join(self.names)}]" if self.names else ""
        return (f'apiGroups: ["{self.group}"], resources: [{self.resource}]{names}, '
                f"verbs: [{', '.join(self.verbs)}]")


READS = (
    Read("nodes", "", "nodes", "node names for MACs, k3s flags"),
    Read("events", "", "events", "Event rates (storms), nodeAssigned Events"),
    Read("pods", "", "pods", "which announcers run where, kube-vip's own VIP, pods to restart"),
    Read("daemonsets", "apps", "daemonsets", "kube-vip's own VIP from its DaemonSet"),
    Read("leases", "coordination.k8s.io", "leases", "kube-vip and Cilium holders of each VIP"),
    Read("configmaps", "", "configmaps", "kube-proxy's mode and strictARP, kube-vip's pools, "
         "Cilium's kube-proxy replacement", names=("kube-proxy", "kubevip", "cilium-config"),
         verbs=("get",)),
    Read("servicel2statuses", "metallb.io", "servicel2statuses", "MetalLB's announcing node"),
    Read("ipaddresspools", "metallb.io", "ipaddresspools", "MetalLB's pools (overlaps)"),
    Read("l2advertisements", "metallb.io", "l2advertisements", "which MetalLB pools are "
         "announced in Layer 2, and on which interfaces"),
    Read("ciliumloadbalancerippools", "cilium.io", "ciliumloadbalancerippools",
         "Cilium LB IPAM pools (overlaps)"),
    Read("ciliuml2announcementpolicies", "cilium.io", "ciliuml2announcementpolicies",
         "whether Cilium announces Services"),
)
"""Everything doctor reads besides Services (which it cannot do without)."""
_READS = {r.key: r for r in READS}
READ = "read"
NOT_INSTALLED = "not installed"
FORBIDDEN = "forbidden"


@dataclass
class ClusterFacts:
    """What :func:`gather` read from the API server (raw objects).

    ``None`` for a list means it could not be read (forbidden, or its CRD is
    not installed); ``reads`` says which.
    """

    server: str = ""
    services: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    l2statuses: list[dict[str, Any]] | None = None
    """None when the ServiceL2Status CRD is not installed (or not readable)."""
    warnings: list[str] = field(default_factory=list)
    daemonsets: list[dict[str, Any]] = field(default_factory=list)
    leases: list[dict[str, Any]] | None = None
    configmaps: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    """``kube-proxy``, ``kubevip``, ``cilium-config`` → the object, or None (absent/unreadable)."""
    ipaddresspools: list[dict[str, Any]] | None = None
    l2advertisements: list[dict[str, Any]] | None = None
    cilium_pools: list[dict[str, Any]] | None = None
    cilium_policies: list[dict[str, Any]] | None = None
    reads: dict[str, str] = field(default_factory=dict)
    """Read key → ``read``, ``not installed`` or ``forbidden``."""
    unseen: list[dict[str, str]] = field(default_factory=list)
    """Forbidden reads: ``read`` (the request), ``rule`` (the missing rule), ``without``."""
    read_at: float | None = None
    """Wall-clock time of the read (Lease expiry); None: not judged."""


def gather(api: Any, clock: Callable[[], float] = time.time) -> ClusterFacts:
    """Read everything the doctor needs (get/list only).

    Raises :class:`~.api.KubeError` when the Services cannot be listed or the API
    server is unreachable; any other forbidden read is recorded in ``unseen``.
    """
    from .api import KubeForbidden

    services, _ = api.list_services()
    facts = ClusterFacts(server=str(getattr(api, "host", "")),
                         services=[s for s in services if is_load_balancer(s)], read_at=clock())

    def read(key: str, fn: Callable[[], Any], default: Any) -> Any:
        try:
            value = fn()
        except KubeForbidden as exc:
            r = _READS[key]
            facts.reads[key] = FORBIDDEN
            facts.unseen.append({"read": exc.what or key, "rule": r.rule, "without": r.without})
            return default
        facts.reads.setdefault(key, READ if value is not None else NOT_INSTALLED)
        return value

    facts.nodes = read("nodes", api.list_nodes, [])
    facts.events = read("events", api.list_service_events, [])
    facts.pods = read("pods", api.list_pods, [])
    facts.daemonsets = read("daemonsets", api.list_daemonsets, [])
    facts.leases = read("leases", api.list_leases, None)
    cilium_ns = sorted({str((p.get("metadata") or {}).get("namespace") or "kube-system")
                        for p in facts.pods if CILIUM in classify_pods([p])}) or ["kube-system"]
    for name, ns in (("kube-proxy", "kube-system"), ("kubevip", "kube-system"),
                     ("cilium-config", cilium_ns[0])):  # one rule: the first refusal says it all
        facts.configmaps[name] = (None if facts.reads.get("configmaps") == FORBIDDEN else
                                  read("configmaps", lambda n=name, s=ns: api.get_configmap(s, n),
                                       None))
        if facts.reads.get("configmaps") == NOT_INSTALLED:
            facts.reads["configmaps"] = READ  # an absent ConfigMap was read as absent
    facts.l2statuses = read("servicel2statuses", api.list_servicel2statuses, None)
    facts.ipaddresspools = read("ipaddresspools", lambda: api.list_custom(
        "metallb.io", ("v1beta1",), "ipaddresspools"), None)
    facts.l2advertisements = read("l2advertisements", lambda: api.list_custom(
        "metallb.io", ("v1beta1",), "l2advertisements"), None)
    facts.cilium_pools = read("ciliumloadbalancerippools", lambda: api.list_custom(
        "cilium.io", ("v2alpha1", "v2"), "ciliumloadbalancerippools"), None)
    facts.cilium_policies = read("ciliuml2announcementpolicies", lambda: api.list_custom(
        "cilium.io", ("v2alpha1",), "ciliuml2announcementpolicies"), None)
    facts.warnings = [f"{t} (Event counts are lower bounds)" for t in getattr(api, "truncated", [])]
    return facts


# -- the wire -----------------------------------------------------------------


def _node_ips(facts: ClusterFacts) -> dict[str, str]:
    return {ip: str(n["metadata"]["name"]) for n in facts.nodes for ip in node_internal_ips(n)}


def _wire(vip: str, tracker: OwnershipTracker, nodes: Mapping[bytes, str]) -> dict[str, Any]:
    """What the wire says about one VIP: claimants, per-node facts, fights."""
    ip = parse_ip(vip)
    states = [st for st in tracker.ips.values() if st.key[2] == ip]
    if not states:
        return {"vip": vip, "verdict": UNCLAIMED, "claimants": [], "nodes": [],
                "flip_flops": 0, "duplicate_replies": 0, "changes": 0, "fight": False,
                "by_node": [], "most_nodes_answering_one_request": 0}
    claimants: list[dict[str, Any]] = []
    node_names: dict[str, None] = {}
    by_node: dict[str, dict[str, Any]] = {}
    """One dict per node (an unknown MAC is a node of its own, keyed by its MAC)."""
    unknown = 0
    flips = dups = changes = 0
    widest = 0
    for st in states:
        groups = claimant_nodes(st, nodes)
        per_mac = st.claimants()
        for node, macs in groups.items():
            for mac in macs:
                stats = per_mac.get(mac)
                kind = tracker.announcer(st.key, mac).kind
                claimants.append({"mac": format_mac(mac), "node": node,
                                  "frames": stats.frames if stats else 0, "announcer": kind})
                key = node if node is not None else format_mac(mac)
                entry = by_node.setdefault(key, {"node": node, "macs": [], "frames": 0,
                                                 "first": None, "last": None, "announcers": []})
                if kind not in entry["announcers"]:
                    entry["announcers"].append(kind)
                if format_mac(mac) not in entry["macs"]:
                    entry["macs"].append(format_mac(mac))
                if stats:
                    entry["frames"] += stats.frames
                    entry["first"] = stats.first if entry["first"] is None else min(
                        entry["first"], stats.first)
                    entry["last"] = stats.last if entry["last"] is None else max(
                        entry["last"], stats.last)
            if node is None:
                unknown += len(macs)
            else:
                node_names[node] = None
        flips += st.flip_flops
        dups += st.duplicate_replies
        changes += st.changes
        answering = {nodes.get(m, m) for m in st.widest_answer}
        widest = max(widest, len(answering))
    for entry in by_node.values():
        entry["macs"].sort()
    worst, fight = wire_summary(states, nodes)
    return {"vip": vip, "verdict": worst, "claimants": claimants, "nodes": list(node_names),
            "unknown_macs": unknown, "flip_flops": flips, "duplicate_replies": dups,
            "changes": changes, "fight": fight, "by_node": list(by_node.values()),
            "most_nodes_answering_one_request": widest}


def _span(tracker: OwnershipTracker) -> float:
    firsts = [st.first_seen for st in tracker.ips.values()]
    return tracker.now - min(firsts) if firsts else 0.0


# -- the cluster ----------------------------------------------------------------


@dataclass
class _Cluster:
    """Everything judged once per cluster, shared by every Service."""

    facts: ClusterFacts
    node_ips: dict[str, str]
    nodes: dict[bytes, str]
    running: dict[str, list[str]]
    kp: KubeProxy
    pools: list[Pool]
    cps: list[ControlPlaneVip]
    policies: list[CiliumPolicy]
    cilium_l2: bool
    """Cilium announces Services in L2 (policies exist and l2 announcements are not off)."""
    l2_running: list[str]
    """L2 announcers that run (MetalLB, kube-vip, Cilium with a policy)."""
    vip_services: dict[str, list[tuple[str, list[str]]]]
    """VIP → (Service, acting announcers) for every Service that has it."""
    vip_holders: dict[str, list[Holder]]
    """VIP → the holders recorded for it by any Service that has it, and by kube-vip's
    control-plane Lease when it is kube-vip's own VIP."""
    wire_source: str | None
    span: float
    servicelb_disabled: bool = False
    """k3s runs with ``--disable servicelb`` (its node-args say so)."""
    kube_vip_serves: tuple[bool, bool] = (True, False)
    """kube-vip's pods serve Services / only their own class (:func:`.inventory.kube_vip_serves`)."""
    notes: list[str] = field(default_factory=list)
    """Pool entries that could not be read (warnings)."""


def _cluster(facts: ClusterFacts, tracker: OwnershipTracker | None,
             wire_source: Mapping[str, Any] | None) -> _Cluster:
    node_ips = _node_ips(facts)
    running = classify_pods(facts.pods)
    k3s = k3s_info(facts.nodes)
    kp_pods = sum(1 for p in facts.pods
                  if "kube-proxy" in " ".join(str(c.get("image", "")) for c in
                                              (p.get("spec") or {}).get("containers") or ()))
    kp = kube_proxy(facts.configmaps.get("kube-proxy"),
                    facts.reads.get("configmaps") != FORBIDDEN, k3s,
                    facts.configmaps.get("cilium-config"), kp_pods)
    mpools, mnotes = metallb_pools(facts.ipaddresspools or (), facts.l2advertisements)
    cpools, cnotes = cilium_pools(facts.cilium_pools or ())
    kpools, knotes = kubevip_pools(facts.configmaps.get("kubevip"))
    policies = cilium_policies(facts.cilium_policies or ())
    l2_off = str(((facts.configmaps.get("cilium-config") or {}).get("data") or {}).get(
        "enable-l2-announcements", "")).lower() == "false"
    cilium_l2 = bool(policies) and CILIUM in running and not l2_off
    l2_running = [a for a in (METALLB, KUBE_VIP) if a in running] + ([CILIUM] if cilium_l2 else [])
    return _Cluster(facts, node_ips, mac_nodes(tracker, node_ips) if tracker is not None else {},
                    running, kp, [*mpools, *cpools, *kpools],
                    control_plane_vips(facts.pods, facts.daemonsets), policies, cilium_l2,
                    l2_running, {}, {}, (wire_source or {}).get("source"),
                    _span(tracker) if tracker is not None else 0.0,
                    bool(k3s and k3s.servicelb_disabled), kube_vip_serves(facts.pods),
                    [*mnotes, *cnotes, *knotes])


# -- one Service ----------------------------------------------------------------


def _acting_and_eligible(svc: dict[str, Any], cl: _Cluster) -> tuple[
        Evidence, list[str], list[str], list[Holder], list[str]]:
    """(evidence, acting, eligible and running, holders, records the Leases contradict)."""
    facts = cl.facts
    ev = service_evidence(svc, facts.events, facts.l2statuses or (), cl.node_ips)
    kv_handles = KUBE_VIP in ev.acting or (svc.get("spec") or {}).get(
        "loadBalancerClass") == "kube-vip.io/kube-vip-class"
    holders = service_holders(svc, facts.leases or (), facts.l2statuses or (), kv_handles,
                              facts.read_at)
    for h in holders:
        if h.lease and (h.announcer == CILIUM or h.source.split("/", 1)[-1] != "plndr-svcs-lock"):
            ev.add(h.announcer, f"{h.source} held by {h.node}")
            ev.node(h.announcer, h.node)
    if CILIUM in ev.eligible and facts.cilium_policies is not None:  # the policies are visible
        selecting = [p.name for p in cl.policies if p.selects(svc)] if cl.cilium_l2 else []
        if selecting:
            ev.eligible[CILIUM] = f"CiliumL2AnnouncementPolicy {', '.join(selecting)} selects it"
        else:
            ev.eligible.pop(CILIUM)
    if SERVICELB in ev.eligible and cl.servicelb_disabled:
        ev.eligible.pop(SERVICELB)
    serves, class_only = cl.kube_vip_serves
    if KUBE_VIP in ev.eligible and KUBE_VIP in cl.running and (
            not serves or (class_only and (svc.get("spec") or {}).get("loadBalancerClass") is None)):
        ev.eligible.pop(KUBE_VIP)  # control plane only, or lb_class_only=true
    kept = _authoritative(holders)
    contradicted = _disagreeing(holders, kept)
    holders = kept
    acting = [c for c in ANNOUNCERS if c in ev.acting]
    # Cilium counts as running only where a policy selects the Service (L2 announcements are
    # opt-in): an agent alone announces nothing.
    eligible_running = [c for c in ANNOUNCERS if c in ev.eligible and c in cl.running
                        and (c != CILIUM or cl.cilium_l2)]
    return ev, acting, eligible_running, holders, contradicted


def _authoritative(holders: list[Holder]) -> list[Holder]:
    """Per announcer, a Lease outranks its annotation: a ``vipHost`` that names another node
    than kube-vip's Lease is a stale annotation, not a second holder."""
    leased = {(h.announcer, h.node) for h in holders if h.lease}
    by_announcer = {a for a, _ in leased}
    return [h for h in holders if h.lease or h.announcer not in by_announcer
            or (h.announcer, h.node) in leased]


def _disagreeing(all_holders: list[Holder], kept: list[Holder]) -> list[str]:
    return [f"{h.describe()}, but the Lease names "
            f"{', '.join(sorted({k.node for k in kept if k.lease and k.announcer == h.announcer}))}"
            for h in all_holders if h not in kept]


def _cp_holder(lease: Mapping[str, Any]) -> Holder | None:
    spec = lease.get("spec") or {}
    md = lease.get("metadata") or {}
    if not spec.get("holderIdentity"):
        return None
    return Holder(str(spec["holderIdentity"]), KUBE_VIP,
                  f"Lease {md.get('namespace', '')}/{md.get('name', '')} (control plane)", lease=True,
                  renewed=spec.get("renewTime"))


def _pods_on(cl: _Cluster, node: str, kinds: Sequence[str]) -> list[tuple[str, str, str]]:
    return F.announcer_pods(cl.facts.pods, node, kinds)


def _kube_proxy_explains(w: Mapping[str, Any], cl: _Cluster) -> bool:
    if cl.kp.status == KP_STRICT_ARP_OFF:
        return True
    return cl.kp.status not in (KP_OK, KP_NOT_RUNNING) and w["most_nodes_answering_one_request"] >= 3


def _wire_findings(svc: dict[str, Any], w: Mapping[str, Any], cl: _Cluster, acting: list[str],
                   holders: list[Holder], ref: str) -> list[Finding]:
    """Findings from one VIP's wire facts against the holders' records.

    ``holders``: this Service's; a node that answers is stale only when no record of
    *any* Service with this VIP (nor kube-vip's control-plane Lease) names it.
    """
    out: list[Finding] = []
    vip = w["vip"]
    anyone = {h.node for h in cl.vip_holders.get(vip, ())} | {h.node for h in holders}
    named = {e["node"]: e for e in w["by_node"] if e["node"] is not None}
    unknown = [e for e in w["by_node"] if e["node"] is None]
    holder_nodes: dict[str, list[Holder]] = {}
    for h in holders:
        holder_nodes.setdefault(h.node, []).append(h)
    kp_explains = _kube_proxy_explains(w, cl) and (w["fight"] or w[
        "most_nodes_answering_one_request"] >= 2)
    widest = w["most_nodes_answering_one_request"]
    who = _who(w)
    if kp_explains:
        ev = [f"kube-proxy: {cl.kp.detail} ({cl.kp.source})" if cl.kp.status == KP_STRICT_ARP_OFF
              else f"kube-proxy's configuration is {cl.kp.status}: {cl.kp.detail}",
              f"on the wire {vip}: {who}"]
        if widest >= 2:
            ev.append(f"{widest} nodes answered one ARP request for {vip}"
                      + (" — every node answers: the signature of kube-proxy IPVS without "
                         "strictARP (metallb#153)" if widest >= 3 else ""))
        out.append(Finding(F.KUBE_PROXY_STRICT_ARP, FAULT,
                           f"every node answers for {vip}: kube-proxy IPVS without strictARP",
                           ev, F.kube_proxy_fix(cl.kp)))
    elif w["fight"]:
        fighters = sorted(named) + [e["macs"][0] for e in unknown]
        fix: list[str] = []
        if len(acting) < 2:
            for n in sorted(named):
                pods = _pods_on(cl, n, (METALLB, KUBE_VIP, CILIUM))
                fix.append(f"on {n}: find what answers for {vip} — announcer pods there: "
                           + (", ".join(f"{ns}/{p} ({k})" for k, ns, p in pods) or "none") +
                           f"; bound addresses: ip -4 addr show | grep -w {vip}")
            if unknown:
                fix.append(f"MAC(s) {', '.join(e['macs'][0] for e in unknown)} belong to no known "
                           "node: `arpwatch-lb replay` shows their other IPs; --probe names "
                           "node MACs")
            fix.append("stop every announcer of it but the one that should own it")
        else:
            fix = F.pair_fix(ref, *ref.split("/", 1), set(acting))
        ev = [f"on the wire {vip} is contested: {who}; {w['flip_flops']} flip-flops, "
              f"{w['duplicate_replies']} duplicate replies"]
        if widest >= 3 and cl.kp.status == KP_OK:
            ev.append(f"{widest} nodes answered one request although kube-proxy is not the cause "
                      f"({cl.kp.detail}): the address is bound on each of them")
        out.append(Finding(F.WIRE_CONTEST, FAULT, f"{len(fighters)} claimants fight for {vip} "
                           f"on the wire ({', '.join(fighters)})", ev, fix))
    # several NICs of one node
    for n, e in sorted(named.items()):
        if len(e["macs"]) >= 2:
            l2 = sorted({a for p in cl.pools if p.l2 and contains(p, vip) for a in p.l2})
            ifaces = l2status_interfaces(svc, cl.facts.l2statuses or ())
            out.append(Finding(
                F.SEVERAL_NICS, INFO, f"{n} answers for {vip} from {len(e['macs'])} NICs",
                [f"{n}'s MACs {', '.join(e['macs'])} all claim {vip} (each also claims {n}'s "
                 "InternalIP): one node, not a fight"],
                F.several_nics_fix(n, e["macs"], acting, l2, ifaces, cl.policies)))
    # holders against the wire
    if not holders:
        if w["verdict"] == UNCLAIMED and cl.wire_source == "probe":
            out.append(Finding(F.VIP_UNANSWERED, FAULT, f"nobody answers ARP for {vip}",
                               [f"{vip} was probed with ARP who-has: no reply"],
                               [f"check that an announcer handles {ref}: MetalLB needs an "
                                "L2Advertisement for its pool; kube-vip svc_enable=true; Cilium a "
                                "CiliumL2AnnouncementPolicy that selects it"]))
        return out
    first_holder = min((named[n]["first"] for n in holder_nodes if n in named
                        and named[n]["first"] is not None), default=None)
    if not kp_explains:
        for n, e in sorted(named.items()):
            if n in anyone:
                continue
            if first_holder is not None and e["last"] is not None and e["last"] < first_holder:
                continue  # answered before the holder took over: a hand-over
            kinds = sorted({h.announcer for h in holders})
            pods = _pods_on(cl, n, kinds) or _pods_on(cl, n, (METALLB, KUBE_VIP, CILIUM))
            out.append(Finding(
                F.STALE_ANNOUNCER, FAULT, f"stale announcer on node {n}: it answers for {vip} "
                "without holding it",
                [*(h.describe() for h in holders),
                 f"on the wire {vip} is answered by {n} ({', '.join(e['macs'])}, "
                 f"{e['frames']} claims)" + (", after the holder started" if first_holder else "")],
                F.stale_fix(vip, n, pods, kube_vip_interface(cl.facts.pods, n))))
    known_nodes = set(cl.nodes.values())
    for n, hs in sorted(holder_nodes.items()):
        if n in named:
            continue
        someone = bool(named) or bool(unknown)
        evidence = [*(h.describe() for h in hs),
                    f"on the wire {vip}: {who}" if someone else f"nobody claimed {vip} on the wire"]
        if n not in known_nodes:
            out.append(Finding(F.HOLDER, INFO, f"{n} holds {vip}; its MAC is unknown",
                               [*evidence, f"no ARP from {n}'s InternalIP was seen: its MAC is "
                                           "unknown, so whether it answers cannot be told"],
                               ["run doctor with --probe (it asks every node's InternalIP too)"]))
            continue
        if cl.wire_source != "probe" and not (someone and not unknown):
            why = (f"a kube-vip leader sends gratuitous ARP every {KUBE_VIP_ARP_RATE:.0f} s by "
                   "default, yet none for it in the capture: kube-vip in BGP mode, vip_arp off, "
                   "or a capture from another segment?"
                   if any(h.announcer == KUBE_VIP for h in hs) and cl.span >= 3 * KUBE_VIP_ARP_RATE
                   else "the capture holds no claim for it (MetalLB and Cilium answer requests "
                   "only: nobody may have asked)")
            out.append(Finding(F.HOLDER, INFO, f"{n} holds {vip}; the capture shows nobody "
                               "answering", [*evidence, why],
                               ["run doctor with --probe to ask who answers"]))
            continue
        pods = _pods_on(cl, n, sorted({h.announcer for h in hs}))
        macs = sorted(format_mac(m) for m, x in cl.nodes.items() if x == n)
        how = f" ({cl.span:.0f} s of capture)" if cl.wire_source != "probe" else " (probed)"
        out.append(Finding(F.HOLDER_SILENT, FAULT, f"holder {n} does not answer for {vip}",
                           [*evidence, f"{n}'s MAC(s) {', '.join(macs)} never claimed {vip}{how}"],
                           F.silent_fix(hs[0], pods, cl.policies)))
    return out


def _who(w: Mapping[str, Any]) -> str:
    """Who claims a VIP on the wire: ``node-a (kube-vip, by its frames; MAC, N claims), ...``."""
    def one(c: Mapping[str, Any]) -> str:
        kind = c.get("announcer", UNKNOWN)
        by = f"{kind}, by its frames; " if kind != UNKNOWN else ""
        return f"{c['node'] or 'unknown node'} ({by}{c['mac']}, {c['frames']} claims)"
    return ", ".join(one(c) for c in w["claimants"]) or "nobody"


WIRE_ONLY_KINDS = (METALLB, KUBE_VIP, CILIUM, KEEPALIVED)
"""Announcers a wire fingerprint can name that also leave marks in the API (or, keepalived,
are never expected for a Service): one on the wire that the API does not show acting is news."""


def _hidden_announcers(w: Mapping[str, Any], cl: _Cluster, acting: list[str], ref: str
                       ) -> list[Finding]:
    """A claimant whose frames name an announcer the API does not show: neither acting on
    the Service nor running on that node (nor kube-vip's own control-plane VIP) — a kube-vip
    static pod the API misses, a keepalived on the host, a second controller nobody declared."""
    out = []
    cp_vips = {c.vip for c in cl.cps}
    for c in w["claimants"]:
        kind = c.get("announcer", UNKNOWN)
        if kind not in WIRE_ONLY_KINDS or kind in acting:
            continue
        if c["node"] is not None and any(p.endswith(f"({c['node']})")
                                         for p in cl.running.get(kind, ())):
            continue  # the API shows it there: the eligibility findings speak of it
        if kind == KUBE_VIP and w["vip"] in cp_vips:
            continue  # kube-vip's own VIP: the control-plane findings speak of it
        where = c["node"] or f"the host of {c['mac']}"
        api = (f"the API shows {' and '.join(acting)} acting on {ref}" if acting
               else f"the API shows no announcer acting on {ref}")
        out.append(Finding(
            F.ANNOUNCER_NOT_IN_API, FAULT if w["fight"] else AT_RISK,
            f"{where} sends {kind}-shaped frames for {w['vip']}, a {kind} the API does not show",
            [f"on the wire {w['vip']}: {where} ({kind}, by its frames; {c['mac']}, "
             f"{c['frames']} claims)", api],
            F.hidden_announcer_fix(kind, where, w["vip"])))
    return out


def _service_entry(svc: dict[str, Any], cl: _Cluster,
                   tracker: OwnershipTracker | None) -> dict[str, Any]:
    facts = cl.facts
    ref = service_ref(svc)
    ev, acting, eligible_running, holders, contradicted = _acting_and_eligible(svc, cl)
    stats = event_stats(facts.events, ref)
    vips = service_vips(svc)
    wire = [_wire(v, tracker, cl.nodes) for v in vips] if tracker is not None else []
    per_min = stats.per_minute
    storm = stats.events >= STORM_MIN_EVENTS and per_min is not None and per_min >= STORM_PER_MINUTE
    evidence: list[str] = []
    for c in acting:
        evidence.append(f"{c} acts on it: " + "; ".join(ev.acting[c][:4])
                        + (f" (+{len(ev.acting[c]) - 4} more)" if len(ev.acting[c]) > 4 else ""))
    for c, ns in sorted(ev.announcing_nodes.items()):
        evidence.append(f"{c} says it announces from node {', '.join(sorted(ns))}")
    for c, why in sorted(ev.opted_out.items()):
        evidence.append(f"{c} is told to ignore it: {why}")
    for c in eligible_running:
        if c not in acting:
            evidence.append(f"{c} runs in the cluster and is eligible: {ev.eligible[c]}")
    if stats.events:
        rate = f", {per_min:.0f}/min" if per_min is not None else ""
        evidence.append(f"{stats.events} Events ({', '.join(f'{k} {v}' for k, v in stats.by_reason.items())}"
                        f"{rate})" + (" — an Event storm: two controllers rewrite its status"
                                      if storm else ""))
    for w in wire:
        who = _who(w)
        if w["fight"]:
            evidence.append(f"on the wire {w['vip']} is contested: {who}; {w['flip_flops']} "
                            f"flip-flops, {w['duplicate_replies']} duplicate replies")
        elif w["verdict"] == ONE_NODE:
            evidence.append(f"on the wire {w['vip']}: several interfaces of one node ({who}) — "
                            "not a fight")
        else:
            evidence.append(f"on the wire {w['vip']} ({w['verdict']}): {who}")
    found: list[Finding] = []
    refs = str(ref)
    if len(acting) >= 2:
        found.append(Finding(F.TWO_ANNOUNCERS, FAULT,
                             f"{' and '.join(acting)} both act on {refs}",
                             [f"{c} acts on it: " + "; ".join(ev.acting[c][:4]) for c in acting],
                             F.pair_fix(refs, ref.namespace, ref.name, set(acting))))
    for v in vips:
        for cp in cl.cps:
            if cp.vip == v:
                used = set(cl.vip_services)
                free = F.free_address([p for p in cl.pools if p.announcer in acting],
                                      used, {c.vip for c in cl.cps})
                what = "control-plane VIP" if cp.control_plane else "own VIP"
                fix = ([f"kubectl -n {ref.namespace} annotate service {ref.name} --overwrite "
                        + ("metallb.io/loadBalancerIPs" if METALLB in acting
                           else "kube-vip.io/loadbalancerIPs") + f"={free}"] if free else
                       [f"give {refs} another address (recreate it once the pool excludes {v})"])
                found.append(Finding(
                    F.CONTROL_PLANE_VIP, FAULT, f"{refs} was given kube-vip's {what} {v}",
                    [f"kube-vip announces {v} itself ({cp.source}"
                     + (", cp_enable=true" if cp.control_plane else "") + ")",
                     f"{refs} has VIP {v}" + (f" from {', '.join(acting)}" if acting else "")],
                    [*fix, "and take the address out of the pool (cluster finding "
                     f"{F.CONTROL_PLANE_VIP_IN_POOL})"]))
        others = [(o, a) for o, a in cl.vip_services.get(v, []) if o != refs]
        mine = set(acting)
        for other, theirs in others:
            if set(theirs) and mine and set(theirs) != mine:
                found.append(Finding(
                    F.SHARED_VIP, FAULT, f"{v} is also the VIP of {other}, announced by "
                    f"{', '.join(theirs)}",
                    [f"{refs} ({', '.join(acting)}) and {other} ({', '.join(theirs)}) both have {v}"],
                    [f"give one of them another address: remove {v} from the other announcer's "
                     f"pool (cluster finding {F.POOL_OVERLAP}), then recreate that Service",
                     f"e.g. kubectl -n {other.split('/')[0]} get service {other.split('/')[1]} -o "
                     f"yaml > svc.yaml && kubectl delete -f svc.yaml && kubectl apply -f svc.yaml"]))
    for w in wire:
        found += _wire_findings(svc, w, cl, acting, holders, refs)
        found += _hidden_announcers(w, cl, acting, refs)
    if tracker is None and holders:
        found.append(Finding(
            F.HOLDER, INFO, f"{' / '.join(sorted({h.node for h in holders}))} holds "
            f"{', '.join(vips) or 'its VIP'} by its records; the wire was not checked",
            [h.describe() for h in holders] + ["the wire was not checked"],
            ["see who answers: arpwatch-lb doctor --probe (on a node of the segment), or "
             "--pcap FILE from `tcpdump -i any -w FILE arp`"]))
    if contradicted:
        found.append(Finding(
            F.HOLDER, INFO, f"{refs}: a record disagrees with the Lease (stale annotation)",
            contradicted,
            [f"nothing to do if the Lease's holder answers; kube-vip rewrites vipHost when it "
             f"takes the VIP (kubectl -n {ref.namespace} get service {ref.name} -o "
             "jsonpath='{.metadata.annotations}')"]))
    pair = set(acting) | set(eligible_running)
    if len(pair) >= 2 and len(acting) < 2:
        found.append(Finding(
            F.SECOND_ANNOUNCER_ELIGIBLE, AT_RISK,
            f"{' and '.join(sorted(pair - set(acting)))} may also announce {refs}",
            [f"{c} runs in the cluster and is eligible: {ev.eligible[c]}"
             for c in eligible_running if c not in acting],
            F.pair_fix(refs, ref.namespace, ref.name, pair)))
    if storm:
        found.append(Finding(
            F.EVENT_STORM, AT_RISK, f"Event storm on {refs}: {per_min:.0f}/min",
            [f"{stats.events} Events ({', '.join(f'{k} {v}' for k, v in stats.by_reason.items())})"],
            (F.pair_fix(refs, ref.namespace, ref.name, pair) if len(pair) >= 2 else
             [f"see which controllers write its status: kubectl -n {ref.namespace} get service "
              f"{ref.name} --show-managed-fields -o yaml"])))
    found = F.sort_findings(found)
    sev: dict[str, str] = {}
    for f in found:  # worst first: the first severity of an id is its worst
        sev.setdefault(f.id, f.severity)
    v = service_verdict(sev, bool(vips), F.CONTESTED_IDS, F.UNANSWERED_IDS)
    return {
        "namespace": ref.namespace, "name": ref.name, "vips": vips,
        "load_balancer_class": (svc.get("spec") or {}).get("loadBalancerClass"),
        "verdict": v,
        "controllers": {"acting": {c: ev.acting[c] for c in acting},
                        "eligible": dict(ev.eligible), "opted_out": dict(ev.opted_out),
                        "announcing_nodes": {c: sorted(n) for c, n in ev.announcing_nodes.items()}},
        "holders": [{"node": h.node, "announcer": h.announcer, "source": h.source,
                     "renewed": h.renewed} for h in holders],
        "events": {"count": stats.events, "objects": stats.objects,
                   "per_minute": None if per_min is None else round(per_min, 1),
                   "by_reason": dict(stats.by_reason), "storm": storm},
        "wire": wire, "evidence": evidence, "fix": F.flatten_fixes(found),
        "findings": [f.to_json() for f in found],
    }


# -- the cluster's findings ----------------------------------------------------------


def _cluster_findings(cl: _Cluster, entries: Sequence[Mapping[str, Any]]) -> list[Finding]:
    out: list[Finding] = []
    kp = cl.kp
    confirmed = [f"{e['namespace']}/{e['name']}" for e in entries
                 if any(f["id"] == F.KUBE_PROXY_STRICT_ARP for f in e["findings"])]
    if kp.status == KP_STRICT_ARP_OFF:
        sev = FAULT if confirmed else AT_RISK if cl.l2_running else INFO
        ev = [f"{kp.source}: {kp.detail}",
              "kube-proxy binds every LoadBalancer VIP on every node (kube-ipvs0); without strictARP "
              "each node's kernel answers ARP for all of them (metallb#153)"]
        ev.append(f"L2 announcers running: {', '.join(cl.l2_running)}" if cl.l2_running
                  else "no L2 announcer runs")
        if confirmed:
            ev.append(f"seen on the wire for {', '.join(confirmed)}")
        out.append(Finding(F.KUBE_PROXY_STRICT_ARP, sev,
                           "kube-proxy IPVS without strictARP: every node answers for every VIP",
                           ev, F.kube_proxy_fix(kp)))
    elif kp.status == KP_UNKNOWN and cl.l2_running:
        out.append(Finding(F.KUBE_PROXY_UNKNOWN, INFO,
                           "kube-proxy's mode is unknown (not ok): its configuration is not visible",
                           [f"{kp.source}: {kp.detail}"], F.kube_proxy_check_fix(kp)))
    # control-plane VIPs inside Service pools
    for cp in cl.cps:
        for p in cl.pools:
            if contains(p, cp.vip):
                out.append(F.cp_in_pool(cp, p))
    # pools of two announcers that overlap
    for i, a in enumerate(cl.pools):
        for b in cl.pools[i + 1:]:
            if a.announcer == b.announcer:
                continue
            common = overlap(a.ranges, b.ranges)
            if common:
                out.append(F.overlap_finding(a, b, common))
    # Cilium
    others = sorted({c for c in (METALLB, KUBE_VIP, SERVICELB) if c in cl.running})
    facts = cl.facts
    if CILIUM in cl.running and facts.cilium_policies is not None and not cl.policies:
        out.append(Finding(F.CILIUM_NO_L2_POLICY, INFO,
                           "Cilium runs without a CiliumL2AnnouncementPolicy: it announces no "
                           "Service (not a cause)",
                           [f"{len(cl.running[CILIUM])} Cilium agent pod(s); "
                            "CiliumL2AnnouncementPolicy: none"], []))
    for p in cl.policies:
        if p.service_selector is None and p.load_balancer_ips and others and cl.cilium_l2:
            out.append(Finding(
                F.CILIUM_POLICY_SELECTS_ALL, AT_RISK,
                f"CiliumL2AnnouncementPolicy {p.name} selects every Service, next to "
                f"{', '.join(others)}",
                [f"CiliumL2AnnouncementPolicy {p.name}: no serviceSelector, loadBalancerIPs: true"
                 + (f", interfaces {', '.join(p.interfaces)}" if p.interfaces else ""),
                 f"{', '.join(others)} run too: Cilium answers for their class-less Services' "
                 "addresses as well"],
                [f"kubectl edit ciliuml2announcementpolicy {p.name}",
                 "  spec:", "    serviceSelector:", "      matchLabels:",
                 "        announcer: cilium",
                 "then label only the Services Cilium should announce: kubectl -n NS label "
                 "service NAME announcer=cilium (or give them loadBalancerClass "
                 "io.cilium/l2-announcer)"]))
        for ctype, msg in p.bad_conditions:
            out.append(Finding(
                F.CILIUM_POLICY_CONDITION, AT_RISK,
                f"CiliumL2AnnouncementPolicy {p.name}: {ctype}",
                [f"condition {ctype}=True" + (f": {msg}" if msg else "")],
                [f"kubectl edit ciliuml2announcementpolicy {p.name}  — fix the "
                 + {"io.cilium/bad-node-selector": "nodeSelector",
                    "io.cilium/bad-service-selector": "serviceSelector",
                    "io.cilium/bad-interface-regex": "interfaces regex"}.get(ctype, "field")
                 + " it names"]))
    other_ipams = [p for p in cl.pools if p.announcer != CILIUM]
    for p in cl.pools:
        if p.announcer == CILIUM and p.selects_all and other_ipams:
            out.append(Finding(
                F.CILIUM_IPAM_SELECTS_ALL, AT_RISK,
                f"{p.ref} serves every Service, next to "
                f"{', '.join(sorted({o.announcer for o in other_ipams}))} pools",
                [f"{p.ref} has no serviceSelector: Cilium LB IPAM also assigns class-less "
                 "Services and drops ingress IPs outside its pools — a status ping-pong with the "
                 "other IPAM (cilium#33319)",
                 f"other pools: {', '.join(o.ref for o in other_ipams)}"],
                [f"{p.edit_command()}", "  spec:", "    serviceSelector:", "      matchLabels:",
                 "        ipam: cilium",
                 "or, Cilium >= 1.16: lbipam.requireLBClass=true"]))
    k3s = k3s_info(facts.nodes)
    if k3s is not None and k3s.servicelb_disabled:
        out.append(Finding(F.SERVICELB_DISABLED, INFO,
                           "k3s ServiceLB is disabled (not a cause)",
                           [f"k3s node-args of {k3s.args_node}: --disable servicelb"], []))
    return F.sort_findings(out)


# -- the document ----------------------------------------------------------------


def diagnose(facts: ClusterFacts, tracker: OwnershipTracker | None = None,
             wire_source: Mapping[str, Any] | None = None, warnings: Sequence[str] = (),
             errors: Sequence[str] = ()) -> dict[str, Any]:
    """The doctor document for ``facts`` (and the wire facts in ``tracker``, if any)."""
    cl = _cluster(facts, tracker, wire_source)
    services = [s for s in facts.services if is_load_balancer(s)]
    cp_holders = [h for le in facts.leases or () if (le.get("metadata") or {}).get("name") == CP_LOCK
                  for h in [_cp_holder(le)] if h]
    for s in services:  # which announcers act on each VIP, who holds it: for shared VIPs
        _, acting, _, holders, _ = _acting_and_eligible(s, cl)
        for v in service_vips(s):
            cl.vip_services.setdefault(v, []).append((str(service_ref(s)), acting))
            cl.vip_holders.setdefault(v, []).extend(holders)
    for cp in cl.cps:
        cl.vip_holders.setdefault(cp.vip, []).extend(cp_holders)
    entries = [_service_entry(s, cl, tracker) for s in services]
    entries.sort(key=lambda e: (DOCTOR_VERDICT_ORDER[e["verdict"]], e["namespace"], e["name"]))
    cluster_findings = _cluster_findings(cl, entries)
    unknown = sorted({c["mac"] for e in entries for w in e["wire"] for c in w["claimants"]
                      if c["node"] is None})
    hints = []
    if unknown:
        hints.append(f"{len(unknown)} MAC(s) claiming VIPs belong to no known node "
                     f"({', '.join(unknown[:4])}{' …' if len(unknown) > 4 else ''}): the capture "
                     "holds no ARP from their node's InternalIP — capture longer, or use --probe, "
                     "which asks the nodes' addresses too")
    for u in facts.unseen:
        hints.append(f"could not see {u['without']}: RBAC forbids '{u['read']}' — add the rule "
                     f"{{{u['rule']}}} (deploy/10-rbac.yaml)")
    summary: dict[str, Any] = {"services": len(entries), **{v: 0 for v in DOCTOR_VERDICT_ORDER}}
    for e in entries:
        summary[e["verdict"]] += 1
    all_sev = [f["severity"] for e in entries for f in e["findings"]] + [
        f.severity for f in cluster_findings]
    summary["findings"] = {s: all_sev.count(s) for s in SEVERITIES}
    return {
        "schema": SCHEMA,
        "server": facts.server,
        "nodes": {str(n["metadata"]["name"]): node_internal_ips(n) for n in facts.nodes},
        "controllers_running": cl.running,
        "servicel2status_crd": facts.l2statuses is not None,
        "wire": dict(wire_source) if wire_source else None,
        "mac_nodes": {format_mac(m): n for m, n in sorted(cl.nodes.items())},
        "summary": summary,
        "services": entries,
        "findings": [f.to_json() for f in cluster_findings],
        "kube_proxy": cl.kp.to_json(),
        "pools": [{"announcer": p.announcer, "object": p.ref, "ranges": _fmt(p),
                   "l2_advertisements": list(p.l2) if p.l2 is not None else None}
                  for p in cl.pools],
        "control_plane_vips": [{"vip": c.vip, "source": c.source,
                                "control_plane": c.control_plane} for c in cl.cps],
        "reads": dict(sorted(facts.reads.items())),
        "unseen": list(facts.unseen),
        "warnings": [*facts.warnings, *warnings, *cl.notes, *hints],
        "errors": list(errors),
    }


def _fmt(p: Pool) -> list[str]:
    return format_ranges(p.ranges)

