"""The one error a source raises when it cannot start or go on."""

from __future__ import annotations

__all__ = ["CaptureError", "NeedPrivilegeError", "UnknownInterfaceError"]


class CaptureError(Exception):
    """A capture file cannot be read, or a live capture cannot start or go on.

    The message is one line for the user.
    """


class NeedPrivilegeError(CaptureError):
    """Raw sockets need root or CAP_NET_RAW."""


class UnknownInterfaceError(CaptureError):
    """The interface name does not exist."""
