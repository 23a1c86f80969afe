"""``doctor``: which controllers act on each LoadBalancer Service, and what to do about it.

Two halves:

* :func:`gather` (I/O, read-only): Services, Nodes, Service Events, Pods and
  MetalLB ``ServiceL2Status`` objects from the API → :class:`ClusterFacts`;
* :func:`diagnose` (pure): cluster facts + optional wire facts (an
  :class:`~arpwatch_lb.core.tracker.OwnershipTracker` fed by a replay or a probe) →
  the doctor document (``arpwatch-lb/doctor/1``), one entry per Service with a
  verdict, the evidence and the concrete fix.

Verdicts:

* ``contested`` — the VIP is claimed on the wire by two or more nodes that
  fight (flip-flops or duplicate replies), or two announcers both act on the
  Service (each wrote its marks: annotations, status, Events, ServiceL2Status);
* ``at-risk`` — only one announcer acts, but another that runs in the cluster
  is eligible for the Service (no ``loadBalancerClass``), or the Service gets
  an Event storm;
* ``ok`` — one announcer, one node on the wire;
* ``pending`` — no VIP assigned yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.addresses import format_mac, parse_ip
from ..core.tracker import OwnershipTracker
from ..core.verdicts import (
    AT_RISK,
    CONTESTED,
    OK,
    ONE_NODE,
    PENDING,
    SERVICE_ORDER,
    UNCLAIMED,
    wire_summary,
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

__all__ = ["SCHEMA", "ClusterFacts", "diagnose", "gather"]

SCHEMA = "arpwatch-lb/doctor/1"
STORM_PER_MINUTE = 20.0
"""Events per minute for one Service that we call a storm (a healthy Service gets a handful a day)."""
STORM_MIN_EVENTS = 50


@dataclass
class ClusterFacts:
    """What :func:`gather` read from the API server (raw objects)."""

    server: str = ""
    services: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    l2statuses: list[dict[str, Any]] | None = None
    """None when the ServiceL2Status CRD is not installed."""
    warnings: list[str] = field(default_factory=list)


def gather(api: Any) -> ClusterFacts:
    """Read everything the doctor needs (get/list only).  Raises :class:`~.api.KubeError`."""
    services, _ = api.list_services()
    return ClusterFacts(
        server=str(getattr(api, "host", "")),
        services=[s for s in services if is_load_balancer(s)],
        nodes=api.list_nodes(),
        events=api.list_service_events(),
        pods=api.list_pods(),
        l2statuses=api.list_servicel2statuses(),
        warnings=[f"{t} (Event counts are lower bounds)" for t in getattr(api, "truncated", [])],
    )


def _node_ips(facts: ClusterFacts) -> dict[str, str]:
    return {ip: str(n["metadata"]["name"]) for n in facts.nodes for ip in node_internal_ips(n)}


def _wire(vip: str, tracker: OwnershipTracker, nodes: Mapping[bytes, str]) -> dict[str, Any]:
    ip = parse_ip(vip)
    states = [st for st in tracker.ips.values() if st.key[2] == ip]
    if not states:
        return {"vip": vip, "verdict": UNCLAIMED, "claimants": [], "nodes": [],
                "flip_flops": 0, "duplicate_replies": 0, "changes": 0, "fight": False}
    claimants: list[dict[str, Any]] = []
    node_names: dict[str, None] = {}
    unknown = 0
    flips = dups = changes = 0
    for st in states:
        groups = claimant_nodes(st, nodes)
        per_mac = st.claimants()
        for node, macs in groups.items():
            for mac in macs:
                claimants.append({"mac": format_mac(mac), "node": node,
                                  "frames": per_mac[mac].frames if mac in per_mac else 0})
            if node is None:
                unknown += len(macs)
            else:
                node_names[node] = None
        flips += st.flip_flops
        dups += st.duplicate_replies
        changes += st.changes
    worst, fight = wire_summary(states, nodes)
    return {"vip": vip, "verdict": worst, "claimants": claimants, "nodes": list(node_names),
            "unknown_macs": unknown, "flip_flops": flips, "duplicate_replies": dups,
            "changes": changes, "fight": fight}


def _fix(ref: str, namespace: str, name: str, pair: set[str]) -> list[str]:
    kv_ignore = f"kubectl -n {namespace} annotate service {name} kube-vip.io/ignore=true"
    out: list[str] = []
    if {METALLB, KUBE_VIP} <= pair:
        out += [
            f"pick ONE announcer for {ref}, then do one of:",
            f"  keep MetalLB: {kv_ignore}  (kube-vip stops handling this Service)",
            "  keep MetalLB for all Services: run kube-vip with lb_class_only=true (only "
            "class kube-vip.io/kube-vip-class), or svc_enable=false if kube-vip is only there "
            "for the control-plane VIP",
            "  keep kube-vip: set spec.loadBalancerClass: kube-vip.io/kube-vip-class (immutable "
            "once set: recreate the Service); MetalLB ignores Services that have a class",
            "  or remove one announcer from the cluster",
        ]
    if CILIUM in pair and len(pair) > 1:
        others = ", ".join(sorted(pair - {CILIUM}))
        out += [
            f"Cilium also announces {ref} (with {others}): give the CiliumL2AnnouncementPolicy a "
            "serviceSelector that excludes it, or set spec.loadBalancerClass to the one "
            "controller that should own it (Cilium >= 1.16: lbipam.requireLBClass=true)",
        ]
    if SERVICELB in pair and len(pair) > 1:
        out += ["k3s ServiceLB also handles it: start k3s with --disable=servicelb, or set "
                "spec.loadBalancerClass so ServiceLB skips the Service"]
    if not out and len(pair) > 1:
        out.append(f"set spec.loadBalancerClass on {ref} to the one controller that should own it, "
                   "or remove one announcer")
    return out


def _service_entry(svc: dict[str, Any], facts: ClusterFacts, node_ips: Mapping[str, str],
                   running: Mapping[str, list[str]], tracker: OwnershipTracker | None,
                   nodes: Mapping[bytes, str]) -> dict[str, Any]:
    ref = service_ref(svc)
    ev: Evidence = service_evidence(svc, facts.events, facts.l2statuses or (), node_ips)
    stats = event_stats(facts.events, ref)
    vips = service_vips(svc)
    acting = [c for c in ANNOUNCERS if c in ev.acting]
    # Cilium agents run in many clusters with L2 announcements off (opt-in, invisible
    # to our RBAC): a running agent alone does not make a Service at risk.
    eligible_running = [c for c in ANNOUNCERS if c in ev.eligible and c in running
                        and c != CILIUM]
    wire = [_wire(v, tracker, nodes) for v in vips] if tracker is not None else []
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
        who = ", ".join(f"{c['node'] or 'unknown node'} ({c['mac']}, {c['frames']} claims)"
                        for c in w["claimants"]) or "nobody"
        if w["fight"]:
            evidence.append(f"on the wire {w['vip']} is contested: {who}; {w['flip_flops']} "
                            f"flip-flops, {w['duplicate_replies']} duplicate replies")
        elif w["verdict"] == ONE_NODE:
            evidence.append(f"on the wire {w['vip']}: several interfaces of one node ({who}) — "
                            "not a fight")
        else:
            evidence.append(f"on the wire {w['vip']} ({w['verdict']}): {who}")
    wire_fight = any(w["fight"] for w in wire)
    if not vips:
        v = PENDING
    elif wire_fight or len(acting) >= 2:
        v = CONTESTED
    elif len(set(acting) | set(eligible_running)) >= 2 or storm:
        v = AT_RISK
    else:
        v = OK
    pair = set(acting) | (set(eligible_running) if v != OK else set())
    fix = _fix(str(ref), ref.namespace, ref.name, pair) if v in (CONTESTED, AT_RISK) else []
    if v in (CONTESTED, AT_RISK) and not fix:
        fix = ["find the second announcer of this VIP (MACs above; `arpwatch-lb replay` shows "
               "their other IPs) and stop it"]
    return {
        "namespace": ref.namespace, "name": ref.name, "vips": vips,
        "load_balancer_class": (svc.get("spec") or {}).get("loadBalancerClass"),
        "verdict": v,
        "controllers": {"acting": {c: ev.acting[c] for c in acting},
                        "eligible": dict(ev.eligible), "opted_out": dict(ev.opted_out),
                        "announcing_nodes": {c: sorted(n) for c, n in ev.announcing_nodes.items()}},
        "events": {"count": stats.events, "objects": stats.objects,
                   "per_minute": None if per_min is None else round(per_min, 1),
                   "by_reason": dict(stats.by_reason), "storm": storm},
        "wire": wire, "evidence": evidence, "fix": fix,
    }


def diagnose(facts: ClusterFacts, tracker: OwnershipTracker | None = None,
             wire_source: Mapping[str, Any] | None = None, warnings: Sequence[str] = (),
             errors: Sequence[str] = ()) -> dict[str, Any]:
    """The doctor document for ``facts`` (and the wire facts in ``tracker``, if any)."""
    node_ips = _node_ips(facts)
    nodes = mac_nodes(tracker, node_ips) if tracker is not None else {}
    running = classify_pods(facts.pods)
    entries = [_service_entry(s, facts, node_ips, running, tracker, nodes)
               for s in facts.services if is_load_balancer(s)]
    entries.sort(key=lambda e: (SERVICE_ORDER[e["verdict"]], e["namespace"], e["name"]))
    unknown = sorted({c["mac"] for e in entries for w in e["wire"] for c in w["claimants"]
                      if c["node"] is None})
    hints = []
    if unknown:
        hints.append(f"{len(unknown)} MAC(s) claiming VIPs belong to no known node "
                     f"({', '.join(unknown[:4])}{' …' if len(unknown) > 4 else ''}): the capture "
                     "holds no ARP from their node's InternalIP — capture longer, or use --probe, "
                     "which asks the nodes' addresses too")
    summary = {"services": len(entries), **{v: 0 for v in SERVICE_ORDER}}
    for e in entries:
        summary[e["verdict"]] += 1
    return {
        "schema": SCHEMA,
        "server": facts.server,
        "nodes": {str(n["metadata"]["name"]): node_internal_ips(n) for n in facts.nodes},
        "controllers_running": running,
        "servicel2status_crd": facts.l2statuses is not None,
        "wire": dict(wire_source) if wire_source else None,
        "mac_nodes": {format_mac(m): n for m, n in sorted(nodes.items())},
        "summary": summary,
        "services": entries,
        "warnings": [*facts.warnings, *warnings, *hints],
        "errors": list(errors),
    }
