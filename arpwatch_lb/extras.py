"""Optional extras (``arpwatch-lb[kubernetes]``, ``arpwatch-lb[metrics]``) and the error for a missing one."""

from __future__ import annotations

__all__ = ["MissingExtra"]


class MissingExtra(RuntimeError):
    """An optional dependency is missing; the message says how to install it."""
