"""Where this host stands: its interfaces, its addresses, its segment.

The addresses come from `ip -j addr` (parsed here, no netifaces). Choosing
the vantage is pure (`choose_vantage`) so it is tested without a network; only
`local_interfaces()` runs a command, and it sends nothing.

A host none of whose addresses lies in a declared segment is not a vantage:
`VantageError` (exit 2) is raised before any probe is built. That refusal is
also what protects a machine's own namespace from being scanned by mistake.
"""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field

from netaddr import IPAddress

from scanner.model import Inventory, Segment, text


class VantageError(Exception):
    """No usable vantage (exit 2). `message` is a Text (zh-CN + en)."""

    def __init__(self, message):
        self.message = message
        super().__init__(message.get("en") if isinstance(message, dict) else str(message))


@dataclass(frozen=True)
class LocalInterface:
    name: str
    mac: str | None
    up: bool                      # administratively up and carrier present
    ipv4: tuple[str, ...] = ()
    ipv6: tuple[str, ...] = ()    # global and link-local


@dataclass(frozen=True)
class Vantage:
    segment: str
    interface: str
    ip: str                       # this host's IPv4 address in the segment
    mac: str | None
    up: bool
    ipv6: tuple[str, ...] = ()
    own: frozenset[str] = field(default_factory=frozenset)  # every address of this host
    own_macs: frozenset[str] = field(default_factory=frozenset)
    # IPv4 prefixes this host has a route to other than the default route
    # (connected networks included): where a private address can be reached
    routes4: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"segment": self.segment, "interface": self.interface, "ip": self.ip,
                "mac": self.mac, "ipv6": list(self.ipv6), "up": self.up,
                "routes4": list(self.routes4)}


def parse_ip_addr(data: str | list) -> list[LocalInterface]:
    """Interfaces from `ip -j addr` output (loopback left out)."""
    items = json.loads(data) if isinstance(data, str) else data
    out = []
    for it in items or []:
        name = it.get("ifname")
        if not name or it.get("link_type") == "loopback" or "LOOPBACK" in (it.get("flags") or []):
            continue
        flags = it.get("flags") or []
        up = "UP" in flags and "LOWER_UP" in flags and it.get("operstate") != "DOWN"
        v4, v6 = [], []
        for a in it.get("addr_info") or []:
            local = a.get("local")
            if not local:
                continue
            (v4 if a.get("family") == "inet" else v6 if a.get("family") == "inet6" else []).append(local)
        mac = it.get("address")
        out.append(LocalInterface(name=name, mac=mac.lower() if mac else None, up=up,
                                  ipv4=tuple(v4), ipv6=tuple(v6)))
    return out


def local_interfaces() -> list[LocalInterface]:
    """This host's interfaces (reads only; sends nothing)."""
    try:
        res = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VantageError(text(f"无法读取本机地址（ip -j addr）：{exc}",
                                f"cannot read this host's addresses (ip -j addr): {exc}"))
    if res.returncode != 0:
        raise VantageError(text(f"无法读取本机地址：{res.stderr.strip()}",
                                f"cannot read this host's addresses: {res.stderr.strip()}"))
    return parse_ip_addr(res.stdout)


def parse_ip_route(data: str | list) -> tuple[str, ...]:
    """The destination prefixes of `ip -j -4 route show` other than the
    default route (an unreachable, blackhole or prohibit route leads nowhere)."""
    items = json.loads(data) if isinstance(data, str) else data
    out = []
    for r in items or []:
        dst = r.get("dst") if isinstance(r, dict) else None
        if not dst or dst == "default" or r.get("type") in ("unreachable", "blackhole", "prohibit"):
            continue
        out.append(dst if "/" in dst else f"{dst}/32")
    return tuple(dict.fromkeys(out))


def local_routes4() -> tuple[str, ...]:
    """This host's IPv4 routes other than the default one (reads only).
    Unreadable is VantageError (exit 2), never "no routes": the internet
    vantage would then quietly skip the private addresses it does reach."""
    try:
        res = subprocess.run(["ip", "-j", "-4", "route", "show"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VantageError(text(f"无法读取本机路由表（ip -j -4 route show）：{exc}",
                                f"cannot read this host's routes (ip -j -4 route show): {exc}"))
    try:
        if res.returncode != 0:
            raise ValueError(res.stderr.strip())
        return parse_ip_route(res.stdout or "[]")
    except ValueError as exc:
        raise VantageError(text(f"无法读取本机路由表：{exc}",
                                f"cannot read this host's routes: {exc}"))


def choose_vantage(inv: Inventory, ifaces: list[LocalInterface], *,
                   segment: str | None = None, interface: str | None = None,
                   routes4: tuple[str, ...] = ()) -> Vantage:
    """This host's vantage: the (interface, IPv4 address) lying in a declared segment.

    `segment` / `interface` narrow the choice; when several remain the choice
    is ambiguous and the user must name one (exit 2, never a guess).
    """
    if segment is not None and inv.segment(segment) is None:
        raise VantageError(text(f"清单中没有网段 {segment}", f"the inventory declares no segment {segment}"))
    if interface is not None and not any(i.name == interface for i in ifaces):
        raise VantageError(text(f"本机没有接口 {interface}", f"this host has no interface {interface}"))
    own = frozenset(a for i in ifaces for a in (*i.ipv4, *(x.split("%")[0] for x in i.ipv6)))
    own_macs = frozenset(i.mac for i in ifaces if i.mac)
    candidates: list[tuple[LocalInterface, str, Segment]] = []
    for i in ifaces:
        if interface is not None and i.name != interface:
            continue
        for a in i.ipv4:
            seg = inv.segment_of(IPAddress(a))
            if seg is None or (segment is not None and seg.name != segment):
                continue
            candidates.append((i, a, seg))
    if not candidates:
        where = []
        if segment:
            where.append(f"segment {segment}")
        if interface:
            where.append(f"interface {interface}")
        extra = f" ({', '.join(where)})" if where else ""
        raise VantageError(text(
            f"本机没有任何地址位于清单声明的网段内{extra}：拒绝扫描（不向清单以外的地址发送任何报文）",
            f"none of this host's addresses lies in a declared segment{extra}: "
            "refusing to scan (no packet is sent to addresses the inventory does not name)"))
    segs = {c[2].name for c in candidates}
    ifs = {c[0].name for c in candidates}
    if len(segs) > 1 or len(ifs) > 1:
        opts = ", ".join(sorted(f"{c[0].name}:{c[1]} ({c[2].name})" for c in candidates))
        raise VantageError(text(
            f"本机在多个网段/接口上有地址（{opts}）：请用 --segment 或 --interface 指定",
            f"this host has addresses on several segments/interfaces ({opts}): "
            "choose one with --segment or --interface"))
    i, a, seg = candidates[0]
    v6 = tuple(x.split("%")[0] for x in i.ipv6)
    return Vantage(segment=seg.name, interface=i.name, ip=a, mac=i.mac, up=i.up,
                   ipv6=v6, own=own, own_macs=own_macs, routes4=tuple(routes4))


def find_vantage(inv: Inventory, *, segment: str | None = None,
                 interface: str | None = None) -> Vantage:
    return choose_vantage(inv, local_interfaces(), segment=segment, interface=interface,
                          routes4=local_routes4())
