"""The pure pieces under ``doctor``'s findings: pools, holders, kube-proxy, policies, the tracker's
widest answer, and the fixture captures as tshark reads them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import doctor_clusters as dc
import pytest
from conftest import ip, mac

from arpwatch_lb.core.frames import Claim
from arpwatch_lb.core.tracker import OwnershipTracker
from arpwatch_lb.core.verdicts import (
    AT_RISK,
    CONTESTED,
    FAULT,
    INFO,
    OK,
    PENDING,
    STALE,
    UNCLAIMED,
    doctor_exit_status,
    service_verdict,
)
from arpwatch_lb.kube.inventory import (
    cilium_policies,
    control_plane_vips,
    k3s_info,
    kube_proxy,
    kube_vip_serves,
    service_holders,
)
from arpwatch_lb.kube.pools import (
    Pool,
    cilium_pools,
    format_ranges,
    kubevip_pools,
    metallb_pools,
    overlap,
    parse_ranges,
    subtract,
    yaml_for,
)

# -- pools ---------------------------------------------------------------------------------


def test_parse_ranges_cidrs_ranges_singles_and_junk() -> None:
    ranges, bad = parse_ranges(["192.0.2.96/27", "198.51.100.10 - 198.51.100.12", "192.0.2.5",
                                "nonsense", "192.0.2.9-192.0.2.1", ""])
    assert format_ranges(ranges) == ["192.0.2.5", "192.0.2.96-192.0.2.127",
                                     "198.51.100.10-198.51.100.12"]
    assert bad == ["nonsense", "192.0.2.9-192.0.2.1"]


def test_overlap_and_subtract_are_exact() -> None:
    a, _ = parse_ranges(["192.0.2.96/27"])
    b, _ = parse_ranges(["192.0.2.120-192.0.2.140", "198.51.100.0/24"])
    common = overlap(a, b)
    assert format_ranges(common) == ["192.0.2.120-192.0.2.127"]
    assert format_ranges(subtract(a, common)) == ["192.0.2.96-192.0.2.119"]
    assert format_ranges(subtract(b, common)) == ["192.0.2.128-192.0.2.140", "198.51.100.0-198.51.100.255"]
    mid, _ = parse_ranges(["192.0.2.100"])
    whole, _ = parse_ranges(["192.0.2.99-192.0.2.101"])
    assert format_ranges(subtract(whole, mid)) == ["192.0.2.99", "192.0.2.101"]
    assert overlap(a, parse_ranges(["192.0.2.128/25"])[0]) == []
    assert subtract(mid, mid) == []


def test_yaml_in_each_pools_schema() -> None:
    r, _ = parse_ranges(["192.0.2.101-192.0.2.120", "192.0.2.125"])
    mp = Pool("metallb", "IPAddressPool", "metallb-system", "p", r)
    assert yaml_for(mp, list(r)) == ["spec:", "  addresses:", "  - 192.0.2.101-192.0.2.120",
                                     "  - 192.0.2.125"]
    cp = Pool("cilium", "CiliumLoadBalancerIPPool", None, "c", r)
    assert yaml_for(cp, list(r)) == ["spec:", "  blocks:", "  - start: 192.0.2.101",
                                     "    stop: 192.0.2.120", "  - cidr: 192.0.2.125/32"]
    kp = Pool("kube-vip", "ConfigMap", "kube-system", "kubevip", r, key="cidr-global")
    assert yaml_for(kp, list(r)) == ["data:", "  range-global: 192.0.2.101-192.0.2.120,192.0.2.125"]
    assert kp.edit_command() == "kubectl -n kube-system edit configmap kubevip"


def test_metallb_pools_know_their_l2_advertisements() -> None:
    pools = [dc.ipaddresspool("a", "192.0.2.96/28"), dc.ipaddresspool("b", "192.0.2.112/28"),
             {**dc.ipaddresspool("c", "192.0.2.200-192.0.2.210"),
              "metadata": {"name": "c", "namespace": "metallb-system", "labels": {"l2": "yes"}}}]
    adverts = [dc.l2advertisement("only-a", ["a"]),
               {**dc.l2advertisement("by-label"),
                "spec": {"ipAddressPoolSelectors": [{"matchLabels": {"l2": "yes"}}]}}]
    got, notes = metallb_pools(pools, adverts)
    assert {p.name: p.l2 for p in got} == {"a": ("only-a",), "b": (), "c": ("by-label",)}
    assert notes == []
    every, _ = metallb_pools(pools[:1], [dc.l2advertisement("all")])
    assert every[0].l2 == ("all",)


def test_cilium_and_kubevip_pools() -> None:
    pools, notes = cilium_pools([
        dc.cilium_pool("x", "192.0.2.120", "192.0.2.140"),
        {"metadata": {"name": "old"}, "spec": {"cidrs": [{"cidr": "198.51.100.0/28"}],
                                               "serviceSelector": {"matchLabels": {"a": "b"}}}},
        {"metadata": {"name": "off"}, "spec": {"disabled": True,
                                               "blocks": [{"cidr": "198.18.0.0/24"}]}}])
    assert [(p.name, format_ranges(p.ranges), p.selects_all) for p in pools] == [
        ("x", ["192.0.2.120-192.0.2.140"], True), ("old", ["198.51.100.0-198.51.100.15"], False)]
    assert notes == ["CiliumLoadBalancerIPPool off is disabled (hands out nothing new)"]
    kv, notes = kubevip_pools(dc.configmap("kubevip", "kube-system", {
        "cidr-global": "192.0.2.64/29,192.0.2.80/29", "range-default": "198.51.100.1-198.51.100.9",
        "unrelated": "x", "cidr-bad": "300.1.1.1/8"}))
    assert [(p.key, format_ranges(p.ranges)) for p in kv] == [
        ("cidr-bad", []), ("cidr-global", ["192.0.2.64-192.0.2.71", "192.0.2.80-192.0.2.87"]),
        ("range-default", ["198.51.100.1-198.51.100.9"])]
    assert notes == ["ConfigMap kube-system/kubevip cidr-bad: '300.1.1.1/8' not understood"]


# -- kube-vip's own VIP, its modes, holders ---------------------------------------------------


def test_control_plane_vips_from_static_pods_and_daemonsets() -> None:
    pods = [dc.pod("kube-vip-node-a", "kube-system", dc.KUBE_VIP_IMAGE, "node-a",
                   {"address": "192.0.2.100", "cp_enable": "true"}, static=True),
            dc.pod("kube-vip-dns", "kube-system", dc.KUBE_VIP_IMAGE, "node-b",
                   {"address": "api.example.test"}),
            dc.pod("web-1", "default", "nginx", "node-b", {"address": "192.0.2.9"})]
    ds = {"metadata": {"name": "kv", "namespace": "kube-system"}, "spec": {"template": {"spec": {
        "containers": [{"name": "kv", "image": dc.KUBE_VIP_IMAGE,
                        "env": [{"name": "vip_address", "value": "192.0.2.99"},
                                {"name": "vip_interface", "value": "bond0"}]}]}}}}
    got = control_plane_vips(pods, [ds])
    assert [(c.vip, c.source, c.control_plane, c.interface) for c in got] == [
        ("192.0.2.100", "static pod kube-system/kube-vip-node-a", True, None),
        ("192.0.2.99", "DaemonSet kube-system/kv", False, "bond0")]


def test_kube_vip_serves() -> None:
    cp_only = dc.pod("kv", "kube-system", dc.KUBE_VIP_IMAGE, "n", {"cp_enable": "true"})
    svc = dc.pod("kv2", "kube-system", dc.KUBE_VIP_IMAGE, "n", {"svc_enable": "true"})
    own = dc.pod("kv3", "kube-system", dc.KUBE_VIP_IMAGE, "n", {"svc_enable": "true",
                                                                "lb_class_only": "true"})
    blind = dc.pod("kv4", "kube-system", dc.KUBE_VIP_IMAGE, "n")
    assert kube_vip_serves([cp_only]) == (False, False)
    assert kube_vip_serves([cp_only, svc]) == (True, False)
    assert kube_vip_serves([own]) == (True, True)
    assert kube_vip_serves([blind]) == (True, False)  # env not visible: the legacy default
    assert kube_vip_serves([]) == (False, False)


def test_service_holders_per_service_lease_leader_lease_and_records() -> None:
    svc = dc.kubevip_service("web", "192.0.2.102", vip_host="node-b")
    leases = [dc.lease("kubevip-web", "default", "node-b"),
              dc.lease("plndr-svcs-lock", "kube-system", "node-a"),
              dc.lease("kubevip-web", "other", "node-c")]
    got = service_holders(svc, leases, [], kube_vip_handles=True)
    assert [(h.node, h.source) for h in got] == [
        ("node-b", "Lease default/kubevip-web"), ("node-b", "annotation kube-vip.io/vipHost")]
    # no per-Service Lease: kube-vip's leader announces it
    got = service_holders(svc, leases[1:], [], kube_vip_handles=True)
    assert (got[0].node, got[0].source) == ("node-a", "Lease kube-system/plndr-svcs-lock")
    # kube-vip.io/leaseName overrides the name
    svc["metadata"]["annotations"]["kube-vip.io/leaseName"] = "custom"
    got = service_holders(svc, [dc.lease("custom", "default", "node-c")], [], True)
    assert got[0].source == "Lease default/custom" and got[0].node == "node-c"
    # Cilium's Lease and MetalLB's ServiceL2Status
    m = dc.metallb_service("shop", "192.0.2.9")
    got = service_holders(m, [dc.lease("cilium-l2announce-default-shop", "kube-system", "node-b")],
                          [dc.l2status("shop", "node-a")], kube_vip_handles=False)
    assert [(h.announcer, h.node) for h in got] == [("cilium", "node-b"), ("metallb", "node-a")]


def test_expired_lease_is_said() -> None:
    svc = dc.kubevip_service("web", "192.0.2.102", vip_host="node-b")
    old = dc.lease("kubevip-web", "default", "node-b", duration=15, renewed=1_000_000.0)
    (h, _) = service_holders(svc, [old], [], True, now=1_000_100.0)
    assert h.expired_for == pytest.approx(85.0)
    assert h.describe().endswith("; it ran out 85 s before this read")


# -- kube-proxy: visible or unknown, never a guessed ok ---------------------------------------


@pytest.mark.parametrize(("mode", "strict", "status"), [("ipvs", False, "strict-arp-off"),
                                                        ("ipvs", True, "ok"), ("", False, "ok"),
                                                        ("nftables", False, "ok")])
def test_kube_proxy_from_its_configmap(mode: str, strict: bool, status: str) -> None:
    kp = kube_proxy(dc.kube_proxy_configmap(mode, strict), True, None, None, 3)
    assert kp.status == status
    assert kp.mode == (mode or "iptables")


def test_kube_proxy_strict_arp_unset_is_off() -> None:
    cm = dc.configmap("kube-proxy", "kube-system", {"config.conf": "mode: ipvs\nipvs: {}\n"})
    kp = kube_proxy(cm, True, None, None, 3)
    assert (kp.status, kp.detail) == ("strict-arp-off", "mode: ipvs with ipvs.strictARP: unset (false)")


def test_kube_proxy_not_visible_is_unknown() -> None:
    assert kube_proxy(None, False, None, None, 3).status == "unknown"
    assert kube_proxy(None, True, None, None, 0).status == "unknown"
    bad = dc.configmap("kube-proxy", "kube-system", {"config.conf": "mode: [ipvs"})
    assert kube_proxy(bad, True, None, None, 3).status == "unknown"
    k3s = k3s_info([dc.node("node-a", k3s_args=["server", "--disable", "servicelb"])])
    assert k3s is not None and k3s.servicelb_disabled and k3s.kube_proxy_disabled is False
    kp = kube_proxy(None, True, k3s, None, 0)
    assert kp.status == "unknown" and kp.k3s
    hidden = k3s_info([dc.node("node-a", k3s_args=[])])
    assert hidden is not None and hidden.servicelb_disabled is None
    assert kube_proxy(None, True, hidden, None, 0).detail.endswith("node-args are not visible")
    cil = dc.configmap("cilium-config", "kube-system", {"kube-proxy-replacement": "true"})
    assert kube_proxy(None, True, None, cil, 0).status == "not-running"
    assert kube_proxy(None, True, None, cil, 2).status == "unknown"  # replaced, yet pods run


def test_k3s_flags() -> None:
    k = k3s_info([dc.node("node-a", k3s_args=["server", "--disable=traefik,servicelb",
                                              "--kube-proxy-arg=proxy-mode=ipvs",
                                              "--kube-proxy-arg", "ipvs-strict-arp=true"])])
    assert k is not None and k.servicelb_disabled
    assert kube_proxy(None, True, k, None, 0).status == "ok"
    off = k3s_info([dc.node("node-a", k3s_args=["server", "--disable-kube-proxy"])])
    assert kube_proxy(None, True, off, None, 0).status == "not-running"
    assert k3s_info([dc.node("node-a")]) is None


# -- Cilium policies ---------------------------------------------------------------------------


def test_cilium_policy_selection() -> None:
    (all_,) = cilium_policies([dc.cilium_policy("all")])
    (lab,) = cilium_policies([dc.cilium_policy("lab", {"matchLabels": {"announcer": "cilium"}})])
    (ns,) = cilium_policies([dc.cilium_policy("ns", {"matchExpressions": [
        {"key": "io.kubernetes.service.namespace", "operator": "In", "values": ["shop"]}]})])
    plain = dc.metallb_service("web", "192.0.2.1")
    labelled = dc.cilium_service("c", "192.0.2.2", {"announcer": "cilium"})
    kv = dc.kubevip_service("k", "192.0.2.3", "node-a")
    assert all_.selects(plain) and not all_.selects(kv)  # another class is never Cilium's
    assert lab.selects(labelled) and not lab.selects(plain)
    assert ns.selects(dc.metallb_service("web", "192.0.2.1", namespace="shop"))
    assert not ns.selects(plain)
    (no_lb,) = cilium_policies([{"metadata": {"name": "x"}, "spec": {"externalIPs": True}}])
    assert not no_lb.selects(plain)


# -- the tracker: how many answered one request -----------------------------------------------


def _reply(t: float, who: str, vip: str, requester: str = "192.0.2.10") -> Claim:
    m = mac(who)
    c = mac("02:00:5e:10:00:10")
    return Claim(t, None, None, 2, m, ip(vip), c, ip(requester), m, c, 42)


def _request(t: float, vip: str) -> Claim:
    c = mac("02:00:5e:10:00:10")
    return Claim(t, None, None, 1, c, ip("192.0.2.10"), b"\0" * 6, ip(vip), c, b"\xff" * 6, 42)


def test_widest_answer_counts_macs_answering_one_request() -> None:
    tr = OwnershipTracker()
    a, b, c = "02:00:5e:10:00:a1", "02:00:5e:10:00:b1", "02:00:5e:10:00:c1"
    for i in range(3):
        t = 10.0 + i
        tr.feed_all([_request(t, "192.0.2.101"), _reply(t + 0.001, a, "192.0.2.101"),
                     _reply(t + 0.002, b, "192.0.2.101"), _reply(t + 0.003, c, "192.0.2.101")])
    (st,) = [s for s in tr if s.key[2] == ip("192.0.2.101")]
    assert sorted(st.widest_answer) == sorted(mac(x) for x in (a, b, c))
    # two answering each request, alternately (a failover storm): never three
    tr = OwnershipTracker()
    for i in range(4):
        t = 10.0 + i
        pair = (a, b) if i % 2 == 0 else (b, c)
        tr.feed_all([_request(t, "192.0.2.102"), _reply(t + 0.001, pair[0], "192.0.2.102"),
                     _reply(t + 0.002, pair[1], "192.0.2.102")])
    (st,) = [s for s in tr if s.key[2] == ip("192.0.2.102")]
    assert len(st.widest_answer) == 2


# -- verdicts and exit ---------------------------------------------------------------------------


def test_service_verdict_and_exit_status() -> None:
    contested, unanswered = frozenset({"two"}), frozenset({"silent"})
    assert service_verdict({}, False, contested, unanswered) == PENDING
    assert service_verdict({"two": FAULT, "stale": FAULT}, True, contested, unanswered) == CONTESTED
    assert service_verdict({"silent": FAULT}, True, contested, unanswered) == UNCLAIMED
    assert service_verdict({"silent": FAULT, "stale": FAULT}, True, contested, unanswered) == STALE
    assert service_verdict({"risk": AT_RISK, "n": INFO}, True, contested, unanswered) == AT_RISK
    assert service_verdict({"n": INFO}, True, contested, unanswered) == OK
    def doc(service: list[str], cluster: list[str], errors: list[str] | None = None) -> dict:
        return {"services": [{"findings": [{"severity": s} for s in service]}],
                "findings": [{"severity": s} for s in cluster], "errors": errors or []}

    assert doctor_exit_status(doc([INFO, AT_RISK], [AT_RISK])) == 0
    assert doctor_exit_status(doc([AT_RISK, FAULT], [])) == 1
    assert doctor_exit_status(doc([INFO], [FAULT])) == 1  # a cluster-level fault counts too
    assert doctor_exit_status(doc([], [], ["bad capture"])) == 2


# -- the fixture captures, read by tshark -----------------------------------------------------------


CAPTURES = {
    "ipvs": dc.ipvs_pcap, "stale": dc.stale_kubevip_pcap, "cp-vip": dc.cp_vip_pcap,
    "overlap": dc.overlap_pcap, "policy": dc.cilium_policy_pcap,
    "nics-metallb": lambda p: dc.several_nics_pcap(p, "metallb"),
    "nics-kernel": lambda p: dc.several_nics_pcap(p, "kube-vip"),
}


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_fixture_captures_are_well_formed_arp(tmp_path: Path, name: str) -> None:
    """tshark (not our decoder) reads every frame as ARP, TEST-NET only, nothing malformed."""
    path = CAPTURES[name](tmp_path / f"{name}.pcap")
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "json", "-e", "frame.len",
                          "-e", "arp.opcode", "-e", "arp.src.proto_ipv4", "-e", "arp.dst.proto_ipv4",
                          "-e", "arp.src.hw_mac", "-e", "arp.dst.hw_mac", "-e", "eth.src",
                          "-e", "_ws.malformed"], capture_output=True, text=True, check=True).stdout
    rows = [p["_source"]["layers"] for p in json.loads(out)]
    assert rows
    for r in rows:
        assert "_ws.malformed" not in r
        assert r["arp.src.proto_ipv4"][0].startswith("192.0.2.")
        assert r["arp.dst.proto_ipv4"][0].startswith("192.0.2.")
        assert r["eth.src"] == r["arp.src.hw_mac"]
        assert r["frame.len"][0] in ("42", "60")
    # kube-vip frames: 42 bytes, op=2 with target MAC = own MAC, op=1 with broadcast
    garps = [r for r in rows if r["arp.src.proto_ipv4"] == r["arp.dst.proto_ipv4"]]
    for r in garps:
        if r["frame.len"] == ["42"] and r["arp.dst.hw_mac"] != ["ff:ff:ff:ff:ff:ff"]:
            assert r["arp.opcode"] == ["2"] and r["arp.dst.hw_mac"] == r["arp.src.hw_mac"]
    if name in ("overlap", "policy"):  # Cilium's BPF replies keep the request's length
        cilium = [r for r in rows if r["eth.src"] == [dc.NODES["node-b"][1]]
                  and r["arp.opcode"] == ["2"] and r["arp.dst.proto_ipv4"] == ["192.0.2.10"]]
        assert cilium and {r["frame.len"][0] for r in cilium} == {"60"}
