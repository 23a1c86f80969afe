"""Kubernetes support: VIP discovery, node names for MACs, and ``doctor`` evidence.

The official ``kubernetes`` client is an optional extra
(``pip install 'arpwatch-lb[kubernetes]'``).  Only :mod:`.api` and
:mod:`.discovery` import it, lazily; :mod:`.model` and :mod:`.nodes` are pure
functions of API objects (plain dicts, shaped exactly as the API server sends
them) and of the tracker's facts, so they are tested without a cluster.
"""

from __future__ import annotations

from types import ModuleType

__all__ = ["INSTALL_HINT", "MissingExtra", "require_kubernetes"]

INSTALL_HINT = ("the Kubernetes client is not installed: "
                "pip install 'arpwatch-lb[kubernetes]'")


class MissingExtra(RuntimeError):
    """An optional dependency is missing; the message says how to install it."""


def require_kubernetes() -> ModuleType:
    """Import the official client or raise :class:`MissingExtra` with the install line."""
    try:
        import kubernetes
    except ImportError:
        raise MissingExtra(INSTALL_HINT) from None
    return kubernetes
