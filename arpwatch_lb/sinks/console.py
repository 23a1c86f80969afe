"""The last words of a command on stdout: the report, warnings and errors, a broken pipe survived."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from .json_report import render_json
from .table import render_table

__all__ = ["CLEAR", "print_report", "say"]

CLEAR = "\x1b[H\x1b[2J"


def say(level: str, lines: Iterable[str], err: TextIO | None = None) -> None:
    """``arpwatch-lb: <level>: <line>`` on stderr for each line."""
    err = err or sys.stderr
    for line in lines:
        err.write(f"arpwatch-lb: {level}: {line}\n")
    err.flush()


def print_report(report: Mapping[str, Any], fmt: str, out: TextIO | None = None) -> None:
    """Print the report as ``json`` (indented), ``jsonl`` (one line, the last of a stream)
    or ``table`` (after clearing a terminal that showed a live view).

    A reader that went away (``watch | head``) is not an error: stdout is
    pointed at /dev/null so that the interpreter's last flush stays quiet.
    """
    out = out or sys.stdout
    try:
        if fmt == "jsonl":
            out.write(json.dumps(report, separators=(",", ":")) + "\n")
        elif fmt == "json":
            out.write(render_json(report) + "\n")
        else:
            out.write((CLEAR if out.isatty() else "") + render_table(report) + "\n")
        out.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
