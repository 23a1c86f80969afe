"""The ``arpwatch-lb`` command line (click only).

Each command parses its options, calls a session
(:mod:`arpwatch_lb.sessions`) and renders the result with a sink; errors of
sources and services become one ``arpwatch-lb: error:`` line and exit 2
(:func:`.options.input_errors`).  No judgement, no formatting here.

May import: everything in the package.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from .. import __version__
from ..core.verdicts import EXIT_ERROR

COMMANDS = {
    "replay": "arpwatch_lb.cli.replay:replay",
    "probe": "arpwatch_lb.cli.probe:probe",
    "watch": "arpwatch_lb.cli.watch:watch",
    "doctor": "arpwatch_lb.cli.doctor:doctor",
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command runs.

    ``replay`` should not pay for scapy, the Kubernetes client or tabulate
    at start-up; ``--help`` still lists every command.
    """

    def __init__(self, *args, lazy: dict[str, str], **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *super().list_commands(ctx)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="arpwatch-lb")
def cli() -> None:
    """Find LoadBalancer VIPs that two announcers claim at once.

    arpwatch-lb records which MACs claim each IPv4 address in ARP (requests,
    replies, gratuitous ARP) and each IPv6 address in Neighbor Discovery
    (solicitations, advertisements), and tells a fight between announcers — MetalLB and
    kube-vip over one Service, a keepalived split brain, two hosts with one
    address — from a clean failover.
    """



def main() -> None:
    """Console entry point: no tracebacks for users, one line and exit 2 instead.

    Usage errors too are one ``arpwatch-lb: error:`` line (click's standalone
    mode would print a usage block), as the README promises.
    """
    try:
        code = cli.main(prog_name="arpwatch-lb", standalone_mode=False)
        if isinstance(code, int) and code:  # ctx.exit(code)
            sys.exit(code)
    except click.ClickException as exc:
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        message = " ".join(exc.format_message().split())
        click.echo(f"arpwatch-lb: error: {message}{hint}", err=True)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.Abort):
        click.echo("arpwatch-lb: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say it in one line unless debugging
        if os.environ.get("ARPWATCH_LB_DEBUG"):
            raise
        click.echo(f"arpwatch-lb: internal error: {type(exc).__name__}: {exc} "
                   "(set ARPWATCH_LB_DEBUG=1 for a traceback)", err=True)
        sys.exit(EXIT_ERROR)
