"""``arpwatch-lb replay``: analyze capture files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..core.addresses import VipSet
from ..core.report import build_report, report_document
from ..core.tracker import OwnershipTracker
from ..core.verdicts import document_exit_status, report_exit_status
from ..sessions.replay import replay as replay_files
from ..sinks.console import print_report, say
from ..sinks.html_timeline import HTML_MAX_MARKS, HTML_MAX_RUNS, write_html
from ..sinks.json_report import write_json
from ..sinks.progress import Progress
from ..sinks.table import write_table
from ..sources.errors import CaptureError
from .options import (
    EXIT_STATUS_HELP,
    InputError,
    format_option,
    input_errors,
    max_ips_option,
    vip_option,
    window_option,
)


@click.command(epilog=EXIT_STATUS_HELP)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@vip_option()
@window_option
@format_option(("table", "json"), "table")
@click.option("--html", type=click.Path(path_type=Path, dir_okay=False), default=None,
              metavar="FILE", help="Also write the owner timelines as one self-contained HTML "
              "page to FILE (the timelines in the report are then complete).")
@max_ips_option(0)
def replay(files: tuple[Path, ...], vips: VipSet, window: float, fmt: str,
           html: Path | None = None, max_ips: int = 0) -> None:
    """Analyze pcap/pcapng captures (gzip too), merged in time order.

    Reads Ethernet (802.1Q/802.1ad tags, LLC/SNAP) and Linux cooked v1/v2
    captures, e.g. from `tcpdump -i any -w node.pcap arp`.  FILE "-" is
    standard input.  With --vip, IPs outside the selection are not tracked
    (their claims still count, and name the hosts behind each MAC).
    """
    if html is not None and not html.absolute().parent.is_dir():
        raise InputError(f"--html {html}: no such directory")
    kept = {"max_runs": HTML_MAX_RUNS, "max_marks": HTML_MAX_MARKS} if html is not None else {}
    tracker = OwnershipTracker(window=window, max_ips=max_ips or None,
                               track=vips if vips else None, protect=vips if vips else None,
                               **kept)
    progress = Progress("reading")
    try:
        with input_errors(CaptureError):
            result = replay_files(files, tracker, progress)
    finally:
        progress.close()
    say("warning", result.warnings)
    say("error", result.errors)
    if html is not None:  # the page needs the whole document at once
        report = build_report(tracker, result.counts, vips, result.sources, result.warnings,
                              result.errors)
        try:
            write_html(html, report)
        except OSError as exc:
            raise InputError(f"--html {exc.filename}: {exc.strerror}") from None
        print_report(report, fmt)
        sys.exit(report_exit_status(report))
    # entries built as they are written: a replay of a million IPs never holds them all
    doc = report_document(tracker, result.counts, vips, result.sources, result.warnings,
                          result.errors)
    out = click.get_text_stream("stdout")
    (write_json if fmt == "json" else write_table)(doc, out)
    out.flush()
    sys.exit(document_exit_status(doc))
