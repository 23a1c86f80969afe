"""Options every command shares, so the same thing has the same flag everywhere."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from ..core.addresses import VipSet, parse_vips
from ..core.tracker import DEFAULT_MAX_IPS, DEFAULT_WINDOW
from ..core.verdicts import EXIT_ERROR

F = TypeVar("F", bound=Callable[..., Any])

EXIT_STATUS_HELP = ("Exit status: 0 every IP healthy (ok or moved); 1 any IP contested or a "
                    "named VIP unclaimed; 2 usage error or unreadable input.")


class InputError(click.ClickException):
    """A one-line error about the user's input or environment; exit status 2."""

    exit_code = EXIT_ERROR


@contextmanager
def input_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn the given exception types (one-line messages) into :class:`InputError` (exit 2)."""
    try:
        yield
    except kinds as exc:
        raise InputError(str(exc)) from None


def _vips(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> VipSet:
    try:
        return parse_vips(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def check_probeable(vips: VipSet) -> None:
    """A usage error (exit 2) for a ``--vip`` range too large to probe (an IPv6 /64, say)."""
    big = vips.too_large_to_probe()
    if big:
        raise click.BadParameter(
            f"{', '.join(big)} has too many addresses to probe (at most 65536: an IPv6 /112); "
            "name single VIPs or a smaller range", param_hint="'--vip'")


def vip_option(required: bool = False) -> Callable[[F], F]:
    """``--vip IP|CIDR`` (repeatable, comma lists allowed)."""
    return click.option(
        "--vip", "vips", multiple=True, callback=_vips, required=required, metavar="IP|CIDR",
        help="VIP (IPv4 or IPv6) to report on; repeat or comma-separate. A single address "
             "nobody claims is 'unclaimed'; a CIDR range selects which claimed IPs are shown.")


def window_option(f: F) -> F:
    """``--window S``: the flip-flop window."""
    return click.option(
        "--window", type=click.FloatRange(min=0), default=DEFAULT_WINDOW, show_default=True,
        metavar="S",
        help="A change back to a MAC that claimed the IP at most S seconds earlier is a "
             "flip-flop (a fight), not a failover.")(f)


def format_option(choices: tuple[str, ...], default: str) -> Callable[[F], F]:
    """``--format``: output format."""
    return click.option("--format", "fmt", type=click.Choice(choices), default=default,
                        show_default=True, help="Output format.")


def interface_option(multiple: bool = True) -> Callable[[F], F]:
    """``--interface IF``: where to capture/probe."""
    return click.option("--interface", "-i", "interfaces", multiple=multiple, metavar="IF",
                        help="Network interface (repeatable). Default: the interface of the "
                             "default route.")


def max_ips_option(default: int = DEFAULT_MAX_IPS) -> Callable[[F], F]:
    """``--max-ips N``: the cap of the IP table (0: none)."""
    what = ("The default keeps a watch's memory (DaemonSet: 256 Mi) under half its limit. "
            if default else "Default: no cap (a report on every IP of the capture). ")
    return click.option(
        "--max-ips", type=click.IntRange(min=0), default=default, show_default=True, metavar="N",
        help="Track at most N IPs (an IP whose owner changed also counts its remembered MACs "
             "and runs); the least recently claimed ones are evicted first, never a --vip or "
             "Kubernetes VIP or a node InternalIP. " + what + "0: no cap.")
