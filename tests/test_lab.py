"""Fast tests of the network-namespace lab (``lab.netlab``) and the announcer frames.

They need root (network namespaces).  When the lab cannot be built they
FAIL with the LabError message; they are never skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab import Host, Lab, LabError, cleanup_stale, list_lab_namespaces
from lab.announce import (
    build_cilium_garp,
    build_garp,
    build_kubevip,
    build_metallb_pair,
    build_unsolicited_na,
    cilium_reply,
)
from lab.verify import claims, read_frames


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A fresh lab, torn down after the test."""
    with Lab() as lab:
        yield lab


def _arping(host: Host, target: str, *opts: str) -> subprocess.CompletedProcess[str]:
    return host.run(["arping", "-i", "eth0", *opts, target], check=False)


def test_lab_builds() -> None:
    try:
        with Lab() as lab:
            lab.add_host("a")
            assert len(lab.namespaces) == 2
    except LabError as exc:
        pytest.fail(f"the lab cannot be built here: {exc}")


def test_hosts_resolve_each_other(lab: Lab) -> None:
    a, b = lab.add_host("a"), lab.add_host("b")
    assert (a.ip, b.ip) == ("192.0.2.11", "192.0.2.12")
    assert (a.mac, b.mac) == ("02:00:5e:10:00:01", "02:00:5e:10:00:02")
    assert a.read_mac() == a.mac
    r = _arping(a, b.ip, "-c", "2", "-C", "2", "-W", "0.2")
    assert r.returncode == 0, r.stdout
    assert b.mac in r.stdout
    r = _arping(b, a.ip, "-c", "1", "-C", "1")
    assert r.returncode == 0, r.stdout
    assert a.mac in r.stdout


def test_capture_records_frames(lab: Lab, tmp_path: Path) -> None:
    a, b = lab.add_host("a"), lab.add_host("b")
    obs = lab.add_host("obs", ip=None)
    pcap = tmp_path / "x.pcap"
    with lab.capture(obs, pcap) as cap:
        assert _arping(a, b.ip, "-c", "2", "-C", "2", "-W", "0.2").returncode == 0
    assert cap.captured == 4 and cap.dropped == 0
    frames = read_frames(pcap)
    assert len(frames) == 4
    assert all(f.is_arp for f in frames)
    # the hub delivers the unicast replies to the observer too
    replies = [f for f in frames if f.op == 2]
    assert [(f.sha, f.spa, f.eth_dst) for f in replies] == [(b.mac, b.ip, a.mac)] * 2


def test_capture_with_filter(lab: Lab, tmp_path: Path) -> None:
    a, b = lab.add_host("a"), lab.add_host("b")
    pcap = tmp_path / "replies.pcap"
    with lab.capture(a, pcap, bpf="arp[6:2] = 2") as cap:
        _arping(a, b.ip, "-c", "1", "-C", "1")
    assert cap.captured == 1
    assert read_frames(pcap)[0].sha == b.mac


def test_learning_bridge_hides_unicast(tmp_path: Path) -> None:
    with Lab(hub=False) as lab:
        a, b = lab.add_host("a"), lab.add_host("b")
        obs = lab.add_host("obs", ip=None)
        with lab.capture(obs, tmp_path / "l.pcap") as cap:
            assert _arping(a, b.ip, "-c", "1", "-C", "1").returncode == 0
        assert cap.captured == 1  # the broadcast request only; the reply went to a's port


def test_link_down_and_up(lab: Lab) -> None:
    a, b = lab.add_host("a"), lab.add_host("b")
    b.set_link(False)
    assert not b.link_is_up()
    assert _arping(a, b.ip, "-c", "1", "-w", "0.4").returncode != 0
    b.set_link(True)
    assert b.link_is_up()
    r = _arping(a, b.ip, "-c", "5", "-C", "1", "-W", "0.2")
    assert r.returncode == 0, r.stdout


def test_addresses(lab: Lab) -> None:
    a, b = lab.add_host("a"), lab.add_host("b")
    a.add_address("192.0.2.99/32")
    assert "192.0.2.99/32" in a.addresses()
    assert a.mac in _arping(b, "192.0.2.99", "-c", "1", "-C", "1").stdout
    a.del_address("192.0.2.99")
    assert "192.0.2.99/32" not in a.addresses()
    assert _arping(b, "192.0.2.99", "-c", "1", "-w", "0.4").returncode != 0


def test_proxy_arp_answers_for_unbound_ip(lab: Lab) -> None:
    a, b = lab.add_host("a"), lab.add_host("b")
    vip = "192.0.2.200"
    assert _arping(a, vip, "-c", "1", "-w", "0.4").returncode != 0
    b.enable_proxy_arp(vip)
    assert all(not addr.startswith(vip) for addr in b.addresses())
    r = _arping(a, vip, "-c", "2", "-C", "2", "-W", "0.2")
    assert r.returncode == 0, r.stdout
    assert b.mac in r.stdout


def test_no_ipv6_and_observer_is_silent(lab: Lab, tmp_path: Path) -> None:
    lab.add_host("a")
    obs = lab.add_host("obs", ip=None)
    out = obs.run(["ip", "-6", "addr"]).stdout
    assert "inet6" not in out
    pcap = tmp_path / "quiet.pcap"
    with lab.capture(obs, pcap, settle=0.5) as cap:
        time.sleep(0.5)
    assert cap.captured == 0


def test_teardown_removes_namespaces_and_processes() -> None:
    lab = Lab()
    with lab:
        a = lab.add_host("a")
        proc = a.popen(["sleep", "300"])
        names = lab.namespaces
        assert set(names) <= set(list_lab_namespaces())
    assert proc.poll() is not None
    assert not set(names) & set(list_lab_namespaces())
    assert lab.tmpdir is not None and not lab.tmpdir.exists()


def test_teardown_after_exception() -> None:
    lab = Lab()
    with pytest.raises(RuntimeError, match="boom"), lab:
        lab.add_host("a").popen(["sleep", "300"])
        raise RuntimeError("boom")
    assert not set(lab.namespaces) & set(list_lab_namespaces())


def test_parallel_labs_do_not_clash() -> None:
    with Lab() as one, Lab() as two:
        a1, a2 = one.add_host("a"), two.add_host("a")
        assert a1.ns != a2.ns and a1.mac == a2.mac
        assert _arping(a1, "192.0.2.12", "-c", "1", "-w", "0.4").returncode != 0
        two.add_host("b")
        assert _arping(a2, "192.0.2.12", "-c", "1", "-C", "1").returncode == 0


def test_cleanup_stale_spares_live_labs() -> None:
    dead = 4_000_000
    while True:
        try:
            os.kill(dead, 0)
            dead += 1
        except ProcessLookupError:
            break
    stale = f"awlb-{dead}-1-x"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        with Lab() as live:
            live.add_host("a")
            removed = Lab.cleanup_stale() + cleanup_stale()
            assert stale in removed
            assert set(live.namespaces) <= set(list_lab_namespaces())
        assert stale not in list_lab_namespaces()
    finally:
        subprocess.run(["ip", "netns", "delete", stale], check=False, capture_output=True)


def test_not_root_is_a_lab_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="root"), Lab():
        pass


def test_bad_host_arguments(lab: Lab) -> None:
    lab.add_host("a")
    for kwargs in (
        {"name": "a"},
        {"name": "sw"},
        {"name": "Bad_Name"},
        {"name": "m", "mac": "01:00:5e:00:00:01"},
    ):
        with pytest.raises(LabError):
            lab.add_host(**kwargs)


def test_announcer_frames() -> None:
    mac, vip = "02:00:5e:10:00:01", "192.0.2.103"
    req, rep = build_metallb_pair(mac, vip)
    assert len(req) == len(rep) == 60
    assert req[:6] == b"\xff" * 6 and req[20:22] == b"\x00\x01" and rep[20:22] == b"\x00\x02"
    assert req[32:38] == b"\xff" * 6  # target MAC broadcast
    kv2 = build_kubevip(mac, vip, 2)
    assert len(kv2) == 42 and kv2[32:38] == bytes.fromhex(mac.replace(":", ""))
    kv1 = build_kubevip(mac, vip, 1)
    assert kv1[32:38] == b"\xff" * 6
    tagged = build_garp(mac, "198.51.100.20", vlan=100)
    assert tagged[12:14] == b"\x81\x00" and int.from_bytes(tagged[14:16], "big") == 100


def test_cilium_frames() -> None:
    mac, vip = "02:00:5e:10:00:02", "192.0.2.106"
    g = build_cilium_garp(mac, vip)
    assert len(g) == 60 and g[:6] == b"\xff" * 6 and g[20:22] == b"\x00\x02"
    assert g[32:38] == b"\xff" * 6  # target MAC broadcast
    client = bytes.fromhex("02005e100010")
    head = b"\xff" * 6 + client + b"\x08\x06\x00\x01\x08\x00\x06\x04\x00\x01"
    request = head + client + bytes([192, 0, 2, 10]) + bytes(6) + bytes([192, 0, 2, 106]) + b"P" * 16
    r = cilium_reply(request, mac, vip)
    assert r is not None and len(r) == len(request) == 58 and r[-16:] == b"P" * 16  # padding kept
    assert r[:6] == client and r[6:12] == bytes.fromhex(mac.replace(":", ""))
    assert r[20:22] == b"\x00\x02" and r[32:38] == client and r[38:42] == bytes([192, 0, 2, 10])
    garp = head + client + bytes([192, 0, 2, 106]) + bytes(6) + bytes([192, 0, 2, 106])
    assert cilium_reply(garp, mac, vip) is None  # gratuitous: not answered
    other = head + client + bytes([192, 0, 2, 10]) + bytes(6) + bytes([192, 0, 2, 7])
    assert cilium_reply(other, mac, vip) is None


def test_ipv6_hosts_resolve_each_other_and_others_stay_v4_only(lab: Lab, tmp_path: Path) -> None:
    """A host given an IPv6 address gets it (no DAD) plus its link-local address; resolving
    it is one solicitation and one solicited advertisement, read back by tshark as claims of
    both addresses.  Hosts without ip6 keep IPv6 off."""
    a = lab.add_host("a", ip6="2001:db8::11/64")
    b = lab.add_host("b", ip6="2001:db8::12/64")
    plain = lab.add_host("plain")
    obs = lab.add_host("obs", ip=None)
    assert (a.ip6, a.cidr6) == ("2001:db8::11", "2001:db8::11/64")
    assert "2001:db8::11/64" in a.addresses6()
    assert a.link_local() == "fe80::5eff:fe10:1"  # from its MAC (EUI-64)
    assert "tentative" not in a.run(["ip", "-6", "addr", "show", "dev", "eth0"]).stdout
    for h in (plain, obs):
        assert "inet6" not in h.run(["ip", "-6", "addr"]).stdout
    time.sleep(1.5)  # the MLD reports of the address setup
    pcap = tmp_path / "nd.pcap"
    with lab.capture(obs, pcap, "icmp6 and (ip6[40] == 135 or ip6[40] == 136)") as cap:
        b.resolve6(a.ip6)
    assert cap.captured == 2
    frames = read_frames(pcap)
    assert [(f.icmp6_type, f.eth_src) for f in frames] == [(135, b.mac), (136, a.mac)]
    assert frames[1].na_flags == "SO" and frames[1].eth_dst == b.mac
    assert claims(frames) == {(None, "2001:db8::12"): {b.mac}, (None, "2001:db8::11"): {a.mac}}
    assert "2001:db8::11 dev eth0 lladdr 02:00:5e:10:00:01" in b.run(
        ["ip", "-6", "neigh", "show"]).stdout


def test_ipv6_addresses_only_from_the_documentation_prefix(lab: Lab) -> None:
    a = lab.add_host("a", ip6="2001:db8::11/64")
    for bad in ("2001:db9::1/64", "fd00::1/64", "2a00::1"):
        with pytest.raises(LabError, match="2001:db8::/32"):
            a.add_address6(bad)
        with pytest.raises(LabError, match="2001:db8::/32"):
            lab.add_host("x", ip6=bad)
    a.add_address6("2001:db8::100")
    assert "2001:db8::100/128" in a.addresses6()
    a.del_address6("2001:db8::100")
    assert "2001:db8::100/128" not in a.addresses6()


def test_ipv6_announcer_frames_and_proxy_ndp(lab: Lab, tmp_path: Path) -> None:
    """The IPv6 announcement (MetalLB's and kube-vip's): an unsolicited advertisement with
    O=1 S=0 R=0 from a link-local address to ff02::1; a proxy NDP node answers a solicitation
    with S=1 O=0 (MetalLB's flags) without holding the VIP."""
    from arpwatch_lb.core.frames import NA_OVERRIDE, ND_ADVERT, decode

    mac, vip = "02:00:5e:10:00:01", "2001:db8::103"
    frame = build_unsolicited_na(mac, vip, "fe80::5eff:fe10:1")
    c = decode(1, frame)
    assert c.op == ND_ADVERT | NA_OVERRIDE and c.spa == c.tpa == bytes.fromhex(
        "20010db8000000000000000000000103")
    assert c.sha.hex(":") == mac and c.eth_dst.hex(":") == "33:33:00:00:00:01"
    assert frame[22:38] == bytes.fromhex("fe80000000000000" "00005efffe100001")  # IPv6 source
    assert frame[38:54] == bytes.fromhex("ff02" + "00" * 13 + "01")  # to all nodes
    assert (frame[21], frame[58]) == (255, 0x20)  # hop limit; flags: O only
    proxy = lab.add_host("proxy", ip6="2001:db8::12/64")
    asker = lab.add_host("asker", ip6="2001:db8::10/64")
    obs = lab.add_host("obs", ip=None)
    proxy.enable_proxy_ndp(vip)
    assert not any(a.startswith(vip) for a in proxy.addresses6())
    time.sleep(1.5)
    pcap = tmp_path / "proxy.pcap"
    with lab.capture(obs, pcap, "icmp6 and ip6[40] == 136") as cap:
        asker.resolve6(vip)
    assert cap.captured == 1
    [na] = read_frames(pcap)
    assert (na.nd_target, na.na_flags, na.eth_src, na.eth_dst) == (vip, "S", proxy.mac,
                                                                   asker.mac)
