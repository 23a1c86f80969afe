"""The ``arpwatch-lb`` command line: parse options, wire a source to the core and a sink."""

from __future__ import annotations

import os
import sys

import click

from . import __version__
from .commands.replay import replay


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="arpwatch-lb")
def cli() -> None:
    """Find LoadBalancer VIPs that two announcers claim at once.

    arpwatch-lb records which MACs claim each IPv4 address in ARP (requests,
    replies, gratuitous ARP) and tells a fight between announcers — MetalLB and
    kube-vip over one Service, a keepalived split brain, two hosts with one
    address — from a clean failover.
    """


cli.add_command(replay)


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
