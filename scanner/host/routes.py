"""Routing and addresses from procfs (proc(5)): /proc/net/route,
/proc/net/ipv6_route, /proc/net/if_inet6, /proc/net/fib_trie, and the
forwarding switches under /proc/sys/net."""
from __future__ import annotations

import ipaddress
import socket
import struct

from scanner.host.record import Route
from scanner.host.root import Root

RTF_UP = 0x0001


def _v4(hexle: str) -> str:
    """/proc/net/route's little-endian hex ('0100A8C0') -> '192.168.0.1'."""
    return socket.inet_ntoa(struct.pack("<I", int(hexle, 16)))


def routes(root: Root) -> list[Route]:
    out: list[Route] = []
    for line in (root.read("proc/net/route") or "").splitlines()[1:]:
        f = line.split()
        if len(f) < 8:
            continue
        try:
            flags = int(f[3], 16)
            if not flags & RTF_UP:
                continue
            dst, gw, mask = _v4(f[1]), _v4(f[2]), _v4(f[7])
            plen = ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
            out.append(Route(4, f"{dst}/{plen}", None if gw == "0.0.0.0" else gw, f[0],
                             int(f[6])))
        except (ValueError, struct.error):
            continue
    for line in (root.read("proc/net/ipv6_route") or "").splitlines():
        f = line.split()
        if len(f) < 10:
            continue
        try:
            dst = str(ipaddress.IPv6Address(bytes.fromhex(f[0])))
            plen = int(f[1], 16)
            gw = str(ipaddress.IPv6Address(bytes.fromhex(f[4])))
            flags = int(f[8], 16)
        except ValueError:
            continue
        if f[9] == "lo" or not flags & RTF_UP:
            continue
        out.append(Route(6, f"{dst}/{plen}", None if gw == "::" else gw, f[9], int(f[5], 16)))
    return out


def addresses_from_proc(root: Root, rts: list[Route]) -> dict[str, list[str]]:
    """{interface: ["ip/len", ...]} without a live kernel to ask (--root):
    IPv6 from /proc/net/if_inet6; IPv4 from /proc/net/fib_trie's LOCAL entries,
    each put on the interface whose connected route holds it."""
    out: dict[str, list[str]] = {}
    for line in (root.read("proc/net/if_inet6") or "").splitlines():
        f = line.split()
        if len(f) < 6:
            continue
        try:
            ip = ipaddress.IPv6Address(bytes.fromhex(f[0]))
            plen = int(f[2], 16)
        except ValueError:
            continue
        out.setdefault(f[5], []).append(f"{ip}/{plen}")
    local = []
    lines = (root.read("proc/net/fib_trie") or "").splitlines()
    for i, line in enumerate(lines):
        if "host LOCAL" in line and i > 0:
            cand = lines[i - 1].strip().lstrip("|-+` ").strip()
            try:
                local.append(ipaddress.IPv4Address(cand))
            except ValueError:
                continue
    connected = [(ipaddress.IPv4Network(r.dst), r.interface) for r in rts
                 if r.family == 4 and r.gateway is None and not r.default]
    for ip in dict.fromkeys(local):
        if ip.is_loopback:
            if ip == ipaddress.IPv4Address("127.0.0.1"):
                out.setdefault("lo", []).append(f"{ip}/8")
            continue
        best = max((n for n in connected if ip in n[0]), key=lambda n: n[0].prefixlen,
                   default=None)
        if best is not None:
            out.setdefault(best[1], []).append(f"{ip}/{best[0].prefixlen}")
    return out


def forwarding(root: Root) -> tuple[bool | None, bool | None]:
    def flag(rel):
        v = root.read(rel)
        return None if v is None or not v.isdigit() else int(v) != 0
    return flag("proc/sys/net/ipv4/ip_forward"), flag("proc/sys/net/ipv6/conf/all/forwarding")


SYSCTL_DIRS = ("etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d", "usr/lib/sysctl.d",
               "lib/sysctl.d")
FORWARD_KEYS = ("net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding",
                "net.ipv6.conf.all.forwarding", "net.ipv4.conf.default.forwarding",
                "net.ipv6.conf.default.forwarding")


def forwarding_configured(root: Root) -> list[str]:
    """Where the system's sysctl configuration turns forwarding on
    ("/etc/sysctl.d/99-share.conf:2 net.ipv4.ip_forward = 1"): what an offline
    disk says will happen at boot (sysctl.d(5); a later file wins, as there)."""
    files = ["etc/sysctl.conf"]
    for d in SYSCTL_DIRS:
        files += [f"{d}/{f}" for f in root.listdir(d) if f.endswith(".conf")][:500]
    last: dict[str, tuple[str, str]] = {}
    for rel in files:
        for n, line in enumerate((root.read(rel) or "").splitlines(), 1):
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            k, sep, v = line.lstrip("-").partition("=")
            k = k.strip().replace("/", ".")
            if sep and k in FORWARD_KEYS:
                last[k] = (v.strip(), f"/{rel}:{n} {k} = {v.strip()}")
    return [where for v, where in last.values() if v not in ("0", "")]

