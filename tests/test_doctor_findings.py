"""``doctor`` findings, one fixture cluster per cause, through the official client and a capture.

Every cluster is served by the fake API server (tests/fake_apiserver.py) and
diagnosed by the real command; each capture is written frame by frame in the
announcers' formats (tests/doctor_clusters.py).  Every finding's fix is asserted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import doctor_clusters as dc
import kube_scenario as ks
import pytest
import yaml
from click.testing import CliRunner
from fake_apiserver import FakeApiServer

from arpwatch_lb.cli.doctor import doctor

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    s = FakeApiServer().start()
    yield s
    s.stop()


def run(server: FakeApiServer, tmp_path: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    """doctor --format json against ``server``: (exit status, document, table output)."""
    kc = str(server.kubeconfig(tmp_path / "kubeconfig"))
    r = CliRunner().invoke(doctor, ["--kubeconfig", kc, *args, "--format", "json"])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    t = CliRunner().invoke(doctor, ["--kubeconfig", kc, *args])
    assert t.exit_code == r.exit_code, t.stdout
    return r.exit_code, json.loads(r.stdout), t.stdout


def service(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in doc["services"] if e["name"] == name)


def finding(findings: list[dict[str, Any]], fid: str) -> dict[str, Any]:
    (f,) = [f for f in findings if f["id"] == fid]
    return f


def ids(findings: list[dict[str, Any]]) -> dict[str, str]:
    return {f["id"]: f["severity"] for f in findings}


# -- kube-proxy IPVS without strictARP ---------------------------------------------


def test_ipvs_without_strict_arp_three_nodes_answer(server: FakeApiServer, tmp_path: Path) -> None:
    dc.ipvs_cluster(server)
    pcap = dc.ipvs_pcap(tmp_path / "ipvs.pcap")
    code, doc, table = run(server, tmp_path, "--pcap", str(pcap))
    web = service(doc, "web")
    (wire,) = web["wire"]
    assert wire["most_nodes_answering_one_request"] == 3 and wire["fight"]
    assert web["verdict"] == "contested" and code == 1
    # the cause is kube-proxy, not a second announcer and not a stale one
    assert ids(web["findings"]) == {"kube-proxy-strict-arp": "fault"}
    f = finding(web["findings"], "kube-proxy-strict-arp")
    assert f["title"] == "every node answers for 192.0.2.101: kube-proxy IPVS without strictARP"
    assert ("kube-proxy: mode: ipvs with ipvs.strictARP: false (ConfigMap kube-system/kube-proxy "
            "(config.conf))") in f["evidence"]
    assert any("3 nodes answered one ARP request for 192.0.2.101" in e for e in f["evidence"])
    assert f["fix"] == [
        "kubectl -n kube-system edit configmap kube-proxy   # in config.conf:",
        "  ipvs:",
        "    strictARP: true",
        "or in one go: kubectl -n kube-system get configmap kube-proxy -o yaml | sed -e "
        "'s/strictARP: false/strictARP: true/' | kubectl apply -f - -n kube-system",
        "then: kubectl -n kube-system rollout restart daemonset kube-proxy  (strictARP sets "
        "arp_ignore=1 and arp_announce=2: only the announcer's node answers)"]
    cluster = finding(doc["findings"], "kube-proxy-strict-arp")
    assert cluster["severity"] == "fault" and cluster["fix"] == f["fix"]
    assert "seen on the wire for default/web" in cluster["evidence"]
    assert doc["kube_proxy"] == {"status": "strict-arp-off", "mode": "ipvs", "strict_arp": False,
                                 "source": "ConfigMap kube-system/kube-proxy (config.conf)",
                                 "detail": "mode: ipvs with ipvs.strictARP: false"}
    assert "find the second announcer" not in json.dumps(doc)
    assert "kube-proxy-strict-arp" in table.split("default/web: CONTESTED")[0]  # the CAUSE column


def test_ipvs_without_wire_is_at_risk_and_exit_0(server: FakeApiServer, tmp_path: Path) -> None:
    dc.ipvs_cluster(server)
    code, doc, table = run(server, tmp_path)
    assert service(doc, "web")["verdict"] == "ok" and code == 0
    cluster = finding(doc["findings"], "kube-proxy-strict-arp")
    assert cluster["severity"] == "at-risk"
    assert "L2 announcers running: metallb" in cluster["evidence"]
    assert "strictARP: true" in cluster["fix"][2]
    assert "AT-RISK kube-proxy-strict-arp" in table


def test_kube_proxy_ok_when_strict_arp_on(server: FakeApiServer, tmp_path: Path) -> None:
    dc.ipvs_cluster(server)
    server.put("configmaps", dc.kube_proxy_configmap("ipvs", strict_arp=True))
    code, doc, _ = run(server, tmp_path)
    assert doc["kube_proxy"]["status"] == "ok" and doc["findings"] == [] and code == 0


# -- kube-vip: a stale announcer and a silent holder ------------------------------------


def test_stale_kubevip_holder(server: FakeApiServer, tmp_path: Path) -> None:
    dc.stale_kubevip_cluster(server)
    pcap = dc.stale_kubevip_pcap(tmp_path / "stale.pcap")
    code, doc, table = run(server, tmp_path, "--pcap", str(pcap))
    web = service(doc, "web")
    assert web["verdict"] == "stale" and code == 1
    assert ids(web["findings"]) == {"stale-announcer": "fault", "holder-silent": "fault"}
    stale = finding(web["findings"], "stale-announcer")
    assert stale["title"] == ("stale announcer on node node-a: it answers for 192.0.2.102 without "
                              "holding it")
    assert any(e.startswith("Lease default/kubevip-web is held by node-b (renewed ")
               for e in stale["evidence"])
    assert "annotation kube-vip.io/vipHost names node-b" in stale["evidence"]
    assert stale["fix"] == [
        "kubectl -n kube-system delete pod kube-vip-ds-node-a  (kube-vip on node-a; its "
        "controller recreates it)",
        "then on node-a: ip -4 addr show | grep -w 192.0.2.102  — if the address is still bound, "
        "remove it: ip addr del 192.0.2.102/32 dev eth0  (kube-vip#1318)"]
    silent = finding(web["findings"], "holder-silent")
    assert silent["title"] == "holder node-b does not answer for 192.0.2.102"
    assert any("node-b's MAC(s) 02:00:5e:10:00:b1 never claimed 192.0.2.102" in e
               for e in silent["evidence"])
    assert silent["fix"] == [
        "kube-vip on node-b holds the VIP by Lease default/kubevip-web but sends nothing: check "
        "vip_interface and its log: kubectl -n kube-system logs kube-vip-ds-node-b",
        "kubectl -n kube-system delete pod kube-vip-ds-node-b  (kube-vip on node-b; its "
        "controller recreates it)"]
    assert web["holders"][0] == {"node": "node-b", "announcer": "kube-vip",
                                 "source": "Lease default/kubevip-web",
                                 "renewed": web["holders"][0]["renewed"]}
    assert "STALE      default/web" in table and "stale-announcer" in table


def test_stale_holder_without_wire_says_what_the_lease_says(server: FakeApiServer,
                                                              tmp_path: Path) -> None:
    dc.stale_kubevip_cluster(server)
    code, doc, _ = run(server, tmp_path)
    web = service(doc, "web")
    assert web["verdict"] == "ok" and code == 0
    f = finding(web["findings"], "holder")
    assert f["severity"] == "info"
    assert f["title"] == "node-b holds 192.0.2.102 by its records; the wire was not checked"
    assert "the wire was not checked" in f["evidence"]
    assert f["fix"] == ["see who answers: arpwatch-lb doctor --probe (on a node of the segment), "
                        "or --pcap FILE from `tcpdump -i any -w FILE arp`"]


def test_stale_holder_found_by_probe(server: FakeApiServer, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """--probe: the VIP and every node address are asked; node-a answers for the VIP."""
    from arpwatch_lb.core.frames import Claim
    from arpwatch_lb.sessions import probe
    from arpwatch_lb.sessions.probe import ProbeResult
    from arpwatch_lb.sources import link_socket
    from arpwatch_lb.sources.capture_files import FrameCounts

    me_mac, me_ip = bytes.fromhex("02005e1000fe"), bytes([192, 0, 2, 250])

    def fake_probe(interface, vips, tracker, **kw):  # type: ignore[no-untyped-def]
        t = 0.0
        answers = [(dc.STALE_VIP, "node-a")] + [(dc.NODES[n][0], n) for n in ("node-a", "node-b")]
        for target, n in answers:
            t += 0.01
            m = bytes.fromhex(dc.NODES[n][1].replace(":", ""))
            tb = bytes(int(p) for p in target.split("."))
            tracker.feed(Claim(t, None, None, 2, m, tb, me_mac, me_ip, m, me_mac, 42))
        return ProbeResult(FrameCounts(claims=3), [], [], 9)

    monkeypatch.setattr(probe, "run_probe", fake_probe)
    monkeypatch.setattr(link_socket, "check_interfaces", lambda names: None)
    dc.stale_kubevip_cluster(server)
    code, doc, _ = run(server, tmp_path, "--probe", "-i", "eth0")
    web = service(doc, "web")
    assert ids(web["findings"]) == {"stale-announcer": "fault", "holder-silent": "fault"}
    assert any(e.endswith("(probed)") for e in finding(web["findings"], "holder-silent")["evidence"])
    assert code == 1


def test_silent_holder_alone_under_probe_is_unclaimed(server: FakeApiServer, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody answers the probe for the VIP; the holder's node answers for its own address."""
    from arpwatch_lb.core.frames import Claim
    from arpwatch_lb.sessions import probe
    from arpwatch_lb.sessions.probe import ProbeResult
    from arpwatch_lb.sources import link_socket
    from arpwatch_lb.sources.capture_files import FrameCounts

    def fake_probe(interface, vips, tracker, **kw):  # type: ignore[no-untyped-def]
        for i, n in enumerate(("node-a", "node-b")):
            m = bytes.fromhex(dc.NODES[n][1].replace(":", ""))
            tb = bytes(int(p) for p in dc.NODES[n][0].split("."))
            tracker.feed(Claim(0.1 * (i + 1), None, None, 2, m, tb, b"\2" * 6, b"\xc0\0\2\xfa", m,
                               b"\2" * 6, 42))
        return ProbeResult(FrameCounts(claims=2), [], [], 9)

    monkeypatch.setattr(probe, "run_probe", fake_probe)
    monkeypatch.setattr(link_socket, "check_interfaces", lambda names: None)
    dc.stale_kubevip_cluster(server)
    code, doc, _ = run(server, tmp_path, "--probe", "-i", "eth0")
    web = service(doc, "web")
    assert ids(web["findings"]) == {"holder-silent": "fault"}
    assert web["verdict"] == "unclaimed" and code == 1
    assert "nobody claimed 192.0.2.102 on the wire" in finding(web["findings"],
                                                               "holder-silent")["evidence"]


# -- kube-vip's control-plane VIP inside MetalLB's pool ---------------------------------


def test_control_plane_vip_inside_metallb_pool(server: FakeApiServer, tmp_path: Path) -> None:
    dc.cp_vip_cluster(server)
    pcap = dc.cp_vip_pcap(tmp_path / "cp.pcap")
    code, doc, table = run(server, tmp_path, "--pcap", str(pcap))
    assert code == 1
    assert doc["control_plane_vips"] == [{"vip": "192.0.2.100", "control_plane": True,
                                          "source": "static pod kube-system/kube-vip-node-a"}]
    cl = finding(doc["findings"], "control-plane-vip-in-pool")
    assert cl["severity"] == "fault"
    assert cl["title"] == ("kube-vip's control-plane VIP 192.0.2.100 is inside IPAddressPool "
                           "metallb-system/default-pool")
    assert cl["fix"] == ["take 192.0.2.100 out of the pool, so metallb never gives it to a Service:",
                         "kubectl -n metallb-system edit ipaddresspool default-pool",
                         "  spec:", "    addresses:", "    - 192.0.2.101-192.0.2.120"]
    web = service(doc, "web")
    assert web["verdict"] == "contested"
    assert ids(web["findings"]) == {"control-plane-vip": "fault", "wire-contest": "fault"}
    cp = finding(web["findings"], "control-plane-vip")
    assert cp["fix"] == [
        # 192.0.2.101 is default/shop's: the first free address is .102
        "kubectl -n default annotate service web --overwrite metallb.io/loadBalancerIPs=192.0.2.102",
        "and take the address out of the pool (cluster finding control-plane-vip-in-pool)"]
    contest = finding(web["findings"], "wire-contest")
    assert contest["fix"] == [
        "on node-a: find what answers for 192.0.2.100 — announcer pods there: "
        "kube-system/kube-vip-node-a (kube-vip), metallb-system/speaker-node-a (metallb); bound "
        "addresses: ip -4 addr show | grep -w 192.0.2.100",
        "on node-b: find what answers for 192.0.2.100 — announcer pods there: "
        "metallb-system/speaker-node-b (metallb); bound addresses: ip -4 addr show | grep -w "
        "192.0.2.100",
        "stop every announcer of it but the one that should own it"]
    # node-a holds the control-plane Lease: not a stale announcer
    assert "stale-announcer" not in json.dumps(doc)
    assert "FAULT control-plane-vip-in-pool" in table


# -- overlapping MetalLB and Cilium pools -------------------------------------------------


def test_overlapping_metallb_and_cilium_pools(server: FakeApiServer, tmp_path: Path) -> None:
    dc.overlap_cluster(server)
    pcap = dc.overlap_pcap(tmp_path / "overlap.pcap")
    code, doc, _ = run(server, tmp_path, "--pcap", str(pcap))
    assert code == 1
    ov = finding(doc["findings"], "pool-overlap")
    assert ov["severity"] == "at-risk"
    assert ov["title"] == "metallb and cilium pools overlap: 192.0.2.120-192.0.2.127"
    assert ov["fix"] == [
        "give each announcer its own addresses; either shrink IPAddressPool "
        "metallb-system/default-pool:",
        "kubectl -n metallb-system edit ipaddresspool default-pool",
        "  spec:", "    addresses:", "    - 192.0.2.96-192.0.2.119",
        "or shrink CiliumLoadBalancerIPPool lb-pool:",
        "kubectl edit ciliumloadbalancerippool lb-pool",
        "  spec:", "    blocks:", "    - start: 192.0.2.128", "      stop: 192.0.2.140"]
    ipam = finding(doc["findings"], "cilium-ipam-selects-all")
    assert ipam["severity"] == "at-risk"
    assert ipam["fix"] == ["kubectl edit ciliumloadbalancerippool lb-pool", "  spec:",
                           "    serviceSelector:", "      matchLabels:", "        ipam: cilium",
                           "or, Cilium >= 1.16: lbipam.requireLBClass=true"]
    for name, other, theirs in (("web", "default/shop", "cilium"), ("shop", "default/web", "metallb")):
        e = service(doc, name)
        assert e["verdict"] == "contested"
        assert ids(e["findings"]) == {"shared-vip": "fault", "wire-contest": "fault"}
        shared = finding(e["findings"], "shared-vip")
        assert shared["title"] == f"192.0.2.120 is also the VIP of {other}, announced by {theirs}"
        ns, svc = other.split("/")
        assert shared["fix"] == [
            "give one of them another address: remove 192.0.2.120 from the other announcer's pool "
            "(cluster finding pool-overlap), then recreate that Service",
            f"e.g. kubectl -n {ns} get service {svc} -o yaml > svc.yaml && kubectl delete -f "
            "svc.yaml && kubectl apply -f svc.yaml"]
    shop = service(doc, "shop")
    assert shop["controllers"]["announcing_nodes"] == {"cilium": ["node-b"]}
    # each node answers for a Service whose records name it: nobody is stale
    assert "stale-announcer" not in json.dumps(doc)


# -- a Cilium policy without serviceSelector next to MetalLB -------------------------------


def test_cilium_policy_without_selector(server: FakeApiServer, tmp_path: Path) -> None:
    dc.cilium_policy_cluster(server)
    pcap = dc.cilium_policy_pcap(tmp_path / "policy.pcap")
    code, doc, _ = run(server, tmp_path, "--pcap", str(pcap))
    assert code == 1
    pol = finding(doc["findings"], "cilium-policy-selects-all")
    assert pol["severity"] == "at-risk"
    assert pol["title"] == ("CiliumL2AnnouncementPolicy l2-all selects every Service, next to "
                            "metallb")
    assert pol["fix"] == [
        "kubectl edit ciliuml2announcementpolicy l2-all", "  spec:", "    serviceSelector:",
        "      matchLabels:", "        announcer: cilium",
        "then label only the Services Cilium should announce: kubectl -n NS label service NAME "
        "announcer=cilium (or give them loadBalancerClass io.cilium/l2-announcer)"]
    assert doc["kube_proxy"]["status"] == "not-running"  # Cilium replaces it, no kube-proxy pods
    web = service(doc, "web")
    assert web["verdict"] == "contested"
    assert ids(web["findings"]) == {"two-announcers": "fault", "wire-contest": "fault"}
    two = finding(web["findings"], "two-announcers")
    assert two["title"] == "metallb and cilium both act on default/web"
    assert two["fix"] == [
        "Cilium also announces default/web (with metallb): give the CiliumL2AnnouncementPolicy a "
        "serviceSelector that excludes it, or set spec.loadBalancerClass to the one controller "
        "that should own it (Cilium >= 1.16: lbipam.requireLBClass=true)"]
    assert finding(web["findings"], "wire-contest")["fix"] == two["fix"]
    assert web["controllers"]["announcing_nodes"] == {"cilium": ["node-b"], "metallb": ["node-a"]}


def test_cilium_policy_without_selector_no_wire_is_at_risk(server: FakeApiServer,
                                                           tmp_path: Path) -> None:
    """Before Cilium takes the Service (no Lease yet): at risk, exit 0."""
    dc.cilium_policy_cluster(server, cilium_lease=False)
    code, doc, _ = run(server, tmp_path)
    web = service(doc, "web")
    assert web["verdict"] == "at-risk" and code == 0
    f = finding(web["findings"], "second-announcer-eligible")
    assert f["severity"] == "at-risk" and f["title"] == "cilium may also announce default/web"
    assert f["evidence"] == ["cilium runs in the cluster and is eligible: "
                             "CiliumL2AnnouncementPolicy l2-all selects it"]
    assert f["fix"][0].startswith("Cilium also announces default/web (with metallb): give the "
                                  "CiliumL2AnnouncementPolicy a serviceSelector")


def test_cilium_policy_conditions_are_findings(server: FakeApiServer, tmp_path: Path) -> None:
    dc.cilium_policy_cluster(server, cilium_lease=False)
    server.put("ciliuml2announcementpolicies", dc.cilium_policy(
        "l2-all", {"matchLabels": {"announcer": "cilium"}},
        [{"type": "io.cilium/bad-interface-regex", "status": "True",
          "message": "error parsing regexp: missing closing ]"}]))
    _, doc, _ = run(server, tmp_path)
    f = finding(doc["findings"], "cilium-policy-condition")
    assert f["severity"] == "at-risk"
    assert f["evidence"] == ["condition io.cilium/bad-interface-regex=True: error parsing regexp: "
                             "missing closing ]"]
    assert f["fix"] == ["kubectl edit ciliuml2announcementpolicy l2-all  — fix the interfaces regex "
                        "it names"]
    assert service(doc, "web")["verdict"] == "ok"  # the selector now leaves web to MetalLB


# -- several NICs of one node -----------------------------------------------------------


def test_several_nics_with_metallb(server: FakeApiServer, tmp_path: Path) -> None:
    dc.several_nics_cluster(server, "metallb")
    pcap = dc.several_nics_pcap(tmp_path / "nics.pcap", "metallb")
    code, doc, _ = run(server, tmp_path, "--pcap", str(pcap))
    web = service(doc, "web")
    (wire,) = web["wire"]
    assert wire["verdict"] == "one-node" and not wire["fight"]
    assert wire["by_node"][0]["node"] == "node-a"
    assert wire["by_node"][0]["macs"] == ["02:00:5e:10:00:a1", "02:00:5e:10:00:a2"]
    assert web["verdict"] == "ok" and code == 0
    f = finding(web["findings"], "several-nics")
    assert f["severity"] == "info" and f["title"] == "node-a answers for 192.0.2.106 from 2 NICs"
    assert f["fix"] == ["kubectl -n metallb-system edit l2advertisement l2-default",
                        "  spec:", "    interfaces:", "    - eth0",
                        "(MetalLB answers on every interface of node-a otherwise; metallb#531; "
                        "ServiceL2Status lists eth0, eth1)"]


def test_several_nics_with_the_kernel(server: FakeApiServer, tmp_path: Path) -> None:
    dc.several_nics_cluster(server, "kube-vip")
    pcap = dc.several_nics_pcap(tmp_path / "nics.pcap", "kube-vip")
    code, doc, _ = run(server, tmp_path, "--pcap", str(pcap))
    web = service(doc, "web")
    assert web["verdict"] == "ok" and code == 0
    assert ids(web["findings"]) == {"several-nics": "info"}
    f = finding(web["findings"], "several-nics")
    assert f["fix"] == ["on node-a (the kernel answers from every NIC, ARP flux):",
                        "  sysctl -w net.ipv4.conf.all.arp_ignore=1 "
                        "net.ipv4.conf.all.arp_announce=2",
                        "  and keep them in /etc/sysctl.d/90-arp.conf"]


# -- the reported cluster: k3s, ServiceLB off, Cilium CNI without policies, MetalLB + kube-vip ---


def reported_cluster(server: FakeApiServer) -> None:
    ks.populate(server, events=3000, flaps=21)
    for n in ks.NODES:
        obj = ks.node(n)
        obj["metadata"]["annotations"] = {"k3s.io/node-args": json.dumps(dc.K3S_ARGS)}
        obj["status"]["nodeInfo"] = {"kubeletVersion": "v1.29.4+k3s1",
                                     "kubeProxyVersion": "v1.29.4+k3s1"}
        server.put("nodes", obj)
        server.put("pods", dc.pod(f"cilium-{n[-1]}z2", "kube-system", dc.CILIUM_IMAGE, n))
    server.put("pods", dc.pod("cilium-operator-5c", "kube-system",
                              "quay.io/cilium/operator-generic:v1.15.4", "node1"))
    server.put("configmaps", dc.configmap("cilium-config", "kube-system",
                                          {"kube-proxy-replacement": "false"}))
    server.put("ipaddresspools", dc.ipaddresspool("default-pool", "192.0.2.100-192.0.2.110"))
    server.put("l2advertisements", dc.l2advertisement("l2"))


def test_reported_cluster(server: FakeApiServer, tmp_path: Path) -> None:
    reported_cluster(server)
    nodes_pcap = ks.node_arp_pcap(tmp_path / "nodes.pcap")
    code, doc, table = run(server, tmp_path, "--pcap", str(ks.PCAP), "--pcap", str(nodes_pcap))
    assert code == 1
    web = service(doc, "web")
    assert web["verdict"] == "contested"
    assert ids(web["findings"]) == {"two-announcers": "fault", "wire-contest": "fault",
                                    "event-storm": "at-risk"}
    two = finding(web["findings"], "two-announcers")
    assert two["fix"][1] == ("  keep MetalLB: kubectl -n default annotate service web "
                             "kube-vip.io/ignore=true  (kube-vip stops handling this Service)")
    storm = finding(web["findings"], "event-storm")
    assert storm["title"] == "Event storm on default/web: 301/min" and storm["fix"] == two["fix"]
    # Cilium is the CNI only: no L2 policy, not a cause
    assert "cilium" not in web["controllers"]["acting"]
    assert "cilium" not in web["controllers"]["eligible"]
    cluster = ids(doc["findings"])
    assert cluster == {"cilium-no-l2-policy": "info", "k3s-servicelb-disabled": "info",
                       "kube-proxy-unknown": "info"}
    assert finding(doc["findings"], "cilium-no-l2-policy")["fix"] == []
    assert finding(doc["findings"], "k3s-servicelb-disabled")["fix"] == []
    kp = finding(doc["findings"], "kube-proxy-unknown")
    assert kp["title"] == ("kube-proxy's mode is unknown (not ok): its configuration is not "
                           "visible")
    assert kp["fix"] == [
        "on a node: `ipvsadm -Ln | head` (IPVS rules = IPVS mode) and "
        "`sysctl net.ipv4.conf.all.arp_ignore` (1 = strict ARP in effect)",
        "k3s: look for kube-proxy-arg proxy-mode=ipvs in /etc/rancher/k3s/config.yaml; with IPVS "
        "add kube-proxy-arg ipvs-strict-arp=true"]
    assert doc["kube_proxy"]["status"] == "unknown"  # never "ok" when not visible
    assert doc["kube_proxy"]["detail"].startswith("k3s passes kube-proxy its flags")
    api = service(doc, "api")
    assert api["verdict"] == "ok"
    assert "two-announcers\nwire-contest\nevent-storm" not in table  # one id per line in a cell
    assert "two-announcers" in table and "kube-proxy: unknown" in table


def test_k3s_ipvs_flags_are_read(server: FakeApiServer, tmp_path: Path) -> None:
    reported_cluster(server)
    args = [*dc.K3S_ARGS, "--kube-proxy-arg", "proxy-mode=ipvs"]
    for n in ks.NODES:
        obj = server.objects["nodes"][("", n)]
        obj["metadata"]["annotations"]["k3s.io/node-args"] = json.dumps(args)
        server.put("nodes", obj)
    _, doc, _ = run(server, tmp_path)
    assert doc["kube_proxy"]["status"] == "strict-arp-off"
    f = finding(doc["findings"], "kube-proxy-strict-arp")
    assert f["severity"] == "at-risk"
    assert f["fix"] == ["on every k3s server and agent, in /etc/rancher/k3s/config.yaml:",
                        "  kube-proxy-arg:", "  - proxy-mode=ipvs", "  - ipvs-strict-arp=true",
                        "then: systemctl restart k3s (servers) / k3s-agent (agents)"]


# -- permissions -------------------------------------------------------------------------


def _role_rules() -> list[dict[str, Any]]:
    docs = yaml.safe_load_all((ROOT / "deploy" / "10-rbac.yaml").read_text())
    (role,) = [d for d in docs if d and d["kind"] == "ClusterRole"]
    return role["rules"]


CLUSTERS: dict[str, Callable[[FakeApiServer], None]] = {
    "reported": reported_cluster, "ipvs": dc.ipvs_cluster, "stale": dc.stale_kubevip_cluster,
    "cp-vip": dc.cp_vip_cluster, "overlap": dc.overlap_cluster,
    "policy": dc.cilium_policy_cluster,
}


@pytest.mark.parametrize("name", sorted(CLUSTERS))
def test_deploy_rbac_is_exactly_what_doctor_reads(server: FakeApiServer, tmp_path: Path,
                                                  name: str) -> None:
    """With deploy/10-rbac.yaml enforced, doctor sees everything; and it uses every rule."""
    CLUSTERS[name](server)
    server.rules = _role_rules()
    _, doc, _ = run(server, tmp_path)
    assert doc["unseen"] == []
    assert set(doc["reads"].values()) == {"read"}
    used = set()
    for path in server.requests:
        parts = path.split("?")[0].strip("/").split("/")
        group = "" if parts[0] == "api" else parts[1]
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        if rest[:1] == ["namespaces"]:
            rest = rest[2:]
        used.add((group, rest[0]))
    granted = {(g, r) for rule in server.rules for g in rule["apiGroups"] for r in rule["resources"]}
    assert used == granted  # nothing read without a rule, no rule left unused


def test_missing_crds_are_not_installed_not_errors(server: FakeApiServer, tmp_path: Path) -> None:
    dc.stale_kubevip_cluster(server)
    server.missing |= {"servicel2statuses", "ipaddresspools", "l2advertisements",
                       "ciliumloadbalancerippools", "ciliuml2announcementpolicies"}
    code, doc, table = run(server, tmp_path)
    assert code == 0 and doc["errors"] == [] and doc["unseen"] == []
    assert {k for k, v in doc["reads"].items() if v == "not installed"} == {
        "servicel2statuses", "ipaddresspools", "l2advertisements", "ciliumloadbalancerippools",
        "ciliuml2announcementpolicies"}
    assert "not installed: ciliuml2announcementpolicies, ciliumloadbalancerippools" in table


def test_forbidden_leases_and_configmaps_are_listed(server: FakeApiServer, tmp_path: Path) -> None:
    dc.stale_kubevip_cluster(server)
    server.rules = [r for r in _role_rules()
                    if "leases" not in r["resources"] and "configmaps" not in r["resources"]]
    code, doc, table = run(server, tmp_path)
    assert code == 0
    assert doc["unseen"] == [
        {"read": "list leases.coordination.k8s.io (all namespaces)",
         "rule": 'apiGroups: ["coordination.k8s.io"], resources: [leases], verbs: [get, list, watch]',
         "without": "kube-vip and Cilium holders of each VIP"},
        {"read": "get configmaps kube-proxy (namespace kube-system)",
         "rule": 'apiGroups: [""], resources: [configmaps], resourceNames: [kube-proxy, kubevip, '
                 'cilium-config], verbs: [get]',
         "without": "kube-proxy's mode and strictARP, kube-vip's pools, Cilium's kube-proxy "
                    "replacement"}]
    assert doc["kube_proxy"]["status"] == "unknown"
    assert doc["kube_proxy"]["detail"] == "could not read it (RBAC)"
    # the Lease is unseen; vipHost still names the holder
    assert [h["source"] for h in service(doc, "web")["holders"]] == ["annotation kube-vip.io/vipHost"]
    assert "could not see kube-vip and Cilium holders of each VIP" in table


# -- records that disagree with the wire: MetalLB's ServiceL2Status, Cilium's Lease --------


def test_servicel2status_disagreeing_with_the_wire(server: FakeApiServer, tmp_path: Path) -> None:
    """MetalLB's ServiceL2Status says node-b; only node-a's speaker answers (a stale speaker)."""
    dc.put_nodes(server, ["node-a", "node-b"])
    dc.put_metallb(server, ["node-a", "node-b"], {"default-pool": ["192.0.2.100-192.0.2.110"]})
    server.put("services", dc.metallb_service("web", "192.0.2.107"))
    server.put("servicel2statuses", dc.l2status("web", "node-b"))
    a = dc.NODES["node-a"][1]
    frames = dc.node_chatter({n: dc.NODES[n] for n in ("node-a", "node-b")}, 6)
    frames += dc.metallb_burst(a, "192.0.2.107", dc.T0 + 0.2)
    for i in range(4):
        t = dc.T0 + 1.3 + i
        frames.append((t, dc.kernel_request(dc.CLIENT_MAC, dc.CLIENT_IP, "192.0.2.107")))
        frames.append((t + 0.0003, dc.metallb_reply(a, "192.0.2.107", dc.CLIENT_MAC, dc.CLIENT_IP)))
    pcap = dc.write(tmp_path / "l2.pcap", frames)
    code, doc, _ = run(server, tmp_path, "--pcap", str(pcap))
    web = service(doc, "web")
    assert web["verdict"] == "stale" and code == 1
    assert finding(web["findings"], "stale-announcer")["fix"] == [
        "kubectl -n metallb-system delete pod speaker-node-a  (metallb on node-a; its controller "
        "recreates it)",
        "then on node-a: ip -4 addr show | grep -w 192.0.2.107  — if the address is still bound, "
        "remove it: ip addr del 192.0.2.107/32 dev <its interface>  (kube-vip#1318)"]
    silent = finding(web["findings"], "holder-silent")
    assert "ServiceL2Status metallb-system/l2-web-node-b names node-b" in silent["evidence"]
    assert silent["fix"] == [
        "the MetalLB speaker on node-b (ServiceL2Status metallb-system/l2-web-node-b) does not "
        "answer: check that an L2Advertisement selects node-b (nodeSelectors) and its interfaces, "
        "and the speaker's log",
        "kubectl -n metallb-system delete pod speaker-node-b  (metallb on node-b; its controller "
        "recreates it)"]


def _probe_answers(monkeypatch: pytest.MonkeyPatch, answers: list[tuple[str, str]]) -> None:
    """--probe where ``answers`` (target IP, node) are the replies the nodes give."""
    from arpwatch_lb.core.frames import Claim
    from arpwatch_lb.sessions import probe
    from arpwatch_lb.sessions.probe import ProbeResult
    from arpwatch_lb.sources import link_socket
    from arpwatch_lb.sources.capture_files import FrameCounts

    me_mac, me_ip = bytes.fromhex("02005e1000fe"), bytes([192, 0, 2, 250])

    def fake_probe(interface, vips, tracker, **kw):  # type: ignore[no-untyped-def]
        for i, (target, n) in enumerate(answers):
            m = bytes.fromhex(dc.NODES[n][1].replace(":", ""))
            tb = bytes(int(p) for p in target.split("."))
            tracker.feed(Claim(0.01 * (i + 1), None, None, 2, m, tb, me_mac, me_ip, m, me_mac, 42))
        return ProbeResult(FrameCounts(claims=len(answers)), [], [], 9)

    monkeypatch.setattr(probe, "run_probe", fake_probe)
    monkeypatch.setattr(link_socket, "check_interfaces", lambda names: None)


def test_cilium_holder_that_does_not_answer(server: FakeApiServer, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """cilium#48626: the Lease holder's BPF responder answers nothing; the probe shows it."""
    dc.put_nodes(server, ["node-a", "node-b"])
    for n in ("node-a", "node-b"):
        server.put("pods", dc.pod(f"cilium-{n[-1]}q7", "kube-system", dc.CILIUM_IMAGE, n))
    server.put("ciliuml2announcementpolicies",
               dc.cilium_policy("l2", {"matchLabels": {"announcer": "cilium"}}))
    server.put("services", dc.cilium_service("shop", "192.0.2.130", {"announcer": "cilium"}))
    server.put("leases", dc.lease("cilium-l2announce-default-shop", "kube-system", "node-b"))
    _probe_answers(monkeypatch, [(dc.NODES[n][0], n) for n in ("node-a", "node-b")])
    code, doc, _ = run(server, tmp_path, "--probe", "-i", "eth0")
    shop = service(doc, "shop")
    assert shop["verdict"] == "unclaimed" and code == 1
    f = finding(shop["findings"], "holder-silent")
    assert f["fix"] == [
        "the Cilium agent on node-b holds Lease kube-system/cilium-l2announce-default-shop but its "
        "BPF responder does not answer (cilium#48626): check that a CiliumL2AnnouncementPolicy's "
        "interfaces (^eth0$) match node-b's NIC on this segment",
        "kubectl -n kube-system delete pod cilium-bq7  (cilium on node-b; its controller "
        "recreates it)"]


def test_vip_nobody_answers_without_a_holder(server: FakeApiServer, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    dc.put_nodes(server, ["node-a", "node-b"])
    dc.put_metallb(server, ["node-a", "node-b"], {"default-pool": ["192.0.2.100-192.0.2.110"]})
    server.put("services", dc.metallb_service("web", "192.0.2.108"))
    _probe_answers(monkeypatch, [(dc.NODES[n][0], n) for n in ("node-a", "node-b")])
    code, doc, _ = run(server, tmp_path, "--probe", "-i", "eth0")
    web = service(doc, "web")
    assert web["verdict"] == "unclaimed" and code == 1
    f = finding(web["findings"], "vip-unanswered")
    assert f["title"] == "nobody answers ARP for 192.0.2.108"
    assert f["fix"] == ["check that an announcer handles default/web: MetalLB needs an "
                        "L2Advertisement for its pool; kube-vip svc_enable=true; Cilium a "
                        "CiliumL2AnnouncementPolicy that selects it"]
    # a capture that holds nothing for the VIP is no proof: no finding, exit 0
    pcap = dc.write(tmp_path / "quiet.pcap",
                    dc.node_chatter({n: dc.NODES[n] for n in ("node-a", "node-b")}, 3))
    code, doc, _ = run(server, tmp_path, "--pcap", str(pcap))
    assert service(doc, "web")["findings"] == [] and code == 0


def test_holder_whose_mac_is_unknown(server: FakeApiServer, tmp_path: Path) -> None:
    """node-b's kernel never ARPs in the capture: whether it answers cannot be told."""
    dc.stale_kubevip_cluster(server)
    frames = dc.node_chatter({"node-a": dc.NODES["node-a"]}, 10)
    frames += dc.kubevip_garps(dc.NODES["node-a"][1], dc.STALE_VIP, dc.T0 + 0.4, 10)
    pcap = dc.write(tmp_path / "half.pcap", frames)
    code, doc, _ = run(server, tmp_path, "--pcap", str(pcap))
    web = service(doc, "web")
    assert ids(web["findings"]) == {"stale-announcer": "fault", "holder": "info"}
    f = finding(web["findings"], "holder")
    assert f["title"] == "node-b holds 192.0.2.102; its MAC is unknown"
    assert f["fix"] == ["run doctor with --probe (it asks every node's InternalIP too)"]
    assert code == 1


def test_kube_vip_pool_and_control_plane_vip(server: FakeApiServer, tmp_path: Path) -> None:
    """kube-vip's cloud-provider ConfigMap holds its own control-plane VIP and overlaps MetalLB."""
    dc.cp_vip_cluster(server)
    server.put("configmaps", dc.configmap("kubevip", "kube-system",
                                          {"cidr-global": "192.0.2.96/28"}))
    _, doc, _ = run(server, tmp_path)
    cp = [f for f in doc["findings"] if f["id"] == "control-plane-vip-in-pool"]
    assert [f["title"] for f in cp] == [
        "kube-vip's control-plane VIP 192.0.2.100 is inside IPAddressPool metallb-system/default-pool",
        "kube-vip's control-plane VIP 192.0.2.100 is inside ConfigMap kube-system/kubevip key "
        "cidr-global"]
    assert cp[1]["fix"] == ["take 192.0.2.100 out of the pool, so kube-vip never gives it to a "
                            "Service:", "kubectl -n kube-system edit configmap kubevip",
                            "  data:", "    range-global: 192.0.2.96-192.0.2.99,192.0.2.101-192.0.2.111"]
    ov = finding(doc["findings"], "pool-overlap")
    assert ov["title"] == "metallb and kube-vip pools overlap: 192.0.2.100-192.0.2.111"
    assert doc["pools"][-1] == {"announcer": "kube-vip",
                                "object": "ConfigMap kube-system/kubevip key cidr-global",
                                "ranges": ["192.0.2.96-192.0.2.111"], "l2_advertisements": None}


def test_vip_host_contradicted_by_the_lease(server: FakeApiServer, tmp_path: Path) -> None:
    """vipHost still names node-a, the Lease says node-b, and node-b answers: the annotation is
    stale, not a silent holder; node-a answering as well would be a stale announcer."""
    dc.stale_kubevip_cluster(server)
    server.put("leases", dc.lease("kubevip-web", "default", "node-b"))
    svc = dc.kubevip_service("web", dc.STALE_VIP, vip_host="node-a")
    server.put("services", svc)
    b = dc.NODES["node-b"][1]
    frames = dc.node_chatter({n: dc.NODES[n] for n in ("node-a", "node-b")}, 10)
    frames += dc.kubevip_garps(b, dc.STALE_VIP, dc.T0 + 0.4, 10)
    pcap = dc.write(tmp_path / "b.pcap", frames)
    code, doc, _ = run(server, tmp_path, "--pcap", str(pcap))
    web = service(doc, "web")
    assert ids(web["findings"]) == {"holder": "info"} and web["verdict"] == "ok" and code == 0
    f = finding(web["findings"], "holder")
    assert f["evidence"] == ["annotation kube-vip.io/vipHost names node-a, but the Lease names node-b"]
    assert f["fix"] == ["nothing to do if the Lease's holder answers; kube-vip rewrites vipHost when "
                        "it takes the VIP (kubectl -n default get service web -o "
                        "jsonpath='{.metadata.annotations}')"]
    assert [h["source"] for h in web["holders"]] == ["Lease default/kubevip-web"]
    frames += dc.kubevip_garps(dc.NODES["node-a"][1], dc.STALE_VIP, dc.T0 + 1.9, 10)
    pcap = dc.write(tmp_path / "ab.pcap", frames)
    code, doc, _ = run(server, tmp_path, "--pcap", str(pcap))
    web = service(doc, "web")
    assert "stale-announcer" in ids(web["findings"]) and code == 1
