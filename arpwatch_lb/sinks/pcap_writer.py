"""The pcap sink: frames seen live, written as a classic pcap file, rotated by size.

Link type Ethernet, nanosecond timestamps (magic ``0xa1b23c4d``), snap length
65535.  Files are ``FILE``, then ``FILE.1``, ``FILE.2``, ... each at most
``max_bytes`` long (a record is never split); ``arpwatch-lb replay FILE
FILE.*`` reads them back in time order.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from ..core.frames import LINKTYPE_ETHERNET

__all__ = ["PcapWriter"]

MAGIC_NS = 0xA1B23C4D
SNAPLEN = 65535
_HEADER = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")


class PcapWriter:
    """Append frames to ``path`` (and its rotations); ``max_bytes`` 0 = no rotation."""

    def __init__(self, path: str | Path, max_bytes: int = 0) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.files: list[Path] = []
        self.frames = 0
        self._fh: BinaryIO | None = None
        self._size = 0
        self._open_next()

    def _open_next(self) -> None:
        if self._fh is not None:
            self._fh.close()
        n = len(self.files)
        path = self.path if n == 0 else self.path.with_name(f"{self.path.name}.{n}")
        self._fh = open(path, "wb")  # noqa: SIM115 - closed by close()/rotation
        self._fh.write(_HEADER.pack(MAGIC_NS, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET))
        self._size = _HEADER.size
        self.files.append(path)

    def write(self, time: float, data: bytes, wire_length: int | None = None) -> None:
        """Write one frame captured at ``time`` (epoch seconds)."""
        assert self._fh is not None
        size = _RECORD.size + len(data)
        if self.max_bytes and self._size + size > self.max_bytes and self._size > _HEADER.size:
            self._open_next()
        sec = int(time)
        nsec = min(round((time - sec) * 1e9), 999_999_999)
        self._fh.write(_RECORD.pack(sec, nsec, len(data), wire_length or len(data)))
        self._fh.write(data)
        self._size += size
        self.frames += 1

    def flush(self) -> None:
        """Push buffered records to the file."""
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        """Flush and close the current file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
