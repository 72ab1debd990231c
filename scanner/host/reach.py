"""The reach test, live: can this computer reach the outside (违规外联)?

For every interface that is up with a routable address, and for the default
route, tokened TCP and UDP probes go to the inventory's canaries (nothing
else: the canaries are the only destinations), each socket bound to the
interface (SO_BINDTODEVICE) and to its address. A TCP connection, a UDP
reply, or a refusal (RST, port unreachable) from the canary means it was
reached. The UDP payload and the TCP data after the handshake carry the
canary's 33-byte token (scanner/canary/tokens.py), so the canary's log
proves the arrival even when nothing answers back.

A positive control comes first: the computer must reach something on its
own segment (a default gateway inside the registered segment, or a
registered gateway/router/firewall/probe there): ICMP echo or TCP 22/443
answered or refused. Without it nothing may pass (HOST-EGRESS says error).
"""
from __future__ import annotations

import errno
import ipaddress
import os
import select
import socket
import struct
import time

from scanner.canary import tokens
from scanner.host.record import HostRecord, ReachControl, ReachProbe, ReachRecord
from scanner.probes.wire import checksum

SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
WAIT = 1.0
CONTROL_KINDS = ("gateway", "router", "firewall", "probe")
CONTROL_TCP = (22, 443)
UNREACH = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENETDOWN,
           errno.EACCES, errno.EPERM, errno.EADDRNOTAVAIL}


def _bind(sock: socket.socket, iface: str | None, src: str | None) -> None:
    if iface:
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, iface.encode() + b"\0")
    if src:
        sock.bind((src, 0))


def vias(rec: HostRecord) -> list[tuple[str, str | None, str | None]]:
    """(name, interface to bind or None, source address) of every way out:
    each interface up with a routable IPv4 address, then the default route."""
    out = []
    for n in rec.interfaces:
        if n.kind == "loopback" or not (n.up or n.operstate == "up"):
            continue
        v4 = [a.split("/")[0] for a in n.addresses if ":" not in a]
        v4 = [a for a in v4 if not ipaddress.IPv4Address(a).is_link_local
              and not ipaddress.IPv4Address(a).is_loopback]
        if v4:
            out.append((n.name, n.name, v4[0]))
    if any(r.default and r.family == 4 for r in rec.routes):
        out.append(("default", None, None))
    return out


def control_targets(inv, device, rec: HostRecord) -> list[tuple[str, str, str | None]]:
    """(target ip, what, interface) on the device's own segments."""
    nets = [n for i in device.interfaces if (s := inv.segment(i.segment)) is not None
            for n in s.networks if n.version == 4]

    def mine(ip: str) -> bool:
        a = ipaddress.IPv4Address(ip)
        return any(a in ipaddress.IPv4Network(str(n)) for n in nets)
    out: list[tuple[str, str, str | None]] = []
    for r in rec.routes:
        if r.default and r.family == 4 and r.gateway and mine(r.gateway):
            out.append((r.gateway, "gateway", r.interface))
    for seg in dict.fromkeys(i.segment for i in device.interfaces):
        for d, i in inv.devices_on(seg):
            if d.name != device.name and d.kind in CONTROL_KINDS and i.ip is not None \
                    and i.ip.version == 4 and str(i.ip) not in {t for t, _, _ in out}:
                out.append((str(i.ip), f"{d.kind} {d.name}", None))
    return out


def _echo(dst: str, iface: str | None, wait: float) -> tuple[bool, str]:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    try:
        s.setblocking(False)
        _bind(s, iface, None)
        ident = os.getpid() & 0xFFFF
        body = b"isoscan-host-control"
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
        s.sendto(struct.pack("!BBHHH", 8, 0, checksum(hdr + body), ident, 1) + body, (dst, 0))
        end = time.monotonic() + wait
        while (left := end - time.monotonic()) > 0:
            r, _, _ = select.select([s], [], [], left)
            if not r:
                break
            data, addr = s.recvfrom(2048)
            ihl = (data[0] & 0x0F) * 4
            if addr[0] == dst and len(data) >= ihl + 8 and data[ihl] == 0 and \
                    struct.unpack_from("!H", data, ihl + 4)[0] == ident:
                return True, "echo reply"
        return False, "no echo reply"
    except OSError as exc:
        return False, os.strerror(exc.errno) if exc.errno else str(exc)
    finally:
        s.close()


def _tcp_reached(dst: str, port: int, iface: str | None, src: str | None,
                 wait: float, payload: bytes | None = None,
                 sport: int | None = None) -> tuple[str, str]:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setblocking(False)
        if iface:
            s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, iface.encode() + b"\0")
        try:
            s.bind((src or "0.0.0.0", sport or 0))
        except OSError:
            s.bind((src or "0.0.0.0", 0))
        rc = s.connect_ex((dst, port))
        if rc not in (0, errno.EINPROGRESS, errno.EAGAIN):
            return ("refused" if rc == errno.ECONNREFUSED else "unreachable"), os.strerror(rc)
        if rc != 0:
            _, w, _ = select.select([], [s], [], wait)
            if not w:
                return "none", "no answer"
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == errno.ECONNREFUSED:
                return "refused", "connection refused (RST)"
            if err:
                return ("unreachable" if err in UNREACH else "none"), os.strerror(err)
        if payload:
            try:
                s.send(payload)
            except OSError:
                pass
        return "answer", "connected"
    except OSError as exc:
        return ("unreachable" if exc.errno in UNREACH else "none"), \
            (os.strerror(exc.errno) if exc.errno else str(exc))
    finally:
        s.close()


def _udp(dst: str, port: int, iface: str | None, src: str | None, payload: bytes,
         wait: float) -> tuple[str, str]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setblocking(False)
        _bind(s, iface, src)
        s.connect((dst, port))
        s.send(payload)
        s.send(payload)          # once more: the first may be lost to ARP on a cold link
        end = time.monotonic() + wait
        while (left := end - time.monotonic()) > 0:
            r, _, _ = select.select([s], [], [], left)
            if not r:
                break
            try:
                s.recv(4096)
                return "answer", "reply received"
            except OSError as exc:
                if exc.errno == errno.ECONNREFUSED:
                    return "refused", "port unreachable"
                if exc.errno in UNREACH:
                    return "unreachable", os.strerror(exc.errno)
        return "none", "no reply"
    except OSError as exc:
        return ("unreachable" if exc.errno in UNREACH else "none"), \
            (os.strerror(exc.errno) if exc.errno else str(exc))
    finally:
        s.close()


def run(inv, device, rec: HostRecord, minter: tokens.TokenMinter, *, wait: float = WAIT,
        only: list[str] | None = None) -> ReachRecord:
    """The reach test through every way out (or only the interfaces named)."""
    from concurrent.futures import ThreadPoolExecutor
    segment = minter.segment
    ways = [v for v in vias(rec) if only is None or v[0] in only]
    canaries = [c for c in inv.canaries if c.address.version == 4]
    jobs = []
    for name, iface, src in ways:
        for c in canaries:
            for port in c.tcp:
                jobs.append((name, iface, src, c, "tcp", port))
            for port in c.udp:
                jobs.append((name, iface, src, c, "udp", port))
    targets = control_targets(inv, device, rec)

    def control(t):
        ip, what, iface = t
        ok, detail = _echo(ip, iface, wait)
        if not ok:
            for port in CONTROL_TCP:
                res, d = _tcp_reached(ip, port, iface, None, wait)
                if res in ("answer", "refused"):
                    ok, detail = True, f"{port}/tcp {d}"
                    break
        return ReachControl(via=iface or "default", target=ip, what=what, ok=ok, detail=detail)

    tokens_of = [minter.mint(None, proto, port) for *_, proto, port in jobs]

    def probe(i):
        name, iface, src, c, proto, port = jobs[i]
        tok = tokens_of[i]
        dst = str(c.address)
        if proto == "tcp":
            res, detail = _tcp_reached(dst, port, iface, src, wait, tokens.payload_for(tok),
                                       tokens.tcp_sport_for(tok))
        else:
            res, detail = _udp(dst, port, iface, src, tokens.payload_for(tok), wait)
        return ReachProbe(via=name, dst=dst, proto=proto, port=port, result=res, token=tok.hex,
                          src=src, detail=detail, canary=c.name)

    with ThreadPoolExecutor(max_workers=16) as pool:
        controls = list(pool.map(control, targets))
        probes = list(pool.map(probe, range(len(jobs))))
    status, err = "ok", None
    if not canaries:
        status, err = "error", "the inventory declares no IPv4 canary"
    elif not ways:
        status, err = "error", "no interface up with an address and no default route: nothing to probe through"
    return ReachRecord(status=status, error=err, controls=tuple(controls), probes=tuple(probes),
                       interfaces=tuple(n for n, _, _ in ways), segment=segment)
