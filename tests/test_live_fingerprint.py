"""Announcers named live by ``watch`` (needs root: the namespace lab).

Real keepalived routers that drop each other's adverts (different passwords)
and a kube-vip-shaped announcer; ``watch`` on a passive observer must get
the VRRP adverts past its kernel filter (untagged and 802.1Q-tagged), name
both announcers in ``announcer_identified`` lines, report the split brain as
a ``vrrp_split_brain`` line, and its final report must name the same
announcers as a replay of the capture it wrote.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from conftest import TPID_8021Q, ip, mac
from live_lab import (  # noqa: F401 - live_lab_fixture provides the live_lab fixture
    Lab,
    arpwatch,
    live_lab_fixture,
    start_watch,
)
from test_fingerprint import vrrp_frame

from lab.scenarios import Keepalived, arping, start_announcer

KA_VIP, KV_VIP = "192.0.2.108", "192.0.2.111"


def _announcers(report: dict) -> dict[tuple[str, str], str]:
    return {(e["ip"], c["mac"]): c["announcer"]["kind"] for e in report["ips"]
            for c in e["claimants"]}


def test_watch_names_announcers_and_a_vrrp_split_brain(live_lab: Lab, tmp_path: Path) -> None:
    n1, n2, n3 = (live_lab.add_host(n) for n in ("node1", "node2", "node3"))
    client = live_lab.add_host("client")
    obs = live_lab.add_host("obs", ip=None)
    pcap = tmp_path / "live.pcap"
    w = start_watch(obs, "-i", "eth0", "--write-pcap", str(pcap), "--summary-interval", "2")
    ka1 = Keepalived(n1, KA_VIP, priority=150, auth_pass="node1pw")
    ka2 = Keepalived(n2, KA_VIP, priority=100, auth_pass="node2pw")
    n3.add_address(f"{KV_VIP}/32")
    start_announcer(n3, "kubevip", "--iface", "eth0", "--vip", KV_VIP, "--rate-ms", "1000",
                    "--duration", "3.5")
    for ka in (ka1, ka2):
        ka.wait_for("Entering MASTER STATE", timeout=15)
    arping(client, KA_VIP, "-d", "-c", "6", "-W", "1", expect_rc=1)  # both kernels answer
    # An 802.1Q-tagged advert (VLAN 20, VRID 7) must pass the kernel filter too.
    tagged = vrrp_frame(mac(n3.mac), ip(n3.ip), 7, 200, [ip("198.51.100.7")],
                        tags=((TPID_8021Q, 20),))
    n3.run(["python3", "-c", "import socket, sys; s = socket.socket(socket.AF_PACKET, "
            "socket.SOCK_RAW); s.bind(('eth0', 0)); s.send(bytes.fromhex(sys.argv[1]))",
            tagged.hex()])
    time.sleep(1.0)
    live_lab.stop(w.proc, signal.SIGTERM)
    rc, events, report = w.finish()
    assert rc == 1, w.stderr
    named = {(e["ip"], e["mac"]): e["announcer"] for e in events
             if e["event"] == "announcer_identified"}
    assert named[KA_VIP, n1.mac] == named[KA_VIP, n2.mac] == "keepalived"
    assert named[KV_VIP, n3.mac] == "kube-vip"
    [split] = [e for e in events if e["event"] == "vrrp_split_brain"]
    assert (split["vrid"], split["ip"]) == (51, KA_VIP)
    assert sorted(s["priority"] for s in split["sources"]) == [100, 150]
    routers = {(g["vlan"], g["vrid"]): g for g in report["vrrp"]["virtual_routers"]}
    assert routers[None, 51]["split_brain"] is True
    assert routers[20, 7]["sources"][0]["priority"] == 200
    # Only ARP and VRRP pass the filter (keepalived's IGMP reports do not).
    assert report["frames"]["non_arp"] == report["vrrp"]["adverts"] > 2
    kinds = _announcers(report)
    assert kinds[KA_VIP, n1.mac] == kinds[KA_VIP, n2.mac] == "keepalived"
    assert kinds[KV_VIP, n3.mac] == "kube-vip"
    # The same frames replayed name the same announcers: one core for both.
    r = arpwatch(obs, "replay", str(pcap), "--format", "json")
    assert r.returncode == 1, r.stderr
    replayed = json.loads(r.stdout)
    assert _announcers(replayed) == kinds
    assert replayed["vrrp"] == report["vrrp"]
