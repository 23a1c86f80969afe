"""``arpwatch-lb watch``: sniff ARP live (plus periodic probes) and report changes."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from types import FrameType

import click

from ..core.addresses import VipSet
from ..core.report import report_exit_status
from ..sessions.probe import DEFAULT_RATE
from ..sessions.watch import CLEAR, WatchConfig, WatchSession
from ..sessions.watch_services import WatchExtras, watch_extras_options
from ..sinks import render_table
from ..sources.link_socket import DEFAULT_RCVBUF, CaptureError, check_interfaces, default_interface
from .options import (
    EXIT_STATUS_HELP,
    InputError,
    interface_option,
    max_ips_option,
    vip_option,
    window_option,
)


@click.command(epilog=EXIT_STATUS_HELP)
@interface_option()
@vip_option()
@click.option("--probe-interval", type=click.FloatRange(min=0.1), default=10.0,
              show_default=True, metavar="S", help="Seconds between two rounds of probes of "
              "the --vip addresses (no probes without --vip).")
@click.option("--rate", type=click.FloatRange(min=1), default=DEFAULT_RATE, show_default=True,
              metavar="N", help="At most N probe requests per second.")
@window_option
@click.option("--duration", type=click.FloatRange(min=0), default=None, metavar="S",
              help="Stop after S seconds (default: run until SIGINT/SIGTERM).")
@click.option("--format", "fmt", type=click.Choice(("jsonl", "table")), default=None,
              help="jsonl: one JSON event per line (default when stdout is not a terminal); "
                   "table: a view redrawn every second.")
@click.option("--summary-interval", type=click.FloatRange(min=0.1), default=10.0,
              show_default=True, metavar="S", help="Seconds between two summary events.")
@click.option("--write-pcap", type=click.Path(path_type=Path, dir_okay=False), default=None,
              metavar="FILE", help="Also write the ARP frames seen to FILE (pcap).")
@click.option("--pcap-max-mb", type=click.FloatRange(min=0), default=0, metavar="MB",
              help="Rotate the pcap at MB megabytes: FILE, FILE.1, FILE.2, ... (0: never).")
@click.option("--promisc", is_flag=True, help="Put the interfaces in promiscuous mode.")
@click.option("--buffer-mb", type=click.FloatRange(min=0), default=DEFAULT_RCVBUF / 2**20,
              show_default=True, metavar="MB",
              help="Kernel receive buffer per interface (bursts wait there; when it is full "
                   "the kernel drops frames and watch reports kernel_drops).")
@max_ips_option()
@watch_extras_options
def watch(interfaces: tuple[str, ...], vips: VipSet, probe_interval: float, rate: float,
          window: float, duration: float | None, fmt: str | None, summary_interval: float,
          write_pcap: Path | None, pcap_max_mb: float, promisc: bool, buffer_mb: float,
          max_ips: int = 0, kubernetes: bool = False, kubeconfig: str | None = None,
          metrics_port: int | None = None) -> None:
    """Watch ARP live: report new claimants, owner changes and fights as they happen.

    Passive capture (ARP only, filtered in the kernel) on every --interface,
    plus who-has probes of the --vip addresses every --probe-interval. On
    SIGINT/SIGTERM or after --duration: the final report (the replay schema)
    on stdout, exit 0, or 1 if an IP is contested or a VIP unclaimed. Needs
    root or CAP_NET_RAW.
    """
    if fmt is None:
        fmt = "table" if sys.stdout.isatty() else "jsonl"
    try:
        names = list(dict.fromkeys(interfaces)) or [default_interface()]
        check_interfaces(names)
        cfg = WatchConfig(names, vips, window, probe_interval, rate, duration, fmt, write_pcap,
                          int(pcap_max_mb * 2**20), promisc, summary_interval,
                          int(buffer_mb * 2**20), max_ips=max_ips)
        session = WatchSession(cfg)
    except CaptureError as exc:
        raise InputError(str(exc)) from None
    except OSError as exc:  # --write-pcap not writable
        raise InputError(f"{exc.filename or write_pcap}: {exc.strerror}") from None

    def stop(signum: int, frame: FrameType | None) -> None:
        session.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:  # --kubernetes / --metrics-port (arpwatch_lb.sessions.watch_services)
        extras = WatchExtras(kubernetes, kubeconfig, metrics_port).attach(session)
    except BaseException:
        session.close()
        raise
    try:
        session.run(ready=lambda: click.echo(
            f"arpwatch-lb: watching {', '.join(names)} (ARP only"
            f"{', promiscuous' if promisc else ''})", err=True))
        report = session.report()
    finally:
        extras.close()
        session.close()
    for w in report["warnings"]:
        click.echo(f"arpwatch-lb: warning: {w}", err=True)
    try:
        if fmt == "jsonl":
            click.echo(json.dumps(report, separators=(",", ":")))  # the last JSON line
        else:
            click.echo((CLEAR if sys.stdout.isatty() else "") + render_table(report))
    except BrokenPipeError:  # the reader went away: nothing more to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(report_exit_status(report))
