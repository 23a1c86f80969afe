"""The ``probe`` session: send who-has requests (IPv4) and Neighbor Solicitations (IPv6) for
the targets, collect every answer.

Capture starts before the first request and goes on ``timeout`` s after the
last one; frames go through the same :class:`~arpwatch_lb.sources.live_capture.Monitor`
→ ingest → tracker path as ``watch`` and ``replay``.  The schedule and the
round-trip matching are pure (:mod:`arpwatch_lb.core.probe_plan`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from ..core.addresses import VipSet, format_ip, parse_vips
from ..core.ingest import FrameCounts
from ..core.probe_plan import DEFAULT_RATE, ProbePlan, ProbeRtts
from ..core.tracker import OwnershipTracker
from ..sources.errors import CaptureError
from ..sources.link_socket import (
    FrameSource,
    LinkSocket,
    interface_addresses,
    interface_ipv6,
)
from ..sources.live_capture import Monitor
from ..sources.probe_frames import probe_frame

__all__ = ["DEFAULT_RATE", "NothingToProbe", "ProbeResult", "kubernetes_errors", "probe_targets",
           "run_probe", "source_addresses"]


class NothingToProbe(Exception):
    """Kubernetes has no LoadBalancer VIP and the user named none."""


def kubernetes_errors() -> tuple[type[Exception], ...]:
    """What :func:`probe_targets` raises with ``kubernetes`` (for one-line reporting)."""
    from ..kube import MissingExtra
    from ..kube.api import KubeError
    return KubeError, MissingExtra, NothingToProbe


def probe_targets(vips: VipSet, kubeconfig: str | None, kubernetes: bool,
                  warn: Callable[[str], None]) -> tuple[VipSet, VipSet, dict[str, str]]:
    """(the VIPs to report on, the addresses to ask, the nodes' InternalIPs).

    With ``kubernetes``: ``vips`` plus every LoadBalancer VIP (one list, no
    watch; single addresses, so one nobody answers is ``unclaimed``), and the
    nodes' InternalIPs are asked too — their replies tell which MAC is which
    node.
    """
    if not kubernetes:
        return vips, vips, {}
    from ..kube.targets import list_targets

    found, node_ips = list_targets(kubeconfig, warn=warn)
    if not found and not vips:
        raise NothingToProbe("no Service of type LoadBalancer has a VIP yet: nothing to probe")
    named = [str(n) for n in vips.networks]
    vips = parse_vips([*named, *found])
    return vips, parse_vips([*named, *found, *node_ips]) if node_ips else vips, node_ips


@dataclass
class ProbeResult:
    """What a probe session gathered besides the tracker."""

    counts: FrameCounts
    sources: list[dict[str, Any]]
    warnings: list[str]
    requests: int
    rtts: ProbeRtts | None = None


def source_addresses(interface: str, targets: list[bytes], skippable: Collection[bytes] = (),
                     warn: Callable[[str], None] | None = None
                     ) -> tuple[bytes, dict[int, bytes], list[bytes]]:
    """(our MAC, {address length: our address of that family}, the targets we can ask).

    IPv4 targets are asked from the interface's IPv4 address, IPv6 ones from
    its IPv6 address (:func:`~arpwatch_lb.sources.link_socket.interface_ipv6`).
    A target of a family the interface has no address of is an error
    (:class:`CaptureError`), unless it is ``skippable`` (a node address asked
    only to name MACs): then it is left out with a warning.
    """
    mac, ip4 = interface_addresses(interface)
    ours: dict[int, bytes] = {}
    if ip4 is not None:
        ours[4] = ip4
    if any(len(t) == 16 for t in targets):
        ip6 = interface_ipv6(interface)
        if ip6 is not None:
            ours[16] = ip6
    skip = set(skippable)
    kept, left_out = [], []
    for t in targets:
        if len(t) in ours:
            kept.append(t)
        elif t in skip:
            left_out.append(t)
        else:
            family = ("IPv4 address to send ARP requests" if len(t) == 4 else
                      "IPv6 address to send Neighbor Solicitations")
            raise CaptureError(f"{interface} has no {family} from")
    if left_out and warn is not None:
        warn(f"{interface} has no address of their family: not asking {len(left_out)} "
             "node address(es) " + ", ".join(format_ip(t) for t in left_out[:4]))
    return mac, ours, kept


def run_probe(interface: str, vips: VipSet, tracker: OwnershipTracker, *, count: int,
              interval: float, timeout: float, rate: float = DEFAULT_RATE,
              open_source: Callable[[str], FrameSource] = LinkSocket,
              clock: Callable[[], float] = time.monotonic,
              skippable: Collection[bytes] = ()) -> ProbeResult:
    """Probe every address of ``vips`` on ``interface``, collecting replies into ``tracker``.

    IPv4 addresses get ARP who-has requests, IPv6 ones Neighbor
    Solicitations to their solicited-node group (see :func:`source_addresses`).
    Capture starts before the first request and goes on ``timeout`` s after
    the last one.  Raises :class:`~arpwatch_lb.sources.link_socket.CaptureError` (no
    privilege, unknown interface, no address of a target's family to ask from).
    """
    warnings: list[str] = []
    mac, ours, targets = source_addresses(interface, vips.addresses(), skippable,
                                          warnings.append)
    frames: dict[bytes, bytes] = {}
    rtts = ProbeRtts(timeout)
    monitor = Monitor([interface], tracker, open_source=open_source, on_claims=rtts.observe)
    wall = time.time  # CLOCK_REALTIME, like the SO_TIMESTAMPNS receive times
    try:
        plan = ProbePlan(targets, count, interval, rate, clock())
        while not plan.finished:
            for target in plan.due(clock()):
                ip = ours[len(target)]
                frame = frames.get(target)
                if frame is None:
                    frame = frames[target] = probe_frame(mac, ip, target)
                t = wall()  # before the send: a reply may be received before send() returns
                if monitor.send(interface, frame):
                    rtts.sent(interface, mac, ip, target, t)
            monitor.pump(min(plan.wait(clock()), 0.05))
        end = clock() + timeout
        while (left := end - clock()) > 0:
            monitor.pump(min(left, 0.1))
        monitor.drain_all()
        monitor.read_stats()
        return ProbeResult(monitor.counts, monitor.sources(), warnings + monitor.warnings(),
                           plan.sent, rtts)
    finally:
        monitor.close()
