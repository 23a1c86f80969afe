"""``arpwatch-lb doctor``: which controllers act on each LoadBalancer Service, and the fix."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..core.verdicts import doctor_exit_status
from ..kube import MissingExtra
from ..sinks import render_json
from ..sinks.console import say
from ..sinks.doctor_table import render_doctor_table
from ..sources.errors import CaptureError
from .options import format_option, input_errors, window_option

DOCTOR_EXIT_HELP = ("Exit status: 0 no fault (at-risk and info findings are shown only); 1 a "
                    "fault: a Service is contested (two announcers act on it, or two nodes "
                    "claim its VIP on the wire), its VIP is answered by a stale announcer or "
                    "not by its holder, or kube-vip's control-plane VIP lies in a Service pool; "
                    "2 errors (Services not readable, API server unreachable, unreadable "
                    "capture). Other forbidden reads are listed, not fatal.")


@click.command(epilog=DOCTOR_EXIT_HELP)
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="kubeconfig to use. Default: in-cluster service account, "
                                   "else $KUBECONFIG or ~/.kube/config.")
@click.option("--context", default=None, help="kubeconfig context. Default: the current one.")
@click.option("--pcap", "pcaps", multiple=True, type=click.Path(path_type=Path), metavar="FILE",
              help="Capture(s) from the nodes' segment (e.g. `tcpdump -i any -w x.pcap 'arp or "
                   "icmp6'`): "
                   "tells which nodes claim each VIP. Repeatable.")
@click.option("--probe", "do_probe", is_flag=True,
              help="Probe every VIP and node InternalIP (ARP who-has, IPv6 Neighbor "
                   "Solicitations) on --interface (root or CAP_NET_RAW) to see which nodes "
                   "answer.")
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
    from ..kube.api import KubeError
    from ..sessions.doctor import run_doctor

    with input_errors(KubeError, MissingExtra, CaptureError):
        doc = run_doctor(str(kubeconfig) if kubeconfig else None, context, pcaps, do_probe,
                         interface, window)
    say("error", doc["errors"])
    click.echo(render_json(doc) if fmt == "json" else render_doctor_table(doc))
    sys.exit(doctor_exit_status(doc))
