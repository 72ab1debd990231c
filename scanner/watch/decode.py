"""What a frame says, read with struct (no scapy: a frame costs microseconds).

decode(raw) -> one of
    Heard(mac, ip, via, arrival)   a station spoke: ARP, ND, a DHCP client
    ("ra", advert)                 a router advertisement, shaped as scanner/probes/ra.py's
    ("dhcp", offer)                a DHCP offer/ack or DHCPv6 advertise/reply, shaped as
                                   scanner/probes/dhcp.py's offers (so NET-DHCP and
                                   NET-IPV6-RA judge them unchanged)
or None for anything else (the kernel filter lets little else through).

`arrival` marks the frames a station sends when it first arrives: a
gratuitous ARP, an ARP probe (RFC 5227), duplicate address detection (a
neighbour solicitation from ::), a DHCP discover or DHCPv6 solicit.

Everything read is data from the wire: strings go through dhcp.safe_text,
lists are capped, a truncated frame is None (never an exception).
"""
from __future__ import annotations

import socket
import struct
from typing import NamedTuple

from scanner.probes.dhcp import safe_text

MAX_LIST = 32
_PRF = {0: "medium", 1: "high", 2: "reserved", 3: "low"}
_EXT = (0, 43, 60)           # hop-by-hop, routing, destination options: skipped
ZERO4 = "0.0.0.0"


class Heard(NamedTuple):
    mac: str
    ip: str | None
    via: str                  # arp | garp | arp-probe | ndp | dad | dhcp | dhcp6
    arrival: bool


def _mac(b: bytes) -> str:
    return b.hex(":")


def _ip6(b: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, b)


def _ip4(b: bytes) -> str:
    return socket.inet_ntoa(b)


def decode(raw: bytes):
    if len(raw) < 14:
        return None
    et = raw[12:14]
    off = 14
    if et == b"\x81\x00" and len(raw) >= 18:      # one 802.1Q tag
        et, off = raw[16:18], 18
    try:
        if et == b"\x08\x06":
            return _arp(raw, off)
        if et == b"\x86\xdd":
            return _ipv6(raw, off)
        if et == b"\x08\x00":
            return _ipv4(raw, off)
    except (struct.error, IndexError, ValueError, OSError):
        return None
    return None


def _arp(raw: bytes, o: int):
    if len(raw) < o + 28 or raw[o:o + 6] != b"\x00\x01\x08\x00\x06\x04":
        return None
    op = int.from_bytes(raw[o + 6:o + 8], "big")
    sha, spa, tpa = raw[o + 8:o + 14], raw[o + 14:o + 18], raw[o + 24:o + 28]
    if op not in (1, 2) or sha == b"\0" * 6 or sha[0] & 1:
        return None
    mac = _mac(sha)
    if spa == b"\0\0\0\0":
        return Heard(mac, None, "arp-probe", True)          # RFC 5227: asking before taking
    if spa == tpa:
        return Heard(mac, _ip4(spa), "garp", True)
    return Heard(mac, _ip4(spa), "arp", False)


# -- IPv6 -------------------------------------------------------------------

def _ipv6(raw: bytes, o: int):
    if len(raw) < o + 40 or raw[o] >> 4 != 6:
        return None
    nh, hlim = raw[o + 6], raw[o + 7]
    src, dst = raw[o + 8:o + 24], raw[o + 24:o + 40]
    p = o + 40
    for _ in range(8):                    # a chain of extension headers, bounded
        if nh in _EXT:
            nh, p = raw[p], p + 8 + raw[p + 1] * 8
        elif nh == 44:                    # fragment: only a first fragment has the header
            if int.from_bytes(raw[p + 2:p + 4], "big") >> 3:
                return None
            nh, p = raw[p], p + 8
        else:
            break
    eth_src = raw[6:12]
    if nh == 58:
        return _icmp6(raw, p, src, dst, hlim, eth_src)
    if nh == 17:
        sport, dport = struct.unpack_from("!HH", raw, p)
        if sport == 547 and dport == 546:
            return _dhcp6_server(raw, p + 8, src, eth_src)
        if sport == 546 and dport == 547 and len(raw) > p + 8 and raw[p + 8] == 1:
            ip = _ip6(src)
            return Heard(_mac(eth_src), None if ip == "::" else ip, "dhcp6", True)
    return None


def _icmp6(raw: bytes, p: int, src: bytes, dst: bytes, hlim: int, eth_src: bytes):
    kind = raw[p]
    mac = _mac(eth_src)
    if eth_src[0] & 1:
        return None
    s = _ip6(src)
    if kind == 134:
        return "ra", _advert(raw, p, s, mac, hlim)
    if kind == 135:
        target = _ip6(raw[p + 8:p + 24])
        if s == "::":
            return Heard(mac, target, "dad", True)           # duplicate address detection
        return Heard(mac, s, "ndp", False)
    if kind == 136:
        return Heard(mac, _ip6(raw[p + 8:p + 24]), "ndp", dst[:2] == b"\xff\x02")
    if kind == 133 and s != "::":
        return Heard(mac, s, "ndp", False)
    return None


def _options(raw: bytes, p: int):
    """ND options (type, body) from p to the end, bounded."""
    n = 0
    while p + 2 <= len(raw) and n < 64:
        t, ln = raw[p], raw[p + 1] * 8
        if ln == 0 or p + ln > len(raw):
            return
        yield t, raw[p:p + ln]
        p += ln
        n += 1


def _dns_names(b: bytes) -> list[str]:
    """RFC 1035 names, uncompressed (DNSSL, DHCPv6 domain list)."""
    out, cur, i = [], [], 0
    while i < len(b) and len(out) < MAX_LIST:
        ln = b[i]
        if ln == 0:
            if cur:
                out.append(safe_text(".".join(cur)) or "")
            cur, i = [], i + 1
            continue
        if ln > 63:
            break
        cur.append(b[i + 1:i + 1 + ln].decode("ascii", "replace"))
        i += 1 + ln
    return out


def _advert(raw: bytes, p: int, src: str, eth_src: str, hlim: int) -> dict:
    _, _, _, _, flags, lifetime = struct.unpack_from("!BBHBBH", raw, p)
    lladdr = None
    prefixes, rdnss, dnssl, routes = [], [], [], []
    rdnss_lifetime = mtu = None
    for t, o in _options(raw, p + 16):
        if t == 1 and lladdr is None and len(o) >= 8:
            lladdr = _mac(o[2:8])
        elif t == 3 and len(o) >= 32 and len(prefixes) < MAX_LIST:
            plen, fl, valid, pref = struct.unpack_from("!BBII", o, 2)
            prefixes.append({"prefix": f"{_ip6(o[16:32])}/{plen}", "valid": valid,
                             "preferred": pref, "on_link": bool(fl & 0x80),
                             "autonomous": bool(fl & 0x40)})
        elif t == 5 and len(o) >= 8:
            mtu = struct.unpack_from("!I", o, 4)[0]
        elif t == 24 and len(o) >= 8 and len(routes) < MAX_LIST:
            plen, life = o[2], struct.unpack_from("!I", o, 4)[0]
            pfx = (o[8:] + b"\0" * 16)[:16]
            routes.append({"prefix": f"{_ip6(pfx)}/{plen}", "lifetime": life})
        elif t == 25 and len(o) >= 24:
            rdnss_lifetime = struct.unpack_from("!I", o, 4)[0]
            for k in range(8, len(o) - 15, 16):
                if len(rdnss) < MAX_LIST:
                    rdnss.append(_ip6(o[k:k + 16]))
        elif t == 31 and len(o) >= 8:
            dnssl += _dns_names(o[8:])[:MAX_LIST - len(dnssl)]
    return {"src_ip": src, "src_mac": lladdr or eth_src, "eth_src": eth_src,
            "router_lifetime": lifetime, "hop_limit": hlim,
            "managed": bool(flags & 0x80), "other": bool(flags & 0x40),
            "preference": _PRF.get((flags >> 3) & 3, "medium"), "mtu": mtu,
            "prefixes": prefixes, "rdnss": rdnss, "rdnss_lifetime": rdnss_lifetime,
            "dnssl": dnssl, "routes": routes, "seen": ["passive"], "count": 1}


def _dhcp6_server(raw: bytes, p: int, src: bytes, eth_src: bytes):
    if len(raw) < p + 4 or raw[p] not in (2, 7):          # advertise, reply
        return None
    server_id = yiaddr = lease = status = None
    dns, domains = [], []
    q, n = p + 4, 0
    while q + 4 <= len(raw) and n < 64:
        code, ln = struct.unpack_from("!HH", raw, q)
        body = raw[q + 4:q + 4 + ln]
        q, n = q + 4 + ln, n + 1
        if code == 2 and server_id is None:
            server_id = body.hex(":")[: 3 * 130]
        elif code == 3 and len(body) >= 12:
            r = 12
            while r + 4 <= len(body):
                c2, l2 = struct.unpack_from("!HH", body, r)
                sub = body[r + 4:r + 4 + l2]
                if c2 == 5 and len(sub) >= 24 and yiaddr is None:
                    yiaddr, lease = _ip6(sub[:16]), struct.unpack_from("!I", sub, 20)[0]
                elif c2 == 13 and len(sub) >= 2 and status is None:
                    status = struct.unpack_from("!H", sub)[0]
                r += 4 + l2
        elif code == 13 and len(body) >= 2 and status is None:
            status = struct.unpack_from("!H", body)[0]
        elif code == 23:
            dns += [_ip6(body[k:k + 16]) for k in range(0, len(body) - 15, 16)][:MAX_LIST]
        elif code == 24:
            domains += _dns_names(body)
    return "dhcp", {"version": 6, "server_id": server_id, "src_ip": _ip6(src),
                    "src_mac": _mac(eth_src), "yiaddr": yiaddr, "router": [], "dns": dns[:MAX_LIST],
                    "lease": lease, "subnet_mask": None, "hostname": None,
                    "domain": safe_text(" ".join(domains[:MAX_LIST])) if domains else None,
                    "status_code": status, "count": 1}


# -- IPv4 (DHCP only) ----------------------------------------------------------

def _ipv4(raw: bytes, o: int):
    if len(raw) < o + 20 or raw[o + 9] != 17:
        return None
    if int.from_bytes(raw[o + 6:o + 8], "big") & 0x1FFF:
        return None                                           # a later fragment
    p = o + (raw[o] & 0x0F) * 4
    sport, dport = struct.unpack_from("!HH", raw, p)
    b = p + 8
    if len(raw) < b + 240 or raw[b + 236:b + 240] != b"\x63\x82\x53\x63":
        return None
    opts = _dhcp4_options(raw, b + 240)
    mtype = (opts.get(53) or b"\0")[0]
    if raw[b] == 1 and sport == 68 and dport == 67:
        chaddr = raw[b + 28:b + 34]
        ciaddr = _ip4(raw[b + 12:b + 16])
        if chaddr == b"\0" * 6 or chaddr[0] & 1:
            return None
        return Heard(_mac(chaddr), None if ciaddr == ZERO4 else ciaddr, "dhcp", mtype in (1, 3))
    if raw[b] == 2 and sport == 67 and mtype in (2, 5):      # offer, ack
        def ips(v: bytes | None) -> list[str]:
            return [_ip4(v[k:k + 4]) for k in range(0, len(v or b"") - 3, 4)][:MAX_LIST]
        sid = opts.get(54)
        lease = opts.get(51)
        mask = opts.get(1)
        return "dhcp", {
            "version": 4, "server_id": _ip4(sid[:4]) if sid and len(sid) >= 4 else None,
            "src_ip": _ip4(raw[o + 12:o + 16]), "src_mac": _mac(raw[6:12]),
            "yiaddr": _ip4(raw[b + 16:b + 20]), "router": ips(opts.get(3)), "dns": ips(opts.get(6)),
            "lease": struct.unpack("!I", lease[:4])[0] if lease and len(lease) >= 4 else None,
            "subnet_mask": _ip4(mask[:4]) if mask and len(mask) >= 4 else None,
            "hostname": safe_text(opts[12].decode("utf-8", "replace")) if 12 in opts else None,
            "domain": safe_text(opts[15].decode("utf-8", "replace")) if 15 in opts else None,
            "count": 1}
    return None


def _dhcp4_options(raw: bytes, p: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    n = 0
    while p < len(raw) and n < 255:
        code = raw[p]
        if code == 255:
            break
        if code == 0:
            p += 1
            continue
        if p + 1 >= len(raw):
            break
        ln = raw[p + 1]
        out[code] = out.get(code, b"") + raw[p + 2:p + 2 + ln]
        p += 2 + ln
        n += 1
    return out
