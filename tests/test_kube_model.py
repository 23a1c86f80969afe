"""Pure Kubernetes logic: VIPs of Services, controller evidence, Event rates, MAC → node."""

from __future__ import annotations

import pytest
from kube_scenario import contested_service, kube_vip_service, l2status, node, node_assigned_event

from arpwatch_lb.core.frames import Claim
from arpwatch_lb.core.tracker import OwnershipTracker
from arpwatch_lb.core.verdicts import distinct_nodes
from arpwatch_lb.kube.model import (
    KUBE_VIP,
    METALLB,
    SERVICELB,
    ServiceRef,
    classify_pods,
    event_stats,
    node_internal_ips,
    service_evidence,
    service_vips,
    vip_snapshot,
)
from arpwatch_lb.kube.nodes import claimant_nodes, mac_nodes


def _svc(**kw: object) -> dict:
    spec = {"type": "LoadBalancer", **kw.pop("spec", {})}  # type: ignore[dict-item]
    return {"metadata": {"name": "s", "namespace": "ns", **kw.pop("metadata", {})},  # type: ignore[dict-item]
            "spec": spec, **kw}


@pytest.mark.parametrize(("svc", "want"), [
    (_svc(status={"loadBalancer": {"ingress": [{"ip": "192.0.2.5"}]}}), ["192.0.2.5"]),
    (_svc(status={"loadBalancer": {"ingress": [{"ip": "192.0.2.5", "ports": [{"port": 80}]}]}}),
     ["192.0.2.5"]),
    (_svc(spec={"loadBalancerIP": "192.0.2.6"}), ["192.0.2.6"]),
    (_svc(metadata={"annotations": {"metallb.io/loadBalancerIPs": "192.0.2.7, 2001:db8::1"}}),
     ["192.0.2.7", "2001:db8::1"]),
    # dual stack: one VIP of each family, IPv6 in its canonical (RFC 5952) form
    (_svc(status={"loadBalancer": {"ingress": [{"ip": "192.0.2.9"},
                                               {"ip": "2001:DB8:0:0::0:103"}]}}),
     ["192.0.2.9", "2001:db8::103"]),
    (_svc(spec={"loadBalancerIP": "2001:db8::104"}), ["2001:db8::104"]),
    (_svc(status={"loadBalancer": {"ingress": [{"ip": "fe80::1%eth0"}, {"ip": "not-an-ip"}]}}),
     []),
    (_svc(metadata={"annotations": {"kube-vip.io/loadbalancerIPs": "192.0.2.8"}},
          status={"loadBalancer": {"ingress": [{"ip": "192.0.2.8"}, {"hostname": "lb.example"}]}}),
     ["192.0.2.8"]),
    (_svc(), []),
    (_svc(status={"loadBalancer": {}}), []),
])
def test_service_vips(svc: dict, want: list[str]) -> None:
    assert service_vips(svc) == want


def test_vip_snapshot_ignores_other_types_and_groups_shared_vips() -> None:
    a = _svc(status={"loadBalancer": {"ingress": [{"ip": "192.0.2.5"}]}})
    b = _svc(metadata={"name": "t"}, status={"loadBalancer": {"ingress": [{"ip": "192.0.2.5"}]}})
    c = {"metadata": {"name": "cip", "namespace": "ns"}, "spec": {"type": "ClusterIP",
                                                                  "loadBalancerIP": "192.0.2.9"}}
    snap = vip_snapshot([a, b, c], "42")
    assert snap.vips == {"192.0.2.5"}
    assert snap.services["192.0.2.5"] == (ServiceRef("ns", "s"), ServiceRef("ns", "t"))
    assert snap.packed() == {bytes([192, 0, 2, 5])}
    assert snap.resource_version == "42"


def test_flapping_status_keeps_one_vip() -> None:
    assert service_vips(contested_service(True)) == service_vips(contested_service(False))


def test_node_internal_ips() -> None:
    assert node_internal_ips(node("node1")) == ["192.0.2.11"]
    assert node_internal_ips({"metadata": {"name": "x"}}) == []
    dual = {"metadata": {"name": "n"}, "status": {"addresses": [
        {"type": "InternalIP", "address": "192.0.2.11"},
        {"type": "InternalIP", "address": "2001:db8::11"},
        {"type": "ExternalIP", "address": "2001:db8:1::11"},
        {"type": "Hostname", "address": "n"}]}}
    assert node_internal_ips(dual) == ["192.0.2.11", "2001:db8::11"]


def test_vip_snapshot_packs_ipv6_as_sixteen_bytes() -> None:
    snap = vip_snapshot([_svc(status={"loadBalancer": {"ingress": [
        {"ip": "192.0.2.5"}, {"ip": "2001:db8::5"}]}})])
    assert snap.packed() == {bytes([192, 0, 2, 5]),
                             bytes.fromhex("20010db8000000000000000000000005")}


def test_evidence_for_the_reported_case() -> None:
    svc = contested_service(True)
    ev = service_evidence(svc, [node_assigned_event(0), node_assigned_event(1)], [l2status()])
    assert set(ev.acting) == {METALLB, KUBE_VIP}
    assert ev.announcing_nodes == {KUBE_VIP: {"node1"}, METALLB: {"node2"}}
    assert "field manager kube-vip (status)" in ev.acting[KUBE_VIP]
    assert any(line.startswith("ServiceL2Status") for line in ev.acting[METALLB])
    assert set(ev.eligible) >= {METALLB, KUBE_VIP}


def test_evidence_with_class_and_foreign_events() -> None:
    svc = kube_vip_service()
    ev = service_evidence(svc, [node_assigned_event(0)], [l2status()])
    assert set(ev.acting) == {KUBE_VIP}  # the Events and the L2 status are web's, not api's
    assert set(ev.eligible) == {KUBE_VIP}


def test_servicelb_recognised_by_node_ip_status() -> None:
    svc = _svc(status={"loadBalancer": {"ingress": [{"ip": "192.0.2.11"}]}})
    ev = service_evidence(svc, node_ips={"192.0.2.11": "node1"})
    assert SERVICELB in ev.acting


def test_event_stats_counts_aggregated_events_and_rate() -> None:
    ref = ServiceRef("default", "web")
    evs = [node_assigned_event(i, count=2) for i in range(240)]  # 60 s of stamps
    stats = event_stats(evs, ref)
    assert stats.events == 480 and stats.objects == 240
    assert stats.by_reason == {"nodeAssigned": 480}
    assert stats.per_minute is not None and stats.per_minute > 400
    assert event_stats(evs, ServiceRef("default", "other")).events == 0


def test_classify_pods() -> None:
    pods = [
        {"metadata": {"name": "speaker-x", "namespace": "metallb-system"},
         "spec": {"nodeName": "n1", "containers": [{"image": "quay.io/metallb/speaker:v0.14.5"}]},
         "status": {"phase": "Running"}},
        {"metadata": {"name": "svclb-web-1234abcd-x", "namespace": "kube-system"},
         "spec": {"containers": [{"image": "rancher/klipper-lb:v0.4.9"}]}},
        {"metadata": {"name": "kv", "namespace": "kube-system"},
         "spec": {"containers": [{"image": "ghcr.io/kube-vip/kube-vip:v0.8.9"}]},
         "status": {"phase": "Succeeded"}},
        {"metadata": {"name": "nginx", "namespace": "default"},
         "spec": {"containers": [{"image": "nginx"}]}},
    ]
    assert classify_pods(pods) == {METALLB: ["metallb-system/speaker-x (n1)"],
                                   SERVICELB: ["kube-system/svclb-web-1234abcd-x"]}


def _claim(t: float, mac: bytes, ip: bytes, op: int = 1, tpa: bytes | None = None) -> Claim:
    return Claim(t, None, None, op, mac, ip, b"\0" * 6, tpa or ip, mac, b"\xff" * 6, 60)


M1, M2, M3, M4 = (bytes([2, 0, 0, 0, 0, i]) for i in (1, 2, 3, 4))
N1, N2, VIP = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), bytes([10, 0, 0, 100])


def test_several_macs_of_one_node_are_one_claimant() -> None:
    tr = OwnershipTracker(window=60)
    # node1 has a bond of two NICs (M1, M3): both claim its InternalIP (ARP flux)
    tr.feed_all([_claim(0, M1, N1), _claim(0.1, M3, N1), _claim(0.2, M2, N2)])
    for i in range(6):  # both of node1's NICs answer for the VIP, alternating
        tr.feed(_claim(1 + i, (M1, M3)[i % 2], VIP))
    nodes = mac_nodes(tr, {"10.0.0.1": "node1", "10.0.0.2": "node2"})
    assert nodes == {M1: "node1", M3: "node1", M2: "node2"}
    st = tr.ips[(None, None, VIP)]
    assert st.flip_flops > 0  # the tracker sees two MACs…
    assert claimant_nodes(st, nodes) == {"node1": [M3, M1]}
    assert distinct_nodes(st, nodes) == 1  # …but it is one node: not a fight
    tr.feed(_claim(10, M2, VIP))
    tr.feed(_claim(11, M4, VIP))  # a MAC nobody knows
    assert distinct_nodes(st, nodes) == 3


def test_mac_claiming_two_nodes_addresses_is_ambiguous() -> None:
    tr = OwnershipTracker()
    tr.feed_all([_claim(0, M1, N1), _claim(1, M1, N2), _claim(2, M2, N2)])
    assert mac_nodes(tr, {"10.0.0.1": "node1", "10.0.0.2": "node2"}) == {M2: "node2"}
