"""A NetBIOS-like responder for the lab (standard library only): answers
NBSTAT node status queries on UDP 137 of every address with one unique name
and a MAC (00:00:00:00:00:00 by default, as Samba's nmbd reports), and
reverse (PTR) queries on UDP 5353 (mDNS) and 5355 (LLMNR) with
`<name>.local` (as avahi and Windows do), so a host says its names on each of
its cards.

    python3 -I nbstat_responder.py --name WS-002 [--mac 02:..] --ready FILE

SIGTERM stops it; the lab kills it at teardown.
"""
from __future__ import annotations

import argparse
import select
import signal
import socket
import struct
import sys


def reply(tid: int, name: str, mac: bytes) -> bytes:
    raw = name.encode("latin-1", "replace")[:15].ljust(15, b" ")
    body = bytes([2]) + raw + b"\x00" + struct.pack("!H", 0x0400) \
        + raw + b"\x20" + struct.pack("!H", 0x0400) + mac + bytes(40)
    return struct.pack("!HHHHHH", tid, 0x8400, 0, 1, 0, 0) + b"\x20" + b"CK" + b"A" * 30 \
        + b"\x00" + struct.pack("!HHIH", 0x21, 1, 0, len(body)) + body


def ptr_reply(q: bytes, name: str) -> bytes:
    """The answer to a PTR question: the question echoed, one PTR record."""
    rdata = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return q[:2] + struct.pack("!HHHHH", 0x8400, 1, 1, 0, 0) + q[12:] + b"\xc0\x0c" \
        + struct.pack("!HHIH", 12, 1, 120, len(rdata)) + rdata


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--mac", default="00:00:00:00:00:00")
    ap.add_argument("--ready")
    a = ap.parse_args(argv)
    mac = bytes.fromhex(a.mac.replace(":", ""))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    socks = {}
    for port in (137, 5353, 5355):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        socks[s] = port
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("ready\n")
    while True:
        for s in select.select(list(socks), [], [])[0]:
            data, peer = s.recvfrom(2048)
            if len(data) < 17 or data[2] & 0x80:
                continue
            if socks[s] == 137 and len(data) >= 50 and data[-4:] == b"\x00\x21\x00\x01":
                s.sendto(reply(struct.unpack("!H", data[:2])[0], a.name, mac), peer)
            elif socks[s] != 137 and data[-4:] == b"\x00\x0c\x00\x01":
                s.sendto(ptr_reply(data, a.name.lower() + ".local"), peer)


if __name__ == "__main__":
    sys.exit(main())
