"""Announcer fingerprints over IPv6 Neighbor Discovery: frames in their wire format, decoded.

The shapes (read from MetalLB's, kube-vip's, keepalived's and Linux's sources) are in the
docstring of :mod:`arpwatch_lb.core.fingerprint`.  MetalLB's and kube-vip's advertisement is
built by :func:`lab.announce.build_unsolicited_na` (what the lab's emulators send); the others
byte by byte with the builders of ``conftest``.
"""

from __future__ import annotations

import re

from conftest import (
    ETH_IPV6,
    ether,
    ip,
    ip6,
    ipv6,
    ll_option,
    mac,
    nd,
    sll,
)

from arpwatch_lb.core.frames import Claim, decode
from arpwatch_lb.core.tracker import OwnershipTracker
from lab.announce import build_unsolicited_na

A, B = mac("02:00:5e:10:00:01"), mac("02:00:5e:10:00:02")
A_TEXT = "02:00:5e:10:00:01"
CLIENT = mac("02:00:5e:10:00:10")
VIP_TEXT = "2001:db8::100"
VIP = ip6(VIP_TEXT)
KEY = (None, None, VIP)
HOST = ip6("2001:db8::11")  # node1's own address
ASKER = ip6("2001:db8::10")
LINK_LOCAL = "fe80::5eff:fe10:1"
ALL_NODES, ALL_NODES_MAC = ip6("ff02::1"), mac("33:33:00:00:00:01")
F_R, F_S, F_O = 0x80, 0x40, 0x20
T0 = 1_795_832_880.0
LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL = 1, 113
NDP_WORDS = re.compile(r"\bNA|solicitation")
ARP_WORDS = re.compile(r"GARP|op1|op2|who-has|ARP request")


def mlb_na(m: str = A_TEXT) -> bytes:
    """MetalLB's (and kube-vip's) announcement: mdlayher/ndp from the link-local address."""
    return build_unsolicited_na(m, VIP_TEXT, LINK_LOCAL)


def kernel_na(m: bytes = A, *, flags: int = F_O, target: bytes = VIP,
              eth_dst: bytes = ALL_NODES_MAC) -> bytes:
    """An unsolicited advertisement sent from the target itself (keepalived's
    ``ndisc_send_unsolicited_na_immediate``, the kernel's ``ndisc_send_unsol_na``)."""
    return ether(eth_dst, m, ETH_IPV6,
                 ipv6(target, ALL_NODES, nd(target, ALL_NODES, 136, target, flags=flags,
                                            options=ll_option(2, m))))


def solicitation(m: bytes, src: bytes, target: bytes) -> bytes:
    """A multicast Neighbor Solicitation from ``src`` with its source link-layer option."""
    group = ip6("ff02::1:ff00:0")[:13] + target[13:]
    return ether(b"\x33\x33" + group[12:], m, ETH_IPV6,
                 ipv6(src, group, nd(src, group, 135, target, options=ll_option(1, m))))


def answer(m: bytes, *, flags: int = F_S | F_O) -> bytes:
    """A solicited advertisement of the VIP to the client (S=1)."""
    return ether(CLIENT, m, ETH_IPV6,
                 ipv6(VIP, ASKER, nd(VIP, ASKER, 136, VIP, flags=flags,
                                     options=ll_option(2, m))))


def claims(*timed: tuple[float, bytes], linktype: int = LINKTYPE_ETHERNET) -> list[Claim]:
    out = []
    for t, frame in timed:
        c = decode(linktype, frame, T0 + t)
        assert isinstance(c, Claim), c
        out.append(c)
    return out


def fed(*timed: tuple[float, bytes], linktype: int = LINKTYPE_ETHERNET) -> OwnershipTracker:
    tr = OwnershipTracker()
    tr.feed_all(claims(*timed, linktype=linktype))
    return tr


def named(tr: OwnershipTracker, m: bytes = A, key: tuple = KEY) -> tuple[str, str]:
    a = tr.announcer(key, m)
    return a.kind, a.evidence


def every(period: float, n: int, frame: bytes, start: float = 0.0) -> list[tuple[float, bytes]]:
    return [(start + i * period, frame) for i in range(n)]


def burst(t: float, frame: bytes, n: int = 5) -> list[tuple[float, bytes]]:
    """keepalived's garp_master_repeat frames back-to-back (vrrp_gna_interval 0)."""
    return [(t + i * 0.002, frame) for i in range(n)]


def test_the_builders_make_unsolicited_advertisements() -> None:
    for frame in (mlb_na(), kernel_na()):
        (c,) = claims((0.0, frame))
        assert c.gratuitous and c.sha == A and c.spa == VIP and c.eth_dst == ALL_NODES_MAC


# -- MetalLB -------------------------------------------------------------------------------


def test_metallb_named_by_its_1_1_s_ticker() -> None:
    tr = fed(*every(1.1, 5, mlb_na()))
    kind, evidence = named(tr)
    assert kind == "metallb"
    assert "unsolicited NAs (O=1) to all-nodes, one every 1.1 s (5 seen)" in evidence
    assert not ARP_WORDS.search(evidence)


def test_metallb_needs_two_ticks_of_its_ticker() -> None:
    assert named(fed(*every(1.1, 2, mlb_na())))[0] == "unknown"
    assert named(fed(*every(1.1, 3, mlb_na())))[0] == "metallb"


def test_one_advertisement_names_nobody() -> None:
    kind, evidence = named(fed((0.0, mlb_na())))
    assert kind == "unknown"
    assert evidence == ("no distinctive evidence: 1 NDP announcement: 1 unsolicited NA (O=1) "
                        "to all-nodes, no known announcer's shape or cadence")


def test_metallb_answers_count_as_answered_solicitations() -> None:
    tr = fed(*every(1.1, 5, mlb_na()), (5.5, solicitation(CLIENT, ASKER, VIP)),
             (5.5001, answer(A, flags=F_S)))
    kind, evidence = named(tr)
    assert kind == "metallb" and evidence.endswith("; 1 solicitation answered")


def test_the_router_flag_is_not_metallb() -> None:
    """mdlayher/ndp never sets R; keepalived and the kernel do when the interface forwards."""
    tr = fed(*every(1.1, 5, kernel_na(flags=F_R | F_O)))
    assert named(tr)[0] == "unknown"


def test_override_off_is_no_announcers_shape() -> None:
    kind, evidence = named(fed(*every(1.1, 5, kernel_na(flags=0))))
    assert kind == "unknown" and "5 NDP of another shape" in evidence


def test_an_advertisement_to_ethernet_broadcast_is_not_an_arp_shape() -> None:
    kind, evidence = named(fed((0.0, kernel_na(eth_dst=b"\xff" * 6))))
    assert kind == "unknown" and "1 NDP of another shape" in evidence
    assert "Cilium" not in evidence


def test_metallb_named_from_a_cooked_capture() -> None:
    """Linux cooked captures record no Ethernet destination: S=0 O=1 is enough."""
    frame = mlb_na()[14:]
    tr = fed(*[(t, sll(frame, ETH_IPV6, A)) for t, _ in every(1.1, 4, b"")],
             linktype=LINKTYPE_LINUX_SLL)
    assert named(tr)[0] == "metallb"


# -- kube-vip ------------------------------------------------------------------------------


def test_kube_vip_named_by_its_default_period() -> None:
    tr = fed(*every(3.0, 4, mlb_na()))
    kind, evidence = named(tr)
    assert kind == "kube-vip"
    assert evidence == "unsolicited NAs (O=1) to all-nodes, one every 3.0 s (4 seen)"


def test_kube_vip_needs_three_ticks() -> None:
    assert named(fed(*every(3.0, 2, mlb_na())))[0] == "unknown"
    assert named(fed(*every(3.0, 3, mlb_na())))[0] == "kube-vip"


def test_another_steady_period_is_not_named() -> None:
    """kube-vip with a non-default vip_arpRate sends exactly what any periodic sender would."""
    kind, evidence = named(fed(*every(2.0, 6, mlb_na())))
    assert kind == "unknown" and "6 unsolicited NA (O=1) to all-nodes" in evidence


def test_kube_vip_answered_by_the_kernel() -> None:
    tr = fed(*every(3.0, 4, mlb_na()), (9.5, solicitation(CLIENT, ASKER, VIP)),
             (9.5001, answer(A)))
    kind, evidence = named(tr)
    assert kind == "kube-vip" and evidence.endswith("; 1 solicitation answered")


# -- keepalived ----------------------------------------------------------------------------


def test_keepalived_named_by_one_burst() -> None:
    kind, evidence = named(fed(*burst(0.0, kernel_na())))
    assert kind == "keepalived"
    assert evidence == "bursts of 5 unsolicited NAs (O=1) to all-nodes back-to-back (1 burst)"


def test_keepalived_on_a_router_and_its_second_burst() -> None:
    frame = kernel_na(flags=F_R | F_O)
    kind, evidence = named(fed(*burst(0.0, frame), *burst(5.0, frame)))
    assert kind == "keepalived"
    assert evidence == ("bursts of 5 unsolicited NAs (O=1, R=1) to all-nodes back-to-back "
                        "(2 bursts, the next about 5 s later)")


def test_two_advertisements_back_to_back_are_no_burst() -> None:
    assert named(fed(*burst(0.0, kernel_na(), n=2)))[0] == "unknown"


def test_a_storm_of_advertisements_is_no_burst() -> None:
    assert named(fed(*burst(0.0, kernel_na(), n=40)))[0] == "unknown"


# -- the kernel ----------------------------------------------------------------------------


def test_solicitations_from_the_address_name_the_kernel() -> None:
    tr = fed((0.0, solicitation(A, HOST, ip6("2001:db8::1"))))
    kind, evidence = named(tr, key=(None, None, HOST))
    assert kind == "kernel"
    assert evidence == "sends neighbor solicitations from this address: a host's own address"


def test_ndisc_notify_and_solicitations_name_the_kernel() -> None:
    """One unsolicited NA on an event (NETDEV_NOTIFY_PEERS, ndisc_notify), then questions."""
    tr = fed((0.0, kernel_na(target=HOST)), (2.0, solicitation(A, HOST, ip6("2001:db8::1"))))
    assert named(tr, key=(None, None, HOST))[0] == "kernel"


def test_a_periodic_sender_that_also_asks_is_not_the_kernel() -> None:
    ask = (4.0, solicitation(A, VIP, ip6("2001:db8::1")))
    # Two NAs 3 s apart could be two events of the kernel's; a third makes a period.
    assert named(fed(*every(3.0, 2, mlb_na()), ask))[0] == "kernel"
    assert named(fed(*every(3.0, 4, mlb_na()), ask))[0] == "kube-vip"
    assert named(fed(*every(1.1, 3, mlb_na()), ask))[0] == "metallb"
    assert named(fed(*every(2.0, 3, mlb_na()), ask))[0] == "unknown"


def test_answers_alone_name_nothing() -> None:
    tr = fed((0.0, solicitation(CLIENT, ASKER, VIP)), (0.0001, answer(A)))
    kind, evidence = named(tr)
    assert kind == "unknown" and evidence == "no distinctive evidence: 1 solicitation answered"
    assert NDP_WORDS.search(evidence) and not ARP_WORDS.search(evidence)


# -- IPv4 beside it ------------------------------------------------------------------------


def test_ipv4_and_ipv6_of_one_mac_keep_their_own_words() -> None:
    """A dual-stack MetalLB speaker: GARP pairs for the v4 VIP, NA singles for the v6 one."""
    v4 = ip("192.0.2.100")
    garp1 = ether(b"\xff" * 6, A, 0x0806, bytes.fromhex("0001080006040001") + A + v4
                  + b"\xff" * 6 + v4)
    garp2 = garp1[:21] + b"\x02" + garp1[22:]
    timed = []
    for t, na in every(1.1, 5, mlb_na()):
        timed += [(t, garp1), (t + 0.0002, garp2), (t + 0.01, na)]
    tr = fed(*timed)
    k4, e4 = named(tr, key=(None, None, v4))
    k6, e6 = named(tr)
    assert (k4, k6) == ("metallb", "metallb")
    assert e4.startswith("GARP pairs op1+op2 (target MAC broadcast, 60 bytes) 1.1 s apart")
    assert e6.startswith("unsolicited NAs") and not ARP_WORDS.search(e6)


def test_each_mac_has_its_own_fingerprint() -> None:
    """MetalLB on one node, kube-vip on another: one VIP, two names."""
    tr = fed(*sorted(every(1.1, 9, mlb_na("02:00:5e:10:00:02"), start=0.5)
                     + every(3.0, 4, mlb_na())))
    assert named(tr, A)[0] == "kube-vip" and named(tr, B)[0] == "metallb"
