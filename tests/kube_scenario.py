"""The reported case as API objects: MetalLB and kube-vip both handling one class-less Service.

Matches ``pcaps/metallb-vs-kubevip.pcap`` (recorded by ``lab/``): node1
(02:00:5e:10:00:01, InternalIP 192.0.2.11) plays kube-vip, node2
(02:00:5e:10:00:02, 192.0.2.12) plays MetalLB, VIP 192.0.2.103.  That capture
never shows the nodes' own addresses, so :func:`node_arp_pcap` writes the
ordinary ARP chatter of the two node kernels (who-has the client, and the
client's replies) over the same seconds; replayed together they let the
doctor name the MACs.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from fake_apiserver import FakeApiServer

ROOT = Path(__file__).resolve().parent.parent
PCAP = ROOT / "pcaps" / "metallb-vs-kubevip.pcap"
VIP = "192.0.2.103"
OTHER_VIP = "192.0.2.120"
NODES = {"node1": ("192.0.2.11", "02:00:5e:10:00:01"), "node2": ("192.0.2.12", "02:00:5e:10:00:02")}
CLIENT = ("192.0.2.10", "02:00:5e:10:00:10")
BROADCAST = "ff:ff:ff:ff:ff:ff"


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _ip(text: str) -> bytes:
    return bytes(int(p) for p in text.split("."))


def arp_frame(op: int, sha: str, spa: str, tha: str, tpa: str, dst: str) -> bytes:
    """An Ethernet ARP frame padded to 60 bytes."""
    eth = _mac(dst) + _mac(sha) + b"\x08\x06"
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + _mac(sha) + _ip(spa) + _mac(tha) + _ip(tpa)
    return (eth + arp).ljust(60, b"\0")


def write_pcap(path: Path, frames: list[tuple[float, bytes]]) -> Path:
    """A classic little-endian pcap (Ethernet, microseconds)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for t, data in frames:
        sec = int(t)
        out.append(struct.pack("<IIII", sec, round((t - sec) * 1e6), len(data), len(data)))
        out.append(data)
    path.write_bytes(b"".join(out))
    return path


def first_time(pcap: Path = PCAP) -> float:
    """Timestamp of the first record of a little-endian microsecond pcap."""
    data = pcap.read_bytes()[24:32]
    sec, usec = struct.unpack("<II", data)
    return sec + usec / 1e6


def node_arp_pcap(path: Path, start: float | None = None) -> Path:
    """Each node's kernel resolving the client, once a second for 10 s, and the replies."""
    t0 = first_time() if start is None else start
    frames = []
    for i in range(10):
        for j, (ip, mac) in enumerate(NODES.values()):
            t = t0 + i + 0.05 + j * 0.01
            frames.append((t, arp_frame(1, mac, ip, "00:00:00:00:00:00", CLIENT[0], BROADCAST)))
            frames.append((t + 0.001, arp_frame(2, CLIENT[1], CLIENT[0], mac, ip, mac)))
    return write_pcap(path, frames)


def node(name: str) -> dict[str, Any]:
    """A Node as the API returns it."""
    ip, _ = NODES[name]
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip},
                                     {"type": "Hostname", "address": name}]}}


def contested_service(with_ports: bool) -> dict[str, Any]:
    """default/web: no loadBalancerClass, handled by MetalLB *and* kube-vip.

    ``with_ports``: the status as kube-vip writes it ({ip, ports}); otherwise as
    MetalLB writes it ({ip}).  The two rewrite each other forever.
    """
    ingress: dict[str, Any] = {"ip": VIP, "ipMode": "VIP"}
    if with_ports:
        ingress["ports"] = [{"port": 80, "protocol": "TCP"}]
    return {
        "metadata": {
            "name": "web", "namespace": "default",
            "annotations": {"metallb.io/ip-allocated-from-pool": "default-pool",
                            "kube-vip.io/vipHost": "node1"},
            "managedFields": [
                {"manager": "kubectl-client-side-apply", "operation": "Update",
                 "apiVersion": "v1", "time": "2026-11-28T01:00:00Z", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:spec": {}}},
                {"manager": "metallb-controller", "operation": "Update", "apiVersion": "v1",
                 "time": "2026-11-28T02:28:00Z", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:status": {}}, "subresource": "status"},
                {"manager": "kube-vip", "operation": "Update", "apiVersion": "v1",
                 "time": "2026-11-28T02:28:01Z", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:metadata": {"f:annotations": {}}, "f:status": {}},
                 "subresource": "status"},
            ],
        },
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP",
                                                    "targetPort": 8080, "nodePort": 31080}],
                 "selector": {"app": "web"}, "clusterIP": "10.43.0.50",
                 "externalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": True},
        "status": {"loadBalancer": {"ingress": [ingress]}},
    }


def metallb_only_service(**annotations: str) -> dict[str, Any]:
    """default/web after kube-vip stepped back: MetalLB's pool annotation (plus
    ``annotations``) and only MetalLB's and the user's field managers."""
    svc = contested_service(False)
    svc["metadata"]["annotations"] = {"metallb.io/ip-allocated-from-pool": "default-pool",
                                      **annotations}
    svc["metadata"]["managedFields"] = svc["metadata"]["managedFields"][:2]
    return svc


def kube_vip_service() -> dict[str, Any]:
    """default/api: class kube-vip.io/kube-vip-class — kube-vip only, MetalLB ignores it."""
    return {
        "metadata": {"name": "api", "namespace": "default",
                     "annotations": {"kube-vip.io/vipHost": "node1",
                                     "kube-vip.io/loadbalancerIPs": OTHER_VIP}},
        "spec": {"type": "LoadBalancer", "loadBalancerClass": "kube-vip.io/kube-vip-class",
                 "ports": [{"port": 443, "protocol": "TCP"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": OTHER_VIP, "ports": [
            {"port": 443, "protocol": "TCP"}]}]}},
    }


def node_assigned_event(i: int, node_name: str = "node2", count: int = 1) -> dict[str, Any]:
    """One MetalLB speaker ``nodeAssigned`` Event for default/web."""
    minute, second = divmod(i // 4, 60)
    stamp = f"2026-11-28T02:{18 + minute % 10:02d}:{second:02d}Z"
    return {
        "metadata": {"name": f"web.{i:016x}", "namespace": "default"},
        "involvedObject": {"kind": "Service", "namespace": "default", "name": "web",
                           "apiVersion": "v1", "uid": "0b6c-web"},
        "reason": "nodeAssigned",
        "message": f'announcing from node "{node_name}" with protocol "layer2"',
        "source": {"component": "metallb-speaker"},
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": count, "type": "Normal",
        "reportingComponent": "metallb-speaker", "reportingInstance": "",
    }


def pod(name: str, namespace: str, image: str, node_name: str) -> dict[str, Any]:
    """A running Pod."""
    return {"metadata": {"name": name, "namespace": namespace},
            "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": image}]},
            "status": {"phase": "Running"}}


def l2status() -> dict[str, Any]:
    """MetalLB's ServiceL2Status for default/web: announced from node2."""
    return {"apiVersion": "metallb.io/v1beta1", "kind": "ServiceL2Status",
            "metadata": {"name": "l2-abcde", "namespace": "metallb-system",
                         "labels": {"metallb.io/node": "node2",
                                    "metallb.io/service-name": "web",
                                    "metallb.io/service-namespace": "default"}},
            "status": {"node": "node2", "serviceName": "web", "serviceNamespace": "default",
                       "interfaces": [{"name": "eth0"}]}}


def populate(api: FakeApiServer, events: int = 3000, flaps: int = 20) -> None:
    """The whole reported cluster: two nodes, both announcers, the status fight, the storm."""
    for n in NODES:
        api.put("nodes", node(n))
    for n in NODES:
        api.put("pods", pod(f"speaker-{n}", "metallb-system", "quay.io/metallb/speaker:v0.14.5", n))
        api.put("pods", pod(f"kube-vip-ds-{n}", "kube-system",
                            "ghcr.io/kube-vip/kube-vip:v0.8.9", n))
    api.put("pods", pod("controller-7d", "metallb-system", "quay.io/metallb/controller:v0.14.5",
                        "node1"))
    api.put("servicel2statuses", l2status())
    api.put("services", kube_vip_service())
    for i in range(flaps):  # the status ping-pong: {ip} ↔ {ip, ports}
        api.put("services", contested_service(with_ports=i % 2 == 1))
    for i in range(events):
        api.put("events", node_assigned_event(i))


NODE1_NIC2 = "02:00:5e:10:01:01"
"""node1's second NIC on the segment (``lab.netlab.Host.add_nic``): two MACs, one node."""


def two_nic_pcap(path: Path, start: float = 1_795_830_000.0, rounds: int = 4) -> Path:
    """node1 with two NICs on the segment and the kernel's default ``arp_ignore=0``.

    The client asks who has node1's InternalIP, then the VIP (bound on node1),
    once a second; *both* NICs of node1 answer every request, each with its
    own MAC ("ARP flux") — a duplicate reply per request from one node.
    """
    node1_ip, nic1 = NODES["node1"]
    frames = []
    for i in range(rounds):
        t = start + i
        for k, target in enumerate((node1_ip, VIP)):
            tk = t + k * 0.1
            frames.append((tk, arp_frame(1, CLIENT[1], CLIENT[0], "00:00:00:00:00:00", target,
                                         BROADCAST)))
            for j, mac in enumerate((nic1, NODE1_NIC2)):
                frames.append((tk + 0.001 + j * 0.0005,
                               arp_frame(2, mac, target, CLIENT[1], CLIENT[0], CLIENT[1])))
    return write_pcap(path, frames)
