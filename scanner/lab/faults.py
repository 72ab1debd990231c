"""Seeded faults: each one a real configuration that bends the topology.

| kind             | what is built                                                     |
| ---------------- | ----------------------------------------------------------------- |
| unregistered     | an extra host (named by the fault id) on `segment` at `ip`/`mac`, |
|                  | listening on `tcp`/`udp` ports where given; `sshd: true` runs a    |
|                  | real sshd there (its own host key, IPv4 and IPv6)                  |
| mac-mismatch     | `device`'s leg (on `segment`, default its first) gets `mac`       |
| misplaced        | `device`'s leg (from `from`, default its first) is plugged into  |
|                  | `segment` with `ip` (its registered MAC unless `mac`)             |
| dual-homed       | `device` gets a second NIC on `segment` at `ip`, forwarding on;   |
|                  | `nat: true` masquerades out of that NIC                           |
| second-exit      | `device` gets a "4G modem" leg on the internet (`segment`,        |
|                  | default the first internet segment) at `internet_ip`, forwarding  |
|                  | on, NAT out of it                                                 |
| firewall-hole    | the gateway `device` forwards `tcp`/`udp` ports to `address`, and |
|                  | the host with `address` listens there                             |
| rogue-dhcp       | dnsmasq answering DHCP on `device`'s leg (or a new host on        |
|                  | `segment` at `ip`/`mac`); offers `range`, router, dns             |
| rogue-ra         | radvd advertising `prefix` (default 2001:db8:bad::/64) with a     |
|                  | router `lifetime` (default 1800) on `device` or a new host        |
| silent-forwarder | `device` gets a leg on `segment` at `ip`, forwards without NAT    |
|                  | and drops its outgoing ICMP errors: nothing ever comes back       |
| port-forward     | the gateway `device` forwards `public` (default: its internet-side |
|                  | address) `tcp`/`udp` ports to `to` (port `to_port`, default the    |
|                  | same), DNAT; the host at `to` listens there (a forgotten forward)  |
| gateway-service  | `device` listens on `tcp`/`udp` ports on every address, its public |
|                  | one included (a management service left open to the internet)    |
| address-conflict | a new host (named by the fault id) takes `device`'s IP on         |
|                  | `segment` (default its first leg) with `mac`, while the device is |
|                  | up; `order: first` plugs it into the switch before the device     |
|                  | (default `last`), so either one may win the ARP reply race        |
| proxy-arp        | router `device` answers ARP on its `segment` leg for the network  |
|                  | `elsewhere`, which it routes out of its leg on `via` (default its |
|                  | first other leg): Linux proxy_arp=1, as Cisco IOS by default      |
| second-nic       | `device` gets a second NIC on `segment` at `ip`, forwarding off   |
|                  | (Linux arp_ignore=0: it answers ARP there for all its addresses)  |
| carried-over     | a card of `device` (on `from`) is plugged into `segment`, keeping |
|                  | its addresses (a static configuration): a laptop carried over     |
| blocked-exit     | gateway `device` does not let its leg on `segment` out to the     |
|                  | internet (that segment has no way out)                            |
| two-nic-sshd     | `device` runs a real sshd (one host key, every address) and gets a |
|                  | second NIC on `segment` at `ip`, forwarding off, arp_ignore=1: it  |
|                  | answers ARP on each card for that card's own address only          |
| two-nic-netbios  | the same second card (forwarding off, arp_ignore=1) with a         |
|                  | NetBIOS-like responder answering NBSTAT on every address with      |
|                  | `name` (default the device's name), MAC 00:00:00:00:00:00 as nmbd  |
| two-nic-dhcp     | the same second card (forwarding off, arp_ignore=1); the host asks |
|                  | DHCP on both cards with one DUID (DHCPv6 Solicit, and DHCPv4 with  |
|                  | an RFC 4361 client identifier), as Windows and systemd-networkd do |
| two-nic-snmp     | the same second card; the host runs a real SNMP agent (snmpd) read |
|                  | with `community`, which reports the MACs of all its cards          |
| hostile-station  | a new host on `segment` at `ip`/`mac` answering the identity step  |
|                  | with a 1 MiB SSH banner and no key, a TLS port that trickles, and  |
|                  | NBSTAT names of NULs, controls and bidi characters                |
| cloned-sshd      | each of `devices` runs a real sshd with one shared host key (the   |
|                  | machines of one cloned disk image)                                |
| two-nic-dropbear | the same second card (forwarding off, arp_ignore=1); the host runs |
|                  | a real dropbear (dropbear-bin) on every address with its own     |
|                  | `keys` (default ed25519, ecdsa, rsa): one set of keys on both     |
| ssh-servers      | each of `devices` runs a real SSH `server` (openssh or dropbear)  |
|                  | on every address with host keys of its own, one of each of `keys` |
|                  | (default ed25519, ecdsa, rsa): unrelated hosts, never one host    |
| transfer-mode    | the declared one-way transfer `device` runs in `mode`: filtered   |
|                  | (as without the fault: new UDP flows from->to only), silent (also |
|                  | drops its ICMP errors) or open (forwards everything, NAT out of   |
|                  | its `from` leg, default route: packets cross both ways)           |
| usb-tether       | issue 26: `device` gets a second interface (`ifname`, default     |
|                  | usb0) on a point-to-point link (`net`, default 172.20.10.0/28, an |
|                  | iPhone's) to a NAT'd "phone" (named by the fault id) with a leg   |
|                  | on the internet (`segment`, default the first internet one) at   |
|                  | `internet_ip`; the device's default route goes through the phone  |
| forwarding-on    | issue 26: `device` forwards IPv4 between its interfaces           |
| firewalled-nic   | issue 26: `device` gets a second NIC on `segment` at `ip` whose   |
|                  | firewall drops everything unsolicited (it answers nothing on the  |
|                  | wire) while its own connections go out                            |
"""
from __future__ import annotations

import os

from netaddr import IPAddress, IPNetwork

from scanner.lab.errors import LabError
from scanner.lab.labfile import Fault
from scanner.lab.topology import Host, Leg, Proc, Topology, safe_part
from scanner.model import Inventory

DNSMASQ = "/usr/sbin/dnsmasq"
RADVD = "/usr/sbin/radvd"
DEFAULT_RA_PREFIX = "2001:db8:bad::/64"
SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"


def _device(topo: Topology, f: Fault) -> Host:
    h = topo.hosts.get(f.get("device"))
    if h is None:
        raise LabError(f"fault {f.id}: unknown device {f.get('device')!r} / 未知设备")
    return h


def _segment(inv: Inventory, f: Fault, name: str | None):
    seg = inv.segment(name) if name else None
    if seg is None:
        raise LabError(f"fault {f.id}: unknown segment {name!r} / 未知网段")
    return seg


def _fault_mac(f: Fault, n: int = 0) -> str:
    """A stable, locally administered MAC for a leg a fault adds without `mac:`."""
    import hashlib
    b = hashlib.sha256(f"{f.id}/{n}".encode()).digest()
    return "02:fa:" + ":".join(f"{x:02x}" for x in b[:4])


def _leg_of(h: Host, f: Fault, segment: str | None) -> Leg:
    leg = h.leg_on(segment) if segment else (h.legs[0] if h.legs else None)
    if leg is None:
        raise LabError(f"fault {f.id}: {h.name} has no leg on {segment!r} / 设备不在该网段")
    return leg


def _host_for(topo: Topology, inv: Inventory, f: Fault) -> tuple[Host, Leg]:
    """The existing `device` (its leg on `segment`) or a new host named by the fault id."""
    from scanner.lab.plan import add_leg, new_host
    if f.get("device"):
        h = _device(topo, f)
        return h, _leg_of(h, f, f.get("segment"))
    seg = _segment(inv, f, f.get("segment"))
    h = new_host(topo, f.id, "fault", f.kind)
    return h, add_leg(topo, inv, h, seg.name, f.get("ip"), f.get("mac") or _fault_mac(f),
                      note=f.id)


def unregistered(topo: Topology, inv: Inventory, f: Fault) -> None:
    from scanner.lab.plan import add_leg, new_host
    seg = _segment(inv, f, f.get("segment"))
    h = new_host(topo, f.id, "fault", f.kind)
    add_leg(topo, inv, h, seg.name, f.get("ip"), f.get("mac") or _fault_mac(f), note=f.id)
    h.tcp.update(f.get("tcp") or ())
    h.udp.update(f.get("udp") or ())
    if f.get("sshd"):             # a real sshd with a host key of its own, IPv4 and IPv6
        h.procs.append(sshd_proc(topo, h, f.id, f.id, ipv6=True))


def mac_mismatch(topo: Topology, inv: Inventory, f: Fault) -> None:
    leg = _leg_of(_device(topo, f), f, f.get("segment"))
    leg.mac, leg.note = f.get("mac"), f.id


def misplaced(topo: Topology, inv: Inventory, f: Fault) -> None:
    from scanner.lab.plan import set_leg_address
    h = _device(topo, f)
    leg = _leg_of(h, f, f.get("from"))
    seg = _segment(inv, f, f.get("segment"))
    set_leg_address(leg, seg, f.get("ip"), f"fault {f.id}")
    topo.switches[leg.segment].ports.remove(leg.port)
    leg.segment = seg.name
    leg.port = topo.switches[seg.name].new_port()
    if f.get("mac"):
        leg.mac = f.get("mac")
    leg.note = f.id


def dual_homed(topo: Topology, inv: Inventory, f: Fault) -> None:
    from scanner.lab.plan import add_leg
    h = _device(topo, f)
    seg = _segment(inv, f, f.get("segment"))
    leg = add_leg(topo, inv, h, seg.name, f.get("ip"), f.get("mac") or _fault_mac(f), note=f.id)
    if IPAddress(f.get("ip")).version == 6:
        h.forward6 = True      # a second card on an IPv6 network: it forwards IPv6
    else:
        h.forward4 = True
    if f.get("nat", False):
        h.masquerade.append(leg.ifname)


def second_exit(topo: Topology, inv: Inventory, f: Fault) -> None:
    from scanner.lab.plan import add_leg
    h = _device(topo, f)
    name = f.get("segment") or next((s.name for s in inv.segments if s.is_internet), None)
    seg = _segment(inv, f, name)
    leg = add_leg(topo, inv, h, seg.name, f.get("internet_ip"), f.get("mac") or _fault_mac(f),
                  note=f.id)
    h.forward4 = True
    h.masquerade.append(leg.ifname)


def _host_at(topo: Topology, f: Fault, addr: str) -> Host:
    """The lab host that has address `addr` (a fault's target)."""
    found = topo.host_with_ip(addr)
    if found is None:
        raise LabError(f"fault {f.id}: no lab host has address {addr} / 没有主机使用该地址")
    return found[0]


def firewall_hole(topo: Topology, inv: Inventory, f: Fault) -> None:
    gw = _device(topo, f)
    addr = f.get("address")
    target = _host_at(topo, f, addr)
    v6 = IPAddress(addr).version == 6
    rules = gw.ipt6 if v6 else gw.ipt4
    for proto in ("tcp", "udp"):
        for p in f.get(proto) or ():
            rules.append(f"-A FORWARD -d {addr} -p {proto} --dport {p} -j ACCEPT")
            (target.tcp if proto == "tcp" else target.udp).add(p)


def dnsmasq_proc(topo: Topology, inv: Inventory, h: Host, leg: Leg, tag: str,
                 f: Fault | None = None) -> Proc:
    ip = next((a for a in leg.ips() if IPAddress(a).version == 4), None)
    if ip is None:
        raise LabError(f"{tag}: {h.name} has no IPv4 address on {leg.segment} / 无 IPv4 地址")
    net = IPNetwork(next(a for a in leg.addrs if a.startswith(ip + "/"))).cidr
    rng = (f.get("range") if f else None)
    if not rng:
        if net.size < 64:
            raise LabError(f"{tag}: network {net} is too small for a default range; give `range:`")
        rng = [str(net[-20]), str(net[-11])]
    router = (f.get("router") if f else None) or ip
    dns = (f.get("dns") if f else None) or [ip]
    base = os.path.join(topo.run_dir, f"dhcp-{h.ns}-{leg.ifname}-{safe_part(tag)}")
    argv = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
            "--user=root", "--group=root", f"--interface={leg.ifname}", "--bind-interfaces",
            f"--dhcp-range={rng[0]},{rng[1]},{net.netmask},10m",
            f"--dhcp-option=option:router,{router}",
            "--dhcp-option=option:dns-server," + ",".join(dns),
            f"--dhcp-leasefile={base}.leases", f"--pid-file={base}.pid",
            "--no-ping", "--log-facility=-", "--log-dhcp"]
    return Proc(what=f"dnsmasq {tag} on {h.name}", argv=argv, ready_file=f"{base}.pid")


def rogue_dhcp(topo: Topology, inv: Inventory, f: Fault) -> None:
    h, leg = _host_for(topo, inv, f)
    h.procs.append(dnsmasq_proc(topo, inv, h, leg, f.id, f))


def radvd_proc(topo: Topology, h: Host, leg: Leg, tag: str, prefix: str, lifetime: int) -> Proc:
    base = os.path.join(topo.run_dir, f"radvd-{h.ns}-{leg.ifname}-{safe_part(tag)}")
    conf = (f"interface {leg.ifname} {{\n"
            "  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 10;\n"
            f"  AdvDefaultLifetime {lifetime};\n"
            f"  prefix {prefix} {{ AdvOnLink on; AdvAutonomous on; }};\n"
            "};\n")
    argv = [RADVD, "--nodaemon", "-C", f"{base}.conf", "-p", f"{base}.pid", "-m", "stderr"]
    return Proc(what=f"radvd {tag} on {h.name}", argv=argv, files={f"{base}.conf": conf},
                ready_file=f"{base}.pid")


def rogue_ra(topo: Topology, inv: Inventory, f: Fault) -> None:
    h, leg = _host_for(topo, inv, f)
    h.forward6 = True        # a router, as radvd expects
    lifetime = f.get("lifetime")
    h.procs.append(radvd_proc(topo, h, leg, f.id, f.get("prefix") or DEFAULT_RA_PREFIX,
                              1800 if lifetime is None else lifetime))


def silent_forwarder(topo: Topology, inv: Inventory, f: Fault) -> None:
    from scanner.lab.plan import add_leg
    h = _device(topo, f)
    seg = _segment(inv, f, f.get("segment"))
    add_leg(topo, inv, h, seg.name, f.get("ip"), f.get("mac") or _fault_mac(f), note=f.id)
    h.forward4 = True
    h.drop_icmp_errors = True


def port_forward(topo: Topology, inv: Inventory, f: Fault) -> None:
    from scanner.lab.plan import publish
    gw = _device(topo, f)
    to = f.get("to")
    target = _host_at(topo, f, to)
    public = f.get("public") or next(
        (ip for leg in gw.legs if (s := inv.segment(leg.segment)) is not None and s.is_internet
         for ip in leg.ips() if IPAddress(ip).version == 4), None)
    if public is None:
        raise LabError(f"fault {f.id}: {gw.name} has no IPv4 address on the internet"
                       " / 网关没有互联网侧 IPv4 地址")
    for proto in ("tcp", "udp"):
        for p in f.get(proto) or ():
            publish(gw, public, proto, p, to, f.get("to_port"))
            (target.tcp if proto == "tcp" else target.udp).add(f.get("to_port") or p)


def gateway_service(topo: Topology, inv: Inventory, f: Fault) -> None:
    h = _device(topo, f)
    h.tcp.update(f.get("tcp") or ())
    h.udp.update(f.get("udp") or ())


def address_conflict(topo: Topology, inv: Inventory, f: Fault) -> None:
    from scanner.lab.plan import add_leg, new_host
    owner = _leg_of(_device(topo, f), f, f.get("segment"))
    ip = f.get("ip") or next(iter(owner.ips()), None)
    if ip is None:
        raise LabError(f"fault {f.id}: {f.get('device')} has no address on {owner.segment}"
                       " / 设备在该网段没有地址")
    h = new_host(topo, f.id, "fault", f.kind)
    leg = add_leg(topo, inv, h, owner.segment, ip, f.get("mac"), note=f.id)
    if f.get("order", "last") == "first":
        ports = topo.switches[owner.segment].ports
        ports.remove(leg.port)
        ports.insert(ports.index(owner.port), leg.port)


def proxy_arp(topo: Topology, inv: Inventory, f: Fault) -> None:
    h = _device(topo, f)
    inside = _leg_of(h, f, f.get("segment"))
    out = h.leg_on(f.get("via")) if f.get("via") else next(
        (l for l in h.legs if l is not inside), None)
    if out is None or out is inside:
        raise LabError(f"fault {f.id}: {h.name} needs another leg to route {f.get('elsewhere')}"
                       " out of / 设备需要另一条链路")
    h.proxy_arp = True
    h.extra_routes.append([f.get("elsewhere"), "dev", out.ifname])
    inside.note = f.id


def second_nic(topo: Topology, inv: Inventory, f: Fault) -> None:
    from scanner.lab.plan import add_leg
    h = _device(topo, f)
    seg = _segment(inv, f, f.get("segment"))
    add_leg(topo, inv, h, seg.name, f.get("ip"), f.get("mac") or _fault_mac(f), note=f.id)


def carried_over(topo: Topology, inv: Inventory, f: Fault) -> None:
    """A card of `device` (its leg on `from`, else its first) plugged into
    `segment` with its addresses unchanged: a laptop carried from one room to
    another with a static configuration."""
    h = _device(topo, f)
    leg = _leg_of(h, f, f.get("from"))
    seg = _segment(inv, f, f.get("segment"))
    topo.switches[leg.segment].ports.remove(leg.port)
    leg.segment = seg.name
    leg.port = topo.switches[seg.name].new_port()
    leg.onlink = []
    leg.note = f.id


SSH_KEY_TYPES = ("ed25519", "ecdsa", "rsa")


def _key_types(f: Fault) -> tuple[str, ...]:
    keys = f.get("keys")
    if keys is None:
        return SSH_KEY_TYPES
    if not isinstance(keys, list) or not keys or any(k not in SSH_KEY_TYPES for k in keys):
        raise LabError(f"fault {f.id}: `keys` must be a list of {', '.join(SSH_KEY_TYPES)}"
                       " / 应为密钥类型列表")
    return tuple(keys)


def sshd_proc(topo: Topology, h: Host, tag: str, key_name: str, ipv6: bool = False,
              key_types: tuple[str, ...] = ("ed25519",)) -> Proc:
    """A real sshd (Debian's openssh-server) in h's namespace on port 22 of
    every address, with the host keys `key_name` (one of each of key_types)
    in the lab's run directory, made on first use (hosts that share key_name
    share the keys: the first one to link a key wins, the others read that
    one). No PAM, no login of any kind; the lab kills it at teardown."""
    import shlex
    base = os.path.join(topo.run_dir, f"sshd-{h.ns}-{safe_part(tag)}")
    key = os.path.join(topo.run_dir, f"hostkey-{safe_part(key_name)}")
    opts = ["ListenAddress=0.0.0.0", *(["ListenAddress=::"] if ipv6 else []),
            f"PidFile={base}.pid", "UsePAM=no",
            "PasswordAuthentication=no", "KbdInteractiveAuthentication=no",
            "PubkeyAuthentication=no", "AuthorizedKeysFile=none", "PermitRootLogin=no",
            "MaxStartups=200", "LoginGraceTime=10", "LogLevel=ERROR"]
    q = shlex.quote
    # the ed25519-only form keeps its old file name (labs that share a key by name)
    files = [(t, key if key_types == ("ed25519",) else f"{key}-{t}") for t in key_types]
    make = "".join(f'[ -f {q(path)} ] || {{ {SSH_KEYGEN} -q -t {t} -N "" -C isoscan-lab '
                   f'-f {q(path)}.$$; ln {q(path)}.$$ {q(path)} 2>/dev/null || true; }}; '
                   for t, path in files)
    script = (f"set -e; mkdir -p -m 0755 /run/sshd; {make}"
              f"exec {SSHD} -D -e -f /dev/null " + " ".join(f"-h {q(p)}" for _, p in files) + " "
              + " ".join(f"-o {q(o)}" for o in opts))
    return Proc(what=f"sshd {tag} on {h.name}", argv=["/bin/sh", "-c", script],
                ready_file=f"{base}.pid")


DROPBEAR = "/usr/sbin/dropbear"
DROPBEARKEY = "/usr/bin/dropbearkey"


def dropbear_proc(topo: Topology, h: Host, tag: str,
                  key_types: tuple[str, ...] = SSH_KEY_TYPES) -> Proc:
    """A real dropbear (Debian's dropbear-bin: routers, embedded boards,
    appliances) in h's namespace on port 22 of every address, with host keys
    of its own (one of each of key_types, made at start). No password, no
    forwarding; the lab kills it at teardown."""
    import shlex
    base = os.path.join(topo.run_dir, f"dropbear-{h.ns}-{safe_part(tag)}")
    q = shlex.quote
    keys = [f"{base}.{t}" for t in key_types]
    make = "".join(f"[ -f {q(k)} ] || {DROPBEARKEY} -t {t} -f {q(k)} >/dev/null 2>&1; "
                   for t, k in zip(key_types, keys))
    script = (f"set -e; {make}exec {DROPBEAR} -F -E -s -j -k -p 22 -P {q(base)}.pid "
              + " ".join(f"-r {q(k)}" for k in keys))
    return Proc(what=f"dropbear {tag} on {h.name}", argv=["/bin/sh", "-c", script],
                ready_file=f"{base}.pid")


def _quiet_second_card(topo: Topology, inv: Inventory, f: Fault) -> Host:
    """`device` gets a second card on `segment` at `ip`, forwarding off and
    arp_ignore=1 (each card answers ARP for its own address only): neither
    the forwarding probes nor the ARP claims can see it; only who the host
    says it is joins the two cards."""
    from scanner.lab.plan import add_leg
    h = _device(topo, f)
    seg = _segment(inv, f, f.get("segment"))
    add_leg(topo, inv, h, seg.name, f.get("ip"), f.get("mac") or _fault_mac(f), note=f.id)
    h.arp_ignore = 1
    h.forward4 = h.forward6 = False
    return h


def _helper_proc(topo: Topology, h: Host, what: str, script: str, tag: str,
                 args: list[str]) -> Proc:
    """One of the lab's helper scripts (standard library only, beside this
    file) run in h's namespace, ready once it has written its ready file."""
    import sys
    ready = os.path.join(topo.run_dir, f"ready-{tag}-{h.ns}")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), script)
    return Proc(what=what, argv=[sys.executable, "-I", path, *args, "--ready", ready],
                ready_file=ready)


def two_nic_sshd(topo: Topology, inv: Inventory, f: Fault) -> None:
    h = _quiet_second_card(topo, inv, f)
    h.procs.append(sshd_proc(topo, h, f.id, f.id))


def two_nic_dropbear(topo: Topology, inv: Inventory, f: Fault) -> None:
    h = _quiet_second_card(topo, inv, f)
    h.procs.append(dropbear_proc(topo, h, f.id, _key_types(f)))


def ssh_servers(topo: Topology, inv: Inventory, f: Fault) -> None:
    names, server = f.get("devices"), f.get("server")
    if not isinstance(names, list) or not names:
        raise LabError(f"fault {f.id}: `devices` must be a list of device names / 应为设备名列表")
    if server not in ("openssh", "dropbear"):
        raise LabError(f"fault {f.id}: `server` must be openssh or dropbear / 应为 openssh 或 dropbear")
    types = _key_types(f)
    for name in names:
        h = topo.hosts.get(name)
        if h is None:
            raise LabError(f"fault {f.id}: unknown device {name!r} / 未知设备")
        tag = f"{f.id}-{name}"
        h.procs.append(sshd_proc(topo, h, tag, tag, key_types=types) if server == "openssh"
                       else dropbear_proc(topo, h, tag, types))


def two_nic_netbios(topo: Topology, inv: Inventory, f: Fault) -> None:
    h = _quiet_second_card(topo, inv, f)
    h.procs.append(_helper_proc(topo, h, f"NBSTAT responder {f.id} on {h.name}",
                                "nbstat_responder.py", f"nbstat-{safe_part(f.id)}",
                                ["--name", str(f.get("name") or h.name).upper()]))


SNMPD = "/usr/sbin/snmpd"


def two_nic_snmp(topo: Topology, inv: Inventory, f: Fault) -> None:
    """The same second card; the host runs a real SNMP agent (Debian's snmpd)
    on every address, readable with `community`: it reports every card."""
    import shlex
    h = _quiet_second_card(topo, inv, f)
    base = os.path.join(topo.run_dir, f"snmpd-{h.ns}-{safe_part(f.id)}")
    conf = f"agentaddress udp:161\nsysName {h.name}\nsysLocation isoscan lab\n"
    if f.get("community"):
        conf += f"rocommunity {f.get('community')}\n"
    if f.get("user"):                # SNMPv3: SHA + AES, as the inventory declares it
        conf += (f'createUser {f.get("user")} {f.get("auth") or "SHA"} "{f.get("auth_key")}" '
                 f'AES "{f.get("priv_key")}"\nrouser {f.get("user")} priv\n')
    q = shlex.quote
    script = (f"mkdir -p {q(base)}.persist && SNMP_PERSISTENT_DIR={q(base)}.persist exec {SNMPD} "
              f"-f -Lo -C -c {q(base)}.conf -p {q(base)}.pid -M /nonexistent -I -smux")
    h.procs.append(Proc(what=f"snmpd {f.id} on {h.name}", argv=["/bin/sh", "-c", script],
                        files={f"{base}.conf": conf}, ready_file=f"{base}.pid"))


def two_nic_dhcp(topo: Topology, inv: Inventory, f: Fault) -> None:
    dev = _device(topo, f)
    first = next((l.mac for l in dev.legs if l.mac), None)     # the card the DUID was made from
    h = _quiet_second_card(topo, inv, f)
    h.procs.append(_helper_proc(topo, h, f"DHCP client {f.id} on {h.name}", "dhcp_client.py",
                                f"dhcpc-{safe_part(f.id)}",
                                ["--duid-mac", first or "02:00:00:00:00:01"]))


def hostile_station(topo: Topology, inv: Inventory, f: Fault) -> None:
    from scanner.lab.plan import add_leg, new_host
    seg = _segment(inv, f, f.get("segment"))
    h = new_host(topo, f.id, "fault", f.kind)
    add_leg(topo, inv, h, seg.name, f.get("ip"), f.get("mac") or _fault_mac(f), note=f.id)
    h.procs.append(_helper_proc(topo, h, f"hostile station {f.id}", "hostile_station.py",
                                "hostile", []))


def cloned_sshd(topo: Topology, inv: Inventory, f: Fault) -> None:
    names = f.get("devices")
    if not isinstance(names, list) or not names:
        raise LabError(f"fault {f.id}: `devices` must be a list of device names / 应为设备名列表")
    for name in names:
        h = topo.hosts.get(name)
        if h is None:
            raise LabError(f"fault {f.id}: unknown device {name!r} / 未知设备")
        h.procs.append(sshd_proc(topo, h, f.id, f.id))


def transfer_mode(topo: Topology, inv: Inventory, f: Fault) -> None:
    h = _device(topo, f)
    if not any(t.device == h.name for t in inv.transfers):
        raise LabError(f"fault {f.id}: {h.name} is no declared one-way transfer device"
                       " / 该设备未声明为单向导入设备")
    h.transfer_mode = f.get("mode")


def blocked_exit(topo: Topology, inv: Inventory, f: Fault) -> None:
    h = _device(topo, f)
    h.no_exit.append(_leg_of(h, f, f.get("segment")).ifname)


def usb_tether(topo: Topology, inv: Inventory, f: Fault) -> None:
    from scanner.lab.plan import add_leg, new_host
    from scanner.lab.topology import Leg, Switch
    h = _device(topo, f)
    name = f.get("segment") or next((s.name for s in inv.segments if s.is_internet), None)
    seg = _segment(inv, f, name)
    net = IPNetwork(f.get("net") or "172.20.10.0/28")
    phone_ip, pc_ip = str(net.network + 1), str(net.network + 2)
    link = f"tether-{safe_part(f.id)}"[:40]        # the USB cable: a link of its own
    sw = topo.switches.setdefault(link, Switch(link, topo.switch_ns(link)))
    phone = new_host(topo, f.id, "fault", f.kind)
    for host, ifname, ip, mac in ((h, f.get("ifname") or "usb0", pc_ip, f.get("mac") or _fault_mac(f)),
                                  (phone, "eth0", phone_ip, _fault_mac(f, 1))):
        leg = Leg(ifname=ifname, segment=link, mac=mac, addrs=[f"{ip}/{net.prefixlen}"],
                  note=f.id)
        leg.port = sw.new_port()
        host.legs.append(leg)
    out = add_leg(topo, inv, phone, seg.name, f.get("internet_ip"), _fault_mac(f, 2), note=f.id)
    phone.forward4 = True
    phone.masquerade.append(out.ifname)
    h.extra_routes.append(["default", "via", phone_ip, "dev", f.get("ifname") or "usb0"])


def forwarding_on(topo: Topology, inv: Inventory, f: Fault) -> None:
    _device(topo, f).forward4 = True


def firewalled_nic(topo: Topology, inv: Inventory, f: Fault) -> None:
    from scanner.lab.plan import add_leg
    h = _device(topo, f)
    seg = _segment(inv, f, f.get("segment"))
    leg = add_leg(topo, inv, h, seg.name, f.get("ip"), f.get("mac") or _fault_mac(f), note=f.id)
    h.ipt4 += [f"-A INPUT -i {leg.ifname} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
               f"-A INPUT -i {leg.ifname} -j DROP"]
    h.arp_ignore = 1


APPLY = {
    "unregistered": unregistered,
    "mac-mismatch": mac_mismatch,
    "misplaced": misplaced,
    "dual-homed": dual_homed,
    "second-exit": second_exit,
    "firewall-hole": firewall_hole,
    "rogue-dhcp": rogue_dhcp,
    "rogue-ra": rogue_ra,
    "silent-forwarder": silent_forwarder,
    "port-forward": port_forward,
    "gateway-service": gateway_service,
    "address-conflict": address_conflict,
    "proxy-arp": proxy_arp,
    "second-nic": second_nic,
    "transfer-mode": transfer_mode,
    "carried-over": carried_over,
    "blocked-exit": blocked_exit,
    "two-nic-sshd": two_nic_sshd,
    "two-nic-netbios": two_nic_netbios,
    "hostile-station": hostile_station,
    "two-nic-dhcp": two_nic_dhcp,
    "two-nic-snmp": two_nic_snmp,
    "cloned-sshd": cloned_sshd,
    "usb-tether": usb_tether,
    "forwarding-on": forwarding_on,
    "firewalled-nic": firewalled_nic,
    "two-nic-dropbear": two_nic_dropbear,
    "ssh-servers": ssh_servers,
}


def apply_fault(topo: Topology, inv: Inventory, f: Fault) -> None:
    APPLY[f.kind](topo, inv, f)
