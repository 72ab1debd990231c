"""What to probe from one vantage: pure, deduplicated, in scope.

`build_plan(inventory, vantage)` turns the declared inventory into the probe
tasks of one scan. It touches nothing. Every address a task names has passed
`Inventory.in_scope()` (a declared segment or a declared canary); the probes
call `Plan.guard()` again on every destination just before they send, so a
bug elsewhere cannot widen the scope: `ScopeError` is raised before the
packet exists.

The one exception to "a declared address" is link-local multicast
(ff02::/16) on the vantage's own link, which IPv6 neighbour discovery cannot
do without; it never leaves the link.
(Likewise the DHCP probe's DHCPDISCOVER goes to the limited broadcast
255.255.255.255 and the RA probe's solicitation to ff02::2: both link-scope,
neither is ever routed off the vantage's own segment; see scanner/probes/dhcp.py
and ra.py.)
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

from netaddr import IPAddress, IPNetwork

from scanner.model import (CLASSIFIED, INTERNET, NON_CLASSIFIED, Inventory,
                           Segment, must_isolate, private_space, text)
from scanner.scan.vantage import Vantage

# TCP/UDP ports probed on another segment's address (egress, forwarding)
SEGMENT_TCP = (22, 80, 443)
SEGMENT_UDP = (53,)
# how many of nmap's most common TCP ports the inbound scan adds to the declared ones
INBOUND_TOP_PORTS = 200
_FALLBACK_TOP = (21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 443, 445, 993, 995,
                 1723, 3306, 3389, 5900, 8080, 8443)
LINK_MULTICAST = IPNetwork("ff02::/16")


class ScopeError(Exception):
    """A probe was about to go to an address the inventory does not name."""


@dataclass(frozen=True)
class Target:
    """A destination outside the vantage's segment (egress and forwarding)."""
    ip: str
    kind: str                      # "canary" | "segment"
    segment: str | None            # the declared segment holding ip (None for a canary outside all)
    name: str | None               # canary name or device name
    tcp: tuple[int, ...] = ()
    udp: tuple[int, ...] = ()
    icmp: bool = True


@dataclass(frozen=True)
class Local:
    """A registered address on the vantage's own segment (positive control)."""
    ip: str
    mac: str | None
    name: str


@dataclass(frozen=True)
class Inbound:
    """An address probed from the internet: one of the unit's public addresses
    ("public": the ingress's internet-side address, a declared public range, a
    published service), or an address of a non-classified segment that this
    vantage has a route to ("routed": a unit without NAT, or a lab)."""
    ip: str
    segment: str                   # the non-classified segment it leads to
    tcp: tuple[int, ...]
    udp: tuple[int, ...] = ()
    kind: str = "routed"           # "public" | "routed"
    declared_tcp: tuple[int, ...] = ()   # the exposed ports of it (always recorded, one by one)


# --inbound: quick (nightly) = nmap's top ports plus the declared ones;
# full = every TCP port, plus the declared UDP ones
INBOUND_MODES = ("auto", "quick", "full")
ALL_TCP = tuple(range(1, 65536))
# `--inbound auto` (the default): every TCP port of every inbound target when
# the sweep, estimated at the full sweep's minimum rate (--inbound-rate), fits
# this many seconds; else the top ports plus the declared ones. One public
# address at 5,000 probes/s is about 13 s; four are about 52 s.
INBOUND_AUTO_BUDGET_S = 60.0


@dataclass(frozen=True)
class Plan:
    vantage: Vantage
    segment: Segment
    networks4: tuple[str, ...]           # discovery: the segment's IPv4 networks
    networks6: tuple[str, ...]           # the segment's IPv6 networks (neighbour discovery)
    controls: tuple[Local, ...]          # registered addresses that must answer ARP
    remote: tuple[Target, ...]           # canaries + one address of each other segment
    inbound: tuple[Inbound, ...]         # only from an internet vantage
    scope: "Scope" = field(repr=False, default=None)
    inbound_mode: str = "quick"
    # declared exposed services this vantage cannot probe: at a private
    # address it has no route to, or over IPv6 (the inbound probes are IPv4);
    # the inbound positive control cannot pass on them
    inbound_unrouted: tuple[str, ...] = ()
    inbound_unprobed6: tuple[str, ...] = ()
    # with --inbound full: the IPv4 networks of non-classified segments routed
    # from this vantage (a /24 at most each), swept for addresses nobody named
    inbound_sweep: tuple[str, ...] = ()
    inbound_rate: int = 5000             # nmap --min-rate of a full sweep (probes/s)
    # how the mode was chosen: {"asked": "auto"|"quick"|"full", "chose": ...,
    # "estimate_s": the full sweep's estimate, "budget_s": ...}
    inbound_choice: dict | None = None
    # IPv6 canaries + one IPv6 address of each other segment (forwarding over
    # IPv6); empty unless the segment declares an IPv6 network
    remote6: tuple[Target, ...] = ()
    # every registered IPv4 address of the segments this one must be isolated
    # from: asked for on the local link by ARP (a station that answers holds
    # or routes that address) and probed through whoever answered
    claims: tuple[Target, ...] = ()
    # the same for their registered IPv6 addresses, asked by neighbour
    # solicitation; empty unless this segment declares an IPv6 network
    claims6: tuple[Target, ...] = ()

    @property
    def source6(self) -> str | None:
        """The source of IPv6 probes: the vantage's address inside a declared
        IPv6 network of its segment, else its link-local address; never one
        from another prefix (a rogue router's)."""
        if not self.networks6:
            return None
        nets = [IPNetwork(n) for n in self.networks6]
        mine = [a for a in self.vantage.ipv6 if ":" in a]
        for a in mine:
            if any(IPAddress(a) in n for n in nets):
                return a
        return next((a for a in mine if IPAddress(a).is_link_local()), None)

    @property
    def classification(self) -> str:
        return self.segment.classification

    def guard(self, ip) -> str:
        """ip as a string when in scope, else ScopeError (nothing is sent)."""
        return self.scope.guard(ip)

    def to_json(self) -> dict:
        return {
            "segment": self.segment.name,
            "classification": self.segment.classification,
            "networks": [*self.networks4, *self.networks6],
            "controls": [c.ip for c in self.controls],
            "remote": [{"ip": t.ip, "kind": t.kind, "segment": t.segment, "name": t.name,
                        "tcp": list(t.tcp), "udp": list(t.udp), "icmp": t.icmp}
                       for t in self.remote],
            "remote6": [{"ip": t.ip, "kind": t.kind, "segment": t.segment, "name": t.name,
                         "tcp": list(t.tcp), "udp": list(t.udp), "icmp": t.icmp}
                        for t in self.remote6],
            "inbound": [{"ip": t.ip, "segment": t.segment, "kind": t.kind,
                         "tcp_ports": len(t.tcp), "udp": list(t.udp)} for t in self.inbound],
            "inbound_mode": self.inbound_mode,
            **({"inbound_choice": dict(self.inbound_choice)} if self.inbound_choice else {}),
            "claims": [{"ip": t.ip, "segment": t.segment, "name": t.name}
                       for t in (*self.claims, *self.claims6)],
        }


class Scope:
    """The scope guard: the declared segments and canaries, nothing else."""

    def __init__(self, inv: Inventory, own: frozenset[str] = frozenset()):
        self._inv = inv
        self._own = own
        self._cache: dict[str, bool] = {}

    def allows(self, ip) -> bool:
        key = str(ip)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._allows(ip)
        return hit

    def _allows(self, ip) -> bool:
        try:
            addr = IPAddress(str(ip).split("%")[0])
        except Exception:
            return False
        if str(addr) in self._own:          # never probe ourselves
            return False
        if addr.version == 6 and addr in LINK_MULTICAST:
            return True
        return self._inv.in_scope(addr)

    def guard(self, ip) -> str:
        if not self.allows(ip):
            raise ScopeError(f"scope guard: {ip} is not a declared segment address or canary "
                             "(or is this host's own); nothing was sent")
        return str(IPAddress(str(ip).split("%")[0]))


def _first_address(seg: Segment, inv: Inventory, own: frozenset[str],
                   version: int) -> tuple[str, str | None] | None:
    """One declared address of a segment in one IP version: the segment's
    ingress's (the address most likely to answer), else a registered device's
    (never an IPv6 link-local one), else the first host address of its first
    network of that version."""
    regs = sorted(((str(i.ip), d.name) for d, i in inv.devices_on(seg.name)
                   if i.ip is not None and i.ip.version == version
                   and not (version == 6 and i.ip.is_link_local()) and str(i.ip) not in own),
                  key=lambda x: IPAddress(x[0]))
    if seg.ingress:
        for ip, name in regs:
            if name == seg.ingress:
                return ip, name
    if regs:
        return regs[0]
    for n in seg.networks:
        if n.version == version and n.size > 2:
            return str(n[1]), None
        if n.version == version == 4:           # a /31 or /32
            return str(n[0]), None
    return None


def _remote_targets(inv: Inventory, seg: Segment, scope, own: frozenset[str],
                    version: int) -> dict[str, "Target"]:
    """What forwarding and egress probes aim at, in one IP version: every canary
    off this segment, and one declared address of every other segment; each
    one inside the scope."""
    out: dict[str, Target] = {}
    for c in inv.canaries:
        if c.address.version != version or seg.contains(c.address) or not scope.allows(c.address):
            continue
        s = inv.segment_of(c.address)
        out.setdefault(str(c.address), Target(
            str(c.address), "canary", s.name if s else None, c.name,
            tuple(sorted(set(c.tcp))), tuple(sorted(set(c.udp))), bool(c.icmp)))
    for other in inv.segments:
        if other.name == seg.name:
            continue
        picked = _first_address(other, inv, own, version)
        if picked is None:
            continue
        ip, name = picked
        if ip in out or seg.contains(ip) or not scope.allows(ip):
            continue
        out[ip] = Target(ip, "segment", other.name, name, SEGMENT_TCP, SEGMENT_UDP, True)
    return out


def _claim_targets(inv: Inventory, seg: Segment, scope, own: frozenset[str],
                   version: int = 4) -> list[Target]:
    """The registered IPv4 (or IPv6) addresses of the segments `seg` must be
    isolated from, asked for on seg's link (never from the internet: nobody
    registers stations there, and the internet's link is not the unit's)."""
    if seg.is_internet:
        return []
    out: dict[str, Target] = {}
    for other in inv.segments:
        if other.name == seg.name or not must_isolate(seg, other):
            continue
        for d, i in inv.devices_on(other.name):
            if i.ip is None or i.ip.version != version or str(i.ip) in own:
                continue
            if seg.name in d.segments:
                continue        # registered here too (a declared transfer device): its own card
            ip = str(i.ip)
            if seg.contains(ip) or not other.contains(ip) or not scope.allows(ip):
                continue
            out.setdefault(ip, Target(ip, "segment", other.name, d.name, SEGMENT_TCP[-1:], (),
                                      True))
    return sorted(out.values(), key=lambda t: IPAddress(t.ip))


@lru_cache(maxsize=4)
def top_tcp_ports(n: int = INBOUND_TOP_PORTS) -> tuple[int, ...]:
    """nmap's n most frequent TCP ports (from nmap-services), or a short fallback."""
    for path in ("/usr/share/nmap/nmap-services", "/usr/local/share/nmap/nmap-services"):
        if not os.path.exists(path):
            continue
        rows = []
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("#"):
                    continue
                parts = line.split()
                if len(parts) >= 3 and parts[1].endswith("/tcp"):
                    try:
                        rows.append((float(parts[2]), int(parts[1].split("/")[0])))
                    except ValueError:
                        continue
        rows.sort(reverse=True)
        return tuple(sorted(p for _, p in rows[:n]))
    return _FALLBACK_TOP


def routed_from(vantage: Vantage, ip) -> bool:
    """The internet vantage can reach ip: an address outside private space (a
    unit without NAT), or a private one it has a route to other than the
    default route (a lab, a VPN). The real internet routes no private address
    into a unit."""
    a = IPAddress(ip)
    return not private_space(a) or any(a in IPNetwork(r) for r in vantage.routes4)


def inbound_targets(inv: Inventory, vantage: Vantage, scope: "Scope",
                    mode: str = "quick") -> tuple[list[Inbound], list[str], list[str]]:
    """What the internet vantage probes, and the declared exposed services it
    cannot reach. Public addresses first, as the internet sees the unit: the
    ingress's internet-side address, the segment's `public` range, the
    public address of each published service; then the registered and
    exposed addresses of non-classified segments, where they are routed from
    this vantage. Ports: nmap's top ports (quick) or all (full), plus the
    declared ones; UDP: the declared ones. Also returned: the declared
    services it cannot probe, at unrouted private addresses and over IPv6."""
    base = ALL_TCP if mode == "full" else top_tcp_ports()
    wanted: dict[str, tuple[str, str, set, set]] = {}       # ip -> (kind, segment, tcp, udp)
    unrouted: list[str] = []
    unprobed6: list[str] = []

    def named(addr, e) -> list[str]:
        return [f"{addr}:{p}/{proto}" for proto, ports in (("tcp", e.tcp), ("udp", e.udp))
                for p in ports]

    def add(ip, kind, segname, tcp=(), udp=()):
        key = str(ip)
        entry = wanted.setdefault(key, (kind, segname, set(), set()))
        if kind == "public" and entry[0] != "public":
            entry = wanted[key] = ("public", segname, entry[2], entry[3])
        entry[2].update(tcp)
        entry[3].update(udp)

    for seg in inv.segments:
        if seg.classification != NON_CLASSIFIED:
            continue
        gw = inv.device(seg.ingress) if seg.ingress else None
        for i in (gw.interfaces if gw is not None else ()):
            other = inv.segment(i.segment)
            if other is not None and other.is_internet and i.ip is not None and i.ip.version == 4:
                add(i.ip, "public", seg.name)
        for net in seg.public:
            if net.version == 4:
                for a in (net if net.size <= 2 else net.iter_hosts()):
                    add(a, "public", seg.name)
        for e in seg.exposed:
            where = e.probed
            if where.version == 6:
                unprobed6.extend(named(where, e))
            elif e.public is not None:
                add(e.public, "public", seg.name, e.tcp, e.udp)
            elif routed_from(vantage, e.address):
                add(e.address, "routed", seg.name, e.tcp, e.udp)
            else:
                unrouted.extend(named(e.address, e))
        for _, i in inv.devices_on(seg.name):
            if (i.ip is not None and i.ip.version == 4 and seg.contains(i.ip)
                    and routed_from(vantage, i.ip)):
                add(i.ip, "routed", seg.name)
    out = []
    for ip in sorted(wanted, key=lambda a: (wanted[a][0] != "public", IPAddress(a))):
        if not scope.allows(ip):
            continue
        kind, segname, tcp, udp = wanted[ip]
        out.append(Inbound(ip, segname, tuple(sorted(set(base) | tcp)), tuple(sorted(udp)), kind,
                           tuple(sorted(tcp))))
    return out, unrouted, unprobed6


# issue 13, the identity step: SSH host keys on 22 and the segment's declared
# ssh_ports, TLS certificates on 443 and its tls_ports, NBSTAT on UDP 137 --
# of the stations discovery found on the vantage's own segment only
IDENTITY_SSH = (22,)
IDENTITY_TLS = (443,)


def identity_ports(seg: Segment) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(ssh ports, tls ports) the identity step asks on, for one segment."""
    return (tuple(sorted(set(IDENTITY_SSH) | set(seg.ssh_ports))),
            tuple(sorted(set(IDENTITY_TLS) | set(seg.tls_ports))))


SWEEP_MAX = 256      # addresses of one routed network swept for stations nobody registered


def routed_network(vantage: Vantage, net: IPNetwork) -> bool:
    """The whole of net is reached from this vantage: outside private space
    end to end, or inside one route other than the default (a split route
    would send part of a sweep out of the default route, to someone else)."""
    if not private_space(net.network) and not private_space(net.broadcast or net.network):
        return True
    return any(net in IPNetwork(r) for r in vantage.routes4)


def routed_networks(inv: Inventory, vantage: Vantage) -> list[str]:
    """The IPv4 networks (a /24 at most) of non-classified segments that this
    internet vantage reaches: where a station nobody registered could answer."""
    return [str(net.cidr) for seg in inv.segments if seg.classification == NON_CLASSIFIED
            for net in seg.networks
            if net.version == 4 and net.size <= SWEEP_MAX and routed_network(vantage, net)]


def full_sweep_estimate(n_targets: int, n_swept: int, rate: int) -> float:
    """Seconds a full sweep takes at its minimum rate: every TCP port of each
    target, and nmap's top ports on each swept address. An upper bound: nmap
    goes faster where the targets answer (a closed port's RST)."""
    probes = n_targets * len(ALL_TCP) + n_swept * len(top_tcp_ports())
    return probes / max(1, int(rate))


def auto_inbound_mode(inv: Inventory, vantage: Vantage, scope: "Scope",
                      rate: int, budget: float = INBOUND_AUTO_BUDGET_S) -> tuple[str, dict]:
    """("full" | "quick", how it was chosen) for `--inbound auto`: the whole
    public face when its full sweep fits `budget` seconds, else top ports."""
    targets, _unrouted, _six = inbound_targets(inv, vantage, scope, "quick")
    swept = sum(IPNetwork(n).size for n in routed_networks(inv, vantage))
    est = round(full_sweep_estimate(len(targets), swept, rate), 1)
    chose = "full" if est <= budget else "quick"
    return chose, {"asked": "auto", "chose": chose, "estimate_s": est, "budget_s": budget,
                   "targets": len(targets), "rate": int(rate)}


def build_plan(inv: Inventory, vantage: Vantage, inbound_mode: str = "quick",
               inbound_rate: int = 5000) -> Plan:
    if inbound_mode not in INBOUND_MODES:
        raise ValueError(f"inbound mode {inbound_mode!r}: expected one of {INBOUND_MODES}")
    seg = inv.segment(vantage.segment)
    if seg is None:
        raise ScopeError(f"vantage segment {vantage.segment} is not declared")
    scope = Scope(inv, vantage.own)
    # the vantage itself must lie in its segment (choose_vantage made sure)
    if not seg.contains(vantage.ip):
        raise ScopeError(f"vantage address {vantage.ip} is not in segment {seg.name}")

    networks4 = tuple(str(n) for n in seg.networks if n.version == 4)
    networks6 = tuple(str(n) for n in seg.networks if n.version == 6)

    controls: dict[str, Local] = {}
    for d, i in inv.devices_on(seg.name):
        if i.ip is None or i.ip.version != 4 or str(i.ip) in vantage.own:
            continue
        if scope.allows(i.ip):
            controls.setdefault(str(i.ip), Local(str(i.ip), i.mac, d.name))
    for c in inv.canaries:         # a canary on the vantage's own link answers ARP too
        if c.address.version == 4 and seg.contains(c.address) and scope.allows(c.address):
            controls.setdefault(str(c.address), Local(str(c.address), None, c.name))

    remote = _remote_targets(inv, seg, scope, vantage.own, 4)
    remote6 = _remote_targets(inv, seg, scope, vantage.own, 6) if networks6 else {}

    inbound: list[Inbound] = []
    unrouted: list[str] = []
    unprobed6: list[str] = []
    sweep: list[str] = []
    choice = None
    if seg.classification == INTERNET:
        asked = inbound_mode
        if asked == "auto":
            inbound_mode, choice = auto_inbound_mode(inv, vantage, scope, inbound_rate)
        else:
            choice = {"asked": asked, "chose": asked}
        inbound, unrouted, unprobed6 = inbound_targets(inv, vantage, scope, inbound_mode)
        if inbound_mode == "full":
            sweep = routed_networks(inv, vantage)
    elif inbound_mode == "auto":
        inbound_mode = "quick"      # no inbound probes from here: the mode is moot

    return Plan(vantage=vantage, segment=seg, networks4=networks4, networks6=networks6,
                controls=tuple(sorted(controls.values(), key=lambda l: IPAddress(l.ip))),
                remote=tuple(remote.values()), inbound=tuple(inbound), scope=scope,
                remote6=tuple(remote6.values()), inbound_mode=inbound_mode,
                inbound_unrouted=tuple(unrouted), inbound_unprobed6=tuple(unprobed6),
                inbound_sweep=tuple(sweep), inbound_rate=int(inbound_rate),
                inbound_choice=choice,
                claims=tuple(_claim_targets(inv, seg, scope, vantage.own)),
                claims6=tuple(_claim_targets(inv, seg, scope, vantage.own, 6)) if networks6 else ())


# classifications, re-exported for probes that branch on them
__all__ = ["Plan", "Target", "Local", "Inbound", "Scope", "ScopeError", "build_plan",
           "inbound_targets", "routed_from", "INBOUND_MODES",
           "top_tcp_ports", "CLASSIFIED", "NON_CLASSIFIED", "INTERNET", "text"]
