"""Re-record the sample captures: ``python -m lab.record [--out pcaps] [SCENARIO ...]``.

For every scenario (all by default, in :data:`lab.scenarios.SCENARIOS` order)
it builds a fresh :class:`~lab.netlab.Lab`, runs the scenario while recording
into a temporary file, checks the recording (:meth:`Scenario.check`) and only
then moves it to ``<out>/<scenario>.pcap`` and writes
``<out>/<scenario>.expected-facts.json`` with the hand-written facts.  A
recording that fails its checks is left in its temporary directory (path
logged), the previous files in ``<out>`` stay untouched and the exit status
is 1.  Needs root.  Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from lab.netlab import Lab, LabError, cleanup_stale
from lab.scenarios import SCENARIOS
from lab.verify import tcpdump_text

__all__ = ["main", "record_one"]


def _log(msg: str) -> None:
    print(f"[lab.record] {msg}", file=sys.stderr, flush=True)


def record_one(name: str, out: Path, show: bool = False) -> bool:
    """Record scenario ``name`` into ``out``; return True if it was accepted.

    The capture is written in a private temporary directory and moved into
    ``out`` only once it passed its checks, so readers of ``out`` (tests,
    a concurrent replay) never see a half-written or rejected recording.
    """
    func = SCENARIOS[name]
    final = out / f"{name}.pcap"
    workdir = Path(tempfile.mkdtemp(prefix=f"awlb-record-{name}-"))
    tmp = workdir / f"{name}.pcap"
    started = time.monotonic()
    try:
        with Lab() as lab:
            scenario = func(lab, tmp)
        problems = scenario.check(tmp)
        if show:
            sys.stderr.write(tcpdump_text(tmp))
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    elapsed = time.monotonic() - started
    if problems:
        _log(f"{name}: REJECTED ({scenario.frames} frames, kept as {tmp}):")
        for p in problems:
            _log(f"    {p}")
        return False
    shutil.move(tmp, final)
    shutil.rmtree(workdir, ignore_errors=True)
    scenario.pcap = final
    facts = out / f"{name}.expected-facts.json"
    facts.write_text(json.dumps(scenario.expected_facts(), indent=2) + "\n")
    verdicts = ", ".join(
        f"{e.ip}{'' if e.vlan is None else f'@vlan{e.vlan}'}={e.verdict}" for e in scenario.ips
    )
    _log(
        f"{name}: {scenario.frames} frames in {scenario.seconds:.1f} s recording "
        f"({elapsed:.1f} s total) -> {final}; {verdicts}"
    )
    return True


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    ap = argparse.ArgumentParser(prog="python -m lab.record", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("pcaps"), help="output directory (pcaps)")
    ap.add_argument("--show", action="store_true", help="print tcpdump -nn -e of each recording")
    ap.add_argument("--list", action="store_true", help="list scenario names and exit")
    ap.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=f"scenarios to record (default all: {', '.join(SCENARIOS)})",
    )
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(SCENARIOS))
        return 0
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    signal.signal(signal.SIGTERM, _on_term)
    names = args.scenarios or list(SCENARIOS)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        stale = cleanup_stale()
        if stale:
            _log(f"removed stale namespaces: {' '.join(stale)}")
    except LabError as exc:
        _log(f"lab error: {exc}")
        return 2
    failed = []
    for name in names:
        _log(f"{name}: recording ...")
        try:
            ok = record_one(name, args.out, show=args.show)
        except LabError as exc:
            _log(f"{name}: FAILED: {exc}")
            ok = False
        if not ok:
            failed.append(name)
    _log(
        f"done in {time.monotonic() - started:.1f} s; "
        + (f"FAILED: {' '.join(failed)}" if failed else f"{len(names)} recorded")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
