"""The one vocabulary of announcers, shared by wire fingerprints, ``doctor`` and every output.

An *announcer* is the software that makes a MAC claim an IP: a wire
fingerprint (what a MAC's frames look like) and the Kubernetes evidence (what
a controller leaves in the API) both name it with one of these strings, so a
wire kind and an API kind can be compared with ``==``.
"""

from __future__ import annotations

__all__ = ["CILIUM", "KEEPALIVED", "KERNEL", "KINDS", "KUBE_VIP", "METALLB", "SERVICELB",
           "UNKNOWN", "WIRE_KINDS"]

METALLB = "metallb"
KUBE_VIP = "kube-vip"
CILIUM = "cilium"
KEEPALIVED = "keepalived"
KERNEL = "kernel"
"""A host's own kernel answering for an address bound to one of its interfaces."""
SERVICELB = "k3s-servicelb"
"""k3s ServiceLB (Klipper): known from the API only; on the wire it is the nodes' kernels."""
UNKNOWN = "unknown"
"""No distinctive evidence: never a guess."""

WIRE_KINDS = (METALLB, KUBE_VIP, CILIUM, KEEPALIVED, KERNEL, UNKNOWN)
"""What a fingerprint of frames can say."""
KINDS = (*WIRE_KINDS[:-1], SERVICELB, UNKNOWN)
"""Every name, API-only ones included."""
