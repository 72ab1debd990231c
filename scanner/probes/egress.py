"""Egress probes from the vantage's own stack (its routes, its firewall):
ICMP echo, TCP connect, UDP and DNS to every canary and to one address of
every other segment; all at once, one shared wait.

result: "answer" (the destination answered: echo reply, connection, data),
"refused" (the destination itself said no: RST / port unreachable, so it was
reached), "unreachable" (no route here, or an ICMP error from a router on the
way: responder_ip names it), "none" (silence).

Every probe leaves from the vantage's interface and address: each socket is
bound to the device (SO_BINDTODEVICE) and to the vantage's source address,
the raw ICMP ones too. On a host with several interfaces (a probe on a trunk
with eth0.10 and eth0.20) the routing table may send a probe for this
segment out of another interface: that is checked for every target before
anything is sent (`ip route get DST from SRC`), such a target is not probed,
and the section is an `error` that says so -- a probe that left by another
segment's way out proves nothing about this one's.
"""
from __future__ import annotations

import errno
import json
import os
import select
import socket
import struct
import subprocess
import time

from scanner.canary import tokens
from scanner.model import text
from scanner.scan.plan import Plan
from scanner.probes.wire import checksum, require_privileges

WAIT = 1.0
WAIT6 = 1.6            # with IPv6 targets: past TCP's first SYN retransmission
RESEND = 0.5           # IPv6 ICMP/UDP probes not answered by then are sent again
ICMP_ID_BASE = 0x1E00
UNREACH = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENETDOWN,
           errno.EACCES, errno.EPERM, errno.EADDRNOTAVAIL}


def _dns_query(qid: int, name: str) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", 1, 1)


SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)


def route_of(dst: str, src: str | None = None) -> tuple[str | None, str | None, str | None]:
    """(gateway, device, error) from the routing table: the way a packet to
    dst from src would leave this host."""
    argv = ["ip", "-j", "route", "get", dst] + (["from", src] if src else [])
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, None, str(exc)
    if r.returncode != 0:
        return None, None, r.stderr.strip() or "no route"
    try:
        routes = json.loads(r.stdout)
        return ((routes[0].get("gateway"), routes[0].get("dev"), None) if routes
                else (None, None, None))
    except (ValueError, IndexError, AttributeError):
        return None, None, None


def first_hop(dst: str, src: str | None = None) -> tuple[str | None, str | None]:
    """(gateway, error) from the routing table: the way a packet to dst would leave."""
    gw, _dev, err = route_of(dst, src)
    return gw, err


def _own_segments(plan: Plan) -> set[str]:
    """The other segments this host has an address in (a probe on two links)."""
    inv = plan.scope._inv
    out = set()
    for a in plan.vantage.own:
        try:
            seg = inv.segment_of(a)
        except Exception:
            seg = None
        if seg is not None and seg.name != plan.segment.name:
            out.add(seg.name)
    return out


def _bind_device(sock, iface: str) -> None:
    sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, iface.encode() + b"\0")


class _Item:
    def __init__(self, target, proto, port):
        self.target, self.proto, self.port = target, proto, port
        self.result, self.responder_ip, self.detail = "none", None, None
        self.sock = None
        self.done = False
        self.token = None
        self.again = None          # resends the probe (IPv6 ICMP/UDP)

    def finish(self, result, responder=None, detail=None):
        self.result, self.responder_ip, self.detail, self.done = result, responder, detail, True
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:   # the result is already recorded
                pass
            self.sock = None

    def to_json(self, hop):
        t = self.target
        return {"dst": t.ip, "dst_kind": t.kind, "dst_segment": t.segment, "dst_name": t.name,
                "proto": self.proto, "port": self.port, "result": self.result,
                "responder_ip": self.responder_ip, "first_hop": hop, "detail": self.detail,
                "token": self.token}


def probe(plan: Plan, wait: float = WAIT, *, minter=None, zone: str = "isoscan.invalid") -> dict:
    require_privileges()
    v = plan.vantage
    items: list[_Item] = []
    # IPv6 targets from the vantage's declared IPv6 address (not a link-local
    # one: nothing off the link could answer it; never a rogue prefix's)
    src6 = plan.source6 if plan.remote6 else None
    if src6 is not None and src6.lower().startswith("fe80"):
        src6 = None
    # the way the routing table would send each target: out of the vantage's
    # interface, or not probed at all (another segment's way out proves nothing)
    hops, elsewhere, own_link = {}, {}, {}
    mine = _own_segments(plan)
    for t in plan.remote + (plan.remote6 if src6 else ()):
        gw, dev, _err = route_of(plan.guard(t.ip), src6 if ":" in t.ip else v.ip)
        hops[t.ip] = gw
        if dev is not None and dev != v.interface:
            # a segment this host itself is on (its other card): reached over
            # that link, which says nothing about this one's; not probed
            (own_link if t.segment in mine else elsewhere)[t.ip] = dev
    for t in plan.remote + (plan.remote6 if src6 else ()):
        if t.ip in elsewhere or t.ip in own_link:
            continue
        if t.icmp:
            items.append(_Item(t, "icmp", None))
        items += [_Item(t, "tcp", p) for p in t.tcp]
        items += [_Item(t, "dns" if p == 53 else "udp", p) for p in t.udp]

    icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    icmp.setblocking(False)
    _bind_device(icmp, v.interface)
    icmp.bind((v.ip, 0))
    icmp6 = None
    if src6 is not None:
        icmp6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        icmp6.setblocking(False)
        _bind_device(icmp6, v.interface)
        icmp6.bind((src6, 0))
    icmp_by_id = {}
    pending_w, pending_r = {}, {}
    try:
        for n, it in enumerate(items):
            dst = plan.guard(it.target.ip)
            six = ":" in dst
            fam, me = (socket.AF_INET6, src6) if six else (socket.AF_INET, v.ip)
            tok = minter.mint(None, it.proto, it.port) if minter is not None else None
            it.token = tok.hex if tok is not None else None
            try:
                if it.proto == "icmp" and six:
                    ident = (ICMP_ID_BASE + n) & 0xFFFF
                    body = tokens.payload_for(tok) if tok else b"isoscan-egress"
                    # the kernel fills in the ICMPv6 checksum (pseudo-header)
                    pkt = struct.pack("!BBHHH", 128, 0, 0, ident, 1) + body
                    icmp_by_id[ident] = it
                    icmp6.sendto(pkt, (dst, 0))
                    it.again = lambda pkt=pkt, dst=dst: icmp6.sendto(pkt, (dst, 0))
                elif it.proto == "icmp":
                    ident = (ICMP_ID_BASE + n) & 0xFFFF
                    body = tokens.payload_for(tok) if tok else b"isoscan-egress"
                    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
                    pkt = struct.pack("!BBHHH", 8, 0, checksum(hdr + body), ident, 1) + body
                    icmp_by_id[ident] = it
                    icmp.sendto(pkt, (dst, 0))
                elif it.proto == "tcp":
                    s = socket.socket(fam, socket.SOCK_STREAM)
                    it.sock = s
                    s.setblocking(False)
                    _bind_device(s, v.interface)
                    try:
                        s.bind((me, tokens.tcp_sport_for(tok) if tok else 0))
                    except OSError:
                        s.bind((me, 0))
                    rc = s.connect_ex((dst, it.port))
                    if rc in (0,):
                        it.finish("answer", dst, "connected")
                    elif rc in (errno.EINPROGRESS, errno.EAGAIN):
                        pending_w[s.fileno()] = it
                    else:
                        it.finish("refused" if rc == errno.ECONNREFUSED else "unreachable",
                                  None, os.strerror(rc))
                else:
                    s = socket.socket(fam, socket.SOCK_DGRAM)
                    it.sock = s
                    s.setblocking(False)
                    _bind_device(s, v.interface)
                    s.bind((me, 0))
                    s.connect((dst, it.port))
                    if it.proto == "dns":
                        payload = _dns_query(0x1500 + n, tokens.dns_name_for(tok, zone) if tok
                                             else f"e{n}.{zone}")
                    else:
                        payload = tokens.payload_for(tok) if tok else b"isoscan-egress"
                    s.send(payload)
                    pending_r[s.fileno()] = it
                    if six:
                        it.again = lambda s=s, payload=payload: s.send(payload)
            except OSError as exc:
                # no route / refused by this host is an answer of the network;
                # anything else (a full queue, ENOBUFS) means the probe was never
                # sent: "unsent", and the section is an error, never a silence
                it.finish("unreachable" if exc.errno in UNREACH else "unsent", None,
                          os.strerror(exc.errno) if exc.errno else str(exc))

        # Over IPv6 the first packet toward a cold neighbour is often lost
        # (many routers drop the packet that triggers neighbour discovery, and
        # right after a link comes up Linux can too): ICMP and UDP probes are
        # sent once more after RESEND s, and the wait covers TCP's first SYN
        # retransmission (1 s). The step runs beside discovery: no time lost.
        t0 = time.monotonic()
        deadline = t0 + (max(wait, WAIT6) if src6 else wait)
        resend = [it for it in items if getattr(it, "again", None)]
        while (pending_w or pending_r or any(not i.done for i in icmp_by_id.values())):
            if resend and time.monotonic() - t0 >= RESEND:
                for it in resend:
                    if not it.done:
                        try:
                            it.again()
                        except OSError:   # a second copy of a probe already sent:
                            pass          # its first copy stands (no verdict rests on it)
                resend = []
            left = deadline - time.monotonic()
            if left <= 0:
                break
            rl = [it.sock for it in pending_r.values()] + [icmp] + ([icmp6] if icmp6 else [])
            wl = [it.sock for it in pending_w.values()]
            r, w, _ = select.select(rl, wl, [], min(left, 0.05))
            for s in w:
                it = pending_w.pop(s.fileno())
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err == 0:
                    it.finish("answer", it.target.ip, "connected")
                elif err == errno.ECONNREFUSED:
                    it.finish("refused", it.target.ip, "connection refused (RST)")
                else:
                    it.finish("unreachable" if err in UNREACH else "none", None, os.strerror(err))
            for s in r:
                if s is icmp:
                    _read_icmp(icmp, icmp_by_id)
                    continue
                if s is icmp6:
                    _read_icmp6(icmp6, icmp_by_id)
                    continue
                it = pending_r.pop(s.fileno(), None)
                if it is None:
                    continue
                try:
                    s.recv(4096)
                    it.finish("answer", it.target.ip, "reply received")
                except OSError as exc:
                    if exc.errno == errno.ECONNREFUSED:
                        it.finish("refused", it.target.ip, "port unreachable")
                    elif exc.errno in UNREACH:
                        it.finish("unreachable", None, os.strerror(exc.errno))
                    else:
                        pending_r[s.fileno()] = it
    finally:
        icmp.close()
        if icmp6 is not None:
            icmp6.close()
        for it in items:
            if it.sock is not None:
                it.finish(it.result, it.responder_ip, it.detail or "no reply")
    out = {"status": "ok", "error": None,
           "method": f"own stack bound to {v.interface} and {v.ip} (raw ICMP, TCP connect, UDP, DNS)",
           "interface": v.interface, "probes": [it.to_json(hops.get(it.target.ip)) for it in items]}
    unsent = [it for it in items if it.result == "unsent"]
    if unsent:
        out["unsent"] = len(unsent)
        first = unsent[0]
        what = f"{first.target.ip} {first.proto}{'/' + str(first.port) if first.port else ''}"
        out.update(status="error", error=text(
            f"{len(unsent)} 个出站探测未能从 {v.interface} 发出（例如 {what}：{first.detail}）：未发出的探测得不到应答，不能当作隔离的证据",
            f"{len(unsent)} egress probes could not be sent from {v.interface} (e.g. {what}: "
            f"{first.detail}): a probe never sent gets no answer, which proves no isolation"))
    if own_link:
        out["own_link"] = [{"dst": ip, "dev": dev} for ip, dev in sorted(own_link.items())]
    if elsewhere:
        devs = ", ".join(sorted(set(elsewhere.values())))
        ips = ", ".join(sorted(elsewhere))
        out["elsewhere"] = [{"dst": ip, "dev": dev} for ip, dev in sorted(elsewhere.items())]
        out.update(status="error", error=text(
            f"本机路由表会把发往 {ips} 的探测从 {devs} 发出，而不是本位置的接口 {v.interface}：未发送"
            f"（经其他网段出口离开的探测不能说明 {plan.segment.name} 的出口）",
            f"this host's routing table sends probes to {ips} out of {devs}, not out of the "
            f"vantage's interface {v.interface}: they were not sent (a probe that leaves by "
            f"another segment's way out proves nothing about {plan.segment.name}'s)"))
    if plan.remote6:
        out["ipv6"] = {"src": src6, "targets": [t.ip for t in plan.remote6] if src6 else [],
                       "note": None if src6 else
                       "no declared IPv6 address of the segment on this host: IPv6 egress not probed"}
    return out


def _read_icmp6(sock, by_id):
    """ICMPv6 on a raw socket comes without the IPv6 header."""
    from netaddr import IPAddress
    while True:
        try:
            data, addr = sock.recvfrom(65535)
        except (BlockingIOError, InterruptedError):
            return
        src = str(IPAddress(addr[0].split("%")[0]))
        if len(data) < 8:
            continue
        typ = data[0]
        if typ == 129:
            it = by_id.get(struct.unpack("!H", data[4:6])[0])
            if it is not None and not it.done and src == str(IPAddress(it.target.ip)):
                it.finish("answer", src, "echo reply")
        elif typ in (1, 3) and len(data) >= 8 + 40 + 8:
            inner = data[8:]
            if inner[6] != 58 or inner[40] != 128:
                continue
            it = by_id.get(struct.unpack("!H", inner[44:46])[0])
            if it is not None and not it.done:
                it.finish("unreachable", src, f"ICMPv6 type {typ} code {data[1]} from {src}")


def _read_icmp(sock, by_id):
    while True:
        try:
            data, (src, _) = sock.recvfrom(65535)
        except (BlockingIOError, InterruptedError):
            return
        ihl = (data[0] & 0x0F) * 4
        icmp = data[ihl:]
        if len(icmp) < 8:
            continue
        typ = icmp[0]
        if typ == 0:
            ident = struct.unpack("!H", icmp[4:6])[0]
            it = by_id.get(ident)
            if it is not None and not it.done and src == it.target.ip:
                it.finish("answer", src, "echo reply")
        elif typ in (3, 11) and len(icmp) >= 8 + 20 + 8:
            inner = icmp[8:]
            iihl = (inner[0] & 0x0F) * 4
            if inner[9] != 1 or len(inner) < iihl + 8:
                continue
            ident = struct.unpack("!H", inner[iihl + 4:iihl + 6])[0]
            it = by_id.get(ident)
            if it is not None and not it.done:
                it.finish("unreachable", src, f"ICMP type {typ} code {icmp[1]} from {src}")
