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
from typing import Any, Iterable

from scanner.probes import wire

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


def _discover(xid: int, client_mac: str = CLIENT_MAC):
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    mac = bytes.fromhex(client_mac.replace(":", ""))
    return (Ether(src=client_mac, dst="ff:ff:ff:ff:ff:ff")
            / IP(src="0.0.0.0", dst="255.255.255.255")
            / UDP(sport=68, dport=67)
            / BOOTP(op=1, chaddr=mac + b"\x00" * 10, xid=xid, flags=0x8000)
            / DHCP(options=[("message-type", "discover"),
                            ("client_id", b"\x01" + mac),
                            ("vendor_class_id", VENDOR_CLASS),
                            ("param_req_list", [1, 3, 6, 12, 15, 51, 54]),
                            "end"]))


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


def _solicit(trid: int, src_ip: str, src_mac: str, client_mac: str):
    from scapy.layers.dhcp6 import (DUID_LL, DHCP6_Solicit, DHCP6OptClientId,
                                    DHCP6OptElapsedTime, DHCP6OptIA_NA, DHCP6OptOptReq)
    from scapy.layers.inet import UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    return (Ether(src=src_mac, dst=ALL_DHCP6_MAC)
            / IPv6(src=src_ip, dst=ALL_DHCP6, hlim=1)
            / UDP(sport=546, dport=547)
            / DHCP6_Solicit(trid=trid)
            / DHCP6OptClientId(duid=DUID_LL(lladdr=client_mac))
            / DHCP6OptElapsedTime()
            / DHCP6OptIA_NA(iaid=0x69736f)
            / DHCP6OptOptReq(reqopts=[23, 24]))


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
        from scapy.arch import get_if_hwaddr
        want = get_if_hwaddr(iface)
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
        from scapy.config import conf
        mac = client_mac_for(iface, client_mac)
        section["client_mac"] = mac
        rnd = random.SystemRandom()
        xid = rnd.randrange(1, 2**32)
        pkt = _discover(xid, mac)
        trid = rnd.randrange(1, 2**24)
        solicit = None
        if v6:
            from scapy.arch import get_if_hwaddr

            from scanner.probes.ra import link_local
            ll = link_local(iface)
            if ll:
                solicit = _solicit(trid, ll, get_if_hwaddr(iface).lower(), mac)
                section["v6"]["src_ip"] = ll
            else:
                section["v6"]["error"] = (f"{iface} has no usable IPv6 link-local address: "
                                          "DHCPv6 servers were not solicited")
        sock = conf.L2socket(iface=iface, filter=BPF)
    except ValueError as exc:
        section["error"] = str(exc)
        return section
    except Exception as exc:
        section["error"] = wire.open_error(iface, exc)
        return section

    seen: dict[tuple, dict] = {}

    def send_all():
        sock.send(pkt)
        section["discovers_sent"] += 1
        if solicit is not None:
            try:
                sock.send(solicit)
                section["v6"]["solicits_sent"] += 1
            except OSError as exc:       # the IPv4 probe goes on
                section["v6"]["error"] = f"DHCPv6 solicit on {iface} failed: {exc}"

    def feed(got):
        try:
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
    return section
