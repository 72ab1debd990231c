"""Inventory + lab section + chosen faults -> Topology (pure, no I/O).

The rules, in the order they are applied:

1. every segment is a switch (a bridge in its own namespace);
2. every device and every canary is a host with one leg per interface,
   declared IP and MAC; a canary listens on its TCP/UDP ports;
3. the faults bend this (faults.py);
4. routes: a host whose first leg is on a non-classified segment with an
   ingress routes by default via the ingress's address there; a host whose
   first leg is on the internet reaches a non-classified segment's IPv6 and
   public IPv4 networks via that segment's ingress, but its private IPv4
   networks only where the lab says `internet_routes: true` (no real uplink
   routes private space into a unit); classified hosts get no default route;
5. every ingress (and every device of kind gateway) forwards, with a policy
   derived from the inventory: its non-classified legs may go out of its
   internet leg (NAT), the internet may reach only the `exposed` services
   (a `public` one by a port forward, DNAT, on the ingress), nothing else is
   forwarded; every declared one-way transfer device forwards
   new UDP flows from its `from` leg to its `to` leg and nothing else, and
   has no default route (fault kind transfer-mode: `silent` also drops its
   ICMP errors, `open` forwards everything, NATs out of its `from` leg and
   routes by default via the `from` segment's ingress);
6. listeners: `lab.services`, the `exposed` services, the canaries' ports;
   a DHCP server on each declared `dhcp_servers` address that a lab host has,
   and radvd on each declared `ipv6_routers` address (or the link-local
   address of a host's MAC) on that segment.
"""
from __future__ import annotations

import os
import sys
from typing import Iterable, Sequence

from netaddr import IPAddress, IPNetwork

from scanner.lab.errors import LabError
from scanner.lab.labfile import Fault, LabSpec
from scanner.lab.topology import Host, Leg, Switch, Topology, prefix_for
from scanner.model import Inventory, Segment, private_space

LISTENER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "listener.py")


def segment_net_for(seg: Segment, ip: str) -> IPNetwork | None:
    a = IPAddress(ip)
    return next((n for n in seg.networks if n.version == a.version and a in n), None)


def add_leg(topo: Topology, inv: Inventory, host: Host, segment: str, ip: str | None,
            mac: str | None, note: str = "") -> Leg:
    """A new leg of `host` on `segment` (the address gets the segment's prefix)."""
    seg = inv.segment(segment)
    if seg is None:
        raise LabError(f"{host.name}: unknown segment {segment!r} / 未知网段")
    same = next((l for l in host.legs if l.segment == segment and mac and l.mac == mac
                 and ip is not None and l.addrs), None)
    if same is not None and IPAddress(ip).version not in {IPAddress(a).version for a in same.ips()}:
        # dual stack: one card, an IPv4 and an IPv6 interface entry with the same MAC
        add_leg_address(same, seg, ip, host.name)
        return same
    leg = Leg(ifname=host.next_ifname(), segment=segment, mac=mac, note=note)
    set_leg_address(leg, seg, ip, host.name)
    leg.port = topo.switches[segment].new_port()
    host.legs.append(leg)
    return leg


def set_leg_address(leg: Leg, seg: Segment, ip: str | None, who: str) -> None:
    leg.addrs, leg.onlink = [], []
    if ip is None:
        return
    net = segment_net_for(seg, ip)
    if net is None:
        raise LabError(f"{who}: address {ip} lies outside segment {seg.name} / 地址不在网段内")
    leg.addrs.append(f"{ip}/{net.prefixlen}")
    leg.onlink = [str(n.cidr) for n in seg.networks
                  if n.version == net.version and n.cidr != net.cidr]


def add_leg_address(leg: Leg, seg: Segment, ip: str, who: str) -> None:
    """A second address (the other IP version) on an existing leg."""
    net = segment_net_for(seg, ip)
    if net is None:
        raise LabError(f"{who}: address {ip} lies outside segment {seg.name} / 地址不在网段内")
    leg.addrs.append(f"{ip}/{net.prefixlen}")
    have = {IPNetwork(a).cidr for a in leg.addrs}
    leg.onlink = [str(n.cidr) for n in seg.networks
                  if any(n.version == IPAddress(a).version for a in leg.ips()) and n.cidr not in have]


def new_host(topo: Topology, name: str, role: str, kind: str) -> Host:
    if name in topo.hosts:
        raise LabError(f"host name {name!r} is used twice (device, canary or fault id)"
                       " / 主机名重复")
    h = Host(name=name, ns=topo.host_ns(name), role=role, kind=kind)
    topo.hosts[name] = h
    return h


def base_topology(inv: Inventory, spec: LabSpec, name: str, run_dir: str) -> Topology:
    topo = Topology(name=name, prefix=prefix_for(name), run_dir=run_dir)
    for seg in inv.segments:
        topo.switches[seg.name] = Switch(seg.name, topo.switch_ns(seg.name))
    for d in inv.devices:
        h = new_host(topo, d.name, "device", d.kind)
        for itf in d.interfaces:
            add_leg(topo, inv, h, itf.segment, str(itf.ip) if itf.ip is not None else None,
                    itf.mac)
    internet = [s for s in inv.segments if s.is_internet]
    for c in inv.canaries:
        seg = inv.segment_of(c.address)
        if seg is None:
            if not internet:
                raise LabError(f"canary {c.name}: no internet segment to put it on"
                               " / 没有互联网网段")
            raise LabError(f"canary {c.name}: {c.address} lies in no declared segment"
                           " / 金丝雀地址不在任何网段")
        h = new_host(topo, c.name, "canary", "canary")
        add_leg(topo, inv, h, seg.name, str(c.address), None)
        h.tcp.update(c.tcp)
        h.udp.update(c.udp)
    for s in spec.services:
        h = topo.hosts.get(s.device)
        if h is None:
            raise LabError(f"lab.services: unknown device {s.device!r} / 未知设备")
        h.tcp.update(s.tcp)
        h.udp.update(s.udp)
    for seg in inv.segments:
        for e in seg.exposed:
            # who serves it: the routed address, the forward's target, or the
            # holder of the public address itself
            found = topo.host_with_ip(str(e.internal if e.internal is not None else e.probed))
            if found:
                found[0].tcp.update([e.to_port] if e.to_port and e.tcp else e.tcp)
                found[0].udp.update([e.to_port] if e.to_port and e.udp else e.udp)
    return topo


def publish(gw: Host, public: str, proto: str, port: int, to: str, to_port: int | None) -> None:
    """A port forward on gateway `gw`: public:port -> to:to_port (DNAT), and
    the forwarding of exactly the connections so translated."""
    dst = f"{to}:{to_port}" if to_port else to
    gw.dnat.append(f"-A PREROUTING -d {public}/32 -p {proto} --dport {port} "
                   f"-j DNAT --to-destination {dst}")
    gw.ipt4.append(f"-A FORWARD -d {to}/32 -p {proto} --dport {to_port or port} "
                   "-m conntrack --ctstate DNAT -j ACCEPT")


def ingress_of(inv: Inventory, segment: str) -> str | None:
    seg = inv.segment(segment)
    return seg.ingress if seg is not None and not seg.classified else None


def _first_addr(leg: Leg | None, version: int) -> str | None:
    if leg is None:
        return None
    return next((ip for ip in leg.ips() if IPAddress(ip).version == version), None)


def routed_in(net: IPNetwork, spec: LabSpec | None) -> bool:
    """Whether the lab's internet side has a route into a network of the unit:
    IPv6 (routed, no NAT), a public IPv4 network (a unit without NAT), or a
    private one only where the lab file says `internet_routes: true`."""
    if net.version == 6:
        return True
    if spec is not None and spec.internet_routes:
        return True
    return not private_space(net.network)


def _on_link(leg: Leg, ip: str) -> bool:
    """Whether ip lies in a network of one of the leg's addresses (a card
    carried over keeps addresses its new segment's gateway is not among)."""
    return any(IPAddress(ip) in IPNetwork(a) for a in leg.addrs) or \
        any(IPAddress(ip) in IPNetwork(n) for n in leg.onlink)


def derive_routes(topo: Topology, inv: Inventory, spec: LabSpec | None = None) -> None:
    for h in topo.hosts.values():
        h.routes = []
        if not h.legs:
            continue
        have_default = {4: False, 6: False}
        if h.transfer_mode in ("filtered", "silent"):
            continue                 # a one-way transfer device routes nowhere else
        # default via the ingress of the first non-classified segment a leg is on
        for leg in h.legs:
            seg = inv.segment(leg.segment)
            ing = ingress_of(inv, leg.segment)
            if seg is None or seg.classified or seg.is_internet or not ing or ing == h.name:
                continue
            gw_host = topo.hosts.get(ing)
            gw_leg = gw_host.leg_on(leg.segment) if gw_host else None
            for v in (4, 6):
                via = _first_addr(gw_leg, v)
                if via and not have_default[v] and _first_addr(leg, v) and _on_link(leg, via):
                    h.routes.append(["::/0" if v == 6 else "default", "via", via,
                                     "dev", leg.ifname])
                    have_default[v] = True
        # internet hosts reach the non-classified segments through their ingress
        first = inv.segment(h.legs[0].segment)
        if first is not None and first.is_internet:
            mine = {l.segment for l in h.legs}
            for seg in inv.segments:
                if seg.classified or seg.is_internet or not seg.ingress or seg.name in mine:
                    continue
                if seg.ingress == h.name:
                    continue
                gw_host = topo.hosts.get(seg.ingress)
                gw_leg = gw_host.leg_on(first.name) if gw_host else None
                for net in seg.networks:
                    if not routed_in(net, spec):
                        continue         # the internet has no route into private space
                    via = _first_addr(gw_leg, net.version)
                    if via and _first_addr(h.legs[0], net.version):
                        h.routes.append([str(net.cidr), "via", via, "dev", h.legs[0].ifname])


def derive_gateways(topo: Topology, inv: Inventory) -> None:
    """Forwarding and the firewall policy of every ingress / gateway device."""
    ingresses = {s.ingress for s in inv.segments if s.ingress and not s.classified}
    for d in inv.devices:
        if d.kind == "gateway" or d.name in ingresses:
            h = topo.hosts[d.name]
            h.gateway = True
            h.forward4 = True
            h.forward6 = any(IPAddress(a).version == 6 for l in h.legs for a in l.ips())
    for h in topo.hosts.values():
        if not h.gateway:
            continue
        inside = [l for l in h.legs
                  if (s := inv.segment(l.segment)) and not s.classified and not s.is_internet]
        outside = [l for l in h.legs if (s := inv.segment(l.segment)) and s.is_internet]
        rules = [
            "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
        ]
        for i in inside:
            if i.ifname in h.no_exit:
                continue              # fault blocked-exit: this segment's way out is shut
            for o in outside:
                rules.append(f"-A FORWARD -i {i.ifname} -o {o.ifname} -j ACCEPT")
        for i in inside:
            seg = inv.segment(i.segment)
            for e in seg.exposed:
                if e.public is not None:
                    if e.to is not None and e.public.version == 4 and h.name == seg.ingress:
                        for proto, ports in (("tcp", e.tcp), ("udp", e.udp)):
                            for p in ports:
                                publish(h, str(e.public), proto, p, str(e.to), e.to_port)
                    continue
                if e.address.version != 4:
                    continue
                for o in outside:
                    for p in e.tcp:
                        rules.append(f"-A FORWARD -i {o.ifname} -o {i.ifname} -d {e.address}/32"
                                     f" -p tcp --dport {p} -j ACCEPT")
                    for p in e.udp:
                        rules.append(f"-A FORWARD -i {o.ifname} -o {i.ifname} -d {e.address}/32"
                                     f" -p udp --dport {p} -j ACCEPT")
        h.ipt4 = rules + h.ipt4        # faults may have added holes already
        if h.forward6:
            # the same policy for IPv6, routed without NAT (the lab's internet
            # side has routes back to the non-classified segments)
            rules6 = ["-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"]
            for i in inside:
                for o in outside:
                    rules6.append(f"-A FORWARD -i {i.ifname} -o {o.ifname} -j ACCEPT")
            for i in inside:
                for e in inv.segment(i.segment).exposed:
                    if e.address is None or e.address.version != 6:
                        continue
                    for o in outside:
                        for proto, ports in (("tcp", e.tcp), ("udp", e.udp)):
                            for p in ports:
                                rules6.append(f"-A FORWARD -i {o.ifname} -o {i.ifname} "
                                              f"-d {e.address}/128 -p {proto} --dport {p} -j ACCEPT")
            h.ipt6 = rules6 + h.ipt6
        h.masquerade += [o.ifname for o in outside if inside]


def derive_transfers(topo: Topology, inv: Inventory) -> None:
    """The firewall of every declared one-way transfer device (rule 5)."""
    for t in inv.transfers:
        h = topo.hosts.get(t.device)
        if h is None:
            continue
        src, dst = h.leg_on(t.from_segment), h.leg_on(t.to_segment)
        if src is None or dst is None:
            continue
        h.transfer_mode = h.transfer_mode or "filtered"
        h.forward4 = True
        if h.transfer_mode == "open":
            h.masquerade.append(src.ifname)
            continue
        h.ipt4.append(f"-A FORWARD -i {src.ifname} -o {dst.ifname} -p udp "
                      "-m conntrack --ctstate NEW -j ACCEPT")
        h.drop_icmp_errors = h.drop_icmp_errors or h.transfer_mode == "silent"


def render_iptables(h: Host, v6: bool) -> str | None:
    """iptables-restore input for a host, or None when it needs no rules."""
    rules = h.ipt6 if v6 else h.ipt4
    drop_out = []
    if h.drop_icmp_errors:
        if v6:
            drop_out = ["-A OUTPUT -p ipv6-icmp --icmpv6-type destination-unreachable -j DROP",
                        "-A OUTPUT -p ipv6-icmp --icmpv6-type time-exceeded -j DROP"]
        else:
            drop_out = ["-A OUTPUT -p icmp --icmp-type destination-unreachable -j DROP",
                        "-A OUTPUT -p icmp --icmp-type time-exceeded -j DROP"]
    masq = [] if v6 else [f"-A POSTROUTING -o {i} -j MASQUERADE" for i in h.masquerade]
    dnat = [] if v6 else list(h.dnat)
    fwd_policy = "DROP" if h.gateway or h.transfer_mode in ("filtered", "silent") else "ACCEPT"
    if not (rules or drop_out or masq or dnat or fwd_policy == "DROP"):
        return None
    lines = ["*filter", ":INPUT ACCEPT [0:0]", f":FORWARD {fwd_policy} [0:0]",
             ":OUTPUT ACCEPT [0:0]", *rules, *drop_out, "COMMIT"]
    if masq or dnat:
        lines += ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]",
                  ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]", *dnat, *masq, "COMMIT"]
    return "\n".join(lines) + "\n"


def hits_file(run_dir: str, ns: str) -> str:
    return os.path.join(run_dir, f"hits-{ns}.jsonl")


def listener_proc(topo: Topology, h: Host):
    from scanner.lab.topology import Proc
    ready = os.path.join(topo.run_dir, f"ready-listen-{h.ns}")
    argv = [sys.executable, "-I", LISTENER, "--name", h.name, "--ready", ready,
            "--log", hits_file(topo.run_dir, h.ns)]
    if h.tcp:
        argv += ["--tcp", ",".join(str(p) for p in sorted(h.tcp))]
    if h.udp:
        argv += ["--udp", ",".join(str(p) for p in sorted(h.udp))]
    return Proc(what=f"listener {h.name}", argv=argv, ready_file=ready)


def declared_router(topo: Topology, segment: str, ip: str):
    """The host and leg on `segment` with IPv6 address ip (declared, or the
    link-local address its MAC gives), or None."""
    from netaddr import EUI
    want = IPAddress(ip)
    for h in topo.hosts.values():
        for leg in h.legs:
            if leg.segment != segment:
                continue
            if any(IPAddress(a) == want for a in leg.ips()):
                return h, leg
            if leg.mac and EUI(leg.mac).ipv6_link_local() == want:
                return h, leg
    return None


def derive_processes(topo: Topology, inv: Inventory) -> None:
    from scanner.lab import faults as F
    for seg in inv.segments:
        for ip in seg.dhcp_servers or ():
            found = topo.host_with_ip(str(ip))
            if found and found[1].segment == seg.name:
                h, leg = found
                h.procs.append(F.dnsmasq_proc(topo, inv, h, leg, f"declared-dhcp-{seg.name}"))
        for ip in seg.ipv6_routers or ():
            found = declared_router(topo, seg.name, str(ip))
            if found:
                h, leg = found
                h.forward6 = True
                prefix = next((str(n.cidr) for n in seg.networks
                               if n.version == 6 and n.prefixlen == 64), F.DEFAULT_RA_PREFIX)
                h.procs.append(F.radvd_proc(topo, h, leg, f"declared-router-{seg.name}",
                                            prefix, 1800))
    for h in topo.hosts.values():
        if h.tcp or h.udp:
            h.procs.insert(0, listener_proc(topo, h))


def select_faults(spec: LabSpec, chosen: Sequence[str] | None) -> list[Fault]:
    if chosen is None:
        return list(spec.faults)
    known = {f.id for f in spec.faults}
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise LabError(f"unknown fault id(s): {', '.join(unknown)}; declared: "
                       f"{', '.join(sorted(known)) or 'none'} / 未声明的故障")
    return [f for f in spec.faults if f.id in set(chosen)]


def plan(inv: Inventory, spec: LabSpec, *, name: str | None = None,
         faults: Sequence[str] | None = None, run_root: str | None = None) -> Topology:
    from scanner.lab.faults import apply_fault
    name = name or spec.name
    run_root = run_root or os.environ.get("ISOSCAN_LAB_RUN", "/run/isoscan-lab")
    topo = base_topology(inv, spec, name, os.path.join(run_root, name))
    for f in select_faults(spec, faults):
        apply_fault(topo, inv, f)
        topo.faults.append(f.to_json())
    derive_gateways(topo, inv)
    derive_transfers(topo, inv)
    derive_routes(topo, inv, spec)
    derive_processes(topo, inv)
    check_vantages(topo, inv)
    return topo


def check_vantages(topo: Topology, inv: Inventory) -> None:
    for f in topo.faults:
        for e in f["expect"]:
            d = inv.device(e["vantage"])
            if d is not None and str(e.get("check", "")).startswith("HOST-"):
                continue          # issue 26: a HOST-* check is seen from inside the device
            if d is None or d.kind != "probe":
                raise LabError(f"fault {f['id']}: expect.vantage {e['vantage']!r} is not a device"
                               " of kind probe / 观测点须为 probe 设备")
