"""Node names for MACs, from the tracker's facts (pure).

A node's InternalIP is claimed in ARP (IPv4) or Neighbor Discovery (IPv6) by
the node's own kernel (its requests and replies carry the address as sender
IP; its solicitations as source, its advertisements as target).  Every MAC that claims a node's
InternalIP is one of that node's interfaces; with bonds, several NICs or ARP
flux a node has several such MACs.  A VIP claimed by several MACs that all
belong to **one** node is one announcer, not a fight: :func:`claimant_nodes`
groups the claimants of a VIP by node so callers can tell.

A MAC that never claimed a node address stays unknown (``None``) — e.g. a node
whose kernel has not ARPed since the capture started.  Unknown MACs count as
distinct claimants.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from ..core.tracker import IpState, OwnershipTracker
from ..core.verdicts import claimant_macs

__all__ = ["MacNodes", "claimant_nodes", "mac_nodes"]

MacNodes = Mapping[bytes, str]
"""MAC (six bytes) → node name."""


def mac_nodes(tracker: OwnershipTracker, node_ips: Mapping[str, str]) -> dict[bytes, str]:
    """Map each MAC that claims a node InternalIP (IP text → node name) to that node.

    A MAC that claims the addresses of two different nodes (a router doing proxy
    ARP, a misconfiguration) is ambiguous and left out.
    """
    packed = {ipaddress.ip_address(ip).packed: node for ip, node in node_ips.items()}
    out: dict[bytes, str] = {}
    ambiguous: set[bytes] = set()
    for key, rec in tracker.records():  # records: no IpState built for the many other IPs
        node = packed.get(key[2])
        if node is None:
            continue
        # a compact record has one MAC
        for mac in claimant_macs(rec) if rec.__class__ is IpState else (rec.owner,):  # type: ignore[arg-type]
            if mac in ambiguous:
                continue
            if out.setdefault(mac, node) != node:
                ambiguous.add(mac)
                del out[mac]
    return out


def claimant_nodes(st: IpState, nodes: MacNodes) -> dict[str | None, list[bytes]]:
    """Group the claimant MACs of one tracked IP by node (``None``: unknown MAC)."""
    out: dict[str | None, list[bytes]] = {}
    for mac in claimant_macs(st):
        out.setdefault(nodes.get(mac), []).append(mac)
    return out

