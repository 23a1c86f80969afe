"""Network-namespace lab: one Linux bridge ("switch") and hosts attached to it.

Layout of a :class:`Lab` whose prefix is ``awlb-<pid>-<n>``::

    netns awlb-<pid>-<n>-sw       bridge br0, ports p1, p2, ... (veth)
    netns awlb-<pid>-<n>-<host>   eth0 (veth peer of pN), lo

Nothing is created in, or sent from, the root namespace: every veth pair is
created directly between the switch namespace and the host namespace.

The switch is, by default, a *hub*: MAC learning is off on every port, so
unicast frames (ARP replies) are flooded to every port and a passive observer
host sees them like a SPAN/mirror port would.  Pass ``hub=False`` for a normal
learning bridge.  STP is off, forward delay 0 and multicast snooping off, so
ports forward as soon as they are up and the bridge itself sends nothing.
IPv6 is disabled in every namespace (no ND/MLD noise in captures), except on
the ``eth0`` of a host given an IPv6 address (``add_host(..., ip6=...)`` or
:meth:`Host.enable_ipv6`): that host gets its link-local address (fe80::,
from its MAC) and the documentation-prefix addresses it is given
(2001:db8::/32 only), all without Duplicate Address Detection (``nodad``,
``accept_dad=0``), no router solicitations and no router advertisements
accepted — so what it sends is Neighbor Discovery for its addresses and the
MLD reports of the groups it joins.

Typical use::

    with Lab() as lab:
        a = lab.add_host("a")                 # 192.0.2.11/24, 02:00:5e:10:00:01
        b = lab.add_host("b")
        obs = lab.add_host("obs", ip=None)    # passive: sends nothing
        with lab.capture(obs, Path("x.pcap")):
            a.run(["arping", "-c", "1", "-i", "eth0", b.ip])

Teardown (``Lab.close``, run by ``__exit__``) kills every process started with
:meth:`Host.popen` and anything else still running inside the namespaces,
then deletes the namespaces, even if the body raised.  :func:`cleanup_stale`
removes namespaces left by crashed runs.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "AUTO",
    "DOCUMENTATION_PREFIX",
    "NETNS_PREFIX",
    "Capture",
    "CommandError",
    "Host",
    "Lab",
    "LabError",
    "cleanup_stale",
    "list_lab_namespaces",
]

#: Every namespace created by this module starts with this prefix.
NETNS_PREFIX = "awlb-"

#: Sentinel for :meth:`Lab.add_host`: pick the next address 192.0.2.(10+N)/24.
AUTO = "auto"

_HOST_NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_NS_RE = re.compile(r"^awlb-(\d+)-(\d+)-[a-z0-9]+$")
_counter = itertools.count(1)
_counter_lock = threading.Lock()


class LabError(RuntimeError):
    """The lab cannot be built, used or torn down."""


class CommandError(LabError):
    """A command run by the lab exited with a non-zero status."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        detail = (stderr or stdout).strip()
        super().__init__(
            f"command failed (exit {returncode}): {' '.join(self.argv)}" + (f"\n{detail}" if detail else "")
        )


def _run(
    argv: Sequence[str],
    check: bool = True,
    timeout: float | None = 60.0,
    **kw: Any,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` capturing text output; raise :class:`CommandError` on failure."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    try:
        proc = subprocess.run(list(argv), check=False, timeout=timeout, **kw)
    except FileNotFoundError as exc:
        raise LabError(f"program not found: {argv[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"command timed out after {timeout} s: {' '.join(argv)}") from exc
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stdout or "", proc.stderr or "")
    return proc


def _kill_group(proc: subprocess.Popen[Any], grace: float = 2.0) -> None:
    """Stop ``proc`` and its process group: SIGTERM, then SIGKILL after ``grace`` s."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def list_lab_namespaces(prefix: str = NETNS_PREFIX) -> list[str]:
    """Names of existing network namespaces starting with ``prefix``."""
    out = _run(["ip", "netns", "list"]).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return sorted(n for n in names if n.startswith(prefix))


def _ns_pids(ns: str) -> list[int]:
    """PIDs of the processes running in namespace ``ns`` (empty if none/gone)."""
    proc = _run(["ip", "netns", "pids", ns], check=False)
    return [int(p) for p in proc.stdout.split() if p.isdigit()]


def _delete_namespace(ns: str) -> None:
    """Kill every process inside ``ns`` and delete it."""
    for _ in range(3):
        pids = _ns_pids(ns)
        if not pids:
            break
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    _run(["ip", "netns", "delete", ns], check=False)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_stale(prefix: str = NETNS_PREFIX) -> list[str]:
    """Delete namespaces left behind by crashed lab runs; return their names.

    A namespace ``awlb-<pid>-<n>-<name>`` is stale when process ``<pid>`` no
    longer exists, so labs of other live processes (parallel test runs) are
    left alone.  Names with the prefix that do not follow that pattern are
    considered stale too.
    """
    removed = []
    for ns in list_lab_namespaces(prefix):
        m = _NS_RE.match(ns)
        if m and _pid_alive(int(m.group(1))):
            continue
        _delete_namespace(ns)
        removed.append(ns)
    return removed


@dataclass
class Capture:
    """A tcpdump recording started by :meth:`Lab.capture`.

    ``captured``/``dropped`` are filled in from tcpdump's summary when the
    capture has stopped (``None`` if tcpdump did not print them).
    """

    path: Path
    host: Host
    bpf: str
    proc: subprocess.Popen[str] | None = None
    stderr_lines: list[str] = field(default_factory=list)
    captured: int | None = None
    dropped: int | None = None

    def _parse_summary(self) -> None:
        for line in self.stderr_lines:
            m = re.match(r"(\d+) packets? captured", line)
            if m:
                self.captured = int(m.group(1))
            m = re.match(r"(\d+) packets? dropped by kernel", line)
            if m:
                self.dropped = int(m.group(1))


class Host:
    """One lab host: a network namespace with ``eth0`` plugged into the switch.

    Attributes:
        name: short name given to :meth:`Lab.add_host`.
        ns: network namespace name.
        ifname: the interface name inside the namespace (always ``eth0``).
        mac: MAC address of ``eth0`` (lower case).
        cidr: primary address with prefix (``"192.0.2.11/24"``) or ``None``.
        port: name of the switch-side veth (in the switch namespace).
    """

    ifname = "eth0"

    def __init__(self, lab: Lab, name: str, ns: str, mac: str, cidr: str | None, port: str) -> None:
        self.lab = lab
        self.name = name
        self.ns = ns
        self.mac = mac
        self.cidr = cidr
        self.port = port

    def __repr__(self) -> str:
        return f"Host({self.name!r}, ns={self.ns!r}, mac={self.mac!r}, cidr={self.cidr!r})"

    @property
    def ip(self) -> str | None:
        """The primary IPv4 address without prefix length, or ``None``."""
        return self.cidr.split("/")[0] if self.cidr else None

    def run(self, argv: Sequence[str], check: bool = True, **kw: Any) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in this host's namespace and wait for it.

        Output is captured as text unless overridden through ``kw`` (passed to
        :func:`subprocess.run`; ``timeout`` defaults to 60 s).  Raises
        :class:`CommandError` on a non-zero exit when ``check`` is true.
        """
        return _run(["ip", "netns", "exec", self.ns, *argv], check=check, **kw)

    def popen(self, argv: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` in this host's namespace without waiting.

        The process gets its own session/process group and is tracked by the
        lab, which stops it (and its children) on teardown.  ``kw`` goes to
        :class:`subprocess.Popen` (default: stdin from /dev/null).
        """
        return self.lab._popen(self.ns, argv, **kw)

    def sysctl(self, key: str, value: str | int) -> None:
        """Set ``key`` (dotted sysctl name) to ``value`` inside the namespace."""
        self.run(["sysctl", "-qw", f"{key}={value}"])

    # -- IPv6 ----------------------------------------------------------------

    ipv6 = False
    """IPv6 is on for ``eth0`` (see :meth:`enable_ipv6`)."""

    def enable_ipv6(self) -> None:
        """Turn IPv6 on for ``eth0`` only: link-local address, no DAD, no router discovery.

        Idempotent.  The namespace's other interfaces keep IPv6 off.
        """
        if self.ipv6:
            return
        for key, value in (("accept_dad", 0), ("router_solicitations", 0), ("accept_ra", 0),
                           ("disable_ipv6", 0)):
            self.sysctl(f"net.ipv6.conf.{self.ifname}.{key}", value)
        self.ipv6 = True

    def add_address6(self, cidr: str) -> None:
        """Add an IPv6 address (2001:db8::/32 only; no prefix means /128) to ``eth0``, ``nodad``.

        Enables IPv6 on ``eth0`` first if needed.
        """
        self.enable_ipv6()
        self.run(["ip", "-6", "addr", "add", _with_prefix6(cidr), "dev", self.ifname, "nodad"])

    def del_address6(self, cidr: str) -> None:
        """Remove an IPv6 address from ``eth0``."""
        self.run(["ip", "-6", "addr", "del", _with_prefix6(cidr), "dev", self.ifname])

    def addresses6(self) -> list[str]:
        """IPv6 addresses (with prefix) currently on ``eth0``, link-local included."""
        out = self.run(["ip", "-6", "-o", "addr", "show", "dev", self.ifname]).stdout
        return re.findall(r"\binet6 (\S+)", out)

    @property
    def ip6(self) -> str | None:
        """The first documentation-prefix IPv6 address given to the host (no prefix), or None."""
        return self.cidr6.split("/")[0] if self.cidr6 else None

    cidr6: str | None = None
    """The IPv6 address given to :meth:`Lab.add_host` (``"2001:db8::11/64"``) or None."""

    def link_local(self) -> str | None:
        """The fe80:: address of ``eth0`` (no prefix), or None."""
        for a in self.addresses6():
            if a.startswith("fe80:"):
                return a.split("/")[0]
        return None

    def resolve6(self, target: str) -> None:
        """Make the kernel solicit ``target``: forget the neighbour, then send it one UDP
        datagram (port 9, discard) — the kernel multicasts a Neighbor Solicitation to the
        target's solicited-node group first, from its own address, with its link-layer
        address.  Whoever holds ``target`` answers (and then, port 9 being closed, sends an
        ICMPv6 port unreachable)."""
        ipaddress.IPv6Address(target)
        self.run(["ip", "-6", "neigh", "flush", "to", target, "dev", self.ifname])
        self.run(["python3", "-c", "import socket, sys; socket.socket(socket.AF_INET6, "
                  "socket.SOCK_DGRAM).sendto(b'arpwatch-lb lab', (sys.argv[1], 9))", target])

    def add_address(self, cidr: str) -> None:
        """Add an IPv4 address to ``eth0`` (``"192.0.2.100/32"``; no prefix means /32)."""
        self.run(["ip", "addr", "add", _with_prefix(cidr), "dev", self.ifname])

    def del_address(self, cidr: str) -> None:
        """Remove an IPv4 address from ``eth0``."""
        self.run(["ip", "addr", "del", _with_prefix(cidr), "dev", self.ifname])

    def addresses(self) -> list[str]:
        """IPv4 addresses (with prefix) currently on ``eth0``."""
        out = self.run(["ip", "-4", "-o", "addr", "show", "dev", self.ifname]).stdout
        return re.findall(r"\binet (\S+)", out)

    def set_link(self, up: bool) -> None:
        """Take ``eth0`` administratively up or down."""
        self.run(["ip", "link", "set", "dev", self.ifname, "up" if up else "down"])

    def link_is_up(self) -> bool:
        """Whether ``eth0`` is administratively up."""
        out = self.run(["ip", "-o", "link", "show", "dev", self.ifname]).stdout
        flags = re.search(r"<([^>]*)>", out)
        return bool(flags and "UP" in flags.group(1).split(","))

    def enable_proxy_arp(self, vip: str) -> None:
        """Make this host's kernel answer ARP requests for ``vip`` without binding it.

        This is how MetalLB answers (from userspace on the real thing): the
        VIP is not on the interface.  Sets ``ip_forward=1`` and
        ``proxy_delay=0``, routes ``vip/32`` to ``lo`` and adds a proxy
        neighbour entry for it on ``eth0``.
        """
        ip = vip.split("/")[0]
        ipaddress.IPv4Address(ip)
        self.sysctl("net.ipv4.ip_forward", 1)
        self.sysctl(f"net.ipv4.neigh.{self.ifname}.proxy_delay", 0)
        self.run(["ip", "route", "replace", f"{ip}/32", "dev", "lo"])
        self.run(["ip", "neigh", "replace", "proxy", ip, "dev", self.ifname])

    def enable_proxy_ndp(self, vip: str) -> None:
        """Make this host's kernel answer Neighbor Solicitations for IPv6 ``vip`` without
        binding it — the IPv6 twin of :meth:`enable_proxy_arp`.

        Its answers are solicited advertisements with S=1 and O=0 (RFC 4861
        7.2.8: a proxy does not override), as MetalLB's speaker sends.  Turns
        IPv6 on for ``eth0``, sets ``forwarding=1``, ``proxy_ndp=1`` and
        ``proxy_delay=0`` there, blackholes ``vip/128`` (a datagram for the
        VIP is dropped, not forwarded back onto the link) and adds the proxy
        neighbour entry.
        """
        ip = vip.split("/")[0]
        _with_prefix6(ip)
        self.enable_ipv6()
        for table, key, value in (("conf", "forwarding", 1), ("conf", "proxy_ndp", 1),
                                  ("neigh", "proxy_delay", 0)):
            self.sysctl(f"net.ipv6.{table}.{self.ifname}.{key}", value)
        self.run(["ip", "-6", "route", "replace", "blackhole", f"{ip}/128"])
        self.run(["ip", "-6", "neigh", "replace", "proxy", ip, "dev", self.ifname])

    def add_nic(self, ifname: str, mac: str) -> None:
        """Plug a second NIC ``ifname`` (MAC ``mac``, no address, up) into the switch.

        A node with two NICs on one segment: with the kernel's default
        ``arp_ignore=0`` *both* answer a who-has for any of the host's
        addresses ("ARP flux"), each with its own MAC — two MACs, one node.
        ``rp_filter`` is turned off so the kernel answers on either NIC.
        """
        self.lab._add_nic(self, ifname, mac)

    def read_mac(self) -> str:
        """MAC address of ``eth0`` as the kernel reports it."""
        return self.run(["cat", f"/sys/class/net/{self.ifname}/address"]).stdout.strip()


def _with_prefix(cidr: str) -> str:
    if "/" not in cidr:
        cidr += "/32"
    ipaddress.IPv4Interface(cidr)
    return cidr


#: The only IPv6 prefix the lab gives addresses from (RFC 3849); fe80:: comes by itself.
DOCUMENTATION_PREFIX = ipaddress.IPv6Network("2001:db8::/32")


def _with_prefix6(cidr: str) -> str:
    if "/" not in cidr:
        cidr += "/128"
    iface = ipaddress.IPv6Interface(cidr)
    if iface.ip not in DOCUMENTATION_PREFIX:
        raise LabError(f"lab IPv6 addresses come from {DOCUMENTATION_PREFIX} only: {cidr!r}")
    return cidr


class Lab:
    """A throw-away L2 segment built from network namespaces.

    Use as a context manager; the lab is built on ``__enter__`` (or
    :meth:`build`) and torn down on ``__exit__`` (or :meth:`close`).

    Args:
        hub: turn MAC learning off on all switch ports so that unicast frames
            reach every host (the observer sees ARP replies).  Default true.
        ageing_time: bridge FDB ageing time in seconds (only matters when
            ``hub`` is false).
        prefix: namespace prefix; default ``awlb-<pid>-<n>`` (unique per
            process and instance, so parallel runs never clash).

    Raises:
        LabError: not root, ``ip``/``tcpdump`` missing, or ``ip netns`` fails.
    """

    def __init__(self, *, hub: bool = True, ageing_time: float = 300.0, prefix: str | None = None) -> None:
        if prefix is None:
            with _counter_lock:
                n = next(_counter)
            prefix = f"{NETNS_PREFIX}{os.getpid()}-{n}"
        if not prefix.startswith(NETNS_PREFIX):
            raise LabError(f"lab prefix must start with {NETNS_PREFIX!r}: {prefix!r}")
        self.prefix = prefix
        self.hub = hub
        self.ageing_time = ageing_time
        self.switch_ns = f"{prefix}-sw"
        self.hosts: dict[str, Host] = {}
        self._extra_macs: set[str] = set()
        self.tmpdir: Path | None = None
        self._namespaces: list[str] = []
        self._procs: list[subprocess.Popen[Any]] = []
        self._built = False
        self._closed = False

    #: Same as the module-level :func:`cleanup_stale` (``Lab.cleanup_stale()``).
    cleanup_stale = staticmethod(cleanup_stale)

    # -- lifecycle -----------------------------------------------------

    def __enter__(self) -> Lab:
        try:
            self.build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(raising=exc[0] is None)

    def build(self) -> None:
        """Create the switch namespace and bridge ``br0``."""
        if self._built:
            return
        if os.geteuid() != 0:
            raise LabError("the lab needs root (network namespaces, veth, bridge)")
        for prog in ("ip", "tcpdump", "sysctl"):
            if shutil.which(prog) is None:
                raise LabError(f"the lab needs {prog!r} in PATH")
        self._built = True
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        try:
            self._add_namespace(self.switch_ns)
            ns = self.switch_ns
            ageing_cs = str(int(self.ageing_time * 100))
            _run(
                [
                    "ip",
                    "-n",
                    ns,
                    "link",
                    "add",
                    "br0",
                    "type",
                    "bridge",
                    "stp_state",
                    "0",
                    "forward_delay",
                    "0",
                    "mcast_snooping",
                    "0",
                    "ageing_time",
                    ageing_cs,
                ]
            )
            _run(["ip", "-n", ns, "link", "set", "br0", "up"])
            details = _run(["ip", "-n", ns, "-d", "link", "show", "br0"]).stdout
            if "stp_state 0" not in details or "mcast_snooping 0" not in details:
                raise LabError(f"bridge br0 not configured as expected:\n{details}")
        except CommandError as exc:
            raise LabError(f"cannot build the lab switch: {exc}") from exc

    def _add_namespace(self, ns: str) -> None:
        try:
            _run(["ip", "netns", "add", ns])
        except CommandError as exc:
            raise LabError(f"'ip netns add {ns}' failed: {exc.stderr.strip()}") from exc
        self._namespaces.append(ns)
        # IPv6 off before any interface exists, so no link-local/ND/MLD ever.
        _run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ],
            check=False,
        )
        _run(["ip", "-n", ns, "link", "set", "lo", "up"])

    def close(self, raising: bool = False) -> None:
        """Kill tracked processes, delete all namespaces and the temp dir.

        Safe to call several times.  Errors are collected; with ``raising``
        true a :class:`LabError` is raised when something could not be
        removed (``__exit__`` passes false when the body already raised).
        """
        if self._closed:
            return
        self._closed = True
        problems: list[str] = []
        for proc in reversed(self._procs):
            try:
                _kill_group(proc)
            except Exception as exc:  # teardown must go on
                problems.append(f"stopping pid {proc.pid}: {exc}")
        for ns in reversed(self._namespaces):
            try:
                _delete_namespace(ns)
            except Exception as exc:
                problems.append(f"deleting {ns}: {exc}")
        try:
            left = [ns for ns in list_lab_namespaces(self.prefix + "-") if ns in self._namespaces]
        except Exception as exc:
            left = []
            problems.append(f"listing namespaces: {exc}")
        if left:
            problems.append(f"namespaces still present: {left}")
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        if problems and raising:
            raise LabError("lab teardown incomplete: " + "; ".join(problems))

    @property
    def namespaces(self) -> list[str]:
        """Names of the namespaces this lab created (switch first)."""
        return list(self._namespaces)

    # -- hosts -----------------------------------------------------------

    def add_host(self, name: str, ip: str | None = AUTO, mac: str | None = None,
                 ip6: str | None = None) -> Host:
        """Create host ``name`` with ``eth0`` attached to the switch and up.

        Args:
            name: 1-12 lower-case letters/digits, starting with a letter
                (``"sw"`` is reserved).
            ip: primary address with prefix; :data:`AUTO` (default) picks
                ``192.0.2.(10+N)/24`` for the N-th host; ``None`` leaves the
                host without any IPv4 address (a passive observer).
            mac: MAC for ``eth0``; default ``02:00:5e:10:00:NN`` (NN = N in
                hex), locally administered and deterministic.
            ip6: an IPv6 address with prefix from 2001:db8::/32
                (``"2001:db8::11/64"``): turns IPv6 on for ``eth0`` (link-local
                too) and adds it without DAD.  None (default): IPv6 stays off.
        """
        self._check_usable()
        if not _HOST_NAME_RE.match(name) or name == "sw":
            raise LabError(f"bad host name {name!r}")
        if name in self.hosts:
            raise LabError(f"host {name!r} already exists")
        index = len(self.hosts) + 1
        if index > 240:
            raise LabError("too many hosts")
        if ip == AUTO:
            ip = f"192.0.2.{10 + index}/24"
        if ip is not None:
            ip = _with_prefix(ip)
        if ip6 is not None:
            ip6 = _with_prefix6(ip6)
        mac = (mac or f"02:00:5e:10:00:{index:02x}").lower()
        if not _MAC_RE.match(mac) or int(mac[:2], 16) & 1:
            raise LabError(f"bad unicast MAC {mac!r}")
        if any(h.mac == mac for h in self.hosts.values()) or mac in self._extra_macs:
            raise LabError(f"MAC {mac} already used in this lab")
        ns = f"{self.prefix}-{name}"
        port = f"p{index}"
        sw = self.switch_ns
        try:
            self._add_namespace(ns)
            _run(
                [
                    "ip",
                    "-n",
                    sw,
                    "link",
                    "add",
                    port,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    Host.ifname,
                    "netns",
                    ns,
                ]
            )
            _run(["ip", "-n", sw, "link", "set", port, "master", "br0"])
            if self.hub:
                _run(["ip", "-n", sw, "link", "set", port, "type", "bridge_slave", "learning", "off"])
            _run(["ip", "-n", sw, "link", "set", port, "up"])
            _run(["ip", "-n", ns, "link", "set", Host.ifname, "address", mac])
            if ip is not None:
                _run(["ip", "-n", ns, "addr", "add", ip, "dev", Host.ifname])
            _run(["ip", "-n", ns, "link", "set", Host.ifname, "up"])
        except CommandError as exc:
            raise LabError(f"cannot add host {name!r}: {exc}") from exc
        host = Host(self, name, ns, mac, ip, port)
        self.hosts[name] = host
        if ip6 is not None:
            try:
                host.add_address6(ip6)
            except CommandError as exc:
                raise LabError(f"cannot give host {name!r} {ip6}: {exc}") from exc
            host.cidr6 = ip6
        return host

    def _add_nic(self, host: Host, ifname: str, mac: str) -> None:
        self._check_usable()
        mac = mac.lower()
        if not _MAC_RE.match(mac) or int(mac[:2], 16) & 1:
            raise LabError(f"bad unicast MAC {mac!r}")
        if any(h.mac == mac for h in self.hosts.values()) or mac in self._extra_macs:
            raise LabError(f"MAC {mac} already used in this lab")
        if not re.fullmatch(r"[a-z][a-z0-9]{0,7}", ifname) or ifname == Host.ifname:
            raise LabError(f"bad interface name {ifname!r}")
        self._extra_macs.add(mac)
        port = f"x{len(self._extra_macs)}"
        sw = self.switch_ns
        try:
            _run(["ip", "-n", sw, "link", "add", port, "type", "veth", "peer", "name", ifname,
                  "netns", host.ns])
            _run(["ip", "-n", sw, "link", "set", port, "master", "br0"])
            if self.hub:
                _run(["ip", "-n", sw, "link", "set", port, "type", "bridge_slave", "learning", "off"])
            _run(["ip", "-n", sw, "link", "set", port, "up"])
            _run(["ip", "-n", host.ns, "link", "set", ifname, "address", mac])
            for conf in ("all", "default", Host.ifname, ifname):
                host.sysctl(f"net.ipv4.conf.{conf}.rp_filter", 0)
            _run(["ip", "-n", host.ns, "link", "set", ifname, "up"])
        except CommandError as exc:
            raise LabError(f"cannot add {ifname} to host {host.name!r}: {exc}") from exc

    def _check_usable(self) -> None:
        if not self._built:
            raise LabError("lab not built: use 'with Lab() as lab:' or call build()")
        if self._closed:
            raise LabError("lab already closed")

    # -- processes -------------------------------------------------------

    def _popen(self, ns: str, argv: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        self._check_usable()
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("start_new_session", True)
        try:
            proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], **kw)
        except OSError as exc:
            raise LabError(f"cannot start {argv[0]!r} in {ns}: {exc}") from exc
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send ``sig`` to a tracked process and wait for it; return its exit code.

        Falls back to SIGKILL after ``timeout`` seconds (and raises
        :class:`LabError` in that case).
        """
        if proc.poll() is None:
            with suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                return proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc, grace=0)
                raise LabError(f"pid {proc.pid} ({proc.args}) ignored signal {sig}") from None
        return proc.returncode

    # -- capture ---------------------------------------------------------

    @contextmanager
    def capture(
        self,
        host: Host,
        path: Path | str,
        bpf: str = "",
        *,
        ready_timeout: float = 10.0,
        settle: float = 0.3,
    ) -> Iterator[Capture]:
        """Record ``host``'s ``eth0`` with tcpdump into ``path`` (pcap).

        Returns only once tcpdump reports "listening on".  On exit it waits
        ``settle`` seconds for frames in flight, stops tcpdump with SIGINT and
        waits for it, so the file is complete; the yielded :class:`Capture`
        then holds tcpdump's packet counts.
        """
        self._check_usable()
        path = Path(path).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        # --immediate-mode: without it libpcap's TPACKET_V3 ring hands frames
        # over only when a block fills or its 1 s timeout expires, and the
        # frames still in the ring when SIGINT arrives are lost.
        argv = ["tcpdump", "-i", host.ifname, "-w", str(path), "-U", "--immediate-mode", "-n", "-Z", "root"]
        if bpf:
            argv.append(bpf)
        cap = Capture(path=path, host=host, bpf=bpf)
        proc = host.popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        cap.proc = proc
        listening = threading.Event()

        def drain() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                cap.stderr_lines.append(line.rstrip("\n"))
                if "listening on" in line:
                    listening.set()

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        deadline = time.monotonic() + ready_timeout
        while not listening.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop(proc, signal.SIGKILL)
                reader.join(1.0)
                raise LabError(
                    f"tcpdump on {host.name} did not start listening: " + " | ".join(cap.stderr_lines)
                )
        try:
            yield cap
        finally:
            time.sleep(settle)
            self.stop(proc, signal.SIGINT)
            reader.join(5.0)
            cap._parse_summary()
