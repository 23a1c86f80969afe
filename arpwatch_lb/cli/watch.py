"""``arpwatch-lb watch``: sniff ARP live (plus periodic probes) and report changes."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from ..core.addresses import VipSet
from ..core.probe_plan import DEFAULT_RATE
from ..core.verdicts import report_exit_status
from ..sessions.watch import WatchConfig
from ..sessions.watch_run import WatchRun
from ..sessions.watch_services import ServiceError
from ..sinks.console import print_report, say
from ..sources.errors import CaptureError
from ..sources.link_socket import DEFAULT_RCVBUF
from .kube_options import METRICS_ANY, kubernetes_options, metrics_options
from .options import (
    EXIT_STATUS_HELP,
    check_probeable,
    input_errors,
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
              "the --vip addresses and, with --kubernetes, the discovered VIPs (and, at the start and when "
              "the node list changes, the nodes' InternalIPs).")
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
              metavar="FILE", help="Also write the ARP and NDP frames seen to FILE (pcap).")
@click.option("--pcap-max-mb", type=click.FloatRange(min=0), default=0, metavar="MB",
              help="Rotate the pcap at MB megabytes: FILE, FILE.1, FILE.2, ... (0: never).")
@click.option("--promisc", is_flag=True, help="Put the interfaces in promiscuous mode.")
@click.option("--buffer-mb", type=click.FloatRange(min=0), default=DEFAULT_RCVBUF / 2**20,
              show_default=True, metavar="MB",
              help="Kernel receive buffer per interface (bursts wait there; when it is full "
                   "the kernel drops frames and watch reports kernel_drops).")
@click.option("--html", type=click.Path(path_type=Path, dir_okay=False), default=None,
              metavar="FILE", help="Keep an HTML page of the owner timelines in FILE, rewritten "
              "at every summary interval and at the end.")
@max_ips_option()
@kubernetes_options
@metrics_options
def watch(interfaces: tuple[str, ...], vips: VipSet, probe_interval: float, rate: float,
          window: float, duration: float | None, fmt: str | None, summary_interval: float,
          write_pcap: Path | None, pcap_max_mb: float, promisc: bool, buffer_mb: float,
          max_ips: int = 0, kubernetes: bool = False, kubeconfig: str | None = None,
          metrics_port: int | None = None, metrics_address: str = METRICS_ANY,
          html: Path | None = None) -> None:
    """Watch ARP and IPv6 Neighbor Discovery live: report new claimants, owner changes and
    fights as they happen.

    Passive capture (ARP and NDP only, filtered in the kernel) on every
    --interface, plus probes of the --vip addresses every --probe-interval
    (who-has for IPv4, Neighbor Solicitations for IPv6). On
    SIGINT/SIGTERM or after --duration: the final report (the replay schema)
    on stdout, exit 0, or 1 if an IP is contested or a VIP unclaimed. Needs
    root or CAP_NET_RAW.
    """
    check_probeable(vips)
    if fmt is None:
        fmt = "table" if sys.stdout.isatty() else "jsonl"
    cfg = WatchConfig(interfaces=list(dict.fromkeys(interfaces)), vips=vips, window=window,
                      probe_interval=probe_interval, rate=rate, duration=duration, fmt=fmt,
                      write_pcap=write_pcap, pcap_max_bytes=int(pcap_max_mb * 2**20),
                      promisc=promisc, summary_interval=summary_interval,
                      buffer_bytes=int(buffer_mb * 2**20), html=html,
                      max_ips=max_ips)
    with input_errors(CaptureError, ServiceError, OSError):
        watch_run = WatchRun(cfg, kubernetes=kubernetes, kubeconfig=kubeconfig,
                             metrics_port=metrics_port, metrics_host=metrics_address).start()
    signal.signal(signal.SIGINT, lambda signum, frame: watch_run.stop())
    signal.signal(signal.SIGTERM, lambda signum, frame: watch_run.stop())
    report = watch_run.run(ready=lambda names: click.echo(
        f"arpwatch-lb: watching {', '.join(names)} (ARP and NDP only"
        f"{', promiscuous' if promisc else ''})", err=True))
    say("warning", report["warnings"])
    print_report(report, fmt)
    sys.exit(report_exit_status(report))
