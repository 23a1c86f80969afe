"""``arpwatch-lb doctor`` against a local API server, with and without wire evidence."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import kube_scenario as ks
import pytest
from click.testing import CliRunner
from fake_apiserver import FakeApiServer

from arpwatch_lb.cli.doctor import doctor


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[FakeApiServer, Path]]:
    s = FakeApiServer().start()
    ks.populate(s, events=3000, flaps=21)
    yield s, s.kubeconfig(tmp_path / "kubeconfig")
    s.stop()


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(doctor, list(args))
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def test_reported_case_wire_and_api_evidence_meet(cluster: tuple[FakeApiServer, Path],
                                                  tmp_path: Path) -> None:
    _, kc = cluster
    nodes_pcap = ks.node_arp_pcap(tmp_path / "nodes.pcap")
    code, out, _ = run("--kubeconfig", str(kc), "--pcap", str(ks.PCAP), "--pcap", str(nodes_pcap),
                       "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["schema"] == "arpwatch-lb/doctor/1"
    assert doc["mac_nodes"] == {"02:00:5e:10:00:01": "node1", "02:00:5e:10:00:02": "node2"}
    web, api = doc["services"]
    assert (web["name"], web["verdict"]) == ("web", "contested")
    assert web["vips"] == [ks.VIP] and web["load_balancer_class"] is None
    assert set(web["controllers"]["acting"]) == {"metallb", "kube-vip"}
    assert web["controllers"]["announcing_nodes"] == {"kube-vip": ["node1"], "metallb": ["node2"]}
    assert web["events"]["count"] == 3000 and web["events"]["storm"]
    (wire,) = web["wire"]
    assert wire["fight"] and set(wire["nodes"]) == {"node1", "node2"}
    assert wire["flip_flops"] > 0 and wire["duplicate_replies"] > 0
    fix = "\n".join(web["fix"])
    assert "kubectl -n default annotate service web kube-vip.io/ignore=true" in fix
    assert "lb_class_only=true" in fix and "svc_enable=false" in fix
    assert "loadBalancerClass" in fix and "remove one announcer" in fix
    # the kube-vip-class Service is fine: one announcer
    assert (api["name"], api["verdict"], api["fix"]) == ("api", "ok", [])
    assert set(api["controllers"]["acting"]) == {"kube-vip"}


def test_table_output(cluster: tuple[FakeApiServer, Path], tmp_path: Path) -> None:
    _, kc = cluster
    nodes_pcap = ks.node_arp_pcap(tmp_path / "nodes.pcap")
    code, out, _ = run("--kubeconfig", str(kc), "--pcap", str(ks.PCAP), "--pcap", str(nodes_pcap))
    assert code == 1
    assert "CONTESTED  default/web" in out
    assert "192.0.2.103: contested (node1, node2)" in out
    assert "kube-vip.io/ignore=true" in out
    assert "1 contested" in out


def test_api_evidence_alone_is_enough(cluster: tuple[FakeApiServer, Path]) -> None:
    _, kc = cluster
    code, out, _ = run("--kubeconfig", str(kc), "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["wire"] is None and doc["services"][0]["wire"] == []
    assert doc["services"][0]["verdict"] == "contested"


def test_at_risk_when_second_announcer_only_eligible(tmp_path: Path) -> None:
    s = FakeApiServer().start()
    try:
        for n in ks.NODES:
            s.put("nodes", ks.node(n))
        s.put("pods", ks.pod("kv", "kube-system", "ghcr.io/kube-vip/kube-vip:v0.8.9", "node1"))
        s.put("pods", ks.pod("speaker", "metallb-system", "quay.io/metallb/speaker:v0.14.5",
                             "node2"))
        svc = ks.contested_service(False)
        del svc["metadata"]["annotations"]["kube-vip.io/vipHost"]
        svc["metadata"]["managedFields"] = svc["metadata"]["managedFields"][:2]
        s.put("services", svc)
        code, out, _ = run("--kubeconfig", str(s.kubeconfig(tmp_path / "kc")), "--format", "json")
        assert code == 0
        (web,) = json.loads(out)["services"]
        assert web["verdict"] == "at-risk"
        assert "kube-vip.io/ignore=true" in "\n".join(web["fix"])
    finally:
        s.stop()


def test_clean_failover_on_the_wire_is_ok(cluster: tuple[FakeApiServer, Path]) -> None:
    server, kc = cluster
    # Only MetalLB handles it now (kube-vip was told to ignore it), no Events.
    svc = ks.metallb_only_service(**{"kube-vip.io/ignore": "true"})
    svc["status"]["loadBalancer"]["ingress"][0]["ip"] = "192.0.2.110"
    server.put("services", svc)
    for key in list(server.objects["events"]):
        server.delete("events", *key)
    code, out, _ = run("--kubeconfig", str(kc), "--pcap",
                       str(ks.ROOT / "pcaps" / "metallb-failover.pcap"), "--format", "json")
    doc = json.loads(out)
    web = next(e for e in doc["services"] if e["name"] == "web")
    assert web["wire"][0]["verdict"] == "moved" and not web["wire"][0]["fight"]
    # kube-vip is annotated away: MetalLB is the only announcer left
    assert web["verdict"] == "ok" and web["fix"] == []
    assert web["controllers"]["opted_out"] == {"kube-vip": "annotation kube-vip.io/ignore=true"}
    assert set(web["controllers"]["acting"]) == {"metallb"}
    assert code == 0


def test_forbidden_services_is_one_line_exit_2(cluster: tuple[FakeApiServer, Path]) -> None:
    """Without the Services there is nothing to diagnose: one line, exit 2."""
    server, kc = cluster
    server.forbidden.add(("list", "services"))
    code, out, err = run("--kubeconfig", str(kc))
    assert code == 2 and out == ""
    line = err.strip()
    assert "\n" not in line
    assert "forbidden" in line and "list services" in line


def test_forbidden_events_carries_on_and_says_what_it_missed(
        cluster: tuple[FakeApiServer, Path]) -> None:
    """Any other forbidden read: doctor carries on, names the missing rule, lists what it lacks."""
    server, kc = cluster
    server.forbidden.add(("list", "events"))
    code, out, _ = run("--kubeconfig", str(kc), "--format", "json")
    doc = json.loads(out)
    assert doc["reads"]["events"] == "forbidden"
    (unseen,) = doc["unseen"]
    assert unseen == {"read": "list events (all namespaces)",
                      "rule": 'apiGroups: [""], resources: [events], verbs: [get, list, watch]',
                      "without": "Event rates (storms), nodeAssigned Events"}
    web = next(e for e in doc["services"] if e["name"] == "web")
    assert web["events"]["count"] == 0 and web["verdict"] == "contested"  # still two announcers
    assert code == 1
    assert any("RBAC forbids 'list events (all namespaces)'" in w for w in doc["warnings"])
    code, out, _ = run("--kubeconfig", str(kc))
    assert "could not see Event rates (storms), nodeAssigned Events" in out


def test_unreachable_is_one_line_exit_2(tmp_path: Path) -> None:
    s = FakeApiServer().start()
    kc = s.kubeconfig(tmp_path / "kc")
    s.stop()
    code, _, err = run("--kubeconfig", str(kc))
    assert code == 2
    assert "unreachable" in err and len(err.strip().splitlines()) == 1


def test_bad_kubeconfig_exit_2(tmp_path: Path) -> None:
    code, _, err = run("--kubeconfig", str(tmp_path / "nope"))
    assert code == 2 and "cannot load Kubernetes config" in err


def test_missing_client_says_how_to_install(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    for name in [m for m in sys.modules if m == "kubernetes" or m.startswith("kubernetes.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "kubernetes", None)  # import kubernetes → ImportError
    code, _, err = run("--kubeconfig", str(tmp_path / "kc"))
    assert code == 2
    assert err.strip() == ("Error: the Kubernetes client is not installed: "
                           "pip install 'arpwatch-lb[kubernetes]'")


def test_pcap_and_probe_exclusive(cluster: tuple[FakeApiServer, Path]) -> None:
    _, kc = cluster
    code, _, err = run("--kubeconfig", str(kc), "--pcap", str(ks.PCAP), "--probe")
    assert code == 2 and "not both" in err


def test_probe_asks_for_vips_and_node_ips(cluster: tuple[FakeApiServer, Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """--probe: who-has for every VIP and node InternalIP; the replies name the nodes."""
    from arpwatch_lb.core.frames import Claim
    from arpwatch_lb.sessions import probe
    from arpwatch_lb.sessions.probe import ProbeResult
    from arpwatch_lb.sources import link_socket as live
    from arpwatch_lb.sources.capture_files import FrameCounts

    asked: list[str] = []

    def fake_probe(interface, vips, tracker, **kw):  # type: ignore[no-untyped-def]
        asked.extend(".".join(str(b) for b in a) for a in vips.addresses())
        me_mac, me_ip = bytes.fromhex("02005e1000fe"), bytes([192, 0, 2, 250])
        t = 0.0
        for _ in range(3):  # both nodes answer for the VIP; each answers for its own IP
            for name, (ip, mac) in ks.NODES.items():
                m = bytes.fromhex(mac.replace(":", ""))
                for target in (ks.VIP, ip):
                    t += 0.01
                    tb = bytes(int(p) for p in target.split("."))
                    tracker.feed(Claim(t, None, None, 2, m, tb, me_mac, me_ip, m, me_mac, 60))
                    _ = name
        return ProbeResult(FrameCounts(claims=18), [], [], len(asked) * 3)

    monkeypatch.setattr(probe, "run_probe", fake_probe)
    monkeypatch.setattr(live, "check_interfaces", lambda names: None)
    code, out, _ = run("--kubeconfig", str(cluster[1]), "--probe", "-i", "eth0", "--format", "json")
    assert sorted(asked) == sorted([ks.VIP, ks.OTHER_VIP, "192.0.2.11", "192.0.2.12"])
    doc = json.loads(out)
    assert doc["wire"]["source"] == "probe"
    web = doc["services"][0]
    assert web["wire"][0]["fight"] and set(web["wire"][0]["nodes"]) == {"node1", "node2"}
    assert code == 1


def test_unmapped_macs_are_still_a_fight_with_a_hint(cluster: tuple[FakeApiServer, Path]) -> None:
    _, kc = cluster
    code, out, _ = run("--kubeconfig", str(kc), "--pcap", str(ks.PCAP), "--format", "json")
    doc = json.loads(out)
    web = doc["services"][0]
    assert web["verdict"] == "contested" and web["wire"][0]["fight"]
    assert {c["node"] for c in web["wire"][0]["claimants"]} == {None}
    assert any("belong to no known node" in w for w in doc["warnings"])
    assert code == 1


def test_two_nics_of_one_node_are_not_a_fight(tmp_path: Path) -> None:
    """node1 answers from two NICs (a bond, ARP flux): one node on the wire, verdict ok."""
    s = FakeApiServer().start()
    try:
        for n in ks.NODES:
            s.put("nodes", ks.node(n))
        s.put("pods", ks.pod("speaker", "metallb-system", "quay.io/metallb/speaker:v0.14.5",
                             "node1"))
        svc = ks.metallb_only_service()
        s.put("services", svc)
        ip1, mac1 = ks.NODES["node1"]
        mac1b = "02:00:5e:10:00:21"  # node1's second NIC
        frames = []
        for i in range(6):
            t = 1_800_000_000.0 + i
            for mac in (mac1, mac1b):  # both NICs answer for node1's own address...
                frames.append((t, ks.arp_frame(2, mac, ip1, ks.CLIENT[1], ks.CLIENT[0],
                                               ks.CLIENT[1])))
            for mac in (mac1, mac1b):  # ...and for the VIP: duplicate replies, flip-flops
                frames.append((t + 0.5, ks.arp_frame(2, mac, ks.VIP, ks.CLIENT[1], ks.CLIENT[0],
                                                     ks.CLIENT[1])))
        pcap = ks.write_pcap(tmp_path / "bond.pcap", frames)
        code, out, _ = run("--kubeconfig", str(s.kubeconfig(tmp_path / "kc")), "--pcap", str(pcap),
                           "--format", "json")
        (web,) = json.loads(out)["services"]
        (wire,) = web["wire"]
        assert wire["verdict"] == "one-node" and not wire["fight"] and wire["nodes"] == ["node1"]
        assert wire["flip_flops"] > 0  # the tracker alone would call it contested
        assert web["verdict"] == "ok"
        assert any("several interfaces of one node" in e for e in web["evidence"])
        assert code == 0
    finally:
        s.stop()


def test_cilium_agents_alone_do_not_make_services_at_risk(tmp_path: Path) -> None:
    s = FakeApiServer().start()
    try:
        for n in ks.NODES:
            s.put("nodes", ks.node(n))
            s.put("pods", ks.pod(f"cilium-{n}", "kube-system", "quay.io/cilium/cilium:v1.15.4", n))
        s.put("pods", ks.pod("speaker", "metallb-system", "quay.io/metallb/speaker:v0.14.5",
                             "node1"))
        svc = ks.metallb_only_service()
        s.put("services", svc)
        code, out, _ = run("--kubeconfig", str(s.kubeconfig(tmp_path / "kc")), "--format", "json")
        doc = json.loads(out)
        assert doc["controllers_running"]["cilium"]  # listed, for the record
        assert doc["services"][0]["verdict"] == "ok" and code == 0
        # once Cilium LB-IPAM writes to the Service, it acts: contested
        svc["metadata"]["managedFields"].append(
            {"manager": "cilium-operator-lb-ipam", "operation": "Apply", "apiVersion": "v1",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {}}, "subresource": "status"})
        s.put("services", svc)
        code, out, _ = run("--kubeconfig", str(s.kubeconfig(tmp_path / "kc")), "--format", "json")
        web = json.loads(out)["services"][0]
        assert web["verdict"] == "contested" and code == 1
        assert "CiliumL2AnnouncementPolicy" in "\n".join(web["fix"])
    finally:
        s.stop()


def test_doctor_judges_an_ipv6_vip_like_an_ipv4_one(tmp_path: Path) -> None:
    """A dual-stack Service (192.0.2.103 and 2001:db8::102) on dual-stack nodes; the capture
    is the recorded IPv6 keepalived split brain.  The nodes' IPv6 InternalIPs name the MACs
    (their kernels' solicitations claim them), and the IPv6 VIP is a fight between nodes."""
    s = FakeApiServer().start()
    try:
        for name, v6 in (("node1", "2001:db8::11"), ("node2", "2001:db8::12")):
            n = ks.node(name)
            n["status"]["addresses"].insert(1, {"type": "InternalIP", "address": v6})
            s.put("nodes", n)
        svc = ks.contested_service(False)
        svc["status"]["loadBalancer"]["ingress"].append({"ip": "2001:db8::102", "ipMode": "VIP"})
        s.put("services", svc)
        kc = s.kubeconfig(tmp_path / "kubeconfig")
        pcap = ks.ROOT / "pcaps" / "keepalived-split-brain-ipv6.pcap"
        code, out, _ = run("--kubeconfig", str(kc), "--pcap", str(pcap), "--format", "json")
        table_code, table, _ = run("--kubeconfig", str(kc), "--pcap", str(pcap))
    finally:
        s.stop()
    assert code == table_code == 1
    doc = json.loads(out)
    assert doc["nodes"] == {"node1": ["192.0.2.11", "2001:db8::11"],
                            "node2": ["192.0.2.12", "2001:db8::12"]}
    assert doc["mac_nodes"] == {"02:00:5e:10:00:01": "node1", "02:00:5e:10:00:02": "node2"}
    [web] = doc["services"]
    assert web["vips"] == ["192.0.2.103", "2001:db8::102"] and web["verdict"] == "contested"
    wire = {w["vip"]: w for w in web["wire"]}
    assert wire["2001:db8::102"]["fight"] and set(wire["2001:db8::102"]["nodes"]) == {
        "node1", "node2"}
    assert wire["2001:db8::102"]["duplicate_replies"] == 4
    assert wire["192.0.2.103"]["verdict"] == "unclaimed"  # no ARP in that capture
    assert "2001:db8::102: contested (node1, node2)" in table


def test_an_announcer_the_api_does_not_show_is_a_finding(cluster: tuple[FakeApiServer, Path]
                                                         ) -> None:
    """Only MetalLB acts on the Service, yet the VIP's claimants send keepalived-shaped
    frames (5 back-to-back GARPs): the wire kind contradicts the API; the wire line names it."""
    server, kc = cluster
    svc = ks.metallb_only_service(**{"kube-vip.io/ignore": "true"})
    svc["status"]["loadBalancer"]["ingress"][0]["ip"] = "192.0.2.101"
    server.put("services", svc)
    for key in list(server.objects["events"]):
        server.delete("events", *key)
    code, out, _ = run("--kubeconfig", str(kc), "--pcap", str(ks.ROOT / "pcaps" / "failover.pcap"),
                       "--format", "json")
    web = next(e for e in json.loads(out)["services"] if e["name"] == "web")
    assert [c["announcer"] for c in web["wire"][0]["claimants"]] == ["keepalived", "keepalived"]
    hidden = [f for f in web["findings"] if f["id"] == "announcer-not-in-api"]
    assert len(hidden) == 2 and {f["severity"] for f in hidden} == {"at-risk"}  # no fight: a risk
    first = hidden[0]
    assert first["title"].endswith("sends keepalived-shaped frames for 192.0.2.101, a keepalived "
                                   "the API does not show")
    assert "the API shows metallb acting on default/web" in first["evidence"]
    assert first["fix"][0].startswith("on ") and "systemctl status keepalived" in first["fix"][0]
    assert "(keepalived, by its frames; 02:00:5e:10:00:0" in "\n".join(web["evidence"])
    assert web["verdict"] == "at-risk" and code == 0
