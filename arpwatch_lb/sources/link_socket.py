"""Live capture: one AF_PACKET socket per interface: ARP, VRRP and Neighbor Discovery frames only.

Each :class:`LinkSocket` owns two packet sockets on one interface:

* a *capture* socket (``SOCK_RAW``, ``ETH_P_ALL``, bound to the interface)
  with a classic BPF program attached (:data:`CAPTURE_FILTER`: :data:`ARP_FILTER`,
  which admits ARP and VRRP, chained with :data:`NDP_FILTER`), so the kernel hands
  only ARP frames, VRRP adverts and ICMPv6 Neighbor Solicitations/Advertisements
  — untagged, or with an
  802.1Q/802.1ad tag still in the data — to Python.  The filter is attached *before* the socket is bound,
  so no unfiltered frame is ever queued;
* a *send* socket (protocol 0: it receives nothing) for probes.  Because the
  frames it sends come from another socket, the capture socket sees them like
  tcpdump would (``PACKET_OUTGOING``), with a kernel timestamp, and they take
  the same decode → tracker path as everything else.

Per frame the capture socket delivers two control messages:

* ``SCM_TIMESTAMPNS`` (``SO_TIMESTAMPNS``): the kernel receive time, which
  becomes the claim time — the core never reads a clock;
* ``PACKET_AUXDATA``: Linux strips the outer VLAN tag of received frames into
  the skb metadata, so the filter and the data see the inner ethertype.  When
  ``tp_status`` has ``TP_STATUS_VLAN_VALID`` the tag (``tp_vlan_tci``, and
  ``tp_vlan_tpid`` when ``TP_STATUS_VLAN_TPID_VALID``) is re-inserted after
  the MAC addresses, as libpcap does, so :func:`arpwatch_lb.core.frames.decode`
  sees the VLAN and ``--write-pcap`` keeps it.

``PACKET_STATISTICS`` (read, and thereby reset, by :meth:`LinkSocket.stats`)
gives ``tp_packets`` — frames that passed the filter, dropped ones included —
and ``tp_drops`` — frames dropped because the receive buffer was full.

Errors: :class:`NeedPrivilegeError` without CAP_NET_RAW,
:class:`UnknownInterfaceError` for a name that does not exist,
:class:`LinkDown` / :class:`LinkGone` from :meth:`LinkSocket.recv` when the
interface goes down (``ENETDOWN``; the socket resumes by itself once it is up
again) or is unregistered (``ENODEV``).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import socket
import struct
import time
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import netifaces

from .errors import CaptureError, NeedPrivilegeError, UnknownInterfaceError

__all__ = [
    "ARP_FILTER",
    "CAPTURE_FILTER",
    "NDP_FILTER",
    "CaptureError",
    "FrameSource",
    "LinkDown",
    "LinkGone",
    "LinkSocket",
    "LinkStats",
    "NeedPrivilegeError",
    "Received",
    "UnknownInterfaceError",
    "chain_filters",
    "default_interface",
    "interface_addresses",
    "interface_ipv6",
    "interface_state",
    "reinsert_vlan",
]

# -- constants from <linux/if_packet.h>, <linux/if_ether.h>, <asm/socket.h> --
ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_STATISTICS = 6
PACKET_AUXDATA = 8
PACKET_MR_PROMISC = 1
PACKET_OUTGOING = 4
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
SO_TIMESTAMPNS = 35  # SO_TIMESTAMPNS_OLD; the cmsg type SCM_TIMESTAMPNS is the same number
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
SIOCGIFFLAGS = 0x8913
IFF_UP = 0x1
IFF_RUNNING = 0x40

#: Classic BPF: accept ARP (ethertype 0x0806) and VRRP (IPv4, protocol 112: a
#: few adverts a second, for the announcer fingerprints), untagged or behind a
#: VLAN tag (0x8100, 0x88a8, 0x9100) still in the data; drop everything else.
#: This is the output of::
#:
#:     tcpdump -dd -r ETHERNET.pcap 'arp or (ip proto 112) or (vlan and (arp or ip proto 112))'
#:
#: (compiled for a capture file's Ethernet link type, tcpdump matches tags in
#: the data, not Linux's ancillary VLAN fields), i.e.::
#:
#:     (000) ldh  [12]
#:     (001) jeq  #0x806   jt 13 jf 2
#:     (002) jeq  #0x800   jt 3  jf 5
#:     (003) ldb  [23]
#:     (004) jeq  #0x70    jt 13 jf 14
#:     (005) jeq  #0x8100  jt 8  jf 6
#:     (006) jeq  #0x88a8  jt 8  jf 7
#:     (007) jeq  #0x9100  jt 8  jf 14
#:     (008) ldh  [16]
#:     (009) jeq  #0x806   jt 13 jf 10
#:     (010) jeq  #0x800   jt 11 jf 14
#:     (011) ldb  [27]
#:     (012) jeq  #0x70    jt 13 jf 14
#:     (013) ret  #262144
#:     (014) ret  #0
#:
#: The outer tag of a received frame is normally stripped into the skb before
#: packet sockets see it, so the first tests match tagged frames too; the
#: second half catches a tag left in the data (QinQ inner tag, no offload).
#: (The ARP-only program before VRRP was ``'arp or (vlan and arp)'``.)
ARP_FILTER: tuple[tuple[int, int, int, int], ...] = (
    (0x28, 0, 0, 0x0000000C),
    (0x15, 11, 0, 0x00000806),
    (0x15, 0, 2, 0x00000800),
    (0x30, 0, 0, 0x00000017),
    (0x15, 8, 9, 0x00000070),
    (0x15, 2, 0, 0x00008100),
    (0x15, 1, 0, 0x000088A8),
    (0x15, 0, 6, 0x00009100),
    (0x28, 0, 0, 0x00000010),
    (0x15, 3, 0, 0x00000806),
    (0x15, 0, 3, 0x00000800),
    (0x30, 0, 0, 0x0000001B),
    (0x15, 0, 1, 0x00000070),
    (0x06, 0, 0, 0x00040000),
    (0x06, 0, 0, 0x00000000),
)

#: Classic BPF: accept IPv6 Neighbor Solicitations and Advertisements (ICMPv6 types 135
#: and 136 right after the IPv6 header), untagged or behind a tag still in the data.  The
#: output of ``tcpdump -dd`` (Ethernet link, tags matched in the data as above) for::
#:
#:     (icmp6 and (icmp6[icmp6type] == icmp6-neighborsolicit
#:                 or icmp6[icmp6type] == icmp6-neighboradvert))
#:     or (vlan and icmp6 and (icmp6[icmp6type] == icmp6-neighborsolicit
#:                             or icmp6[icmp6type] == icmp6-neighboradvert))
#:
#: (one line when compiled).  Hop limits other than 255 pass, so that the decoder counts
#: them as malformed; NDP behind extension headers does not (libpcap's ``icmp6`` looks at
#: the first next-header only).  Kept as its own program, compiled alone: libpcap's
#: ``vlan`` shifts the offsets of every term after it, so a union written as one
#: expression must put every ``vlan`` term last — chaining the blocks
#: (:func:`chain_filters`) sidesteps that.
NDP_FILTER: tuple[tuple[int, int, int, int], ...] = (
    (0x28, 0, 0, 0x0000000C),
    (0x15, 0, 4, 0x000086DD),
    (0x30, 0, 0, 0x00000014),
    (0x15, 0, 13, 0x0000003A),
    (0x30, 0, 0, 0x00000036),
    (0x15, 10, 9, 0x00000087),
    (0x15, 2, 0, 0x00008100),
    (0x15, 1, 0, 0x000088A8),
    (0x15, 0, 8, 0x00009100),
    (0x28, 0, 0, 0x00000010),
    (0x15, 0, 6, 0x000086DD),
    (0x30, 0, 0, 0x00000018),
    (0x15, 0, 4, 0x0000003A),
    (0x30, 0, 0, 0x0000003A),
    (0x15, 1, 0, 0x00000087),
    (0x15, 0, 1, 0x00000088),
    (0x06, 0, 0, 0x00040000),
    (0x06, 0, 0, 0x00000000),
)

BpfProgram = tuple[tuple[int, int, int, int], ...]
_BPF_RET_REJECT = (0x06, 0, 0, 0)
_BPF_JA = 0x05  # BPF_JMP | BPF_JA: jump forward by k


def chain_filters(*programs: BpfProgram) -> BpfProgram:
    """The union of classic BPF programs: where one rejects (``ret #0``) the next one runs.

    Each program's reject instructions become forward jumps to the start of
    the next program, so a frame passes when any of them accepts it; the last
    program's rejects stay.  Relative jumps inside a program are untouched.
    """
    out: list[tuple[int, int, int, int]] = []
    for i, prog in enumerate(programs):
        start, nxt = len(out), len(out) + len(prog)
        last = i == len(programs) - 1
        for j, ins in enumerate(prog):
            if not last and ins == _BPF_RET_REJECT:
                out.append((_BPF_JA, 0, 0, nxt - (start + j + 1)))
            else:
                out.append(ins)
    return tuple(out)


#: The program attached to every capture socket: ARP, then Neighbor Discovery.
CAPTURE_FILTER: BpfProgram = chain_filters(ARP_FILTER, NDP_FILTER)

DEFAULT_RCVBUF = 32 * 1024 * 1024
MAX_FRAME = 65536
_AUX = struct.Struct("IIIHHHH")  # struct tpacket_auxdata
_TS = struct.Struct("qq")  # struct timespec (64-bit)
_STATS = struct.Struct("II")  # struct tpacket_stats
_ANC = socket.CMSG_SPACE(_TS.size) + socket.CMSG_SPACE(_AUX.size)


class LinkDown(Exception):
    """The interface went down (ENETDOWN); the socket resumes when it is up."""


class LinkGone(Exception):
    """The interface was unregistered (ENODEV); the socket is dead."""


PRIVILEGE_HINT = ("capturing and probing need raw sockets (CAP_NET_RAW): run with sudo, or "
                  "grant the capability with `sudo setcap cap_net_raw+ep "
                  "$(readlink -f $(command -v python3))`, or in Kubernetes add NET_RAW to the "
                  "container's securityContext.capabilities.add (and hostNetwork: true)")


class Received(NamedTuple):
    """One captured frame."""

    time: float
    """Kernel receive timestamp, epoch seconds."""
    data: bytes
    """The frame from the Ethernet header on (VLAN tag re-inserted)."""
    wire_length: int
    """Length on the wire (with the re-inserted tag)."""
    outgoing: bool
    """Sent by this host (``PACKET_OUTGOING``)."""


@dataclass(slots=True)
class LinkStats:
    """Kernel counters since the previous read (``PACKET_STATISTICS``)."""

    packets: int
    """Frames that passed the filter, dropped ones included."""
    drops: int
    """Frames dropped because the socket's receive buffer was full."""


class FrameSource(Protocol):
    """The seam between the capture loop and the kernel (tests can fake it).

    ``recv`` returns one frame or None when nothing is queued (never blocks);
    it raises :class:`LinkDown` or :class:`LinkGone`.
    """

    name: str

    def fileno(self) -> int: ...

    def recv(self) -> Received | None: ...

    def send(self, frame: bytes) -> None: ...

    def stats(self) -> LinkStats: ...

    def close(self) -> None: ...


def _attach_filter(sock: socket.socket) -> ctypes.Array[ctypes.c_char]:
    prog = b"".join(struct.pack("HBBI", *ins) for ins in CAPTURE_FILTER)
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = struct.pack("HL", len(CAPTURE_FILTER), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    return buf  # the kernel copied it; returned only to keep it alive until here


def reinsert_vlan(data: bytes, tci: int, tpid: int = 0x8100) -> bytes:
    """Put back the 802.1Q tag the kernel stripped, after the two MAC addresses."""
    return data[:12] + struct.pack("!HH", tpid, tci) + data[12:]


class LinkSocket:
    """Capture (and send) ARP and NDP frames on one interface; see the module docstring.

    Raises :class:`NeedPrivilegeError`, :class:`UnknownInterfaceError` or
    :class:`CaptureError` when the sockets cannot be set up.
    """

    def __init__(self, name: str, promisc: bool = False, rcvbuf: int = DEFAULT_RCVBUF) -> None:
        self.name = name
        self.promisc = promisc
        self.rcvbuf = 0
        try:
            self.ifindex = socket.if_nametoindex(name)
        except OSError:
            raise UnknownInterfaceError(f"no such interface: {name}") from None
        try:
            cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except PermissionError:
            raise NeedPrivilegeError(PRIVILEGE_HINT) from None
        self.sock = cap
        self._send: socket.socket | None = None
        try:
            _attach_filter(cap)
            cap.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            cap.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            self.rcvbuf = self._grow_rcvbuf(rcvbuf)
            cap.bind((name, ETH_P_ALL))
            if promisc:
                mreq = struct.pack("iHH8s", self.ifindex, PACKET_MR_PROMISC, 0, b"")
                cap.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
            cap.setblocking(False)
            self.stats()  # reset the counters: they start at the bind
        except OSError as exc:
            self.close()
            if exc.errno == errno.ENODEV:
                raise UnknownInterfaceError(f"no such interface: {name}") from None
            raise CaptureError(f"cannot capture on {name}: {exc.strerror or exc}") from None

    def _grow_rcvbuf(self, size: int) -> int:
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
        except PermissionError:  # needs CAP_NET_ADMIN; capped by net.core.rmem_max
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        return self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    def fileno(self) -> int:
        """The capture socket's descriptor (for select/poll)."""
        return self.sock.fileno()

    def recv(self) -> Received | None:
        """The next queued frame, or None.  Raises LinkDown / LinkGone."""
        try:
            data, anc, _flags, addr = self.sock.recvmsg(MAX_FRAME, _ANC, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return None
        except OSError as exc:
            if exc.errno == errno.ENETDOWN:
                raise LinkDown(self.name) from None
            if exc.errno in (errno.ENODEV, errno.ENXIO):
                raise LinkGone(self.name) from None
            raise
        t = 0.0
        wire = len(data)
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = _TS.unpack_from(payload)
                t = sec + nsec * 1e-9
            elif level == SOL_PACKET and kind == PACKET_AUXDATA:
                status, wire, _snap, _mac, _net, tci, tpid = _AUX.unpack_from(payload)
                if status & TP_STATUS_VLAN_VALID:
                    tpid = tpid if status & TP_STATUS_VLAN_TPID_VALID and tpid else 0x8100
                    data = reinsert_vlan(data, tci, tpid)
                    wire += 4
        if not t:  # no timestamp cmsg (never seen; kept for safety): the arrival time
            t = time.time()
        return Received(t, data, wire, addr[2] == PACKET_OUTGOING)

    def send(self, frame: bytes) -> None:
        """Send one complete Ethernet frame on the interface."""
        if self._send is None:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            s.bind((self.name, 0))
            self._send = s
        self._send.send(frame)

    def stats(self) -> LinkStats:
        """Kernel counters since the last call (reading resets them)."""
        raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _STATS.size)
        packets, drops = _STATS.unpack(raw)
        return LinkStats(packets, drops)

    def close(self) -> None:
        """Close both sockets."""
        self.sock.close()
        if self._send is not None:
            self._send.close()


# -- interfaces ------------------------------------------------------------


def interface_state(name: str) -> str:
    """``"up"`` (IFF_UP and IFF_RUNNING), ``"down"`` or ``"gone"``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            res = fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, struct.pack("16sH14x", name.encode()[:15],
                                                                     0))
        except OSError as exc:
            if exc.errno in (errno.ENODEV, errno.ENXIO):
                return "gone"
            raise
    (flags,) = struct.unpack_from("H", res, 16)
    return "up" if flags & IFF_UP and flags & IFF_RUNNING else "down"


def default_interface() -> str:
    """The interface of the IPv4 default route; CaptureError when there is none."""
    default = netifaces.gateways().get("default")
    gw = default.get(netifaces.AF_INET) if isinstance(default, dict) else None
    if not gw:
        raise CaptureError("no IPv4 default route to pick an interface from; pass --interface "
                           "(available: " + ", ".join(netifaces.interfaces()) + ")")
    return str(gw[1])


def check_interfaces(names: list[str]) -> None:
    """Raise :class:`UnknownInterfaceError` naming the available interfaces."""
    known = netifaces.interfaces()
    bad = [n for n in names if n not in known]
    if bad:
        raise UnknownInterfaceError(
            f"no such interface: {', '.join(bad)} (available: {', '.join(known)})")


def interface_addresses(name: str) -> tuple[bytes, bytes | None]:
    """(MAC, first IPv4 address or None) of ``name``, as raw bytes."""
    addrs = netifaces.ifaddresses(name)
    links = addrs.get(netifaces.AF_LINK) or [{}]
    mac_text = links[0].get("addr", "")
    try:
        mac = bytes(int(p, 16) for p in mac_text.split(":"))
    except ValueError:
        mac = b""
    if len(mac) != 6 or mac == b"\x00" * 6:
        # Loopback and tunnels report 00:00:00:00:00:00 (or nothing): ARP does not run there.
        raise CaptureError(f"{name} has no Ethernet address (ARP does not run on it)")
    v4 = addrs.get(netifaces.AF_INET) or []
    ip = socket.inet_aton(v4[0]["addr"]) if v4 else None
    return mac, ip


def interface_ipv6(name: str) -> bytes | None:
    """The IPv6 address ``name`` sends Neighbor Solicitations from, as 16 bytes, or None.

    A global address if it has one (the first), else its link-local
    address — either answers a solicitation on the link.
    """
    try:
        v6 = netifaces.ifaddresses(name).get(netifaces.AF_INET6) or []
    except ValueError:  # no such interface (any more)
        return None
    found = []
    for a in v6:
        text = str(a.get("addr", "")).split("%")[0]
        try:
            packed = socket.inet_pton(socket.AF_INET6, text)
        except OSError:
            continue
        if packed[0] == 0xFF or packed == bytes(16) or packed == bytes(15) + b"\x01":
            continue
        found.append(packed)
    link_local = [p for p in found if p[0] == 0xFE and p[1] & 0xC0 == 0x80]
    others = [p for p in found if p not in link_local]
    return (others or link_local or [None])[0]
