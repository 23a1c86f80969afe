"""arpwatch-lb: find LoadBalancer VIPs that two ARP announcers claim at once."""

__version__ = "0.1.0"

__all__ = ["__version__"]
