"""Recorded scenarios: each builds hosts in a :class:`~lab.netlab.Lab`, runs real
announcers (kernel, Habets arping, keepalived, the scapy announcers of
:mod:`lab.announce`) and records the segment from a passive observer.

Each function ``scenario(lab, pcap) -> Scenario`` returns the **expected
facts written by hand** from the scenario's design: for every (vlan, ip) that
is claimed on the wire (an ARP frame with that sender IP), the verdict the
analyzer must reach and the set of MACs that claim it.  Nothing here is
computed from the capture; :meth:`Scenario.check` only confirms that the
recording matches the design (see :mod:`lab.verify`).

Analyzer rules the verdicts follow: owner = MAC of the latest claim; owner
change to a MAC that claimed the IP within 60 s = flip-flop; replies from two
MACs for one IP to one requester within 1 s = duplicate reply; contested =
any flip-flop or duplicate reply; moved = any owner change; else ok.  Every
ARP request also claims the requester's own IP, so the client's address is
an "ok" entry.

IPv6 scenarios (``*-ipv6``) follow the same rules with Neighbor Discovery
(see the README, "How it decides"): an advertisement claims its target, a
solicitation with a source link-layer option claims its source, and two
solicited advertisements from different MACs answering one solicitation are
a duplicate reply.  The client resolves a VIP the way any IPv6 host does: its
kernel multicasts a solicitation to the VIP's solicited-node group
(:meth:`lab.netlab.Host.resolve6`), and every holder of the VIP answers.

Addresses (all TEST-NET or the IPv6 documentation prefix, only inside the lab
namespaces; IPv6 only in the ``*-ipv6`` scenarios, plus each host's fe80::
link-local address there):

==========  =================  ==================  ===================
host        IPv4               IPv6                MAC
==========  =================  ==================  ===================
client      192.0.2.10/24      2001:db8::10/64     02:00:5e:10:00:10
node1       192.0.2.11/24      2001:db8::11/64     02:00:5e:10:00:01
node2       192.0.2.12/24      2001:db8::12/64     02:00:5e:10:00:02
observer    (none, passive)    (none, passive)     02:00:5e:10:00:fe
==========  =================  ==================  ===================
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from arpwatch_lb.core.announcers import CILIUM, KEEPALIVED, KERNEL, KUBE_VIP, METALLB, UNKNOWN
from lab.netlab import Host, Lab, LabError
from lab.verify import Frame, read_frames, verify

__all__ = [
    "CLIENT_IP",
    "CLIENT_IP6",
    "CLIENT_MAC",
    "NODE1_IP",
    "NODE1_IP6",
    "NODE1_MAC",
    "NODE2_IP",
    "NODE2_IP6",
    "NODE2_MAC",
    "OBSERVER_MAC",
    "SCENARIOS",
    "ExpectedIP",
    "Keepalived",
    "Scenario",
    "Verdict",
    "cilium_failover",
    "cilium_vs_kube_vip",
    "cilium_vs_metallb",
    "duplicate_ip",
    "duplicate_ipv6",
    "every_node_answers",
    "failover",
    "failover_busy_client",
    "failover_ipv6",
    "keepalived_split_brain",
    "keepalived_split_brain_ipv6",
    "keepalived_split_brain_vrrp",
    "keepalived_vmac_failover",
    "keepalived_vmac_split_brain",
    "kernel_duplicate_ip",
    "kernel_failover",
    "kube_vip_failover",
    "metallb_failover",
    "metallb_vs_kubevip",
    "metallb_vs_kubevip_ipv6",
    "single_owner",
    "vlan_garp",
]

Verdict = Literal["ok", "moved", "contested"]

REPO_ROOT = Path(__file__).resolve().parent.parent

CLIENT_IP, CLIENT_MAC = "192.0.2.10", "02:00:5e:10:00:10"
NODE1_IP, NODE1_MAC = "192.0.2.11", "02:00:5e:10:00:01"
NODE2_IP, NODE2_MAC = "192.0.2.12", "02:00:5e:10:00:02"
OBSERVER_MAC = "02:00:5e:10:00:fe"
NODE3_IP, NODE3_MAC = "192.0.2.13", "02:00:5e:10:00:03"
VMAC_51 = "00:00:5e:00:01:33"  # the VRRP virtual MAC of VRID 51 (keepalived use_vmac)
CLIENT_IP6, NODE1_IP6, NODE2_IP6 = "2001:db8::10", "2001:db8::11", "2001:db8::12"
ALL_NODES_MAC = "33:33:00:00:00:01"  # ff02::1


@dataclass(frozen=True)
class ExpectedIP:
    """Hand-written expectation for one (vlan, ip).

    ``announcers``: (MAC, announcer kind) per claimant, the kind the frames
    of the scenario's design name (:mod:`arpwatch_lb.core.fingerprint`):
    ``unknown`` where the design leaves no distinctive evidence.  ``hint``:
    the IP's announcer hint, if the design calls for one.
    """

    vlan: int | None
    ip: str
    verdict: Verdict
    macs: tuple[str, ...]
    announcers: tuple[tuple[str, str], ...] = ()
    hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form: ``{"vlan", "ip", "verdict", "macs", "announcers", "hint"}`` (MACs sorted)."""
        return {"vlan": self.vlan, "ip": self.ip, "verdict": self.verdict, "macs": sorted(self.macs),
                "announcers": dict(sorted(self.announcers)), "hint": self.hint}


def _expect(vlan: int | None, ip: str, verdict: Verdict, *claimants: tuple[str, str],
            hint: str | None = None) -> ExpectedIP:
    """``claimants``: (MAC, announcer kind) each."""
    pairs = tuple(sorted((m.lower(), kind) for m, kind in claimants))
    return ExpectedIP(vlan, ip, verdict, tuple(m for m, _ in pairs), pairs, hint)


@dataclass
class Scenario:
    """Result of running a scenario: where it was recorded and what to expect.

    Attributes:
        name: scenario name (``"single-owner"`` ...), also the pcap stem.
        description: one paragraph: who announces what, and why the verdicts.
        pcap: the recording.
        ips: hand-written expected facts, one per claimed (vlan, ip).
        hosts: host name -> MAC of every host in the lab (all allowed sources).
        seconds: wall time of the recording.
        design_checks: scenario-specific checks of the recording; each returns
            a list of problems (empty = fine).
        frames: tcpdump's packet count once recorded.
        vrrp: hand-written VRRP facts: per virtual router that advertises,
            ``{"vrid", "split_brain", "priorities"}`` (priorities sorted).
        ipv6: IPv6 is expected on the wire (only the lab's IPv6 ranges).
    """

    name: str
    description: str
    pcap: Path
    ips: list[ExpectedIP]
    hosts: dict[str, str]
    seconds: float = 0.0
    design_checks: list[Callable[[list[Frame]], list[str]]] = field(default_factory=list)
    frames: int | None = None
    vrrp: list[dict[str, Any]] = field(default_factory=list)
    ipv6: bool = False

    def expected_facts(self) -> dict[str, Any]:
        """The ``<scenario>.expected-facts.json`` document (IPv4 entries before IPv6 ones)."""

        def order(e: ExpectedIP) -> tuple[bool, int, int, int]:
            a = ipaddress.ip_address(e.ip)
            return e.vlan is not None, e.vlan or 0, a.version, int(a)

        ordered = sorted(self.ips, key=order)
        return {"scenario": self.name, "description": self.description, "ips": [e.to_json() for e in ordered],
                "vrrp": self.vrrp}

    def check(self, pcap: Path | None = None) -> list[str]:
        """Problems found in the recording (generic checks + design checks)."""
        frames = read_frames(pcap or self.pcap)
        expected = {(e.vlan, e.ip): set(e.macs) for e in self.ips}
        problems = verify(frames, expected, self.hosts.values(), ipv6=self.ipv6)
        for chk in self.design_checks:
            problems += chk(frames)
        return problems


# -- helpers -----------------------------------------------------------------


def _std_hosts(lab: Lab, *names: str, ipv6: bool = False) -> dict[str, Host]:
    """Create the standard hosts named in ``names`` plus the observer (last); with ``ipv6``
    each also gets its 2001:db8::/64 address (and so its link-local one)."""
    table = {
        "client": (CLIENT_IP, CLIENT_MAC, CLIENT_IP6),
        "node1": (NODE1_IP, NODE1_MAC, NODE1_IP6),
        "node2": (NODE2_IP, NODE2_MAC, NODE2_IP6),
        "node3": (NODE3_IP, NODE3_MAC, None),
    }
    hosts = {n: lab.add_host(n, f"{table[n][0]}/24", table[n][1],
                             ip6=f"{table[n][2]}/64" if ipv6 else None) for n in names}
    if ipv6:
        for n in names:
            _no_reachability_probes(hosts[n])
    hosts["observer"] = lab.add_host("observer", ip=None, mac=OBSERVER_MAC)
    return hosts


def _macs(hosts: dict[str, Host]) -> dict[str, str]:
    return {n: h.mac for n, h in hosts.items()}


def start_announcer(host: Host, *args: str, ready_timeout: float = 20.0) -> subprocess.Popen[str]:
    """Start ``python -m lab.announce ARGS`` on ``host``; return once it printed ``ready``."""
    assert host.lab.tmpdir is not None
    log = open(host.lab.tmpdir / f"announce-{host.name}-{args[0]}.log", "w")  # noqa: SIM115
    proc = host.popen(
        [sys.executable, "-m", "lab.announce", *args],
        cwd=str(REPO_ROOT),
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=_env_with_repo(),
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + ready_timeout
    line = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == "ready" or not line:
            break
    if line.strip() != "ready":
        host.lab.stop(proc)
        log.close()
        raise LabError(f"announcer {args} on {host.name} did not start:\n" + Path(log.name).read_text())
    return proc


def _env_with_repo() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env


def arping(host: Host, target: str, *opts: str, expect_rc: int | None = 0) -> str:
    """Run Habets arping on ``host`` (``-i eth0``); check its exit status; return stdout."""
    proc = host.run(["arping", "-i", host.ifname, *opts, target], check=False)
    if expect_rc is not None and proc.returncode != expect_rc:
        raise LabError(
            f"arping {' '.join(opts)} {target} on {host.name} exited "
            f"{proc.returncode}, expected {expect_rc}:\n{proc.stdout}{proc.stderr}"
        )
    return proc.stdout


class Keepalived:
    """A real keepalived (VRRP only) running in a lab host, logging to a file.

    Args:
        host: where to run it.
        vip: the virtual address (added as /32 on eth0 when MASTER; an IPv6 VIP as
            /128, in an IPv6 VRRP instance: VRRPv3 adverts from the link-local
            address to ff02::12, unsolicited Neighbor Advertisements instead of
            gratuitous ARP).
        priority: VRRP priority.
        unicast_peers: if given, VRRP adverts go unicast to these addresses
            (and multicast adverts are not listened to).
        vrid: virtual router id.
        auth_pass: VRRPv2 simple-password authentication (``auth_type PASS``);
            routers with different passwords drop each other's adverts.
        use_vmac: run the instance on a macvlan with the VRRP virtual MAC
            ``00:00:5e:00:01:<vrid>`` (adverts, GARPs and replies come from it).
    """

    #: What keepalived logs for each announcement it sends, by address family.
    ANNOUNCE_LOG: ClassVar[dict[int, str]] = {
        4: "Sending gratuitous ARP on eth0", 6: "Sending unsolicited Neighbour Advert on eth0"}

    def __init__(
        self,
        host: Host,
        vip: str,
        priority: int,
        unicast_peers: tuple[str, ...] = (),
        vrid: int = 51,
        auth_pass: str | None = None,
        use_vmac: bool = False,
    ) -> None:
        assert host.lab.tmpdir is not None
        self.host = host
        self.dir = host.lab.tmpdir / f"keepalived-{host.name}"
        self.dir.mkdir()
        self.conf = self.dir / "keepalived.conf"
        self.logfile = self.dir / "keepalived.log"
        self.vmac_if = f"vrrp.{vrid}"
        extra = ""
        if auth_pass is not None:
            extra += f"    authentication {{\n        auth_type PASS\n        auth_pass {auth_pass}\n    }}\n"
        if use_vmac:
            extra += f"    use_vmac {self.vmac_if}\n"
        dev = "" if use_vmac else f" dev {host.ifname}"  # with use_vmac: on the macvlan
        self.family = ipaddress.ip_address(vip).version
        unicast = ""
        if unicast_peers:
            peers = "\n".join(f"        {p}" for p in unicast_peers)
            src = host.ip6 if self.family == 6 else host.ip
            unicast = f"    unicast_src_ip {src}\n    unicast_peer {{\n{peers}\n    }}\n"
        self.conf.write_text(
            "global_defs {\n"
            f"    router_id {host.name}\n"
            "    vrrp_garp_master_delay 5\n"
            "    vrrp_garp_master_repeat 5\n"
            "    max_auto_priority -1\n"
            "}\n"
            "vrrp_instance VI_1 {\n"
            "    state BACKUP\n"
            f"    interface {host.ifname}\n"
            f"    virtual_router_id {vrid}\n"
            f"    priority {priority}\n"
            "    advert_int 1\n"
            f"{unicast}{extra}"
            "    virtual_ipaddress {\n"
            f"        {vip}/{32 if self.family == 4 else 128}{dev}\n"
            "    }\n"
            "}\n"
        )
        d = self.dir
        self._log = open(self.logfile, "w")  # noqa: SIM115 - lives as long as the process
        self.proc = host.popen(
            [
                "keepalived",
                "-n",
                "-l",
                "-D",
                "-P",
                "-f",
                str(self.conf),
                "-p",
                str(d / "keepalived.pid"),
                "-r",
                str(d / "vrrp.pid"),
                "-c",
                str(d / "checkers.pid"),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def announcing(self) -> str:
        """The log line of one announcement (gratuitous ARP or unsolicited NA)."""
        return self.ANNOUNCE_LOG[self.family]

    def log(self) -> str:
        """The log so far."""
        return self.logfile.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 15.0, count: int = 1) -> float:
        """Wait until ``text`` appears ``count`` times in the log; return the monotonic time.

        Raises :class:`LabError` with the log if keepalived exits or times out.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.log().count(text) >= count:
                return time.monotonic()
            if self.proc.poll() is not None:
                raise LabError(
                    f"keepalived on {self.host.name} exited ({self.proc.returncode})"
                    f" before {text!r}:\n{self.log()}"
                )
            if time.monotonic() > deadline:
                raise LabError(
                    f"keepalived on {self.host.name}: no {text!r} after {timeout} s:\n{self.log()}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop cleanly (SIGTERM: priority-0 advert, VIP removed) and check the log."""
        self.host.lab.stop(self.proc)
        self._log.close()
        if "Stopped Keepalived" not in self.log():
            raise LabError(f"keepalived on {self.host.name} did not stop cleanly:\n{self.log()}")


def _replies_to(frames: list[Frame], ip: str, requester_mac: str) -> dict[str, list[float]]:
    """sender MAC -> times of ARP replies for ``ip`` sent to ``requester_mac``."""
    out: dict[str, list[float]] = {}
    for f in frames:
        if f.op == 2 and f.spa == ip and f.tha == requester_mac and f.eth_dst == requester_mac:
            out.setdefault(f.sha, []).append(f.time)
    return out


def _need_replies(ip: str, requester: str, macs: dict[str, int]) -> Callable[[list[Frame]], list[str]]:
    """Design check: at least ``n`` replies for ``ip`` to ``requester`` from each MAC."""

    def check(frames: list[Frame]) -> list[str]:
        got = _replies_to(frames, ip, requester)
        return [
            f"expected >= {n} replies for {ip} from {mac} to {requester}, got {len(got.get(mac, []))}"
            for mac, n in macs.items()
            if len(got.get(mac, [])) < n
        ]

    return check


def _need_garps(
    ip: str, mac: str, n: int, vlan: int | None = None, op: int | None = None
) -> Callable[[list[Frame]], list[str]]:
    """Design check: at least ``n`` gratuitous frames (sender = target = ip) from ``mac``."""

    def check(frames: list[Frame]) -> list[str]:
        got = [
            f
            for f in frames
            if f.is_arp
            and f.spa == ip
            and f.tpa == ip
            and f.sha == mac
            and f.vlan == vlan
            and f.eth_dst == "ff:ff:ff:ff:ff:ff"
            and (op is None or f.op == op)
        ]
        if len(got) < n:
            return [
                f"expected >= {n} gratuitous ARPs for {ip} (vlan {vlan}, op {op}) from {mac}, got {len(got)}"
            ]
        return []

    return check


# -- scenarios -----------------------------------------------------------------


def _keepalived_pair(h: dict[str, Host], vip: str, prio1: int, prio2: int
                     ) -> tuple[Keepalived, Keepalived]:
    """keepalived on node1 (MASTER, ``prio1``) and node2 (BACKUP, ``prio2``), both settled.

    node2 starts only once node1 is MASTER: started together, a BACKUP whose
    priority is close to the MASTER's (253 vs 254) can win the first election
    before node1's first advert arrives, and the scenario would start with a
    fight instead of a clean pair.
    """
    ka1 = Keepalived(h["node1"], vip, priority=prio1)
    ka1.wait_for("Startup complete")
    ka1.wait_for("Entering MASTER STATE", timeout=15)
    ka2 = Keepalived(h["node2"], vip, priority=prio2)
    ka2.wait_for("Startup complete")
    ka2.wait_for("Entering BACKUP STATE")
    time.sleep(0.3)
    return ka1, ka2


def _hand_over(ka1: Keepalived, ka2: Keepalived) -> None:
    """Stop the MASTER cleanly (priority-0 advert) and wait until the BACKUP takes over."""
    ka1.stop()
    ka2.wait_for("Entering MASTER STATE", timeout=10)
    if "Entering MASTER STATE" in ka2.log().split("Backup received priority 0")[0]:
        raise LabError("node2 was MASTER before node1 stopped:\n" + ka2.log())


def _clean_handover(frames: list[Frame], vip: str) -> tuple[list[str], float]:
    """Problems with a node1 → node2 handover of ``vip``, and the gap (s) between node1's
    last and node2's first reply to the client."""
    t1 = [f.time for f in frames if f.is_arp and f.spa == vip and f.sha == NODE1_MAC]
    t2 = [f.time for f in frames if f.is_arp and f.spa == vip and f.sha == NODE2_MAC]
    if not t1 or not t2:
        return ["both nodes must claim the VIP"], 0.0
    problems = []
    if max(t1) >= min(t2):
        problems.append("node1 claimed the VIP after node2's first claim")
    if not any(f.ip_proto == 112 for f in frames):
        problems.append("no VRRP advertisements recorded")
    r = _replies_to(frames, vip, CLIENT_MAC)
    return problems, min(r.get(NODE2_MAC, [1e9])) - max(r.get(NODE1_MAC, [-1e9]))


def single_owner(lab: Lab, pcap: Path) -> Scenario:
    """One node owns 192.0.2.100 (bound), GARPs it 3x; the client resolves it 3x → ok."""
    vip = "192.0.2.100"
    h = _std_hosts(lab, "client", "node1")
    node, client = h["node1"], h["client"]
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        node.add_address(f"{vip}/32")
        out = arping(node, vip, "-U", "-S", vip, "-c", "3", "-W", "0.5", expect_rc=None)
        if "3 packets transmitted" not in out:
            raise LabError(f"arping -U did not send 3 GARPs:\n{out}")
        out = arping(client, vip, "-c", "3", "-W", "0.5")
        if "3 packets received" not in out or NODE1_MAC not in out:
            raise LabError(f"client did not get 3 replies from node1:\n{out}")
    sc = Scenario(
        name="single-owner",
        description=(
            "node1 has 192.0.2.100/32 bound and sends 3 gratuitous ARP requests for it "
            "(Habets arping -U, 0.5 s apart); then the client (192.0.2.10) resolves it 3 times "
            "(arping -c 3) and only node1's kernel answers. One MAC ever claims the VIP: ok. "
            "The client's own address is claimed by its requests: ok."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "ok", (NODE1_MAC, UNKNOWN)),  # arping -U: no announcer's shape
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[_need_garps(vip, NODE1_MAC, 3), _need_replies(vip, CLIENT_MAC, {NODE1_MAC: 3})],
    )
    sc.frames = cap.captured
    return sc


def failover(lab: Lab, pcap: Path) -> Scenario:
    """keepalived pair, clean stop of the master: the VIP moves once → moved."""
    vip = "192.0.2.101"
    h = _std_hosts(lab, "client", "node1", "node2")
    client = h["client"]
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        ka1, ka2 = _keepalived_pair(h, vip, 150, 100)
        out = arping(client, vip, "-c", "6", "-W", "0.5")
        if NODE1_MAC not in out or NODE2_MAC in out:
            raise LabError(f"before failover only node1 should answer:\n{out}")
        _hand_over(ka1, ka2)
        # Keep >1 s between node1's last reply and node2's first one, so the
        # switch cannot look like a duplicate reply (the client polled every 0.5 s).
        time.sleep(1.5)
        out = arping(client, vip, "-c", "6", "-W", "0.5")
        if NODE2_MAC not in out or NODE1_MAC in out:
            raise LabError(f"after failover only node2 should answer:\n{out}")
        time.sleep(1.0)

    def node1_never_after_node2(frames: list[Frame]) -> list[str]:
        problems, gap = _clean_handover(frames, vip)
        if gap <= 1.0:
            problems.append(f"node1's last and node2's first reply only {gap:.2f} s apart")
        return problems

    sc = Scenario(
        name="failover",
        vrrp=[{"vrid": 51, "split_brain": False, "priorities": [100, 150]}],
        description=(
            "Two real keepalived instances (VRRP over multicast 224.0.0.18, vrid 51): node1 "
            "priority 150 becomes MASTER, adds 192.0.2.101 and sends 5 gratuitous ARPs; node2 "
            "(priority 100) stays BACKUP. The client arpings the VIP every 0.5 s (6 times, only "
            "node1 answers). node1's keepalived is then stopped cleanly (priority-0 advert, VIP "
            "removed); node2 becomes MASTER and sends 5 GARPs; after a 1.5 s pause the client "
            "arpings 6 more times and only node2 answers. The VIP changes owner exactly once and "
            "node1 never claims it again: moved (not contested). Also contains VRRP and IGMP "
            "frames (non-ARP noise)."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "moved", (NODE1_MAC, KEEPALIVED), (NODE2_MAC, KEEPALIVED)),
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[
            _need_garps(vip, NODE1_MAC, 5, op=1),
            _need_garps(vip, NODE2_MAC, 5, op=1),
            _need_replies(vip, CLIENT_MAC, {NODE1_MAC: 6, NODE2_MAC: 6}),
            node1_never_after_node2,
        ],
    )
    sc.frames = cap.captured
    return sc


def failover_busy_client(lab: Lab, pcap: Path) -> Scenario:
    """keepalived pair, clean stop of the master while the client polls without pause → moved."""
    vip = "192.0.2.104"
    interval, count, before = 0.5, 26, 6
    h = _std_hosts(lab, "client", "node1", "node2")
    client = h["client"]
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        # 254/253, not failover's 150/100: after node1's priority-0 advert node2
        # waits its skew time, (256 - prio) / 256 s, before it takes the VIP.
        # With priority 100 that is 0.61 s, so one 0.5 s request always fell
        # into the ownerless hole and the replies were 1.0 s apart.
        ka1, ka2 = _keepalived_pair(h, vip, 254, 253)
        # One arping for the whole switch: a request every 0.5 s, no pause.
        poll = client.popen(
            ["arping", "-i", client.ifname, "-c", str(count), "-W", str(interval), vip],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert poll.stdout is not None
        lines: list[str] = []
        # arping prints a reply just before it sends the next request; stop
        # node1 0.2 s after that, mid-interval, so the ~15 ms switch falls
        # between two requests rather than swallowing one.
        while sum(NODE1_MAC in ln for ln in lines) < before:
            line = poll.stdout.readline()
            if not line:
                raise LabError("client arping ended before node1 answered:\n" + "".join(lines))
            lines.append(line)
        time.sleep(0.2)
        _hand_over(ka1, ka2)
        # node2's second GARP burst (vrrp_garp_master_delay 5 s) falls inside the polling.
        ka2.wait_for("Sending gratuitous ARP on eth0", count=10, timeout=10)
        lines += poll.stdout.readlines()
        try:
            poll.wait(timeout=5)
        except subprocess.TimeoutExpired:
            lab.stop(poll)
            raise LabError("client arping did not finish") from None
        out = "".join(lines)
        if f"{count} packets transmitted" not in out or NODE2_MAC not in out:
            raise LabError(f"client should get replies from node1, then node2:\n{out}")
        time.sleep(0.5)

    def busy_switch(frames: list[Frame]) -> list[str]:
        problems, gap = _clean_handover(frames, vip)
        reqs = [f.time for f in frames if f.op == 1 and f.sha == CLIENT_MAC and f.tpa == vip]
        if len(reqs) != count:
            problems.append(f"expected {count} client requests for {vip}, got {len(reqs)}")
        elif max(b - a for a, b in itertools.pairwise(reqs)) > 0.75:
            problems.append("the client paused between requests (> 0.75 s)")
        r = _replies_to(frames, vip, CLIENT_MAC)
        if sum(len(v) for v in r.values()) != len(reqs):
            problems.append(f"{len(reqs)} requests but {sum(len(v) for v in r.values())} replies")
        if not 0 < gap < 1.0:
            problems.append(f"node1's last and node2's first reply are {gap:.3f} s apart, want < 1 s")
        return problems

    sc = Scenario(
        name="failover-busy-client",
        vrrp=[{"vrid": 51, "split_brain": False, "priorities": [253, 254]}],
        description=(
            "Like failover, but the client never pauses: two real keepalived instances (VRRP over "
            "multicast 224.0.0.18, vrid 51) for 192.0.2.104, node1 priority 254 MASTER (5 "
            "gratuitous ARPs), node2 priority 253 BACKUP (skew time 12 ms). The client runs one "
            "Habets arping that asks for the VIP every 0.5 s (26 requests) for the whole "
            "recording. Once node1 has answered 7 requests, node1's keepalived is stopped "
            "cleanly mid-interval (priority-0 advert, VIP removed); node2 becomes MASTER within "
            "a few ms and sends 5 GARPs, 5 more after 5 s, so no request goes unanswered. node1 "
            "answers the requests before the switch, node2 the ones after it: node1's last and "
            "node2's first reply are 0.5 s apart (inside the 1 s duplicate-reply window) but "
            "answer different requests, and node1 never claims the VIP again: moved (not "
            "contested). Also contains VRRP and IGMP frames (non-ARP noise)."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "moved", (NODE1_MAC, KEEPALIVED), (NODE2_MAC, KEEPALIVED)),
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[
            _need_garps(vip, NODE1_MAC, 5, op=1),
            _need_garps(vip, NODE2_MAC, 10, op=1),
            _need_replies(vip, CLIENT_MAC, {NODE1_MAC: 5, NODE2_MAC: 15}),
            busy_switch,
        ],
    )
    sc.frames = cap.captured
    return sc


def keepalived_split_brain(lab: Lab, pcap: Path) -> Scenario:
    """Two keepalived that cannot hear each other both become MASTER → contested."""
    vip = "192.0.2.102"
    h = _std_hosts(lab, "client", "node1", "node2")
    client = h["client"]
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        # Each sends its adverts unicast to an address where nobody is.
        ka1 = Keepalived(h["node1"], vip, priority=150, unicast_peers=("192.0.2.250",))
        time.sleep(1.5)
        ka2 = Keepalived(h["node2"], vip, priority=100, unicast_peers=("192.0.2.251",))
        ka1.wait_for("Entering MASTER STATE", timeout=15)
        ka2.wait_for("Entering MASTER STATE", timeout=15)
        time.sleep(0.3)
        out = arping(client, vip, "-d", "-c", "4", "-W", "1", expect_rc=1)  # -d: 2 MACs → rc 1
        if NODE1_MAC not in out or NODE2_MAC not in out:
            raise LabError(f"both kernels should answer the client:\n{out}")
        # Let the second GARP bursts (garp_master_delay 5 s) of both go out.
        for ka in (ka1, ka2):
            ka.wait_for("Sending gratuitous ARP on eth0", count=10, timeout=10)
        time.sleep(0.5)
    sc = Scenario(
        name="keepalived-split-brain",
        description=(
            "Two real keepalived instances for 192.0.2.102 that cannot hear each other: each "
            "sends its VRRP adverts unicast to an address where nobody is (node1 -> "
            "192.0.2.250, node2 -> 192.0.2.251; their kernels ARP for those, which claims "
            "192.0.2.11 and 192.0.2.12: ok). node2 starts 1.5 s after node1; both become "
            "MASTER, bind the VIP and send 5 GARPs, 5 more after 5 s, so the claims alternate "
            "node1/node2 (flip-flops). The client resolves the VIP 4 times, 1 s apart, and both "
            "kernels reply to every request (duplicate replies): contested."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "contested", (NODE1_MAC, KEEPALIVED), (NODE2_MAC, KEEPALIVED)),
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
            _expect(None, NODE1_IP, "ok", (NODE1_MAC, KERNEL)),
            _expect(None, NODE2_IP, "ok", (NODE2_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[
            _need_garps(vip, NODE1_MAC, 10, op=1),
            _need_garps(vip, NODE2_MAC, 10, op=1),
            _need_replies(vip, CLIENT_MAC, {NODE1_MAC: 4, NODE2_MAC: 4}),
        ],
    )
    sc.frames = cap.captured
    return sc


def metallb_vs_kubevip(lab: Lab, pcap: Path) -> Scenario:
    """kube-vip (VIP bound) on node1 vs MetalLB (proxy ARP) on node2 → contested."""
    vip = "192.0.2.103"
    h = _std_hosts(lab, "client", "node1", "node2")
    kube_vip, metallb, client = h["node1"], h["node2"], h["client"]
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        kube_vip.add_address(f"{vip}/32")
        metallb.enable_proxy_arp(vip)
        start_announcer(
            kube_vip, "kubevip", "--iface", "eth0", "--vip", vip, "--rate-ms", "3000", "--duration", "11"
        )
        time.sleep(0.5)
        start_announcer(
            metallb, "metallb", "--iface", "eth0", "--vip", vip, "--reconcile-every", "4", "--duration", "11"
        )
        time.sleep(0.5)
        out = arping(client, vip, "-d", "-c", "9", "-W", "1", expect_rc=1)
        if NODE1_MAC not in out or NODE2_MAC not in out:
            raise LabError(f"both node1 (kernel) and node2 (proxy ARP) should answer:\n{out}")
        time.sleep(max(0.0, 12.0 - (time.monotonic() - t0)))

    def formats(frames: list[Frame]) -> list[str]:
        problems = []
        kv = [f for f in frames if f.sha == NODE1_MAC and f.spa == vip and f.tpa == vip]
        if not any(f.op == 2 and f.tha == NODE1_MAC for f in kv) or not any(
            f.op == 1 and f.tha == "ff:ff:ff:ff:ff:ff" for f in kv
        ):
            problems.append("kube-vip GARPs should alternate op=2 (tha=own MAC) / op=1")
        ml = [
            f
            for f in frames
            if f.sha == NODE2_MAC and f.spa == vip and f.tpa == vip and f.eth_dst == "ff:ff:ff:ff:ff:ff"
        ]
        if not ml or any(f.length != 60 or f.tha != "ff:ff:ff:ff:ff:ff" for f in ml):
            problems.append("MetalLB GARPs should be 60-byte frames with target MAC broadcast")
        return problems

    sc = Scenario(
        name="metallb-vs-kubevip",
        description=(
            "node1 plays kube-vip: 192.0.2.103 bound on eth0 (its kernel answers requests) and "
            "one GARP every 3 s alternating op=2 (target MAC = own MAC) / op=1 (42-byte "
            "frames). node2 plays MetalLB: VIP not bound, kernel proxy ARP answers for it, and "
            "GARP pairs (op=1 then op=2, padded to 60 bytes) every 1.1 s, a reconcile every 4 s "
            "keeping the 5 s window open. The client resolves the VIP every 1 s (9 times); both "
            "nodes answer every request. node2's proxy ARP also answers kube-vip's op=1 GARPs "
            "(a unicast reply to node1). Two MACs alternate with duplicate replies: contested."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "contested", (NODE1_MAC, KUBE_VIP), (NODE2_MAC, METALLB)),
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[
            _need_garps(vip, NODE1_MAC, 3),
            _need_garps(vip, NODE2_MAC, 10),
            _need_replies(vip, CLIENT_MAC, {NODE1_MAC: 9, NODE2_MAC: 9}),
            formats,
        ],
    )
    sc.frames = cap.captured
    return sc


def duplicate_ip(lab: Lab, pcap: Path) -> Scenario:
    """Two hosts configured with the same address; both answer the client → contested."""
    dup = "192.0.2.50"
    client = lab.add_host("client", f"{CLIENT_IP}/24", CLIENT_MAC)
    a = lab.add_host("node1", f"{dup}/24", NODE1_MAC)
    b = lab.add_host("node2", f"{dup}/24", NODE2_MAC)
    obs = lab.add_host("observer", ip=None, mac=OBSERVER_MAC)
    h = {"client": client, "node1": a, "node2": b, "observer": obs}
    t0 = time.monotonic()
    with lab.capture(obs, pcap) as cap:
        out = arping(client, dup, "-d", "-c", "3", "-W", "1", expect_rc=1)
        if NODE1_MAC not in out or NODE2_MAC not in out:
            raise LabError(f"both hosts should answer for {dup}:\n{out}")
    sc = Scenario(
        name="duplicate-ip",
        description=(
            "node1 and node2 are both configured with 192.0.2.50/24 (a plain duplicate address, "
            "no announcer). They send nothing by themselves; the client resolves 192.0.2.50 "
            "three times (Habets arping -d, 1 s apart) and both kernels reply to every request: "
            "duplicate replies, contested."
        ),
        pcap=pcap,
        ips=[
            _expect(None, dup, "contested", (NODE1_MAC, UNKNOWN), (NODE2_MAC, UNKNOWN)),  # replies only
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[_need_replies(dup, CLIENT_MAC, {NODE1_MAC: 3, NODE2_MAC: 3})],
    )
    sc.frames = cap.captured
    return sc


def vlan_garp(lab: Lab, pcap: Path) -> Scenario:
    """Same IP claimed on VLAN 100 and VLAN 200 by different hosts, plus an untagged GARP."""
    ip, other = "198.51.100.20", "198.51.100.30"
    a = lab.add_host("vlan100", ip=None, mac=NODE1_MAC)
    b = lab.add_host("vlan200", ip=None, mac=NODE2_MAC)
    c = lab.add_host("untagged", ip=None, mac="02:00:5e:10:00:03")
    obs = lab.add_host("observer", ip=None, mac=OBSERVER_MAC)
    h = {"vlan100": a, "vlan200": b, "untagged": c, "observer": obs}
    t0 = time.monotonic()
    with lab.capture(obs, pcap) as cap:
        pa = start_announcer(
            a, "garp", "--iface", "eth0", "--vip", ip, "--vlan", "100", "--count", "3", "--interval", "1"
        )
        out = arping(b, ip, "-V", "200", "-U", "-S", ip, "-c", "3", "-W", "1", expect_rc=None)
        if "3 packets transmitted" not in out:
            raise LabError(f"arping -V 200 did not send 3 GARPs:\n{out}")
        pc = start_announcer(
            c, "garp", "--iface", "eth0", "--vip", other, "--op", "2", "--count", "2", "--interval", "0.5"
        )
        for p in (pa, pc):
            if p.wait(timeout=10) != 0:
                raise LabError("garp announcer failed")

    def tagged(frames: list[Frame]) -> list[str]:
        problems = []
        for vlan, mac in ((100, NODE1_MAC), (200, NODE2_MAC)):
            n = sum(1 for f in frames if f.ethertype == 0x8100 and f.vlan == vlan and f.sha == mac)
            if n != 3:
                problems.append(f"expected 3 frames tagged 802.1Q vlan {vlan} from {mac}, got {n}")
        if any(f.vlan is not None for f in frames if f.spa == other):
            problems.append(f"{other} should be untagged")
        return problems

    sc = Scenario(
        name="vlan-garp",
        description=(
            "802.1Q-tagged gratuitous ARP on one segment: host vlan100 (02:00:5e:10:00:01) "
            "claims 198.51.100.20 on VLAN 100 (scapy Dot1Q, op=1, 3 times 1 s apart); host "
            "vlan200 (02:00:5e:10:00:02) claims the same 198.51.100.20 on VLAN 200 (Habets arping "
            "-V 200 -U, 3 times); host untagged (02:00:5e:10:00:03) sends 2 untagged op=2 GARPs "
            "for 198.51.100.30. Same IP on different VLANs is two separate entries, each with "
            "one MAC: ok, ok, ok. The hosts have no IPv4 address and nothing answers."
        ),
        pcap=pcap,
        ips=[
            _expect(100, ip, "ok", (NODE1_MAC, UNKNOWN)),
            _expect(200, ip, "ok", (NODE2_MAC, UNKNOWN)),
            _expect(None, other, "ok", ("02:00:5e:10:00:03", UNKNOWN)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[
            tagged,
            _need_garps(ip, NODE1_MAC, 3, vlan=100),
            _need_garps(ip, NODE2_MAC, 3, vlan=200),
            _need_garps(other, "02:00:5e:10:00:03", 2, op=2),
        ],
    )
    sc.frames = cap.captured
    return sc


# -- announcer scenarios: one per announcer's clean failover, and fights -----------------


def _poll(client: Host, vip: str, count: int, interval: float = 1.0,
          dup: bool = False) -> subprocess.Popen[str]:
    """The client resolves ``vip`` ``count`` times, ``interval`` s apart, in the background."""
    return client.popen(
        ["arping", "-i", client.ifname, *(["-d"] if dup else []), "-c", str(count), "-W", str(interval), vip],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _poll_output(lab: Lab, proc: subprocess.Popen[str], timeout: float = 40.0) -> str:
    """Wait for a :func:`_poll` and return what arping printed."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        lab.stop(proc)
        raise LabError("client arping did not finish") from None
    return out


def _hold_until(t0: float, seconds: float) -> None:
    """Sleep until ``seconds`` after ``t0`` (monotonic)."""
    time.sleep(max(0.0, t0 + seconds - time.monotonic()))


def _send_from(host: Host, src: str, dst: str) -> None:
    """One UDP datagram from ``src`` to ``dst``: the kernel resolves ``dst`` with an ARP
    request sent *from* ``src`` (a host using its own address)."""
    code = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            f"s.bind(({src!r}, 0)); s.sendto(b'x', ({dst!r}, 9))")
    host.run([sys.executable, "-c", code])


def _no_proxy_arp(host: Host, vip: str) -> None:
    """Undo :meth:`~lab.netlab.Host.enable_proxy_arp` for ``vip``."""
    host.run(["ip", "neigh", "del", "proxy", vip, "dev", host.ifname])
    host.run(["ip", "route", "del", f"{vip}/32", "dev", "lo"])


def _garps(frames: list[Frame], ip: str, mac: str) -> list[Frame]:
    return [f for f in frames if f.is_arp and f.spa == ip and f.tpa == ip and f.sha == mac
            and f.eth_dst == "ff:ff:ff:ff:ff:ff"]


def _cilium_shape(ip: str, mac: str, requester: str) -> Callable[[list[Frame]], list[str]]:
    """Design check: exactly one op=2 broadcast GARP from ``mac``, and every reply of ``mac``
    to ``requester`` as long as the request it answers."""

    def check(frames: list[Frame]) -> list[str]:
        problems = []
        g = _garps(frames, ip, mac)
        if len(g) != 1 or g[0].op != 2 or g[0].tha != "ff:ff:ff:ff:ff:ff":
            problems.append(f"{mac}: expected exactly one op=2 broadcast GARP for {ip}, got {len(g)}")
        last_request: Frame | None = None
        answered = 0
        for f in frames:
            if f.op == 1 and f.sha == requester and f.tpa == ip:
                last_request = f
            elif f.op == 2 and f.sha == mac and f.spa == ip and f.tha == requester:
                answered += 1
                if last_request is None or f.length != last_request.length:
                    problems.append(f"frame {f.no}: reply of {f.length} bytes, request "
                                    f"{last_request.length if last_request else '-'} bytes")
        if not answered:
            problems.append(f"{mac} answered no request for {ip}")
        return problems

    return check


# -- IPv6 (Neighbor Discovery) ---------------------------------------------------


def _nd_replies_to(frames: list[Frame], ip: str, requester_mac: str) -> dict[str, list[float]]:
    """MAC -> times of solicited advertisements for ``ip`` sent to ``requester_mac``."""
    out: dict[str, list[float]] = {}
    for f in frames:
        if f.icmp6_type == 136 and "S" in f.na_flags and f.nd_target == ip and f.eth_dst == requester_mac:
            out.setdefault(f.nd_lladdr or f.eth_src, []).append(f.time)
    return out


def _need_nd_replies(ip: str, requester: str, macs: dict[str, int]) -> Callable[[list[Frame]], list[str]]:
    """Design check: at least ``n`` solicited advertisements for ``ip`` to ``requester`` per MAC."""

    def check(frames: list[Frame]) -> list[str]:
        got = _nd_replies_to(frames, ip, requester)
        return [
            f"expected >= {n} solicited NAs for {ip} from {mac} to {requester}, got {len(got.get(mac, []))}"
            for mac, n in macs.items()
            if len(got.get(mac, [])) < n
        ]

    return check


def _never_back(ip: str) -> Callable[[list[Frame]], list[str]]:
    """Design check: node1 claims ``ip`` only before node2's first claim."""

    def check(frames: list[Frame]) -> list[str]:
        t1 = [f.time for f in frames if f.is_arp and f.spa == ip and f.sha == NODE1_MAC]
        t2 = [f.time for f in frames if f.is_arp and f.spa == ip and f.sha == NODE2_MAC]
        if not t1 or not t2 or max(t1) >= min(t2):
            return [f"node1 should claim {ip} only before node2 does"]
        return []

    return check


def _need_unsolicited(ip: str, mac: str, n: int, flags: str = "O") -> Callable[[list[Frame]], list[str]]:
    """Design check: at least ``n`` unsolicited advertisements (S=0, exactly ``flags``) for
    ``ip`` from ``mac`` to all nodes (ff02::1)."""

    def check(frames: list[Frame]) -> list[str]:
        got = [
            f
            for f in frames
            if f.icmp6_type == 136
            and f.nd_target == ip
            and f.nd_lladdr == mac
            and f.na_flags == flags
            and f.ip6_dst == "ff02::1"
            and f.eth_dst == ALL_NODES_MAC
            and f.hlim == 255
        ]
        if len(got) < n:
            return [f"expected >= {n} unsolicited NAs (flags {flags}) for {ip} from {mac}, got {len(got)}"]
        return []

    return check


def _vmac_keepalived(h: dict[str, Host], vip: str, prio1: int, prio2: int, **kw: Any
                     ) -> tuple[Keepalived, Keepalived]:
    """keepalived with ``use_vmac`` on node1 (MASTER) and node2, node2 started once node1 is MASTER."""
    ka1 = Keepalived(h["node1"], vip, priority=prio1, use_vmac=True, **kw)
    ka1.wait_for("Entering MASTER STATE", timeout=15)
    ka2 = Keepalived(h["node2"], vip, priority=prio2, use_vmac=True, **kw)
    ka2.wait_for("Startup complete")
    return ka1, ka2


def cilium_vs_kube_vip(lab: Lab, pcap: Path) -> Scenario:
    """kube-vip (VIP bound) on node1 vs Cilium (BPF replies) on node2 → contested."""
    vip = "192.0.2.106"
    h = _std_hosts(lab, "client", "node1", "node2")
    kube_vip, cilium, client = h["node1"], h["node2"], h["client"]
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        kube_vip.add_address(f"{vip}/32")
        start_announcer(kube_vip, "kubevip", "--iface", "eth0", "--vip", vip, "--rate-ms", "3000",
                        "--duration", "22")
        time.sleep(1.0)
        start_announcer(cilium, "cilium", "--iface", "eth0", "--vip", vip, "--duration", "21.5")
        time.sleep(0.5)
        out = arping(client, vip, "-d", "-c", "19", "-W", "1", expect_rc=1)
        if NODE1_MAC not in out or NODE2_MAC not in out:
            raise LabError(f"node1 (kernel) and node2 (Cilium) should both answer:\n{out}")
        _hold_until(t0, 23.0)

    def kube_vip_shape(frames: list[Frame]) -> list[str]:
        g = _garps(frames, vip, NODE1_MAC)
        ops = [f.op for f in g]
        if len(g) < 7 or any(a == b for a, b in itertools.pairwise(ops)):
            return [f"kube-vip GARPs should alternate op2/op1, got {ops}"]
        return []

    sc = Scenario(
        name="cilium-vs-kube-vip",
        description=(
            "node1 plays kube-vip: 192.0.2.106 bound on eth0 (its kernel answers requests with "
            "42-byte replies) and one GARP every 3 s for 22 s, alternating op=2 (target MAC = own "
            "MAC) / op=1. node2 plays Cilium's L2 announcer 1 s later: one op=2 GARP with the "
            "target MAC broadcast (60 bytes), then silence, and every request for the VIP answered "
            "the way Cilium's BPF program does: the request rewritten into a reply of the same "
            "length (58 bytes for Habets arping's requests); the VIP is not bound on node2. The "
            "client resolves the VIP every 1 s (19 times) and both answer every request: duplicate "
            "replies and flip-flops, contested. Long enough (23 s) that kube-vip is still named "
            "with the first 10 s cut off."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "contested", (NODE1_MAC, KUBE_VIP), (NODE2_MAC, CILIUM)),
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[
            kube_vip_shape,
            _cilium_shape(vip, NODE2_MAC, CLIENT_MAC),
            _need_replies(vip, CLIENT_MAC, {NODE1_MAC: 19, NODE2_MAC: 19}),
        ],
    )
    sc.frames = cap.captured
    return sc


def cilium_vs_metallb(lab: Lab, pcap: Path) -> Scenario:
    """MetalLB (proxy ARP, GARP pairs) on node1 vs Cilium on node2 → contested."""
    vip = "192.0.2.107"
    h = _std_hosts(lab, "client", "node1", "node2")
    metallb, cilium, client = h["node1"], h["node2"], h["client"]
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        metallb.enable_proxy_arp(vip)
        start_announcer(metallb, "metallb", "--iface", "eth0", "--vip", vip, "--reconcile-every", "4",
                        "--duration", "12")
        time.sleep(0.5)
        start_announcer(cilium, "cilium", "--iface", "eth0", "--vip", vip, "--duration", "12")
        time.sleep(0.5)
        out = arping(client, vip, "-d", "-c", "10", "-W", "1", expect_rc=1)
        if NODE1_MAC not in out or NODE2_MAC not in out:
            raise LabError(f"node1 (proxy ARP) and node2 (Cilium) should both answer:\n{out}")
        _hold_until(t0, 13.0)
    sc = Scenario(
        name="cilium-vs-metallb",
        description=(
            "node1 plays MetalLB for 192.0.2.107: VIP not bound, kernel proxy ARP answers, GARP "
            "pairs (op=1 then op=2, target MAC broadcast, 60 bytes) every 1.1 s with a reconcile "
            "every 4 s. node2 plays Cilium 0.5 s later: one op=2 broadcast GARP, then silence, and "
            "BPF-style replies as long as the request. The client resolves the VIP every 1 s (10 "
            "times) and both answer every request: contested."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "contested", (NODE1_MAC, METALLB), (NODE2_MAC, CILIUM)),
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[
            _need_garps(vip, NODE1_MAC, 10),
            _cilium_shape(vip, NODE2_MAC, CLIENT_MAC),
            _need_replies(vip, CLIENT_MAC, {NODE1_MAC: 10, NODE2_MAC: 10}),
        ],
    )
    sc.frames = cap.captured
    return sc


def keepalived_split_brain_vrrp(lab: Lab, pcap: Path) -> Scenario:
    """Two keepalived that drop each other's adverts (passwords differ): both MASTER, adverts
    visible → contested, and a VRRP split brain."""
    vip = "192.0.2.108"
    h = _std_hosts(lab, "client", "node1", "node2")
    client = h["client"]
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        ka1 = Keepalived(h["node1"], vip, priority=150, auth_pass="node1pw")
        ka2 = Keepalived(h["node2"], vip, priority=100, auth_pass="node2pw")
        for ka in (ka1, ka2):
            ka.wait_for("Entering MASTER STATE", timeout=15)
        if "invalid passwd" not in ka1.log() + ka2.log():
            raise LabError("the routers should reject each other's adverts:\n" + ka1.log() + ka2.log())
        time.sleep(0.5)
        poll = _poll(client, vip, 15, dup=True)  # to the end: claims after a 10 s cut too
        for ka in (ka1, ka2):
            ka.wait_for("Sending gratuitous ARP on eth0", count=10, timeout=10)
        out = _poll_output(lab, poll)
        if NODE1_MAC not in out or NODE2_MAC not in out:
            raise LabError(f"both kernels should answer the client:\n{out}")

    def adverts(frames: list[Frame]) -> list[str]:
        srcs = {f.eth_src for f in frames if f.ip_proto == 112 and f.ip_dst == "224.0.0.18"}
        return [] if srcs == {NODE1_MAC, NODE2_MAC} else [f"VRRP adverts from {sorted(srcs)}"]

    sc = Scenario(
        name="keepalived-split-brain-vrrp",
        vrrp=[{"vrid": 51, "split_brain": True, "priorities": [100, 150]}],
        description=(
            "Two real keepalived instances for 192.0.2.108 (VRRPv2, vrid 51, adverts multicast to "
            "224.0.0.18 every 1 s) configured with different auth_pass: each drops the other's "
            "adverts ('received an invalid passwd!'), so both become MASTER (node1 priority 150, "
            "node2 100), bind the VIP and send 5 GARPs, 5 more after 5 s. The observer sees both "
            "routers advertise VRID 51 at once (in runs: each resets its advert timer on every "
            "packet it reads): a VRRP split brain. The client resolves the VIP every 1 s until the "
            "end (15 times) and both kernels reply (duplicate replies), the GARPs alternate "
            "(flip-flops): contested. With the first 10 s cut, the adverts still name keepalived."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "contested", (NODE1_MAC, KEEPALIVED), (NODE2_MAC, KEEPALIVED)),
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[
            _need_garps(vip, NODE1_MAC, 10, op=1),
            _need_garps(vip, NODE2_MAC, 10, op=1),
            _need_replies(vip, CLIENT_MAC, {NODE1_MAC: 15, NODE2_MAC: 15}),
            adverts,
        ],
    )
    sc.frames = cap.captured
    return sc


def keepalived_vmac_failover(lab: Lab, pcap: Path) -> Scenario:
    """keepalived with use_vmac: the VIP moves between routers but keeps one MAC → ok."""
    vip = "192.0.2.109"
    h = _std_hosts(lab, "client", "node1", "node2")
    client = h["client"]
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        ka1, ka2 = _vmac_keepalived(h, vip, 150, 100)
        ka2.wait_for("Entering BACKUP STATE")
        out = arping(client, vip, "-c", "4", "-W", "0.5")
        if VMAC_51 not in out:
            raise LabError(f"the virtual MAC should answer:\n{out}")
        _hand_over(ka1, ka2)
        time.sleep(1.0)
        out = arping(client, vip, "-c", "4", "-W", "0.5")
        if VMAC_51 not in out:
            raise LabError(f"the virtual MAC should answer after the failover:\n{out}")
        ka2.wait_for("Sending gratuitous ARP on vrrp.51", count=10, timeout=10)
        time.sleep(0.5)

    def vmac_only(frames: list[Frame]) -> list[str]:
        problems = []
        if len([f for f in _garps(frames, vip, VMAC_51) if f.op == 1]) < 15:
            problems.append("expected 5 + 5 + 5 GARPs from the virtual MAC")
        srcs = {f.ip_src for f in frames if f.ip_proto == 112 and f.eth_src == VMAC_51}
        if srcs != {NODE1_IP, NODE2_IP}:
            problems.append(f"VRRP adverts from the virtual MAC should come from both routers: {srcs}")
        return problems

    hosts = _macs(h)
    hosts["vmac"] = VMAC_51
    sc = Scenario(
        name="keepalived-vmac-failover",
        vrrp=[{"vrid": 51, "split_brain": False, "priorities": [100, 150]}],
        description=(
            "Two real keepalived instances with use_vmac for 192.0.2.109 (vrid 51): each runs on a "
            "macvlan vrrp.51 with the VRRP virtual MAC 00:00:5e:00:01:33, so adverts, GARPs and "
            "the kernel's replies all come from that MAC, whichever router is MASTER. node1 "
            "(priority 150) is MASTER and sends 5 + 5 GARPs; the client resolves the VIP 4 times; "
            "node1's keepalived stops cleanly (priority-0 advert), node2 becomes MASTER from the "
            "same virtual MAC (5 + 5 GARPs), the client resolves it 4 more times. One MAC claims "
            "the VIP throughout: ok — the VRRP adverts show the routers changed."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "ok", (VMAC_51, KEEPALIVED)),
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=hosts,
        seconds=time.monotonic() - t0,
        design_checks=[_need_replies(vip, CLIENT_MAC, {VMAC_51: 8}), vmac_only],
    )
    sc.frames = cap.captured
    return sc


def keepalived_vmac_split_brain(lab: Lab, pcap: Path) -> Scenario:
    """keepalived with use_vmac, both MASTER: one MAC claims the VIP from two routers → ok on the
    ARP level; the adverts show the split brain."""
    vip = "192.0.2.113"
    h = _std_hosts(lab, "client", "node1", "node2")
    client = h["client"]
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        ka1 = Keepalived(h["node1"], vip, priority=150, use_vmac=True, auth_pass="node1pw")
        ka2 = Keepalived(h["node2"], vip, priority=100, use_vmac=True, auth_pass="node2pw")
        for ka in (ka1, ka2):
            ka.wait_for("Entering MASTER STATE", timeout=15)
        time.sleep(0.5)
        poll = _poll(client, vip, 14)  # to the end: claims after a 10 s cut too
        for ka in (ka1, ka2):
            ka.wait_for("Sending gratuitous ARP on vrrp.51", count=10, timeout=10)
        out = _poll_output(lab, poll)
        if VMAC_51 not in out:
            raise LabError(f"the virtual MAC should answer:\n{out}")

    def two_routers(frames: list[Frame]) -> list[str]:
        srcs = {f.ip_src for f in frames if f.ip_proto == 112 and f.eth_src == VMAC_51}
        replies = _replies_to(frames, vip, CLIENT_MAC).get(VMAC_51, [])
        problems = [] if srcs == {NODE1_IP, NODE2_IP} else [f"adverts from {srcs}"]
        if len(replies) < 28:
            problems.append(f"both routers should answer each of 14 requests, {len(replies)} replies")
        return problems

    hosts = _macs(h)
    hosts["vmac"] = VMAC_51
    sc = Scenario(
        name="keepalived-vmac-split-brain",
        vrrp=[{"vrid": 51, "split_brain": True, "priorities": [100, 150]}],
        description=(
            "Two real keepalived instances with use_vmac for 192.0.2.113 (vrid 51) and different "
            "auth_pass: each drops the other's adverts and both become MASTER on their macvlan "
            "with the same virtual MAC 00:00:5e:00:01:33. Both send GARPs (each answered by the "
            "other router's kernel) and both kernels answer the client's 14 requests, 1 s apart, "
            "until the end — all from one MAC, so on the ARP level one MAC claims the VIP: ok, no "
            "duplicate reply (the replies are identical). Only the VRRP adverts show the split "
            "brain: routers 192.0.2.11 (priority 150) and 192.0.2.12 (priority 100) advertise "
            "VRID 51 at once."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "ok", (VMAC_51, KEEPALIVED)),
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=hosts,
        seconds=time.monotonic() - t0,
        design_checks=[two_routers],
    )
    sc.frames = cap.captured
    return sc


def kernel_duplicate_ip(lab: Lab, pcap: Path) -> Scenario:
    """Two hosts use the same address: both send requests from it and both answer → contested."""
    dup = "192.0.2.52"
    client = lab.add_host("client", f"{CLIENT_IP}/24", CLIENT_MAC)
    a = lab.add_host("node1", f"{dup}/24", NODE1_MAC)
    b = lab.add_host("node2", f"{dup}/24", NODE2_MAC)
    obs = lab.add_host("observer", ip=None, mac=OBSERVER_MAC)
    h = {"client": client, "node1": a, "node2": b, "observer": obs}
    t0 = time.monotonic()
    with lab.capture(obs, pcap) as cap:
        _send_from(a, dup, CLIENT_IP)
        time.sleep(0.5)
        _send_from(b, dup, CLIENT_IP)
        time.sleep(0.5)
        out = arping(client, dup, "-d", "-c", "3", "-W", "1", expect_rc=1)
        if NODE1_MAC not in out or NODE2_MAC not in out:
            raise LabError(f"both hosts should answer for {dup}:\n{out}")

    def asks(frames: list[Frame]) -> list[str]:
        who = {f.sha for f in frames if f.op == 1 and f.spa == dup and f.tpa == CLIENT_IP}
        return [] if who == {NODE1_MAC, NODE2_MAC} else [f"requests from {dup} by {sorted(who)}"]

    sc = Scenario(
        name="kernel-duplicate-ip",
        description=(
            "node1 and node2 are both configured with 192.0.2.52/24 and both use it: each sends "
            "a UDP datagram from it to the client, so each kernel first resolves the client with "
            "an ARP request from 192.0.2.52 (a host's own address). Then the client resolves "
            "192.0.2.52 three times (arping -d) and both kernels reply: duplicate replies, "
            "contested; both claimants are the kernel."
        ),
        pcap=pcap,
        ips=[
            _expect(None, dup, "contested", (NODE1_MAC, KERNEL), (NODE2_MAC, KERNEL)),
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[asks, _need_replies(dup, CLIENT_MAC, {NODE1_MAC: 3, NODE2_MAC: 3})],
    )
    sc.frames = cap.captured
    return sc


def _need_solicitations(ip: str, requester_mac: str, n: int) -> Callable[[list[Frame]], list[str]]:
    """Design check: exactly ``n`` multicast solicitations for ``ip`` from ``requester_mac``."""

    def check(frames: list[Frame]) -> list[str]:
        got = [f for f in frames if f.icmp6_type == 135 and f.nd_target == ip and f.eth_src == requester_mac
               and f.ip6_dst.startswith("ff02::1:ff")]
        if len(got) == n:
            return []
        return [f"expected {n} solicitations for {ip} from {requester_mac}, got {len(got)}"]

    return check


def _no_reachability_probes(host: Host) -> None:
    """No unicast reachability probe (RFC 4861 7.3.3) within a recording: a kernel that
    answered a solicitation holds the asker's address as STALE and, 5 s after it next sends
    to it, probes it with a unicast solicitation from its link-local address — which claims
    that link-local address, at a time that depends on the machine's speed.  Raising the
    delay before the first probe to 60 s keeps the recordings' claims exactly as designed."""
    host.sysctl(f"net.ipv6.neigh.{host.ifname}.delay_first_probe_time", 60)


def _resolve6(client: Host, vip: str, times: int, gap: float) -> None:
    """The client's kernel resolves ``vip`` ``times`` times, ``gap`` s apart."""
    for i in range(times):
        if i:
            time.sleep(gap)
        client.resolve6(vip)


def duplicate_ipv6(lab: Lab, pcap: Path) -> Scenario:
    """Two hosts configured with the same IPv6 address (no DAD); both answer → contested."""
    dup = "2001:db8::50"
    client = lab.add_host("client", ip=None, mac=CLIENT_MAC, ip6=f"{CLIENT_IP6}/64")
    a = lab.add_host("node1", ip=None, mac=NODE1_MAC, ip6=f"{dup}/64")
    b = lab.add_host("node2", ip=None, mac=NODE2_MAC, ip6=f"{dup}/64")
    obs = lab.add_host("observer", ip=None, mac=OBSERVER_MAC)
    h = {"client": client, "node1": a, "node2": b, "observer": obs}
    for host in (client, a, b):
        _no_reachability_probes(host)
    time.sleep(2.5)  # let the MLD reports of the address setup go by
    t0 = time.monotonic()
    with lab.capture(obs, pcap) as cap:
        _resolve6(client, dup, 3, 1.0)
        time.sleep(0.5)
    sc = Scenario(
        name="duplicate-ipv6",
        description=(
            "node1 and node2 are both configured with 2001:db8::50/64, added without Duplicate "
            "Address Detection (nodad: with DAD the second host would have found the first and "
            "given the address up). No announcer, no IPv4. The client (2001:db8::10) resolves "
            "2001:db8::50 three times, pausing 1 s in between: its kernel multicasts a Neighbor Solicitation "
            "with its link-layer address to ff02::1:ff00:50 (which claims 2001:db8::10 for the "
            "client) and both kernels answer with a solicited advertisement (S=1, O=1): two "
            "MACs answer each solicitation, duplicate replies, contested. The client's datagram "
            "(to port 9) and the ICMPv6 port unreachable it earns are the non-ARP frames."
        ),
        pcap=pcap,
        ips=[
            _expect(None, dup, "contested", (NODE1_MAC, UNKNOWN), (NODE2_MAC, UNKNOWN)),  # replies only
            _expect(None, CLIENT_IP6, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[_need_solicitations(dup, CLIENT_MAC, 3),
                       _need_nd_replies(dup, CLIENT_MAC, {NODE1_MAC: 3, NODE2_MAC: 3})],
        ipv6=True,
    )
    sc.frames = cap.captured
    return sc


def every_node_answers(lab: Lab, pcap: Path) -> Scenario:
    """kube-proxy IPVS without strictARP: the VIP bound on every node, every kernel answers."""
    vip = "192.0.2.60"
    h = _std_hosts(lab, "client", "node1", "node2", "node3")
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        for n in ("node1", "node2", "node3"):
            # kube-ipvs0 (a dummy device) is not available here; lo is bound the same way.
            h[n].run(["ip", "addr", "add", f"{vip}/32", "dev", "lo"])
        out = arping(h["client"], vip, "-d", "-c", "3", "-W", "1", expect_rc=1)
        if not all(m in out for m in (NODE1_MAC, NODE2_MAC, NODE3_MAC)):
            raise LabError(f"every node should answer for {vip}:\n{out}")
    sc = Scenario(
        name="every-node-answers",
        description=(
            "kube-proxy in IPVS mode without strictARP: the VIP 192.0.2.60 is bound on every node "
            "(on lo here, standing in for kube-ipvs0) and with the default arp_ignore=0 every "
            "node's kernel answers for it on eth0. Nobody announces it. The client resolves it "
            "three times and node1, node2 and node3 all reply to every request: duplicate replies, "
            "contested; three MACs answering one request with no GARP names the kernel and gives "
            "the IP the hint 'every node answers'."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "contested", (NODE1_MAC, KERNEL), (NODE2_MAC, KERNEL),
                    (NODE3_MAC, KERNEL), hint="every node answers — kube-proxy IPVS without strictARP?"),
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[_need_replies(vip, CLIENT_MAC, {NODE1_MAC: 3, NODE2_MAC: 3, NODE3_MAC: 3})],
    )
    sc.frames = cap.captured
    return sc


def metallb_failover(lab: Lab, pcap: Path) -> Scenario:
    """MetalLB moves the VIP from node1 to node2 (one GARP burst each) → moved."""
    vip = "192.0.2.110"
    h = _std_hosts(lab, "client", "node1", "node2")
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        h["node1"].enable_proxy_arp(vip)
        first = start_announcer(h["node1"], "metallb", "--iface", "eth0", "--vip", vip)
        poll = _poll(h["client"], vip, 5)
        out = _poll_output(lab, poll)
        if first.wait(timeout=10) != 0:
            raise LabError("node1's MetalLB emulation failed")
        _no_proxy_arp(h["node1"], vip)
        time.sleep(1.5)
        h["node2"].enable_proxy_arp(vip)
        second = start_announcer(h["node2"], "metallb", "--iface", "eth0", "--vip", vip)
        out += _poll_output(lab, _poll(h["client"], vip, 6))
        if second.wait(timeout=10) != 0:
            raise LabError("node2's MetalLB emulation failed")
        if NODE1_MAC not in out or NODE2_MAC not in out:
            raise LabError(f"node1, then node2 should answer:\n{out}")
    sc = Scenario(
        name="metallb-failover",
        description=(
            "MetalLB's election moves 192.0.2.110 from node1 to node2: node1 answers by proxy ARP "
            "and sends one burst of GARP pairs (op=1 + op=2, 60 bytes) 1.1 s apart for 5 s; the "
            "client resolves the VIP 5 times (node1 answers); node1 stops answering; 1.5 s later "
            "node2 answers by proxy ARP and sends its own burst; the client resolves it 6 more "
            "times (node2 answers). node1 never claims it again: moved."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "moved", (NODE1_MAC, METALLB), (NODE2_MAC, METALLB)),
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[
            _need_garps(vip, NODE1_MAC, 10),
            _need_garps(vip, NODE2_MAC, 10),
            _need_replies(vip, CLIENT_MAC, {NODE1_MAC: 5, NODE2_MAC: 6}),
            _never_back(vip),
        ],
    )
    sc.frames = cap.captured
    return sc


def kube_vip_failover(lab: Lab, pcap: Path) -> Scenario:
    """kube-vip leadership moves from node1 to node2 → moved."""
    vip = "192.0.2.111"
    h = _std_hosts(lab, "client", "node1", "node2")
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        h["node1"].add_address(f"{vip}/32")
        first = start_announcer(h["node1"], "kubevip", "--iface", "eth0", "--vip", vip, "--duration", "10")
        poll = _poll(h["client"], vip, 21)
        if first.wait(timeout=15) != 0:
            raise LabError("node1's kube-vip emulation failed")
        h["node1"].del_address(f"{vip}/32")
        h["node2"].add_address(f"{vip}/32")
        second = start_announcer(h["node2"], "kubevip", "--iface", "eth0", "--vip", vip, "--duration", "12")
        out = _poll_output(lab, poll)
        if second.wait(timeout=15) != 0:
            raise LabError("node2's kube-vip emulation failed")
        if NODE1_MAC not in out or NODE2_MAC not in out:
            raise LabError(f"node1, then node2 should answer:\n{out}")
    sc = Scenario(
        name="kube-vip-failover",
        description=(
            "kube-vip leadership for 192.0.2.111 moves from node1 to node2: node1 has the VIP "
            "bound and sends one GARP every 3 s (op=2 own MAC / op=1 alternating) for 10 s; then "
            "its VIP is removed and node2 binds it and sends its own GARPs every 3 s for 12 s. "
            "The client resolves the VIP every 1 s throughout (21 requests): node1's kernel "
            "answers before the switch, node2's after. moved. node2 is still named kube-vip with "
            "the first 10 s cut off."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "moved", (NODE1_MAC, KUBE_VIP), (NODE2_MAC, KUBE_VIP)),
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[
            _need_garps(vip, NODE1_MAC, 4),
            _need_garps(vip, NODE2_MAC, 4),
            _need_replies(vip, CLIENT_MAC, {NODE1_MAC: 8, NODE2_MAC: 9}),
            _never_back(vip),
        ],
    )
    sc.frames = cap.captured
    return sc


def cilium_failover(lab: Lab, pcap: Path) -> Scenario:
    """Cilium's Lease for the Service moves from node1 to node2 → moved."""
    vip = "192.0.2.112"
    h = _std_hosts(lab, "client", "node1", "node2")
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        first = start_announcer(h["node1"], "cilium", "--iface", "eth0", "--vip", vip, "--duration", "7")
        poll = _poll(h["client"], vip, 15)
        if first.wait(timeout=15) != 0:
            raise LabError("node1's Cilium emulation failed")
        time.sleep(1.0)
        second = start_announcer(h["node2"], "cilium", "--iface", "eth0", "--vip", vip, "--duration", "7")
        out = _poll_output(lab, poll)
        if second.wait(timeout=15) != 0:
            raise LabError("node2's Cilium emulation failed")
        if NODE1_MAC not in out or NODE2_MAC not in out:
            raise LabError(f"node1, then node2 should answer:\n{out}")
    sc = Scenario(
        name="cilium-failover",
        description=(
            "Cilium's Lease for 192.0.2.112 moves from node1 to node2: node1 takes it over with "
            "one op=2 broadcast GARP and answers requests with BPF-style replies as long as the "
            "request for 7 s; 1 s after it stopped, node2 takes over the same way. The client "
            "resolves the VIP every 1 s (15 requests, one or two unanswered in the gap). moved."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "moved", (NODE1_MAC, CILIUM), (NODE2_MAC, CILIUM)),
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[
            _cilium_shape(vip, NODE1_MAC, CLIENT_MAC),
            _cilium_shape(vip, NODE2_MAC, CLIENT_MAC),
            _never_back(vip),
        ],
    )
    sc.frames = cap.captured
    return sc


def kernel_failover(lab: Lab, pcap: Path) -> Scenario:
    """An address moved from one host to another by hand (no announcer) → moved, the kernel."""
    addr = "192.0.2.53"
    h = _std_hosts(lab, "client", "node1", "node2")
    client = h["client"]
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        h["node1"].add_address(f"{addr}/32")
        _send_from(h["node1"], addr, CLIENT_IP)
        out = arping(client, addr, "-c", "3", "-W", "0.5")
        h["node1"].del_address(f"{addr}/32")
        time.sleep(1.5)
        h["node2"].add_address(f"{addr}/32")
        _send_from(h["node2"], addr, CLIENT_IP)
        out += arping(client, addr, "-c", "3", "-W", "0.5")
        if NODE1_MAC not in out or NODE2_MAC not in out:
            raise LabError(f"node1, then node2 should answer:\n{out}")
    sc = Scenario(
        name="kernel-failover",
        description=(
            "An address moved by hand, no announcer: node1 binds 192.0.2.53/32 and uses it (a UDP "
            "datagram from it to the client: node1's kernel resolves the client with a request "
            "from 192.0.2.53); the client resolves 192.0.2.53 three times (node1 answers); node1 "
            "drops the address; 1.5 s later node2 binds and uses it the same way and answers "
            "the client's next three requests. moved; both claimants are the kernel."
        ),
        pcap=pcap,
        ips=[
            _expect(None, addr, "moved", (NODE1_MAC, KERNEL), (NODE2_MAC, KERNEL)),
            _expect(None, CLIENT_IP, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[_need_replies(addr, CLIENT_MAC, {NODE1_MAC: 3, NODE2_MAC: 3}), _never_back(addr)],
    )
    sc.frames = cap.captured
    return sc


def keepalived_split_brain_ipv6(lab: Lab, pcap: Path) -> Scenario:
    """Two keepalived with an IPv6 VIP that cannot hear each other both become MASTER → contested."""
    vip = "2001:db8::102"
    h = _std_hosts(lab, "client", "node1", "node2", ipv6=True)
    client = h["client"]
    time.sleep(2.5)  # let the MLD reports of the address setup go by
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        # Each sends its VRRPv3 adverts unicast to an address where nobody is.
        ka1 = Keepalived(h["node1"], vip, priority=150, unicast_peers=("2001:db8::250",))
        time.sleep(1.5)
        ka2 = Keepalived(h["node2"], vip, priority=100, unicast_peers=("2001:db8::251",))
        ka1.wait_for("Entering MASTER STATE", timeout=15)
        ka2.wait_for("Entering MASTER STATE", timeout=15)
        time.sleep(0.3)
        _resolve6(client, vip, 4, 1.0)
        # Let the second bursts (garp_master_delay 5 s) of both go out.
        for ka in (ka1, ka2):
            ka.wait_for(ka.announcing, count=10, timeout=10)
        time.sleep(0.5)
    sc = Scenario(
        name="keepalived-split-brain-ipv6",
        description=(
            "Two real keepalived instances with the IPv6 VIP 2001:db8::102 (an IPv6 VRRP "
            "instance, vrid 51) that cannot hear each other: each sends its VRRPv3 adverts "
            "unicast to an address where nobody is (node1 -> 2001:db8::250, node2 -> "
            "2001:db8::251; their kernels solicit those, which claims 2001:db8::11 and "
            "2001:db8::12: ok, and no advert ever leaves). node2 starts 1.5 s after node1; both "
            "become MASTER, bind the VIP and send 5 unsolicited Neighbor Advertisements (O=1, "
            "S=0, to ff02::1), 5 more after 5 s, so the claims alternate node1/node2 "
            "(flip-flops). The client resolves the VIP 4 times, 1 s apart, and both kernels "
            "answer every solicitation (duplicate replies): contested."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "contested", (NODE1_MAC, KEEPALIVED), (NODE2_MAC, KEEPALIVED)),
            _expect(None, CLIENT_IP6, "ok", (CLIENT_MAC, KERNEL)),
            _expect(None, NODE1_IP6, "ok", (NODE1_MAC, KERNEL)),
            _expect(None, NODE2_IP6, "ok", (NODE2_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[
            _need_unsolicited(vip, NODE1_MAC, 10),
            _need_unsolicited(vip, NODE2_MAC, 10),
            _need_solicitations(vip, CLIENT_MAC, 4),
            _need_nd_replies(vip, CLIENT_MAC, {NODE1_MAC: 4, NODE2_MAC: 4}),
        ],
        ipv6=True,
    )
    sc.frames = cap.captured
    return sc


def failover_ipv6(lab: Lab, pcap: Path) -> Scenario:
    """keepalived pair with an IPv6 VIP, clean stop of the master: the VIP moves once → moved."""
    vip = "2001:db8::101"
    h = _std_hosts(lab, "client", "node1", "node2", ipv6=True)
    client = h["client"]
    time.sleep(2.5)  # let the MLD reports of the address setup go by
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        ka1, ka2 = _keepalived_pair(h, vip, 150, 100)
        _resolve6(client, vip, 3, 0.5)
        _hand_over(ka1, ka2)
        ka2.wait_for(ka2.announcing, count=5, timeout=10)
        time.sleep(1.5)
        _resolve6(client, vip, 3, 0.5)
        time.sleep(1.0)

    def node1_never_after_node2(frames: list[Frame]) -> list[str]:
        t1 = [f.time for f in frames if f.is_nd and f.nd_target == vip and f.icmp6_type == 136
              and f.eth_src == NODE1_MAC]
        t2 = [f.time for f in frames if f.is_nd and f.nd_target == vip and f.icmp6_type == 136
              and f.eth_src == NODE2_MAC]
        if not t1 or not t2:
            return ["both nodes must advertise the VIP"]
        problems = []
        if max(t1) >= min(t2):
            problems.append("node1 advertised the VIP after node2's first advertisement")
        if not any(f.ip6_next == 112 for f in frames):
            problems.append("no VRRPv3 advertisements recorded")
        r = _nd_replies_to(frames, vip, CLIENT_MAC)
        if sorted(r) != sorted([NODE1_MAC, NODE2_MAC]):
            problems.append(f"each node should answer the client, got {sorted(r)}")
        return problems

    sc = Scenario(
        name="failover-ipv6",
        description=(
            "Two real keepalived instances with the IPv6 VIP 2001:db8::101 (an IPv6 VRRP "
            "instance, vrid 51: VRRPv3 adverts from the link-local addresses to ff02::12): "
            "node1 priority 150 becomes MASTER, binds the VIP and sends 5 unsolicited Neighbor "
            "Advertisements (O=1, S=0, to ff02::1); node2 (priority 100) stays BACKUP. The "
            "client resolves the VIP 3 times, 0.5 s apart (solicitations to ff02::1:ff00:101; "
            "only node1 answers). node1's keepalived is then stopped cleanly (priority-0 "
            "advert, VIP removed); node2 becomes MASTER and advertises 5 times; after a 1.5 s "
            "pause the client resolves 3 more times and only node2 answers. The VIP changes "
            "owner exactly once and node1 never claims it again: moved (not contested). Also "
            "VRRPv3 and MLD frames (non-ARP noise)."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "moved", (NODE1_MAC, KEEPALIVED), (NODE2_MAC, KEEPALIVED)),
            _expect(None, CLIENT_IP6, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[
            _need_unsolicited(vip, NODE1_MAC, 5),
            _need_unsolicited(vip, NODE2_MAC, 5),
            _need_solicitations(vip, CLIENT_MAC, 6),
            _need_nd_replies(vip, CLIENT_MAC, {NODE1_MAC: 3, NODE2_MAC: 3}),
            node1_never_after_node2,
        ],
        ipv6=True,
    )
    sc.frames = cap.captured
    return sc


def metallb_vs_kubevip_ipv6(lab: Lab, pcap: Path) -> Scenario:
    """kube-vip (IPv6 VIP bound) on node1 vs MetalLB (proxy NDP) on node2 → contested."""
    vip = "2001:db8::103"
    h = _std_hosts(lab, "client", "node1", "node2", ipv6=True)
    kube_vip, metallb, client = h["node1"], h["node2"], h["client"]
    kube_vip.add_address6(f"{vip}/128")
    metallb.enable_proxy_ndp(vip)
    time.sleep(2.5)  # let the MLD reports of the address setup go by
    t0 = time.monotonic()
    with lab.capture(h["observer"], pcap) as cap:
        start_announcer(
            kube_vip, "kubevip", "--iface", "eth0", "--vip", vip, "--rate-ms", "3000", "--duration", "11"
        )
        time.sleep(0.5)
        start_announcer(
            metallb, "metallb", "--iface", "eth0", "--vip", vip, "--reconcile-every", "4", "--duration", "11"
        )
        time.sleep(0.5)
        _resolve6(client, vip, 6, 1.0)
        time.sleep(max(0.0, 12.0 - (time.monotonic() - t0)))

    def formats(frames: list[Frame]) -> list[str]:
        problems = []
        for mac in (NODE1_MAC, NODE2_MAC):
            src = [f.ip6_src for f in frames if f.icmp6_type == 136 and f.eth_src == mac
                   and f.ip6_dst == "ff02::1"]
            if not src or any(not s.startswith("fe80:") for s in src):
                problems.append(f"the unsolicited advertisements of {mac} should come from fe80::")
        answers = [f for f in frames if f.icmp6_type == 136 and f.eth_dst == CLIENT_MAC]
        if {f.na_flags for f in answers if f.eth_src == NODE1_MAC} != {"SO"}:
            problems.append("node1's kernel (VIP bound) should answer with S=1 O=1")
        if {f.na_flags for f in answers if f.eth_src == NODE2_MAC} != {"S"}:
            problems.append("node2's proxy should answer with S=1 O=0")
        return problems

    sc = Scenario(
        name="metallb-vs-kubevip-ipv6",
        description=(
            "The IPv6 twin of metallb-vs-kubevip. node1 plays kube-vip: 2001:db8::103/128 bound "
            "on eth0 (its kernel answers solicitations: S=1, O=1) and one unsolicited Neighbor "
            "Advertisement every 3 s (O=1, S=0, from its link-local address to ff02::1, target "
            "link-layer option). node2 plays MetalLB: VIP not bound, kernel proxy NDP answers "
            "solicitations for it (S=1, O=0, as MetalLB's speaker does), and the same "
            "unsolicited advertisement every 1.1 s while a reconcile every 4 s keeps the 5 s "
            "window open. The client resolves the VIP 6 times, pausing 1 s in between; both "
            "nodes answer every solicitation. Two MACs alternate, with duplicate replies: "
            "contested."
        ),
        pcap=pcap,
        ips=[
            _expect(None, vip, "contested", (NODE1_MAC, KUBE_VIP), (NODE2_MAC, METALLB)),
            _expect(None, CLIENT_IP6, "ok", (CLIENT_MAC, KERNEL)),
        ],
        hosts=_macs(h),
        seconds=time.monotonic() - t0,
        design_checks=[
            _need_unsolicited(vip, NODE1_MAC, 3),
            _need_unsolicited(vip, NODE2_MAC, 8),
            _need_solicitations(vip, CLIENT_MAC, 6),
            _need_nd_replies(vip, CLIENT_MAC, {NODE1_MAC: 6, NODE2_MAC: 6}),
            formats,
        ],
        ipv6=True,
    )
    sc.frames = cap.captured
    return sc


#: name -> scenario function, in recording order.
SCENARIOS: dict[str, Callable[[Lab, Path], Scenario]] = {
    "single-owner": single_owner,
    "failover": failover,
    "failover-busy-client": failover_busy_client,
    "keepalived-split-brain": keepalived_split_brain,
    "metallb-vs-kubevip": metallb_vs_kubevip,
    "duplicate-ip": duplicate_ip,
    "vlan-garp": vlan_garp,
    "cilium-vs-kube-vip": cilium_vs_kube_vip,
    "cilium-vs-metallb": cilium_vs_metallb,
    "keepalived-split-brain-vrrp": keepalived_split_brain_vrrp,
    "keepalived-vmac-failover": keepalived_vmac_failover,
    "keepalived-vmac-split-brain": keepalived_vmac_split_brain,
    "kernel-duplicate-ip": kernel_duplicate_ip,
    "every-node-answers": every_node_answers,
    "metallb-failover": metallb_failover,
    "kube-vip-failover": kube_vip_failover,
    "cilium-failover": cilium_failover,
    "kernel-failover": kernel_failover,
    "duplicate-ipv6": duplicate_ipv6,
    "keepalived-split-brain-ipv6": keepalived_split_brain_ipv6,
    "failover-ipv6": failover_ipv6,
    "metallb-vs-kubevip-ipv6": metallb_vs_kubevip_ipv6,
}
