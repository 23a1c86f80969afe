"""The JSON-lines sink: one compact JSON object per line, flushed per line."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TextIO

__all__ = ["JsonLines"]


class JsonLines:
    """Write events (and, last, the report document) to ``stream``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lines = 0
        self.broken = False
        """The reader went away (EPIPE); later lines are discarded."""

    def write(self, obj: Mapping[str, Any]) -> None:
        """One object, one line."""
        if self.broken:
            return
        try:
            self.stream.write(json.dumps(obj, separators=(",", ":")) + "\n")
            self.stream.flush()
        except BrokenPipeError:
            self.broken = True
            return
        self.lines += 1
