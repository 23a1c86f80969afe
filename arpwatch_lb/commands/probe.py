"""``arpwatch-lb probe``: ask who has each VIP, and collect every answer."""

from __future__ import annotations

import sys

import click

from ..addresses import VipSet
from ..live import CaptureError, check_interfaces, default_interface
from ..options import EXIT_STATUS_HELP, InputError, format_option, vip_option, window_option
from ..probe import DEFAULT_RATE, run_probe
from ..report import build_report, report_exit_status
from ..sinks import render_json, render_table
from ..tracker import OwnershipTracker
from ..watch_extras import kubernetes_options, kubernetes_vips


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
def probe(vips: VipSet, interface: str | None, count: int, interval: float, timeout: float,
          rate: float, window: float, fmt: str, kubernetes: bool = False,
          kubeconfig: str | None = None) -> None:
    """Send ARP who-has requests for VIPs and report every MAC that answers.

    Unlike `arping -D`, every reply within the timeout counts: two MACs
    answering one request are duplicate replies (contested). A single VIP
    nobody answers is unclaimed. Needs root or CAP_NET_RAW.
    """
    vips = kubernetes_vips(vips, kubernetes, kubeconfig)  # --vip and/or --kubernetes
    tracker = OwnershipTracker(window=window)
    try:
        name = interface or default_interface()
        check_interfaces([name])
        result = run_probe(name, vips, tracker, count=count, interval=interval,
                           timeout=timeout, rate=rate)
    except CaptureError as exc:
        raise InputError(str(exc)) from None
    for w in result.warnings:
        click.echo(f"arpwatch-lb: warning: {w}", err=True)
    report = build_report(tracker, result.counts, vips, result.sources, result.warnings,
                          mode="probe")
    report["probe"] = {"interface": name, "requests": result.requests, "count": count,
                       "interval": interval, "timeout": timeout, "rate": rate}
    click.echo(render_json(report) if fmt == "json" else render_table(report))
    sys.exit(report_exit_status(report))
