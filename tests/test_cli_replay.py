"""``arpwatch-lb replay`` end to end: click's CliRunner, and the installed console script
in a subprocess (what a user runs: exit status, one-line errors, never a traceback).

Captures are built here from known claims, so expected counts, times and
verdicts come from how they were built.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pcapgen as g
import pytest
from click.testing import CliRunner
from conftest import BROADCAST, ETH_ARP, ETH_IPV4, TPID_8021Q, arp, ether, ip, mac, unprivileged

from arpwatch_lb.cli import cli
from arpwatch_lb.core.announcers import WIRE_KINDS

A = mac("02:00:5e:10:00:01")
B = mac("02:00:5e:10:00:02")
CLIENT = mac("02:00:5e:10:00:10")
VIP = "192.0.2.103"
CLIENT_IP = "192.0.2.10"
T0 = 1_795_832_880
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def garp(sha: bytes, vip: str = VIP, op: int = 1, vlan: int | None = None) -> bytes:
    tags = ((TPID_8021Q, vlan),) if vlan is not None else ()
    return ether(BROADCAST, sha, ETH_ARP, arp(op, sha, ip(vip), BROADCAST, ip(vip)), tags=tags)


def capture(tmp_path: Path, name: str, frames: list[tuple[float, bytes]], *, fmt: str = "pcap",
            gz: bool = False) -> Path:
    """Write (time, frame) pairs; times are multiples of 1 ms from T0."""
    if fmt == "pcap":
        content = g.pcap([g.Packet(f, T0 + round(t * 1000) // 1000, round(t * 1000) % 1000 * 1000)
                          for t, f in frames])
    else:
        content = g.pcapng(g.shb(), g.idb(g.LINKTYPE_ETHERNET, tsresol=9),
                           *[g.epb(0, (T0 * 1000 + round(t * 1000)) * 10**6, f) for t, f in frames])
    return g.write(tmp_path / name, content, gz=gz)


def healthy_frames() -> list[tuple[float, bytes]]:
    """A owns the VIP: 3 GARPs, then answers the client twice; some IPv4 noise."""
    out = [(0.0, garp(A)), (1.0, garp(A)), (2.0, garp(A))]
    for t in (5.0, 6.0):
        out.append((t, ether(BROADCAST, CLIENT, ETH_ARP,
                             arp(1, CLIENT, ip(CLIENT_IP), b"\x00" * 6, ip(VIP)))))
        out.append((t + 0.001, ether(CLIENT, A, ETH_ARP,
                                     arp(2, A, ip(VIP), CLIENT, ip(CLIENT_IP)), pad=42)))
    out.append((7.0, ether(CLIENT, A, ETH_IPV4, bytes(40))))
    return out


def fight_frames(n: int = 10, step: float = 2.0) -> list[tuple[float, bytes]]:
    """A and B alternate GARPs for the VIP every ``step`` s (MetalLB op=1 / kube-vip op=2)."""
    return [(i * step, garp(A, op=1) if i % 2 == 0 else garp(B, op=2)) for i in range(n)]


# -- running it ---------------------------------------------------------------------------------

def run_cli(*args: str | Path) -> tuple[int, str, str]:
    """Through click's CliRunner (in process)."""
    r = CliRunner().invoke(cli, ["replay", *map(str, args)])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


EXE = shutil.which("arpwatch-lb")


def run_exe(*args: str | Path, unprivileged_user: bool = False) -> tuple[int, str, str]:
    """Through the installed console script, as a user would."""
    assert EXE, "the arpwatch-lb console script is not installed (pip install -e .)"
    argv = [EXE, "replay", *map(str, args)]
    if unprivileged_user:
        argv = unprivileged(argv)
    env = {k: v for k, v in os.environ.items() if k != "ARPWATCH_LB_DEBUG"}
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    return p.returncode, p.stdout, p.stderr


RUNNERS = [pytest.param(run_cli, id="clirunner"), pytest.param(run_exe, id="subprocess")]


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("arpwatch-lb: error: "), lines[0]
    return lines[0]


# -- exit status 0 and 1 ------------------------------------------------------------------------

@pytest.mark.parametrize("run", RUNNERS)
def test_healthy_capture_exit_0(tmp_path: Path, run) -> None:
    path = capture(tmp_path, "ok.pcap", healthy_frames())
    code, out, err = run(path, "--format", "json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert {(e["ip"], e["verdict"]) for e in report["ips"]} == {(VIP, "ok"), (CLIENT_IP, "ok")}
    code, out, err = run(path)
    assert (code, err) == (0, "")
    assert VIP in out and "OK" in out


@pytest.mark.parametrize("run", RUNNERS)
def test_contested_capture_exit_1(tmp_path: Path, run) -> None:
    path = capture(tmp_path, "fight.pcap", fight_frames())
    code, out, err = run(path, "--format", "json")
    assert (code, err) == (1, "")
    (entry,) = json.loads(out)["ips"]
    assert (entry["ip"], entry["verdict"], entry["changes"], entry["flip_flops"]) == (
        VIP, "contested", 9, 8)
    code, out, _ = run(path)
    assert code == 1 and "CONTESTED" in out and "owner timelines" in out


@pytest.mark.parametrize("run", RUNNERS)
def test_fight_slower_than_the_window_is_a_failover(tmp_path: Path, run) -> None:
    path = capture(tmp_path, "slow.pcap", fight_frames(n=4, step=61.0))
    code, out, _ = run(path, "--format", "json")
    assert code == 0 and json.loads(out)["ips"][0]["verdict"] == "moved"
    code, out, _ = run(path, "--format", "json", "--window", "200")
    assert code == 1 and json.loads(out)["ips"][0]["verdict"] == "contested"


@pytest.mark.parametrize("run", RUNNERS)
def test_unclaimed_vip_exit_1(tmp_path: Path, run) -> None:
    path = capture(tmp_path, "ok.pcap", healthy_frames())
    code, out, err = run(path, "--vip", "192.0.2.99", "--format", "json")
    assert (code, err) == (1, "")
    (entry,) = json.loads(out)["ips"]
    assert (entry["ip"], entry["verdict"], entry["owner"], entry["claimants"]) == (
        "192.0.2.99", "unclaimed", None, [])
    # a claimed VIP plus a pool range with free addresses: healthy
    code, out, _ = run(path, "--vip", f"{VIP},192.0.2.96/28", "--format", "json")
    assert code == 0
    assert [e["ip"] for e in json.loads(out)["ips"]] == [VIP]


# -- exit status 2 ------------------------------------------------------------------------------

def _bad_inputs(tmp_path: Path) -> dict[str, list[str]]:
    good = str(capture(tmp_path, "ok.pcap", healthy_frames()))
    empty = g.write(tmp_path / "empty.pcap", b"")
    junk = g.write(tmp_path / "junk.pcap", random.Random(5).randbytes(4096))
    header = g.write(tmp_path / "header.pcap", g.pcap([])[:14])
    return {
        "missing file": [str(tmp_path / "nope.pcap")],
        "empty file": [str(empty)],
        "random bytes": [str(junk)],
        "truncated header": [str(header)],
        "a directory": [str(tmp_path)],
        "no files": [],
        "bad --vip": [good, "--vip", "300.1.1.1"],
        "bad --vip word": [good, "--vip", "vip"],
        "--vip range too large": [good, "--vip", "10.0.0.0/8"],
        "negative --window": [good, "--window", "-1"],
        "bad --window": [good, "--window", "soon"],
        "bad --format": [good, "--format", "xml"],
        "one good file, one missing": [good, str(tmp_path / "nope.pcap")],
    }


CASES = ["missing file", "empty file", "random bytes", "truncated header", "a directory",
         "no files", "bad --vip", "bad --vip word", "--vip range too large", "negative --window",
         "bad --window", "bad --format", "one good file, one missing"]


@pytest.mark.parametrize("case", CASES)
def test_exit_2_clirunner(tmp_path: Path, case: str) -> None:
    code, _, err = run_cli(*_bad_inputs(tmp_path)[case])
    assert code == 2
    assert "Traceback" not in err


@pytest.mark.parametrize("case", CASES)
def test_exit_2_one_line_on_stderr(tmp_path: Path, case: str) -> None:
    args = _bad_inputs(tmp_path)[case]
    code, _, err = run_exe(*args)
    assert code == 2
    line = one_error_line(err)
    if case in ("missing file", "empty file", "random bytes", "a directory"):
        assert args[0] in line
    if case == "truncated header":  # reading had started: the (empty) report is still printed
        code, out, err = run_exe(*args, "--format", "json")
        assert code == 2 and json.loads(out)["errors"] == [
            one_error_line(err).removeprefix("arpwatch-lb: error: ")]


def test_unreadable_file_exit_2(unreadable_file: Path) -> None:
    code, _, err = run_exe(unreadable_file, unprivileged_user=True)
    assert code == 2
    line = one_error_line(err)
    assert str(unreadable_file) in line


def test_help_exit_0() -> None:
    code, out, err = run_exe("--help")
    assert code == 0 and err == "" and "--window" in out and "Exit status" in out


# -- truncation and corruption --------------------------------------------------------------

@pytest.mark.parametrize("run", RUNNERS)
def test_truncated_last_record_still_reports(tmp_path: Path, run) -> None:
    path = capture(tmp_path, "cut.pcap", fight_frames())
    data = path.read_bytes()
    path.write_bytes(data[:-20])  # the last record loses 20 of its 60 bytes
    code, out, err = run(path, "--format", "json")
    assert code == 1  # the 9 frames before it are a fight
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("arpwatch-lb: warning: ")
    assert "truncated" in lines[0] and str(path) in lines[0]
    report = json.loads(out)
    assert report["warnings"] == [lines[0].removeprefix("arpwatch-lb: warning: ")]
    assert report["errors"] == []
    assert report["frames"]["truncated"] == 1 and report["frames"]["total"] == 9
    assert report["ips"][0]["frames"] == 9


@pytest.mark.parametrize("run", RUNNERS)
def test_corrupt_record_mid_file_exit_2_with_report(tmp_path: Path, run) -> None:
    path = capture(tmp_path, "corrupt.pcap", healthy_frames())
    data = bytearray(path.read_bytes())
    third = 24 + 2 * (16 + 60)
    data[third + 8:third + 12] = b"\xff\xff\xff\x7f"  # captured length 2 GiB
    path.write_bytes(bytes(data))
    code, out, err = run(path, "--format", "json")
    assert code == 2
    line = one_error_line(err)
    assert "corrupt" in line and str(path) in line
    report = json.loads(out)
    assert report["frames"]["total"] == 2 and report["ips"][0]["frames"] == 2
    assert report["errors"] == [line.removeprefix("arpwatch-lb: error: ")]


# -- the JSON report ---------------------------------------------------------------------------

def check_schema(report: dict) -> None:
    """The fields report.py and the README promise, with their types and formats."""
    def is_time(x: object) -> bool:
        return isinstance(x, float | int) and not isinstance(x, bool) and 1e9 < x < 4e9

    def is_mac(x: object) -> bool:
        return isinstance(x, str) and bool(MAC_RE.match(x))

    assert report["schema"] == "arpwatch-lb/report/2"
    assert report["mode"] == "replay"
    assert isinstance(report["window"], float) and isinstance(report["duplicate_window"], float)
    assert isinstance(report["vips"], list)
    if report["first_time"] is not None:
        assert is_time(report["first_time"]) and is_time(report["last_time"])
        assert report["first_time"] <= report["last_time"]
    summary = report["summary"]
    assert set(summary) == {"ips", "contested", "unclaimed", "moved", "ok"}
    assert summary["ips"] == len(report["ips"]) == sum(
        summary[v] for v in ("contested", "unclaimed", "moved", "ok"))
    order = {"contested": 0, "unclaimed": 1, "moved": 2, "ok": 3}
    assert [order[e["verdict"]] for e in report["ips"]] == sorted(
        order[e["verdict"]] for e in report["ips"])
    for e in report["ips"]:
        assert re.match(r"^\d+\.\d+\.\d+\.\d+$", e["ip"])
        assert e["vlan"] is None or isinstance(e["vlan"], int)
        assert e["inner_vlan"] is None or isinstance(e["inner_vlan"], int)
        assert e["verdict"] in order
        for k in ("changes", "flip_flops", "duplicate_replies", "frames", "requests", "replies",
                  "gratuitous", "eth_mismatch"):
            assert isinstance(e[k], int) and e[k] >= 0, k
        assert isinstance(e["timeline_complete"], bool)
        assert e["announcer_hint"] is None or isinstance(e["announcer_hint"], str)
        if e["verdict"] == "unclaimed":
            assert e["owner"] is None and e["claimants"] == [] and e["frames"] == 0
            continue
        assert is_mac(e["owner"]) and is_time(e["owner_since"])
        assert is_time(e["first_seen"]) and is_time(e["last_seen"])
        assert e["requests"] + e["replies"] == e["frames"]
        assert sum(c["frames"] for c in e["claimants"]) == e["frames"]
        for c in e["claimants"]:
            assert is_mac(c["mac"]) and isinstance(c["frames"], int) and c["frames"] > 0
            assert is_time(c["first_seen"]) and is_time(c["last_seen"])
            assert c["first_seen"] <= c["last_seen"]
            assert isinstance(c["runs"], int) and c["runs"] >= 1
            assert isinstance(c["host_ips"], list) and isinstance(c["other_ips"], int)
            assert set(c["announcer"]) == {"kind", "evidence"}
            assert c["announcer"]["kind"] in WIRE_KINDS and c["announcer"]["evidence"]
        assert [c["first_seen"] for c in e["claimants"]] == sorted(
            c["first_seen"] for c in e["claimants"])
        for r in e["timeline"]:
            assert is_mac(r["mac"]) and is_time(r["first"]) and is_time(r["last"])
            assert isinstance(r["frames"], int)
        assert e["timeline"][-1]["mac"] == e["owner"]
        for k in ("first_flip_flop", "last_flip_flop"):
            assert e[k] is None or is_time(e[k])
    f = report["frames"]
    for k in ("total", "claims", "probe", "rarp", "arp_other", "non_arp", "unsupported_linktype",
              "truncated", "requests", "replies", "gratuitous", "eth_mismatch"):
        assert isinstance(f[k], int) and f[k] >= 0, k
    assert isinstance(f["malformed"], dict)
    assert f["requests"] + f["replies"] == f["claims"]
    assert f["total"] == sum(f[k] for k in ("claims", "probe", "rarp", "arp_other", "non_arp",
                                            "unsupported_linktype")) + sum(f["malformed"].values())
    for s in report["sources"]:
        assert set(s) >= {"path", "format", "compressed", "unsupported_linktypes"}
    assert isinstance(report["warnings"], list) and isinstance(report["errors"], list)
    assert set(report["vrrp"]) == {"adverts", "virtual_routers"}
    assert isinstance(report["vrrp"]["adverts"], int)
    for vr in report["vrrp"]["virtual_routers"]:
        assert 1 <= vr["vrid"] <= 255 and isinstance(vr["split_brain"], bool)
        for src in vr["sources"]:
            assert set(src) == {"ip", "mac", "priority", "resigned", "interval", "adverts",
                                "first_seen", "last_seen"}


def replay_json(*args: str | Path) -> dict:
    code, out, _ = run_cli(*args, "--format", "json")
    assert code in (0, 1)
    report = json.loads(out)
    check_schema(report)
    return report


def test_json_report_of_a_fight(tmp_path: Path) -> None:
    frames = [*fight_frames(n=7, step=1.5), (20.0, garp(A, vip="192.0.2.11"))]
    report = replay_json(capture(tmp_path, "fight.pcap", frames))
    assert report["summary"] == {"ips": 2, "contested": 1, "unclaimed": 0, "moved": 0, "ok": 1}
    e = report["ips"][0]
    assert (e["ip"], e["vlan"], e["inner_vlan"], e["owner"]) == (VIP, None, None, "02:00:5e:10:00:01")
    assert e["claimants"] == [
        {"mac": "02:00:5e:10:00:01", "frames": 4, "first_seen": T0 + 0.0, "last_seen": T0 + 9.0,
         "runs": 4, "host_ips": ["192.0.2.11"], "other_ips": 1,
         "announcer": {"kind": "kube-vip", "evidence": "GARP op1 every 3.0 s (4 seen)"}},
        {"mac": "02:00:5e:10:00:02", "frames": 3, "first_seen": T0 + 1.5, "last_seen": T0 + 7.5,
         "runs": 3, "host_ips": [], "other_ips": 0,
         "announcer": {"kind": "unknown", "evidence": "no distinctive evidence: 3 GARPs: 3 op2 "
                       "(target MAC broadcast), no known announcer's shape or cadence"}},
    ]
    assert (e["changes"], e["flip_flops"], e["duplicate_replies"]) == (6, 5, 0)
    assert (e["requests"], e["replies"], e["gratuitous"]) == (4, 3, 7)
    assert (e["first_seen"], e["last_seen"], e["owner_since"]) == (T0, T0 + 9.0, T0 + 9.0)
    assert (e["first_flip_flop"], e["last_flip_flop"]) == (T0 + 3.0, T0 + 9.0)
    assert [(r["mac"][-2:], r["first"] - T0, r["frames"]) for r in e["timeline"]] == [
        ("01", 0.0, 1), ("02", 1.5, 1), ("01", 3.0, 1), ("02", 4.5, 1), ("01", 6.0, 1),
        ("02", 7.5, 1), ("01", 9.0, 1)]
    assert e["timeline_complete"] is True
    assert (report["first_time"], report["last_time"]) == (T0, T0 + 20.0)
    assert report["frames"] == {
        "total": 8, "claims": 8, "probe": 0, "rarp": 0, "arp_other": 0, "non_arp": 0,
        "unsupported_linktype": 0, "truncated": 0, "requests": 5, "replies": 3, "gratuitous": 8,
        "eth_mismatch": 0, "malformed": {}}
    assert report["window"] == 60.0 and report["duplicate_window"] == 1.0


def test_json_times_have_microsecond_precision(tmp_path: Path) -> None:
    path = g.write(tmp_path / "us.pcap", g.pcap([g.Packet(garp(A), T0, 123_456),
                                                  g.Packet(garp(A), T0 + 1, 999_999)]))
    e = replay_json(path)["ips"][0]
    assert (e["first_seen"], e["last_seen"]) == (1795832880.123456, 1795832881.999999)


def test_json_vlans_and_duplicate_replies(tmp_path: Path) -> None:
    asks = ether(BROADCAST, CLIENT, ETH_ARP, arp(1, CLIENT, ip(CLIENT_IP), b"\x00" * 6, ip(VIP)),
                 tags=((TPID_8021Q, 7),))

    def answer(sha: bytes) -> bytes:
        return ether(CLIENT, sha, ETH_ARP, arp(2, sha, ip(VIP), CLIENT, ip(CLIENT_IP)),
                     tags=((TPID_8021Q, 7),))
    frames = [(0.0, garp(A, vlan=100)), (0.5, garp(B, vlan=200)), (1.0, garp(A, vlan=100)),
              (2.0, asks), (2.001, answer(A)), (2.002, answer(B))]
    report = replay_json(capture(tmp_path, "vlans.pcapng", frames, fmt="pcapng"))
    got = {(e["vlan"], e["ip"]): (e["verdict"], e["duplicate_replies"]) for e in report["ips"]}
    assert got == {(100, VIP): ("ok", 0), (200, VIP): ("ok", 0), (7, VIP): ("contested", 1),
                   (7, CLIENT_IP): ("ok", 0)}
    assert report["sources"][0]["format"] == "pcapng"


# -- several files ---------------------------------------------------------------------------

def _without_sources(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "sources"}


@pytest.mark.parametrize(("fmt2", "gz2"), [("pcap", False), ("pcapng", True)])
def test_several_files_merge_in_time_order(tmp_path: Path, fmt2: str, gz2: bool) -> None:
    """Claims interleaved across two files (one per node) give the report of one file."""
    frames = fight_frames(n=12, step=0.75) + [(t + 0.3, f) for t, f in healthy_frames()]
    assert len({t for t, _ in frames}) == len(frames)  # no ties: one order only
    frames.sort(key=lambda tf: tf[0])
    whole = replay_json(capture(tmp_path, "all.pcap", frames))
    node_a = capture(tmp_path, "a.pcap", frames[0::2])
    node_b = capture(tmp_path, f"b.{fmt2}", frames[1::2], fmt=fmt2, gz=gz2)
    merged = replay_json(node_a, node_b)
    assert _without_sources(merged) == _without_sources(whole)
    assert _without_sources(replay_json(node_b, node_a)) == _without_sources(whole)
    assert [s["path"] for s in merged["sources"]] == [str(node_a), str(node_b)]
    assert merged["sources"][1]["compressed"] is gz2
    assert whole["ips"][0]["verdict"] == "contested" and whole["frames"]["total"] == len(frames)


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    path = capture(tmp_path, "fight.pcap", fight_frames())
    p = subprocess.run([sys.executable, "-m", "arpwatch_lb", "replay",
                        str(path)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "CONTESTED" in p.stdout and p.stderr == ""


@pytest.mark.parametrize("gz", [False, True], ids=["pcap", "pcap.gz"])
def test_standard_input_from_a_pipe(tmp_path: Path, gz: bool) -> None:
    """`tcpdump -w - arp | arpwatch-lb replay -`: a pipe cannot seek back after the magic."""
    path = capture(tmp_path, "fight.pcap", fight_frames(), gz=gz)
    assert EXE, "the arpwatch-lb console script is not installed (pip install -e .)"
    p = subprocess.run([EXE, "replay", "-", "--format", "json"], input=path.read_bytes(),
                       capture_output=True, timeout=60)  # stdin is a pipe: not seekable
    assert p.returncode == 1, p.stderr
    assert p.stderr == b""
    report = json.loads(p.stdout)
    assert report["sources"][0]["path"] == "-"
    assert report["sources"][0]["compressed"] is gz
    assert report["ips"][0]["verdict"] == "contested"
    assert report["frames"]["claims"] == len(fight_frames())


def test_progress_on_a_terminal_only(tmp_path: Path) -> None:
    """Progress goes to stderr when it is a terminal (a pty here), and is erased at the end;
    with stderr redirected there is none."""
    import pty

    path = capture(tmp_path, "fight.pcap", fight_frames())
    assert EXE, "the arpwatch-lb console script is not installed (pip install -e .)"
    controller, terminal = pty.openpty()
    try:
        p = subprocess.run([EXE, "replay", str(path)], stdout=subprocess.PIPE, stderr=terminal,
                           timeout=60)
        os.close(terminal)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the terminal side is closed and drained
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(controller)
    assert p.returncode == 1
    assert b"reading: 100.0%" in seen and b"\x1b[K" in seen  # drawn, then erased
    code, _out, err = run_exe(path)
    assert code == 1 and err == ""
