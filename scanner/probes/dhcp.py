"""The DHCP probe: who answers a DHCPDISCOVER on the vantage's link?

One DHCPDISCOVER is broadcast from the vantage's interface (a second one, same
transaction, half-way through the wait window, in case the first was lost),
and every DHCPOFFER that arrives in the window is collected. The probe never
sends a DHCPREQUEST, so no server ever commits a lease: no pool is exhausted,
and the vantage's own address configuration is never touched.

The client identity is fixed and isoscan-specific, so a network team can
recognise (and whitelist in their DHCP snooping logs) the audit's probe:

    CLIENT_MAC = 02:69:73:6f:73:63    locally administered, unicast;
                                      the five bytes after 02 spell "isosc"
    client identifier (option 61) = 0x01 + CLIENT_MAC
    vendor class (option 60)      = "isoscan"

A switch port with port security (one MAC per port, violation "shutdown")
may shut the auditor's port on a frame from a second MAC: there, set
ISOSCAN_DHCP_CLIENT_MAC=vantage (the interface's own MAC) or another unicast
MAC, or pass `client_mac=` (the section records which one was used).

The broadcast flag is set, so servers broadcast their offers and the probe
needs no address of its own; the capture socket is promiscuous as well, so an
offer unicast to CLIENT_MAC is seen too. The capture socket is opened before
the first discover leaves, so an instant answer cannot be missed.

DHCPv6 too (a rogue DHCPv6 server, e.g. mitm6, needs no router
advertisement to become every Windows host's DNS server): in the same window
one DHCPv6 Solicit goes to ff02::1:2 (All_DHCP_Relay_Agents_and_Servers,
link scope) from the vantage's own link-local address and MAC — a server
answers unicast to that address, which the vantage's kernel must resolve —
with client DUID-LL(CLIENT_MAC) and an IA_NA, and every Advertise is kept as
an offer with "version": 6 (server_id is then the server's DUID, hex). The
Solicit is never followed by a Request. Without a usable link-local address
the DHCPv6 part is not run and the section's "v6" says why.

Everything in an offer came from the network and is data: host names,
domain names and other strings are decoded leniently, control characters are
escaped, and their length is capped; the report escapes them again.

Output (scanner/observations.py, section "dhcp"):

    {"status": "ok" | "error", "error": null | "why",
     "interface": "eth0", "client_mac": CLIENT_MAC, "wait": 4.0,
     "discovers_sent": 2, "truncated": false,
     "v6": {"status": "ok" | "not-run" | "error", "error": .., "src_ip": "fe80::..",
            "solicits_sent": 2},
     "offers": [{"version": 4, "server_id", "src_ip", "src_mac", "yiaddr", "router": [..],
                 "dns": [..], "lease", "subnet_mask", "hostname", "domain",
                 "count"},
                {"version": 6, "server_id": "00:01:..(DUID)", "src_ip": "fe80::..",
                 "src_mac", "yiaddr": null | "2001:db8::..", "router": [],
                 "dns": [..], "lease": null | valid lifetime, "domain": "a.example b.example",
                 "status_code": null | 2, "count"}]}

One entry per distinct (version, server_id, src_ip, src_mac); `count` says how
many offers it sent in the window.
"""
from __future__ import annotations

import random
import struct
from typing import Any, Iterable

from scanner.probes import rawsock, wire

CLIENT_MAC = "02:69:73:6f:73:63"
VENDOR_CLASS = b"isoscan"
DEFAULT_WAIT = 5.0       # dnsmasq ping-checks an address (~3 s) before offering it; ISC dhcpd ~1 s
MAX_OFFERS = 64          # distinct servers kept; a flood is reported as truncated
MAX_TEXT = 255           # longest string kept from the wire

BPF = "udp and (port 67 or port 68 or port 546 or port 547)"
ALL_DHCP6 = "ff02::1:2"
ALL_DHCP6_MAC = "33:33:00:01:00:02"


def safe_text(value: Any, limit: int = MAX_TEXT) -> str | None:
    """A string from the network as plain, printable data (never markup)."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        s = bytes(value).decode("utf-8", errors="replace")
    else:
        s = str(value)
    s = s.rstrip("\x00")
    out = []
    for ch in s[: limit]:
        if ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def _ip_list(values: Iterable[Any]) -> list[str]:
    from netaddr import IPAddress
    out = []
    for v in values:
        try:
            out.append(str(IPAddress(str(v))))
        except Exception:
            out.append(safe_text(v) or "")
    return out


def _udp(src: bytes, dst: bytes, sport: int, dport: int, data: bytes, proto_len: bytes) -> bytes:
    """A UDP datagram with its checksum over the pseudo-header (`proto_len`
    is the protocol/length part of the IPv4 or IPv6 one)."""
    head = struct.pack("!HHHH", sport, dport, 8 + len(data), 0)
    c = wire.checksum(src + dst + proto_len + head + data) or 0xFFFF
    return head[:6] + struct.pack("!H", c) + data


def _discover(xid: int, client_mac: str = CLIENT_MAC) -> bytes:
    """The DHCPDISCOVER frame, built with struct (no scapy: the window opens
    at once); byte for byte what scapy builds (tests/probes/test_rogue_parse.py)."""
    mac = bytes.fromhex(client_mac.replace(":", ""))
    opts = (b"\x35\x01\x01"                                   # message-type discover
            + b"\x3d\x07\x01" + mac                            # client identifier
            + bytes([60, len(VENDOR_CLASS)]) + VENDOR_CLASS
            + b"\x37\x07\x01\x03\x06\x0c\x0f\x33\x36"           # parameter request list
            + b"\xff")
    bootp = (struct.pack("!BBBBIHH4s4s4s4s", 1, 1, 6, 0, xid, 0, 0x8000,
                         *(b"\0" * 4,) * 4)
             + mac + b"\0" * 10 + b"\0" * 64 + b"\0" * 128 + b"\x63\x82\x53\x63" + opts)
    src, dst = b"\0" * 4, b"\xff" * 4
    udp = _udp(src, dst, 68, 67, bootp, struct.pack("!BBH", 0, 17, 8 + len(bootp)))
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", wire.checksum(ip)) + ip[12:]
    return b"\xff" * 6 + mac + b"\x08\x00" + ip + udp


def parse_offer(pkt, xid: int | None = None) -> dict | None:
    """A DHCPOFFER as observation data, or None when pkt is not one of ours."""
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether

    if BOOTP not in pkt or DHCP not in pkt or IP not in pkt:
        return None
    bootp = pkt[BOOTP]
    if bootp.op != 2:
        return None
    if xid is not None and bootp.xid != xid:
        return None
    opts: dict[str, list] = {}
    for o in pkt[DHCP].options:
        if isinstance(o, tuple) and o:
            opts.setdefault(str(o[0]), []).extend(o[1:])
    mtype = (opts.get("message-type") or [None])[0]
    if mtype not in (2, "offer"):
        return None

    def one(name):
        v = opts.get(name)
        return v[0] if v else None

    lease = one("lease_time")
    return {
        "version": 4,
        "server_id": _ip_list([one("server_id")])[0] if one("server_id") is not None else None,
        "src_ip": pkt[IP].src,
        "src_mac": pkt[Ether].src.lower() if Ether in pkt else None,
        "yiaddr": bootp.yiaddr,
        "router": _ip_list(opts.get("router", [])),
        "dns": _ip_list(opts.get("name_server", [])),
        "lease": int(lease) if isinstance(lease, int) else None,
        "subnet_mask": _ip_list([one("subnet_mask")])[0] if one("subnet_mask") is not None else None,
        "hostname": safe_text(one("hostname")),
        "domain": safe_text(one("domain")),
    }


def _solicit(trid: int, src_ip: str, src_mac: str, client_mac: str) -> bytes:
    """The DHCPv6 Solicit frame, built with struct; byte for byte what scapy
    builds (client DUID-LL, elapsed time 0, an IA_NA, an option request for
    DNS servers and the domain search list)."""
    import ipaddress
    cmac = bytes.fromhex(client_mac.replace(":", ""))
    msg = (bytes([1]) + trid.to_bytes(3, "big")
           + struct.pack("!HHHH", 1, 10, 3, 1) + cmac            # client id: DUID-LL, Ethernet
           + struct.pack("!HHH", 8, 2, 0)                         # elapsed time
           + struct.pack("!HHIII", 3, 12, 0x69736F, 0, 0)         # IA_NA
           + struct.pack("!HHHH", 6, 4, 23, 24))                  # option request
    src = ipaddress.IPv6Address(src_ip).packed
    dst = ipaddress.IPv6Address(ALL_DHCP6).packed
    udp = _udp(src, dst, 546, 547, msg, struct.pack("!IxxxB", 8 + len(msg), 17))
    ip6 = struct.pack("!IHBB", 6 << 28, len(udp), 17, 1) + src + dst
    return (bytes.fromhex(ALL_DHCP6_MAC.replace(":", "")) + bytes.fromhex(src_mac.replace(":", ""))
            + b"\x86\xdd" + ip6 + udp)


def _dissect(raw: bytes):
    """A received frame as a scapy packet, every DHCP layer registered first
    (scapy is imported only when something arrived)."""
    import scapy.layers.dhcp  # noqa: F401
    import scapy.layers.dhcp6  # noqa: F401
    import scapy.layers.inet6  # noqa: F401
    from scapy.layers.l2 import Ether
    return Ether(raw)


def if_mac(iface: str) -> str:
    """The interface's own MAC (from sysfs: no scapy)."""
    with open(f"/sys/class/net/{iface}/address", encoding="ascii") as f:
        return f.read().strip().lower()


def parse_advertise(pkt, trid: int | None = None) -> dict | None:
    """A DHCPv6 Advertise as observation data (an offer, version 6), or None."""
    from scapy.layers.dhcp6 import (DHCP6_Advertise, DHCP6OptDNSDomains, DHCP6OptDNSServers,
                                    DHCP6OptIA_NA, DHCP6OptIAAddress, DHCP6OptServerId,
                                    DHCP6OptStatusCode)
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    if DHCP6_Advertise not in pkt or IPv6 not in pkt:
        return None
    adv = pkt[DHCP6_Advertise]
    if trid is not None and adv.trid != trid:
        return None
    server_id = None
    yiaddr = lease = status = None
    dns: list[str] = []
    domains: list[str] = []
    for opt in adv.payload.iterpayloads():
        if isinstance(opt, DHCP6OptServerId) and server_id is None:
            server_id = bytes(opt.duid).hex(":")[: 3 * 130]
        elif isinstance(opt, DHCP6OptIA_NA):
            for a in opt.ianaopts or []:
                if isinstance(a, DHCP6OptIAAddress) and yiaddr is None:
                    yiaddr, lease = str(a.addr), int(a.validlft)
                elif isinstance(a, DHCP6OptStatusCode) and status is None:
                    status = int(a.statuscode)
        elif isinstance(opt, DHCP6OptStatusCode) and status is None:
            status = int(opt.statuscode)
        elif isinstance(opt, DHCP6OptDNSServers):
            dns += [str(d) for d in opt.dnsservers or []][:32]
        elif isinstance(opt, DHCP6OptDNSDomains):
            domains += [safe_text(d) or "" for d in opt.dnsdomains or []][:32]
    return {
        "version": 6,
        "server_id": server_id,
        "src_ip": str(pkt[IPv6].src),
        "src_mac": pkt[Ether].src.lower() if Ether in pkt else None,
        "yiaddr": yiaddr,
        "router": [],
        "dns": dns,
        "lease": lease,
        "subnet_mask": None,
        "hostname": None,
        "domain": safe_text(" ".join(domains)) if domains else None,
        "status_code": status,
    }


def client_mac_for(iface: str, client_mac: str | None = None) -> str:
    """The client MAC to use: the argument, else ISOSCAN_DHCP_CLIENT_MAC, else
    CLIENT_MAC; "vantage" means iface's own MAC. ValueError unless unicast."""
    import os

    from netaddr import EUI, mac_unix_expanded
    want = client_mac or os.environ.get("ISOSCAN_DHCP_CLIENT_MAC") or CLIENT_MAC
    if want.strip().lower() == "vantage":
        want = if_mac(iface)
    try:
        mac = str(EUI(want.strip(), dialect=mac_unix_expanded))
    except Exception:
        raise ValueError(f"DHCP client MAC {want!r} is not a MAC address") from None
    if int(mac[:2], 16) & 1:
        raise ValueError(f"DHCP client MAC {mac} is a multicast address")
    return mac


def probe(iface: str, wait: float = DEFAULT_WAIT, *, repeat: bool = True,
          client_mac: str | None = None, v6: bool = True) -> dict:
    """Broadcast a DHCPDISCOVER on iface and collect the offers for `wait` s.

    Never raises for a wire problem: the section then has status "error"
    and says why (no such interface, no privilege, a bad client MAC, ...).
    """
    section: dict[str, Any] = {
        "status": "error", "error": None, "interface": iface,
        "client_mac": CLIENT_MAC, "wait": float(wait), "discovers_sent": 0,
        "truncated": False,
        "v6": {"status": "not-run", "error": None, "src_ip": None, "solicits_sent": 0},
        "offers": [],
    }
    if not iface:
        section["error"] = "no interface to send the DHCP discovery from"
        return section
    try:
        mac = client_mac_for(iface, client_mac)
        section["client_mac"] = mac
        rnd = random.SystemRandom()
        xid = rnd.randrange(1, 2**32)
        pkt = _discover(xid, mac)
        trid = rnd.randrange(1, 2**24)
        solicit = None
        if v6:
            from scanner.probes.ra import link_local
            ll = link_local(iface)
            if ll:
                solicit = _solicit(trid, ll, if_mac(iface), mac)
                section["v6"]["src_ip"] = ll
            else:
                section["v6"]["error"] = (f"{iface} has no usable IPv6 link-local address: "
                                          "DHCPv6 servers were not solicited")
        # a capture socket without scapy: the window opens at once, scapy is
        # imported only to read an offer that came
        sock = rawsock.CaptureSocket(iface, BPF)
    except ValueError as exc:
        section["error"] = str(exc)
        return section
    except Exception as exc:
        section["error"] = wire.open_error(iface, exc)
        return section

    seen: dict[tuple, dict] = {}
    # the segment's own clients, and the DUIDs they ask with (identities, issue 13)
    from scanner.probes.dhcpclients import Clients
    clients = Clients({if_mac(iface), mac})        # (mac: the client MAC our own probe uses)

    def send_all():
        sock.ins.send(pkt)
        section["discovers_sent"] += 1
        if solicit is not None:
            try:
                sock.ins.send(solicit)
                section["v6"]["solicits_sent"] += 1
            except OSError as exc:       # the IPv4 probe goes on
                section["v6"]["error"] = f"DHCPv6 solicit on {iface} failed: {exc}"

    def feed(raw):
        clients.feed(bytes(raw))
        try:
            got = _dissect(raw)
            offer = parse_offer(got, xid)
            if offer is None and solicit is not None:
                offer = parse_advertise(got, trid)
        except Exception:
            return
        if offer is None:
            return
        key = (offer["version"], offer["server_id"], offer["src_ip"], offer["src_mac"])
        if key in seen:
            seen[key]["count"] += 1
        elif len(seen) >= MAX_OFFERS:
            section["truncated"] = True
        else:
            offer["count"] = 1
            seen[key] = offer

    try:
        wire.solicit_window(sock, send_all, feed, wait, repeat)
    except OSError as exc:
        section["error"] = wire.send_error(iface, exc, "DHCP probe")
    else:
        section["status"] = "ok"
        if solicit is not None and section["v6"]["error"] is None:
            section["v6"]["status"] = "ok"
        elif solicit is not None:
            section["v6"]["status"] = "error"
    finally:
        sock.close()
        # offers seen before a failure are still evidence (never a pass)
        section["offers"] = list(seen.values())
        section["clients"] = clients.to_json()
        if clients.truncated:
            section["clients_truncated"] = True
    return section
