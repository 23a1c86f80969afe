"""Fixture clusters for ``doctor``'s findings: one per cause, as API objects and as a capture.

Each ``*_cluster(api)`` function fills a :class:`~fake_apiserver.FakeApiServer`
with the objects a cluster with that cause has (shapes from the field notes,
"What each announcer leaves in the Kubernetes API"); each ``*_pcap(path)``
writes the segment as it looks on the wire in that cluster, frame by frame in
the announcers' own formats:

* MetalLB (lab/announce.py ``build_metallb_pair``): gratuitous op=1 + op=2
  pairs, target MAC broadcast, 60 bytes, every 1.1 s; the speaker answers
  requests itself, unicast op=2, 60 bytes;
* kube-vip (``build_kubevip``): one 42-byte frame per VIP every 3 s, op=2 with
  target MAC = own MAC and op=1 with target MAC broadcast alternating; the
  node's kernel answers requests (42 bytes: the kernel does not pad);
* Cilium: one op=2 (target MAC broadcast) on take-over; requests answered in
  BPF by rewriting the request into a reply of the **same length**;
* kernels: each node resolves the client now and then (its InternalIP appears
  as sender: that names the node's MACs), and nodes with the VIP bound answer
  requests for it.

Addresses (TEST-NET-1 only):

=======  ============  ===================
host     IPv4          MAC
=======  ============  ===================
client   192.0.2.10    02:00:5e:10:00:10
node-a   192.0.2.21    02:00:5e:10:00:a1 (second NIC 02:00:5e:10:00:a2)
node-b   192.0.2.22    02:00:5e:10:00:b1
node-c   192.0.2.23    02:00:5e:10:00:c1
=======  ============  ===================
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pcapgen
from conftest import BROADCAST, ZERO_MAC, arp, ether, ip, mac
from fake_apiserver import FakeApiServer

from lab.announce import build_kubevip, build_metallb_pair

CLIENT_IP, CLIENT_MAC = "192.0.2.10", "02:00:5e:10:00:10"
NODES = {"node-a": ("192.0.2.21", "02:00:5e:10:00:a1"),
         "node-b": ("192.0.2.22", "02:00:5e:10:00:b1"),
         "node-c": ("192.0.2.23", "02:00:5e:10:00:c1")}
NODE_A_NIC2 = "02:00:5e:10:00:a2"
CP_VIP = "192.0.2.100"
T0 = 1_800_000_000.0
ETH_ARP = 0x0806

Frames = list[tuple[float, bytes]]


# -- frames -----------------------------------------------------------------


def kernel_request(sender_mac: str, sender_ip: str, target_ip: str, pad: int = 0) -> bytes:
    """A who-has from a host's kernel (42 bytes unless ``pad``)."""
    return ether(BROADCAST, mac(sender_mac), ETH_ARP,
                 arp(1, mac(sender_mac), ip(sender_ip), ZERO_MAC, ip(target_ip)), pad=pad)


def kernel_reply(sender_mac: str, sender_ip: str, to_mac: str, to_ip: str) -> bytes:
    """An is-at from a host's kernel, unicast to the requester (42 bytes)."""
    return ether(mac(to_mac), mac(sender_mac), ETH_ARP,
                 arp(2, mac(sender_mac), ip(sender_ip), mac(to_mac), ip(to_ip)), pad=0)


def metallb_reply(sender_mac: str, vip: str, to_mac: str, to_ip: str) -> bytes:
    """MetalLB's speaker answering a request from userspace: unicast op=2, padded to 60."""
    return ether(mac(to_mac), mac(sender_mac), ETH_ARP,
                 arp(2, mac(sender_mac), ip(vip), mac(to_mac), ip(to_ip)), pad=60)


def cilium_reply(sender_mac: str, vip: str, request: bytes) -> bytes:
    """Cilium's BPF responder: the request rewritten into a reply of the same length."""
    to_mac = request[6:12]
    to_ip = request[28:32]
    body = ether(to_mac, mac(sender_mac), ETH_ARP, arp(2, mac(sender_mac), ip(vip), to_mac, to_ip),
                 pad=0)
    return body + request[len(body):]


def cilium_garp(sender_mac: str, vip: str) -> bytes:
    """Cilium's one gratuitous op=2 on taking a Service over (target MAC broadcast)."""
    return ether(BROADCAST, mac(sender_mac), ETH_ARP,
                 arp(2, mac(sender_mac), ip(vip), BROADCAST, ip(vip)), pad=0)


def node_chatter(nodes: dict[str, tuple[str, str]], seconds: int, t0: float = T0,
                 extra_macs: dict[str, list[str]] | None = None) -> Frames:
    """Each node's kernel resolving the client every second, and the client's replies.

    ``extra_macs``: node → further MACs that also send its requests (a second NIC
    with the kernel's default arp_ignore=0 / arp_announce=0).
    """
    out: Frames = []
    for i in range(seconds):
        for j, (name, (nip, nmac)) in enumerate(sorted(nodes.items())):
            for k, m in enumerate([nmac, *(extra_macs or {}).get(name, [])]):
                t = t0 + i + 0.7 + j * 0.01 + k * 0.003
                out.append((t, kernel_request(m, nip, CLIENT_IP)))
                out.append((t + 0.0005, kernel_reply(CLIENT_MAC, CLIENT_IP, m, nip)))
    return out


def metallb_burst(sender_mac: str, vip: str, t0: float) -> Frames:
    """One MetalLB announcement window: a pair at once, then one every 1.1 s for 5 s."""
    out: Frames = []
    for k in range(5):
        for n, frame in enumerate(build_metallb_pair(sender_mac, vip)):
            out.append((t0 + k * 1.1 + n * 0.00002, frame))
    return out


def kubevip_garps(sender_mac: str, vip: str, t0: float, seconds: float, rate: float = 3.0) -> Frames:
    """kube-vip's leader loop: one frame per tick, opcode alternating 2, 1, 2, …"""
    out: Frames = []
    k = 0
    while k * rate < seconds:
        out.append((t0 + k * rate, build_kubevip(sender_mac, vip, 2 if k % 2 == 0 else 1)))
        k += 1
    return out


def write(path: Path, frames: Frames) -> Path:
    """Frames (any order) → a classic pcap through :mod:`pcapgen`."""
    packets = []
    for t, data in sorted(frames, key=lambda f: f[0]):
        sec = int(t)
        packets.append(pcapgen.Packet(data, sec, round((t - sec) * 1e6)))
    return pcapgen.write(path, pcapgen.pcap(packets))


# -- API objects --------------------------------------------------------------


def node(name: str, *, k3s_args: list[str] | None = None) -> dict[str, Any]:
    """A Node (k3s: kubelet version ``+k3s1`` and the ``k3s.io/node-args`` annotation)."""
    nip, _ = NODES[name]
    md: dict[str, Any] = {"name": name, "labels": {"kubernetes.io/hostname": name}}
    info = {"kubeletVersion": "v1.30.2", "kubeProxyVersion": "v1.30.2"}
    if k3s_args is not None:
        import json

        md["annotations"] = {"k3s.io/node-args": json.dumps(k3s_args)}
        info = {"kubeletVersion": "v1.29.4+k3s1", "kubeProxyVersion": "v1.29.4+k3s1"}
    return {"metadata": md, "status": {"addresses": [{"type": "InternalIP", "address": nip},
                                                     {"type": "Hostname", "address": name}],
                                       "nodeInfo": info}}


def pod(name: str, namespace: str, image: str, node_name: str, env: dict[str, str] | None = None,
        static: bool = False, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A running Pod (``static``: a mirror pod of a static manifest)."""
    md: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels or {}}
    if static:
        md["annotations"] = {"kubernetes.io/config.mirror": "0123abcd"}
        md["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node_name,
                                  "uid": f"uid-{node_name}", "controller": True}]
    container: dict[str, Any] = {"name": name.split("-")[0], "image": image}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return {"metadata": md, "spec": {"nodeName": node_name, "containers": [container]},
            "status": {"phase": "Running"}}


KUBE_VIP_IMAGE = "ghcr.io/kube-vip/kube-vip:v0.8.9"
SPEAKER_IMAGE = "quay.io/metallb/speaker:v0.14.5"
CILIUM_IMAGE = "quay.io/cilium/cilium:v1.15.4"
KUBE_VIP_SVC_ENV = {"vip_arp": "true", "vip_interface": "eth0", "svc_enable": "true",
                    "svc_election": "true", "vip_leaseduration": "5"}


def lease(name: str, namespace: str, holder: str, duration: int = 15,
          renewed: float | None = None) -> dict[str, Any]:
    """A coordination.k8s.io/v1 Lease held by ``holder`` (renewed now unless told)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z",
                          time.gmtime(time.time() if renewed is None else renewed))
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration,
                     "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 3}}


def metallb_service(name: str, vip: str, pool: str = "default-pool",
                    namespace: str = "default") -> dict[str, Any]:
    """A class-less Service that MetalLB assigned from ``pool`` (its marks only)."""
    return {
        "metadata": {"name": name, "namespace": namespace,
                     "annotations": {"metallb.io/ip-allocated-from-pool": pool},
                     "managedFields": [
                         {"manager": "kubectl-client-side-apply", "operation": "Update",
                          "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}},
                         {"manager": "metallb-controller", "operation": "Update", "apiVersion": "v1",
                          "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {}},
                          "subresource": "status"}]},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}],
                 "selector": {"app": name}},
        "status": {"loadBalancer": {"ingress": [{"ip": vip, "ipMode": "VIP"}]}},
    }


def kubevip_service(name: str, vip: str, vip_host: str, namespace: str = "default",
                    klass: str | None = "kube-vip.io/kube-vip-class") -> dict[str, Any]:
    """A Service kube-vip announces (its class; vipHost; status ingress with ports)."""
    spec: dict[str, Any] = {"type": "LoadBalancer", "ports": [{"port": 443, "protocol": "TCP"}]}
    if klass:
        spec["loadBalancerClass"] = klass
    return {"metadata": {"name": name, "namespace": namespace,
                         "annotations": {"kube-vip.io/vipHost": vip_host,
                                         "kube-vip.io/loadbalancerIPs": vip},
                         "managedFields": [{"manager": "kube-vip", "operation": "Update",
                                            "apiVersion": "v1", "fieldsType": "FieldsV1",
                                            "fieldsV1": {"f:status": {}}, "subresource": "status"}]},
            "spec": spec,
            "status": {"loadBalancer": {"ingress": [{"ip": vip, "ports": [
                {"port": 443, "protocol": "TCP"}]}]}}}


def cilium_service(name: str, vip: str, labels: dict[str, str],
                   namespace: str = "default") -> dict[str, Any]:
    """A Service of class io.cilium/l2-announcer that Cilium LB IPAM assigned."""
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels,
                         "managedFields": [{"manager": "cilium-operator-lb-ipam", "operation": "Apply",
                                            "apiVersion": "v1", "fieldsType": "FieldsV1",
                                            "fieldsV1": {"f:status": {}}, "subresource": "status"}]},
            "spec": {"type": "LoadBalancer", "loadBalancerClass": "io.cilium/l2-announcer",
                     "ports": [{"port": 8080, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": vip}]},
                       "conditions": [{"type": "io.cilium/lb-ipam-request-satisfied",
                                       "status": "True", "reason": "satisfied",
                                       "message": "", "lastTransitionTime": "2026-11-28T01:00:00Z"}]}}


def l2status(svc: str, node_name: str, interfaces: list[str] | None = None,
             namespace: str = "default") -> dict[str, Any]:
    """MetalLB's ServiceL2Status for ``namespace/svc`` announced from ``node_name``."""
    return {"apiVersion": "metallb.io/v1beta1", "kind": "ServiceL2Status",
            "metadata": {"name": f"l2-{svc}-{node_name}", "namespace": "metallb-system",
                         "labels": {"metallb.io/node": node_name, "metallb.io/service-name": svc,
                                    "metallb.io/service-namespace": namespace}},
            "status": {"node": node_name, "serviceName": svc, "serviceNamespace": namespace,
                       "interfaces": [{"name": i} for i in interfaces or ["eth0"]]}}


def ipaddresspool(name: str, *addresses: str) -> dict[str, Any]:
    """A MetalLB IPAddressPool."""
    return {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": name, "namespace": "metallb-system"},
            "spec": {"addresses": list(addresses)}}


def l2advertisement(name: str, pools: list[str] | None = None,
                    interfaces: list[str] | None = None) -> dict[str, Any]:
    """A MetalLB L2Advertisement (no pools named: every pool)."""
    spec: dict[str, Any] = {}
    if pools:
        spec["ipAddressPools"] = pools
    if interfaces:
        spec["interfaces"] = interfaces
    return {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
            "metadata": {"name": name, "namespace": "metallb-system"}, "spec": spec}


def cilium_pool(name: str, start: str, stop: str) -> dict[str, Any]:
    """A CiliumLoadBalancerIPPool with one start/stop block and no serviceSelector."""
    return {"apiVersion": "cilium.io/v2alpha1", "kind": "CiliumLoadBalancerIPPool",
            "metadata": {"name": name}, "spec": {"blocks": [{"start": start, "stop": stop}]}}


def cilium_policy(name: str, service_selector: dict[str, Any] | None = None,
                  conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A CiliumL2AnnouncementPolicy for LoadBalancer IPs on eth0."""
    spec: dict[str, Any] = {"interfaces": ["^eth0$"], "loadBalancerIPs": True}
    if service_selector is not None:
        spec["serviceSelector"] = service_selector
    obj: dict[str, Any] = {"apiVersion": "cilium.io/v2alpha1", "kind": "CiliumL2AnnouncementPolicy",
                           "metadata": {"name": name}, "spec": spec}
    if conditions:
        obj["status"] = {"conditions": conditions}
    return obj


def configmap(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    """A ConfigMap."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": data}


def kube_proxy_configmap(mode: str, strict_arp: bool) -> dict[str, Any]:
    """kubeadm's kube-system/kube-proxy ConfigMap (``config.conf``: KubeProxyConfiguration)."""
    conf = ("apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
            "bindAddress: 0.0.0.0\n"
            "clusterCIDR: 10.244.0.0/16\n"
            "ipvs:\n"
            "  excludeCIDRs: null\n"
            "  scheduler: \"\"\n"
            f"  strictARP: {'true' if strict_arp else 'false'}\n"
            "kind: KubeProxyConfiguration\n"
            f"mode: \"{mode}\"\n")
    return configmap("kube-proxy", "kube-system", {"config.conf": conf, "kubeconfig.conf": "..."})


def put_nodes(api: FakeApiServer, names: list[str], **kw: Any) -> None:
    """Nodes ``names``."""
    for n in names:
        api.put("nodes", node(n, **kw))


def put_metallb(api: FakeApiServer, nodes: list[str], pools: dict[str, list[str]],
                adverts: list[dict[str, Any]] | None = None) -> None:
    """MetalLB: speakers on ``nodes``, the controller, pools and L2Advertisements."""
    for n in nodes:
        api.put("pods", pod(f"speaker-{n}", "metallb-system", SPEAKER_IMAGE, n))
    api.put("pods", pod("controller-7d9f", "metallb-system", "quay.io/metallb/controller:v0.14.5",
                        nodes[0]))
    for name, addrs in pools.items():
        api.put("ipaddresspools", ipaddresspool(name, *addrs))
    for a in adverts if adverts is not None else [l2advertisement("l2")]:
        api.put("l2advertisements", a)


# -- the clusters, one per cause ---------------------------------------------------

IPVS_VIP = "192.0.2.101"


def ipvs_cluster(api: FakeApiServer) -> None:
    """MetalLB only; kube-proxy in IPVS mode without strictARP; three nodes."""
    put_nodes(api, ["node-a", "node-b", "node-c"])
    put_metallb(api, ["node-a", "node-b", "node-c"], {"default-pool": ["192.0.2.100-192.0.2.120"]})
    for n in ("node-a", "node-b", "node-c"):
        api.put("pods", pod(f"kube-proxy-{n[-1]}x1", "kube-system",
                            "registry.k8s.io/kube-proxy:v1.30.2", n))
    api.put("configmaps", kube_proxy_configmap("ipvs", strict_arp=False))
    api.put("services", metallb_service("web", IPVS_VIP))
    api.put("servicel2statuses", l2status("web", "node-a"))


def ipvs_pcap(path: Path) -> Path:
    """The speaker on node-a announces; every node's kernel answers each request (VIP on kube-ipvs0)."""
    frames = node_chatter(NODES, 8)
    frames += metallb_burst(NODES["node-a"][1], IPVS_VIP, T0 + 0.2)
    for i in range(6):
        t = T0 + 1.3 + i
        frames.append((t, kernel_request(CLIENT_MAC, CLIENT_IP, IPVS_VIP)))
        frames.append((t + 0.0003, metallb_reply(NODES["node-a"][1], IPVS_VIP, CLIENT_MAC,
                                                 CLIENT_IP)))
        for k, n in enumerate(("node-b", "node-c")):
            frames.append((t + 0.0006 + k * 0.0002,
                           kernel_reply(NODES[n][1], IPVS_VIP, CLIENT_MAC, CLIENT_IP)))
    return write(path, frames)


STALE_VIP = "192.0.2.102"


def stale_kubevip_cluster(api: FakeApiServer) -> None:
    """kube-vip only (its class, svc_election): Lease default/kubevip-web and vipHost say node-b."""
    put_nodes(api, ["node-a", "node-b"])
    for n in ("node-a", "node-b"):
        api.put("pods", pod(f"kube-vip-ds-{n}", "kube-system", KUBE_VIP_IMAGE, n, KUBE_VIP_SVC_ENV))
    api.put("daemonsets", {"apiVersion": "apps/v1", "kind": "DaemonSet",
                           "metadata": {"name": "kube-vip-ds", "namespace": "kube-system"},
                           "spec": {"template": {"spec": {"containers": [
                               {"name": "kube-vip", "image": KUBE_VIP_IMAGE,
                                "env": [{"name": k, "value": v}
                                        for k, v in KUBE_VIP_SVC_ENV.items()]}]}}}})
    api.put("services", kubevip_service("web", STALE_VIP, vip_host="node-b"))
    api.put("leases", lease("kubevip-web", "default", "node-b"))


def stale_kubevip_pcap(path: Path) -> Path:
    """node-a kept the VIP: its kube-vip loop still sends GARPs, its kernel still answers;
    node-b (the holder) sends nothing for it."""
    frames = node_chatter({n: NODES[n] for n in ("node-a", "node-b")}, 15)
    frames += kubevip_garps(NODES["node-a"][1], STALE_VIP, T0 + 0.4, 15)
    for i in range(7):
        t = T0 + 1.1 + 2 * i
        frames.append((t, kernel_request(CLIENT_MAC, CLIENT_IP, STALE_VIP)))
        frames.append((t + 0.0002, kernel_reply(NODES["node-a"][1], STALE_VIP, CLIENT_MAC,
                                                CLIENT_IP)))
    return write(path, frames)


def cp_vip_cluster(api: FakeApiServer) -> None:
    """kube-vip's control-plane VIP 192.0.2.100 (static pod on node-a) inside MetalLB's pool;
    MetalLB gave that address to default/web, announced from node-b."""
    put_nodes(api, ["node-a", "node-b"])
    put_metallb(api, ["node-a", "node-b"], {"default-pool": ["192.0.2.100-192.0.2.120"]})
    api.put("pods", pod("kube-vip-node-a", "kube-system", KUBE_VIP_IMAGE, "node-a",
                        {"address": CP_VIP, "port": "6443", "cp_enable": "true",
                         "vip_interface": "eth0", "vip_arp": "true", "vip_leaderelection": "true"},
                        static=True))
    api.put("leases", lease("plndr-cp-lock", "kube-system", "node-a"))
    api.put("services", metallb_service("web", CP_VIP))
    api.put("services", metallb_service("shop", "192.0.2.101"))
    api.put("servicel2statuses", l2status("web", "node-b"))


def cp_vip_pcap(path: Path) -> Path:
    """node-a's kube-vip announces the control-plane VIP; node-b's speaker announces it for
    default/web; both answer the client's requests."""
    a, b = NODES["node-a"][1], NODES["node-b"][1]
    frames = node_chatter({n: NODES[n] for n in ("node-a", "node-b")}, 12)
    frames += kubevip_garps(a, CP_VIP, T0 + 0.1, 12)
    frames += metallb_burst(b, CP_VIP, T0 + 2.05)
    for i in range(5):
        t = T0 + 1.5 + 2 * i
        frames.append((t, kernel_request(CLIENT_MAC, CLIENT_IP, CP_VIP)))
        frames.append((t + 0.0002, kernel_reply(a, CP_VIP, CLIENT_MAC, CLIENT_IP)))
        frames.append((t + 0.0005, metallb_reply(b, CP_VIP, CLIENT_MAC, CLIENT_IP)))
    return write(path, frames)


OVERLAP_VIP = "192.0.2.120"


def overlap_cluster(api: FakeApiServer) -> None:
    """MetalLB's pool 192.0.2.96/27 and Cilium's pool 192.0.2.120-192.0.2.140 overlap; each
    IPAM gave 192.0.2.120 to one Service."""
    put_nodes(api, ["node-a", "node-b"])
    put_metallb(api, ["node-a", "node-b"], {"default-pool": ["192.0.2.96/27"]})
    for n in ("node-a", "node-b"):
        api.put("pods", pod(f"cilium-{n[-1]}q7", "kube-system", CILIUM_IMAGE, n))
    api.put("ciliumloadbalancerippools", cilium_pool("lb-pool", "192.0.2.120", "192.0.2.140"))
    api.put("ciliuml2announcementpolicies",
            cilium_policy("l2-cilium", {"matchLabels": {"announcer": "cilium"}}))
    api.put("services", metallb_service("web", OVERLAP_VIP))
    api.put("servicel2statuses", l2status("web", "node-a"))
    api.put("services", cilium_service("shop", OVERLAP_VIP, {"announcer": "cilium"}))
    api.put("leases", lease("cilium-l2announce-default-shop", "kube-system", "node-b"))


def overlap_pcap(path: Path) -> Path:
    """node-a's speaker and node-b's Cilium agent both answer for 192.0.2.120."""
    a, b = NODES["node-a"][1], NODES["node-b"][1]
    frames = node_chatter({n: NODES[n] for n in ("node-a", "node-b")}, 8)
    frames += metallb_burst(a, OVERLAP_VIP, T0 + 0.2)
    frames.append((T0 + 0.9, cilium_garp(b, OVERLAP_VIP)))
    for i in range(6):
        t = T0 + 1.4 + i
        req = kernel_request(CLIENT_MAC, CLIENT_IP, OVERLAP_VIP, pad=60)
        frames.append((t, req))
        frames.append((t + 0.0002, cilium_reply(b, OVERLAP_VIP, req)))
        frames.append((t + 0.0004, metallb_reply(a, OVERLAP_VIP, CLIENT_MAC, CLIENT_IP)))
    return write(path, frames)


POLICY_VIP = "192.0.2.105"


def cilium_policy_cluster(api: FakeApiServer, cilium_lease: bool = True) -> None:
    """MetalLB announces default/web; a CiliumL2AnnouncementPolicy without serviceSelector
    makes Cilium announce it too (Lease cilium-l2announce-default-web, node-b)."""
    put_nodes(api, ["node-a", "node-b"])
    put_metallb(api, ["node-a", "node-b"], {"default-pool": ["192.0.2.100-192.0.2.110"]})
    for n in ("node-a", "node-b"):
        api.put("pods", pod(f"cilium-{n[-1]}q7", "kube-system", CILIUM_IMAGE, n))
    api.put("ciliuml2announcementpolicies", cilium_policy("l2-all"))
    api.put("configmaps", configmap("cilium-config", "kube-system",
                                    {"enable-l2-announcements": "true",
                                     "kube-proxy-replacement": "true"}))
    api.put("services", metallb_service("web", POLICY_VIP))
    api.put("servicel2statuses", l2status("web", "node-a"))
    if cilium_lease:
        api.put("leases", lease("cilium-l2announce-default-web", "kube-system", "node-b"))


def cilium_policy_pcap(path: Path) -> Path:
    """MetalLB on node-a and Cilium on node-b both answer every request for the VIP."""
    a, b = NODES["node-a"][1], NODES["node-b"][1]
    frames = node_chatter({n: NODES[n] for n in ("node-a", "node-b")}, 8)
    frames += metallb_burst(a, POLICY_VIP, T0 + 0.2)
    frames.append((T0 + 0.5, cilium_garp(b, POLICY_VIP)))
    for i in range(6):
        t = T0 + 1.4 + i
        req = kernel_request(CLIENT_MAC, CLIENT_IP, POLICY_VIP, pad=60)
        frames.append((t, req))
        frames.append((t + 0.0003, metallb_reply(a, POLICY_VIP, CLIENT_MAC, CLIENT_IP)))
        frames.append((t + 0.0005, cilium_reply(b, POLICY_VIP, req)))
    return write(path, frames)


NICS_VIP = "192.0.2.106"


def several_nics_cluster(api: FakeApiServer, announcer: str) -> None:
    """node-a has two NICs on the segment; ``announcer`` ``metallb`` or ``kube-vip`` holds the VIP there."""
    put_nodes(api, ["node-a", "node-b"])
    if announcer == "metallb":
        put_metallb(api, ["node-a", "node-b"], {"default-pool": ["192.0.2.100-192.0.2.110"]},
                    [l2advertisement("l2-default", ["default-pool"])])
        api.put("services", metallb_service("web", NICS_VIP))
        api.put("servicel2statuses", l2status("web", "node-a", ["eth0", "eth1"]))
    else:
        for n in ("node-a", "node-b"):
            api.put("pods", pod(f"kube-vip-ds-{n}", "kube-system", KUBE_VIP_IMAGE, n,
                                KUBE_VIP_SVC_ENV))
        api.put("services", kubevip_service("web", NICS_VIP, vip_host="node-a"))
        api.put("leases", lease("kubevip-web", "default", "node-a"))


def several_nics_pcap(path: Path, announcer: str) -> Path:
    """Both of node-a's NICs answer for node-a's address and for the VIP (arp_ignore=0;
    MetalLB answers on every interface); node-b is a bystander."""
    a1, a2 = NODES["node-a"][1], NODE_A_NIC2
    frames = node_chatter({n: NODES[n] for n in ("node-a", "node-b")}, 10,
                          extra_macs={"node-a": [a2]})
    if announcer == "metallb":
        frames += metallb_burst(a1, NICS_VIP, T0 + 0.2)
        frames += metallb_burst(a2, NICS_VIP, T0 + 0.2005)
    else:
        frames += kubevip_garps(a1, NICS_VIP, T0 + 0.2, 10)
    for i in range(6):
        t = T0 + 1.3 + i
        frames.append((t, kernel_request(CLIENT_MAC, CLIENT_IP, NICS_VIP)))
        for k, m in enumerate((a1, a2)):
            reply = (metallb_reply(m, NICS_VIP, CLIENT_MAC, CLIENT_IP) if announcer == "metallb"
                     else kernel_reply(m, NICS_VIP, CLIENT_MAC, CLIENT_IP))
            frames.append((t + 0.0002 + k * 0.0003, reply))
    return write(path, frames)


K3S_ARGS = ["server", "--disable", "servicelb", "--disable", "traefik", "--flannel-backend", "none",
            "--disable-network-policy", "--token", "********"]
"""The reported cluster's k3s server arguments as ``k3s.io/node-args`` shows them."""
