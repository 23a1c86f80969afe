"""``arpwatch-lb replay``: analyze capture files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..core.addresses import VipSet
from ..core.report import document_exit_status, report_document
from ..core.tracker import OwnershipTracker
from ..sessions.replay import replay as replay_files
from ..sinks.json_report import write_json
from ..sinks.progress import Progress
from ..sinks.table import write_table
from ..sources.capture_files import CaptureError
from .options import (
    EXIT_STATUS_HELP,
    InputError,
    format_option,
    max_ips_option,
    vip_option,
    window_option,
)


@click.command(epilog=EXIT_STATUS_HELP)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@vip_option()
@window_option
@format_option(("table", "json"), "table")
@max_ips_option(0)
def replay(files: tuple[Path, ...], vips: VipSet, window: float, fmt: str, max_ips: int) -> None:
    """Analyze pcap/pcapng captures (gzip too), merged in time order.

    Reads Ethernet (802.1Q/802.1ad tags, LLC/SNAP) and Linux cooked v1/v2
    captures, e.g. from `tcpdump -i any -w node.pcap arp`.  FILE "-" is
    standard input.  With --vip, IPs outside the selection are not tracked
    (their claims still count, and name the hosts behind each MAC).
    """
    tracker = OwnershipTracker(window=window, max_ips=max_ips or None,
                               track=vips if vips else None, protect=vips if vips else None)
    progress = Progress("reading")
    try:
        result = replay_files(files, tracker, progress)
    except CaptureError as exc:
        raise InputError(str(exc)) from None
    finally:
        progress.close()
    for w in result.warnings:
        click.echo(f"arpwatch-lb: warning: {w}", err=True)
    for e in result.errors:
        click.echo(f"arpwatch-lb: error: {e}", err=True)
    report = report_document(tracker, result.counts, vips, result.sources, result.warnings,
                             result.errors)
    out = click.get_text_stream("stdout")
    (write_json if fmt == "json" else write_table)(report, out)
    out.flush()
    sys.exit(document_exit_status(report))
