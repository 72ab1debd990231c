"""NBSTAT (NetBIOS node status, RFC 1002 4.2.17), a small reader of our own.

One UDP socket bound to the vantage's interface and address sends one
node-status query to port 137 of each station (every destination through the
scope guard), and reads the answers for one window. Why not nmap's nbstat.nse:
it needs nmap's UDP scan of 137 first, and a segment of hosts that rate-limit
their ICMP port-unreachables (every Linux host does) slows that scan, and the
whole nmap run with it, past its host timeout — losing the SSH keys of those
hosts too. One datagram each and one shared wait cost the same on any segment.

`parse()` is pure and bounded: a reply is at most one datagram (the socket
reads 2 KiB), names are 15 bytes, the MAC is the first 6 bytes of the
statistics ("unit ID"); anything short or malformed is no answer.
"""
from __future__ import annotations

import os
import select
import struct
import time

PORT = 137
WAIT = 1.0
READ_MAX = 2048
# "*" then 15 NULs, first-level encoded (RFC 1001 14.1): the wildcard name
_NAME = b"\x20" + b"CK" + b"A" * 30 + b"\x00"
_QTYPE_NBSTAT = 0x21


def query(tid: int) -> bytes:
    """A node status request with transaction id `tid`."""
    return struct.pack("!HHHHHH", tid & 0xFFFF, 0, 1, 0, 0, 0) + _NAME + \
        struct.pack("!HH", _QTYPE_NBSTAT, 1)


def parse(data: bytes) -> dict | None:
    """{"tid", "names": [(name, suffix, group)], "name", "mac"} from a reply, or None."""
    if not isinstance(data, (bytes, bytearray)) or len(data) < 12 + 2 + 10 + 1:
        return None
    tid, flags, _qd, an = struct.unpack_from("!HHHH", data, 0)
    if not flags & 0x8000 or an < 1:          # not a response, or no answer record
        return None
    off = 12
    if data[off] & 0xC0 == 0xC0:              # a compressed name
        off += 2
    else:
        ln = data[off]
        if ln > 63:
            return None
        off += 1 + ln
        while off < len(data) and data[off] != 0:     # labels (a scope id), bounded by the datagram
            off += 1 + data[off]
        off += 1
    if off + 10 > len(data):
        return None
    rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", data, off)
    off += 10
    if rtype != _QTYPE_NBSTAT or off + 1 > len(data):
        return None
    end = min(len(data), off + rdlen)
    count = data[off]
    off += 1
    names = []
    for _ in range(count):
        if off + 18 > end:
            return None
        raw = bytes(data[off:off + 15])
        suffix = data[off + 15]
        nflags = struct.unpack_from("!H", data, off + 16)[0]
        off += 18
        name = raw.decode("latin-1").rstrip(" \x00")
        names.append((name, suffix, bool(nflags & 0x8000)))
    mac = bytes(data[off:off + 6]) if off + 6 <= end else b""
    unique = [n for n, s, g in names if not g and s in (0x00, 0x20) and n]
    return {"tid": tid, "names": names[:64], "name": unique[0] if unique else None,
            "mac": ":".join(f"{b:02x}" for b in mac) if len(mac) == 6 else None}


def ask(iface: str, src: str, targets: list[str], guard, wait: float = WAIT,
        macs: dict | None = None) -> dict[str, dict]:
    """{ip: parse()} of the stations that answered one node status query each
    (`macs`: ip -> the MAC discovery saw: the query is framed to it,
    scanner/probes/l2udp.py)."""
    if not targets:
        return {}
    from scanner.probes.l2udp import link_socket, unreachable
    with link_socket(iface, src, macs) as (sock, l2):
        base = int.from_bytes(os.urandom(2), "big")
        want: dict[str, int] = {}
        for n, ip in enumerate(targets):
            dst = guard(ip)                      # ScopeError before anything is sent
            tid = (base + n) & 0xFFFF
            want[dst] = tid
            try:
                l2.sendto(query(tid), (dst, PORT))
            except OSError as exc:
                if not unreachable(exc):         # never sent: the step's error, not silence
                    raise
                continue                         # unreachable right now: no answer
        got: dict[str, dict] = {}
        deadline = time.monotonic() + wait
        while len(got) < len(want):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([sock], [], [], left)
            if not r:
                break
            try:
                data, (peer, _port) = sock.recvfrom(READ_MAX)
            except OSError:
                continue                         # an ICMP error of an earlier send
            rec = parse(data)
            if rec is not None and want.get(peer) == rec["tid"] and peer not in got:
                got[peer] = rec
        return got
