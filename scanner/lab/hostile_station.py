"""A hostile station for the lab (standard library only): what an attacker on a
segment can answer the identity step with.

    python3 -I hostile_station.py --ready FILE

- TCP 22: an SSH identification line followed by 1 MiB of junk, then silence
  (a key exchange that never completes);
- TCP 443: accepts and trickles one byte a second (a TLS handshake that never
  completes);
- UDP 137: answers NBSTAT with names full of NULs, control and bidi
  characters and a record length larger than the datagram holds.

SIGTERM stops it; the lab kills it at teardown.
"""
from __future__ import annotations

import argparse
import signal
import socket
import struct
import sys
import threading
import time

BANNER = b"SSH-2.0-hostile\r\n" + (b"\x1b[31m\xe2\x80\xae" + b"A" * 1000 + b"\r\n") * 1040


def _tcp(port: int, handler) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)

    def loop():
        while True:
            c, _ = s.accept()
            threading.Thread(target=handler, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return s


def _ssh(c: socket.socket) -> None:
    try:
        c.sendall(BANNER)
        time.sleep(120)
    except OSError:
        pass
    finally:
        c.close()


def _trickle(c: socket.socket) -> None:
    try:
        for _ in range(120):
            c.send(b"\x16")
            time.sleep(1)
    except OSError:
        pass
    finally:
        c.close()


def nbstat_reply(tid: int) -> bytes:
    names = [b"EVIL\x00\x00\x1b[2J\xe2\x80", b"\x00" * 15, b"\xe2\x80\xaeKCAP-SW\x00\x00\x00\x00"]
    body = bytes([len(names)]) + b"".join(n[:15].ljust(15, b"\x00") + b"\x00\x04\x00" for n in names)
    return struct.pack("!HHHHHH", tid, 0x8400, 0, 1, 0, 0) + b"\xc0\x0c" \
        + struct.pack("!HHIH", 0x21, 1, 0, 0xFFFF) + body


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ready")
    a = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _tcp(22, _ssh)
    _tcp(443, _trickle)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", 137))
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("ready\n")
    while True:
        data, peer = u.recvfrom(2048)
        if len(data) >= 2:
            u.sendto(nbstat_reply(struct.unpack("!H", data[:2])[0]), peer)


if __name__ == "__main__":
    sys.exit(main())
