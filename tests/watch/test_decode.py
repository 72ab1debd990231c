"""The watch's struct decoders read what the scan's scapy parsers read.

Frames are built with scapy (as a real sender would put them on the wire)
and read twice: by scanner/watch/decode.py and by the probes' own parsers
(scanner/probes/ra.parse_advert, dhcp.parse_offer, dhcp.parse_advertise);
the checks then judge both alike. Truncated and random frames never raise.
"""
from __future__ import annotations

import random

import pytest

scapy = pytest.importorskip("scapy.all")
from scapy.layers.dhcp import BOOTP, DHCP  # noqa: E402
from scapy.layers.dhcp6 import (DHCP6_Advertise, DHCP6OptDNSDomains, DHCP6OptDNSServers,  # noqa: E402
                                DHCP6OptIA_NA, DHCP6OptIAAddress, DHCP6OptServerId,
                                DHCP6OptStatusCode, DUID_LL)
from scapy.layers.inet import IP, UDP  # noqa: E402
from scapy.layers.inet6 import (ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6ND_RA, ICMPv6NDOptDNSSL,  # noqa: E402
                                ICMPv6NDOptMTU, ICMPv6NDOptPrefixInfo, ICMPv6NDOptRDNSS,
                                ICMPv6NDOptRouteInfo, ICMPv6NDOptSrcLLAddr, IPv6,
                                IPv6ExtHdrHopByHop)
from scapy.layers.l2 import ARP, Ether  # noqa: E402

from scanner.probes import dhcp as D  # noqa: E402
from scanner.probes import ra as R  # noqa: E402
from scanner.watch.decode import Heard, decode  # noqa: E402

MAC = "02:aa:00:00:00:01"


def advert(hbh=False):
    ip6 = IPv6(src="fe80::aa", dst="ff02::1", hlim=255)
    if hbh:
        ip6 = ip6 / IPv6ExtHdrHopByHop()
    return (Ether(src=MAC, dst="33:33:00:00:00:01") / ip6
            / ICMPv6ND_RA(routerlifetime=1800, M=1, prf=1)
            / ICMPv6NDOptSrcLLAddr(lladdr="02:aa:00:00:00:02")
            / ICMPv6NDOptMTU(mtu=1480)
            / ICMPv6NDOptPrefixInfo(prefix="2001:db8:bad::", prefixlen=64, validlifetime=600,
                                    preferredlifetime=300)
            / ICMPv6NDOptRouteInfo(prefix="::", plen=0, rtlifetime=900)
            / ICMPv6NDOptRDNSS(dns=["2001:db8::53", "2001:db8::54"], lifetime=60)
            / ICMPv6NDOptDNSSL(searchlist=["evil.example."], lifetime=60))


@pytest.mark.parametrize("hbh", [False, True])
def test_router_advert_reads_as_the_probe_reads_it(hbh):
    pkt = advert(hbh)
    kind, got = decode(bytes(pkt))
    want = R.parse_advert(R._dissect(bytes(pkt)))
    assert kind == "ra"
    for k, v in want.items():
        if k == "dnssl":
            assert [d.rstrip(".") for d in got[k]] == [d.rstrip(".") for d in v]
        else:
            assert got[k] == v, k


def offer4():
    return (Ether(src=MAC, dst="ff:ff:ff:ff:ff:ff") / IP(src="10.0.0.9", dst="255.255.255.255")
            / UDP(sport=67, dport=68)
            / BOOTP(op=2, yiaddr="10.0.0.150", xid=7)
            / DHCP(options=[("message-type", "offer"), ("server_id", "10.0.0.9"),
                            ("router", "10.0.0.9"), ("name_server", "10.0.0.9", "8.8.8.8"),
                            ("lease_time", 600), ("subnet_mask", "255.255.255.0"),
                            ("hostname", b"rogue\x1b[31m"), ("domain", b"evil.example"), "end"]))


def test_dhcp_offer_reads_as_the_probe_reads_it():
    pkt = offer4()
    kind, got = decode(bytes(pkt))
    want = D.parse_offer(D._dissect(bytes(pkt)))
    assert kind == "dhcp"
    for k, v in want.items():
        assert got[k] == v, k


def test_dhcpv6_advertise_reads_as_the_probe_reads_it():
    pkt = (Ether(src=MAC, dst="33:33:00:01:00:02") / IPv6(src="fe80::aa", dst="fe80::1")
           / UDP(sport=547, dport=546)
           / DHCP6_Advertise(trid=5) / DHCP6OptServerId(duid=DUID_LL(lladdr=MAC))
           / DHCP6OptIA_NA(iaid=1, ianaopts=[DHCP6OptIAAddress(addr="2001:db8::99", validlft=900)])
           / DHCP6OptDNSServers(dnsservers=["2001:db8::53"])
           / DHCP6OptDNSDomains(dnsdomains=["evil.example."])
           / DHCP6OptStatusCode(statuscode=0))
    kind, got = decode(bytes(pkt))
    want = D.parse_advertise(D._dissect(bytes(pkt)))
    assert kind == "dhcp"
    for k, v in want.items():
        if k == "domain":
            assert (got[k] or "").rstrip(".") == (v or "").rstrip("."), (got[k], v)
        else:
            assert got[k] == v, k


@pytest.mark.parametrize("pkt,want", [
    (Ether(src=MAC) / ARP(op=1, hwsrc=MAC, psrc="10.0.0.7", pdst="10.0.0.7"),
     Heard(MAC, "10.0.0.7", "garp", True)),
    (Ether(src=MAC) / ARP(op=1, hwsrc=MAC, psrc="0.0.0.0", pdst="10.0.0.7"),
     Heard(MAC, None, "arp-probe", True)),
    (Ether(src=MAC) / ARP(op=2, hwsrc=MAC, psrc="10.0.0.7", pdst="10.0.0.1"),
     Heard(MAC, "10.0.0.7", "arp", False)),
    (Ether(src=MAC) / IPv6(src="::", dst="ff02::1:ff00:7", hlim=255) / ICMPv6ND_NS(tgt="fe80::7"),
     Heard(MAC, "fe80::7", "dad", True)),
    (Ether(src=MAC) / IPv6(src="fe80::7", dst="ff02::1", hlim=255) / ICMPv6ND_NA(tgt="fe80::7"),
     Heard(MAC, "fe80::7", "ndp", True)),
    (Ether(src=MAC, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
     / UDP(sport=68, dport=67) / BOOTP(op=1, chaddr=bytes.fromhex("02aa00000001"))
     / DHCP(options=[("message-type", "discover"), "end"]),
     Heard(MAC, None, "dhcp", True)),
])
def test_arrivals(pkt, want):
    assert decode(bytes(pkt)) == want


def test_truncated_and_random_frames_never_raise():
    frames = [bytes(advert(True)), bytes(offer4()),
              bytes(Ether(src=MAC) / ARP(hwsrc=MAC, psrc="10.0.0.7"))]
    for f in frames:
        for n in range(len(f)):
            decode(f[:n])
    rnd = random.Random(27)
    for _ in range(3000):
        f = bytearray(rnd.choice(frames))
        for _ in range(rnd.randint(1, 8)):
            f[rnd.randrange(len(f))] = rnd.randrange(256)
        decode(bytes(f))
