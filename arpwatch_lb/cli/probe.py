"""``arpwatch-lb probe``: ask who has each VIP, and collect every answer."""

from __future__ import annotations

import sys

import click

from ..core.addresses import VipSet, parse_ip
from ..core.probe_plan import DEFAULT_RATE
from ..core.report import build_report
from ..core.tracker import OwnershipTracker
from ..core.verdicts import report_exit_status
from ..sessions.probe import kubernetes_errors, probe_targets, run_probe
from ..sinks.console import print_report, say
from ..sources.errors import CaptureError
from ..sources.link_socket import check_interfaces, default_interface
from .kube_options import kubernetes_options
from .options import (
    EXIT_STATUS_HELP,
    check_probeable,
    format_option,
    input_errors,
    max_ips_option,
    vip_option,
    window_option,
)


@click.command(epilog=EXIT_STATUS_HELP)
@vip_option()
@kubernetes_options
@click.option("--interface", "-i", "interface", metavar="IF",
              help="Interface to probe on. Default: the interface of the default route.")
@click.option("--count", type=click.IntRange(min=1), default=3, show_default=True,
              help="Requests per VIP.")
@click.option("--interval", type=click.FloatRange(min=0), default=0.5, show_default=True,
              metavar="S", help="Seconds between two rounds of requests.")
@click.option("--timeout", type=click.FloatRange(min=0), default=1.0, show_default=True,
              metavar="S", help="Seconds to keep listening after the last request.")
@click.option("--rate", type=click.FloatRange(min=1), default=DEFAULT_RATE, show_default=True,
              metavar="N", help="At most N requests per second (all VIPs together).")
@window_option
@format_option(("table", "json"), "table")
@max_ips_option()
def probe(vips: VipSet, interface: str | None, count: int, interval: float, timeout: float,
          rate: float, window: float, fmt: str, max_ips: int = 0, kubernetes: bool = False,
          kubeconfig: str | None = None) -> None:
    """Ask who has each VIP (ARP for IPv4, Neighbor Solicitations for IPv6) and report every
    MAC that answers.

    Unlike `arping -D`, every reply within the timeout counts: two MACs
    answering one request are duplicate replies (contested). A single VIP
    nobody answers is unclaimed. With --kubernetes the nodes' InternalIPs
    are asked too (not reported): their replies name each MAC's node. Needs
    root or CAP_NET_RAW.
    """
    if not kubernetes and not vips:
        raise click.UsageError("Missing option '--vip' (or use --kubernetes).")
    check_probeable(vips)
    warnings: list[str] = []
    with input_errors(*kubernetes_errors()):
        vips, targets, node_ips = probe_targets(vips, kubeconfig if kubernetes else None,
                                                kubernetes, warnings.append)
    # the probed addresses (VIPs, node IPs) are never evicted, whatever else answers meanwhile
    tracker = OwnershipTracker(window=window, max_ips=max_ips or None, protect=targets)
    with input_errors(CaptureError):
        name = interface or default_interface()
        check_interfaces([name])
        result = run_probe(name, targets, tracker, count=count, interval=interval,
                           timeout=timeout, rate=rate,
                           skippable=[parse_ip(ip) for ip in node_ips])
    warnings += result.warnings
    say("warning", warnings)
    nodes = None
    if kubernetes:
        from ..kube.nodes import mac_nodes
        nodes = mac_nodes(tracker, node_ips)
    report = build_report(tracker, result.counts, vips, result.sources, warnings,
                          mode="probe", probes=result.rtts, nodes=nodes)
    report["probe"] = {"interface": name, "requests": result.requests, "count": count,
                       "interval": interval, "timeout": timeout, "rate": rate}
    print_report(report, fmt)
    sys.exit(report_exit_status(report))
