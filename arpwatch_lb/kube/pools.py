"""The announcers' address pools and where they overlap (pure).

Three IPAMs hand out LoadBalancer addresses, each from its own objects:

* MetalLB: ``IPAddressPool`` (``metallb.io/v1beta1``, ``spec.addresses``: CIDRs and
  ``first-last`` ranges), announced in Layer 2 by the ``L2Advertisement`` objects
  that name it (``spec.ipAddressPools``, ``spec.ipAddressPoolSelectors``; neither
  means every pool);
* Cilium LB IPAM: ``CiliumLoadBalancerIPPool`` (``spec.blocks``: ``cidr`` or
  ``start``/``stop``; ``spec.cidrs`` before 1.15; ``spec.serviceSelector``;
  ``spec.disabled``);
* kube-vip's cloud provider: the ConfigMap ``kube-system/kubevip`` (keys
  ``cidr-global``, ``range-global``, ``cidr-<namespace>``, ``range-<namespace>``;
  comma-separated CIDRs or ``first-last`` ranges).

A :class:`Pool` holds its ranges as integers ``(version, first, last)`` so
overlaps and remainders are exact; :func:`format_ranges` turns them back into
the text each object expects.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.announcers import CILIUM, KUBE_VIP, METALLB

__all__ = ["Pool", "Range", "cilium_pools", "contains", "format_ranges", "kubevip_pools",
           "labels_match", "metallb_pools", "overlap", "parse_ranges", "subtract", "yaml_for"]

Range = tuple[int, int, int]
"""(IP version, first address, last address) as integers."""
Obj = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Pool:
    """One address pool of one announcer's IPAM."""

    announcer: str
    kind: str
    """``IPAddressPool``, ``CiliumLoadBalancerIPPool`` or ``ConfigMap``."""
    namespace: str | None
    name: str
    ranges: tuple[Range, ...]
    key: str | None = None
    """kube-vip: the ConfigMap key (``cidr-global``, ``range-default``…)."""
    l2: tuple[str, ...] | None = None
    """MetalLB: the L2Advertisements that announce this pool (None: not MetalLB)."""
    selects_all: bool = True
    """The pool serves every eligible Service (no ``serviceSelector``)."""
    notes: tuple[str, ...] = field(default=())

    @property
    def ref(self) -> str:
        """How a person names it: ``IPAddressPool metallb-system/default``."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}" + (f" key {self.key}" if self.key else "")

    def edit_command(self) -> str:
        """The kubectl command that opens it for editing."""
        plural = {"IPAddressPool": "ipaddresspool",
                  "CiliumLoadBalancerIPPool": "ciliumloadbalancerippool",
                  "ConfigMap": "configmap"}[self.kind]
        ns = f"-n {self.namespace} " if self.namespace else ""
        return f"kubectl {ns}edit {plural} {self.name}"


def _addr(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text.strip())


def parse_ranges(texts: Iterable[str]) -> tuple[tuple[Range, ...], list[str]]:
    """CIDRs, ``first-last`` ranges and single addresses → ranges, and the entries not understood."""
    out: list[Range] = []
    bad: list[str] = []
    for raw in texts:
        text = str(raw).strip()
        if not text:
            continue
        try:
            if "/" in text:
                net = ipaddress.ip_network(text, strict=False)
                out.append((net.version, int(net.network_address), int(net.broadcast_address)))
            elif "-" in text:
                a, b = (_addr(p) for p in text.split("-", 1))
                if a.version != b.version or int(b) < int(a):
                    raise ValueError(text)
                out.append((a.version, int(a), int(b)))
            else:
                a = _addr(text)
                out.append((a.version, int(a), int(a)))
        except ValueError:
            bad.append(text)
    return tuple(sorted(out)), bad


def _ip(version: int, value: int) -> str:
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))


def format_ranges(ranges: Iterable[Range]) -> list[str]:
    """Ranges as text: ``first-last`` (a single address alone)."""
    return [_ip(v, a) if a == b else f"{_ip(v, a)}-{_ip(v, b)}" for v, a, b in ranges]


def _merge(ranges: Iterable[Range]) -> list[Range]:
    out: list[Range] = []
    for v, a, b in sorted(ranges):
        if out and out[-1][0] == v and a <= out[-1][2] + 1:
            out[-1] = (v, out[-1][1], max(out[-1][2], b))
        else:
            out.append((v, a, b))
    return out


def overlap(a: Iterable[Range], b: Iterable[Range]) -> list[Range]:
    """Addresses in both ``a`` and ``b``."""
    out = []
    for va, a0, a1 in a:
        for vb, b0, b1 in b:
            if va == vb and a0 <= b1 and b0 <= a1:
                out.append((va, max(a0, b0), min(a1, b1)))
    return _merge(out)


def subtract(ranges: Iterable[Range], cut: Iterable[Range]) -> list[Range]:
    """``ranges`` without the addresses in ``cut``."""
    cur = _merge(ranges)
    for vc, c0, c1 in _merge(cut):
        nxt: list[Range] = []
        for v, a, b in cur:
            if v != vc or c1 < a or b < c0:
                nxt.append((v, a, b))
                continue
            if a < c0:
                nxt.append((v, a, c0 - 1))
            if c1 < b:
                nxt.append((v, c1 + 1, b))
        cur = nxt
    return cur


def contains(pool: Pool, ip: str) -> bool:
    """True when ``ip`` is one of ``pool``'s addresses."""
    try:
        a = _addr(ip)
    except ValueError:
        return False
    return any(v == a.version and lo <= int(a) <= hi for v, lo, hi in pool.ranges)


def yaml_for(pool: Pool, ranges: list[Range]) -> list[str]:
    """The YAML lines that give ``pool`` exactly ``ranges`` (in the pool's own schema)."""
    text = format_ranges(ranges)
    if pool.kind == "IPAddressPool":
        return ["spec:", "  addresses:", *[f"  - {t}" for t in text]]
    if pool.kind == "CiliumLoadBalancerIPPool":
        lines = ["spec:", "  blocks:"]
        for v, a, b in ranges:
            lines.append(f"  - start: {_ip(v, a)}" if a != b else f"  - cidr: {_ip(v, a)}/"
                         f"{32 if v == 4 else 128}")
            if a != b:
                lines.append(f"    stop: {_ip(v, b)}")
        return lines
    key = pool.key or "range-global"
    if key.startswith("cidr-"):  # a CIDR key cannot hold ranges: move them to range-<scope>
        key = "range-" + key.removeprefix("cidr-")
    return ["data:", f"  {key}: {','.join(text)}"] if text else ["data:", f"  {key}: \"\""]


# -- reading the objects ---------------------------------------------------


def _name(obj: Obj) -> tuple[str | None, str]:
    md = obj.get("metadata") or {}
    return md.get("namespace"), str(md.get("name") or "")


def labels_match(selector: Obj, labels: Mapping[str, str]) -> bool:
    """A Kubernetes label selector (``matchLabels``, ``matchExpressions``) against ``labels``."""
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def metallb_pools(pools: Iterable[Obj], adverts: Iterable[Obj] | None) -> tuple[list[Pool], list[str]]:
    """MetalLB ``IPAddressPool`` objects with the ``L2Advertisement`` names that announce each.

    ``adverts`` None: L2Advertisements not readable (each pool's ``l2`` is then empty).
    """
    adverts = list(adverts or ())
    out: list[Pool] = []
    notes: list[str] = []
    for p in pools:
        ns, name = _name(p)
        spec = p.get("spec") or {}
        ranges, bad = parse_ranges(spec.get("addresses") or ())
        for b in bad:
            notes.append(f"IPAddressPool {ns}/{name}: address {b!r} not understood")
        labels = (p.get("metadata") or {}).get("labels") or {}
        l2 = []
        for a in adverts:
            if _name(a)[0] != ns:
                continue
            aspec = a.get("spec") or {}
            names = aspec.get("ipAddressPools") or []
            sels = aspec.get("ipAddressPoolSelectors") or []
            if (not names and not sels) or name in names or any(labels_match(s, labels)
                                                                 for s in sels):
                l2.append(_name(a)[1])
        out.append(Pool(METALLB, "IPAddressPool", ns, name, ranges, l2=tuple(sorted(l2)),
                        selects_all=spec.get("autoAssign", True) is not False,
                        notes=() if spec.get("autoAssign", True) is not False
                        else ("autoAssign: false (only Services that ask for it)",)))
    return out, notes


def cilium_pools(pools: Iterable[Obj]) -> tuple[list[Pool], list[str]]:
    """``CiliumLoadBalancerIPPool`` objects (cluster-scoped); disabled pools are left out."""
    out: list[Pool] = []
    notes: list[str] = []
    for p in pools:
        _, name = _name(p)
        spec = p.get("spec") or {}
        if spec.get("disabled"):
            notes.append(f"CiliumLoadBalancerIPPool {name} is disabled (hands out nothing new)")
            continue
        texts = []
        for blk in [*(spec.get("blocks") or ()), *(spec.get("cidrs") or ())]:
            if blk.get("cidr"):
                texts.append(str(blk["cidr"]))
            elif blk.get("start"):
                texts.append(f"{blk['start']}-{blk.get('stop') or blk['start']}")
        ranges, bad = parse_ranges(texts)
        for b in bad:
            notes.append(f"CiliumLoadBalancerIPPool {name}: block {b!r} not understood")
        out.append(Pool(CILIUM, "CiliumLoadBalancerIPPool", None, name, ranges,
                        selects_all=not spec.get("serviceSelector")))
    return out, notes


def kubevip_pools(configmap: Obj | None) -> tuple[list[Pool], list[str]]:
    """kube-vip cloud provider pools from the ``kubevip`` ConfigMap (one Pool per key)."""
    if not configmap:
        return [], []
    ns, name = _name(configmap)
    out: list[Pool] = []
    notes: list[str] = []
    for key, value in sorted((configmap.get("data") or {}).items()):
        if not key.startswith(("cidr-", "range-")):
            continue
        ranges, bad = parse_ranges(str(value).split(","))
        for b in bad:
            notes.append(f"ConfigMap {ns}/{name} {key}: {b!r} not understood")
        out.append(Pool(KUBE_VIP, "ConfigMap", ns, name, ranges, key=key))
    return out, notes
