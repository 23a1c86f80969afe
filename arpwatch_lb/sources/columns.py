"""Vectorized replay of Ethernet pcap files: claims as columns, folded per IP (numpy, optional).

Python pays per bytecode; numpy pays per array.  For a chunk of a capture
(4 MiB), this module

1. **finds the ARP records without walking them**: ``bytes.split`` on the
   eight bytes every plain ARP frame carries after its addresses (ethertype
   0x0806, hardware type 1, protocol 0x0800, sizes 6 and 4) gives where each
   one is; the record would start 28 bytes before (32 behind one 802.1Q tag).
   A candidate is taken only if the records *chain*: the chunk starts on a
   record boundary, and each candidate's captured length leads exactly to the
   next candidate.  Wherever the chain breaks (other frames, stacked tags, a
   look-alike inside a payload) the pure-Python scanner walks record by record
   until the chain resumes — so a byte pattern inside a frame can never be
   taken for a record;
2. **decodes them as one 2-D array**: one fancy-index gather of 64-byte rows
   (a strided view of the chunk) and column slices give times, MACs and IPs of
   every record at once.  A row that is not a claim by :func:`~arpwatch_lb.core.frames.decode`'s
   rules (a probe, a bad sender MAC, odd opcode, too short) goes to ``decode``;
3. **folds them per IP** (:func:`fold`): a stable sort by (VLAN, IP) groups
   the chunk's claims; an IP claimed by one MAC only — the common case, however
   many claims — becomes one entry of a :class:`~arpwatch_lb.core.tracker.ClaimBatch`;
   IPs claimed by several MACs keep their claims in order.  Replies are sorted
   by (VLAN, IP, requester) to find the few answered before by another MAC
   within the duplicate window; the request and reply tables are updated in
   bulk;
4. **tells the wire fingerprints** what the claim loop would (:func:`_fingerprints`):
   per (IP, MAC) the latest request's length and the reply count, and the
   gratuitous frames in order.  Where a reply's length may have to be
   compared with its request's (Cilium's mark), only the claim loop is
   exact: :func:`feed` then feeds the chunk claim by claim.

:meth:`OwnershipTracker.feed_batch <arpwatch_lb.core.tracker.OwnershipTracker.feed_batch>`
gives the same state as the claims one by one; the tests check both this
module's claims against the reference decoder and the resulting reports
against the pure-Python path.  Without numpy (:data:`AVAILABLE` false) the
readers keep to the pure-Python path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.frames import LINKTYPE_ETHERNET, Claim, decode
from ..core.tracker import ClaimBatch, OwnershipTracker

try:
    import numpy as np
    from numpy.lib.stride_tricks import as_strided
except ImportError:  # pragma: no cover - the pure-Python path is used instead
    np = None  # type: ignore[assignment]

__all__ = ["AVAILABLE", "ROW", "SIGNATURE", "Columns", "feed", "fold", "scan"]

AVAILABLE = np is not None
SIGNATURE = b"\x08\x06\x00\x01\x08\x00\x06\x04"  # ethertype ARP + Ethernet/IPv4 sizes
ROW = 64  # bytes gathered per record: pcap header (16) + 802.1Q-tagged Ethernet ARP (46) + 2
NO_MAC = -1
_BCAST48 = (1 << 48) - 1
if AVAILABLE:
    _M32 = np.uint64((1 << 32) - 1)
    _M16 = np.uint64((1 << 16) - 1)
    _ONE = np.uint64(1)
    _S16, _S32, _S40, _S48 = (np.uint64(x) for x in (16, 32, 40, 48))


@dataclass
class Columns:
    """The claims of one chunk, one array per field, in file order.

    ``vcode`` packs the VLAN tags: 0 untagged, else VLAN + 1, plus (inner VLAN
    + 1) << 13 for stacked tags.  MACs are 48-bit integers, IPs 32-bit ones.
    """

    t: Any
    vcode: Any
    op: Any
    sha: Any
    spa: Any
    tha: Any
    tpa: Any
    src: Any
    dst: Any
    length: Any

    def __len__(self) -> int:
        return len(self.t)

    def claims(self) -> list[Claim]:
        """The same claims as :class:`~arpwatch_lb.core.frames.Claim` objects (tests, merges)."""
        vlans = [_vlans(v) for v in self.vcode.tolist()]
        return [Claim(t, vl[0], vl[1], op, sha, spa, tha, tpa, None if s == NO_MAC else src,
                      None if d == NO_MAC else dst, n)
                for t, vl, op, sha, spa, tha, tpa, src, dst, n, s, d in zip(
                    self.t.tolist(), vlans, self.op.tolist(), macs(self.sha), ips(self.spa),
                    macs(self.tha), ips(self.tpa), macs(self.src), macs(self.dst),
                    self.length.tolist(), self.src.tolist(), self.dst.tolist(), strict=True)]


def _vlans(v: int) -> tuple[int | None, int | None]:
    if not v:
        return None, None
    inner = v >> 13
    return (v & 0x1FFF) - 1, (inner - 1 if inner else None)


def _vcode(vlan: int | None, inner: int | None) -> int:
    if vlan is None:
        return 0
    return vlan + 1 + ((inner + 1) << 13 if inner is not None else 0)


def macs(a: Any) -> list[bytes]:
    """48-bit integers → six-byte MACs."""
    if not len(a):
        return []
    rows = np.ascontiguousarray(a.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 2:])
    return rows.view("V6").ravel().tolist()  # type: ignore[no-any-return]


def ips(a: Any) -> list[bytes]:
    """32-bit integers → four-byte IPv4 addresses."""
    return a.astype(">u4").view("V4").tolist()  # type: ignore[no-any-return]


def _pairs(a: Any, b: Any) -> list[bytes]:
    """Two 32-bit columns → eight-byte ``a + b`` (the request/reply tables' keys)."""
    return ((a.astype(np.uint64) << np.uint64(32)) | b.astype(np.uint64)).astype(">u8").view(
        "V8").tolist()  # type: ignore[no-any-return]


def _keyed(vcode: Any, plain: list[Any]) -> list[Any]:
    """Internal keys: ``plain`` untagged, (VLAN, inner VLAN, plain) tagged."""
    tagged = np.flatnonzero(vcode)
    if not len(tagged):
        return plain
    v = vcode[tagged]
    vlans = ((v & 0x1FFF) - 1).tolist()
    inner = v >> 13
    inners: list[int | None] = ([None] * len(vlans) if not inner.any()
                                else [x - 1 if x else None for x in inner.tolist()])
    for i, key in zip(tagged.tolist(), zip(vlans, inners, [plain[i] for i in tagged.tolist()],
                                           strict=True), strict=True):
        plain[i] = key
    return plain


def _u(rows: Any, lo: int, hi: int, dtype: str) -> Any:
    return np.ascontiguousarray(rows[:, lo:hi]).view(dtype).ravel()


def _from_claims(claims: list[Claim]) -> Columns:
    def mac48(m: bytes | None) -> int:
        return int.from_bytes(m, "big") if m is not None else NO_MAC

    return Columns(
        t=np.array([c.time for c in claims], np.float64),
        vcode=np.array([_vcode(c.vlan, c.inner_vlan) for c in claims], np.int64),
        op=np.array([c.op for c in claims], np.int64),
        sha=np.array([mac48(c.sha) for c in claims], np.int64),
        spa=np.array([int.from_bytes(c.spa, "big") for c in claims], np.int64),
        tha=np.array([mac48(c.tha) for c in claims], np.int64),
        tpa=np.array([int.from_bytes(c.tpa, "big") for c in claims], np.int64),
        src=np.array([mac48(c.eth_src) for c in claims], np.int64),
        dst=np.array([mac48(c.eth_dst) for c in claims], np.int64),
        length=np.array([c.length for c in claims], np.int64))


def _concat(parts: list[Columns]) -> Columns:
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return _from_claims([])
    return Columns(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("t", "vcode", "op", "sha", "spa", "tha", "tpa", "src", "dst",
                               "length")))


SlowScan = Callable[[bytearray, int, int, list[Claim]], int]
"""``slow(buf, start, limit, out)``: walk records from ``start`` while they end by ``limit``,
counting them and appending claims to ``out``; return where it stopped."""


def scan(buf: bytearray, n: int, endian: str, tsunit: float, counts: Any, slow: SlowScan
         ) -> tuple[Columns | list[Claim], int]:
    """The claims of the Ethernet pcap records in ``buf[:n]`` (starting on a record boundary).

    Returns the columns and how far the complete records go.  A chunk with
    claims the columns cannot hold (IPv6 Neighbor Discovery, 16-byte
    addresses) comes as a plain list of claims instead, in file order.  ``buf`` must
    have at least :data:`ROW` spare bytes after ``n`` (the reader's window
    does).  Every record is counted in ``counts`` — by :func:`scan` for the
    chained ARP records, by ``slow`` for the rest.
    """
    sig = _find(buf, n)  # where each signature is
    k = len(sig)
    parts: list[Columns | list[Claim]] = []
    pos = 0
    if not k:
        out: list[Claim] = []
        pos = slow(buf, 0, n, out)
        return _joined([out]), pos
    a = np.frombuffer(buf, np.uint8)
    rows = as_strided(a, shape=(len(a) - ROW + 1, ROW), strides=(1, 1))
    tagged = (sig >= 32) & (a[np.maximum(sig - 4, 0)] == 0x81) & (a[np.maximum(sig - 3, 0)] == 0)
    start = sig - 28 - 4 * tagged
    keep = start >= 0
    if not keep.all():
        sig, tagged, start = sig[keep], tagged[keep], start[keep]
    head = rows[start]
    cap = _u(head, 8, 12, endian + "u4").astype(np.int64)
    nxt = start + 16 + cap
    breaks = np.flatnonzero(nxt[:-1] != start[1:])  # the last link is checked by the walk
    starts = start.tolist()
    k = len(starts)
    i = 0
    while pos < n:
        i = int(np.searchsorted(start, pos))
        if i < k and starts[i] == pos:
            b = int(np.searchsorted(breaks, i))
            j = int(breaks[b]) if b < len(breaks) else k - 1  # the chain runs i..j
            if int(nxt[j]) > n:  # the last record does not end in this window
                j -= 1
            if j >= i:
                parts.append(_decode_rows(rows, head, start, tagged, cap, i, j + 1, endian,
                                          tsunit, counts, buf))
                pos = int(nxt[j])
                continue
            limit = n  # incomplete, or a corrupt length: the plain walk tells which
        else:
            limit = starts[i] if i < k else n
        out: list[Claim] = []
        got = slow(buf, pos, limit, out)
        if out:
            parts.append(out)
        if got == pos:  # the record at pos passes the limit: a look-alike inside it
            rec_end = _record_end(buf, pos, n, endian)
            if rec_end is None:
                break
            if i < k and starts[i] < rec_end:
                # skip every candidate inside that record, then walk on
                i2 = int(np.searchsorted(start, rec_end))
                limit = starts[i2] if i2 < k else n
                out = []
                got = slow(buf, pos, limit, out)
                if out:
                    parts.append(out)
            if got == pos:
                break
        pos = got
    return _joined(parts), pos


def _joined(parts: list[Columns | list[Claim]]) -> Columns | list[Claim]:
    """One chunk's parts (columns, and lists of claims from the plain walk) as one."""
    if all(p.__class__ is Columns or all(len(c.spa) == 4 for c in p)  # type: ignore[union-attr]
           for p in parts):
        return _concat([p if p.__class__ is Columns else _from_claims(p)  # type: ignore[misc]
                        for p in parts])
    return [c for p in parts for c in (p.claims() if p.__class__ is Columns else p)]  # type: ignore[union-attr]


_SIG64 = int.from_bytes(SIGNATURE, "little")


def _find(buf: bytearray, n: int) -> Any:
    """Offsets of :data:`SIGNATURE` in ``buf[:n]``, ascending: eight 64-bit compares per word,
    one per byte alignment (it cannot overlap itself)."""
    found = []
    for s in range(8):
        count = (n - s) // 8
        if count <= 0:
            continue
        words = np.frombuffer(buf, "<u8", count=count, offset=s)
        hit = np.flatnonzero(words == _SIG64)
        if len(hit):
            found.append(hit * 8 + s)
    if not found:
        return np.zeros(0, np.int64)
    return np.sort(np.concatenate(found)).astype(np.int64)


def _record_end(buf: bytearray, pos: int, n: int, endian: str) -> int | None:
    if pos + 16 > n:
        return None
    cap = int.from_bytes(buf[pos + 8:pos + 12], "little" if endian == "<" else "big")
    end = pos + 16 + cap
    return end if end <= n else None


def _decode_rows(rows: Any, head: Any, start: Any, tagged: Any, cap: Any, i: int, j: int,
                 endian: str, tsunit: float, counts: Any, buf: bytearray) -> Columns:
    """Columns of the chained ARP records i..j-1; rows that are no claim go to ``decode``.

    Fields are shifts and masks of whole columns of 32- and 64-bit words viewed
    on the gathered rows (no per-record work): the pcap header as four words in
    the file's byte order, the Ethernet addresses and the ARP body as
    big-endian 64-bit words.  Tagged records have their ARP body 4 bytes later:
    their words come from rows gathered 4 bytes further on.
    """
    h = head[i:j]
    tg = tagged[i:j]
    words = h[:, 32:64].view(">u8")  # bytes 32-39 | 40-47 | 48-55 | 56-63
    if tg.any():
        words = words.copy()
        words[tg] = rows[start[i:j][tg] + 4][:, 32:64].view(">u8")
    w4, w5, w6, w7 = words[:, 0], words[:, 1], words[:, 2], words[:, 3]
    op = (w4 >> _S16) & _M16  # bytes 36-37
    sha = ((w4 & _M16) << _S32) | (w5 >> _S32)  # bytes 38-43
    spa = w5 & _M32  # 44-47
    c = cap[i:j]
    ok = (((op == 1) | (op == 2)) & (spa != 0) & ((sha >> _S40) & _ONE == 0) & (sha != 0)
          & (c >= 42 + 4 * tg))
    m = j - i
    counts["total"] += m
    if not ok.all():
        for r in np.flatnonzero(~ok).tolist():
            p = int(start[i + r])
            sec, frac, capl, wlen = _hdr(buf, p, endian)
            kind = decode(LINKTYPE_ETHERNET, bytes(buf[p + 16:p + 16 + capl]), sec + frac * tsunit,
                          wlen)
            counts[kind if kind.__class__ is str else "claims"] += 1  # never a claim: see ok
        h, tg, w6, w7, op, sha, spa = h[ok], tg[ok], w6[ok], w7[ok], op[ok], sha[ok], spa[ok]
    counts["claims"] += len(h)
    times = h[:, :16].view(endian + "u4")  # sec, frac, caplen, wire length
    eth = h[:, 16:32].view(">u8")  # dst src[:2] | src[2:] type tci
    e0, e1 = eth[:, 0], eth[:, 1]
    return Columns(
        t=times[:, 0] + times[:, 1] * tsunit,
        vcode=np.where(tg, ((e1 & _M16) & 0x0FFF).astype(np.int64) + 1, 0),
        op=op.astype(np.int64),
        sha=sha.astype(np.int64),
        spa=spa.astype(np.int64),
        tha=(w6 >> _S16).astype(np.int64),  # 48-53
        tpa=(((w6 & _M16) << _S16) | (w7 >> _S48)).astype(np.int64),  # 54-57
        src=(((e0 & _M16) << _S32) | (e1 >> _S32)).astype(np.int64),
        dst=(e0 >> _S16).astype(np.int64),
        length=times[:, 3].astype(np.int64))


def _hdr(buf: bytearray, p: int, endian: str) -> tuple[int, int, int, int]:
    order = "little" if endian == "<" else "big"
    return tuple(int.from_bytes(buf[p + o:p + o + 4], order) for o in (0, 4, 8, 12))  # type: ignore[return-value]


# -- the fold -----------------------------------------------------------------------------------

def feed(c: Columns, tracker: OwnershipTracker) -> None:
    """Feed a chunk's claims to ``tracker``: folded per IP, or claim by claim where only that
    is exact (:attr:`ClaimBatch.exact`)."""
    b = fold(c, tracker)
    if b.exact:
        tracker.feed_all(c.claims())
    else:
        tracker.feed_batch(b)


def fold(c: Columns, tracker: OwnershipTracker) -> ClaimBatch:
    """Group a chunk's claims per IP for :meth:`~arpwatch_lb.core.tracker.OwnershipTracker.feed_batch`.

    Reads the tracker's reply table (the previous answer to each requester) to
    find duplicate-reply candidates; changes nothing in it.
    """
    m = len(c)
    b = ClaimBatch()
    if not m:
        return b
    t = c.t
    b.now, b.first, b.claims = float(t.max()), float(t.min()), m
    b.requests = int(np.count_nonzero(c.op == 1))
    b.gratuitous = int(np.count_nonzero(c.spa == c.tpa))
    b.mismatches = int(np.count_nonzero((c.src != c.sha) & (c.src != NO_MAC)))
    kc = (c.vcode << 32) | c.spa
    order = np.argsort(kc)  # not stable: what depends on claim order uses first/last below
    ks = kc[order]
    starts = np.flatnonzero(np.concatenate(([True], ks[1:] != ks[:-1])))
    ends = np.concatenate((starts[1:], [m]))
    sizes = ends - starts
    sha_s = c.sha[order]
    multi = np.add.reduceat(sha_s != np.repeat(sha_s[starts], sizes), starts) > 0
    req = np.add.reduceat((c.op == 1)[order], starts)
    grat = np.add.reduceat((c.spa == c.tpa)[order], starts)
    mism = np.add.reduceat(((c.src != c.sha) & (c.src != NO_MAC))[order], starts)
    first = np.minimum.reduceat(order, starts)  # the IP's first and last claim numbers
    last = np.maximum.reduceat(order, starts)
    # for the fingerprint of an IP's only MAC: its latest request's length, its replies
    odd = (c.op & 1) == 1
    asks = (c.spa != c.tpa) & odd
    latest = np.maximum.reduceat(np.where(asks[order], order, -1), starts)
    ask_len = np.where(latest >= 0, c.length[np.maximum(latest, 0)], 0)
    nrep = np.add.reduceat(((c.spa != c.tpa) & ~odd)[order], starts)
    # in order of their first claim, as claim by claim (new IPs enter the table in that order)
    by_first = np.argsort(first, kind="stable")
    one = by_first[~multi[by_first]]
    if len(one):
        f1 = first[one]
        keys = _keyed(c.vcode[f1], ips(c.spa[f1]))
        shas = macs(c.sha[f1])
        b.groups = list(zip(keys, shas, t[f1].tolist(), t[last[one]].tolist(),
                            sizes[one].tolist(), req[one].tolist(), grat[one].tolist(),
                            mism[one].tolist(), f1.tolist(), ask_len[one].tolist(),
                            nrep[one].tolist(), strict=True))
        answering = np.flatnonzero(nrep[one])
        if len(answering):
            b.answering = [(keys[i], shas[i]) for i in answering.tolist()]
    several = by_first[multi[by_first]]
    if len(several):
        f2 = first[several]
        keys = _keyed(c.vcode[f2], ips(c.spa[f2]))
        for g, key in zip(several.tolist(), keys, strict=True):
            rows = np.sort(order[starts[g]:ends[g]])  # this IP's claims in order
            b.mixed.append((key, list(zip(rows.tolist(), t[rows].tolist(), macs(c.sha[rows]),
                                          strict=True)),
                            int(req[g]), int(grat[g]), int(mism[g])))
    _tables(c, tracker, b)
    if len(several):
        in_multi = np.empty(m, bool)  # claims of IPs with several MACs, in claim order
        in_multi[order] = np.repeat(multi, sizes)
    else:
        in_multi = None
    _fingerprints(c, tracker, b, kc, in_multi)
    return b


def _fingerprints(c: Columns, tracker: OwnershipTracker, b: ClaimBatch, kc: Any,
                  in_multi: Any) -> None:
    """What the chunk tells the wire fingerprints (see :attr:`ClaimBatch.announcements`);
    requests and replies of IPs with one MAC in the chunk are in :attr:`ClaimBatch.groups`,
    those of the others (``in_multi``, None: none) here.

    Sets :attr:`ClaimBatch.exact` when a reply may need its length compared
    with its request's (a Cilium-shaped claimant): only the claim-by-claim
    path knows the requester's latest claim at that moment.
    """
    grat = c.spa == c.tpa
    if in_multi is not None:  # per (IP, MAC): its latest request's length, its replies
        r = np.flatnonzero(~grat & in_multi)
        if len(r):
            o, starts = _by_pair(r, kc, c.sha)
            odd = (c.op[o] & 1) == 1
            latest = np.maximum.reduceat(np.where(odd, o, -1), starts)
            nrep = np.add.reduceat(~odd, starts)
            f = o[starts]
            b.answers = list(zip(_keyed(c.vcode[f], ips(c.spa[f])), macs(c.sha[f]),
                                 np.where(latest >= 0, c.length[np.maximum(latest, 0)], 0).tolist(),
                                 nrep.tolist(), strict=True))
    g = np.flatnonzero(grat)
    if len(g):
        dst = c.dst[g]
        dsts: list[bytes | None] = macs(dst)
        if (dst == NO_MAC).any():  # no Ethernet header (claims of a cooked capture)
            dsts = [None if x == NO_MAC else m for x, m in zip(dst.tolist(), dsts, strict=True)]
        b.announcements = list(zip(_keyed(c.vcode[g], ips(c.spa[g])), macs(c.sha[g]),
                                   c.t[g].tolist(), c.op[g].tolist(), macs(c.tha[g]), dsts,
                                   c.length[g].tolist(), strict=True))
    answering = [*b.answering, *((k, m) for k, m, _, n in b.answers if n)]
    if answering:
        # Cilium's mark (Fingerprint.lencheck) starts only with an op=2 broadcast announcement
        # and ends with any other: the (IP, MAC)s whose first announcement here is one.
        a = g[((c.dst[g] >> 40) & 1) == 1] if len(g) else g  # announcements (unicast answers)
        if len(a):
            o, starts = _by_pair(a, kc, c.sha)
            o = o[starts]
            a = o[(c.op[o] == 2) & (c.tha[o] == _BCAST48)]
        announcing = set(zip(_keyed(c.vcode[a], ips(c.spa[a])), macs(c.sha[a]),
                             strict=True)) if len(a) else set()
        b.exact = tracker.may_compare_lengths(answering, announcing)


def _by_pair(rows: Any, kc: Any, sha: Any) -> tuple[Any, Any]:
    """``rows`` sorted by (VLAN and IP, MAC), claim order kept within a pair, and where each
    pair's run starts."""
    o = rows[np.lexsort((rows, sha[rows], kc[rows]))]
    k, m = kc[o], sha[o]
    return o, np.flatnonzero(np.concatenate(([True], (k[1:] != k[:-1]) | (m[1:] != m[:-1]))))


def _order(v: Any, code: Any, rows: Any) -> Any:
    """``rows`` sorted by (v, code), claim order kept within equal keys."""
    if not v.any():  # untagged only: one key
        return rows[np.argsort(code, kind="stable")]
    return rows[np.lexsort((rows, code, v))]


def _ends(v: Any, code: Any) -> Any:
    """For sorted keys: True where the next key differs (the last of each run)."""
    return np.concatenate((((v[1:] != v[:-1]) | (code[1:] != code[:-1])), [True]))


def _code(hi: Any, lo: Any) -> Any:
    return (hi.astype(np.uint64) << _S32) | lo.astype(np.uint64)


def _tables(c: Columns, tracker: OwnershipTracker, b: ClaimBatch) -> None:
    """Requests and replies: bulk table updates and duplicate-reply candidates."""
    nongrat = c.spa != c.tpa
    rq = np.flatnonzero(nongrat & (c.op == 1))
    rp = np.flatnonzero(nongrat & (c.op == 2))
    t = c.t
    lookup, keep = tracker.horizons(b.now)
    if len(rq):
        kept = rq[t[rq] >= keep]  # older ones would be pruned at the end of the chunk at once
        if len(kept):
            o = _order(c.vcode[kept], _code(c.tpa[kept], c.spa[kept]), kept)
            last = o[_ends(c.vcode[o], _code(c.tpa[o], c.spa[o]))]
            b.asked = list(zip(_keyed(c.vcode[last], _pairs(c.tpa[last], c.spa[last])),
                               t[last].tolist(), strict=True))
    if not len(rp):
        return
    w = tracker.dup_window
    rs = _order(c.vcode[rp], _code(c.spa[rp], c.tpa[rp]), rp)
    rv, rcode = c.vcode[rs], _code(c.spa[rs], c.tpa[rs])
    same = ~_ends(rv, rcode)[:-1]  # reply i+1 answers the same requester for the same IP as i
    sha_r, t_r = c.sha[rs], t[rs]
    inb = np.flatnonzero(same & (sha_r[1:] != sha_r[:-1]) & (t_r[1:] - t_r[:-1] <= w))
    cand_idx = rs[1:][inb].tolist()
    cand_prev = rs[:-1][inb].tolist()
    table_prev: dict[int, tuple[bytes, float]] = {}
    if tracker.answered:
        firsts = rs[np.concatenate(([True], ~same))]
        firsts = firsts[t[firsts] <= lookup]  # later ones cannot pair with anything in the table
        if len(firsts):
            fkeys = _keyed(c.vcode[firsts], _pairs(c.spa[firsts], c.tpa[firsts]))
            prevs = list(map(tracker.answered.get, fkeys))
            hits = [i for i, p in enumerate(prevs) if p is not None]
            if hits:
                fr = firsts[hits]
                for i, r, mac, tt in zip(hits, fr.tolist(), macs(c.sha[fr]), t[fr].tolist(),
                                         strict=True):
                    p = prevs[i]
                    if p[0] != mac and tt - p[1] <= w:  # type: ignore[index]
                        table_prev[r] = p  # type: ignore[assignment]
    last = rs[_ends(rv, rcode)]
    last = last[t[last] >= keep]
    b.answered = list(zip(_keyed(c.vcode[last], _pairs(c.spa[last], c.tpa[last])),
                          zip(macs(c.sha[last]), t[last].tolist(), strict=True), strict=True))
    if not cand_idx and not table_prev:
        return
    rows = np.array(sorted([*cand_idx, *table_prev]), np.int64)
    prev_of = dict(zip(cand_idx, cand_prev, strict=True))
    asked_in = _asked_before(c, rq, rows)
    keys = _keyed(c.vcode[rows], ips(c.spa[rows]))
    rks = _keyed(c.vcode[rows], _pairs(c.spa[rows], c.tpa[rows]))
    for r, key, rk, mac, tt, requester, ask in zip(rows.tolist(), keys, rks, macs(c.sha[rows]),
                                                   t[rows].tolist(), ips(c.tpa[rows]), asked_in,
                                                   strict=True):
        p = table_prev.get(r)
        if p is None:
            q = prev_of[r]
            p = (macs(c.sha[q:q + 1])[0], float(t[q]))
        b.candidates.append((r, key, rk, p[0], p[1], mac, tt, requester, ask))


def _asked_before(c: Columns, rq: Any, rows: Any) -> list[float | None]:
    """For each reply in ``rows``: the time of the latest earlier request in the chunk from its
    requester for its IP, or None."""
    rcode = _code(c.spa[rows], c.tpa[rows])
    if len(rq):  # only requests for what the candidates answer matter
        wanted = np.unique(rcode)
        qc = _code(c.tpa[rq], c.spa[rq])
        at = np.minimum(np.searchsorted(wanted, qc), len(wanted) - 1)
        rq = rq[wanted[at] == qc]
    if not len(rq):
        return [None] * len(rows)
    qv, rv = c.vcode[rq], c.vcode[rows]
    qcode = _code(c.tpa[rq], c.spa[rq])
    allv = np.concatenate((qv, rv))
    allc = np.concatenate((qcode, rcode))
    o = np.lexsort((allc, allv))
    change = np.concatenate(([True], (allv[o][1:] != allv[o][:-1]) | (allc[o][1:] != allc[o][:-1])))
    gid = np.empty(len(o), np.int64)
    gid[o] = np.cumsum(change) - 1
    span = len(c) + 1
    qcomp = gid[:len(rq)] * span + rq
    qo = np.argsort(qcomp)
    qsorted = qcomp[qo]
    want = gid[len(rq):] * span + rows
    pos = np.searchsorted(qsorted, want) - 1
    out: list[float | None] = []
    for p, g in zip(pos.tolist(), gid[len(rq):].tolist(), strict=True):
        if p >= 0 and int(qsorted[p]) // span == g:
            out.append(float(c.t[rq[qo[p]]]))
        else:
            out.append(None)
    return out
