"""``arpwatch-lb watch`` against real announcers in the namespace lab (needs root).

``watch`` runs as a subprocess in a passive observer's namespace (no IPv4
address, so it only listens), with JSON lines on stdout; the last line is the
final report.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import time
from pathlib import Path

from live_lab import (  # noqa: F401 - live_lab_fixture provides the live_lab fixture
    ARPWATCH,
    REPO,
    Lab,
    arpwatch,
    flip_flop_pcap,
    live_lab_fixture,
    start_watch,
    tcpreplay,
)

from lab.scenarios import Keepalived, arping, start_announcer

VIP = "192.0.2.102"


def _entry(report: dict, ip: str, vlan: int | None = None) -> dict:
    [e] = [e for e in report["ips"] if e["ip"] == ip and e["vlan"] == vlan]
    return e


def _verdicts(report: dict) -> dict:
    return {(e["vlan"], e["ip"]): (e["verdict"], sorted(c["mac"] for c in e["claimants"]))
            for e in report["ips"]}


def _kinds(events: list[dict]) -> list[str]:
    return [e["event"] for e in events]


def test_watch_keepalived_split_brain_and_pcap_replay(live_lab: Lab, tmp_path: Path) -> None:
    """Two MASTERs → contested with both MACs; the pcap written live replays the same."""
    n1, n2 = live_lab.add_host("node1"), live_lab.add_host("node2")
    client = live_lab.add_host("client")
    obs = live_lab.add_host("obs", ip=None)
    pcap = tmp_path / "live.pcap"
    w = start_watch(obs, "-i", "eth0", "--write-pcap", str(pcap), "--summary-interval", "2")
    ka1 = Keepalived(n1, VIP, priority=150, unicast_peers=("192.0.2.250",))
    ka2 = Keepalived(n2, VIP, priority=100, unicast_peers=("192.0.2.251",))
    ka1.wait_for("Entering MASTER STATE", timeout=15)
    ka2.wait_for("Entering MASTER STATE", timeout=15)
    time.sleep(0.3)
    arping(client, VIP, "-d", "-c", "2", "-W", "0.5", expect_rc=1)  # both kernels answer
    live_lab.stop(w.proc, signal.SIGTERM)
    rc, events, report = w.finish()
    assert rc == 1, w.stderr
    e = _entry(report, VIP)
    assert e["verdict"] == "contested"
    assert sorted(c["mac"] for c in e["claimants"]) == sorted([n1.mac, n2.mac])
    contested = [ev for ev in events if ev["event"] == "contested" and ev["ip"] == VIP]
    assert len(contested) == 1
    assert sorted(contested[0]["macs"]) == sorted([n1.mac, n2.mac])
    assert contested[0]["interface"] == "eth0"
    assert {"new_claimant", "contested", "summary"} <= set(_kinds(events))
    assert report["sources"][0]["kernel_drops"] == 0
    # The capture written live replays to the same verdicts and frame counts.
    r = arpwatch(obs, "replay", str(pcap), "--format", "json")
    assert r.returncode == 1, r.stderr
    replayed = json.loads(r.stdout)
    assert _verdicts(replayed) == _verdicts(report)
    assert replayed["frames"]["total"] == report["frames"]["total"] > 0
    assert replayed["frames"]["claims"] == report["frames"]["claims"]
    assert [x["timeline"] for x in replayed["ips"]] == [x["timeline"] for x in report["ips"]]


def test_watch_probes_find_duplicate_answers_and_pcap_rotates(live_lab: Lab,
                                                               tmp_path: Path) -> None:
    """No announcements at all: only watch's own periodic probes reveal the second owner."""
    vip = "192.0.2.120"
    a, b = live_lab.add_host("a"), live_lab.add_host("b")
    watcher = live_lab.add_host("watcher")
    a.add_address(f"{vip}/32")
    b.enable_proxy_arp(vip)
    pcap = tmp_path / "rot.pcap"
    w = start_watch(watcher, "-i", "eth0", "--vip", vip, "--probe-interval", "0.5",
                    "--duration", "2.2", "--write-pcap", str(pcap), "--pcap-max-mb", "0.0002")
    rc, events, report = w.finish()
    assert rc == 1, w.stderr
    e = _entry(report, vip)
    assert e["verdict"] == "contested"
    assert sorted(c["mac"] for c in e["claimants"]) == sorted([a.mac, b.mac])
    assert e["duplicate_replies"] >= 4  # one per probe round
    dups = [ev for ev in events if ev["event"] == "duplicate_reply"]
    assert dups and dups[0]["requester"] == watcher.ip and dups[0]["ip"] == vip
    # round trips: both MACs answer each probe (the last one may be cut off by --duration)
    probes = report["probes"]
    assert probes["sent"] >= 4 and probes["answered"] >= probes["sent"] - 1
    rtt = probes["rtt_seconds"]
    assert 2 * probes["answered"] - 1 <= rtt["count"] <= 2 * probes["answered"]
    assert 0 < rtt["min"] <= rtt["max"] < 0.5
    assert e["probe_rtt"] == rtt
    files = report["sources"][0]["pcap"]
    assert len(files) > 2 and files[0] == str(pcap) and files[1] == f"{pcap}.1"
    r = arpwatch(watcher, "replay", *files, "--format", "json", "--vip", vip)
    assert r.returncode == 1, r.stderr
    replayed = json.loads(r.stdout)
    assert _verdicts(replayed) == _verdicts(report)
    assert replayed["frames"]["total"] == report["frames"]["total"]


def test_watch_clean_failover_is_moved(live_lab: Lab) -> None:
    vip = "192.0.2.101"
    n1, n2 = live_lab.add_host("node1"), live_lab.add_host("node2")
    obs = live_lab.add_host("obs", ip=None)
    w = start_watch(obs, "-i", "eth0", "--vip", vip)
    ka1 = Keepalived(n1, vip, priority=150)
    ka1.wait_for("Entering MASTER STATE", timeout=15)
    ka2 = Keepalived(n2, vip, priority=100)
    ka2.wait_for("Entering BACKUP STATE", timeout=15)
    ka1.stop()
    ka2.wait_for("Entering MASTER STATE", timeout=10)
    ka2.wait_for("Sending gratuitous ARP on eth0", count=5)
    time.sleep(0.5)
    live_lab.stop(w.proc, signal.SIGINT)
    rc, events, report = w.finish()
    assert rc == 0, w.stderr
    assert _verdicts(report) == {(None, vip): ("moved", sorted([n1.mac, n2.mac]))}
    assert report["ips"][0]["owner"] == n2.mac
    moved = [ev for ev in events if ev["event"] == "owner_changed"]
    assert [(ev["ip"], ev["previous"], ev["mac"]) for ev in moved] == [(vip, n1.mac, n2.mac)]
    assert not {"flip_flop", "contested", "duplicate_reply"} & set(_kinds(events))


def test_watch_survives_link_down_and_up(live_lab: Lab) -> None:
    vip = "192.0.2.110"
    a = live_lab.add_host("a")
    obs = live_lab.add_host("obs", ip=None)
    w = start_watch(obs, "-i", "eth0")
    arping(a, vip, "-U", "-S", vip, "-c", "2", "-W", "0.2", expect_rc=None)
    time.sleep(0.3)
    obs.set_link(False)
    time.sleep(1.5)
    arping(a, vip, "-U", "-S", vip, "-c", "2", "-W", "0.2", expect_rc=None)  # not seen: down
    assert w.proc.poll() is None, w.stderr  # alive
    obs.set_link(True)
    time.sleep(1.5)
    t_up = time.time()
    arping(a, vip, "-U", "-S", vip, "-c", "3", "-W", "0.2", expect_rc=None)
    time.sleep(0.3)
    live_lab.stop(w.proc, signal.SIGTERM)
    rc, events, report = w.finish()
    assert rc == 0, w.stderr
    link = [(ev["event"], ev["interface"]) for ev in events if ev["event"].startswith("interface")]
    assert link == [("interface_down", "eth0"), ("interface_up", "eth0")]
    e = _entry(report, vip)
    assert e["frames"] == 5  # 2 before the link went down, 3 after it came back
    assert e["last_seen"] > t_up
    assert report["sources"][0]["transitions"] == ["down", "up"]
    assert report["sources"][0]["state"] == "up"


def test_watch_reports_a_vanished_interface(live_lab: Lab) -> None:
    obs = live_lab.add_host("obs", ip=None)
    w = start_watch(obs, "-i", "eth0", "--duration", "3")
    time.sleep(0.5)
    # Deleting the switch-side veth removes the observer's eth0 with it.
    subprocess.run(["ip", "-n", live_lab.switch_ns, "link", "del", obs.port], check=True)
    rc, events, report = w.finish()
    assert rc == 0, w.stderr
    link = [ev["event"] for ev in events if ev["event"].startswith("interface")]
    # Unregistering takes the device down first; watch may see that (ENETDOWN) or not.
    assert link in (["interface_vanished"], ["interface_down", "interface_vanished"])
    assert report["sources"][0]["state"] == "gone"
    assert "eth0: interface gone" in report["warnings"]
    assert "Traceback" not in "".join(w.stderr)


def test_watch_vlan_tag_seen_and_kept_in_pcap(live_lab: Lab, tmp_path: Path) -> None:
    """Linux strips the 802.1Q tag; watch puts it back (PACKET_AUXDATA) for decode and pcap."""
    ip = "198.51.100.20"
    a = live_lab.add_host("a", ip=None)
    obs = live_lab.add_host("obs", ip=None)
    pcap = tmp_path / "vlan.pcap"
    w = start_watch(obs, "-i", "eth0", "--write-pcap", str(pcap))
    p = start_announcer(a, "garp", "--iface", "eth0", "--vip", ip, "--vlan", "100",
                        "--count", "2", "--interval", "0.2")
    p.wait(timeout=20)
    arping(a, ip, "-U", "-S", ip, "-c", "1", expect_rc=None)  # the same IP, untagged
    time.sleep(0.3)
    live_lab.stop(w.proc, signal.SIGTERM)
    rc, _events, report = w.finish()
    assert rc == 0, w.stderr
    assert _entry(report, ip, vlan=100)["frames"] == 2
    assert _entry(report, ip, vlan=None)["frames"] == 1
    raw = pcap.read_bytes()
    assert raw[:4] == bytes.fromhex("4d3cb2a1")  # nanosecond pcap, little endian
    assert b"\x81\x00\x00\x64\x08\x06" in raw  # the tag, re-inserted, before the ARP type
    r = arpwatch(obs, "replay", str(pcap), "--format", "json")
    assert _verdicts(json.loads(r.stdout)) == _verdicts(report)


def test_watch_flip_flop_storm_is_rate_limited_then_resolved(live_lab: Lab,
                                                             tmp_path: Path) -> None:
    """20,000 alternating claims in 2 s: few lines, exact counts, then 'resolved'."""
    ip = "198.51.100.7"
    a = live_lab.add_host("a", ip=None)
    obs = live_lab.add_host("obs", ip=None)
    storm = flip_flop_pcap(tmp_path / "storm.pcap", ip, 20_000)
    w = start_watch(obs, "-i", "eth0", "--window", "1", "--summary-interval", "60")
    sent = tcpreplay(a, storm, 10_000)
    time.sleep(2.5)  # > --window of quiet: resolved
    live_lab.stop(w.proc, signal.SIGTERM)
    rc, events, report = w.finish()
    assert rc == 1, w.stderr
    e = _entry(report, ip)
    assert e["verdict"] == "contested"
    assert e["frames"] == sent == 20_000
    assert e["flip_flops"] == 20_000 - 2  # every change back within the window
    flips = [ev for ev in events if ev["event"] == "flip_flop"]
    assert 1 <= len(flips) <= 4  # at most one line per second over ~2 s
    assert sum(1 + ev["suppressed"] for ev in flips) <= e["flip_flops"]
    times = [ev["time"] for ev in flips]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
    kinds = _kinds(events)
    assert kinds.count("contested") == 1
    assert kinds.count("resolved") == 1
    assert kinds.index("contested") < kinds.index("resolved")
    assert len(events) < 20  # a storm of frames is not a storm of lines


def test_watch_errors_exit_2_and_closed_pipe_ends_quietly(live_lab: Lab, tmp_path: Path) -> None:
    obs = live_lab.add_host("obs")
    bad_if = arpwatch(obs, "watch", "-i", "eth0", "-i", "nosuch0", "--duration", "1")
    bad_pcap = arpwatch(obs, "watch", "-i", "eth0", "--write-pcap",
                        str(tmp_path / "missing" / "x.pcap"), "--duration", "1")
    no_raw = obs.run(["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw", *ARPWATCH,
                      "watch", "-i", "eth0", "--duration", "1"], check=False, cwd=str(REPO))
    for r in (bad_if, bad_pcap, no_raw):
        assert r.returncode == 2, r
        assert r.stdout == ""
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr  # one line, no traceback
    assert "no such interface: nosuch0 (available: " in bad_if.stderr
    assert "x.pcap" in bad_pcap.stderr
    assert "CAP_NET_RAW" in no_raw.stderr
    # `watch | head -n 1`: the reader goes away; watch stops without a traceback.
    cmd = " ".join([*ARPWATCH, "watch", "-i", "eth0", "--summary-interval", "0.2",
                    "--duration", "30"])
    t0 = time.monotonic()
    r = obs.run(["bash", "-c", f"{cmd} | head -n 1; echo rc=${{PIPESTATUS[0]}} >&2"],
                check=False, cwd=str(REPO))
    assert time.monotonic() - t0 < 15
    assert json.loads(r.stdout)["event"] == "summary"
    assert "rc=0" in r.stderr and "Traceback" not in r.stderr and "internal" not in r.stderr


def test_watch_promisc_only_when_asked(live_lab: Lab) -> None:
    obs = live_lab.add_host("obs", ip=None)

    def promiscuity() -> int:
        out = obs.run(["ip", "-d", "link", "show", "dev", "eth0"]).stdout
        return int(re.search(r"promiscuity (\d+)", out).group(1))  # type: ignore[union-attr]

    for args, expected in (((), 0), (("--promisc",), 1)):
        w = start_watch(obs, "-i", "eth0", *args)
        assert promiscuity() == expected
        live_lab.stop(w.proc, signal.SIGTERM)
        rc, _events, report = w.finish()
        assert rc == 0 and report["sources"][0]["promisc"] is bool(expected)
    assert promiscuity() == 0  # the kernel drops the membership with the socket


def test_watch_ipv6_split_brain_through_the_kernel_filter(live_lab: Lab, tmp_path: Path) -> None:
    """IPv6: two keepalived MASTERs for one IPv6 VIP.  The observer (IPv6 off, passive) gets
    their unsolicited advertisements and both solicited answers to a client through the BPF
    filter (NS/NA admitted, the client's UDP and the VRRP/MLD traffic kept out in the
    kernel), and its events and report name the IPv6 VIP; the pcap written live replays
    the same; watch probes an IPv6 --vip with solicitations from a second watcher."""
    vip = "2001:db8::102"
    n1 = live_lab.add_host("node1", ip6="2001:db8::11/64")
    n2 = live_lab.add_host("node2", ip6="2001:db8::12/64")
    client = live_lab.add_host("client", ip6="2001:db8::10/64")
    obs = live_lab.add_host("obs", ip=None)
    prober = live_lab.add_host("prober", ip=None, ip6="2001:db8::13/64")
    pcap = tmp_path / "live6.pcap"
    w = start_watch(obs, "-i", "eth0", "--write-pcap", str(pcap), "--summary-interval", "2")
    wp = start_watch(prober, "-i", "eth0", "--vip", vip, "--probe-interval", "0.5")
    ka1 = Keepalived(n1, vip, priority=150, unicast_peers=("2001:db8::250",))
    ka2 = Keepalived(n2, vip, priority=100, unicast_peers=("2001:db8::251",))
    ka1.wait_for("Entering MASTER STATE", timeout=15)
    ka2.wait_for("Entering MASTER STATE", timeout=15)
    time.sleep(0.3)
    client.resolve6(vip)
    client.resolve6(vip)
    time.sleep(1.0)
    for watch in (w, wp):
        live_lab.stop(watch.proc, signal.SIGTERM)
    rc, events, report = w.finish()
    assert rc == 1, w.stderr
    e = _entry(report, vip)
    assert e["verdict"] == "contested" and e["duplicate_replies"] >= 2
    assert sorted(c["mac"] for c in e["claimants"]) == sorted([n1.mac, n2.mac])
    # Each MASTER's burst of unsolicited advertisements names keepalived.
    assert {c["mac"]: c["announcer"]["kind"] for c in e["claimants"]} == {
        n1.mac: "keepalived", n2.mac: "keepalived"}
    contested = [ev for ev in events if ev["event"] == "contested" and ev["ip"] == vip]
    assert len(contested) == 1 and sorted(contested[0]["macs"]) == sorted([n1.mac, n2.mac])
    dups = [ev for ev in events if ev["event"] == "duplicate_reply" and ev["ip"] == vip]
    # requesters: the client, and the second watcher's probes (lines are rate-limited)
    assert dups and {d["requester"] for d in dups} <= {"2001:db8::10", "2001:db8::13"}
    # The kernel filter let only Neighbor Discovery through: every frame read was a claim
    # (or a probe), none of the UDP, ICMPv6 errors, VRRP or MLD frames on the segment.
    assert report["frames"]["non_arp"] == 0 and report["frames"]["claims"] > 0
    assert report["sources"][0]["kernel_packets"] == report["frames"]["total"]
    r = arpwatch(obs, "replay", str(pcap), "--format", "json")
    assert r.returncode == 1, r.stderr
    assert _verdicts(json.loads(r.stdout)) == _verdicts(report)
    # The second watcher asked for the VIP itself: both kernels answered its solicitations.
    prc, _events, preport = wp.finish()
    assert prc == 1, wp.stderr
    pe = _entry(preport, vip)
    assert pe["verdict"] == "contested" and preport["probes"]["sent"] >= 2
    assert pe["probe_rtt"]["count"] >= 2
