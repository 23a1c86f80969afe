"""Golden reports for the lab captures in pcaps/.

Each capture was recorded from real announcers in a namespace lab
(``python -m lab.record``).  Two checks per capture:

* the verdicts and claimant MACs match ``<name>.expected-facts.json``, written
  by hand from the scenario's design (not by this tool);
* the whole JSON report equals ``<name>.expected.json`` (a regression
  baseline; refresh with ``UPDATE_GOLDEN=1 python3 -m pytest tests/test_golden.py``
  and review the diff).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from arpwatch_lb.cli import cli

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
    result = CliRunner().invoke(cli, ["replay", str(capture.relative_to(ROOT)), "--format", "json"])
    return result.exit_code, json.loads(result.stdout)


def test_lab_captures_are_present() -> None:
    names = {p.stem for p in CAPTURES}
    assert {"single-owner", "failover", "keepalived-split-brain", "metallb-vs-kubevip",
            "duplicate-ip", "vlan-garp", "duplicate-ipv6", "keepalived-split-brain-ipv6",
            "failover-ipv6", "metallb-vs-kubevip-ipv6"} <= names


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
