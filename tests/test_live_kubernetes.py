"""``watch --kubernetes --metrics-port`` live in the namespace lab (needs root).

The reported case end to end: kube-vip (node1) and MetalLB (node2) announce
192.0.2.103 for real; a local API server in the observer's namespace serves
the cluster (the Service both handle, the nodes with the lab's addresses);
``watch`` captures, learns the VIPs and node names from the API, and serves
metrics that show the contested VIP with node names.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("kubernetes")
pytest.importorskip("prometheus_client")

import kube_scenario as ks
from live_lab import (  # noqa: F401 - live_lab_fixture provides the live_lab fixture
    Lab,
    live_lab_fixture,
    start_watch,
)

from lab.scenarios import arping, start_announcer

TESTS = Path(__file__).resolve().parent
API_PORT = 16443
METRICS_PORT = 19710

SERVE_CLUSTER = f"""
import sys, time
sys.path.insert(0, {str(TESTS)!r})
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
    body = ""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body = obs.run([sys.executable, "-c", SCRAPE], check=False).stdout
        if 'arpwatch_lb_ip_contested{vip="192.0.2.103",vlan=""} 1.0' in body and \
                'node="node2"' in body and 'node="node1"' in body:
            break
        time.sleep(0.5)
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
