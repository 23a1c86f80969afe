"""``arpwatch-lb probe``: ask who has each VIP, and collect every answer."""

from __future__ import annotations

import sys

import click

from ..core.addresses import VipSet, parse_vips
from ..core.report import build_report, report_exit_status
from ..core.tracker import OwnershipTracker
from ..sessions.probe import DEFAULT_RATE, run_probe
from ..sessions.watch_services import kubernetes_options, kubernetes_targets
from ..sinks import render_json, render_table
from ..sources.link_socket import CaptureError, check_interfaces, default_interface
from .options import (
    EXIT_STATUS_HELP,
    InputError,
    format_option,
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
    """Send ARP who-has requests for VIPs and report every MAC that answers.

    Unlike `arping -D`, every reply within the timeout counts: two MACs
    answering one request are duplicate replies (contested). A single VIP
    nobody answers is unclaimed. With --kubernetes the nodes' InternalIPs
    are asked too (not reported): their replies name each MAC's node. Needs
    root or CAP_NET_RAW.
    """
    warnings: list[str] = []
    vips, node_ips = kubernetes_targets(vips, kubernetes, kubeconfig,  # --vip and/or --kubernetes
                                        warn=warnings.append)
    targets = vips
    if node_ips:  # their replies tell which MAC is which node
        targets = parse_vips([*(str(n) for n in vips.networks), *node_ips])
    # the probed addresses (VIPs, node IPs) are never evicted, whatever else answers meanwhile
    tracker = OwnershipTracker(window=window, max_ips=max_ips or None, protect=targets)
    try:
        name = interface or default_interface()
        check_interfaces([name])
        result = run_probe(name, targets, tracker, count=count, interval=interval,
                           timeout=timeout, rate=rate)
    except CaptureError as exc:
        raise InputError(str(exc)) from None
    warnings += result.warnings
    for w in warnings:
        click.echo(f"arpwatch-lb: warning: {w}", err=True)
    nodes = None
    if kubernetes:
        from ..kube.nodes import mac_nodes
        nodes = mac_nodes(tracker, node_ips)
    report = build_report(tracker, result.counts, vips, result.sources, warnings,
                          mode="probe", probes=result.rtts, nodes=nodes)
    report["probe"] = {"interface": name, "requests": result.requests, "count": count,
                       "interval": interval, "timeout": timeout, "rate": rate}
    click.echo(render_json(report) if fmt == "json" else render_table(report))
    sys.exit(report_exit_status(report))
