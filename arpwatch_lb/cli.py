"""The ``arpwatch-lb`` command line: parse options, wire a source to the core and a sink."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from . import __version__
from .captures import CaptureError
from .options import (
    EXIT_STATUS_HELP,
    InputError,
    format_option,
    vip_option,
    window_option,
)
from .replay import replay as replay_files
from .report import build_report, report_exit_status
from .sinks import render_json, render_table
from .sinks.progress import Progress
from .tracker import OwnershipTracker


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="arpwatch-lb")
def cli() -> None:
    """Find LoadBalancer VIPs that two announcers claim at once.

    arpwatch-lb records which MACs claim each IPv4 address in ARP (requests,
    replies, gratuitous ARP) and tells a fight between announcers — MetalLB and
    kube-vip over one Service, a keepalived split brain, two hosts with one
    address — from a clean failover.
    """


@cli.command(epilog=EXIT_STATUS_HELP)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@vip_option()
@window_option
@format_option(("table", "json"), "table")
def replay(files: tuple[Path, ...], vips, window: float, fmt: str) -> None:
    """Analyze pcap/pcapng captures (gzip too), merged in time order.

    Reads Ethernet (802.1Q/802.1ad tags, LLC/SNAP) and Linux cooked v1/v2
    captures, e.g. from `tcpdump -i any -w node.pcap arp`.
    """
    tracker = OwnershipTracker(window=window)
    progress = Progress("reading")
    try:
        result = replay_files(files, tracker, progress)
    except CaptureError as exc:
        raise InputError(str(exc)) from None
    finally:
        progress.close()
    for w in result.warnings:
        click.echo(f"arpwatch-lb: warning: {w}", err=True)
    for e in result.errors:
        click.echo(f"arpwatch-lb: error: {e}", err=True)
    report = build_report(tracker, result.counts, vips, result.sources, result.warnings,
                          result.errors)
    click.echo(render_json(report) if fmt == "json" else render_table(report))
    sys.exit(report_exit_status(report))


def main() -> None:
    """Console entry point: no tracebacks for users, one line and exit 2 instead."""
    try:
        cli.main(prog_name="arpwatch-lb", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("arpwatch-lb: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say it in one line unless debugging
        if os.environ.get("ARPWATCH_LB_DEBUG"):
            raise
        click.echo(f"arpwatch-lb: internal error: {type(exc).__name__}: {exc} "
                   "(set ARPWATCH_LB_DEBUG=1 for a traceback)", err=True)
        sys.exit(2)
