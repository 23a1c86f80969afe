"""Network-namespace lab for arpwatch-lb: build L2 segments, run announcers, record pcaps.

See :mod:`lab.netlab` (the lab itself), :mod:`lab.announce` (scapy announcers
that mimic MetalLB, kube-vip, Cilium and tagged GARPs), :mod:`lab.scenarios` (the
recorded scenarios and their hand-written expected facts) and
:mod:`lab.record` (``python -m lab.record``).
"""

from lab.netlab import (
    AUTO,
    NETNS_PREFIX,
    Capture,
    CommandError,
    Host,
    Lab,
    LabError,
    cleanup_stale,
    list_lab_namespaces,
)

__all__ = [
    "AUTO",
    "NETNS_PREFIX",
    "Capture",
    "CommandError",
    "Host",
    "Lab",
    "LabError",
    "cleanup_stale",
    "list_lab_namespaces",
]
