"""The replay source: capture files, merged in time order, fed to the core."""

from __future__ import annotations

import gc
import heapq
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any

from ..core.tracker import OwnershipTracker
from ..sources.capture_files import CaptureReader, FrameCounts

__all__ = ["ReplayResult", "replay"]

MERGE_BATCH = 65536  # claims handed to the tracker at once when merging several files


@dataclass
class ReplayResult:
    """What a replay gathered besides the tracker's state."""

    counts: FrameCounts
    sources: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def replay(paths: Sequence[str | Path], tracker: OwnershipTracker,
           progress: Callable[[int, int], None] | None = None) -> ReplayResult:
    """Feed every claim of ``paths`` to ``tracker`` in time order.

    Opens every file first, so an unreadable one fails (CaptureError) before
    any work.  Problems met while reading (truncation, corruption) end up in
    the result's ``warnings``/``errors``; everything read before them counts.
    ``progress(done_bytes, total_bytes)`` is called as the files are read.
    """
    counts = FrameCounts()
    sizes = [_size(p) for p in paths]
    total = sum(sizes)
    done = [0] * len(paths)

    def tick(i: int) -> Callable[[int], None]:
        def report(pos: int) -> None:
            done[i] = pos
            progress(sum(done), total)  # type: ignore[misc]
        return report

    readers: list[CaptureReader] = []
    try:
        for i, p in enumerate(paths):
            readers.append(CaptureReader(p, counts, tick(i) if progress else None))
    except BaseException:
        for r in readers:
            r.close()
        raise
    with _fewer_gc_passes():
        if len(readers) == 1:
            reader = readers[0]
            # An Ethernet pcap comes as columns (sources.columns, numpy), folded per IP.
            for batch in reader.column_batches():
                if batch.__class__ is list:
                    tracker.feed_all(batch)  # type: ignore[arg-type]
                else:
                    from ..sources.columns import feed

                    feed(batch, tracker)  # type: ignore[arg-type]
                if reader.adverts:
                    tracker.feed_adverts(reader.take_adverts())
        else:
            merged = heapq.merge(*readers, key=itemgetter(0))
            while batch := list(islice(merged, MERGE_BATCH)):
                tracker.feed_all(batch)
                _feed_adverts(readers, tracker)
            _feed_adverts(readers, tracker)
    result = ReplayResult(counts)
    for r in readers:
        result.sources.append({"path": str(r.path), "format": r.format,
                               "compressed": r.compressed,
                               "unsupported_linktypes": sorted(r.unsupported)})
        result.warnings += r.warnings
        if r.error:
            result.errors.append(r.error)
    return result


def _feed_adverts(readers: Sequence[CaptureReader], tracker: OwnershipTracker) -> None:
    """Hand the VRRP adverts the readers met so far to the tracker, in time order."""
    adverts = [a for r in readers if r.adverts for a in r.take_adverts()]
    if adverts:
        adverts.sort(key=itemgetter(0))
        tracker.feed_adverts(adverts)


@contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Run the cyclic GC less often while claims stream through.

    A chunk yields tens of thousands of short-lived claim tuples; with the
    default threshold (700 allocations) the collector walks them again and
    again, which costs a third of the replay time.  Nothing here makes cycles.
    """
    old = gc.get_threshold()
    gc.set_threshold(200_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _size(path: str | Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
