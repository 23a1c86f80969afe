"""Fast tests of the live pieces that need no kernel: the capture loop (with a fake
socket that speaks the real wire format), the event policy, the probe schedule,
the pcap writer and the BPF program."""

from __future__ import annotations

import os
import socket
from collections import deque
from pathlib import Path

import pytest

from arpwatch_lb.core.event_policy import EventPolicy
from arpwatch_lb.core.frames import Claim, decode, encode_arp, ethernet_frame
from arpwatch_lb.core.probe_plan import ProbePlan
from arpwatch_lb.core.tracker import OwnershipTracker
from arpwatch_lb.sinks.pcap_writer import PcapWriter
from arpwatch_lb.sources.capture_files import CaptureReader, FrameCounts
from arpwatch_lb.sources.link_socket import ARP_FILTER, LinkDown, LinkGone, LinkStats, Received, reinsert_vlan
from arpwatch_lb.sources.live_capture import Monitor
from arpwatch_lb.sources.probe_frames import who_has

BCAST = b"\xff" * 6
MAC_A = bytes.fromhex("02005e100001")
MAC_B = bytes.fromhex("02005e100002")
VIP = bytes((192, 0, 2, 100))


def garp(mac: bytes, ip: bytes = VIP) -> bytes:
    return ethernet_frame(BCAST, mac, encode_arp(1, mac, ip, BCAST, ip))


class FakeLink:
    """A FrameSource: frames and errors scripted in order; kernel counters by hand."""

    def __init__(self, name: str, script: list[Received | Exception] | None = None) -> None:
        self.name = name
        self.script: deque[Received | Exception] = deque(script or [])
        self.sent: list[bytes] = []
        self.pending = LinkStats(0, 0)
        self.closed = False
        self._r, self._w = socket.socketpair()

    def fileno(self) -> int:
        if self.script:
            self._w.send(b"x")  # readable while something is scripted
        return self._r.fileno()

    def recv(self) -> Received | None:
        if not self.script:
            return None
        item = self.script.popleft()
        if isinstance(item, Exception):
            raise item
        return item

    def send(self, frame: bytes) -> None:
        self.sent.append(frame)

    def stats(self) -> LinkStats:
        out, self.pending = self.pending, LinkStats(0, 0)
        return out

    def close(self) -> None:
        self.closed = True
        self._r.close()
        self._w.close()


def _monitor(links: dict[str, FakeLink], states: dict[str, str], facts: list) -> Monitor:
    return Monitor(list(links), OwnershipTracker(record_events=True), FrameCounts(),
                   open_source=lambda name: links[name], state_of=lambda name: states[name],
                   on_fact=lambda f: facts.append((f.kind, f.interface, {"time": f.time, **f.fields})),
                   clock=lambda: 123.0)


def test_monitor_decodes_counts_and_follows_link_state() -> None:
    frames = [Received(10.0 + i, garp(MAC_A), 60, False) for i in range(3)]
    link = FakeLink("eth0", [frames[0], frames[1], LinkDown("eth0"), frames[2]])
    states = {"eth0": "up"}
    facts: list = []
    mon = _monitor({"eth0": link}, states, facts)
    assert mon.drain_all() == 2  # stops at the error
    assert facts == [("interface_down", "eth0", {"time": 123.0})]
    states["eth0"] = "up"
    mon.check_links()
    assert facts[-1] == ("interface_up", "eth0", {"time": 123.0})
    assert mon.drain_all() == 1
    assert mon.counts["total"] == mon.counts["claims"] == 3
    [st] = mon.tracker
    assert st.frames == 3 and st.last_seen == 12.0  # the kernel timestamp, not a clock
    link.pending = LinkStats(packets=10, drops=7)
    mon.read_stats()
    assert facts[-1] == ("kernel_drops", "eth0", {"time": 123.0, "drops": 7, "packets": 10,
                                                  "total": 7})
    assert mon.sources()[0]["transitions"] == ["down", "up"]
    assert "dropped 7 of 10" in mon.warnings()[0]


def test_monitor_reopens_a_vanished_interface() -> None:
    first = FakeLink("eth1", [LinkGone("eth1")])
    second = FakeLink("eth1", [Received(5.0, garp(MAC_B), 60, False)])
    opened = deque([first, second])
    states = {"eth1": "up"}
    facts: list = []
    mon = Monitor(["eth1"], OwnershipTracker(), open_source=lambda n: opened.popleft(),
                  state_of=lambda n: states[n],
                  on_fact=lambda f: facts.append(f.kind), clock=lambda: 1.0)
    mon.drain_all()
    assert first.closed and facts == ["interface_vanished"]
    assert not mon.send("eth1", b"x")
    mon.check_links()  # the name is back: reopened
    assert facts == ["interface_vanished", "interface_up"]
    assert mon.drain_all() == 1
    assert mon.send("eth1", b"frame") and second.sent == [b"frame"]


def test_events_rate_limit_flip_flops_and_resolve() -> None:
    tracker = OwnershipTracker(window=5, record_events=True)
    policy = EventPolicy(tracker)
    lines = []
    t = 100.0
    for i in range(1000):  # 1000 alternating claims in 1 s of network time
        r = decode(1, garp(MAC_A if i % 2 else MAC_B), t + i / 1000)
        assert isinstance(r, Claim)
        tracker.feed(r)
        lines += policy.changes(tracker.drain(), "eth0")
    kinds = [ev["event"] for ev in lines]
    assert kinds == ["new_claimant", "new_claimant", "owner_changed", "flip_flop", "contested"]
    assert lines[2]["previous"] == MAC_B.hex(":")
    assert lines[4]["macs"] == [MAC_B.hex(":"), MAC_A.hex(":")]
    assert policy.suppressed == tracker.ips[(None, None, VIP)].flip_flops - 1 == 997
    tracker.feed(decode(1, garp(MAC_B), 101.5))  # type: ignore[arg-type]
    [ev] = policy.changes(tracker.drain(), "eth0")
    assert ev["event"] == "flip_flop" and ev["suppressed"] == 997
    assert policy.tick(106.0) == []  # quiet for 4.5 s < window
    [res] = policy.tick(106.6)
    assert res["event"] == "resolved" and res["ip"] == "192.0.2.100"
    assert res["quiet_since"] == 101.5
    assert policy.tick(200.0) == []


def test_probe_plan_paces_rounds() -> None:
    targets = [bytes((198, 51, 100, i)) for i in range(1, 5)]
    plan = ProbePlan(targets, count=2, interval=10.0, rate=2.0, start=0.0)
    times = (0.0, 0.4, 0.5, 1.0, 1.5, 5.0, 9.9, 10.0, 10.5, 11.0, 11.5)
    sent = [plan.due(t) for t in times]
    assert [len(x) for x in sent] == [1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1]
    assert sent[7] == [targets[0]]  # round 2 starts `interval` after round 1 started
    assert plan.finished and plan.sent == 8 and plan.wait(30.0) == float("inf")
    stalled = ProbePlan(targets, count=0, interval=0.0, rate=2.0, start=0.0)
    assert len(stalled.due(0.0)) == 1
    assert len(stalled.due(60.0)) == 1  # no burst to catch up after a stall
    assert stalled.wait(60.0) == 0.5


def test_who_has_is_a_broadcast_request_from_us() -> None:
    frame = who_has(MAC_A, bytes((192, 0, 2, 13)), VIP)
    r = decode(1, frame, 1.0)
    assert isinstance(r, Claim)
    assert (r.op, r.sha, r.spa, r.tpa, r.eth_dst) == (1, MAC_A, bytes((192, 0, 2, 13)), VIP,
                                                      BCAST)


def test_pcap_writer_rotates_and_replays(tmp_path: Path) -> None:
    path = tmp_path / "w.pcap"
    w = PcapWriter(path, max_bytes=1000)
    tagged = reinsert_vlan(garp(MAC_A), 100)
    for i in range(40):
        w.write(1_700_000_000.123456789 + i, tagged if i % 2 else garp(MAC_B), 64)
    w.close()
    assert [p.name for p in w.files][:3] == ["w.pcap", "w.pcap.1", "w.pcap.2"]
    assert all(os.path.getsize(p) <= 1000 for p in w.files)
    claims = [c for p in w.files for b in CaptureReader(p).batches() for c in b]
    assert len(claims) == 40
    assert {c.vlan for c in claims} == {None, 100}
    assert claims[0].time == pytest.approx(1_700_000_000.123456789, abs=1e-6)


def test_bpf_program_shape() -> None:
    """Ends in accept/drop, jumps stay inside the program (the kernel checks too)."""
    assert ARP_FILTER[-2] == (0x06, 0, 0, 0x40000) and ARP_FILTER[-1] == (0x06, 0, 0, 0)
    for i, (code, jt, jf, _k) in enumerate(ARP_FILTER):
        if code & 0x07 == 0x05:  # BPF_JMP
            assert i + 1 + max(jt, jf) < len(ARP_FILTER)


def test_watch_probes_node_addresses_at_start_and_when_the_list_changes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The session pulls node InternalIPs from its provider: one round of who-has at the
    start, another only when the list changes; the VIP selection is probed each interval."""
    from arpwatch_lb.core.addresses import parse_vips
    from arpwatch_lb.sessions import watch as watch_module
    from arpwatch_lb.sessions.watch import WatchConfig, WatchSession

    me_mac, me_ip = bytes.fromhex("02005e1000fe"), bytes((192, 0, 2, 250))
    monkeypatch.setattr(watch_module, "interface_addresses", lambda name: (me_mac, me_ip))
    link = FakeLink("eth0")
    nodes = {"192.0.2.11": "node1"}
    clock = [1000.0]

    def mono() -> float:  # every look at the clock moves it on: the loop ends by itself
        clock[0] += 0.05
        if clock[0] > 1000.6 and "192.0.2.12" not in nodes:
            nodes["192.0.2.12"] = "node2"  # a node joins at run time
        return clock[0]

    cfg = WatchConfig(interfaces=["eth0"], probe_interval=100.0, duration=1.5, fmt="jsonl",
                      summary_interval=100.0)
    vips = parse_vips(["192.0.2.100"])
    out = open(os.devnull, "w")  # noqa: SIM115
    session = WatchSession(cfg, out=out, open_source=lambda name: link, vips=lambda: vips,
                           nodes=lambda tracker: {}, node_ips=lambda: dict(nodes),
                           wall=lambda: clock[0], mono=mono)
    try:
        session.run()
    finally:
        session.close()
        out.close()
    asked = [decode(1, f) for f in link.sent]
    targets = [".".join(map(str, c.tpa)) for c in asked if isinstance(c, Claim)]
    assert targets.count("192.0.2.100") == 1  # the VIP: once per probe interval
    assert targets.count("192.0.2.11") == 2  # at the start, and again with the new list
    assert targets.count("192.0.2.12") == 1
    assert all(c.sha == me_mac and c.spa == me_ip for c in asked if isinstance(c, Claim))
