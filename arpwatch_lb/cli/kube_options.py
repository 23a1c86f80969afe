"""Options for Kubernetes and metrics, shared by ``probe`` and ``watch``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["kubernetes_options", "metrics_options"]


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
    """``--metrics-port N``."""
    return click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
                        metavar="N", help="Serve Prometheus metrics on :N/metrics and a health "
                                          "check on :N/healthz (needs arpwatch-lb[metrics]).")(f)
