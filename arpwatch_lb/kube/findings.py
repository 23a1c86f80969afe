"""``doctor`` findings: one cause each, with its evidence and its concrete fix (pure).

A :class:`Finding` is ``{"id", "severity", "title", "evidence": [...], "fix": [...]}``.
The ids are stable (README: "Findings"); the severities come from
:mod:`arpwatch_lb.core.verdicts` (``fault``, ``at-risk``, ``info``).  This module
only words causes and fixes; which causes apply is decided in :mod:`.diagnosis`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.announcers import CILIUM, KUBE_VIP, METALLB, SERVICELB
from ..core.verdicts import AT_RISK, FAULT, INFO, SEVERITY_ORDER
from .inventory import CiliumPolicy, ControlPlaneVip, Holder, KubeProxy
from .pools import Pool, format_ranges, subtract, yaml_for

__all__ = [
    "CONTESTED_IDS", "UNANSWERED_IDS", "Finding", "announcer_pods", "flatten_fixes", "sort_findings",
]

# Service findings
TWO_ANNOUNCERS = "two-announcers"
WIRE_CONTEST = "wire-contest"
KUBE_PROXY_STRICT_ARP = "kube-proxy-strict-arp"
STALE_ANNOUNCER = "stale-announcer"
HOLDER_SILENT = "holder-silent"
VIP_UNANSWERED = "vip-unanswered"
HOLDER = "holder"
SEVERAL_NICS = "several-nics"
ANNOUNCER_NOT_IN_API = "announcer-not-in-api"
SECOND_ANNOUNCER_ELIGIBLE = "second-announcer-eligible"
EVENT_STORM = "event-storm"
CONTROL_PLANE_VIP = "control-plane-vip"
SHARED_VIP = "shared-vip"
# cluster findings (kube-proxy-strict-arp is both)
KUBE_PROXY_UNKNOWN = "kube-proxy-unknown"
POOL_OVERLAP = "pool-overlap"
CONTROL_PLANE_VIP_IN_POOL = "control-plane-vip-in-pool"
CILIUM_POLICY_SELECTS_ALL = "cilium-policy-selects-all"
CILIUM_POLICY_CONDITION = "cilium-policy-condition"
CILIUM_NO_L2_POLICY = "cilium-no-l2-policy"
CILIUM_IPAM_SELECTS_ALL = "cilium-ipam-selects-all"
SERVICELB_DISABLED = "k3s-servicelb-disabled"

CONTESTED_IDS = frozenset({TWO_ANNOUNCERS, WIRE_CONTEST, KUBE_PROXY_STRICT_ARP, CONTROL_PLANE_VIP,
                           SHARED_VIP})
"""Faults that make a Service ``contested`` (two claimants of one VIP)."""
UNANSWERED_IDS = frozenset({HOLDER_SILENT, VIP_UNANSWERED})
"""Faults that alone make a Service ``unclaimed`` (nobody answers)."""

NAMESPACE_OF = {METALLB: "metallb-system", KUBE_VIP: "kube-system", CILIUM: "kube-system"}


@dataclass(slots=True)
class Finding:
    """One cause: id, severity, a one-line title, the evidence and the fix."""

    id: str
    severity: str
    title: str
    evidence: list[str] = field(default_factory=list)
    fix: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The JSON object (``id``, ``severity``, ``title``, ``evidence``, ``fix``)."""
        return {"id": self.id, "severity": self.severity, "title": self.title,
                "evidence": list(self.evidence), "fix": list(self.fix)}


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Worst severity first, then in the order they were found."""
    return sorted(findings, key=lambda f: SEVERITY_ORDER[f.severity])


def flatten_fixes(findings: Iterable[Finding]) -> list[str]:
    """Every fix line of ``findings`` once, worst finding first (the Service's ``fix`` field)."""
    out: dict[str, None] = {}
    for f in sort_findings(findings):
        if f.severity == INFO:
            continue
        for line in f.fix:
            out[line] = None
    return list(out)


def announcer_pods(pods: Sequence[dict[str, Any]], node: str,
                   kinds: Iterable[str]) -> list[tuple[str, str, str]]:
    """(announcer, namespace, pod name) of the announcer pods running on ``node``.

    MetalLB's controller is left out: only its speakers announce.
    """
    from .model import classify_pods

    kinds = set(kinds)
    out = []
    for p in pods:
        if (p.get("spec") or {}).get("nodeName") != node:
            continue
        (kind,) = classify_pods([p]) or (None,)
        images = " ".join(str(c.get("image", "")) for c in (p.get("spec") or {}).get("containers") or ())
        if kind not in kinds or (kind == METALLB and "controller" in images):
            continue
        md = p.get("metadata") or {}
        out.append((kind, str(md.get("namespace") or "default"), str(md.get("name") or "")))
    return sorted(out, key=lambda k: (k[1], k[2]))


# -- the fixes ---------------------------------------------------------------


def pair_fix(ref: str, namespace: str, name: str, pair: set[str]) -> list[str]:
    """Stop all but one of the announcers in ``pair`` for one Service."""
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


def restart_lines(pods: Sequence[tuple[str, str, str]], node: str) -> list[str]:
    """``kubectl delete pod`` lines for announcer pods on ``node``."""
    return [f"kubectl -n {ns} delete pod {pod}  ({kind} on {node}; its controller recreates it)"
            for kind, ns, pod in pods]


def kube_proxy_fix(kp: KubeProxy) -> list[str]:
    """Turn on strictARP (kubeadm-style ConfigMap, or k3s flags)."""
    if kp.k3s:
        return ["on every k3s server and agent, in /etc/rancher/k3s/config.yaml:",
                "  kube-proxy-arg:",
                "  - proxy-mode=ipvs",
                "  - ipvs-strict-arp=true",
                "then: systemctl restart k3s (servers) / k3s-agent (agents)"]
    return ["kubectl -n kube-system edit configmap kube-proxy   # in config.conf:",
            "  ipvs:",
            "    strictARP: true",
            "or in one go: kubectl -n kube-system get configmap kube-proxy -o yaml | "
            "sed -e 's/strictARP: false/strictARP: true/' | kubectl apply -f - -n kube-system",
            "then: kubectl -n kube-system rollout restart daemonset kube-proxy  "
            "(strictARP sets arp_ignore=1 and arp_announce=2: only the announcer's node answers)"]


def kube_proxy_check_fix(kp: KubeProxy) -> list[str]:
    """How to see kube-proxy's mode yourself when the API does not show it."""
    out = ["on a node: `ipvsadm -Ln | head` (IPVS rules = IPVS mode) and "
           "`sysctl net.ipv4.conf.all.arp_ignore` (1 = strict ARP in effect)"]
    if kp.k3s:
        out.append("k3s: look for kube-proxy-arg proxy-mode=ipvs in /etc/rancher/k3s/config.yaml; "
                   "with IPVS add kube-proxy-arg ipvs-strict-arp=true")
    return out


def stale_fix(vip: str, node: str, pods: Sequence[tuple[str, str, str]],
              interface: str | None) -> list[str]:
    """What to restart or remove on the node that answers without holding the VIP."""
    dev = interface or "<its interface>"
    out = restart_lines(pods, node)
    if not pods:
        out.append(f"no announcer pod runs on {node}: something else answers there (keepalived, "
                   "a static address, an old announcer)")
    out += [f"then on {node}: ip -4 addr show | grep -w {vip}  — if the address is still bound, "
            f"remove it: ip addr del {vip}/32 dev {dev}  (kube-vip#1318)"]
    return out


def silent_fix(holder: Holder, pods: Sequence[tuple[str, str, str]],
               policies: Sequence[CiliumPolicy]) -> list[str]:
    """What to check and restart on a holder that does not answer."""
    node = holder.node
    out: list[str] = []
    if holder.announcer == CILIUM:
        ifaces = sorted({i for p in policies for i in p.interfaces})
        out.append(f"the Cilium agent on {node} holds {holder.source} but its BPF responder does "
                   "not answer (cilium#48626): check that a CiliumL2AnnouncementPolicy's interfaces "
                   f"({', '.join(ifaces) or 'none set'}) match {node}'s NIC on this segment")
    elif holder.announcer == KUBE_VIP:
        out.append(f"kube-vip on {node} holds the VIP by {holder.source} but sends nothing: "
                   f"check vip_interface and its log: kubectl -n "
                   f"{pods[0][1] if pods else 'kube-system'} logs "
                   f"{pods[0][2] if pods else '<kube-vip pod on ' + node + '>'}")
    else:
        out.append(f"the MetalLB speaker on {node} ({holder.source}) does not answer: check that "
                   f"an L2Advertisement selects {node} (nodeSelectors) and its interfaces, and "
                   "the speaker's log")
    out += restart_lines(pods, node)
    if not pods:
        out.append(f"no {holder.announcer} pod runs on {node}: the record is stale — delete "
                   f"{holder.source} (it is recreated by the live announcer)"
                   if holder.lease else f"no {holder.announcer} pod runs on {node}")
    return out


def several_nics_fix(node: str, macs: Sequence[str], acting: Sequence[str],
                     l2_names: Sequence[str], interfaces: Sequence[str],
                     policies: Sequence[CiliumPolicy]) -> list[str]:
    """Answer from one NIC only: MetalLB's interfaces, Cilium's regexes, or the kernel's sysctls."""
    if METALLB in acting:
        iface = interfaces[0] if interfaces else "<the NIC on this segment>"
        names = list(l2_names) or ["<the L2Advertisement of its pool>"]
        return [*[f"kubectl -n metallb-system edit l2advertisement {n}" for n in names],
                "  spec:", "    interfaces:", f"    - {iface}",
                f"(MetalLB answers on every interface of {node} otherwise; metallb#531"
                + (f"; ServiceL2Status lists {', '.join(interfaces)}" if len(interfaces) > 1 else "")
                + ")"]
    if CILIUM in acting:
        names = [p.name for p in policies] or ["<policy>"]
        return [*[f"kubectl edit ciliuml2announcementpolicy {n}" for n in names],
                "  spec:", "    interfaces:", "    - ^<the NIC on this segment>$"]
    return [f"on {node} (the kernel answers from every NIC, ARP flux):",
            "  sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2",
            "  and keep them in /etc/sysctl.d/90-arp.conf"]


def pool_cut_fix(pool: Pool, cut: list[tuple[int, int, int]]) -> list[str]:
    """The edit that removes ``cut`` from ``pool``, as YAML in the pool's own schema."""
    rest = subtract(pool.ranges, cut)
    return [pool.edit_command(), *[f"  {line}" for line in yaml_for(pool, rest)]]


def free_address(pools: Sequence[Pool], used: set[str], avoid: set[str]) -> str | None:
    """The first address of ``pools`` that no Service uses and that is not in ``avoid``."""
    import ipaddress

    for p in pools:
        for v, a, b in p.ranges:
            for n in range(a, min(b, a + 4096) + 1):
                ip = str(ipaddress.ip_address(n) if v == 4 else ipaddress.IPv6Address(n))
                if ip not in used and ip not in avoid:
                    return ip
    return None


def cp_in_pool(cp: ControlPlaneVip, pool: Pool) -> Finding:
    """kube-vip's own (control-plane) VIP inside a Service pool."""
    what = "control-plane VIP" if cp.control_plane else "own VIP"
    cut = [r for r in pool.ranges if r[1] <= _int(cp.vip) <= r[2]]
    version = cut[0][0] if cut else 4
    return Finding(
        CONTROL_PLANE_VIP_IN_POOL, FAULT,
        f"kube-vip's {what} {cp.vip} is inside {pool.ref}",
        [f"kube-vip announces {cp.vip} itself (env address/vip_address of {cp.source}"
         + (", cp_enable=true" if cp.control_plane else "") + ")",
         f"{pool.ref} hands out {', '.join(format_ranges(pool.ranges))}"
         + (f" (announced by L2Advertisement {', '.join(pool.l2)})" if pool.l2 else "")],
        [f"take {cp.vip} out of the pool, so {pool.announcer} never gives it to a Service:",
         *pool_cut_fix(pool, [(version, _int(cp.vip), _int(cp.vip))])])


def _int(ip: str) -> int:
    import ipaddress

    return int(ipaddress.ip_address(ip))


def overlap_finding(a: Pool, b: Pool, common: list[tuple[int, int, int]]) -> Finding:
    """Two announcers' pools share addresses."""
    shared = ", ".join(format_ranges(common))
    return Finding(
        POOL_OVERLAP, AT_RISK,
        f"{a.announcer} and {b.announcer} pools overlap: {shared}",
        [f"{a.ref} hands out {', '.join(format_ranges(a.ranges))}",
         f"{b.ref} hands out {', '.join(format_ranges(b.ranges))}",
         f"both may give {shared} to a Service: two announcers would answer for one address"],
        [f"give each announcer its own addresses; either shrink {a.ref}:",
         *pool_cut_fix(a, common),
         f"or shrink {b.ref}:",
         *pool_cut_fix(b, common)])


def hidden_announcer_fix(kind: str, where: str, vip: str) -> list[str]:
    """What to do about an announcer seen on the wire that the API does not show."""
    look = {
        "kube-vip": f"on {where}: look for a kube-vip the API does not list — a static pod "
                    "(ls /etc/kubernetes/manifests; crictl ps --name kube-vip) or one started "
                    "outside Kubernetes — and check its env (address, vip_address, svc_enable)",
        "metallb": f"on {where}: look for a MetalLB speaker the API does not list (crictl ps "
                   "--name speaker), e.g. of a second MetalLB installation",
        "cilium": f"on {where}: look for a Cilium agent with l2announcements enabled and a "
                  "CiliumL2AnnouncementPolicy doctor cannot read (RBAC)",
        "keepalived": f"on {where}: look for keepalived outside Kubernetes (systemctl status "
                      f"keepalived; grep -r {vip} /etc/keepalived)",
    }[kind]
    return [look, f"then stop it announcing {vip}, or let it own the Service alone "
                  "(remove the other announcer's claim)"]
