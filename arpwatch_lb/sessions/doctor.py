"""The ``doctor`` session: cluster facts from the API, wire facts from captures or probes.

:func:`run_doctor` reads the cluster (read-only), gathers wire evidence if
asked — a replay of ``--pcap`` files or a probe of every VIP and node
InternalIP — and hands both to the pure diagnosis
(:func:`arpwatch_lb.kube.diagnosis.diagnose`).  Errors come out as
:class:`~arpwatch_lb.sources.errors.CaptureError` (wire) or
:class:`~arpwatch_lb.kube.api.KubeError` / :class:`~arpwatch_lb.kube.MissingExtra`
(API), for the command to turn into one line.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.addresses import parse_vips
from ..core.tracker import OwnershipTracker

__all__ = ["run_doctor", "wire_from_pcaps", "wire_from_probe"]

PROBE_COUNT, PROBE_INTERVAL, PROBE_TIMEOUT = 3, 0.5, 1.0


def wire_from_pcaps(paths: Sequence[Path], tracker: OwnershipTracker) -> dict[str, Any]:
    """Replay ``paths`` into ``tracker``; the document's ``wire`` object."""
    from .replay import replay

    result = replay(paths, tracker)
    return {"source": "pcap", "files": [str(p) for p in paths], "claims": result.counts["claims"],
            "warnings": result.warnings, "errors": result.errors}


def wire_from_probe(vips: list[str], node_ips: list[str], interface: str | None,
                    tracker: OwnershipTracker) -> dict[str, Any]:
    """Probe every VIP and node InternalIP on ``interface``; the document's ``wire`` object.

    Node addresses are asked too: their replies tell which MAC is which node.
    """
    from ..sources.link_socket import check_interfaces, default_interface
    from . import probe

    targets = parse_vips(sorted(set(vips) | set(node_ips)))
    name = interface or default_interface()
    check_interfaces([name])
    result = probe.run_probe(name, targets, tracker, count=PROBE_COUNT, interval=PROBE_INTERVAL,
                             timeout=PROBE_TIMEOUT,
                             skippable={ipaddress.ip_address(ip).packed for ip in node_ips})
    return {"source": "probe", "interface": name, "requests": result.requests,
            "claims": result.counts["claims"], "warnings": result.warnings, "errors": []}


def run_doctor(kubeconfig: str | None, context: str | None, pcaps: Sequence[Path] = (),
               probe: bool = False, interface: str | None = None, window: float = 60.0
               ) -> dict[str, Any]:
    """The doctor document for the cluster of ``kubeconfig``/``context``."""
    from ..kube.api import KubeApi
    from ..kube.diagnosis import diagnose, gather
    from ..kube.model import node_internal_ips, service_vips

    api = KubeApi(kubeconfig, context)
    try:
        facts = gather(api)
    finally:
        api.close()
    tracker: OwnershipTracker | None = None
    wire: dict[str, Any] | None = None
    if pcaps or probe:
        tracker = OwnershipTracker(window=window)
        if pcaps:
            wire = wire_from_pcaps(pcaps, tracker)
        else:
            vips = sorted({v for s in facts.services for v in service_vips(s)})
            node_ips = [ip for n in facts.nodes for ip in node_internal_ips(n)]
            wire = wire_from_probe(vips, node_ips, interface, tracker)
    return diagnose(facts, tracker, wire, warnings=(wire or {}).get("warnings", ()),
                    errors=(wire or {}).get("errors", ()))
