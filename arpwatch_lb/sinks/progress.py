"""Progress on stderr for long work, only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Callable ``progress(done_bytes, total_bytes)`` that redraws one stderr line."""

    def __init__(self, label: str, stream: TextIO | None = None, every: float = 0.25) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.every = every
        self.enabled = self.stream.isatty()
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        pct = 100.0 * done / total if total else 0.0
        self.stream.write(f"\r{self.label}: {pct:5.1f}% ({done / 1e6:.1f} of {total / 1e6:.1f} MB)")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Erase the progress line."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
