"""Read a recorded pcap with tshark and check it against a scenario's design.

This is a *sanity check of the recording*, not an analyzer: it confirms the
frames the scenario was designed to produce are there and that nothing else
is (no foreign MACs, no address outside TEST-NET — for IPv6 the documentation
prefix 2001:db8::/32, link-local fe80::/10 and link-scope multicast ff02::/16
—, exactly the expected set of (vlan, IP) -> MACs claims, ARP and Neighbor
Discovery read from tshark's fields by the README's rules).  Verdicts are
never computed here; they are written by hand in :mod:`lab.scenarios`.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lab.netlab import LabError

__all__ = ["TEST_NETS", "V6_NETS", "Frame", "claims", "in_test_net", "in_v6_nets", "read_frames",
           "tcpdump_text", "verify"]

#: The only unicast IPv4 ranges the lab may use (RFC 5737 and RFC 2544).
TEST_NETS = tuple(ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "198.18.0.0/15"))
#: The only IPv6 ranges the lab may use: the documentation prefix (RFC 3849) and link-local.
V6_NETS = tuple(ipaddress.IPv6Network(n) for n in ("2001:db8::/32", "fe80::/10"))
#: Link-scope multicast (all nodes, solicited-node groups, MLDv2 reports, VRRP) as destination.
_V6_LINK_MCAST = ipaddress.IPv6Network("ff02::/16")
#: Link-local multicast (VRRP 224.0.0.18, IGMPv3 224.0.0.22) is allowed as destination.
_LINK_LOCAL_MCAST = ipaddress.IPv4Network("224.0.0.0/24")
_UNSPECIFIED = ipaddress.IPv4Address("0.0.0.0")

_FIELDS = (
    "frame.number",
    "frame.time_relative",
    "frame.len",
    "eth.src",
    "eth.dst",
    "eth.type",
    "vlan.id",
    "arp.opcode",
    "arp.src.hw_mac",
    "arp.src.proto_ipv4",
    "arp.dst.hw_mac",
    "arp.dst.proto_ipv4",
    "ip.src",
    "ip.dst",
    "ip.proto",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.hlim",
    "icmpv6.type",
    "icmpv6.nd.ns.target_address",
    "icmpv6.nd.na.target_address",
    "icmpv6.opt.linkaddr",
    "icmpv6.nd.na.flag.r",
    "icmpv6.nd.na.flag.s",
    "icmpv6.nd.na.flag.o",
    "ipv6.nxt",
)


@dataclass(frozen=True)
class Frame:
    """One captured frame, as decoded by tshark (ARP fields empty for non-ARP)."""

    no: int
    time: float
    length: int
    eth_src: str
    eth_dst: str
    ethertype: int
    vlan: int | None
    op: int | None
    sha: str
    spa: str
    tha: str
    tpa: str
    ip_src: str
    ip_dst: str
    ip_proto: int | None
    ip6_src: str = ""
    ip6_dst: str = ""
    hlim: int | None = None
    icmp6_type: int | None = None
    nd_target: str = ""
    """The target address of a Neighbor Solicitation or Advertisement."""
    nd_lladdr: str = ""
    """The first link-layer address option (source for NS, target for NA)."""
    na_flags: str = ""
    """``R``, ``S``, ``O`` as set on an advertisement (``"SO"``, ``"O"``, ...)."""
    ip6_next: int | None = None

    @property
    def is_arp(self) -> bool:
        """True for ARP frames (tagged or not)."""
        return self.op is not None

    @property
    def is_nd(self) -> bool:
        """True for Neighbor Solicitations (135) and Advertisements (136)."""
        return self.icmp6_type in (135, 136)


def _int(text: str, base: int = 10) -> int | None:
    return int(text, base) if text else None


def read_frames(pcap: Path | str) -> list[Frame]:
    """Decode every frame of ``pcap`` with ``tshark -T fields``."""
    if shutil.which("tshark") is None:
        raise LabError("tshark is needed to verify recordings")
    argv = ["tshark", "-n", "-r", str(pcap), "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for f in _FIELDS:
        argv += ["-e", f]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode != 0:
        raise LabError(f"tshark failed on {pcap}: {proc.stderr.strip()}")
    frames = []
    for line in proc.stdout.splitlines():
        v = line.split("\t")
        v += [""] * (len(_FIELDS) - len(v))
        frames.append(
            Frame(
                no=int(v[0]),
                time=float(v[1]),
                length=int(v[2]),
                eth_src=v[3],
                eth_dst=v[4],
                ethertype=_int(v[5], 16) or 0,
                vlan=_int(v[6]),
                op=_int(v[7]),
                sha=v[8],
                spa=v[9],
                tha=v[10],
                tpa=v[11],
                ip_src=v[12],
                ip_dst=v[13],
                ip_proto=_int(v[14]),
                ip6_src=v[15],
                ip6_dst=v[16],
                hlim=_int(v[17]),
                icmp6_type=_int(v[18]),
                nd_target=v[19] or v[20],
                nd_lladdr=v[21],
                na_flags="".join(f for f, x in zip("RSO", v[22:25], strict=True) if x in ("1", "True")),
                ip6_next=_int(v[25]),
            )
        )
    return frames


def tcpdump_text(pcap: Path | str) -> str:
    """``tcpdump -nn -e -r pcap`` output (for eyeballing a recording)."""
    proc = subprocess.run(
        ["tcpdump", "-nn", "-e", "-r", str(pcap)], capture_output=True, text=True, check=False, timeout=120
    )
    if proc.returncode != 0:
        raise LabError(f"tcpdump -r failed on {pcap}: {proc.stderr.strip()}")
    return proc.stdout


def in_test_net(addr: str) -> bool:
    """Whether ``addr`` is inside one of :data:`TEST_NETS`."""
    ip = ipaddress.IPv4Address(addr)
    return any(ip in net for net in TEST_NETS)


def in_v6_nets(addr: str) -> bool:
    """Whether IPv6 ``addr`` is in the documentation prefix or link-local."""
    ip = ipaddress.IPv6Address(addr)
    return any(ip in net for net in V6_NETS)


def claims(frames: Iterable[Frame]) -> dict[tuple[int | None, str], set[str]]:
    """(vlan, claimed IP) -> set of MACs.

    ARP frames with sender IP != 0.0.0.0 claim the sender IP for the sender
    MAC.  Neighbor Discovery with hop limit 255: an advertisement claims its
    target for its target link-layer address (the Ethernet source without
    one); a solicitation from a real source with a source link-layer address
    claims that source.
    """
    out: dict[tuple[int | None, str], set[str]] = defaultdict(set)
    for f in frames:
        if f.is_arp and f.spa and f.spa != "0.0.0.0":
            out[(f.vlan, f.spa)].add(f.sha)
        elif f.is_nd and f.hlim == 255:
            if f.icmp6_type == 136:
                out[(f.vlan, f.nd_target)].add(f.nd_lladdr or f.eth_src)
            elif f.ip6_src != "::" and f.nd_lladdr:
                out[(f.vlan, f.ip6_src)].add(f.nd_lladdr)
    return dict(out)


def verify(
    frames: list[Frame],
    expected: dict[tuple[int | None, str], set[str]],
    allowed_macs: Iterable[str],
    ipv6: bool = False,
) -> list[str]:
    """Return a list of problems (empty when the recording matches the design).

    Checks: at least one frame; no IPv6 unless ``ipv6``; every Ethernet
    source is a lab host; ARP sender MAC equals Ethernet source; every IPv4
    address is in TEST-NET (destinations may also be 224.0.0.0/24, ARP
    senders 0.0.0.0); with ``ipv6``, every IPv6 source and Neighbor Discovery
    target is in 2001:db8::/32 or fe80::/10 (sources may be :: — DAD, MLD),
    every destination too or in ff02::/16, and a Neighbor Discovery
    link-layer address equals the Ethernet source; and the claims found are
    exactly ``expected``.
    """
    problems: list[str] = []
    macs = {m.lower() for m in allowed_macs}
    if not frames:
        return ["no frames recorded"]
    for f in frames:
        where = f"frame {f.no}"
        if f.ethertype == 0x86DD and not ipv6:
            problems.append(f"{where}: IPv6 frame")
        if ipv6:
            for addr in (f.ip6_src, f.nd_target):
                if addr and addr != "::" and not in_v6_nets(addr):
                    problems.append(f"{where}: IPv6 address {addr} outside 2001:db8::/32 and fe80::/10")
            dst6 = f.ip6_dst
            if dst6 and not (in_v6_nets(dst6) or ipaddress.IPv6Address(dst6) in _V6_LINK_MCAST):
                problems.append(f"{where}: IPv6 destination {dst6} outside the lab's ranges")
            if f.is_nd and f.nd_lladdr and f.nd_lladdr != f.eth_src:
                problems.append(f"{where}: ND link-layer address {f.nd_lladdr} != Ethernet source "
                                f"{f.eth_src}")
        if f.eth_src not in macs:
            problems.append(f"{where}: Ethernet source {f.eth_src} is not a lab host")
        if f.is_arp and f.sha != f.eth_src:
            problems.append(f"{where}: ARP sender MAC {f.sha} != Ethernet source {f.eth_src}")
        for addr in (f.spa, f.tpa, f.ip_src):
            if addr and not (in_test_net(addr) or ipaddress.IPv4Address(addr) == _UNSPECIFIED):
                problems.append(f"{where}: address {addr} outside TEST-NET")
        if f.ip_dst and not (in_test_net(f.ip_dst) or ipaddress.IPv4Address(f.ip_dst) in _LINK_LOCAL_MCAST):
            problems.append(f"{where}: destination {f.ip_dst} outside TEST-NET")
        if not f.is_arp and f.ethertype not in (0x0800, 0x0806, 0x8100, *((0x86DD,) if ipv6 else ())):
            problems.append(f"{where}: unexpected ethertype 0x{f.ethertype:04x}")
    found = claims(frames)
    for key in sorted(set(found) | set(expected), key=str):
        want = {m.lower() for m in expected.get(key, set())}
        got = found.get(key, set())
        if want != got:
            problems.append(
                f"claims for vlan={key[0]} ip={key[1]}: expected {sorted(want)}, recorded {sorted(got)}"
            )
    return problems
