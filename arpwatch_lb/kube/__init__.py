"""Kubernetes support: VIP discovery, node names for MACs, and ``doctor`` evidence.

The official ``kubernetes`` client is an optional extra
(``pip install 'arpwatch-lb[kubernetes]'``).  Only :mod:`.api` and
:mod:`.discovery` import it, lazily; :mod:`.model` and :mod:`.nodes` are pure
functions of API objects (plain dicts, shaped exactly as the API server sends
them) and of the tracker's facts, so they are tested without a cluster;
:mod:`.diagnosis` is ``doctor``'s pure judgement of a Service's evidence
(wire verdicts come from :mod:`arpwatch_lb.core.verdicts`).

May import: :mod:`arpwatch_lb.core` and :mod:`arpwatch_lb.extras`.  Never
sources, sessions, sinks or the CLI.
"""

from __future__ import annotations

from types import ModuleType

from ..extras import MissingExtra

__all__ = ["INSTALL_HINT", "MissingExtra", "require_kubernetes"]

INSTALL_HINT = ("the Kubernetes client is not installed: "
                "pip install 'arpwatch-lb[kubernetes]'")


def require_kubernetes() -> ModuleType:
    """Import the official client or raise :class:`MissingExtra` with the install line."""
    try:
        import kubernetes
    except ImportError:
        raise MissingExtra(INSTALL_HINT) from None
    return kubernetes
