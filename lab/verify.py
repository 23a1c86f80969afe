"""Read a recorded pcap with tshark and check it against a scenario's design.

This is a *sanity check of the recording*, not an analyzer: it confirms the
frames the scenario was designed to produce are there and that nothing else
is (no foreign MACs, no address outside TEST-NET, exactly the expected set
of (vlan, sender IP) -> MACs claims).  Verdicts are never computed here;
they are written by hand in :mod:`lab.scenarios`.
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

__all__ = ["TEST_NETS", "Frame", "claims", "in_test_net", "read_frames", "tcpdump_text", "verify"]

#: The only unicast IPv4 ranges the lab may use (RFC 5737 and RFC 2544).
TEST_NETS = tuple(ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "198.18.0.0/15"))
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

    @property
    def is_arp(self) -> bool:
        """True for ARP frames (tagged or not)."""
        return self.op is not None


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


def claims(frames: Iterable[Frame]) -> dict[tuple[int | None, str], set[str]]:
    """(vlan, sender IP) -> set of sender MACs, for ARP frames with sender IP != 0.0.0.0."""
    out: dict[tuple[int | None, str], set[str]] = defaultdict(set)
    for f in frames:
        if f.is_arp and f.spa and f.spa != "0.0.0.0":
            out[(f.vlan, f.spa)].add(f.sha)
    return dict(out)


def verify(
    frames: list[Frame],
    expected: dict[tuple[int | None, str], set[str]],
    allowed_macs: Iterable[str],
) -> list[str]:
    """Return a list of problems (empty when the recording matches the design).

    Checks: at least one frame; no IPv6; every Ethernet source is a lab host;
    ARP sender MAC equals Ethernet source; every IPv4 address is in TEST-NET
    (destinations may also be 224.0.0.0/24, ARP senders 0.0.0.0); and the
    claims found are exactly ``expected``.
    """
    problems: list[str] = []
    macs = {m.lower() for m in allowed_macs}
    if not frames:
        return ["no frames recorded"]
    for f in frames:
        where = f"frame {f.no}"
        if f.ethertype == 0x86DD:
            problems.append(f"{where}: IPv6 frame")
        if f.eth_src not in macs:
            problems.append(f"{where}: Ethernet source {f.eth_src} is not a lab host")
        if f.is_arp and f.sha != f.eth_src:
            problems.append(f"{where}: ARP sender MAC {f.sha} != Ethernet source {f.eth_src}")
        for addr in (f.spa, f.tpa, f.ip_src):
            if addr and not (in_test_net(addr) or ipaddress.IPv4Address(addr) == _UNSPECIFIED):
                problems.append(f"{where}: address {addr} outside TEST-NET")
        if f.ip_dst and not (in_test_net(f.ip_dst) or ipaddress.IPv4Address(f.ip_dst) in _LINK_LOCAL_MCAST):
            problems.append(f"{where}: destination {f.ip_dst} outside TEST-NET")
        if not f.is_arp and f.ethertype not in (0x0800, 0x0806, 0x8100):
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
