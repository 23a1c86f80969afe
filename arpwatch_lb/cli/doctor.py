"""``arpwatch-lb doctor``: which controllers act on each LoadBalancer Service, and the fix."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Any

import click

from ..core.addresses import parse_vips
from ..core.tracker import OwnershipTracker
from ..kube import MissingExtra
from ..sinks import render_json
from ..sinks.doctor_table import render_doctor_table
from .options import InputError, format_option, window_option

DOCTOR_EXIT_HELP = ("Exit status: 0 no fault (at-risk and info findings are shown only); 1 a "
                    "fault: a Service is contested (two announcers act on it, or two nodes "
                    "claim its VIP on the wire), its VIP is answered by a stale announcer or "
                    "not by its holder, or kube-vip's control-plane VIP lies in a Service pool; "
                    "2 errors (Services not readable, API server unreachable, unreadable "
                    "capture). Other forbidden reads are listed, not fatal.")


def _wire_from_pcaps(paths: tuple[Path, ...], tracker: OwnershipTracker) -> dict[str, Any]:
    from ..sessions.replay import replay
    from ..sources.capture_files import CaptureError

    try:
        result = replay(paths, tracker)
    except CaptureError as exc:
        raise InputError(str(exc)) from None
    for e in result.errors:
        click.echo(f"arpwatch-lb: error: {e}", err=True)
    return {"source": "pcap", "files": [str(p) for p in paths], "claims": result.counts["claims"],
            "warnings": result.warnings, "errors": result.errors}


def _wire_from_probe(vips: list[str], node_ips: list[str], interface: str | None,
                     tracker: OwnershipTracker) -> dict[str, Any]:
    from ..sessions.probe import run_probe
    from ..sources.link_socket import CaptureError, check_interfaces, default_interface

    # Node InternalIPs are probed too: their replies tell which MAC is which node.
    targets = parse_vips(sorted(set(vips) | {ip for ip in node_ips
                                             if ipaddress.IPv4Address(ip).version == 4}))
    try:
        name = interface or default_interface()
        check_interfaces([name])
        result = run_probe(name, targets, tracker, count=3, interval=0.5, timeout=1.0)
    except CaptureError as exc:
        raise InputError(str(exc)) from None
    return {"source": "probe", "interface": name, "requests": result.requests,
            "claims": result.counts["claims"], "warnings": result.warnings, "errors": []}


@click.command(epilog=DOCTOR_EXIT_HELP)
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="kubeconfig to use. Default: in-cluster service account, "
                                   "else $KUBECONFIG or ~/.kube/config.")
@click.option("--context", default=None, help="kubeconfig context. Default: the current one.")
@click.option("--pcap", "pcaps", multiple=True, type=click.Path(path_type=Path), metavar="FILE",
              help="Capture(s) from the nodes' segment (e.g. `tcpdump -i any -w x.pcap arp`): "
                   "tells which nodes claim each VIP. Repeatable.")
@click.option("--probe", "do_probe", is_flag=True,
              help="Probe every VIP and node InternalIP with ARP who-has on --interface (root "
                   "or CAP_NET_RAW) to see which nodes answer.")
@click.option("--interface", "-i", "interface", metavar="IF",
              help="Interface for --probe. Default: the interface of the default route.")
@window_option
@format_option(("table", "json"), "table")
def doctor(kubeconfig: Path | None, context: str | None, pcaps: tuple[Path, ...], do_probe: bool,
           interface: str | None, window: float, fmt: str) -> None:
    """Diagnose LoadBalancer Services announced by two controllers (read-only).

    For each Service of type LoadBalancer: which controllers act on it
    (loadBalancerClass, MetalLB and kube-vip annotations, status shapes, field
    managers, nodeAssigned Events, ServiceL2Status objects, Leases, announcer
    pods), who holds its VIP (kube-vip and Cilium Leases, vipHost,
    ServiceL2Status), its Event rate, and with --pcap or --probe which nodes
    claim its VIP on the wire. For the cluster: overlapping address pools
    (MetalLB, Cilium LB IPAM, kube-vip), kube-vip's control-plane VIP inside a
    pool, kube-proxy IPVS without strictARP, Cilium L2 policies. Each cause is
    a finding with its evidence and the concrete fix.
    Needs the read-only rules of deploy/10-rbac.yaml.
    """
    if pcaps and do_probe:
        raise click.UsageError("use --pcap or --probe, not both")
    try:
        from ..kube.api import KubeApi, KubeError
        from ..kube.diagnosis import diagnose, doctor_exit_status, gather

        try:
            api = KubeApi(str(kubeconfig) if kubeconfig else None, context)
        except KubeError as exc:
            raise InputError(str(exc)) from None
        try:
            facts = gather(api)
        except KubeError as exc:
            raise InputError(str(exc)) from None
        finally:
            api.close()
    except MissingExtra as exc:
        raise InputError(str(exc)) from None
    tracker: OwnershipTracker | None = None
    wire: dict[str, Any] | None = None
    if pcaps or do_probe:
        tracker = OwnershipTracker(window=window)
        if pcaps:
            wire = _wire_from_pcaps(pcaps, tracker)
        else:
            from ..kube.model import node_internal_ips, service_vips
            vips = sorted({v for s in facts.services for v in service_vips(s)})
            node_ips = [ip for n in facts.nodes for ip in node_internal_ips(n)]
            wire = _wire_from_probe(vips, node_ips, interface, tracker)
    doc = diagnose(facts, tracker, wire, warnings=(wire or {}).get("warnings", ()),
                   errors=(wire or {}).get("errors", ()))
    click.echo(render_json(doc) if fmt == "json" else render_doctor_table(doc))
    sys.exit(doctor_exit_status(doc))
