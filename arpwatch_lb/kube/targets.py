"""One-shot discovery for ``probe`` and ``doctor --probe``: LoadBalancer VIPs and node addresses."""

from __future__ import annotations

from collections.abc import Callable

from .api import KubeApi, KubeForbidden
from .model import node_internal_ips, vip_snapshot

__all__ = ["list_targets"]


def list_targets(kubeconfig: str | None, nodes: bool = True,
                 warn: Callable[[str], None] | None = None) -> tuple[list[str], dict[str, str]]:
    """Every LoadBalancer VIP (one list, no watch) and, with ``nodes``, the nodes'
    InternalIPs (IP text → node name).

    RBAC refusing to list nodes costs the names, not the VIPs: ``warn`` is
    told and the mapping is empty.  Raises :class:`~arpwatch_lb.kube.api.KubeError`
    (and :class:`~arpwatch_lb.kube.MissingExtra` without the client).
    """
    node_ips: dict[str, str] = {}
    api = KubeApi(kubeconfig)
    try:
        items, rv = api.list_services()
        if nodes:
            try:
                node_ips = {ip: str(n["metadata"]["name"]) for n in api.list_nodes()
                            for ip in node_internal_ips(n)}
            except KubeForbidden as exc:
                if warn is not None:
                    warn(f"kubernetes: {exc}; MACs stay without node names")
    finally:
        api.close()
    return sorted(vip_snapshot(items, rv).vips), node_ips
