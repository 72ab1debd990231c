"""A lab host's services: TCP and UDP listeners (standard library only).

Run inside a lab namespace by the lab itself:

    python3 -I listener.py --name HOST --tcp 80,443 --udp 53 --ready FILE

TCP: accepts, sends one line `isoscan-lab HOST tcp/PORT from PEER`, closes
(on port 22 the line starts `SSH-2.0-isoscan_lab`, an SSH identification).
UDP 53: answers any DNS query (NXDOMAIN, question echoed). Other UDP ports:
answers with the same kind of line. PEER is the source address as it
arrived, so a test can see which exit (NAT) a connection used. The ready file
is written once every socket is bound; with --log every accepted connection
and datagram is appended as a JSON line (proto, port, peer). SIGTERM stops it.
"""
from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time


def _bind(kind: int, port: int) -> socket.socket:
    try:
        s = socket.socket(socket.AF_INET6, kind)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        addr = ("::", port)
    except OSError:
        s = socket.socket(socket.AF_INET, kind)
        addr = ("0.0.0.0", port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr)
    if kind == socket.SOCK_STREAM:
        s.listen(64)
    s.setblocking(False)
    return s


def _peer(addr) -> str:
    host = addr[0]
    return host[7:] if host.startswith("::ffff:") else host


def dns_answer(query: bytes) -> bytes | None:
    """NXDOMAIN for any well-formed query (question section echoed)."""
    if len(query) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", query[:6])
    if flags & 0x8000 or qd != 1:
        return None
    i = 12
    while i < len(query) and query[i] != 0:
        i += 1 + query[i]
    end = i + 5
    if end > len(query):
        return None
    rflags = 0x8000 | (flags & 0x0100) | 0x0080 | 0x0003   # QR, RD copied, RA, NXDOMAIN
    return struct.pack("!HHHHHH", qid, rflags, 1, 0, 0, 0) + query[12:end]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--tcp", default="")
    ap.add_argument("--udp", default="")
    ap.add_argument("--ready")
    ap.add_argument("--log", help="append one JSON line per connection or datagram")
    a = ap.parse_args(argv)
    log = open(a.log, "a", buffering=1, encoding="utf-8") if a.log else None

    def record(proto: str, port: int, addr, data: bytes = b"") -> None:
        if log is not None:
            line = {"t": time.time(), "proto": proto, "port": port, "peer": _peer(addr)}
            at = data.find(b"iSc\x01")        # a canary token (scanner/canary/tokens.py)
            if at >= 0 and len(data) >= at + 33:
                line["token"] = data[at:at + 33].hex()
            log.write(json.dumps(line) + "\n")

    sel = selectors.DefaultSelector()
    for p in filter(None, a.tcp.split(",")):
        sel.register(_bind(socket.SOCK_STREAM, int(p)), selectors.EVENT_READ, ("tcp", int(p)))
    for p in filter(None, a.udp.split(",")):
        sel.register(_bind(socket.SOCK_DGRAM, int(p)), selectors.EVENT_READ, ("udp", int(p)))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if a.ready:
        with open(a.ready + ".tmp", "w") as fh:
            fh.write(str(os.getpid()))
        os.replace(a.ready + ".tmp", a.ready)
    while True:
        for key, _ in sel.select():
            proto, port = key.data
            s = key.fileobj
            try:
                if proto == "tcp":
                    conn, addr = s.accept()
                    record("tcp", port, addr)
                    with conn:
                        conn.settimeout(1)
                        # on 22 the line is an SSH identification string, so a
                        # service probe names it as ssh does a real one
                        head = "SSH-2.0-isoscan_lab " if port == 22 else "isoscan-lab "
                        conn.sendall(f"{head}{a.name} tcp/{port} from {_peer(addr)}\r\n"
                                     .encode())
                else:
                    data, addr = s.recvfrom(4096)
                    record("udp", port, addr, data)
                    reply = dns_answer(data) if port == 53 else None
                    if reply is None:
                        reply = f"isoscan-lab {a.name} udp/{port} from {_peer(addr)}\n".encode()
                    s.sendto(reply, addr)
            except OSError:
                continue


if __name__ == "__main__":
    sys.exit(main())
