"""Read pcap and pcapng captures (plain or gzip) into ARP and NDP claims.

A :class:`CaptureReader` streams a file in fixed-size chunks — memory does not
grow with the file — and yields :class:`~arpwatch_lb.core.frames.Claim` objects in
file order while counting every other frame in a :class:`FrameCounts`.

Formats: pcap in both byte orders with micro- or nanosecond timestamps;
pcapng with any number of sections and interfaces, each with its own link type,
``if_tsresol`` and ``if_tsoffset``; either one gzip-compressed.  Link types:
Ethernet, Linux cooked v1 and v2; frames of other link types are counted as
``unsupported_linktype`` and named in :attr:`CaptureReader.unsupported`.

Theory of the hot path: Python pays per bytecode, so the Ethernet pcap loop
does the least work per frame — one unpack of the captured length and two
byte reads for a non-ARP frame, one more unpack (record header, Ethernet and
ARP at once) for a plain ARP frame, untagged or behind one 802.1Q tag.  ARP
storms are runs of equal-sized frames (42 or 60 bytes): when a record has the
same captured length as the one before, a strided slice of the next 16
records' length bytes tells whether a run follows (a record's length field
tells where the next record starts, so equal fields chain exactly), and the
whole run is decoded with one ``struct.iter_unpack`` call; after a miss the
look is skipped for a while, since captures of mixed sizes rarely have runs.
Claims are handed on per 128 KiB chunk, so the tracker sees them while they
are still in the CPU cache.  An untagged IPv6 frame costs two more byte reads:
unless its next header is ICMPv6 with type 135/136 (or an extension header),
it is counted as non-ARP on the spot.  Anything unusual (stacked tags,
LLC/SNAP, odd opcodes or sizes, Neighbor Discovery, malformed frames) goes
through
:func:`arpwatch_lb.core.frames.decode`, the reference decoder; property tests
check that both paths agree.  So do IPv4 frames whose protocol byte is 112
(VRRP): one more byte read per non-ARP frame.  Their advertisements are
collected in :attr:`CaptureReader.adverts` (see :meth:`CaptureReader.take_adverts`).
"""

from __future__ import annotations

import gzip
import struct
import sys
import zlib
from collections.abc import Callable, Iterator
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ..core.frames import (
    LINKTYPE_ETHERNET,
    ND_ADVERT,
    ND_SOLICIT,
    PLAIN_ARP,
    SUPPORTED_LINKTYPES,
    WIRE_REPLY,
    WIRE_REQUEST,
    ZERO_IP,
    ZERO_MAC,
    Claim,
    VrrpAdvert,
)
from ..core.ingest import FrameCounts, classify, ingest
from .errors import CaptureError

if TYPE_CHECKING:
    from .columns import Columns

__all__ = ["CHUNK_SIZE", "CaptureError", "CaptureReader", "FrameCounts"]

CHUNK_SIZE = 1 << 17  # 128 KiB: claims of a chunk are tracked while still in the CPU cache
COLUMN_CHUNK = 1 << 22  # 4 MiB: the vectorized path pays per chunk, so chunks are larger
MAX_RECORD = 1 << 18  # 256 KiB: larger captured lengths mean a corrupt file
PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC = b"\x1f\x8b"
REQUEST, REPLY = WIRE_REQUEST, WIRE_REPLY
SPARSE_ARP = 400  # fewer ARP frames than one per this many bytes: the plain walk is cheaper


class _Corrupt(Exception):
    """A record header that cannot be right; ``args[0]`` is its offset in the buffer."""


class CaptureReader:
    """One capture file, read once, as a stream of claims.

    After iteration, :attr:`warnings` holds one-line notes (a truncated last
    record, unsupported link types) and :attr:`error` a one-line message if
    reading stopped at corrupt data; claims read before either are kept.
    """

    def __init__(self, path: str | Path, counts: FrameCounts | None = None,
                 progress: Callable[[int], None] | None = None) -> None:
        self.path = Path(path)
        self.counts = counts if counts is not None else FrameCounts()
        self.progress = progress
        self.warnings: list[str] = []
        self.error: str | None = None
        self.unsupported: set[int] = set()
        self.adverts: list[VrrpAdvert] = []
        """VRRP advertisements read so far and not yet taken (:meth:`take_adverts`)."""
        self.format = ""
        self.compressed = False
        self._stream = self._open()
        self._consumed = 0
        self._chunk = CHUNK_SIZE
        self._leftover = b""
        self._gzip_error: BaseException | None = None

    # -- opening ----------------------------------------------------------

    def _open(self) -> BinaryIO:
        try:
            if str(self.path) == "-":  # standard input, e.g. `tcpdump -w - arp | arpwatch-lb replay -`
                raw = open(sys.stdin.fileno(), "rb", closefd=False)  # noqa: SIM115
            else:
                raw = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        except IsADirectoryError:
            raise CaptureError(f"{self.path}: is a directory, not a capture file") from None
        except FileNotFoundError:
            raise CaptureError(f"{self.path}: no such file") from None
        except PermissionError:
            raise CaptureError(f"{self.path}: permission denied") from None
        except OSError as exc:
            raise CaptureError(f"{self.path}: cannot open: {exc.strerror or exc}") from None
        if not raw.seekable():  # a pipe: no position to report progress with
            self.progress = None
        try:
            head = raw.peek(2)[:2]  # without consuming: pipes cannot seek back
        except OSError as exc:
            raw.close()
            raise CaptureError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        stream: BinaryIO = raw
        if head == GZIP_MAGIC:
            self.compressed = True
            stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        try:
            magic = stream.read(4)
        except (OSError, EOFError, zlib.error) as exc:
            raw.close()
            raise CaptureError(f"{self.path}: corrupt gzip data: {exc}") from None
        if not magic:
            raw.close()
            raise CaptureError(f"{self.path}: empty file")
        if magic in PCAP_MAGICS:
            self.format = "pcap"
        elif magic == PCAPNG_SHB:
            self.format = "pcapng"
        else:
            raw.close()
            raise CaptureError(f"{self.path}: not a pcap or pcapng capture (magic {magic.hex()})")
        self._magic = magic
        self._raw = raw
        return stream

    def close(self) -> None:
        """Close the underlying file."""
        self._stream.close()
        self._raw.close()

    def __iter__(self) -> Iterator[Claim]:
        return chain.from_iterable(self.batches())

    def take_adverts(self) -> list[VrrpAdvert]:
        """Return and forget the VRRP advertisements read so far (in file order)."""
        out, self.adverts = self.adverts, []
        return out

    def batches(self) -> Iterator[list[Claim]]:
        """Yield the claims in file order, one list per chunk read."""
        return self._batches(False)  # type: ignore[return-value]

    def column_batches(self) -> Iterator[list[Claim] | Columns]:
        """Like :meth:`batches`, but an Ethernet pcap comes as :class:`~.columns.Columns`.

        The vectorized path (:mod:`.columns`, needs numpy) for the common
        capture; anything else (pcapng, cooked captures, no numpy) still comes
        as lists of claims.
        """
        return self._batches(columns_available())

    def _batches(self, columns: bool) -> Iterator[list[Claim] | Columns]:
        try:
            if self.format == "pcap":
                yield from self._pcap(columns)
            else:
                yield from self._pcapng()
        except EOFError:
            # A gzip stream cut off mid-write: the compressed twin of a truncated last record.
            self.warnings.append(f"{self.path}: compressed stream ends early (truncated); "
                                 "everything before the cut was read")
            self.counts["truncated"] += 1
        except (OSError, zlib.error) as exc:
            self.error = f"{self.path}: read error, stopped early: {exc}"
        finally:
            self.close()

    def _windows(self, head: bytes = b"", size: int | None = None
                 ) -> Iterator[tuple[bytearray, int]]:
        """Yield ``(buf, n)``: ``buf[:n]`` is unconsumed data followed by a fresh chunk.

        The caller sets :attr:`_consumed` to how far it got before asking for
        the next window; the rest is carried over.  One buffer is reused for
        the whole file: no allocation (and no page faults) per chunk.  With
        ``size``, the buffer has room for chunks that large, and each chunk is
        :attr:`_chunk` bytes (the caller may change it between windows).
        """
        chunk = CHUNK_SIZE
        buf = bytearray((size or CHUNK_SIZE) + 2 * MAX_RECORD)
        view = memoryview(buf)
        left = len(head)
        buf[:left] = head
        readinto = (self._readinto_gzip if self.compressed
                    else self._stream.readinto)  # type: ignore[attr-defined]
        try:
            while True:
                if size is not None:
                    chunk = self._chunk
                got = readinto(view[left:left + chunk])
                if not got:
                    break
                if self.progress is not None:
                    self.progress(self._raw.tell())
                n = left + got
                self._consumed = 0
                yield buf, n
                off = self._consumed
                left = n - off
                buf[:left] = buf[off:n]
        finally:
            view.release()
        self._leftover = bytes(buf[:left])

    def _readinto_gzip(self, view: memoryview) -> int:
        """Fill ``view`` from the gzip stream.

        ``GzipFile.readinto`` drops everything it decompressed in a call that
        meets a truncated stream; this returns that data first and raises the
        error on the next call, so the claims before the cut are kept.
        """
        if self._gzip_error is not None:
            raise self._gzip_error
        got = 0
        read1 = self._stream.read1  # type: ignore[attr-defined]
        try:
            while got < len(view):
                part = read1(len(view) - got)
                if not part:
                    break
                view[got:got + len(part)] = part
                got += len(part)
        except (OSError, EOFError, zlib.error) as exc:
            if not got:
                raise
            self._gzip_error = exc
        return got

    # -- pcap -------------------------------------------------------------

    def _pcap(self, columns: bool = False) -> Iterator[list[Claim] | Columns]:
        endian, tsunit = PCAP_MAGICS[self._magic]
        rest = self._stream.read(20)
        if len(rest) < 20:
            self.error = f"{self.path}: truncated pcap file header"
            return
        _vmaj, _vmin, _tz, _sig, _snap, linktype = struct.unpack(endian + "HHiIII", rest)
        linktype &= 0x03FFFFFF  # bits 26-31 carry FCS information (libpcap LT_LINKTYPE)
        if linktype not in SUPPORTED_LINKTYPES:
            self._note_unsupported(linktype)
        if columns and linktype == LINKTYPE_ETHERNET:
            yield from self._pcap_columns(endian, tsunit)
            return
        scan = self._scan_pcap_ethernet if linktype == LINKTYPE_ETHERNET else self._scan_pcap_generic
        pos = 24  # file offset of buf[0], for messages
        for buf, n in self._windows():
            out: list[Claim] = []
            try:
                off = scan(buf, n, endian, tsunit, linktype, out)
            except _Corrupt as exc:
                self.error = f"{self.path}: corrupt record at byte {pos + exc.args[0]}; stopped there"
                yield out
                return
            self._consumed = off
            pos += off
            yield out
        if self._leftover:
            self._note_truncated(self._leftover, endian)

    def _pcap_columns(self, endian: str, tsunit: float) -> Iterator[list[Claim] | Columns]:
        """Ethernet pcap records: after a first 128 KiB chunk, 4 MiB at a time as columns
        (:func:`.columns.scan`) while ARP is dense, else (a mixed capture) 128 KiB at a time as
        the plain walk's list of claims.  numpy is imported at the first dense chunk."""
        corrupt: list[int] = []

        def slow(buf: bytearray, start: int, limit: int, out: list[Claim]) -> int:
            try:
                return self._scan_pcap_ethernet(buf, limit, endian, tsunit, LINKTYPE_ETHERNET,
                                                out, start)
            except _Corrupt as exc:  # scan() stops there: it cannot get past
                corrupt.append(exc.args[0])
                return int(exc.args[0])

        pos = 24
        dense = False  # the first chunk takes the plain walk (a small file never loads numpy)
        for buf, n in self._windows(size=COLUMN_CHUNK):
            cols: list[Claim] | Columns
            if not dense:  # mostly other traffic: cache-sized chunks, as the plain path reads
                cols = []
                off = slow(buf, 0, n, cols)
            else:
                from .columns import scan

                cols, off = scan(buf, n, endian, tsunit, self.counts, slow)
            dense = len(cols) * SPARSE_ARP >= n
            self._chunk = COLUMN_CHUNK if dense else CHUNK_SIZE
            if corrupt:
                self.error = f"{self.path}: corrupt record at byte {pos + corrupt[0]}; stopped there"
                yield cols
                return
            self._consumed = off
            pos += off
            yield cols
        if self._leftover:
            self._note_truncated(self._leftover, endian)

    def _note_truncated(self, buf: bytes, endian: str) -> None:
        if len(buf) < 16:
            self.warnings.append(
                f"{self.path}: truncated last record ({len(buf)} of 16 header bytes); "
                "everything before it was read")
        else:
            cap = struct.unpack_from(endian + "I", buf, 8)[0]
            self.warnings.append(
                f"{self.path}: truncated last record ({len(buf) - 16} of {cap} bytes); "
                "everything before it was read")
        self.counts["truncated"] += 1

    def _note_unsupported(self, linktype: int) -> None:
        if linktype not in self.unsupported:
            self.unsupported.add(linktype)
            self.warnings.append(
                f"{self.path}: link type {linktype} is not supported "
                "(Ethernet, Linux cooked v1/v2 are); its frames are counted, not decoded")

    def _scan_pcap_generic(self, buf: bytearray, n: int, endian: str, tsunit: float, linktype: int,
                           out: list[Claim]) -> int:
        """Walk records of any link type through the reference decoder."""
        hdr = struct.Struct(endian + "IIII").unpack_from
        counts = self.counts
        off = 0
        while off + 16 <= n:
            sec, frac, cap, wlen = hdr(buf, off)
            if cap > MAX_RECORD:
                raise _Corrupt(off)
            p = off + 16
            if p + cap > n:
                break
            ingest(linktype, buf[p:p + cap], sec + frac * tsunit, wlen, counts, out, self.adverts)
            off = p + cap
        return off

    def _scan_pcap_ethernet(self, buf: bytearray, n: int, endian: str, tsunit: float, linktype: int,
                            out: list[Claim], start: int = 0) -> int:
        """The hot path: Ethernet pcap records from ``start`` (see the module docstring)."""
        hdr = struct.Struct(endian + "IIII").unpack_from
        caplen = struct.Struct(endian + "8xI").unpack_from
        full = _block_struct(endian, 42).unpack_from  # header + Ethernet + ARP of one record
        vfull = struct.Struct(endian + "IIII6s6s2x2s8x2s6s4s6s4s").unpack_from  # same, 802.1Q
        lo = 8 if endian == "<" else 11  # offset of the captured length's low byte
        counts = self.counts
        mk = _new_claim
        append = out.append
        tags = _TAG_FIRST_BYTES
        v6ext = _IPV6_WALKED
        ndtypes = _ND_TYPES
        prevcap = -1
        cool = 0
        rare = nonarp = 0  # total = claims + nonarp + rare, summed once at the end
        first = len(out)  # out holds claims only: claims = len(out) - first
        off = start
        # Per non-ARP frame: one unpack, two index reads, four compares.
        while off + 16 <= n:
            (cap,) = caplen(buf, off)
            p = off + 16
            if p + cap > n or cap > MAX_RECORD:
                if cap > MAX_RECORD:
                    claims = len(out) - first
                    counts.update(total=claims + nonarp + rare, claims=claims, non_arp=nonarp)
                    raise _Corrupt(off)
                break
            e0 = buf[p + 12]
            if e0 == 8 and buf[p + 13] == 6:
                if cap >= 42:
                    if cap != prevcap:
                        prevcap = cap
                    elif cool:
                        cool -= 1
                    elif (off + 16 * (size := 16 + cap) <= n
                            and buf[off + lo:off + lo + 16 * size:size] == _LOW16[cap & 0xFF]
                            and (m := _uniform_run(buf, off, cap, endian, n)) > 2):
                        # A run of equal-sized records: a cheap look at the low length byte
                        # of the next 16 records, then an exact count, then one iter_unpack.
                        before = len(out)
                        self._scan_block(buf, off, m, cap, endian, tsunit, out)
                        rare += m - (len(out) - before)
                        off += m * size
                        continue
                    else:
                        cool = 32  # a miss: captures of mixed sizes rarely have runs
                    sec, frac, _c, wlen, dst, src, head, op, sha, spa, tha, tpa = full(buf, off)
                    if (head == PLAIN_ARP and spa != ZERO_IP and not sha[0] & 1
                            and op in (REQUEST, REPLY) and sha != ZERO_MAC):
                        off = p + cap
                        append(mk(Claim, (sec + frac * tsunit, None, None, op[1], sha, spa, tha, tpa,
                                          src, dst, wlen)))
                        continue
                else:
                    prevcap = cap
                    sec, frac, cap, wlen = hdr(buf, off)
            elif e0 >= 0x06 and cap >= 14 and e0 not in tags and buf[p + 23] != 112:
                # Not ARP, and not IPv4 protocol 112 (VRRP: decoded below).  For a
                # record shorter than 24 bytes the byte read is stale, never out of
                # the buffer; a stale 112 only sends the frame to decode().
                nonarp += 1
                off = p + cap
                continue
            elif e0 == 0x86 and cap >= 55 and (buf[p + 13] != 0xDD or (
                    (nh := buf[p + 20]) != 58 and nh not in v6ext) or (
                    nh == 58 and buf[p + 54] not in ndtypes)):
                # IPv6 that is not Neighbor Discovery (or another 0x86xx type): as cheap as
                # any non-ARP frame.  NS/NA and extension headers go to decode().
                nonarp += 1
                off = p + cap
                continue
            else:
                prevcap = cap
                if e0 == 0x81 and cap >= 46 and buf[p + 13] == 0 and buf[p + 16:p + 24] == PLAIN_ARP:
                    # One 802.1Q tag around plain ARP: common enough to skip decode().
                    sec, frac, _c, wlen, dst, src, tci, op, sha, spa, tha, tpa = vfull(buf, off)
                    if (spa != ZERO_IP and not sha[0] & 1 and op in (REQUEST, REPLY)
                            and sha != ZERO_MAC):
                        off = p + cap
                        append(mk(Claim, (sec + frac * tsunit, (tci[0] & 0x0F) << 8 | tci[1], None,
                                          op[1], sha, spa, tha, tpa, src, dst, wlen)))
                        continue
                sec, frac, cap, wlen = hdr(buf, off)
            off = p + cap
            if not classify(LINKTYPE_ETHERNET, buf[p:p + cap], sec + frac * tsunit, wlen, counts, out,
                            self.adverts):
                rare += 1
        claims = len(out) - first
        counts.update(total=claims + nonarp + rare, claims=claims, non_arp=nonarp)
        return off

    def _scan_block(self, buf: bytearray, off: int, m: int, cap: int, endian: str, tsunit: float,
                    out: list[Claim]) -> None:
        """Decode ``m`` consecutive records of captured length ``cap`` at ``off``."""
        fmt = _block_struct(endian, cap)
        mk = _new_claim
        append = out.append
        counts = self.counts
        size = 16 + cap
        view = memoryview(buf)[off:off + m * size]
        pos = off
        for sec, frac, _cap, wlen, dst, src, head, op, sha, spa, tha, tpa in fmt.iter_unpack(view):
            if head == PLAIN_ARP and spa != ZERO_IP and not sha[0] & 1 and (
                    op in (REQUEST, REPLY)) and sha != ZERO_MAC:
                append(mk(Claim, (sec + frac * tsunit, None, None, op[1], sha, spa, tha, tpa,
                                  src, dst, wlen)))
            else:
                classify(LINKTYPE_ETHERNET, buf[pos + 16:pos + size], sec + frac * tsunit, wlen,
                         counts, out, self.adverts)
            pos += size
        view.release()

    # -- pcapng -----------------------------------------------------------

    def _pcapng(self) -> Iterator[list[Claim]]:
        counts = self.counts
        endian = "<"
        ifaces: list[tuple[int, float, float]] = []  # (linktype, ts unit, ts offset)
        last_time = 0.0
        pos = 0
        for buf, n in self._windows(self._magic):
            off = 0
            out: list[Claim] = []
            one = self._one
            while off + 12 <= n:
                btype_raw = buf[off:off + 4]
                if btype_raw == PCAPNG_SHB:
                    bom = buf[off + 8:off + 12]
                    if bom == b"\x4d\x3c\x2b\x1a":
                        endian = "<"
                    elif bom == b"\x1a\x2b\x3c\x4d":
                        endian = ">"
                    else:
                        self.error = f"{self.path}: bad pcapng byte-order magic at byte {pos + off}"
                        self._consumed = off
                        yield out
                        return
                btype, blen = struct.unpack_from(endian + "II", buf, off)
                if blen < 12 or blen % 4 or blen > MAX_RECORD + 64:
                    self.error = f"{self.path}: corrupt pcapng block at byte {pos + off}; stopped there"
                    self._consumed = off
                    yield out
                    return
                if off + blen > n:
                    break
                body = off + 8
                if btype == 0x0A0D0D0A:
                    ifaces = []
                elif btype == 1:  # Interface Description Block
                    ifaces.append(self._idb(buf, body, off + blen - 4, endian))
                elif btype in (6, 2):  # Enhanced / obsolete Packet Block
                    if btype == 6:
                        iface, hi, lo, cap, wlen = struct.unpack_from(endian + "IIIII", buf, body)
                    else:
                        iface, _drops, hi, lo, cap, wlen = struct.unpack_from(
                            endian + "HHIIII", buf, body)
                    data_off = body + 20
                    if iface >= len(ifaces) or data_off + cap > off + blen - 4:
                        counts["total"] += 1
                        counts["malformed.bad_pcapng_packet"] += 1
                    else:
                        linktype, unit, tsoff = ifaces[iface]
                        last_time = ((hi << 32) | lo) * unit + tsoff
                        one(linktype, buf[data_off:data_off + cap], last_time, wlen, out)
                elif btype == 3:  # Simple Packet Block: interface 0, no timestamp
                    (wlen,) = struct.unpack_from(endian + "I", buf, body)
                    cap = min(wlen, blen - 16)
                    if not ifaces:
                        counts["total"] += 1
                        counts["malformed.bad_pcapng_packet"] += 1
                    else:
                        one(ifaces[0][0], buf[body + 4:body + 4 + cap], last_time, wlen, out)
                off += blen
            pos += off
            self._consumed = off
            yield out
        if self._leftover:
            self.warnings.append(
                f"{self.path}: truncated last block ({len(self._leftover)} bytes); "
                "everything before it was read")
            counts["truncated"] += 1

    def _idb(self, buf: bytes, start: int, end: int, endian: str) -> tuple[int, float, float]:
        linktype = struct.unpack_from(endian + "H", buf, start)[0]
        unit, tsoff = 1e-6, 0.0
        opt = start + 8
        while opt + 4 <= end:
            code, olen = struct.unpack_from(endian + "HH", buf, opt)
            if code == 0:
                break
            val = buf[opt + 4:opt + 4 + olen]
            if code == 9 and olen >= 1:  # if_tsresol
                r = val[0]
                unit = 2.0 ** -(r & 0x7F) if r & 0x80 else 10.0 ** -r
            elif code == 14 and olen >= 8:  # if_tsoffset, seconds
                tsoff = float(struct.unpack(endian + "q", val[:8])[0])
            opt += 4 + ((olen + 3) & ~3)
        if linktype not in SUPPORTED_LINKTYPES:
            self._note_unsupported(linktype)
        return linktype, unit, tsoff

    def _one(self, linktype: int, data: bytes, time: float, wlen: int, out: list[Claim]) -> None:
        ingest(linktype, data, time, wlen, self.counts, out, self.adverts)


def columns_available() -> bool:
    """Whether the vectorized path can run (numpy installed, not switched off).

    ``ARPWATCH_LB_PURE_PYTHON=1`` in the environment keeps every reader on
    the pure-Python path (tests compare the two).
    """
    import importlib.util
    import os

    if os.environ.get("ARPWATCH_LB_PURE_PYTHON"):
        return False
    return importlib.util.find_spec("numpy") is not None  # imported at the first dense chunk


_new_claim = tuple.__new__  # Claim._make without its Python-level wrapper
# First bytes of the VLAN ethertypes (0x8100, 0x88a8, 0x9100), of RARP (0x8035) and of IPv6
# (0x86dd): such frames take the slow path (decode() counts RARP as "rarp", not "non_arp",
# and Neighbor Discovery as claims); IPv6 that is plainly not NDP is counted on the spot.
_TAG_FIRST_BYTES = frozenset({0x80, 0x81, 0x86, 0x88, 0x91})
_IPV6_WALKED = frozenset({0, 43, 44, 51, 60})  # extension headers decode_ndp walks
_ND_TYPES = frozenset({ND_SOLICIT, ND_ADVERT})
_LOW16 = [bytes([b]) * 16 for b in range(256)]
_BLOCK_STRUCTS: dict[tuple[str, int], struct.Struct] = {}


def _block_struct(endian: str, cap: int) -> struct.Struct:
    key = (endian, cap)
    s = _BLOCK_STRUCTS.get(key)
    if s is None:
        s = struct.Struct(f"{endian}IIII6s6s8s2s6s4s6s4s{cap - 42}x")
        _BLOCK_STRUCTS[key] = s
    return s


def _uniform_run(buf: bytearray, off: int, cap: int, endian: str, n: int, limit: int = 65536
                 ) -> int:
    """How many records from ``off`` on have captured length ``cap``.

    Compares each byte of the length field across records with one strided
    slice, so the count costs C time, not a Python loop per record.  The
    window starts small and doubles while every record matches, so a short
    run costs little.
    """
    size = 16 + cap
    avail = min(limit, (n - off) // size)
    want = struct.pack(endian + "I", cap)
    done, k = 0, 8
    while done < avail:
        k = min(k, avail - done)
        start = off + done * size
        m = k
        for j in range(4):
            col = buf[start + 8 + j:start + k * size:size]
            m = min(m, k - len(col.lstrip(want[j:j + 1])))
        done += m
        if m < k:
            break
        k *= 2
    return done
