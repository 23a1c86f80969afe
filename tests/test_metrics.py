"""The Prometheus collector: values from the tracker at scrape time, bounded labels, HTTP."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from arpwatch_lb.core.frames import Claim
from arpwatch_lb.core.tracker import OwnershipTracker
from arpwatch_lb.sessions.replay import replay
from arpwatch_lb.sinks.metrics import (
    MetricsSnapshot,
    TrackerCollector,
    serve,
    snapshot_tracker,
)

ROOT = Path(__file__).resolve().parent.parent
VIP = {"vip": "192.0.2.103", "vlan": ""}


def registry_for(source) -> CollectorRegistry:  # type: ignore[no-untyped-def]
    reg = CollectorRegistry()
    reg.register(TrackerCollector(source))
    return reg


def replayed(name: str) -> tuple[OwnershipTracker, dict[str, int]]:
    tr = OwnershipTracker()
    res = replay([ROOT / "pcaps" / name], tr)
    return tr, dict(res.counts)


def test_contested_capture() -> None:
    tr, counts = replayed("metallb-vs-kubevip.pcap")
    reg = registry_for(lambda: snapshot_tracker(tr, counts=counts))
    g = reg.get_sample_value
    assert g("arpwatch_lb_ip_claimants", VIP) == 2
    assert g("arpwatch_lb_ip_claimant_nodes", VIP) == 2
    assert g("arpwatch_lb_ip_contested", VIP) == 1
    st = tr.ips[(None, None, bytes([192, 0, 2, 103]))]
    assert g("arpwatch_lb_ip_flip_flops_total", VIP) == st.flip_flops > 0
    assert g("arpwatch_lb_ip_duplicate_replies_total", VIP) == st.duplicate_replies > 0
    assert g("arpwatch_lb_ip_owner_changes_total", VIP) == st.changes
    owner = st.owner.hex(":")
    assert g("arpwatch_lb_ip_owner_info", {**VIP, "mac": owner, "node": ""}) == 1
    assert g("arpwatch_lb_ip_claimant_frames_total",
             {**VIP, "mac": "02:00:5e:10:00:01", "node": ""}) == 13
    assert g("arpwatch_lb_frames_total", {"kind": "total"}) == counts["total"]
    assert g("arpwatch_lb_ip_contested", {"vip": "192.0.2.10", "vlan": ""}) == 0
    assert g("arpwatch_lb_kernel_drops_total") is None  # not exposed by a replay


def test_clean_failover_is_not_contested() -> None:
    tr, counts = replayed("failover.pcap")
    reg = registry_for(lambda: snapshot_tracker(tr, counts=counts))
    v = {"vip": "192.0.2.101", "vlan": ""}
    assert reg.get_sample_value("arpwatch_lb_ip_owner_changes_total", v) == 1
    assert reg.get_sample_value("arpwatch_lb_ip_flip_flops_total", v) == 0
    assert reg.get_sample_value("arpwatch_lb_ip_contested", v) == 0


def test_values_are_read_at_scrape_time_and_selection_applies() -> None:
    tr = OwnershipTracker(window=60)
    vips: dict[str, object] = {"sel": None}
    from arpwatch_lb.core.addresses import parse_vips
    reg = registry_for(lambda: snapshot_tracker(tr, vips=lambda: vips["sel"]))  # type: ignore[arg-type,return-value]
    ip = bytes([10, 0, 0, 5])
    a, b = bytes([2, 0, 0, 0, 0, 1]), bytes([2, 0, 0, 0, 0, 2])
    assert reg.get_sample_value("arpwatch_lb_tracked_ips") == 0
    for i, m in enumerate([a, b, a]):
        tr.feed(Claim(float(i), None, None, 2, m, ip, m, ip, m, b"\xff" * 6, 60))
    v = {"vip": "10.0.0.5", "vlan": ""}
    assert reg.get_sample_value("arpwatch_lb_ip_flip_flops_total", v) == 1
    vips["sel"] = parse_vips(["10.0.1.0/24"])  # Kubernetes says: not a VIP (any more)
    assert reg.get_sample_value("arpwatch_lb_ip_flip_flops_total", v) is None
    assert reg.get_sample_value("arpwatch_lb_tracked_ips") == 1


def test_contested_expires_after_window_but_counters_stay() -> None:
    tr = OwnershipTracker(window=10)
    ip = bytes([10, 0, 0, 5])
    a, b = bytes([2, 0, 0, 0, 0, 1]), bytes([2, 0, 0, 0, 0, 2])
    for i, m in enumerate([a, b, a]):
        tr.feed(Claim(float(i), None, None, 2, m, ip, m, ip, m, b"\xff" * 6, 60))
    reg = registry_for(lambda: snapshot_tracker(tr))
    v = {"vip": "10.0.0.5", "vlan": ""}
    assert reg.get_sample_value("arpwatch_lb_ip_contested", v) == 1
    tr.feed(Claim(100.0, None, None, 2, a, ip, a, ip, a, b"\xff" * 6, 60))  # quiet since
    assert reg.get_sample_value("arpwatch_lb_ip_contested", v) == 0
    assert reg.get_sample_value("arpwatch_lb_ip_flip_flops_total", v) == 1


def test_several_macs_of_one_node_are_not_contested() -> None:
    tr = OwnershipTracker(window=60)
    ip = bytes([10, 0, 0, 5])
    a, b = bytes([2, 0, 0, 0, 0, 1]), bytes([2, 0, 0, 0, 0, 2])
    for i, m in enumerate([a, b, a, b]):
        tr.feed(Claim(float(i), None, None, 2, m, ip, m, ip, m, b"\xff" * 6, 60))
    nodes = {a: "node1", b: "node1"}  # a bond: both NICs are node1's
    reg = registry_for(lambda: snapshot_tracker(tr, nodes=nodes))
    v = {"vip": "10.0.0.5", "vlan": ""}
    assert reg.get_sample_value("arpwatch_lb_ip_claimants", v) == 2
    assert reg.get_sample_value("arpwatch_lb_ip_claimant_nodes", v) == 1
    assert reg.get_sample_value("arpwatch_lb_ip_contested", v) == 0
    assert reg.get_sample_value("arpwatch_lb_ip_owner_info",
                                {**v, "mac": b.hex(":"), "node": "node1"}) == 1


def test_spoofed_mac_flood_is_bounded() -> None:
    tr = OwnershipTracker(window=60)
    ip = bytes([10, 0, 0, 5])
    claims = []
    for i in range(5000):
        m = bytes([2, 0xAA, 0, 0]) + i.to_bytes(2, "big")
        claims.append(Claim(i * 0.001, None, None, 2, m, ip, m, ip, m, b"\xff" * 6, 60))
    tr.feed_all(claims)
    reg = registry_for(lambda: snapshot_tracker(tr, max_macs=8))
    samples = [s for m in reg.collect() for s in m.samples
               if s.name == "arpwatch_lb_ip_claimant_frames_total"]
    assert len(samples) == 9  # 8 MACs + "other"
    other = [s for s in samples if s.labels["mac"] == "other"]
    assert other and other[0].value == 5000 - 8
    assert sum(s.value for s in samples) == 5000
    first = [s for s in samples if s.labels["mac"] == "02:aa:00:00:00:00"]
    assert first and first[0].value == 1  # the first MACs seen keep their labels (stable)
    # the owner is the last spoofed MAC: shown as "other", no new series per spoofed owner
    assert reg.get_sample_value("arpwatch_lb_ip_owner_info",
                                {"vip": "10.0.0.5", "vlan": "", "mac": "other", "node": ""}) == 1
    assert reg.get_sample_value("arpwatch_lb_ip_claimants", {"vip": "10.0.0.5", "vlan": ""}) == 5000


def test_spoofed_ip_flood_is_bounded() -> None:
    tr = OwnershipTracker()
    m = bytes([2, 0, 0, 0, 0, 9])
    tr.feed_all(Claim(i * 0.01, None, None, 1, m, (0x0A000000 + i).to_bytes(4, "big"), b"\0" * 6,
                      b"\x0a\0\0\1", m, b"\xff" * 6, 60) for i in range(300))
    reg = registry_for(lambda: snapshot_tracker(tr, max_ips=50))
    assert reg.get_sample_value("arpwatch_lb_exported_ips") == 50
    assert reg.get_sample_value("arpwatch_lb_tracked_ips") == 300


def test_optional_families() -> None:
    reg = registry_for(lambda: MetricsSnapshot(kernel_drops=7, probe_rtts=(3, 0.006),
                                               kubernetes=(4, False)))
    assert reg.get_sample_value("arpwatch_lb_kernel_drops_total") == 7
    assert reg.get_sample_value("arpwatch_lb_probe_rtt_seconds_count") == 3
    assert reg.get_sample_value("arpwatch_lb_probe_rtt_seconds_sum") == pytest.approx(0.006)
    assert reg.get_sample_value("arpwatch_lb_kubernetes_vips") == 4
    assert reg.get_sample_value("arpwatch_lb_kubernetes_api_up") == 0


def test_http_server_metrics_and_healthz() -> None:
    tr, counts = replayed("metallb-vs-kubevip.pcap")
    lock = threading.Lock()
    healthy = {"ok": True}
    srv = serve(lambda: snapshot_tracker(tr, counts=counts, lock=lock), 0, host="127.0.0.1",
                health=lambda: healthy["ok"])
    try:
        base = f"http://127.0.0.1:{srv.port}"
        with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
            body = r.read().decode()
            assert r.headers["Content-Type"].startswith("text/plain")
        assert 'arpwatch_lb_ip_contested{vip="192.0.2.103",vlan=""} 1.0' in body
        with urllib.request.urlopen(base + "/healthz", timeout=5) as r:
            assert r.status == 200
        healthy["ok"] = False
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(base + "/healthz", timeout=5)
        assert exc.value.code == 503
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(base + "/nope", timeout=5)
        assert exc.value.code == 404
    finally:
        srv.close()
