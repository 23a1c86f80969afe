"""``watch --kubernetes --metrics-port`` services, against a local API server and a replayed tracker.

The session is a stand-in with the real session's shape (tracker, counts,
monitor, a ``vips`` provider); the services are the real ones.
"""

from __future__ import annotations

import io
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kube_scenario as ks
import pytest
from fake_apiserver import FakeApiServer

from arpwatch_lb.core.addresses import VipSet, parse_ip, parse_vips
from arpwatch_lb.core.tracker import OwnershipTracker
from arpwatch_lb.sessions.replay import replay
from arpwatch_lb.sessions.watch_services import (
    Handoff,
    KubernetesTargets,
    MetricsEndpoint,
    ServiceError,
)


def fake_session(tmp_path: Path, vips: VipSet | None = None) -> Any:
    tracker = OwnershipTracker()
    res = replay([ks.PCAP, ks.node_arp_pcap(tmp_path / "nodes.pcap")], tracker)
    vs = vips or VipSet()
    return SimpleNamespace(tracker=tracker, counts=res.counts, vips=lambda: vs,
                           monitor=SimpleNamespace(kernel_drops=3, links={}))


class Services:
    """KubernetesTargets and/or MetricsEndpoint around ``session``, closed together."""

    def __init__(self, session: Any, kubeconfig: str | None = None, metrics: bool = False,
                 err: io.StringIO | None = None, user_vips: VipSet | None = None) -> None:
        self.err = err or io.StringIO()
        self.kube = self.server = None
        try:
            if kubeconfig is not None:
                self.kube = KubernetesTargets(user_vips or VipSet(), kubeconfig,
                                              err=self.err).start()
                session.vips = self.kube.vips
            if metrics:
                self.server = MetricsEndpoint(session, 0, "127.0.0.1", self.kube,
                                              err=self.err).start().server
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        if self.kube is not None:
            self.kube.close()


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def wait_for(cond: Any, timeout: float = 8.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return bool(cond())


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[FakeApiServer, Path]]:
    s = FakeApiServer().start()
    ks.populate(s, events=10, flaps=3)
    yield s, s.kubeconfig(tmp_path / "kubeconfig")
    s.stop()


def test_kubernetes_vips_and_node_names_reach_policy_and_metrics(
        cluster: tuple[FakeApiServer, Path], tmp_path: Path) -> None:
    server, kc = cluster
    session = fake_session(tmp_path)
    err = io.StringIO()
    extras = Services(session, str(kc), metrics=True, err=err)
    try:
        assert parse_ip(ks.VIP) in session.vips()
        assert parse_ip("192.0.2.10") not in session.vips()  # the client: not a VIP
        assert session.vips().singles == []  # passive: quiet VIPs are not "unclaimed"
        port = extras.server.port
        body = scrape(port)
        assert 'arpwatch_lb_ip_contested{vip="192.0.2.103",vlan=""} 1.0' in body
        assert 'node="node1"' in body and 'node="node2"' in body
        assert 'vip="192.0.2.10"' not in body
        assert "arpwatch_lb_kubernetes_vips 2.0" in body
        assert "arpwatch_lb_kubernetes_api_up 1.0" in body
        assert "arpwatch_lb_kernel_drops_total 3.0" in body
        # the contested Service is deleted: its VIP leaves the selection, no restart
        server.delete("services", "default", "web")
        assert wait_for(lambda: 'vip="192.0.2.103"' not in scrape(port))
        assert parse_ip(ks.VIP) not in session.vips()
        # the API server goes away: VIPs kept, said once, api_up 0
        server.stop()
        assert wait_for(lambda: "arpwatch_lb_kubernetes_api_up 0.0" in scrape(port))
        assert "arpwatch_lb_kubernetes_vips 1.0" in scrape(port)
        assert err.getvalue().count("keeping the last 1 known VIPs") == 1
    finally:
        extras.close()


def test_user_vips_stay_selected(cluster: tuple[FakeApiServer, Path], tmp_path: Path) -> None:
    _, kc = cluster
    user = parse_vips(["192.0.2.10"])
    session = fake_session(tmp_path, user)
    extras = Services(session, str(kc), user_vips=user)
    try:
        assert parse_ip("192.0.2.10") in session.vips()
        assert parse_ip(ks.VIP) in session.vips()
        assert session.vips().singles == [parse_ip("192.0.2.10")]
    finally:
        extras.close()


def test_metrics_alone_export_everything(tmp_path: Path) -> None:
    session = fake_session(tmp_path)
    extras = Services(session, metrics=True)
    try:
        body = scrape(extras.server.port)
        assert 'vip="192.0.2.10"' in body and 'vip="192.0.2.103"' in body
        assert "arpwatch_lb_kubernetes_vips" not in body
        with urllib.request.urlopen(f"http://127.0.0.1:{extras.server.port}/healthz") as r:
            assert r.status == 200
    finally:
        extras.close()


def test_metrics_address_is_checked_and_read_from_the_environment(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    def watch(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "arpwatch_lb", "watch", *args],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, **env})

    bad = watch("--metrics-port", "0", "--metrics-address", "node-1.example")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("arpwatch-lb: error: Invalid value for '--metrics-address'")
    assert "'node-1.example' is not an IPv4 or IPv6 address" in bad.stderr
    assert bad.stderr.count("\n") == 1
    from_env = watch("--metrics-port", "0", ARPWATCH_LB_METRICS_ADDRESS="not-an-ip")
    assert from_env.returncode == 2 and "'not-an-ip' is not an IPv4" in from_env.stderr
    helptext = watch("--help").stdout
    assert "--metrics-address IP" in helptext and "ARPWATCH_LB_METRICS_ADDRESS" in helptext


def test_metrics_on_one_address_only(tmp_path: Path) -> None:
    import socket

    session = fake_session(tmp_path)
    err = io.StringIO()
    extras = MetricsEndpoint(session, 0, "127.0.0.2", err=err).start()
    try:
        port = extras.server.port
        with urllib.request.urlopen(f"http://127.0.0.2:{port}/healthz", timeout=5) as r:
            assert r.status == 200
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 2):
            pass
        assert f"metrics on http://127.0.0.2:{port}/metrics" in err.getvalue()
    finally:
        extras.close()


def test_missing_extra_is_a_service_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    for name in [m for m in sys.modules if m == "kubernetes" or m.startswith("kubernetes.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    with pytest.raises(ServiceError, match=r"pip install 'arpwatch-lb\[kubernetes\]'"):
        KubernetesTargets(VipSet(), err=io.StringIO()).start()


def test_port_in_use_is_a_service_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ServiceError, match=f"--metrics-port {port}"):
            MetricsEndpoint(fake_session(tmp_path), port, "127.0.0.1", err=io.StringIO()).start()


def test_kubernetes_targets_for_probe(cluster: tuple[FakeApiServer, Path]) -> None:
    from arpwatch_lb.kube.api import KubeError
    from arpwatch_lb.sessions.probe import probe_targets
    server, kc = cluster
    vs, targets, node_ips = probe_targets(parse_vips(["192.0.2.10"]), str(kc), True, print)
    assert sorted(vs.singles) == sorted(parse_ip(x) for x in ("192.0.2.10", ks.VIP, ks.OTHER_VIP))
    assert set(node_ips) == {ip for ip, _ in ks.NODES.values()}
    assert set(targets.singles) == set(vs.singles) | {parse_ip(ip) for ip in node_ips}
    alone = parse_vips(["192.0.2.10"])
    assert probe_targets(alone, None, False, print) == (alone, alone, {})
    server.forbidden.add(("list", "services"))
    with pytest.raises(KubeError, match="forbidden"):
        probe_targets(VipSet(), str(kc), True, print)


def test_handoff_publishes_the_latest_value() -> None:
    box: Handoff[int] = Handoff(1)
    assert (box.get(), box.version) == (1, 0)
    box.put(2)
    box.put(3)
    assert (box.get(), box.version) == (3, 2)


def test_two_nics_of_one_node_are_one_node_in_report_events_and_metrics(
        cluster: tuple[FakeApiServer, Path], tmp_path: Path) -> None:
    """node1 answers every request from both of its NICs (a generated capture); the API
    server names node1 by its InternalIP, which both MACs claim too."""
    from arpwatch_lb.core.event_policy import EventPolicy
    from arpwatch_lb.core.report import build_report

    _, kc = cluster
    tracker = OwnershipTracker(record_events=True)
    res = replay([ks.two_nic_pcap(tmp_path / "two-nics.pcap")], tracker)
    changes = tracker.drain()
    session = SimpleNamespace(tracker=tracker, counts=res.counts, vips=VipSet,
                              monitor=SimpleNamespace(kernel_drops=0, links={}))
    without = build_report(tracker, res.counts, parse_vips([ks.VIP]), mode="watch")
    assert without["ips"][0]["verdict"] == "contested"  # MACs alone: looks like a fight
    extras = Services(session, str(kc), metrics=True)
    try:
        assert extras.kube is not None
        kube = extras.kube
        policy = EventPolicy(tracker, VipSet(), nodes=lambda: kube.nodes(tracker))
        assert wait_for(lambda: len(kube.nodes(tracker)) == 2)
        nic1, nic2 = ks.NODES["node1"][1], ks.NODE1_NIC2
        assert {m.hex(":"): n for m, n in kube.nodes(tracker).items()} == {nic1: "node1",
                                                                           nic2: "node1"}
        rep = build_report(tracker, res.counts, parse_vips([ks.VIP]), mode="watch",
                           nodes=kube.nodes(tracker))
        [e] = rep["ips"]
        assert (e["verdict"], e["nodes"], e["same_node"]) == ("ok", ["node1"], True)
        assert e["duplicate_replies"] == 4
        assert {c["mac"]: c["node"] for c in e["claimants"]} == {nic1: "node1", nic2: "node1"}
        # the events policy the session uses names the node and calls no contest
        policy.vips = parse_vips([ks.VIP])
        evs = policy.changes(changes, "eth0")
        assert not [x for x in evs if x["event"] == "contested"]
        dups = [x for x in evs if x["event"] == "duplicate_reply"]
        assert dups and all(x["same_node"] and x["node"] == "node1" for x in dups)
        body = scrape(extras.server.port)
        assert 'arpwatch_lb_ip_contested{vip="192.0.2.103",vlan=""} 0.0' in body
        assert 'arpwatch_lb_ip_claimant_nodes{vip="192.0.2.103",vlan=""} 1.0' in body
        assert f'mac="{nic2}",node="node1"' in body
    finally:
        extras.close()


def test_kubernetes_discovery_follows_ipv6_vips(tmp_path: Path) -> None:
    """watch --kubernetes: a Service's IPv6 ingress IP joins the VIP selection live, next to
    the IPv4 one; the nodes' IPv6 InternalIPs are node addresses."""
    server = FakeApiServer().start()
    try:
        ks.populate(server, events=1, flaps=1)
        n = ks.node("node1")
        n["status"]["addresses"].append({"type": "InternalIP", "address": "2001:db8::11"})
        server.put("nodes", n)
        kc = server.kubeconfig(tmp_path / "kubeconfig")
        session = fake_session(tmp_path)
        extras = Services(session, str(kc))
        try:
            v6 = parse_ip("2001:db8::103")
            assert v6 not in session.vips()
            svc = ks.contested_service(False)
            svc["status"]["loadBalancer"]["ingress"].append({"ip": "2001:db8::103"})
            server.put("services", svc)
            assert wait_for(lambda: v6 in session.vips())
            assert parse_ip(ks.VIP) in session.vips() and parse_ip("2001:db8::104") not in (
                session.vips())
            assert extras.kube.node_ips() == {"192.0.2.11": "node1", "2001:db8::11": "node1",
                                              "192.0.2.12": "node2"}
        finally:
            extras.close()
    finally:
        server.stop()
