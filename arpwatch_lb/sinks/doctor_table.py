"""The doctor's table sink: one row per Service (with its CAUSE), then each cause's evidence and fix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..core.verdicts import INFO, OK

__all__ = ["render_doctor_table"]


def _acting(entry: Mapping[str, Any]) -> str:
    return ", ".join(entry["controllers"]["acting"]) or "-"


def _wire(entry: Mapping[str, Any]) -> str:
    parts = []
    for w in entry["wire"]:
        nodes = sorted({c["node"] or c["mac"] for c in w["claimants"]})
        parts.append(f"{w['vip']}: {w['verdict']} ({', '.join(nodes) or 'nobody'})")
    return "\n".join(parts) or "-"


def _cause(entry: Mapping[str, Any]) -> str:
    """The ids of the Service's findings that matter (faults and risks), worst first."""
    ids = dict.fromkeys(f["id"] for f in entry.get("findings", ()) if f["severity"] != INFO)
    return "\n".join(ids) or "-"


def _findings(findings: Sequence[Mapping[str, Any]], shown: set[str], indent: str) -> list[str]:
    out: list[str] = []
    fixes: dict[tuple[str, ...], str] = {}  # a fix printed once; later findings point to it
    for f in findings:
        out.append(f"{indent}{f['severity'].upper()} {f['id']}: {f['title']}")
        out += [f"{indent}  - {line}" for line in f["evidence"] if line not in shown]
        fix = tuple(f["fix"])
        if fix and fix in fixes:
            out.append(f"{indent}  fix: as for {fixes[fix]} above")
        elif fix:
            fixes[fix] = f["id"]
            out.append(f"{indent}  fix:")
            out += [f"{indent}    {line}" for line in fix]
    return out


def render_doctor_table(doc: Mapping[str, Any]) -> str:
    """The doctor document as text."""
    out: list[str] = []
    services = doc["services"]
    with_wire = doc["wire"] is not None
    if services:
        headers = ["VERDICT", "SERVICE", "VIP", "CLASS", "ACTING", "EVENTS/MIN"]
        if with_wire:
            headers.append("ON THE WIRE")
        headers.append("CAUSE")
        rows = []
        for e in services:
            rate = e["events"]["per_minute"]
            row = [e["verdict"].upper(), f"{e['namespace']}/{e['name']}", "\n".join(e["vips"]) or "-",
                   e["load_balancer_class"] or "-", _acting(e),
                   "-" if rate is None else f"{rate:g}"]
            if with_wire:
                row.append(_wire(e))
            row.append(_cause(e))
            rows.append(row)
        from tabulate import tabulate  # deferred, as in the table sink

        out.append(tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True))
    else:
        out.append("no Services of type LoadBalancer")
    for e in services:
        findings = e.get("findings", [])
        if e["verdict"] == OK and not e["fix"] and not findings:
            continue
        out.append("")
        out.append(f"{e['namespace']}/{e['name']}: {e['verdict'].upper()}")
        out += [f"  - {line}" for line in e["evidence"]]
        out += _findings(findings, set(e["evidence"]), "  ")
    cluster = doc.get("findings") or []
    if cluster:
        out.append("")
        out.append("cluster:")
        out += _findings(cluster, set(), "  ")
    running = doc["controllers_running"]
    out.append("")
    out.append("announcers running: " + (", ".join(f"{c} ({len(p)} pods)" for c, p in running.items())
                                         or "none found"))
    kp = doc.get("kube_proxy")
    if kp:
        out.append(f"kube-proxy: {kp['status']} ({kp['detail']})")
    if doc["mac_nodes"]:
        out.append("MACs of nodes: " + ", ".join(f"{m}={n}" for m, n in doc["mac_nodes"].items()))
    not_installed = [k for k, v in (doc.get("reads") or {}).items() if v == "not installed"]
    if not_installed:
        out.append("not installed: " + ", ".join(not_installed))
    s = doc["summary"]
    counts = s.get("findings") or {}
    out.append(f"{s['services']} LoadBalancer Services: {s['contested']} contested, "
               f"{s.get('stale', 0)} stale, {s.get('unclaimed', 0)} unclaimed, "
               f"{s['at-risk']} at risk, {s['pending']} pending, {s['ok']} ok"
               + (f"; findings: {counts.get('fault', 0)} fault, {counts.get('at-risk', 0)} at risk, "
                  f"{counts.get('info', 0)} info" if counts else ""))
    for w in doc["warnings"]:
        out.append(f"warning: {w}")
    return "\n".join(out)
