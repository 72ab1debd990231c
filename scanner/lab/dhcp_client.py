"""A DHCP client for the lab (standard library only): on every card of its
host it asks, once a second, with one DUID for the whole host, as Windows
(DUID-LLT made once, from one card) and systemd-networkd (also in DHCPv4,
RFC 4361 client identifier) do: a DHCPv6 Solicit from the card's link-local
address to ff02::1:2, and a DHCPv4 Discover whose client identifier carries
the same DUID. Nobody needs to answer.

    python3 -I dhcp_client.py --duid-mac 02:.. --ready FILE

SIGTERM stops it; the lab kills it at teardown.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import struct
import sys
import time


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def link_local(mac: bytes) -> bytes:
    eui = bytes([mac[0] ^ 2]) + mac[1:3] + b"\xff\xfe" + mac[3:]
    return b"\xfe\x80" + bytes(6) + eui


def solicit(mac: bytes, duid: bytes, trid: int) -> bytes:
    src, dst = link_local(mac), socket.inet_pton(socket.AF_INET6, "ff02::1:2")
    body = bytes([1]) + trid.to_bytes(3, "big") + struct.pack("!HH", 1, len(duid)) + duid \
        + struct.pack("!HHIII", 3, 12, 1, 0, 0)                       # IA_NA, IAID 1
    udp = struct.pack("!HHHH", 546, 547, 8 + len(body), 0) + body
    csum = checksum(src + dst + struct.pack("!I3xB", len(udp), 17) + udp)
    udp = udp[:6] + struct.pack("!H", csum) + udp[8:]
    ip6 = struct.pack("!IHBB", 6 << 28, len(udp), 17, 1) + src + dst
    return b"\x33\x33\x00\x01\x00\x02" + mac + b"\x86\xdd" + ip6 + udp


def discover(mac: bytes, duid: bytes, xid: int) -> bytes:
    opts = b"\x35\x01\x01" + bytes([61, 5 + len(duid), 255]) + struct.pack("!I", 1) + duid + b"\xff"
    bootp = struct.pack("!BBBBIHH", 1, 1, 6, 0, xid, 0, 0x8000) + bytes(16) + mac + bytes(10) \
        + bytes(192) + b"\x63\x82\x53\x63" + opts
    udp = struct.pack("!HHHH", 68, 67, 8 + len(bootp), 0) + bootp
    src, dst = bytes(4), b"\xff" * 4
    csum = checksum(src + dst + struct.pack("!BBH", 0, 17, len(udp)) + udp)
    udp = udp[:6] + struct.pack("!H", csum or 0xFFFF) + udp[8:]
    ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0) + src + dst
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return b"\xff" * 6 + mac + b"\x08\x00" + ip + udp


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duid-mac", required=True, help="the card the DUID-LLT was made from")
    ap.add_argument("--ready")
    a = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    duid = struct.pack("!HHI", 1, 1, 0x2c5f0a11) + bytes.fromhex(a.duid_mac.replace(":", ""))
    cards = []
    for name in sorted(os.listdir("/sys/class/net")):
        if name == "lo":
            continue
        with open(f"/sys/class/net/{name}/address") as f:
            mac = bytes.fromhex(f.read().strip().replace(":", ""))
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((name, 0))
        cards.append((s, mac))
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("ready\n")
    n = 0
    while True:
        n += 1
        for s, mac in cards:
            for frame in (solicit(mac, duid, n & 0xFFFFFF), discover(mac, duid, n)):
                try:
                    s.send(frame)
                except OSError:
                    pass
        time.sleep(1.0)


if __name__ == "__main__":
    raise SystemExit(main())
