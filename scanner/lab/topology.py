"""What a lab is made of, as plain data (no I/O): switches, hosts, legs.

`plan.py` fills a Topology from an inventory, `faults.py` bends it, and
`build.py` turns it into namespaces. Keeping it pure lets the tests check the
whole design of a lab without root.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

RUN_ROOT_DEFAULT = "/run/isoscan-lab"
SAFE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def prefix_for(lab_name: str) -> str:
    """Every namespace of lab `demo` is named `isl-demo.<...>`.

    Lab names never contain a dot, so the prefix names exactly one lab.
    """
    return f"isl-{lab_name}."


def safe_part(name: str) -> str:
    """A host or segment name as a namespace-name part (data stays data)."""
    if SAFE_RE.match(name):
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:24] or "x"
    return f"{cleaned}-{digest}"


@dataclass
class Leg:
    """One veth: `ifname` inside the host, `port` inside the segment switch."""
    ifname: str
    segment: str
    port: str = ""
    mac: str | None = None
    addrs: list[str] = field(default_factory=list)      # "10.10.0.11/24"
    onlink: list[str] = field(default_factory=list)     # other networks of the segment
    note: str = ""                                       # which fault added/moved it

    def ips(self) -> list[str]:
        return [a.split("/")[0] for a in self.addrs]

    def to_json(self) -> dict:
        return {"ifname": self.ifname, "segment": self.segment, "port": self.port,
                "mac": self.mac, "addrs": list(self.addrs), "ips": self.ips(),
                "note": self.note}


@dataclass
class Proc:
    """A process the lab starts and tracks (listener, dnsmasq, radvd)."""
    what: str
    argv: list[str]
    files: dict[str, str] = field(default_factory=dict)   # path -> content, written first
    ready_file: str | None = None                         # exists once it is serving


@dataclass
class Host:
    name: str
    ns: str
    role: str                      # device | canary | fault
    kind: str                      # inventory kind; canary; or the fault kind
    legs: list[Leg] = field(default_factory=list)
    forward4: bool = False
    forward6: bool = False
    accept_ra: bool = False
    routes: list[list[str]] = field(default_factory=list)   # args of `ip route replace`
    ipt4: list[str] = field(default_factory=list)            # iptables-restore lines
    ipt6: list[str] = field(default_factory=list)
    tcp: set[int] = field(default_factory=set)                # listener ports
    udp: set[int] = field(default_factory=set)
    procs: list[Proc] = field(default_factory=list)
    masquerade: list[str] = field(default_factory=list)      # ifnames NATed on the way out
    dnat: list[str] = field(default_factory=list)             # nat PREROUTING lines (port forwards)
    drop_icmp_errors: bool = False
    gateway: bool = False
    proxy_arp: bool = False        # answers ARP for what it routes out another leg
    transfer_mode: str | None = None   # a declared one-way transfer: filtered | silent | open
    no_exit: list[str] = field(default_factory=list)   # gateway legs not let out to the internet
    extra_routes: list[list[str]] = field(default_factory=list)   # kept by derive_routes
    arp_ignore: int = 0            # 1: answers ARP only for the addresses of the card asked on

    def leg_on(self, segment: str) -> Leg | None:
        return next((l for l in self.legs if l.segment == segment), None)

    def next_ifname(self) -> str:
        used = {l.ifname for l in self.legs}
        return next(f"eth{i}" for i in range(64) if f"eth{i}" not in used)

    def sysctls(self) -> list[str]:
        """Every setting the lab relies on, explicitly (a new namespace copies
        IPv4 settings from wherever it was made and IPv6 from defaults)."""
        f4, f6 = int(self.forward4), int(self.forward6)
        ra = int(self.accept_ra)
        out = [f"net.ipv4.ip_forward={f4}"]
        for scope in ("all", "default"):
            out += [f"net.ipv4.conf.{scope}.rp_filter=0",
                    f"net.ipv4.conf.{scope}.arp_ignore={int(self.arp_ignore)}",
                    f"net.ipv4.conf.{scope}.arp_announce=0",
                    f"net.ipv4.conf.{scope}.send_redirects=0",
                    f"net.ipv4.conf.{scope}.accept_redirects=0",
                    f"net.ipv6.conf.{scope}.disable_ipv6=0",
                    f"net.ipv6.conf.{scope}.forwarding={f6}",
                    f"net.ipv6.conf.{scope}.accept_ra={ra}",
                    f"net.ipv6.conf.{scope}.accept_dad=0",
                    f"net.ipv6.conf.{scope}.accept_redirects=0"]
        out.append(f"net.ipv4.conf.all.proxy_arp={int(self.proxy_arp)}")
        out += ["net.ipv4.icmp_echo_ignore_all=0",
                "net.ipv4.icmp_echo_ignore_broadcasts=1",
                "net.ipv4.icmp_ratelimit=0",
                "net.ipv6.icmp.ratelimit=0"]
        return out

    def to_json(self) -> dict:
        return {"name": self.name, "ns": self.ns, "role": self.role, "kind": self.kind,
                "legs": [l.to_json() for l in self.legs], "forward4": self.forward4,
                "forward6": self.forward6, "tcp": sorted(self.tcp), "udp": sorted(self.udp),
                "gateway": self.gateway, "proxy_arp": self.proxy_arp}


@dataclass
class Switch:
    segment: str
    ns: str
    ports: list[str] = field(default_factory=list)
    made: int = 0

    def new_port(self) -> str:
        name = f"p{self.made}"
        self.made += 1
        self.ports.append(name)
        return name

    @staticmethod
    def sysctls(bridge_nf: bool) -> list[str]:
        out = ["net.ipv4.ip_forward=0",
               "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]
        if bridge_nf:   # br_netfilter is loaded: bridged frames must not meet iptables here
            out += ["net.bridge.bridge-nf-call-iptables=0",
                    "net.bridge.bridge-nf-call-ip6tables=0",
                    "net.bridge.bridge-nf-call-arptables=0"]
        return out


@dataclass
class Topology:
    name: str
    prefix: str
    run_dir: str
    switches: dict[str, Switch] = field(default_factory=dict)
    hosts: dict[str, Host] = field(default_factory=dict)
    faults: list[dict] = field(default_factory=list)     # active faults (Fault.to_json())

    def namespaces(self) -> list[str]:
        return [s.ns for s in self.switches.values()] + [h.ns for h in self.hosts.values()]

    def host_ns(self, name: str) -> str:
        return f"{self.prefix}h-{safe_part(name)}"

    def switch_ns(self, segment: str) -> str:
        return f"{self.prefix}s-{safe_part(segment)}"

    def host_with_ip(self, ip: str) -> tuple[Host, Leg] | None:
        for h in self.hosts.values():
            for l in h.legs:
                if ip in l.ips():
                    return h, l
        return None
