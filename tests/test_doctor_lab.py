"""``doctor`` on a capture recorded in the lab: real kernels answering for an IPVS-bound VIP.

kube-proxy in IPVS mode binds every LoadBalancer VIP on every node (on
``kube-ipvs0``; ``lo`` stands in for it here, dummy devices are not available);
with the kernel's default ``arp_ignore=0`` each node answers ARP for it.  The
lab shows that with three real kernels, doctor names kube-proxy as the cause,
and that the fix it gives (strictARP = ``arp_ignore=1``, ``arp_announce=2``)
leaves only the announcer's node on the wire.  Needs root (network namespaces);
if the lab cannot be built the test fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import doctor_clusters as dc
import pytest
from click.testing import CliRunner
from fake_apiserver import FakeApiServer

from arpwatch_lb.cli.doctor import doctor
from lab.netlab import Host, Lab
from lab.scenarios import arping, start_announcer

OBSERVER_MAC = "02:00:5e:10:00:fe"


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    s = FakeApiServer().start()
    yield s
    s.stop()


def _doctor(server: FakeApiServer, tmp_path: Path, pcap: Path) -> tuple[int, dict]:
    kc = str(server.kubeconfig(tmp_path / "kubeconfig"))
    r = CliRunner().invoke(doctor, ["--kubeconfig", kc, "--pcap", str(pcap), "--format", "json"])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, json.loads(r.stdout)


def _ask(client: Host) -> None:
    """The client resolves each node (their kernels' replies name their MACs), then the VIP."""
    for nip, _ in dc.NODES.values():
        arping(client, nip, "-c", "1", "-W", "0.2")
    arping(client, dc.IPVS_VIP, "-c", "3", "-W", "0.3", expect_rc=None)


def test_ipvs_without_strict_arp_in_the_lab(server: FakeApiServer, tmp_path: Path) -> None:
    dc.ipvs_cluster(server)
    with Lab() as lab:
        client = lab.add_host("client", f"{dc.CLIENT_IP}/24", dc.CLIENT_MAC)
        nodes = {n: lab.add_host(n.replace("-", ""), f"{nip}/24", nmac)
                 for n, (nip, nmac) in dc.NODES.items()}
        observer = lab.add_host("observer", ip=None, mac=OBSERVER_MAC)
        for h in nodes.values():  # what kube-proxy IPVS does with every LoadBalancer VIP
            h.run(["ip", "addr", "add", f"{dc.IPVS_VIP}/32", "dev", "lo"])
        before = tmp_path / "ipvs-lab.pcap"
        with lab.capture(observer, before):
            _ask(client)
        code, doc = _doctor(server, tmp_path, before)
        (web,) = doc["services"]
        (wire,) = web["wire"]
        assert wire["most_nodes_answering_one_request"] == 3
        assert {f["id"] for f in web["findings"]} == {"kube-proxy-strict-arp"}
        assert web["verdict"] == "contested" and code == 1
        # the fix: strictARP, i.e. arp_ignore=1 and arp_announce=2 on every node
        for h in nodes.values():
            h.sysctl("net.ipv4.conf.all.arp_ignore", 1)
            h.sysctl("net.ipv4.conf.all.arp_announce", 2)
        server.put("configmaps", dc.kube_proxy_configmap("ipvs", strict_arp=True))
        after = tmp_path / "strict-lab.pcap"
        with lab.capture(observer, after):
            speaker = start_announcer(nodes["node-a"], "metallb", "--iface", "eth0", "--vip",
                                      dc.IPVS_VIP, "--duration", "2.5")
            _ask(client)
            assert speaker.wait(timeout=20) == 0
        code, doc = _doctor(server, tmp_path, after)
        (web,) = doc["services"]
        (wire,) = web["wire"]
        assert [(e["node"], e["macs"]) for e in wire["by_node"]] == [
            ("node-a", [dc.NODES["node-a"][1]])]
        assert wire["most_nodes_answering_one_request"] == 0
        assert web["findings"] == [] and doc["findings"] == []
        assert web["verdict"] == "ok" and code == 0
