"""Golden reports for the lab captures in pcaps/.

Each capture was recorded from real announcers in a namespace lab
(``python -m lab.record``).  Two checks per capture:

* the verdicts and claimant MACs match ``<name>.expected-facts.json``, written
  by hand from the scenario's design (not by this tool), and so do the
  announcer each claimant's frames name, the IP hints and the VRRP facts —
  summed up over every capture in a confusion matrix (expected × found) that
  must be diagonal; a capture cut 10 s in still names kube-vip and keepalived
  and says ``unknown`` where the cut took the evidence away;
* the whole JSON report equals ``<name>.expected.json`` (a regression
  baseline; refresh with ``UPDATE_GOLDEN=1 python3 -m pytest tests/test_golden.py``
  and review the diff).
"""

from __future__ import annotations

import json
import os
import struct
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from arpwatch_lb.cli import cli
from arpwatch_lb.core.announcers import UNKNOWN, WIRE_KINDS

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = sorted(p for p in (ROOT / "pcaps").glob("*.pcap") if not p.name.startswith("."))


def test_ipv6_captures_hold_neighbor_discovery_claims(monkeypatch: pytest.MonkeyPatch) -> None:
    """The IPv6 captures are judged from Neighbor Discovery alone (no ARP in them), and the
    IPv4 ones hold no IPv6 at all: their reports did not change when NDP decoding came."""
    for capture in CAPTURES:
        _, report = _replay_json(monkeypatch, capture)
        v6 = [e for e in report["ips"] if ":" in e["ip"]]
        if capture.stem.endswith("-ipv6"):
            assert v6 and len(v6) == len(report["ips"]), capture.stem
            assert report["frames"]["claims"] > 0
        else:
            assert not v6, capture.stem


def _replay_json(monkeypatch: pytest.MonkeyPatch, capture: Path) -> tuple[int, dict]:
    monkeypatch.chdir(ROOT)
    path = capture.relative_to(ROOT) if capture.is_relative_to(ROOT) else capture
    result = CliRunner().invoke(cli, ["replay", str(path), "--format", "json"])
    return result.exit_code, json.loads(result.stdout)


def test_lab_captures_are_present() -> None:
    names = {p.stem for p in CAPTURES}
    assert {"single-owner", "failover", "keepalived-split-brain", "metallb-vs-kubevip",
            "duplicate-ip", "vlan-garp", "cilium-vs-kube-vip", "cilium-vs-metallb",
            "keepalived-split-brain-vrrp", "keepalived-vmac-failover",
            "keepalived-vmac-split-brain", "kernel-duplicate-ip", "every-node-answers",
            "metallb-failover", "kube-vip-failover", "cilium-failover", "kernel-failover",
            "duplicate-ipv6", "keepalived-split-brain-ipv6", "failover-ipv6",
            "metallb-vs-kubevip-ipv6"} <= names


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.stem)
def test_verdicts_match_hand_written_facts(monkeypatch: pytest.MonkeyPatch, capture: Path) -> None:
    facts = json.loads(capture.with_suffix(".expected-facts.json").read_text())
    code, report = _replay_json(monkeypatch, capture)
    got = {(e["vlan"], e["ip"]): (e["verdict"], sorted(c["mac"] for c in e["claimants"]))
           for e in report["ips"]}
    want = {(e["vlan"], e["ip"]): (e["verdict"], sorted(e["macs"])) for e in facts["ips"]}
    assert got == want
    unhealthy = any(v == "contested" for v, _ in want.values())
    assert code == (1 if unhealthy else 0)


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.stem)
def test_report_matches_golden(monkeypatch: pytest.MonkeyPatch, capture: Path) -> None:
    golden = capture.with_suffix(".expected.json")
    _, report = _replay_json(monkeypatch, capture)
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(json.dumps(report, indent=2) + "\n")
    assert report == json.loads(golden.read_text())


# -- announcers ----------------------------------------------------------------------------


def _kinds(report: dict) -> dict[tuple[object, str, str], str]:
    """(vlan, ip, mac) → the announcer kind the report names."""
    return {(e["vlan"], e["ip"], c["mac"]): c["announcer"]["kind"]
            for e in report["ips"] for c in e["claimants"]}


def _expected_kinds(facts: dict) -> dict[tuple[object, str, str], str]:
    return {(e["vlan"], e["ip"], mac): kind for e in facts["ips"]
            for mac, kind in e["announcers"].items()}


def _vrrp_facts(report: dict) -> list[dict]:
    return [{"vrid": g["vrid"], "split_brain": g["split_brain"],
             "priorities": sorted(src["priority"] for src in g["sources"])}
            for g in report["vrrp"]["virtual_routers"]]


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.stem)
def test_announcers_match_hand_written_facts(monkeypatch: pytest.MonkeyPatch,
                                             capture: Path) -> None:
    facts = json.loads(capture.with_suffix(".expected-facts.json").read_text())
    _, report = _replay_json(monkeypatch, capture)
    found = _kinds(report)
    assert found == _expected_kinds(facts), {
        k: c["announcer"] for e in report["ips"] for c in e["claimants"]
        if (k := (e["vlan"], e["ip"], c["mac"])) and found[k] != _expected_kinds(facts).get(k)}
    assert {(e["vlan"], e["ip"]): e["announcer_hint"] for e in report["ips"]} == {
        (e["vlan"], e["ip"]): e["hint"] for e in facts["ips"]}
    assert _vrrp_facts(report) == facts["vrrp"]


def test_confusion_matrix_is_diagonal(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Expected × found announcer kinds over every claimant of every lab capture."""
    matrix: Counter[tuple[str, str]] = Counter()
    wrong = []
    for capture in CAPTURES:
        facts = json.loads(capture.with_suffix(".expected-facts.json").read_text())
        _, report = _replay_json(monkeypatch, capture)
        found = _kinds(report)
        for key, kind in _expected_kinds(facts).items():
            got = found.get(key, "(missing)")
            matrix[kind, got] += 1
            if got != kind:
                wrong.append(f"{capture.stem} {key}: expected {kind}, found {got}")
    cols = [*WIRE_KINDS, "(missing)"]
    lines = ["expected \\ found".ljust(18) + "".join(c.rjust(12) for c in cols)]
    for kind in WIRE_KINDS:
        lines.append(kind.ljust(18) + "".join(str(matrix[kind, c] or ".").rjust(12) for c in cols))
    table = "\n".join(lines)
    with capsys.disabled():
        print(f"\nannouncer confusion matrix over {len(CAPTURES)} lab captures "
              f"({sum(matrix.values())} claimants):\n{table}")
    assert not wrong, table + "\n" + "\n".join(wrong)
    assert all(matrix[k, k] for k in WIRE_KINDS), f"every kind occurs in the lab:\n{table}"


CUT = 10.0  # s cut off the start of a capture: it starts mid-stream
MUST_SURVIVE_CUT = {
    # (capture, ip, mac): the kind still named with the first 10 s cut off
    ("cilium-vs-kube-vip", "192.0.2.106", "02:00:5e:10:00:01"): "kube-vip",
    ("kube-vip-failover", "192.0.2.111", "02:00:5e:10:00:02"): "kube-vip",
    ("keepalived-split-brain-vrrp", "192.0.2.108", "02:00:5e:10:00:01"): "keepalived",
    ("keepalived-split-brain-vrrp", "192.0.2.108", "02:00:5e:10:00:02"): "keepalived",
    ("keepalived-vmac-split-brain", "192.0.2.113", "00:00:5e:00:01:33"): "keepalived",
    # Cilium's one GARP was in the first 10 s: its replies alone name nothing
    ("cilium-vs-kube-vip", "192.0.2.106", "02:00:5e:10:00:02"): UNKNOWN,
}


def _cut_pcap(src: Path, dst: Path, seconds: float) -> Path:
    """Copy of a (microsecond, little-endian) pcap without its first ``seconds``."""
    data = src.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1", "lab captures are little-endian microsecond pcaps"
    out, off, start = [data[:24]], 24, None
    while off + 16 <= len(data):
        sec, usec, cap, _wire = struct.unpack_from("<IIII", data, off)
        t = sec + usec * 1e-6
        start = t if start is None else start
        if t >= start + seconds:
            out.append(data[off:off + 16 + cap])
        off += 16 + cap
    dst.write_bytes(b"".join(out))
    return dst


@pytest.mark.parametrize("capture", [c for c in CAPTURES if c.stem in
                                     {k[0] for k in MUST_SURVIVE_CUT}], ids=lambda p: p.stem)
def test_mid_stream_capture_names_what_it_can(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              capture: Path) -> None:
    """First 10 s cut: kube-vip and keepalived still named; elsewhere the kind is the full
    capture's or ``unknown`` — never another one."""
    facts = json.loads(capture.with_suffix(".expected-facts.json").read_text())
    full = _expected_kinds(facts)
    cut = _cut_pcap(capture, tmp_path / capture.name, CUT)
    _, report = _replay_json(monkeypatch, cut)
    found = _kinds(report)
    for key, kind in found.items():
        assert kind in (full[key], UNKNOWN), (key, kind, full[key])
    for (name, ip, mac), kind in MUST_SURVIVE_CUT.items():
        if name == capture.stem:
            assert found[None, ip, mac] == kind, (ip, mac)
    # A split brain may fall out of view (two keepalived that drop each other's adverts
    # interleave in runs), but one is never reported where the full capture has none.
    split = {g["vrid"] for g in facts["vrrp"] if g["split_brain"]}
    assert {g["vrid"] for g in _vrrp_facts(report) if g["split_brain"]} <= split


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.stem)
def test_recordings_pass_the_recording_checks(capture: Path) -> None:
    """The committed captures still pass lab.verify's checks (claims read by tshark equal the
    hand-written facts; only lab addresses; IPv6 only in the *-ipv6 ones)."""
    import sys

    sys.path.insert(0, str(ROOT))
    from lab.verify import read_frames, verify

    facts = json.loads(capture.with_suffix(".expected-facts.json").read_text())
    expected = {(e["vlan"], e["ip"]): set(e["macs"]) for e in facts["ips"]}
    frames = read_frames(capture)
    lab_macs = {m for e in facts["ips"] for m in e["macs"]} | {"02:00:5e:10:00:fe"}
    lab_macs |= {"02:00:5e:10:00:10", "02:00:5e:10:00:01", "02:00:5e:10:00:02"}
    assert verify(frames, expected, lab_macs, ipv6=capture.stem.endswith("-ipv6")) == []
    if not capture.stem.endswith("-ipv6"):
        assert verify(frames, expected, lab_macs, ipv6=True) == []  # no IPv6 in them at all
        assert all(f.ethertype != 0x86DD for f in frames)
