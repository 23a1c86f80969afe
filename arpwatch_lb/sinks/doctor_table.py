"""The doctor's table sink: one block per Service (verdict, evidence, fix)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.verdicts import OK

__all__ = ["render_doctor_table"]


def _acting(entry: Mapping[str, Any]) -> str:
    return ", ".join(entry["controllers"]["acting"]) or "-"


def _wire(entry: Mapping[str, Any]) -> str:
    parts = []
    for w in entry["wire"]:
        nodes = sorted({c["node"] or c["mac"] for c in w["claimants"]})
        parts.append(f"{w['vip']}: {w['verdict']} ({', '.join(nodes) or 'nobody'})")
    return "\n".join(parts) or "-"


def render_doctor_table(doc: Mapping[str, Any]) -> str:
    """The doctor document as text."""
    out: list[str] = []
    services = doc["services"]
    with_wire = doc["wire"] is not None
    if services:
        headers = ["VERDICT", "SERVICE", "VIP", "CLASS", "ACTING", "EVENTS/MIN"]
        if with_wire:
            headers.append("ON THE WIRE")
        rows = []
        for e in services:
            rate = e["events"]["per_minute"]
            row = [e["verdict"].upper(), f"{e['namespace']}/{e['name']}", "\n".join(e["vips"]) or "-",
                   e["load_balancer_class"] or "-", _acting(e),
                   "-" if rate is None else f"{rate:g}"]
            if with_wire:
                row.append(_wire(e))
            rows.append(row)
        from tabulate import tabulate  # deferred, as in the table sink

        out.append(tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True))
    else:
        out.append("no Services of type LoadBalancer")
    for e in services:
        if e["verdict"] == OK and not e["fix"]:
            continue
        out.append("")
        out.append(f"{e['namespace']}/{e['name']}: {e['verdict'].upper()}")
        out += [f"  - {line}" for line in e["evidence"]]
        if e["fix"]:
            out.append("  fix:")
            out += [f"    {line}" for line in e["fix"]]
    running = doc["controllers_running"]
    out.append("")
    out.append("announcers running: " + (", ".join(f"{c} ({len(p)} pods)" for c, p in running.items())
                                         or "none found"))
    if doc["mac_nodes"]:
        out.append("MACs of nodes: " + ", ".join(f"{m}={n}" for m, n in doc["mac_nodes"].items()))
    s = doc["summary"]
    out.append(f"{s['services']} LoadBalancer Services: {s['contested']} contested, "
               f"{s['at-risk']} at risk, {s['pending']} pending, {s['ok']} ok")
    for w in doc["warnings"]:
        out.append(f"warning: {w}")
    return "\n".join(out)
