"""Options for Kubernetes and metrics, shared by ``probe`` and ``watch``."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["METRICS_ADDRESS_ENV", "METRICS_ANY", "kubernetes_options", "metrics_options"]

METRICS_ANY = "0.0.0.0"
"""``--metrics-address`` default: every IPv4 address of the host."""
METRICS_ADDRESS_ENV = "ARPWATCH_LB_METRICS_ADDRESS"
"""``--metrics-address`` from the environment (a DaemonSet sets it from ``status.hostIP``)."""


def kubernetes_options(f: F) -> F:
    """``--kubernetes``, ``--kubeconfig FILE``."""
    f = click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None,
                     metavar="FILE", help="kubeconfig for --kubernetes. Default: in-cluster "
                                          "service account, else $KUBECONFIG or ~/.kube/config.")(f)
    f = click.option("--kubernetes", is_flag=True,
                     help="Take the VIPs from Services of type LoadBalancer (watch: listed "
                          "and watched, updated live; probe: listed once) and name nodes by "
                          "their InternalIPs (needs arpwatch-lb[kubernetes]).")(f)
    return f


def metrics_options(f: F) -> F:
    """``--metrics-port N``, ``--metrics-address IP``."""
    f = click.option("--metrics-address", default=METRICS_ANY, show_default=True, metavar="IP",
                     envvar=METRICS_ADDRESS_ENV, show_envvar=True, callback=_ip_literal,
                     help="Address the --metrics-port server listens on: one of this host's "
                          "addresses (a node's InternalIP, 127.0.0.1 behind a proxy), or "
                          "0.0.0.0 for every IPv4 address.")(f)
    return click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
                        metavar="N", help="Serve Prometheus metrics on :N/metrics and a health "
                                          "check on :N/healthz (needs arpwatch-lb[metrics]).")(f)


def _ip_literal(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """An IPv4 or IPv6 address, as given (no host names: the listener binds one address)."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an IPv4 or IPv6 address", ctx, param) from None
