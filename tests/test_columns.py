"""The vectorized path (sources/columns.py, numpy) against the pure-Python one.

* its claims and frame counts equal the reference decoder's on random captures (every kind of
  frame, chunks cut anywhere, look-alike signatures inside other frames);
* a tracker fed folded batches ends in the same state as one fed the claims one by one:
  reports, events, totals, evictions;
* a whole replay gives the same bytes either way (ARPWATCH_LB_PURE_PYTHON=1 switches it off).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path
from unittest import mock

import numpy  # noqa: F401 - the vectorized path needs it; the test extra installs it
import pcapgen as g
import pytest
from conftest import BROADCAST, ETH_ARP, arp, ether, ip, mac
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_captures import assert_same_claims, records, reference
from test_tracker_bounded import ALL, busy_streams

from arpwatch_lb.core.addresses import parse_vips
from arpwatch_lb.core.frames import Claim
from arpwatch_lb.core.report import build_report
from arpwatch_lb.core.tracker import OwnershipTracker
from arpwatch_lb.sources import capture_files as captures
from arpwatch_lb.sources import columns
from arpwatch_lb.sources.capture_files import CaptureReader

ROOT = Path(__file__).resolve().parent.parent


def column_claims(path: Path) -> tuple[list[Claim], CaptureReader, int]:
    reader = CaptureReader(path)
    out: list[Claim] = []
    chunks = 0
    for batch in reader.column_batches():
        chunks += 1
        out += batch if batch.__class__ is list else batch.claims()
    return out, reader, chunks


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("columns")


def test_numpy_is_there() -> None:
    assert columns.AVAILABLE and captures.columns_available()


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.data_too_large])
@given(data=st.data(), endian=st.sampled_from("<>"), nanos=st.booleans(),
       chunk=st.sampled_from([None, 600, 1000, 4096]))
def test_column_decoder_equals_reference_decoder(scratch: Path, data: st.DataObject, endian: str,
                                                 nanos: bool, chunk: int | None) -> None:
    pkts = data.draw(records(nanos))
    path = g.write(scratch / "cols.pcap", g.pcap(pkts, endian=endian, nanos=nanos))
    want_claims, want_counts = reference(pkts, 10**9 if nanos else 10**6)
    with mock.patch.object(captures, "COLUMN_CHUNK", chunk or captures.COLUMN_CHUNK):
        got, reader, _ = column_claims(path)
    assert reader.error is None and reader.warnings == []
    assert_same_claims(got, want_claims)
    assert reader.counts == want_counts


def test_look_alikes_inside_frames_are_not_records(tmp_path: Path) -> None:
    """A whole pcap record (header and ARP frame) hidden in a UDP payload, and an ARP signature
    at the right distance from a record start in a non-ARP frame: neither is a claim."""
    a, b = mac("02:00:5e:10:00:0a"), mac("02:00:5e:10:00:0b")
    vip = ip("192.0.2.10")
    real = ether(BROADCAST, a, ETH_ARP, arp(1, a, vip, BROADCAST, vip))
    fake = ether(BROADCAST, b, ETH_ARP, arp(2, b, vip, BROADCAST, vip))
    inner = g.pcap([g.Packet(fake, 5, 0)])[24:]  # a record as it would be in the file
    udp = ether(a, b, 0x0800, b"\x45" + bytes(27) + inner * 3)
    sig_at_28 = ether(a, b, 0x0800, bytes(14) + columns.SIGNATURE + bytes(30))  # 0806... at 28
    pkts = [g.Packet(f, i, 0) for i, f in enumerate([real, udp, sig_at_28, real, udp, real])]
    path = g.write(tmp_path / "hidden.pcap", g.pcap(pkts))
    got, reader, _ = column_claims(path)
    want, counts = reference(pkts, 10**6)
    assert_same_claims(got, want)
    assert [c.sha for c in got] == [a, a, a]
    assert reader.counts == counts


def test_big_capture_crosses_chunks(tmp_path: Path) -> None:
    frames = [ether(BROADCAST, mac(f"02:00:5e:00:{i >> 8:02x}:{i & 255:02x}"), ETH_ARP,
                    arp(1 + i % 2, mac(f"02:00:5e:00:{i >> 8:02x}:{i & 255:02x}"),
                        ip(f"198.18.{i >> 8}.{i & 255}"), BROADCAST, ip("198.18.255.1")),
                    pad=42 if i % 3 else 60) for i in range(20_000)]
    frames[7000] = ether(BROADCAST, BROADCAST, ETH_ARP, arp(1, BROADCAST, ip("192.0.2.1")))
    pkts = [g.Packet(f, 100 + i // 10, i) for i, f in enumerate(frames)]
    path = g.write(tmp_path / "big.pcap", g.pcap(pkts))
    with mock.patch.object(captures, "COLUMN_CHUNK", 1 << 16):
        got, reader, chunks = column_claims(path)
    want, counts = reference(pkts, 10**6)
    assert chunks > 10
    assert_same_claims(got, want)
    assert reader.counts == counts


def test_neighbor_discovery_among_dense_arp_replays_alike(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """IPv6 claims (16-byte addresses) cannot be columns: a dense ARP chunk that holds Neighbor
    Discovery goes claim by claim, and the report is the pure-Python one."""
    from test_ndp import ETH_ASK, ETH_MLB_NA

    from arpwatch_lb.sessions.replay import replay

    frames = []
    for i in range(20_000):
        m = mac(f"02:00:5e:01:{i >> 8 & 15:02x}:{i & 255:02x}")
        frames.append(ether(BROADCAST, m, ETH_ARP, arp(1 + i % 2, m, ip(f"198.18.{i >> 8 & 15}.{i & 255}"),
                                                       BROADCAST, ip("198.18.255.1")), pad=60))
        if i % 700 == 350:
            frames.append(ETH_MLB_NA if i % 1400 == 350 else ETH_ASK)
    path = g.write(tmp_path / "dual.pcap", g.pcap([g.Packet(f, 100 + i // 10, i)
                                                  for i, f in enumerate(frames)]))

    def report(pure: bool) -> dict:
        if pure:
            monkeypatch.setenv("ARPWATCH_LB_PURE_PYTHON", "1")
        else:
            monkeypatch.delenv("ARPWATCH_LB_PURE_PYTHON", raising=False)
        tracker = OwnershipTracker()
        with mock.patch.object(captures, "COLUMN_CHUNK", 1 << 16):
            result = replay([path], tracker)
        assert not result.errors
        return build_report(tracker, result.counts, ALL)

    fast = report(pure=False)
    assert fast == report(pure=True)
    assert any(len(e["ip"]) > 15 or ":" in e["ip"] for e in fast["ips"])  # the v6 VIP is there


def to_columns(claims: list[Claim]) -> columns.Columns:
    return columns._from_claims(claims)


def feed_both(claims: list[Claim], cuts: list[int], **kw) -> tuple[OwnershipTracker,
                                                                    OwnershipTracker]:
    bounds = [0, *sorted(min(x, len(claims)) for x in cuts), len(claims)]
    one = OwnershipTracker(**kw)
    folded = OwnershipTracker(**kw)
    for lo, hi in pairwise(bounds):
        one.feed_all(claims[lo:hi])
        columns.feed(to_columns(claims[lo:hi]), folded)
    return one, folded


def same_state(one: OwnershipTracker, folded: OwnershipTracker) -> None:
    assert build_report(one, {}, ALL) == build_report(folded, {}, ALL)
    vips = parse_vips(["192.0.2.10", "192.0.2.0/30"])
    assert build_report(one, {}, vips) == build_report(folded, {}, vips)
    assert one.totals() == folded.totals()
    assert (one.asked, one.answered, one.now) == (folded.asked, folded.answered, folded.now)
    assert [(k, list(one.other_ips(m, (None, None, b"\0" * 4))), one.other_ip_count(m))
            for k, m in enumerate(one.mac_ip_counts)] == [
        (k, list(folded.other_ips(m, (None, None, b"\0" * 4))), folded.other_ip_count(m))
        for k, m in enumerate(folded.mac_ip_counts)]


@settings(max_examples=300)
@given(claims=busy_streams(max_size=100), cuts=st.lists(st.integers(0, 100), max_size=4),
       window=st.sampled_from([1.0, 60.0]), dup=st.sampled_from([0.0, 0.5, 1.0]))
def test_fold_equals_claim_by_claim(claims: list[Claim], cuts: list[int], window: float,
                                    dup: float) -> None:
    one, folded = feed_both(claims, cuts, window=window, dup_window=dup, record_events=True)
    assert one.drain() == folded.drain()
    same_state(one, folded)


@settings(max_examples=200)
@given(claims=busy_streams(max_size=100), cuts=st.lists(st.integers(0, 100), max_size=4),
       cap=st.integers(1, 5))
def test_fold_equals_claim_by_claim_with_a_cap_and_a_selection(claims: list[Claim],
                                                               cuts: list[int], cap: int) -> None:
    protect = {ip("192.0.2.10"), ip("192.0.2.11")}
    one, folded = feed_both(claims, cuts, max_ips=cap, protect=protect, record_events=True)
    assert one.drain() == folded.drain()
    assert one.evictions == folded.evictions
    same_state(one, folded)
    sel = parse_vips(["192.0.2.10", "198.18.0.0/29"])
    one, folded = feed_both(claims, cuts, track=sel)
    same_state(one, folded)


def test_a_cilium_answer_to_an_untracked_requester_across_chunks() -> None:
    """Cilium's mark (a reply as long as the request) needs the requester's latest claim: with
    a selection the requester is untracked, and its request may be in a folded chunk while the
    answer's chunk goes claim by claim.  Both ways name Cilium."""
    cil, req = mac("02:00:5e:10:00:0c"), mac("02:00:5e:10:00:0d")
    vip, requester = ip("192.0.2.10"), ip("198.51.100.9")

    def c(t: float, op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes, dst: bytes,
          n: int = 60) -> Claim:
        return Claim(t, None, None, op, sha, spa, tha, tpa, sha, dst, n)

    claims = [c(100.0, 2, cil, vip, BROADCAST, vip, BROADCAST),  # Cilium's take-over GARP
              c(110.0, 1, req, requester, b"\0" * 6, vip, BROADCAST, 60),  # who-has, 60 bytes
              c(110.001, 2, cil, vip, req, requester, req, 60)]  # answered at the same length
    one, folded = feed_both(claims, [2], track=parse_vips(["192.0.2.10"]))
    same_state(one, folded)
    assert folded.announcer((None, None, vip), cil).kind == "cilium"


def replay_json(path: Path, pure: bool) -> bytes:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if pure:
        env["ARPWATCH_LB_PURE_PYTHON"] = "1"
    else:
        env.pop("ARPWATCH_LB_PURE_PYTHON", None)
    r = subprocess.run([sys.executable, "-m", "arpwatch_lb", "replay", str(path), "--format", "json"],
                       capture_output=True, env=env, cwd=ROOT, check=False)
    assert r.returncode in (0, 1), r.stderr
    return r.stdout


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "pcaps").glob("*.pcap")))
def test_lab_captures_replay_byte_for_byte_alike(name: str) -> None:
    path = ROOT / "pcaps" / name
    assert replay_json(path, pure=False) == replay_json(path, pure=True)


def test_a_generated_segment_replays_byte_for_byte_alike(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import gencap

    path = tmp_path / "seg.pcap"
    gencap.generate("arp", path, 30_000, 7)
    fast = replay_json(path, pure=False)
    assert fast == replay_json(path, pure=True)
    doc = json.loads(fast)
    assert doc["frames"]["total"] == 30_000 and doc["summary"]["contested"] == 3
