"""Alert rules through promtool, and a real Prometheus scraping a running exporter.

Needs the Debian ``prometheus`` package (``/usr/bin/prometheus``, ``promtool``;
scripts/test-all installs it).  The server runs on 127.0.0.1 from a temporary
config and storage directory; the system service is never used.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kube_scenario as ks
import pytest
import yaml

from arpwatch_lb.core.tracker import OwnershipTracker
from arpwatch_lb.kube.nodes import mac_nodes
from arpwatch_lb.sessions.replay import replay
from arpwatch_lb.sinks.metrics import serve, snapshot_tracker

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus" / "arpwatch-lb.rules.yaml"
RULES_TEST = ROOT / "deploy" / "prometheus" / "rules-test.yaml"
CRD = ROOT / "deploy" / "prometheus-rules.yaml"
# These tests fail, never skip, without the Debian package: scripts/test-all installs it.
PROMTOOL = shutil.which("promtool") or "promtool"
PROMETHEUS = shutil.which("prometheus") or "prometheus"


def test_crd_and_plain_rules_agree() -> None:
    assert yaml.safe_load(CRD.read_text())["spec"] == yaml.safe_load(RULES.read_text())


def test_promtool_check_rules() -> None:
    r = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 3 rules found" in r.stdout


def test_promtool_check_rules_from_the_crd(tmp_path: Path) -> None:
    plain = tmp_path / "from-crd.rules.yaml"
    plain.write_text(yaml.safe_dump(yaml.safe_load(CRD.read_text())["spec"]))
    r = subprocess.run([PROMTOOL, "check", "rules", str(plain)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_promtool_test_rules_fire_for_contest_silent_for_failover() -> None:
    r = subprocess.run([PROMTOOL, "test", "rules", str(RULES_TEST)], capture_output=True,
                       text=True, timeout=60, cwd=RULES_TEST.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_promtool_test_rules_would_catch_a_silent_alert(tmp_path: Path) -> None:
    """The rules test is not vacuous: with the alert removed it fails."""
    rules = yaml.safe_load(RULES.read_text())
    rules["groups"][0]["rules"] = [r for r in rules["groups"][0]["rules"]
                                   if r.get("alert") != "LoadBalancerVIPContested"]
    (tmp_path / RULES.name).write_text(yaml.safe_dump(rules))
    shutil.copy(RULES_TEST, tmp_path / RULES_TEST.name)
    r = subprocess.run([PROMTOOL, "test", "rules", RULES_TEST.name], capture_output=True,
                       text=True, timeout=60, cwd=tmp_path)
    assert r.returncode != 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[int]:
    """A running exporter: the contested capture plus the nodes' own ARP, node names known."""
    tracker = OwnershipTracker()
    res = replay([ks.PCAP, ks.node_arp_pcap(tmp_path / "nodes.pcap")], tracker)
    nodes = mac_nodes(tracker, {ip: n for n, (ip, _) in ks.NODES.items()})
    srv = serve(lambda: snapshot_tracker(tracker, counts=res.counts, nodes=nodes), 0,
                host="127.0.0.1")
    yield srv.port
    srv.close()


def test_real_prometheus_sees_the_contested_vip(exporter: int, tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "arpwatch-lb",
                            "static_configs": [{"targets": [f"127.0.0.1:{exporter}"]}]}],
    }))
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"],
        stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def query(q: str) -> list[dict[str, Any]]:
            doc = get_json(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": q}))
            assert doc["status"] == "success"
            return doc["data"]["result"]

        result: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                result = query("arpwatch_lb_ip_contested == 1")
            except (OSError, ValueError):
                result = []
            if result:
                break
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
            time.sleep(0.5)
        assert [r["metric"]["vip"] for r in result] == [ks.VIP], result
        # owner with its node name, and the frames of both nodes
        owners = query('arpwatch_lb_ip_owner_info{vip="192.0.2.103"}')
        assert owners[0]["metric"]["node"] in ("node1", "node2")
        nodes = {r["metric"]["node"] for r in query(
            'arpwatch_lb_ip_claimant_frames_total{vip="192.0.2.103"}')}
        assert nodes == {"node1", "node2"}
        # the documented cluster-wide view (README.md, Kubernetes, "The cluster-wide view")
        cw = query("max by (vip) (arpwatch_lb_ip_contested)")
        assert {r["metric"]["vip"]: r["value"][1] for r in cw}[ks.VIP] == "1"
        distinct = query("count by (vip) (count by (vip, node) "
                         "(arpwatch_lb_ip_claimant_frames_total{node!=\"\"}))")
        assert {r["metric"]["vip"]: r["value"][1] for r in distinct}[ks.VIP] == "2"
        # the alert rule is loaded and matching (pending: `for: 1m`)
        alerts = get_json(f"{base}/api/v1/alerts")["data"]["alerts"]
        deadline = time.monotonic() + 20
        while not alerts and time.monotonic() < deadline:
            time.sleep(0.5)
            alerts = get_json(f"{base}/api/v1/alerts")["data"]["alerts"]
        contested = [a for a in alerts if a["labels"]["alertname"] == "LoadBalancerVIPContested"]
        assert contested and contested[0]["labels"]["vip"] == ks.VIP
        assert contested[0]["state"] in ("pending", "firing")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
