"""Ingest: decode → count → collect, the one step every source hands its frames to.

A source (a capture file, a live interface) knows where frames come from; it
does not decide what they are.  :func:`ingest` does, for one frame: decode it
with the reference decoder (:func:`arpwatch_lb.core.frames.decode`), count it
by kind in a :class:`FrameCounts`, and collect it if it is a claim.
:func:`ingest_many` does the same for a batch.

The Ethernet pcap reader keeps a specialised fast path for plain ARP
(:mod:`arpwatch_lb.sources.capture_files`); it tests claims with the
decoder's own constants (:data:`~arpwatch_lb.core.frames.PLAIN_ARP`,
:data:`~arpwatch_lb.core.frames.CLAIM_OPS`, ...), hands every frame it does
not recognise to :func:`classify`, and is property-tested against
:func:`ingest`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from .frames import Claim, VrrpAdvert, count_other, decode, malformed_counts

__all__ = ["FrameCounts", "classify", "ingest", "ingest_many"]


class FrameCounts(Counter):
    """Counts of frames by kind (``total``, ``claims``, ``non_arp``, ``malformed.<reason>``, ...)."""

    def malformed(self) -> dict[str, int]:
        """Malformed-frame counts by reason."""
        return malformed_counts(self)


def classify(linktype: int, data: bytes, time: float, wire_length: int,
             counts: Counter[str], out: list[Claim], adverts: list[VrrpAdvert]) -> bool:
    """Decode one frame; collect a claim into ``out`` (True), or count its kind and
    collect a VRRP advertisement into ``adverts`` (False).

    Neither ``total`` nor ``claims`` is counted: for callers that count those
    in bulk (the fast path).
    """
    r = decode(linktype, data, time, wire_length)
    if r.__class__ is Claim:
        out.append(r)  # type: ignore[arg-type]
        return True
    count_other(counts, r, adverts)  # type: ignore[arg-type]
    return False


def ingest(linktype: int, data: bytes, time: float, wire_length: int,
           counts: Counter[str], out: list[Claim], adverts: list[VrrpAdvert]) -> None:
    """Decode, count (``total``, ``claims`` or the frame's kind) and collect one frame
    (a claim into ``out``, a VRRP advertisement into ``adverts``)."""
    counts["total"] += 1
    if classify(linktype, data, time, wire_length, counts, out, adverts):
        counts["claims"] += 1


def ingest_many(linktype: int, frames: Iterable[tuple[float, bytes, int]],
                counts: Counter[str], out: list[Claim], adverts: list[VrrpAdvert]) -> int:
    """:func:`ingest` for ``(time, data, wire_length)`` frames; returns how many were read."""
    kinds: Counter[str] = Counter()
    before = len(out)
    n = 0
    for t, data, wire in frames:
        classify(linktype, data, t, wire, kinds, out, adverts)
        n += 1
    claims = len(out) - before
    counts.update(kinds, total=n, claims=claims)
    return n
