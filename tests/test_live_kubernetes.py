"""``watch --kubernetes --metrics-port`` live in the namespace lab (needs root).

The reported case end to end: kube-vip (node1) and MetalLB (node2) announce
192.0.2.103 for real; a local API server in the observer's namespace serves
the cluster (the Service both handle, the nodes with the lab's addresses);
``watch`` captures, learns the VIPs and node names from the API, and serves
metrics that show the contested VIP with node names.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import kube_scenario as ks
from live_lab import (  # noqa: F401 - live_lab_fixture provides the live_lab fixture
    Lab,
    arpwatch,
    live_lab_fixture,
    start_watch,
)

from lab.netlab import Host
from lab.scenarios import arping, start_announcer

TESTS = Path(__file__).resolve().parent
API_PORT = 16443
METRICS_PORT = 19710

SERVE_CLUSTER = f"""
import sys, time
sys.path.insert(0, {str(TESTS)!r})
from collections.abc import Callable
from pathlib import Path
from fake_apiserver import FakeApiServer
import kube_scenario as ks
s = FakeApiServer()
s.port = {API_PORT}
s.start()
ks.populate(s, events=100, flaps=5)
s.kubeconfig(Path(sys.argv[1]))
print("ready", flush=True)
sys.stdin.read()
"""

SCRAPE = f"""
import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5).read().decode())
"""


def scrape_until(host: Host, done: Callable[[str], bool], timeout: float,
                 every: float = 0.5) -> str:
    """Scrape the watcher's /metrics from inside ``host`` until ``done(body)`` or the timeout;
    return the last body (the caller asserts on it)."""
    body = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = host.run([sys.executable, "-c", SCRAPE], check=False).stdout
        if done(body):
            break
        time.sleep(every)
    return body


def test_watch_kubernetes_metrics_live(live_lab: Lab, tmp_path: Path) -> None:
    n1, n2 = live_lab.add_host("node1"), live_lab.add_host("node2")
    client = live_lab.add_host("client")
    obs = live_lab.add_host("obs", ip=None)
    assert (n1.ip, n2.ip) == (ks.NODES["node1"][0], ks.NODES["node2"][0])
    kc = tmp_path / "kubeconfig"
    api = obs.popen([sys.executable, "-c", SERVE_CLUSTER, str(kc)], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, text=True)
    assert api.stdout is not None and api.stdout.readline().strip() == "ready"
    w = start_watch(obs, "-i", "eth0", "--kubernetes", "--kubeconfig", str(kc),
                    "--metrics-port", str(METRICS_PORT), "--summary-interval", "2")
    n1.add_address(f"{ks.VIP}/32")
    n2.enable_proxy_arp(ks.VIP)
    start_announcer(n1, "kubevip", "--iface", "eth0", "--vip", ks.VIP, "--rate-ms", "3000",
                    "--duration", "7")
    start_announcer(n2, "metallb", "--iface", "eth0", "--vip", ks.VIP, "--reconcile-every", "4",
                    "--duration", "7")
    arping(client, ks.NODES["node1"][0], "-c", "2", "-W", "0.3")  # the nodes' own addresses
    arping(client, ks.NODES["node2"][0], "-c", "2", "-W", "0.3")
    arping(client, ks.VIP, "-d", "-c", "4", "-W", "0.5", expect_rc=1)  # both answer
    body = scrape_until(obs, lambda b: 'arpwatch_lb_ip_contested{vip="192.0.2.103",vlan=""} 1.0'
                        in b and 'node="node2"' in b and 'node="node1"' in b, timeout=20)
    live_lab.stop(w.proc, signal.SIGTERM)
    code, events, report = w.finish()
    assert 'arpwatch_lb_ip_contested{vip="192.0.2.103",vlan=""} 1.0' in body, body
    assert "arpwatch_lb_kubernetes_vips 2.0" in body
    assert "arpwatch_lb_kubernetes_api_up 1.0" in body
    owners = [line for line in body.splitlines()
              if line.startswith('arpwatch_lb_ip_owner_info{') and "192.0.2.103" in line]
    assert owners and ('node="node1"' in owners[0] or 'node="node2"' in owners[0])
    assert 'vip="192.0.2.13"' not in body  # the client is no VIP: not exported
    assert any("2 LoadBalancer VIPs" in line for line in w.stderr), w.stderr
    # the final report covers the Kubernetes VIPs (no 'unclaimed' for the quiet one)
    ips = {e["ip"]: e["verdict"] for e in report["ips"]}
    assert ips.get(ks.VIP) == "contested" and ks.OTHER_VIP not in ips
    assert code == 1
    assert any(e.get("event") == "flip_flop" and e.get("ip") == ks.VIP for e in events), \
        json.dumps(events[:5])
    api.terminate()


def _serve_cluster(host, kc: Path) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    """The fake API server (the reported cluster) in ``host``'s namespace, on 127.0.0.1."""
    api = host.popen([sys.executable, "-c", SERVE_CLUSTER, str(kc)], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, text=True)
    assert api.stdout is not None and api.stdout.readline().strip() == "ready"
    return api


def _two_nic_cluster(live_lab: Lab):  # type: ignore[no-untyped-def]
    """node1 with a second NIC on the segment and the contested VIP on eth0 (both NICs answer
    for it: ARP flux); node2 holding the other Service's VIP."""
    n1, n2 = live_lab.add_host("node1"), live_lab.add_host("node2")
    assert (n1.ip, n2.ip) == (ks.NODES["node1"][0], ks.NODES["node2"][0])
    n1.add_nic("eth1", ks.NODE1_NIC2)
    n1.add_address(f"{ks.VIP}/32")
    n2.add_address(f"{ks.OTHER_VIP}/32")
    return n1, n2


def test_probe_kubernetes_two_nics_of_one_node_are_one_node(live_lab: Lab,
                                                           tmp_path: Path) -> None:
    n1, n2 = _two_nic_cluster(live_lab)
    prober = live_lab.add_host("prober")
    kc = tmp_path / "kubeconfig"
    api = _serve_cluster(prober, kc)
    args = ("-i", "eth0", "--count", "3", "--interval", "0.2", "--timeout", "0.5")
    # without the cluster: two MACs answer every request — looks like two announcers
    plain = arpwatch(prober, "probe", "--vip", ks.VIP, *args, "--format", "json")
    assert plain.returncode == 1, plain.stderr
    [pe] = json.loads(plain.stdout)["ips"]
    assert pe["verdict"] == "contested" and "same_node" not in pe
    assert sorted(c["mac"] for c in pe["claimants"]) == sorted([n1.mac, ks.NODE1_NIC2])
    # with it: the nodes' InternalIPs are asked too, and both MACs are node1's
    r = arpwatch(prober, "probe", "--kubernetes", "--kubeconfig", str(kc), *args,
                 "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    ips = {e["ip"]: e for e in rep["ips"]}
    assert set(ips) == {ks.VIP, ks.OTHER_VIP}  # node addresses are asked, not reported
    vip = ips[ks.VIP]
    assert (vip["verdict"], vip["nodes"], vip["same_node"]) == ("ok", ["node1"], True)
    assert vip["duplicate_replies"] >= 3
    assert {c["mac"]: c["node"] for c in vip["claimants"]} == {n1.mac: "node1",
                                                               ks.NODE1_NIC2: "node1"}
    other = ips[ks.OTHER_VIP]
    assert (other["verdict"], other["nodes"], other["same_node"]) == ("ok", ["node2"], False)
    assert [c["node"] for c in other["claimants"]] == ["node2"]
    # 4 addresses × 3 requests, all answered; node1's two NICs answer both of its addresses
    assert (rep["probes"]["sent"], rep["probes"]["answered"]) == (12, 12)
    assert rep["probes"]["rtt_seconds"]["count"] == 3 * (2 + 2 + 1 + 1)
    assert vip["probe_rtt"]["count"] == 6 and other["probe_rtt"]["count"] == 3
    table = arpwatch(prober, "probe", "--kubernetes", "--kubeconfig", str(kc), *args)
    assert table.returncode == 0, table.stderr
    assert f"{n1.mac} [node1]" in table.stdout and f"{ks.NODE1_NIC2} [node1]" in table.stdout
    assert "(one node, 2 MACs)" in table.stdout
    assert f"{n2.mac} [node2]" in table.stdout
    api.terminate()


def test_watch_kubernetes_two_nics_of_one_node_are_one_node(live_lab: Lab,
                                                           tmp_path: Path) -> None:
    n1, _ = _two_nic_cluster(live_lab)
    client = live_lab.add_host("client")
    obs = live_lab.add_host("obs", ip=None)
    kc = tmp_path / "kubeconfig"
    api = _serve_cluster(obs, kc)
    w = start_watch(obs, "-i", "eth0", "--kubernetes", "--kubeconfig", str(kc),
                    "--metrics-port", str(METRICS_PORT), "--summary-interval", "1")
    arping(client, ks.NODES["node1"][0], "-c", "2", "-W", "0.3")  # names both of node1's MACs
    arping(client, ks.NODES["node2"][0], "-c", "2", "-W", "0.3")
    arping(client, ks.VIP, "-c", "4", "-W", "0.3")  # both NICs answer every request
    body = scrape_until(obs, lambda b: 'arpwatch_lb_ip_claimant_nodes{vip="192.0.2.103",vlan=""} 1.0'
                        in b and f'mac="{ks.NODE1_NIC2}",node="node1"' in b, timeout=15, every=0.3)
    live_lab.stop(w.proc, signal.SIGTERM)
    code, events, report = w.finish()
    assert 'arpwatch_lb_ip_claimants{vip="192.0.2.103",vlan=""} 2.0' in body, body
    assert 'arpwatch_lb_ip_claimant_nodes{vip="192.0.2.103",vlan=""} 1.0' in body
    assert 'arpwatch_lb_ip_contested{vip="192.0.2.103",vlan=""} 0.0' in body
    assert f'mac="{ks.NODE1_NIC2}",node="node1"' in body
    [e] = [x for x in report["ips"] if x["ip"] == ks.VIP]
    assert (e["verdict"], e["nodes"], e["same_node"]) == ("ok", ["node1"], True), e
    assert e["duplicate_replies"] >= 3
    assert {c["mac"]: c["node"] for c in e["claimants"]} == {n1.mac: "node1",
                                                             ks.NODE1_NIC2: "node1"}
    assert code == 0, w.stderr
    mine = [x for x in events if x.get("ip") == ks.VIP]
    assert not [x for x in mine if x["event"] == "contested"], mine
    dups = [x for x in mine if x["event"] == "duplicate_reply"]
    assert dups and all((x["node"], x["previous_node"], x["same_node"]) == ("node1", "node1", True)
                        for x in dups), dups
    new = [x for x in mine if x["event"] == "new_claimant"]
    assert sorted((x["mac"], x["node"]) for x in new) == sorted(
        [(n1.mac, "node1"), (ks.NODE1_NIC2, "node1")])
    assert report["probes"]["sent"] == 0  # passive: no --vip, no probes
    api.terminate()


def test_watch_metrics_probe_round_trips_live(live_lab: Lab) -> None:
    """``watch --vip --metrics-port``: the probes' round trips reach /metrics."""
    owner = live_lab.add_host("owner")
    watcher = live_lab.add_host("watcher")
    vip = "192.0.2.100"
    owner.add_address(f"{vip}/32")
    w = start_watch(watcher, "-i", "eth0", "--vip", vip, "--probe-interval", "0.3",
                    "--metrics-port", str(METRICS_PORT))
    def rtt_count(body: str) -> float:
        m = re.search(r"^arpwatch_lb_probe_rtt_seconds_count (\S+)$", body, re.M)
        return float(m.group(1)) if m else 0.0

    body = scrape_until(watcher, lambda b: rtt_count(b) >= 3, timeout=15, every=0.3)
    count = rtt_count(body)
    live_lab.stop(w.proc, signal.SIGTERM)
    code, _, report = w.finish()
    assert count >= 3, body
    total = float(re.search(r"^arpwatch_lb_probe_rtt_seconds_sum (\S+)$", body, re.M).group(1))
    assert 0 < total / count < 0.3
    per_vip = re.search(r'^arpwatch_lb_ip_probe_rtt_seconds_count\{vip="192.0.2.100"\} (\S+)$',
                        body, re.M)
    assert per_vip and float(per_vip.group(1)) == count
    sent = float(re.search(r"^arpwatch_lb_probe_requests_total (\S+)$", body, re.M).group(1))
    assert sent >= count
    assert code == 0, w.stderr
    rtt = report["probes"]["rtt_seconds"]
    assert rtt["count"] >= count and 0 < rtt["min"] <= rtt["max"] < 0.3
    print(f"lab watch RTT: {rtt}")
