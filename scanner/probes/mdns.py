"""The names a station gives for its own address over mDNS and LLMNR.

One reverse (PTR) query for `d.c.b.a.in-addr.arpa` sent unicast to each
station's UDP 5353 (mDNS, RFC 6762 §6.7 "legacy unicast": the answer comes back
to our port) and 5355 (LLMNR, RFC 4795 §2.4), from one socket bound to the
vantage's interface and address, every destination through the scope guard;
one shared window for the answers. Avahi, Apple's mDNSResponder and Windows
answer these. `parse()` is pure and bounded (one datagram of at most 2 KiB,
names of at most 255 bytes, at most 16 compression jumps).
"""
from __future__ import annotations

import os
import select
import struct
import time

MDNS, LLMNR = 5353, 5355
PORTS = (MDNS, LLMNR)
WAIT = 1.0
READ_MAX = 2048
_PTR, _IN = 12, 1


def reverse_name(ip: str) -> str:
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


def query(tid: int, ip: str) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode("ascii") for p in reverse_name(ip).split(".")) + b"\0"
    return struct.pack("!HHHHHH", tid & 0xFFFF, 0, 1, 0, 0, 0) + q + struct.pack("!HH", _PTR, _IN)


def _name(data: bytes, off: int) -> tuple[str | None, int]:
    """(name, offset after it in place) with compression, bounded; (None, -1) if malformed."""
    labels, jumps, end, total = [], 0, -1, 0
    while True:
        if off >= len(data):
            return None, -1
        n = data[off]
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(data) or jumps >= 16:
                return None, -1
            if end < 0:
                end = off + 2
            off = ((n & 0x3F) << 8) | data[off + 1]
            jumps += 1
            continue
        if n & 0xC0:
            return None, -1
        if n == 0:
            return ".".join(labels), (end if end >= 0 else off + 1)
        total += n + 1
        if total > 255 or off + 1 + n > len(data):
            return None, -1
        labels.append(data[off + 1:off + 1 + n].decode("utf-8", "replace"))
        off += 1 + n


def parse(data: bytes) -> dict | None:
    """{"tid", "names": [PTR targets]} of a response, or None."""
    if not isinstance(data, (bytes, bytearray)) or len(data) < 12:
        return None
    tid, flags, qd, an = struct.unpack_from("!HHHH", data, 0)
    if not flags & 0x8000 or an < 1 or qd > 4:
        return None
    off = 12
    for _ in range(qd):
        _n, off = _name(data, off)
        if off < 0 or off + 4 > len(data):
            return None
        off += 4
    names = []
    for _ in range(min(an, 16)):
        _n, off = _name(data, off)
        if off < 0 or off + 10 > len(data):
            break
        rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", data, off)
        off += 10
        if off + rdlen > len(data):
            break
        if rtype == _PTR:
            target, _ = _name(data, off)
            if target:
                names.append(target)
        off += rdlen
    return {"tid": tid, "names": names} if names else None


def ask(iface: str, src: str, targets: list[str], guard, wait: float = WAIT,
        macs: dict | None = None) -> dict[str, dict[int, list[str]]]:
    """{ip: {5353: [names], 5355: [names]}} of the stations that answered
    (`macs`: ip -> MAC, the queries framed to it: scanner/probes/l2udp.py)."""
    if not targets:
        return {}
    from scanner.probes.l2udp import link_socket, unreachable
    with link_socket(iface, src, macs) as (sock, l2):
        base = int.from_bytes(os.urandom(2), "big")
        want: dict[tuple[str, int], int] = {}
        n = 0
        for ip in targets:
            dst = guard(ip)                      # ScopeError before anything is sent
            for port in PORTS:
                tid = (base + n) & 0xFFFF
                n += 1
                want[(dst, port)] = tid
                try:
                    l2.sendto(query(tid, dst), (dst, port))
                except OSError as exc:
                    if not unreachable(exc):     # never sent: the step's error, not silence
                        raise
                    continue                     # unreachable right now: no answer
        got: dict[str, dict[int, list[str]]] = {}
        seen: set[tuple[str, int]] = set()
        deadline = time.monotonic() + wait
        while len(seen) < len(want):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([sock], [], [], left)
            if not r:
                break
            try:
                data, (peer, port) = sock.recvfrom(READ_MAX)
            except OSError:
                continue
            rec = parse(data)
            key = (peer, port)
            if rec is not None and want.get(key) == rec["tid"] and key not in seen:
                seen.add(key)
                got.setdefault(peer, {})[port] = rec["names"][:4]
        return got
