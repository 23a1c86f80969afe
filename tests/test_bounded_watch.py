"""A bounded ``watch``: a spray of addresses fills the IP table; the VIP and the node addresses
stay, evictions are told once on stderr, as ``table_full`` events, in the summary, the report
and the metrics (``arpwatch_lb_table_evictions_total``)."""

from __future__ import annotations

import io
import json
import urllib.request

import pytest
from prometheus_client import CollectorRegistry
from test_live_units import BCAST, FakeLink, garp

from arpwatch_lb.core.addresses import parse_vips
from arpwatch_lb.core.event_policy import EVENT_KINDS, EventPolicy
from arpwatch_lb.core.frames import Claim, encode_arp, ethernet_frame
from arpwatch_lb.core.tracker import DEFAULT_MAX_IPS, OwnershipTracker
from arpwatch_lb.sessions import watch as watch_session
from arpwatch_lb.sessions.watch import Protected, WatchConfig, WatchSession
from arpwatch_lb.sessions.watch_services import MetricsEndpoint
from arpwatch_lb.sinks.metrics import TrackerCollector, snapshot_tracker
from arpwatch_lb.sources.link_socket import Received

VIP = bytes((192, 0, 2, 100))
NODE_IP = bytes((198, 51, 100, 7))
A, B = bytes.fromhex("02005e100001"), bytes.fromhex("02005e100002")
NODE_MAC = bytes.fromhex("02005e1000aa")


def sprayed(i: int) -> bytes:
    m = bytes((2, 0x5E, 0, 0, i >> 8 & 0xFF, i & 0xFF))
    a = bytes((198, 18, i >> 8 & 0xFF, i & 0xFF))
    return ethernet_frame(BCAST, m, encode_arp(1, m, a, BCAST, a))


def spray_script(n: int, t0: float = 1000.0) -> list[Received]:
    """A VIP fought over by A and B, a node ARPing for itself, and ``n`` sprayed addresses."""
    out = [Received(t0, garp(NODE_MAC, NODE_IP), 60, False)]
    for i in range(n):
        t = t0 + 0.001 + i * 1e-4
        if i % 500 == 0:
            out.append(Received(t, garp(A if i % 1000 else B, VIP), 60, False))
        out.append(Received(t + 5e-5, sprayed(i), 60, False))
    return out


def test_table_events_first_at_once_then_at_most_one_per_interval() -> None:
    tracker = OwnershipTracker(max_ips=10)
    policy = EventPolicy(tracker, table_interval=10.0)
    assert policy.table(0.0) == [] and "table_full" in EVENT_KINDS
    tracker.feed_all([Claim(float(i), None, None, 1, A, bytes((10, 0, 0, i)), BCAST,
                            bytes((10, 0, 0, i)), A, BCAST, 60) for i in range(15)])
    [first] = policy.table(100.0)
    assert first["event"] == "table_full" and first["first"] is True
    assert (first["evicted"], first["evictions"], first["max_ips"], first["ips"]) == (5, 5, 10, 10)
    tracker.feed_all([Claim(20.0 + i, None, None, 1, A, bytes((10, 0, 1, i)), BCAST,
                            bytes((10, 0, 1, i)), A, BCAST, 60) for i in range(3)])
    assert policy.table(105.0) == []  # within the interval: counted, not told
    [later] = policy.table(111.0)
    assert later["first"] is False and (later["evicted"], later["evictions"]) == (3, 8)
    assert policy.table(200.0) == []  # nothing new


def test_protected_follows_the_selection_and_the_nodes() -> None:
    cfg = WatchConfig(interfaces=["eth0"], vips=parse_vips(["192.0.2.100"]))
    p = Protected(lambda: cfg.vips)
    assert VIP in p and NODE_IP not in p
    nodes = {"198.51.100.7": "node-1"}
    p.node_source = lambda: nodes
    p.refresh()
    assert NODE_IP in p
    cfg.vips = parse_vips([])  # no selection: nothing protected by VIP (everything selected)
    assert VIP not in p and NODE_IP in p


def run_watch(monkeypatch: pytest.MonkeyPatch, script: list[Received], max_ips: int,
              metrics: bool = False, node_ips: dict[str, str] | None = None
              ) -> tuple[list[dict], dict, str, WatchSession]:
    monkeypatch.setattr(watch_session, "interface_addresses", lambda name: (A, None))
    out, err = io.StringIO(), io.StringIO()
    cfg = WatchConfig(interfaces=["eth0"], vips=parse_vips(["192.0.2.100"]), duration=1.5, fmt="jsonl",
                      summary_interval=0.3, max_ips=max_ips)
    link = FakeLink("eth0", script)
    session = WatchSession(cfg, out, err, open_source=lambda name: link)
    if node_ips is not None:
        session.protected.node_source = lambda: node_ips
        session.protected.refresh()
    endpoint = (MetricsEndpoint(session, 0, "127.0.0.1", err=io.StringIO()).start()
                if metrics else None)
    try:
        monkeypatch.setattr(watch_session, "HOUSEKEEPING", 0.1)
        session.run()
        report = session.report()
    finally:
        if endpoint is not None:
            endpoint.close()
        session.close()
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    return events, report, err.getvalue(), session


def test_a_spray_under_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    events, report, err, session = run_watch(monkeypatch, spray_script(5000), max_ips=300,
                                             node_ips={"198.51.100.7": "node-1"})
    tracker = session.tracker
    assert tracker.table()["entries"] <= 300 and tracker.evictions > 4000
    assert (None, None, NODE_IP) in tracker.ips  # claimed once, long ago: kept all the same
    [vip] = report["ips"]
    assert vip["ip"] == "192.0.2.100" and vip["verdict"] == "contested"
    assert vip["frames"] == 10 and vip["changes"] == 9 and vip["flip_flops"] == 8
    assert report["table"]["evictions"] == tracker.evictions and report["table"]["max_ips"] == 300
    assert any("IP table is full" in w and str(tracker.evictions) in w for w in report["warnings"])
    assert err.count("IP table is full") == 1  # a warning once
    full = [ev for ev in events if ev["event"] == "table_full"]
    assert full and full[0]["first"] is True and all(not ev["first"] for ev in full[1:])
    assert sum(ev["evicted"] for ev in full) == tracker.evictions
    summaries = [ev for ev in events if ev["event"] == "summary"]
    assert summaries[-1]["table"]["evictions"] == tracker.evictions
    assert report["frames"]["claims"] == 1 + 5000 + 10  # every claim counted, evicted or not
    contested = [ev for ev in events if ev["event"] == "contested"]
    assert [ev["ip"] for ev in contested] == ["192.0.2.100"]


def test_the_eviction_metric(monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, _, session = run_watch(monkeypatch, spray_script(1000), max_ips=100, metrics=True)
    reg = CollectorRegistry()
    reg.register(TrackerCollector(lambda: snapshot_tracker(session.tracker)))
    assert reg.get_sample_value("arpwatch_lb_table_evictions_total") == session.tracker.evictions > 0
    assert reg.get_sample_value("arpwatch_lb_table_max_entries") == 100
    assert reg.get_sample_value("arpwatch_lb_table_entries") <= 100


def test_served_metrics_name_the_evictions(monkeypatch: pytest.MonkeyPatch) -> None:
    tracker = OwnershipTracker(max_ips=5)
    tracker.feed_all([Claim(float(i), None, None, 1, A, bytes((10, 0, 0, i)), BCAST,
                            bytes((10, 0, 0, i)), A, BCAST, 60) for i in range(9)])
    from arpwatch_lb.sinks.metrics import serve

    server = serve(lambda: snapshot_tracker(tracker), 0, "127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
            body = r.read().decode()
    finally:
        server.close()
    assert "# TYPE arpwatch_lb_table_evictions_total counter" in body or \
        "# TYPE arpwatch_lb_table_evictions counter" in body
    assert "arpwatch_lb_table_evictions_total 4.0" in body


def test_default_cap_is_shared_by_watch_and_probe() -> None:
    from click.testing import CliRunner

    from arpwatch_lb.cli import cli

    for cmd in ("watch", "probe"):
        text = CliRunner().invoke(cli, [cmd, "--help"]).output
        assert "--max-ips" in text and f"{DEFAULT_MAX_IPS}" in text.replace(",", "")
    assert "default: 0" in CliRunner().invoke(cli, ["replay", "--help"]).output
