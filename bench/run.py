"""Benchmark ``arpwatch-lb replay`` against tcpdump, tshark and arpwatch on the same captures.

    python bench/run.py [--frames N] [--repeat K] [--out bench/out]

Generates ``arp-N.pcap`` (all ARP), ``reply-N.pcap`` (a busy segment: 40 %
unicast replies), ``spray-N.pcap`` (gratuitous ARP from N distinct (VLAN, IP)
and MACs) and ``mixed-N.pcap`` (2 % ARP) with ``bench/gencap.py`` if they are
missing or stale, warms the page cache, runs
every tool once untimed (a check that it works, and for tshark an estimate of
its run time), then times K rounds.  Each round runs every tool on every file
in turn, so slow drifts of a noisy machine spread over all tools instead of
hitting one.  Per run: wall seconds (from spawn to reaping the child),
user+system CPU seconds and peak RSS from ``os.wait4``.

Prints a Markdown table and the target verdicts, and writes
``OUT/results.md`` and ``OUT/results.json``.  This is a benchmark, not a test:
the exit status is 0 whether or not the targets are met (2 on a broken setup).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gencap

REPO = Path(__file__).resolve().parent.parent
SUBSET = 100_000  # a slow peer's subset, in frames
SLOW_PEERS = ("tshark", "tcpdump-nn", "arpwatch")  # timed on a subset when the file would take long
TARGET_FPS = 1_000_000  # all-ARP file
TARGET_REPLY_FPS = 700_000  # reply-heavy file
TARGET_MIXED_VS_BPF = 3.0
TARGET_RSS = 200e6  # bytes, arp / mixed / reply
TARGET_SPRAY_S = 10.0  # the address spray: seconds ...
TARGET_SPRAY_RSS = 1e9  # ... and peak bytes
FILE_ORDER = {"arp": 0, "reply": 1, "spray": 2, "mixed": 3}
ARPWATCH_NETS = ("192.0.2.0/24", "198.51.100.0/24", "198.18.0.0/15")


# -- tools ---------------------------------------------------------------------


@dataclass
class Tool:
    key: str
    label: str  # as shown in the table
    command: str  # as shown in the notes, F = the capture
    argv: Callable[[Path, Path], list[str]]  # (capture, scratch dir) -> argv
    ok: tuple[int, ...] = (0,)
    available: bool = True
    why_not: str = ""
    notes: list[str] = field(default_factory=list)
    prepare: Callable[[Path], None] | None = None  # before every run: gets the scratch dir


def find(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")


def arpwatch_lb_exe() -> str | None:
    """The console script of this interpreter's environment (not a pyenv shim: no extra bash)."""
    here = Path(sys.executable).parent / "arpwatch-lb"
    return str(here) if here.exists() else find("arpwatch-lb")


def make_tools() -> list[Tool]:
    tools: list[Tool] = []
    lb = arpwatch_lb_exe()
    tools.append(Tool(
        "arpwatch-lb", "arpwatch-lb replay", "arpwatch-lb replay F --format json > /dev/null",
        lambda f, d: [lb or "arpwatch-lb", "replay", str(f), "--format", "json"],
        ok=(0, 1),  # 1 = some IP contested: expected, the captures contain flip-flops
        available=lb is not None, why_not="arpwatch-lb not installed"))
    tcpdump = find("tcpdump")
    tools.append(Tool(
        "tcpdump-bpf", "tcpdump BPF-only", "tcpdump -r F -w /dev/null arp",
        lambda f, d: [tcpdump or "tcpdump", "-r", str(f), "-w", "/dev/null", "arp"],
        available=tcpdump is not None, why_not="tcpdump not installed"))
    tools.append(Tool(
        "tcpdump-nn", "tcpdump -nn", "tcpdump -nn -r F > /dev/null",
        lambda f, d: [tcpdump or "tcpdump", "-nn", "-r", str(f)],
        available=tcpdump is not None, why_not="tcpdump not installed"))
    tshark = find("tshark")
    tools.append(Tool(
        "tshark", "tshark -T fields",
        "tshark -r F -T fields -e arp.src.hw_mac -e arp.src.proto_ipv4 -Y arp > /dev/null",
        lambda f, d: [tshark or "tshark", "-r", str(f), "-T", "fields", "-e", "arp.src.hw_mac",
                      "-e", "arp.src.proto_ipv4", "-Y", "arp"],
        available=tshark is not None, why_not="tshark not installed"))
    tools.append(arpwatch_tool())
    return tools


def arpwatch_tool() -> Tool:
    """LBL arpwatch reading a file: -Q no mail, -N no bogon reports, -n our nets, fresh arp.dat.

    It looks up the reverse DNS name of every address it reports (with or
    without -Q).  Run as root, it goes into an empty network namespace
    (``unshare -n``) where those lookups fail at once instead of waiting for a
    resolver.
    """
    exe = find("arpwatch")
    nets = [a for net in ARPWATCH_NETS for a in ("-n", net)]
    prefix: list[str] = []
    note = ""
    unshare = find("unshare")
    if exe and unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        prefix = [unshare, "-n"]
        note = ("arpwatch runs in an empty network namespace (`unshare -n`) so that its reverse DNS "
                "lookup per report fails at once; mail is off (-Q)")
    elif exe:
        note = ("could not make an empty network namespace (not root?): arpwatch does a reverse DNS "
                "lookup per report, so its time includes the resolver's")

    def prepare(scratch: Path) -> None:
        (scratch / "arp.dat").write_bytes(b"")  # arpwatch needs an existing (empty) database

    tool = Tool(
        "arpwatch", "arpwatch (LBL, Debian)",
        " ".join([*(["unshare -n"] if prefix else []), "arpwatch -Q -N -f TMP/arp.dat", *nets, "-r F"]),
        lambda f, d: [*prefix, exe or "arpwatch", "-Q", "-N", "-f", str(d / "arp.dat"), *nets, "-r", str(f)],
        available=exe is not None, why_not="arpwatch not installed", prepare=prepare)
    if note:
        tool.notes.append(note)
    tool.notes.append("Debian's arpwatch compiles the filter `(arp or rarp) and not vlan`: it skips "
                      "802.1Q-tagged frames, so it does less work than the other tools on those")
    return tool


# -- running -------------------------------------------------------------------


@dataclass
class Sample:
    wall: float
    cpu: float
    rss: int  # bytes
    rc: int
    err: str


# Peak RSS cannot come from os.wait4 on a child of this process: subprocess starts
# children with vfork, and Linux carries the hiwater RSS of the mm a process execs
# away from (here: this Python's) into its ru_maxrss.  GNU time forks from a small
# process, so its %M is the tool's own peak.
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_once(argv: Sequence[str], stdout: Any = subprocess.DEVNULL) -> Sample:
    """Spawn, wait with ``os.wait4``; the wall clock includes process start-up."""
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:
        wrap = [GNU_TIME, "-f", "%M", "-o", rss.name] if GNU_TIME else []
        t0 = time.perf_counter()
        p = subprocess.Popen([*wrap, *argv], stdin=subprocess.DEVNULL, stdout=stdout, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read()[-2000:].decode(errors="replace").strip()
        peak = ru.ru_maxrss * 1024
        if GNU_TIME:
            lines = [ln for ln in rss.read().splitlines() if ln.strip()]
            if lines and lines[-1].strip().isdigit():
                peak = int(lines[-1]) * 1024
            if lines and lines[0].startswith("Command exited with non-zero status"):
                tail = (tail + "\n" + lines[0]).strip()
    return Sample(wall, ru.ru_utime + ru.ru_stime, peak, p.returncode, tail)


def warm(paths: Sequence[Path]) -> None:
    """One untimed read of every file, so each tool reads from the page cache."""
    for path in paths:
        with open(path, "rb", buffering=0) as f:
            while f.read(1 << 22):
                pass


def subset_of(path: Path, frames: int) -> Path:
    """The first ``frames`` records of ``path`` (editcap, cached next to it)."""
    sub = path.with_name(f"{path.stem}.first{frames // 1000}k.pcap")
    fresh = sub.exists() and sub.stat().st_mtime >= path.stat().st_mtime
    if fresh:
        with open(sub, "rb") as f:
            fresh = f.read(4) == gencap.PCAP_HEADER[:4]  # pcap like its source, not pcapng
    if not fresh:
        editcap = find("editcap")
        if editcap is None:
            raise RuntimeError("editcap not installed (needed for tshark's subset)")
        tmp = sub.with_name(sub.name + ".part")
        subprocess.run([editcap, "-F", "pcap", "-r", str(path), str(tmp), f"1-{frames}"], check=True)
        tmp.replace(sub)
    return sub


@dataclass
class Job:
    """One tool on one file: what is run and the samples."""

    tool: Tool
    kind: str  # arp / reply / spray / mixed
    path: Path  # the file actually given to the tool
    frames: int  # frames in that file
    scale: float = 1.0  # walls are multiplied by this to stand for the full file
    samples: list[Sample] = field(default_factory=list)
    check: dict[str, Any] = field(default_factory=dict)

    def run(self, scratch: Path, stdout: Any = subprocess.DEVNULL) -> Sample:
        if self.tool.prepare:
            self.tool.prepare(scratch)
        s = run_once(self.tool.argv(self.path, scratch), stdout)
        if s.rc not in self.tool.ok:
            raise RuntimeError(f"{self.tool.label} on {self.path.name} exited {s.rc}: {s.err[-500:]}")
        return s


def fmt_ratio(other: float, lb: float) -> str:
    r = max(other, lb) / min(other, lb)
    x = f"{r:.2f}" if r < 2 else f"{r:.1f}"
    return f"{x}× slower" if other >= lb else f"{x}× faster"


def summarize(job: Job, full_frames: int) -> dict[str, Any]:
    walls = [s.wall for s in job.samples]
    best, med = min(walls), statistics.median(walls)
    return {
        "tool": job.tool.key, "label": job.tool.label, "file": job.kind, "path": str(job.path),
        "frames_run": job.frames, "frames_full": full_frames, "scaled_by": job.scale,
        "best_s": best * job.scale, "median_s": med * job.scale,
        "fps_best": job.frames / best, "fps_median": job.frames / med,
        "cpu_median_s": statistics.median(s.cpu for s in job.samples) * job.scale,
        "peak_rss_bytes": max(s.rss for s in job.samples),
        "walls_run_s": [round(w, 4) for w in walls],
        "check": job.check,
    }


# -- environment ---------------------------------------------------------------


def first_line(argv: Sequence[str]) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    out = (r.stdout or r.stderr).strip().splitlines()
    return out[0] if out else "?"


def environment(tools: Sequence[Tool]) -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    src = hashlib.sha256()
    for p in sorted((REPO / "arpwatch_lb").rglob("*.py")):
        src.update(p.relative_to(REPO).as_posix().encode() + b"\0" + p.read_bytes())
    rev = first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "arpwatch_lb"],
                           capture_output=True, text=True).stdout.strip() != ""
    versions = {}
    for t in tools:
        if not t.available:
            continue
        if t.key == "arpwatch-lb":
            versions[t.key] = first_line([t.argv(Path("x"), Path("x"))[0], "--version"])
        elif t.key.startswith("tcpdump"):
            versions["tcpdump"] = first_line([find("tcpdump") or "tcpdump", "--version"])
        elif t.key == "tshark":
            versions[t.key] = first_line([find("tshark") or "tshark", "--version"])
        elif t.key == "arpwatch":
            versions[t.key] = first_line(["dpkg-query", "-W", "-f", "${Package} ${Version}", "arpwatch"])
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "host": platform.node(),
        "cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version(),
        "kernel": platform.release(), "git": rev + ("+dirty (arpwatch_lb/)" if dirty else ""),
        "arpwatch_lb_sources_sha256": src.hexdigest()[:16], "versions": versions,
    }


# -- report --------------------------------------------------------------------


def targets(rows: dict[tuple[str, str], dict[str, Any]], frames: int) -> list[dict[str, Any]]:
    out = []
    lb = {kind: rows.get(("arpwatch-lb", kind)) for kind in FILE_ORDER}

    def verdict(name: str, best: bool | None, median: bool | None, detail: str) -> None:
        out.append({"target": name, "met": best, "met_on_median": median, "detail": detail})

    def faster_than_nn(kind: str, what: str) -> None:
        nn = rows.get(("tcpdump-nn", kind))
        mine = lb[kind]
        if mine and nn:
            verdict(f"faster than `tcpdump -nn -r` on the {what}",
                    mine["best_s"] < nn["best_s"], mine["median_s"] < nn["median_s"],
                    f"{mine['best_s']:.2f} s vs {nn['best_s']:.2f} s best = "
                    f"{mine['best_s'] / nn['best_s']:.2f}× its time "
                    f"({mine['median_s']:.2f} vs {nn['median_s']:.2f} median)")

    def at_least(kind: str, target: int, what: str) -> None:
        r = lb[kind]
        if r:
            verdict(f"≥ {target:,} {what}", r["fps_best"] >= target, r["fps_median"] >= target,
                    f"{r['fps_best']:,.0f} frames/s best, {r['fps_median']:,.0f} median")

    at_least("arp", TARGET_FPS, "ARP frames/s end-to-end on the all-ARP file")
    faster_than_nn("arp", "all-ARP file")
    at_least("reply", TARGET_REPLY_FPS, "frames/s on the reply-heavy file")
    faster_than_nn("reply", "reply-heavy file")
    bpf = rows.get(("tcpdump-bpf", "mixed"))
    mix = lb["mixed"]
    if mix and bpf:
        verdict(f"mixed file within {TARGET_MIXED_VS_BPF:g}× of tcpdump's BPF-only pass",
                mix["best_s"] <= TARGET_MIXED_VS_BPF * bpf["best_s"],
                mix["median_s"] <= TARGET_MIXED_VS_BPF * bpf["median_s"],
                f"{mix['best_s']:.2f} s vs {bpf['best_s']:.2f} s best = "
                f"{mix['best_s'] / bpf['best_s']:.1f}× "
                f"(median {mix['median_s'] / bpf['median_s']:.1f}×)")
    if lb["spray"]:
        sp = lb["spray"]
        verdict(f"the address spray in ≤ {TARGET_SPRAY_S:g} s",
                sp["best_s"] <= TARGET_SPRAY_S, sp["median_s"] <= TARGET_SPRAY_S,
                f"{sp['best_s']:.2f} s best, {sp['median_s']:.2f} s median "
                f"({sp['fps_best']:,.0f} frames/s)")
        verdict(f"the address spray in ≤ {TARGET_SPRAY_RSS / 1e9:g} GB peak RSS",
                sp["peak_rss_bytes"] <= TARGET_SPRAY_RSS, sp["peak_rss_bytes"] <= TARGET_SPRAY_RSS,
                f"{sp['peak_rss_bytes'] / 1e6:.0f} MB")
    faster_than_nn("spray", "address spray")
    small = [r for k, r in lb.items() if r and k != "spray"]
    if small:
        peak = max(r["peak_rss_bytes"] for r in small)
        verdict(f"peak memory < {TARGET_RSS / 1e6:.0f} MB (all but the spray)", peak < TARGET_RSS,
                peak < TARGET_RSS,
                f"{peak / 1e6:.1f} MB max RSS of arpwatch-lb ("
                + ", ".join(f"{r['file']} {r['peak_rss_bytes'] / 1e6:.1f} MB" for r in small) + ")")
    return out


def report_head(stream: Any) -> dict[str, Any]:
    """The top-level fields of a JSON report, read line by line past its (long) ``ips`` list."""
    head: dict[str, Any] = {}
    skipping = False
    for line in stream:
        text = line.decode() if isinstance(line, bytes) else line
        if skipping:
            skipping = text.rstrip() not in ("  ]", "  ],")
            continue
        if text.startswith('  "ips": ['):
            skipping = not text.rstrip().endswith(("[]", "[],"))
            continue
        if text.startswith('  "'):
            key, _, value = text.strip().rstrip(",").partition(": ")
            head[json.loads(key)] = json.loads(value)
    return head


def markdown(result: dict[str, Any]) -> str:
    env, rows = result["environment"], result["rows"]
    n = result["frames"]
    lines = [f"# arpwatch-lb replay benchmark — {n:,} frames per file", ""]
    lines.append(f"{env['date']}; {env['cpus']} CPUs ({env['cpu']}); Python {env['python']}; "
                 f"kernel {env['kernel']}; arpwatch-lb at git {env['git']} "
                 f"(sources sha256 {env['arpwatch_lb_sources_sha256']}); "
                 f"load average {result['load_before']} before, {result['load_after']} after.")
    lines.append("")
    for kind, f in result["files"].items():
        lines.append(f"- `{kind}`: `{f['path']}` — {f['frames']:,} frames ({f['arp_frames']:,} ARP), "
                     f"{f['bytes'] / 1e6:.1f} MB")
    rounds = f"{result['repeat']} timed round{'s' if result['repeat'] != 1 else ''}"
    lines += ["", f"{rounds} (round-robin over tools and files) after a warm-up read of each file and "
              "one untimed run of each tool. Times are wall seconds from spawn to exit (best = fastest "
              "round); frames/s = frames / best wall; CPU = user + system; peak RSS = the largest "
              f"over the rounds ({result['rss_source']}).", ""]
    lines.append("| file | tool | best s | median s | frames/s (best) | CPU s (median) | peak RSS MB "
                 "| vs arpwatch-lb (best) |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        star = " ¹" if r["scaled_by"] != 1 else ""
        lines.append(
            f"| {r['file']} | {r['label']}{star} | {r['best_s']:.2f} | {r['median_s']:.2f} | "
            f"{r['fps_best']:,.0f} | {r['cpu_median_s']:.2f} | {r['peak_rss_bytes'] / 1e6:.1f} | "
            f"{r.get('vs_lb', '')} |")
    notes = []
    if any(r["scaled_by"] != 1 for r in rows):
        notes.append(f"¹ the tool would take more than {result['tshark_budget_s']:.0f} s on the full "
                     f"file (estimated from an untimed run on the first {SUBSET:,} frames), so it was "
                     f"timed on those {SUBSET:,} frames (`editcap -F pcap -r F out 1-{SUBSET}`) and its "
                     "seconds (wall and CPU) were multiplied by the frame ratio; frames/s and RSS are as "
                     "measured on the subset.  A tool that slows down as it meets more addresses "
                     "(tcpdump's name tables on the spray) would take longer still.")
    notes += result["notes"]
    if notes:
        lines += [""] + [f"- {x}" for x in notes]
    lines += ["", "## Targets (judged on best times; median in brackets)", ""]
    for t in result["targets"]:
        mark = "MET" if t["met"] else "MISSED"
        med = "met" if t["met_on_median"] else "missed"
        lines.append(f"- **{mark}** — {t['target']}: {t['detail']} [median: {med}]")
    lines += ["", "## Commands", ""]
    lines += [f"- {c}" for c in result["commands"]]
    if result.get("profile"):
        lines += ["", "## Where arpwatch-lb spends its time (cProfile, all-ARP file, sorted by tottime)",
                  "", "```", result["profile"].rstrip(), "```"]
    return "\n".join(lines) + "\n"


def profile(exe_python: str, path: Path, out: Path, top: int = 25) -> str:
    """``python -m cProfile -m arpwatch_lb replay F --format json``: the top lines by tottime."""
    prof = out / "replay.prof"
    subprocess.run([exe_python, "-m", "cProfile", "-o", str(prof), "-m", "arpwatch_lb", "replay", str(path),
                    "--format", "json"], stdout=subprocess.DEVNULL, check=False, cwd=REPO)
    buf = StringIO()
    pstats.Stats(str(prof), stream=buf).sort_stats("tottime").print_stats(top)
    text = buf.getvalue()
    start = text.find("   ncalls")
    head = [ln for ln in text[:start].splitlines() if "function calls" in ln]
    return "\n".join(head) + "\n\n" + (text[start:] if start >= 0 else text)


# -- main ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Benchmark arpwatch-lb replay against tcpdump, tshark and "
                                 "arpwatch.")
    ap.add_argument("--frames", type=int, default=gencap.DEFAULT_FRAMES, help="frames per file (1,000,000)")
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds (3)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out", help="files and results (bench/out)")
    ap.add_argument("--seed", type=int, default=gencap.DEFAULT_SEED)
    ap.add_argument("--tools", default="", help="comma-separated subset of: arpwatch-lb, tcpdump-bpf, "
                    "tcpdump-nn, tshark, arpwatch")
    ap.add_argument("--tshark-budget", type=float, default=120.0,
                    help="seconds a slow peer (tshark, tcpdump -nn, arpwatch) may take on a full "
                         "file before it runs on a subset (120)")
    ap.add_argument("--profile", choices=("auto", "always", "never"), default="auto",
                    help="cProfile arpwatch-lb on the all-ARP file: when a target is missed (auto)")
    args = ap.parse_args(argv)
    if args.frames < 100 or args.repeat < 1:
        ap.error("--frames must be ≥ 100 and --repeat ≥ 1")
    out: Path = args.out.resolve()

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    files = gencap.ensure(out, args.frames, args.seed, log=say)
    tools = make_tools()
    if args.tools:
        wanted = {t.strip() for t in args.tools.split(",") if t.strip()}
        unknown = wanted - {t.key for t in tools}
        if unknown:
            ap.error(f"unknown tools: {', '.join(sorted(unknown))}")
        tools = [t for t in tools if t.key in wanted]
    notes: list[str] = []
    for t in tools:
        if not t.available:
            notes.append(f"{t.label}: not run — {t.why_not}")
    tools = [t for t in tools if t.available]
    if not any(t.key == "arpwatch-lb" for t in tools):
        say("arpwatch-lb is not available: nothing to compare against")
        return 2

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    scratch = Path(tempfile.mkdtemp(prefix="arpwatch-lb-bench-"))
    try:
        jobs: list[Job] = []
        for kind, (path, meta) in files.items():
            for t in tools:
                jobs.append(Job(t, kind, path, meta["frames"]))
        say("warming the page cache ...")
        warm([p for p, _ in files.values()])

        say("untimed check runs ...")
        for job in jobs:
            if job.tool.key in SLOW_PEERS and job.frames > SUBSET:
                sub = subset_of(job.path, SUBSET)
                warm([sub])
                s = Job(job.tool, job.kind, sub, SUBSET).run(scratch)
                estimate = s.wall * job.frames / SUBSET
                job.check["estimate_full_s"] = round(estimate, 1)
                if estimate > args.tshark_budget:
                    job.path, job.scale, job.frames = sub, job.frames / SUBSET, SUBSET
                say(f"  {job.tool.label} on {job.kind}: {s.wall:.1f} s for {SUBSET:,} frames -> "
                    f"about {estimate:.0f} s for the file; timing it on "
                    f"{'the subset' if job.scale != 1 else 'the full file'}")
                continue
            if job.tool.key == "arpwatch-lb":
                with tempfile.TemporaryFile() as f:
                    s = job.run(scratch, stdout=f)
                    f.seek(0)
                    report = report_head(f)  # the spray's report lists a million IPs
                fr = report["frames"]
                job.check = {"total": fr["total"], "claims": fr["claims"], "probes": fr["probe"],
                             "summary": report["summary"], "errors": report["errors"],
                             "warnings": report["warnings"], "exit_status": s.rc}
                if fr["total"] != job.frames or report["errors"]:
                    raise RuntimeError(f"arpwatch-lb read {fr['total']} of {job.frames} frames of "
                                       f"{job.path.name}: {report['errors']}")
            else:
                s = job.run(scratch)
                if job.tool.key == "arpwatch":
                    dat = (scratch / "arp.dat").read_text().splitlines()
                    job.check = {"arp_dat_entries": len(dat)}
            say(f"  {job.tool.label} on {job.kind}: {s.wall:.2f} s")

        for rnd in range(args.repeat):
            say(f"round {rnd + 1}/{args.repeat} ...")
            for job in jobs:
                s = job.run(scratch)
                job.samples.append(s)
                say(f"  {job.tool.label:24} {job.kind:5} {s.wall * job.scale:8.2f} s"
                    f"{' (scaled)' if job.scale != 1 else ''}  {s.rss / 1e6:7.1f} MB")
    except (RuntimeError, subprocess.CalledProcessError, OSError, ValueError) as exc:
        say(f"benchmark failed: {exc}")
        return 2
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())

    rows = [summarize(j, files[j.kind][1]["frames"]) for j in jobs]
    by = {(r["tool"], r["file"]): r for r in rows}
    for r in rows:
        lb = by[("arpwatch-lb", r["file"])]
        r["vs_lb"] = "—" if r["tool"] == "arpwatch-lb" else fmt_ratio(r["best_s"], lb["best_s"])
    order = {t.key: i for i, t in enumerate(tools)}
    rows.sort(key=lambda r: (FILE_ORDER.get(r["file"], 9), order[r["tool"]]))
    for t in tools:
        notes += t.notes
    for j in jobs:
        if j.tool.key == "arpwatch" and j.check and "arp_dat_entries" in j.check:
            notes.append(f"arpwatch on {j.kind}: {j.check['arp_dat_entries']:,} (IP, MAC) entries in arp.dat")
        if j.tool.key == "arpwatch-lb" and j.check:
            c = j.check
            ips = c["summary"]
            notes.append(f"arpwatch-lb on {j.kind}: {c['total']:,} frames read, {c['claims']:,} claims, "
                         f"{c['probes']:,} probes; {ips['ips']:,} IPs: {ips['contested']} contested, "
                         f"{ips['moved']} moved, {ips['ok']:,} ok; exit status {c['exit_status']}")
    notes.append("arpwatch-lb's exit status 1 means 'some IP contested' — expected here: every "
                 "capture contains flip-flopping VIPs")
    notes.append("the spray's addresses are (VLAN, IP) keys: 198.18.0.0/15 holds 131,072 "
                 "addresses, so the spray repeats them on VLANs 101-108 (87 % of its frames are "
                 "802.1Q-tagged, which Debian's arpwatch skips)")
    result: dict[str, Any] = {
        "schema": "arpwatch-lb/bench/1",
        "frames": args.frames, "repeat": args.repeat, "seed": args.seed,
        "environment": environment(tools), "load_before": load_before, "load_after": load_after,
        "files": {k: {"path": str(p), **{x: m[x] for x in ("frames", "arp_frames", "bytes", "kinds")}}
                  for k, (p, m) in files.items()},
        "commands": [f"`{t.command}`" for t in tools], "tshark_budget_s": args.tshark_budget,
        "rows": rows, "notes": notes,
        "rss_source": "GNU time %M" if GNU_TIME else
        "os.wait4 ru_maxrss: an upper bound, it includes this script's RSS at spawn time",
    }
    result["targets"] = targets(by, args.frames)
    missed = any(not t["met"] for t in result["targets"])
    if args.profile == "always" or (args.profile == "auto" and missed):
        say("profiling arpwatch-lb on the all-ARP file (cProfile) ...")
        result["profile"] = profile(sys.executable, files["arp"][0], out)
    text = markdown(result)
    (out / "results.md").write_text(text)
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    print(text)
    say(f"wrote {out / 'results.md'} and {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
