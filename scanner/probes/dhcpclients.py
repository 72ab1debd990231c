"""DHCP clients heard on the link: who asks, and the DUID it asks with.

The DHCP probe's capture socket (scanner/probes/dhcp.py) hears, beside the
offers it waits for, the requests of the segment's own clients: DHCPv6
Solicit/Request/Renew/Rebind/Confirm/Information-request to ff02::1:2, and
DHCPv4 requests broadcast to port 67. A client identifies itself by a DUID
(RFC 8415 option 1; in DHCPv4 a client identifier of type 255, RFC 4361: an
IAID then the DUID). A host has one DUID for all its cards (Windows,
systemd-networkd, NetworkManager with a stable DUID): the same DUID asking on
a classified and on an office link is one host on both (issue 13, a medium
identity: joined across vantages in `isoscan report`).

Pure: raw Ethernet frames in, {"proto", "mac", "ip", "duid"} out; nothing is
sent for this. Frames of this host (its MACs) are not clients.
"""
from __future__ import annotations

import ipaddress
import struct

V6_CLIENT_MSGS = {1, 3, 4, 5, 6, 11}      # Solicit Request Confirm Renew Rebind Information-request
OPT_CLIENTID = 1
DUID_MAX = 130                            # RFC 8415 §11.1: at most 128 octets, plus its type
MAX_CLIENTS = 256                         # clients kept per scan
DHCP_MAGIC = b"\x63\x82\x53\x63"


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _v6(raw: bytes) -> tuple[str, bytes] | None:
    """(source address, DUID) of a DHCPv6 client message, else None."""
    if len(raw) < 54 + 8 + 4 or raw[20] != 17:             # IPv6, next header UDP
        return None
    sport, dport = struct.unpack("!HH", raw[54:58])
    if dport != 547 or sport != 546:
        return None
    body = raw[62:]
    if not body or body[0] not in V6_CLIENT_MSGS:
        return None
    i = 4
    while i + 4 <= len(body):
        code, n = struct.unpack("!HH", body[i:i + 4])
        if code == OPT_CLIENTID:
            duid = body[i + 4:i + 4 + n]
            if 2 < len(duid) == n and n <= DUID_MAX:
                return str(ipaddress.IPv6Address(raw[22:38])), duid
            return None
        i += 4 + n
    return None


def _v4(raw: bytes) -> tuple[str | None, bytes] | None:
    """(client address or None, DUID) of a DHCPv4 request whose client
    identifier is RFC 4361's (type 255: IAID, DUID), else None."""
    if len(raw) < 14 + 20 + 8 + 240:
        return None
    ihl = (raw[14] & 0x0F) * 4
    if raw[14] >> 4 != 4 or raw[23] != 17 or ihl < 20:
        return None
    u = 14 + ihl
    sport, dport = struct.unpack("!HH", raw[u:u + 4])
    if dport != 67 or sport != 68:
        return None
    b = raw[u + 8:]
    if len(b) < 240 or b[0] != 1 or b[236:240] != DHCP_MAGIC:      # BOOTREQUEST
        return None
    ciaddr = b[12:16]
    i = 240
    while i < len(b):
        code = b[i]
        if code == 0:
            i += 1
            continue
        if code == 255 or i + 1 >= len(b):
            break
        n = b[i + 1]
        val = b[i + 2:i + 2 + n]
        if code == 61 and len(val) == n and n > 5 and val[0] == 255:
            duid = val[5:]
            if 2 < len(duid) <= DUID_MAX:
                ip = None if ciaddr == b"\0\0\0\0" else str(ipaddress.IPv4Address(ciaddr))
                return ip, duid
            return None
        i += 2 + n
    return None


def client(raw: bytes, own_macs: frozenset[str] = frozenset()) -> dict | None:
    """The DHCP client a frame comes from, with its DUID (hex), else None."""
    if len(raw) < 14:
        return None
    mac = _mac(raw[6:12])
    if mac in own_macs:
        return None
    try:
        if raw[12:14] == b"\x86\xdd":
            got, proto = _v6(raw), "dhcpv6"
        elif raw[12:14] == b"\x08\x00":
            got, proto = _v4(raw), "dhcpv4"
        else:
            return None
    except (struct.error, ValueError, IndexError):
        return None
    if got is None:
        return None
    ip, duid = got
    return {"proto": proto, "mac": mac, "ip": ip, "duid": duid.hex()}


class Clients:
    """The clients heard in one window, once each (proto, MAC, DUID), bounded."""

    def __init__(self, own_macs=frozenset()):
        self.own = frozenset(m.lower() for m in own_macs if m)
        self.seen: dict[tuple, dict] = {}
        self.truncated = False

    def feed(self, raw: bytes) -> None:
        c = client(raw, self.own)
        if c is None:
            return
        key = (c["proto"], c["mac"], c["duid"])
        if key in self.seen:
            self.seen[key]["count"] += 1
        elif len(self.seen) >= MAX_CLIENTS:
            self.truncated = True
        else:
            c["count"] = 1
            self.seen[key] = c

    def to_json(self) -> list[dict]:
        return list(self.seen.values())
