"""Write pcap and pcapng captures from raw frames, for tests.

Written from the file-format specifications (libpcap's pcap-savefile(5) and
draft-ietf-opsawg-pcapng), not from :mod:`arpwatch_lb.sources.capture_files`, so that
reader tests do not check the reader against itself.  ``test_captures``
checks that tshark reads what this module writes.

pcap::

    pcap([Packet(frame, sec, usec)], endian=">", nanos=False)

pcapng, one block at a time (any number of sections and interfaces)::

    pcapng(shb(), idb(LINKTYPE_ETHERNET, tsresol=9), epb(0, ts_ns, frame), spb(frame))

``write(path, content, gz=True)`` stores either one, gzip-compressed if asked.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D

BT_SHB = 0x0A0D0D0A
BT_IDB = 1
BT_OPB = 2  # obsolete Packet Block
BT_SPB = 3
BT_NRB = 4
BT_ISB = 5
BT_EPB = 6

OPT_END = 0
OPT_COMMENT = 1
OPT_IF_TSRESOL = 9
OPT_IF_TSOFFSET = 14


class Packet(NamedTuple):
    """One pcap record: frame bytes and a timestamp in the file's units."""

    data: bytes
    sec: int = 0
    frac: int = 0
    """Sub-second part: microseconds, or nanoseconds in a nanosecond file."""
    wire_len: int | None = None
    """Original length; the captured length when None."""


def pcap(packets: Iterable[Packet], linktype: int = LINKTYPE_ETHERNET, *, endian: str = "<",
         nanos: bool = False, snaplen: int = 262144) -> bytes:
    """A classic pcap file (version 2.4) in the given byte order ("<" or ">")."""
    magic = PCAP_MAGIC_NS if nanos else PCAP_MAGIC_US
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for p in packets:
        wire = len(p.data) if p.wire_len is None else p.wire_len
        out.append(struct.pack(endian + "IIII", p.sec, p.frac, len(p.data), wire))
        out.append(bytes(p.data))
    return b"".join(out)


def _pad4(b: bytes) -> bytes:
    return b + b"\x00" * (-len(b) % 4)


def option(code: int, value: bytes, endian: str = "<") -> bytes:
    """One pcapng option (code, length, value padded to 32 bits)."""
    return struct.pack(endian + "HH", code, len(value)) + _pad4(value)


def _options(opts: list[bytes], endian: str) -> bytes:
    return b"".join(opts) + struct.pack(endian + "HH", OPT_END, 0) if opts else b""


def block(btype: int, body: bytes, endian: str = "<") -> bytes:
    """A generic pcapng block: type, total length, body (padded), total length."""
    body = _pad4(body)
    total = len(body) + 12
    return struct.pack(endian + "II", btype, total) + body + struct.pack(endian + "I", total)


def shb(endian: str = "<", *, comment: str | None = None) -> bytes:
    """Section Header Block: starts a section in the given byte order."""
    opts = [option(OPT_COMMENT, comment.encode(), endian)] if comment else []
    body = struct.pack(endian + "IHHq", PCAPNG_BYTE_ORDER_MAGIC, 1, 0, -1) + _options(opts, endian)
    return block(BT_SHB, body, endian)


def idb(linktype: int, endian: str = "<", *, snaplen: int = 0, tsresol: int | None = None,
        tsoffset: int | None = None) -> bytes:
    """Interface Description Block.  ``tsresol`` is the raw if_tsresol byte
    (9 = nanoseconds, ``0x80 | 10`` = 2^-10 s); ``tsoffset`` is in seconds."""
    opts = []
    if tsresol is not None:
        opts.append(option(OPT_IF_TSRESOL, bytes([tsresol]), endian))
    if tsoffset is not None:
        opts.append(option(OPT_IF_TSOFFSET, struct.pack(endian + "q", tsoffset), endian))
    body = struct.pack(endian + "HHI", linktype, 0, snaplen) + _options(opts, endian)
    return block(BT_IDB, body, endian)


def epb(iface: int, ts: int, data: bytes, wire_len: int | None = None, endian: str = "<") -> bytes:
    """Enhanced Packet Block; ``ts`` counts units of the interface's if_tsresol."""
    wire = len(data) if wire_len is None else wire_len
    head = struct.pack(endian + "IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(data), wire)
    return block(BT_EPB, head + bytes(data), endian)


def opb(iface: int, ts: int, data: bytes, wire_len: int | None = None, endian: str = "<") -> bytes:
    """Obsolete Packet Block (type 2), as very old writers made."""
    wire = len(data) if wire_len is None else wire_len
    head = struct.pack(endian + "HHIIII", iface, 0, ts >> 32, ts & 0xFFFFFFFF, len(data), wire)
    return block(BT_OPB, head + bytes(data), endian)


def spb(data: bytes, wire_len: int | None = None, endian: str = "<") -> bytes:
    """Simple Packet Block: interface 0, no timestamp."""
    wire = len(data) if wire_len is None else wire_len
    return block(BT_SPB, struct.pack(endian + "I", wire) + bytes(data), endian)


def pcapng(*blocks: bytes) -> bytes:
    """Concatenate blocks into a file (the first one should be a :func:`shb`)."""
    return b"".join(blocks)


def write(path: str | Path, content: bytes, *, gz: bool = False) -> Path:
    """Store ``content`` at ``path``, gzip-compressed when ``gz``; returns the path."""
    path = Path(path)
    path.write_bytes(gzip.compress(content, mtime=0) if gz else content)
    return path
