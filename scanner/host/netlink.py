"""rtnetlink (rtnetlink(7)), the live kernel's own answer: the addresses of
every interface (RTM_GETADDR dump), and a subscription to link and address
changes for watch mode (RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR).
Read-only: nothing is ever sent that changes the kernel's state."""
from __future__ import annotations

import ipaddress
import os
import socket
import struct

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_DELLINK = 16, 17
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_DONE, NLMSG_ERROR = 3, 2
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTMGRP_LINK, RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR = 0x1, 0x10, 0x100

_NLMSG = struct.Struct("=IHHII")
_IFADDR = struct.Struct("=BBBBI")
_RTA = struct.Struct("=HH")


def _attrs(data: bytes, off: int):
    while off + 4 <= len(data):
        ln, typ = _RTA.unpack_from(data, off)
        if ln < 4:
            break
        yield typ, data[off + 4:off + ln]
        off += (ln + 3) & ~3


def messages(data: bytes):
    """(type, payload) of each netlink message in one datagram."""
    off = 0
    while off + 16 <= len(data):
        ln, typ, _flags, _seq, _pid = _NLMSG.unpack_from(data, off)
        if ln < 16:
            break
        yield typ, data[off + 16:off + ln]
        off += (ln + 3) & ~3


def addresses() -> dict[str, list[str]]:
    """{interface name: ["ip/len", ...]} of this network namespace."""
    names = {i: n for i, n in socket.if_nameindex()}
    out: dict[str, list[str]] = {}
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    try:
        s.bind((0, 0))
        req = _NLMSG.pack(16 + 8, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + \
            struct.pack("=BBBBI", socket.AF_UNSPEC, 0, 0, 0, 0)
        s.send(req)
        done = False
        while not done:
            data = s.recv(65536)
            for typ, body in messages(data):
                if typ == NLMSG_DONE:
                    done = True
                    break
                if typ == NLMSG_ERROR:
                    err = -struct.unpack_from("=i", body)[0]
                    raise OSError(err, os.strerror(err))
                if typ != RTM_NEWADDR or len(body) < 8:
                    continue
                fam, plen, _fl, _scope, idx = _IFADDR.unpack_from(body)
                got = {}
                for at, val in _attrs(body, 8):
                    if at in (IFA_ADDRESS, IFA_LOCAL):
                        got[at] = val
                raw = got.get(IFA_LOCAL) or got.get(IFA_ADDRESS)
                if raw is None:
                    continue
                ip = ipaddress.ip_address(raw)
                out.setdefault(names.get(idx, str(idx)), []).append(f"{ip}/{plen}")
    finally:
        s.close()
    return out


def subscribe() -> socket.socket:
    """A socket that receives every link and address change."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    s.bind((0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
    return s


def changes(data: bytes) -> list[tuple[str, int]]:
    """[(what, ifindex)] of a datagram from subscribe(): what is one of
    "link", "unlink", "addr", "unaddr"."""
    out = []
    for typ, body in messages(data):
        if typ in (RTM_NEWLINK, RTM_DELLINK) and len(body) >= 16:
            idx = struct.unpack_from("=i", body, 4)[0]
            out.append(("link" if typ == RTM_NEWLINK else "unlink", idx))
        elif typ in (RTM_NEWADDR, RTM_DELADDR) and len(body) >= 8:
            out.append(("addr" if typ == RTM_NEWADDR else "unaddr", _IFADDR.unpack_from(body)[4]))
    return out
