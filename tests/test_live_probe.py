"""``arpwatch-lb probe`` against real kernels in the namespace lab (needs root).

Every command runs as a subprocess inside the prober's namespace.  The lab
is a hub, so a passive observer records what the prober really sent.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from live_lab import ARPWATCH, Lab, arpwatch, live_lab_fixture  # noqa: F401 - the live_lab fixture

from arpwatch_lb.sources.capture_files import CaptureReader

VIP = "192.0.2.100"


def _report(r) -> dict:
    assert r.stdout.strip(), r.stderr
    return json.loads(r.stdout)


def _entry(report: dict, ip: str) -> dict:
    [e] = [e for e in report["ips"] if e["ip"] == ip]
    return e


def test_probe_single_owner_is_ok(live_lab: Lab) -> None:
    owner = live_lab.add_host("owner")
    prober = live_lab.add_host("prober")
    owner.add_address(f"{VIP}/32")
    r = arpwatch(prober, "probe", "--vip", VIP, "--interface", "eth0", "--count", "2",
                 "--interval", "0.2", "--timeout", "0.5", "--format", "json")
    assert r.returncode == 0, r.stderr
    rep = _report(r)
    assert rep["mode"] == "probe"
    e = _entry(rep, VIP)
    assert e["verdict"] == "ok"
    assert [c["mac"] for c in e["claimants"]] == [owner.mac]
    assert e["replies"] == 2
    assert rep["sources"][0]["interface"] == "eth0"
    assert rep["sources"][0]["kernel_drops"] == 0


def test_probe_round_trip_times(live_lab: Lab) -> None:
    """Every request is answered once by the owner's kernel: one round trip per request,
    each between the send and the timeout; the table shows them too."""
    owner = live_lab.add_host("owner")
    prober = live_lab.add_host("prober")
    owner.add_address(f"{VIP}/32")
    timeout = 0.5
    r = arpwatch(prober, "probe", "--vip", VIP, "-i", "eth0", "--count", "5",
                 "--interval", "0.1", "--timeout", str(timeout), "--format", "json")
    assert r.returncode == 0, r.stderr
    rep = _report(r)
    requests = rep["probe"]["requests"]
    assert requests == 5
    probes = rep["probes"]
    assert (probes["sent"], probes["answered"]) == (requests, requests)
    rtt = probes["rtt_seconds"]
    assert rtt["count"] == requests
    assert 0 < rtt["min"] <= rtt["avg"] <= rtt["max"] < timeout
    e = _entry(rep, VIP)
    assert e["probe_rtt"] == rtt  # one VIP: its round trips are all of them
    print(f"lab probe RTT: {rtt}")
    table = arpwatch(prober, "probe", "--vip", VIP, "-i", "eth0", "--count", "2",
                     "--interval", "0.1", "--timeout", "0.3")
    assert table.returncode == 0, table.stderr
    assert "our probes: 2 sent, 2 answered; round trips " in table.stdout
    assert " ms (2)" in table.stdout


def test_probe_two_answers_is_contested(live_lab: Lab) -> None:
    a, b = live_lab.add_host("a"), live_lab.add_host("b")
    prober = live_lab.add_host("prober")
    a.add_address(f"{VIP}/32")
    b.enable_proxy_arp(VIP)  # MetalLB-style: answers without binding the VIP
    r = arpwatch(prober, "probe", "--vip", VIP, "-i", "eth0", "--count", "3",
                 "--interval", "0.2", "--format", "json")
    assert r.returncode == 1, r.stderr
    e = _entry(_report(r), VIP)
    assert e["verdict"] == "contested"
    assert sorted(c["mac"] for c in e["claimants"]) == sorted([a.mac, b.mac])
    assert e["duplicate_replies"] >= 3  # one per request: every reply counted
    assert e["probe_rtt"]["count"] == 6  # one round trip per replying MAC and request


def test_probe_unanswered_vip_is_unclaimed(live_lab: Lab) -> None:
    owner = live_lab.add_host("owner")
    prober = live_lab.add_host("prober")
    r = arpwatch(prober, "probe", "--vip", "192.0.2.77", "--vip", owner.ip, "-i", "eth0",
                 "--count", "1", "--timeout", "0.5", "--format", "json")
    assert r.returncode == 1, r.stderr
    rep = _report(r)
    assert _entry(rep, "192.0.2.77")["verdict"] == "unclaimed"
    assert _entry(rep, owner.ip)["verdict"] == "ok"
    assert rep["summary"]["unclaimed"] == 1


def test_probe_table_and_default_interface(live_lab: Lab) -> None:
    owner = live_lab.add_host("owner")
    prober = live_lab.add_host("prober")
    prober.run(["ip", "route", "add", "default", "via", owner.ip, "dev", "eth0"])
    r = arpwatch(prober, "probe", "--vip", owner.ip, "--count", "1", "--timeout", "0.3")
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout and owner.mac in r.stdout
    assert "1 IPs: 0 contested, 0 unclaimed, 0 moved, 1 ok" in r.stdout


def test_probe_sends_count_requests_paced(live_lab: Lab, tmp_path: Path) -> None:
    """--count requests per VIP from the interface's own MAC/IP, at most --rate per second."""
    prober = live_lab.add_host("prober")
    obs = live_lab.add_host("obs", ip=None)
    pcap = tmp_path / "sent.pcap"
    with live_lab.capture(obs, pcap, "arp"):
        r = arpwatch(prober, "probe", "--vip", "198.51.100.0/27", "-i", "eth0", "--count",
                     "2", "--interval", "0", "--rate", "100", "--timeout", "0.2",
                     "--format", "json")
    # A range only selects: free addresses in a pool are not "unclaimed".
    assert r.returncode == 0, r.stderr
    assert _report(r)["probe"]["requests"] == 60
    claims = [c for batch in CaptureReader(pcap).batches() for c in batch]
    assert len(claims) == 60  # 30 hosts of the /27, twice
    assert {c.sha.hex(":") for c in claims} == {prober.mac}
    assert {c.op for c in claims} == {1}
    assert {".".join(map(str, c.spa)) for c in claims} == {prober.ip}
    times = sorted(c.time for c in claims)
    assert times[-1] - times[0] >= 59 / 100 * 0.95  # paced at 100/s, not a burst


def test_probe_errors_exit_2_without_sending(live_lab: Lab, tmp_path: Path) -> None:
    prober = live_lab.add_host("prober")
    obs = live_lab.add_host("obs", ip=None)
    pcap = tmp_path / "nothing.pcap"
    with live_lab.capture(obs, pcap, "arp") as cap:
        bad_vip = arpwatch(prober, "probe", "--vip", "192.0.2.5,192.0.2.500", "-i", "eth0")
        bad_if = arpwatch(prober, "probe", "--vip", "192.0.2.5", "-i", "nosuch0")
        no_raw = prober.run(["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw",
                             *ARPWATCH, "probe", "--vip", "192.0.2.5",
                             "-i", "eth0"], check=False)
    assert cap.captured == 0  # nothing was sent
    for r in (bad_vip, bad_if, no_raw):
        assert r.returncode == 2, r
        assert "Traceback" not in r.stderr
        assert r.stdout == ""
    assert "Invalid value for '--vip'" in bad_vip.stderr
    assert "no such interface: nosuch0 (available: " in bad_if.stderr
    assert "eth0" in bad_if.stderr.splitlines()[-1]
    [line] = no_raw.stderr.strip().splitlines()
    assert "CAP_NET_RAW" in line and "setcap cap_net_raw+ep" in line and "sudo" in line


def test_probe_refuses_an_interface_without_arp(live_lab: Lab) -> None:
    """Loopback has the MAC 00:00:00:00:00:00: probing there would send who-has frames from a
    zero MAC that nobody can answer, so probe refuses (exit 2) before sending anything."""
    prober = live_lab.add_host("proberlo")
    prober.run(["ip", "addr", "add", "192.0.2.200/32", "dev", "lo"])
    sniff = prober.popen(["tcpdump", "-i", "lo", "-nn", "-c", "1", "arp"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(0.5)
    r = arpwatch(prober, "probe", "--vip", "192.0.2.201", "-i", "lo", "--format", "json")
    time.sleep(0.5)
    sniff.terminate()
    seen, _ = sniff.communicate(timeout=10)
    assert r.returncode == 2, r
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("arpwatch-lb: error:") and "lo has no Ethernet address" in line
    assert r.stdout == "" and "ARP" not in seen and seen.strip() == ""


# -- IPv6: Neighbor Solicitations ------------------------------------------------------------

VIP6 = "2001:db8::100"


def test_probe_ipv6_vip_solicits_and_collects_the_advertisement(live_lab: Lab,
                                                                 tmp_path: Path) -> None:
    """An IPv6 VIP is asked with a Neighbor Solicitation to its solicited-node group, from
    the prober's own address with its link-layer address; the owner's kernel answers with a
    solicited advertisement, which is a round trip."""
    owner = live_lab.add_host("owner", ip6="2001:db8::11/64")
    prober = live_lab.add_host("prober", ip6="2001:db8::13/64")
    obs = live_lab.add_host("obs", ip=None)
    owner.add_address6(VIP6)
    pcap = tmp_path / "nd.pcap"
    with live_lab.capture(obs, pcap, "icmp6 and (ip6[40] == 135 or ip6[40] == 136)"):
        r = arpwatch(prober, "probe", "--vip", VIP6, "-i", "eth0", "--count", "2",
                     "--interval", "0.2", "--timeout", "0.5", "--format", "json")
    assert r.returncode == 0, r.stderr
    rep = _report(r)
    e = _entry(rep, VIP6)
    assert e["verdict"] == "ok" and [c["mac"] for c in e["claimants"]] == [owner.mac]
    assert e["replies"] == 2 and e["probe_rtt"]["count"] == 2
    assert rep["probes"]["sent"] == rep["probes"]["answered"] == 2
    asked = [c for batch in CaptureReader(pcap).batches() for c in batch
             if c.op == 135 and c.sha == bytes.fromhex(prober.mac.replace(":", ""))]
    assert len(asked) == 2
    assert {(c.spa.hex(), c.tpa.hex(), c.eth_dst.hex(":")) for c in asked} == {
        ("20010db8000000000000000000000013", "20010db8000000000000000000000100",
         "33:33:ff:00:01:00")}


def test_probe_ipv6_two_owners_are_contested(live_lab: Lab) -> None:
    a = live_lab.add_host("a", ip6="2001:db8::11/64")
    b = live_lab.add_host("b", ip6="2001:db8::12/64")
    prober = live_lab.add_host("prober", ip6="2001:db8::13/64")
    a.add_address6(VIP6)
    b.add_address6(VIP6)  # nodad: both keep it
    r = arpwatch(prober, "probe", "--vip", VIP6, "--vip", "192.0.2.11", "-i", "eth0",
                 "--count", "3", "--interval", "0.2", "--format", "json")
    assert r.returncode == 1, r.stderr
    rep = _report(r)
    e = _entry(rep, VIP6)
    assert e["verdict"] == "contested"
    assert sorted(c["mac"] for c in e["claimants"]) == sorted([a.mac, b.mac])
    assert e["duplicate_replies"] >= 3
    assert e["probe_rtt"]["count"] == 6  # two MACs answer each of the three solicitations
    assert _entry(rep, "192.0.2.11")["verdict"] == "ok"  # IPv4 and IPv6 in one probe
    assert [x["ip"] for x in rep["ips"]] == [VIP6, "192.0.2.11"]  # contested first


def test_probe_ipv6_from_the_link_local_address(live_lab: Lab) -> None:
    """Without a global address the solicitation comes from fe80::, and the answer to it
    (a solicited advertisement to that fe80:: address) still counts as a round trip."""
    owner = live_lab.add_host("owner", ip6="2001:db8::11/64")
    prober = live_lab.add_host("prober")
    prober.enable_ipv6()
    owner.add_address6(VIP6)
    r = arpwatch(prober, "probe", "--vip", VIP6, "-i", "eth0", "--count", "1",
                 "--timeout", "0.5", "--format", "json")
    assert r.returncode == 0, r.stderr
    rep = _report(r)
    assert _entry(rep, VIP6)["probe_rtt"]["count"] == 1


def test_probe_ipv6_errors(live_lab: Lab) -> None:
    prober = live_lab.add_host("prober")  # IPv4 only
    no_v6 = arpwatch(prober, "probe", "--vip", VIP6, "-i", "eth0")
    assert no_v6.returncode == 2 and no_v6.stdout == ""
    [line] = no_v6.stderr.strip().splitlines()
    assert "eth0 has no IPv6 address to send Neighbor Solicitations from" in line
    huge = arpwatch(prober, "probe", "--vip", "2001:db8::/64", "-i", "eth0")
    assert huge.returncode == 2 and "too many addresses to probe" in huge.stderr
    assert "Traceback" not in no_v6.stderr + huge.stderr
