"""IPv6 around the decoder: addresses and --vip, report order and table, events, metrics,
round trips of solicitations, the solicitation frame, the kernel filter and watch's probes.
No kernel needed (the live ones are in test_live_probe / test_live_watch)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
from pathlib import Path

import pcapgen
import pytest
from click.testing import CliRunner
from conftest import (
    ETH_IPV6,
    arp,
    ether,
    ip,
    ip6,
    ipv6,
    ll_option,
    mac,
    nd,
)
from prometheus_client import CollectorRegistry

from arpwatch_lb.cli import cli
from arpwatch_lb.core.addresses import (
    MAX_RANGE,
    VipSet,
    format_ip,
    ip_sort_key,
    parse_ip,
    parse_vips,
)
from arpwatch_lb.core.event_policy import EventPolicy
from arpwatch_lb.core.frames import Claim, decode
from arpwatch_lb.core.ingest import FrameCounts
from arpwatch_lb.core.probe_plan import ProbeRtts
from arpwatch_lb.core.report import build_report
from arpwatch_lb.core.tracker import OwnershipTracker
from arpwatch_lb.sinks.metrics import TrackerCollector, snapshot_tracker
from arpwatch_lb.sinks.table import render_table
from arpwatch_lb.sources import link_socket
from arpwatch_lb.sources.errors import CaptureError
from arpwatch_lb.sources.link_socket import (
    ARP_FILTER,
    CAPTURE_FILTER,
    NDP_FILTER,
    chain_filters,
)
from arpwatch_lb.sources.probe_frames import neighbor_solicitation, probe_frame, solicited_node

A, B = mac("02:00:5e:10:00:01"), mac("02:00:5e:10:00:02")
ME = mac("02:00:5e:10:00:fe")
VIP6, ME6, ASKER6 = ip6("2001:db8::100"), ip6("2001:db8::fe"), ip6("2001:db8::10")
ALL_NODES = ip6("ff02::1")
ALL_NODES_MAC = mac("33:33:00:00:00:01")


def unsolicited(t: float, who: bytes, target: bytes = VIP6) -> Claim:
    frame = ether(ALL_NODES_MAC, who, ETH_IPV6, ipv6(target, ALL_NODES, nd(
        target, ALL_NODES, 136, target, flags=0x20, options=ll_option(2, who))))
    c = decode(1, frame, t)
    assert isinstance(c, Claim)
    return c


def answer(t: float, who: bytes, to_mac: bytes, to_ip: bytes, target: bytes = VIP6) -> Claim:
    frame = ether(to_mac, who, ETH_IPV6, ipv6(target, to_ip, nd(
        target, to_ip, 136, target, flags=0x60, options=ll_option(2, who))))
    c = decode(1, frame, t)
    assert isinstance(c, Claim)
    return c


# -- addresses --------------------------------------------------------------------------------

def test_format_and_parse_ipv6() -> None:
    assert format_ip(ip6("2001:db8:0:0:0:0:0:100")) == "2001:db8::100"  # RFC 5952
    assert format_ip(ip6("fe80::5eff:fe10:1")) == "fe80::5eff:fe10:1"
    assert format_ip(bytearray(ip("192.0.2.1"))) == "192.0.2.1"
    assert parse_ip("2001:DB8::100") == VIP6 and parse_ip("192.0.2.1") == ip("192.0.2.1")
    with pytest.raises(ValueError):
        parse_ip("2001:db8::g")


def test_vip_set_mixes_families_without_confusing_them() -> None:
    vs = parse_vips(["192.0.2.0/24,2001:db8::/64", "2001:db8:1::7"])
    assert ip("192.0.2.9") in vs and VIP6 in vs and ip6("2001:db8:1::7") in vs
    assert ip6("2001:db8:1::8") not in vs and ip("198.51.100.1") not in vs
    # the same integer in the other family is not in the set
    assert ip6("::c000:209") not in vs and bytes(4) not in parse_vips(["::/96"])
    assert vs.singles == [ip6("2001:db8:1::7")]
    assert [str(n) for n in vs.networks] == ["192.0.2.0/24", "2001:db8::/64", "2001:db8:1::7/128"]


def test_ipv6_prefixes_select_any_size_but_probe_only_small_ones() -> None:
    big = parse_vips(["2001:db8::/64"])
    assert big.too_large_to_probe() == ["2001:db8::/64"]
    with pytest.raises(ValueError, match="too many addresses to probe"):
        big.addresses()
    small = parse_vips(["2001:db8::/126", "2001:db8::100"])
    assert small.too_large_to_probe() == []
    assert small.addresses() == [ip6("2001:db8::1"), ip6("2001:db8::2"), ip6("2001:db8::3"),
                                 VIP6]
    assert parse_vips(["2001:db8::/112"]).too_large_to_probe() == []
    assert len(parse_vips(["2001:db8::/112"]).addresses()) == MAX_RANGE - 1
    with pytest.raises(ValueError, match="at most /16"):
        parse_vips(["10.0.0.0/15"])
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 address"):
        parse_vips(["2001:db8::/129"])


def test_ip_sort_key_puts_ipv4_first() -> None:
    texts = ["2001:db8::2", "192.0.2.10", "fe80::1", "2001:db8::10", "192.0.2.9"]
    assert sorted(texts, key=ip_sort_key) == ["192.0.2.9", "192.0.2.10", "2001:db8::2",
                                              "2001:db8::10", "fe80::1"]


# -- report, table, events, metrics -----------------------------------------------------------

def _tracker() -> OwnershipTracker:
    from conftest import claim

    t = OwnershipTracker(record_events=True)
    t.feed_all([claim(1.0, A, ip("192.0.2.20")), unsolicited(2.0, A, ip6("2001:db8::20")),
                claim(3.0, A, ip("192.0.2.3")), unsolicited(4.0, A, ip6("2001:db8::3")),
                unsolicited(5.0, A), unsolicited(6.0, B), unsolicited(7.0, A)])
    return t


def test_report_lists_ipv4_then_ipv6_within_a_verdict() -> None:
    doc = build_report(_tracker(), FrameCounts(), VipSet())
    assert [(e["verdict"], e["ip"]) for e in doc["ips"]] == [
        ("contested", "2001:db8::100"), ("ok", "192.0.2.3"), ("ok", "192.0.2.20"),
        ("ok", "2001:db8::3"), ("ok", "2001:db8::20")]
    v6 = doc["ips"][0]
    assert v6["gratuitous"] == 3 and v6["replies"] == 3 and v6["flip_flops"] == 1
    assert v6["claimants"][0]["host_ips"] == ["192.0.2.20", "2001:db8::20", "192.0.2.3",
                                              "2001:db8::3"]
    json.dumps(doc)
    table = render_table(doc)
    assert "2001:db8::100" in table and "owner timelines" in table
    selected = build_report(_tracker(), FrameCounts(), parse_vips(["2001:db8::/64"]))
    assert {e["ip"] for e in selected["ips"]} == {"2001:db8::100", "2001:db8::3",
                                                  "2001:db8::20"}
    assert selected["vips"] == ["2001:db8::/64"]
    unclaimed = build_report(OwnershipTracker(), FrameCounts(), parse_vips(["2001:db8::9"]))
    assert [(e["ip"], e["verdict"]) for e in unclaimed["ips"]] == [("2001:db8::9", "unclaimed")]


def test_events_name_the_ipv6_vip_and_requester() -> None:
    t = OwnershipTracker(record_events=True)
    policy = EventPolicy(t)
    ask = ether(mac("33:33:ff:00:01:00"), ME, ETH_IPV6, ipv6(
        ME6, ip6("ff02::1:ff00:100"), nd(ME6, ip6("ff02::1:ff00:100"), 135, VIP6,
                                         options=ll_option(1, ME))))
    t.feed_all([decode(1, ask, 10.0), answer(10.001, A, ME, ME6), answer(10.002, B, ME, ME6)])
    events = policy.changes(t.drain(), "eth0")
    dup = [e for e in events if e["event"] == "duplicate_reply"]
    assert dup and dup[0]["ip"] == "2001:db8::100" and dup[0]["requester"] == "2001:db8::fe"
    contested = [e for e in events if e["event"] == "contested"]
    assert contested[0]["ip"] == "2001:db8::100" and contested[0]["reason"] == "duplicate_reply"


def test_metrics_label_ipv6_vips() -> None:
    t = _tracker()
    reg = CollectorRegistry()
    reg.register(TrackerCollector(lambda: snapshot_tracker(t, counts={"total": 7})))
    labels = {"vip": "2001:db8::100", "vlan": ""}
    assert reg.get_sample_value("arpwatch_lb_ip_claimants", labels) == 2
    assert reg.get_sample_value("arpwatch_lb_ip_flip_flops_total", labels) == 1
    assert reg.get_sample_value("arpwatch_lb_ip_claimants", {"vip": "192.0.2.3", "vlan": ""}) == 1


# -- probing: round trips, the frame ----------------------------------------------------------

def test_round_trips_of_solicitations() -> None:
    """A solicited advertisement for the probed address, to our MAC and our IPv6 address, is a
    round trip (one per replying MAC); unsolicited ones and answers to others are not."""
    rtts = ProbeRtts(timeout=1.0)
    rtts.sent("eth0", ME, ME6, VIP6, 100.0)
    rtts.sent("eth0", ME, ip("192.0.2.254"), ip("192.0.2.100"), 100.0)
    rtts.observe([unsolicited(100.001, A), answer(100.002, A, A, ASKER6),
                  answer(100.003, A, ME, ME6), answer(100.004, B, ME, ME6),
                  answer(100.005, B, ME, ME6), answer(101.5, A, ME, ME6)], "eth0")
    assert rtts.report()["answered"] == 1 and rtts.ip_doc(VIP6)["count"] == 2
    assert rtts.ip_doc(VIP6)["min"] == pytest.approx(0.003)
    # an ARP reply for the IPv4 probe still matches the IPv4 address
    from conftest import claim

    rtts.observe([claim(100.01, A, ip("192.0.2.100"), op=2, tha=ME, tpa=ip("192.0.2.254"))],
                 "eth0")
    assert rtts.ip_doc(ip("192.0.2.100"))["count"] == 1 and rtts.report()["answered"] == 2


def test_neighbor_solicitation_frame(tmp_path: Path) -> None:
    """RFC 4861 by tshark: to the solicited-node group, hop limit 255, our link-layer address,
    a correct checksum; and our decoder reads it as our request for the VIP."""
    group, eth_group = solicited_node(ip6("2001:db8::1:abcd"))
    assert (format_ip(group), eth_group.hex(":")) == ("ff02::1:ff01:abcd", "33:33:ff:01:ab:cd")
    frame = neighbor_solicitation(ME, ME6, VIP6)
    assert probe_frame(ME, ME6, VIP6) == frame
    assert probe_frame(ME, ip("192.0.2.254"), ip("192.0.2.100"))[12:14] == b"\x08\x06"
    c = decode(1, frame, 1.0)
    assert isinstance(c, Claim)
    assert (c.op, c.sha, c.spa, c.tpa, c.eth_dst) == (135, ME, ME6, VIP6,
                                                      mac("33:33:ff:00:01:00"))
    path = pcapgen.write(tmp_path / "ns.pcap", pcapgen.pcap([pcapgen.Packet(frame, 1)]))
    fields = ["ipv6.dst", "ipv6.hlim", "icmpv6.type", "icmpv6.nd.ns.target_address",
              "icmpv6.opt.linkaddr", "icmpv6.checksum.status"]
    argv = ["tshark", "-n", "-r", str(path), "-T", "fields"]
    for f in fields:
        argv += ["-e", f]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split("\t")
    assert [x.strip() for x in out] == ["ff02::1:ff00:100", "255", "135", "2001:db8::100",
                                        "02:00:5e:10:00:fe", "1"]


# -- the kernel filter --------------------------------------------------------------------------

def _run_bpf(prog: tuple[tuple[int, int, int, int], ...], pkt: bytes) -> int:
    """A classic BPF interpreter for the instructions the filters use."""
    pc, acc = 0, 0
    for _ in range(1000):
        code, jt, jf, k = prog[pc]
        if code == 0x28:  # ldh [k]
            if k + 2 > len(pkt):
                return 0
            acc = struct.unpack_from("!H", pkt, k)[0]
        elif code == 0x30:  # ldb [k]
            if k + 1 > len(pkt):
                return 0
            acc = pkt[k]
        elif code == 0x15:  # jeq #k
            pc += jt if acc == k else jf
        elif code == 0x05:  # ja k
            pc += k
        elif code == 0x06:  # ret #k
            return k
        else:
            raise AssertionError(f"instruction {code:#x} not interpreted")
        pc += 1
    raise AssertionError("no return")


def _frames() -> dict[str, bytes]:
    na = ipv6(VIP6, ALL_NODES, nd(VIP6, ALL_NODES, 136, VIP6, flags=0x20,
                                  options=ll_option(2, A)))
    ns = ipv6(ME6, ip6("ff02::1:ff00:100"), nd(ME6, ip6("ff02::1:ff00:100"), 135, VIP6,
                                                options=ll_option(1, ME)))
    mld = ipv6(ip6("fe80::1"), ip6("ff02::16"), bytes([143]) + bytes(27), nh=0, hlim=1,
               ext=bytes([58, 0, 5, 2, 0, 0, 1, 0]))
    udp = ipv6(ME6, VIP6, bytes(16), nh=17)
    garp = arp(1, A, ip("192.0.2.1"), b"\xff" * 6, ip("192.0.2.1"))
    q = ((0x8100, 100),)
    return {
        "arp": ether(b"\xff" * 6, A, 0x0806, garp),
        "tagged arp": ether(b"\xff" * 6, A, 0x0806, garp, tags=q),
        "na": ether(ALL_NODES_MAC, A, ETH_IPV6, na),
        "ns": ether(mac("33:33:ff:00:01:00"), ME, ETH_IPV6, ns),
        "tagged na": ether(ALL_NODES_MAC, A, ETH_IPV6, na, tags=q),
        "qinq-tagged ns": ether(ALL_NODES_MAC, A, ETH_IPV6, ns, tags=((0x88A8, 5),)),
        "ipv4": ether(A, B, 0x0800, b"\x45" + bytes(40)),
        "ipv6 udp": ether(A, B, ETH_IPV6, udp),
        "mld": ether(mac("33:33:00:00:00:16"), A, ETH_IPV6, mld),
        "echo": ether(A, B, ETH_IPV6, ipv6(ME6, VIP6, bytes([128]) + bytes(7))),
        "tagged ipv4": ether(A, B, 0x0800, b"\x45" + bytes(40), tags=q),
    }


PASS = {"arp", "tagged arp", "na", "ns", "tagged na", "qinq-tagged ns"}


def test_capture_filter_admits_arp_and_neighbor_discovery_only() -> None:
    """(None of these frames is VRRP: the ARP block may admit that too.)"""
    for name, frame in _frames().items():
        assert bool(_run_bpf(CAPTURE_FILTER, frame)) == (name in PASS), name
        assert bool(_run_bpf(ARP_FILTER, frame)) == ("arp" in name), name
        assert bool(_run_bpf(NDP_FILTER, frame)) == (name in PASS and "arp" not in name), name


def test_chained_filters_shape() -> None:
    """The union keeps each block intact; a block's rejects jump to the next block."""
    n = len(ARP_FILTER)
    assert CAPTURE_FILTER[n:] == NDP_FILTER
    for i, ins in enumerate(ARP_FILTER):  # ARP's rejects: on to the NDP block
        want = (0x05, 0, 0, n - i - 1) if ins == (0x06, 0, 0, 0) else ins
        assert CAPTURE_FILTER[i] == want
    for i, (code, jt, jf, k) in enumerate(CAPTURE_FILTER):
        if code == 0x15:
            assert i + 1 + max(jt, jf) < len(CAPTURE_FILTER)
        if code == 0x05:
            assert i + 1 + k < len(CAPTURE_FILTER)
    three = chain_filters(ARP_FILTER, NDP_FILTER, ARP_FILTER)
    for name, frame in _frames().items():
        assert bool(_run_bpf(three, frame)) == (name in PASS), name


def test_ndp_filter_is_what_tcpdump_compiles(tmp_path: Path) -> None:
    """NDP_FILTER is tcpdump -dd of the expression in link_socket's comment (tags matched
    in the data: tcpdump compiles for a capture file's Ethernet link)."""
    empty = tmp_path / "eth.pcap"
    empty.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    nd_types = ("icmp6[icmp6type] == icmp6-neighborsolicit or "
                "icmp6[icmp6type] == icmp6-neighboradvert")
    expr = f"(icmp6 and ({nd_types})) or (vlan and icmp6 and ({nd_types}))"
    out = subprocess.run(["tcpdump", "-r", str(empty), "-dd", expr], capture_output=True,
                         text=True, check=True).stdout
    prog = tuple(tuple(int(x, 0) for x in line.strip(" {},").split(","))
                 for line in out.splitlines() if line.strip())
    assert prog == NDP_FILTER


# -- sessions: which address asks ---------------------------------------------------------------

def test_source_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    from arpwatch_lb.sessions import probe as probe_session

    v4 = ip("192.0.2.254")
    monkeypatch.setattr(probe_session, "interface_addresses", lambda name: (ME, v4))
    monkeypatch.setattr(probe_session, "interface_ipv6", lambda name: ME6)
    mac_, ours, kept = probe_session.source_addresses("eth0", [ip("192.0.2.1"), VIP6])
    assert (mac_, ours, kept) == (ME, {4: v4, 16: ME6}, [ip("192.0.2.1"), VIP6])
    monkeypatch.setattr(probe_session, "interface_ipv6", lambda name: None)
    with pytest.raises(CaptureError, match="no IPv6 address to send Neighbor Solicitations"):
        probe_session.source_addresses("eth0", [VIP6])
    warned: list[str] = []
    node6 = ip6("2001:db8::11")
    _, ours, kept = probe_session.source_addresses("eth0", [ip("192.0.2.1"), node6],
                                                   skippable=[node6], warn=warned.append)
    assert kept == [ip("192.0.2.1")] and ours == {4: v4}
    assert warned and "2001:db8::11" in warned[0]
    monkeypatch.setattr(probe_session, "interface_addresses", lambda name: (ME, None))
    with pytest.raises(CaptureError, match="no IPv4 address to send ARP requests"):
        probe_session.source_addresses("eth0", [ip("192.0.2.1")])


def test_interface_ipv6_prefers_a_global_address(monkeypatch: pytest.MonkeyPatch) -> None:
    import netifaces

    addrs = {netifaces.AF_INET6: [{"addr": "fe80::1%eth0"}, {"addr": "ff02::1"},
                                  {"addr": "2001:db8::fe"}, {"addr": "::1"}]}
    monkeypatch.setattr(link_socket.netifaces, "ifaddresses", lambda name: addrs)
    assert link_socket.interface_ipv6("eth0") == ME6
    addrs[netifaces.AF_INET6] = [{"addr": "fe80::1%eth0"}]
    assert link_socket.interface_ipv6("eth0") == ip6("fe80::1")
    addrs[netifaces.AF_INET6] = []
    assert link_socket.interface_ipv6("eth0") is None

    def gone(name: str) -> dict:
        raise ValueError("no such interface")

    monkeypatch.setattr(link_socket.netifaces, "ifaddresses", gone)
    assert link_socket.interface_ipv6("nosuch0") is None


def test_watch_probes_ipv6_vips_with_solicitations(monkeypatch: pytest.MonkeyPatch) -> None:
    from test_live_units import FakeLink

    from arpwatch_lb.sessions import watch as watch_module
    from arpwatch_lb.sessions.watch import WatchConfig, WatchSession

    v4 = ip("192.0.2.254")
    monkeypatch.setattr(watch_module, "interface_addresses", lambda name: (ME, v4))
    monkeypatch.setattr(watch_module, "interface_ipv6", lambda name: ME6)
    link = FakeLink("eth0")
    clock = [1000.0]

    def mono() -> float:
        clock[0] += 0.05
        return clock[0]

    cfg = WatchConfig(interfaces=["eth0"], probe_interval=100.0, duration=1.0, fmt="jsonl",
                      summary_interval=100.0, vips=parse_vips(["2001:db8::100", "192.0.2.100"]))
    out = open(os.devnull, "w")  # noqa: SIM115
    session = WatchSession(cfg, out=out, open_source=lambda name: link,
                           node_ips=lambda: {"2001:db8::11": "node1", "192.0.2.11": "node1"},
                           wall=lambda: clock[0], mono=mono)
    try:
        session.run()
    finally:
        session.close()
        out.close()
    asked = [decode(1, f) for f in link.sent]
    assert all(isinstance(c, Claim) for c in asked)
    got = sorted((c.op, format_ip(c.spa), format_ip(c.tpa)) for c in asked)  # type: ignore[union-attr]
    assert got == [(1, "192.0.2.254", "192.0.2.100"), (1, "192.0.2.254", "192.0.2.11"),
                   (135, "2001:db8::fe", "2001:db8::100"), (135, "2001:db8::fe", "2001:db8::11")]


# -- the command line -----------------------------------------------------------------------------

def test_replay_json_with_an_ipv6_prefix(tmp_path: Path) -> None:
    frames = [unsolicited(1.0, A), unsolicited(2.0, B), unsolicited(3.0, A)]
    raw = [ether(ALL_NODES_MAC, c.sha, ETH_IPV6, ipv6(VIP6, ALL_NODES, nd(
        VIP6, ALL_NODES, 136, VIP6, flags=0x20, options=ll_option(2, c.sha)))) for c in frames]
    path = pcapgen.write(tmp_path / "v6.pcap", pcapgen.pcap(
        [pcapgen.Packet(f, i + 1) for i, f in enumerate(raw)]))
    r = CliRunner().invoke(cli, ["replay", str(path), "--vip", "2001:db8::/64", "--format",
                                 "json"])
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert [(e["ip"], e["verdict"]) for e in doc["ips"]] == [("2001:db8::100", "contested")]
    none = CliRunner().invoke(cli, ["replay", str(path), "--vip", "192.0.2.0/24"])
    assert none.exit_code == 0 and "no ARP or NDP claims for the selected VIPs" in none.stdout


@pytest.mark.parametrize("command", ["probe", "watch"])
def test_probe_and_watch_refuse_a_prefix_too_large_to_probe(command: str) -> None:
    r = CliRunner().invoke(cli, [command, "--vip", "2001:db8::/64", "-i", "lo"])
    assert r.exit_code == 2
    assert "too many addresses to probe" in r.output and "Traceback" not in r.output


def test_doctor_probe_asks_ipv6_vips_and_node_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    """doctor --probe: IPv6 VIPs and node InternalIPs are asked too; node addresses of a family
    the interface cannot ask from are skippable, VIPs are not."""
    from types import SimpleNamespace

    from arpwatch_lb.sessions import doctor as doctor_session
    from arpwatch_lb.sessions import probe as probe_session

    seen: dict = {}

    def fake_run_probe(name, targets, tracker, **kw):  # type: ignore[no-untyped-def]
        seen.update(name=name, targets=sorted(targets.addresses(), key=lambda b: (len(b), b)),
                    skippable=set(kw["skippable"]))
        return SimpleNamespace(requests=4, counts={"claims": 0}, warnings=[])

    monkeypatch.setattr(probe_session, "run_probe", fake_run_probe)
    wire = doctor_session.wire_from_probe(["2001:db8::100"], ["192.0.2.11", "2001:db8::11"], "lo",
                                          OwnershipTracker())
    assert wire["source"] == "probe" and wire["requests"] == 4
    assert seen["targets"] == [ip("192.0.2.11"), ip6("2001:db8::11"), VIP6]
    assert seen["skippable"] == {ip("192.0.2.11"), ip6("2001:db8::11")}
