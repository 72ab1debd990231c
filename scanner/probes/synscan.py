"""Which stations of the vantage's own link have their SSH/TLS ports open: one
burst of TCP SYNs framed to the MACs discovery saw, one shared wait, one
retry of the unanswered (issue 24).

The identity step ran nmap for this; on a /20 with 4,000 stations its run
took 11-16 s (bench/scale_bench.py --prefix 20, the identity step's laps)
where the SYNs themselves are 8,000 frames: nmap's per-host machinery grows
with the station count. Here the frames are built with struct (as the
forwarding probes' are), sent on one AF_PACKET socket, and the answers read
from their bytes: SYN-ACK is open, RST closed, silence filtered. The kernel
answers a SYN-ACK with a RST (no socket of its own asked), as it does for
nmap -sS. A frame that could not be sent is the step's error (wire.Burst).
"""
from __future__ import annotations

import os
import socket
import struct

from scanner.probes.wire import Burst, checksum

SPORT_BASE = 40000
WAIT = 0.5          # a LAN: answers come in milliseconds
TRIES = 2           # the first burst, and once more for the unanswered


def _syn(src_mac: bytes, src_ip: bytes, dst_mac: bytes, dst_ip: bytes, sport: int,
         dport: int, seq: int) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 6 << 4, 0x02, 1024, 0, 0) + \
        struct.pack("!BBH", 2, 4, 1460)
    csum = checksum(src_ip + dst_ip + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), sport & 0xFFFF, 0, 64, 6, 0,
                     src_ip, dst_ip)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + tcp


def answers(packets, asked: dict[tuple[str, int], int]) -> dict[tuple[str, int], str]:
    """{(ip, port): "open" | "closed"} of the SYN-ACKs and RSTs among packets
    that answer `asked` ((ip, port) -> our source port). Pure, from the bytes."""
    by_sport = {sp: key for key, sp in asked.items()}
    out = {}
    for p in packets:
        raw = p.raw if hasattr(p, "raw") else bytes(p)
        if len(raw) < 54 or raw[12:14] != b"\x08\x00" or raw[23] != 6:
            continue
        ihl = (raw[14] & 0x0F) * 4
        tcp = raw[14 + ihl:]
        if len(tcp) < 14:
            continue
        key = by_sport.get(int.from_bytes(tcp[2:4], "big"))
        if key is None or key[0] != socket.inet_ntoa(raw[26:30]) \
                or key[1] != int.from_bytes(tcp[0:2], "big"):
            continue
        flags = tcp[13]
        if flags & 0x12 == 0x12:
            out[key] = "open"
        elif flags & 0x04:
            out.setdefault(key, "closed")
    return out


def open_ports(plan, macs: dict[str, str | None], ports) -> tuple[dict[str, set[int]], int]:
    """({ip: the ports of `ports` open}, frames sent) for the stations in
    `macs` with a MAC (each passes the scope guard before its frame is built)."""
    v = plan.vantage
    src_mac = bytes.fromhex(v.mac.replace(":", ""))
    src_ip = socket.inet_aton(v.ip)
    seq = int.from_bytes(os.urandom(4), "big")
    asked: dict[tuple[str, int], int] = {}
    frames: dict[tuple[str, int], bytes] = {}
    n = 0
    for ip, mac in macs.items():
        if not mac or ":" in ip:
            continue
        dst_ip = socket.inet_aton(plan.guard(ip))
        dst_mac = bytes.fromhex(mac.replace(":", ""))
        for port in sorted(set(ports)):
            sport = SPORT_BASE + n % 25000
            n += 1
            asked[(ip, port)] = sport
            frames[(ip, port)] = _syn(src_mac, src_ip, dst_mac, dst_ip, sport, port, seq)
    if n > 25000:
        raise ValueError("too many station ports for one burst")
    got: dict[tuple[str, int], str] = {}
    sent = 0
    with Burst(v.interface, f"tcp and dst host {v.ip} and not ether src {v.mac}") as b:
        todo = list(frames)
        for _ in range(TRIES):
            if not todo:
                break
            mark = len(b.got)
            b.send(frames[k] for k in todo)
            want = set(todo)

            def done(g, want=want) -> bool:
                got.update(answers(g[done.mark:], asked))
                done.mark = len(g)
                return want <= set(got)
            done.mark = mark
            b.collect(WAIT, done=done)
            got.update(answers(b.got[mark:], asked))
            todo = [k for k in todo if k not in got]
        sent = b.sent
    out: dict[str, set[int]] = {}
    for (ip, port), state in got.items():
        if state == "open":
            out.setdefault(ip, set()).add(port)
    return out, sent
