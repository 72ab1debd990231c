"""Discovery of the vantage's own segment: who answers ARP (and IPv6 ND).

nmap (`-sn -n -PR`, through python-nmap's PortScanner: one nmap for the whole
segment) does the ARP sweep; python-nmap puts nmap's errors in
scaninfo()['error'] instead of raising, so that is checked. Where nmap cannot
run (missing, failed) a scapy ARP sweep does the same. IPv6 neighbours are
asked with an echo to ff02::1 on the link when the segment declares IPv6
(kept in "neighbours6", beside the IPv4 "hosts"; the device checks judge
both, one station per MAC).
This host's own addresses are never reported.
"""
from __future__ import annotations

import shutil

from netaddr import IPAddress, IPNetwork

from scanner.model import text
from scanner.model.net import norm_mac
from scanner.scan.plan import Plan
from scanner.probes.wire import (Burst, ProbeError, arp_fields, check_nmap, require_l2,
                                 require_privileges, require_up)

NMAP_ARGS = "-sn -n -PR"
SCAPY_LIMIT = 1 << 16          # the fallback sweep refuses anything larger


def nmap_sweep(plan: Plan) -> list[dict]:
    import nmap
    v = plan.vantage
    targets = [n for n in plan.networks4]
    for n in targets:          # every address of a declared network is in scope
        if plan.segment.name != (plan.scope._inv.segment_of(IPNetwork(n)[0]) or plan.segment).name:
            raise ProbeError(text(f"{n} 不属于本网段", f"{n} is not the vantage segment's"))
    args = f"{NMAP_ARGS} -e {v.interface}"
    size = sum(IPNetwork(n).size for n in targets)
    if size > 4096:               # measured: a /16 without a minimum rate did not finish in 9 min
        args += " -T4 --min-rate 5000 --max-retries 1"
    own = sorted(a for a in v.own if ":" not in a)
    if own:
        args += " --exclude " + ",".join(own)
    nm = nmap.PortScanner()
    nm.scan(hosts=" ".join(targets), arguments=args)
    check_nmap(nm)
    hosts = []
    for h in nm.all_hosts():
        addrs = nm[h].get("addresses", {})
        ip = addrs.get("ipv4") or h
        mac = norm_mac(addrs.get("mac"))
        if ip in v.own or (mac and mac in v.own_macs) or not mac:
            continue                      # ourselves (nmap lists the scanner without a MAC)
        if not plan.scope.allows(ip):
            continue
        hosts.append({"ip": ip, "mac": mac, "via": "arp",
                      "vendor": (nm[h].get("vendor") or {}).get(addrs.get("mac"))})
    return hosts


def arp_frames(plan: Plan, ips) -> list[bytes]:
    """Broadcast ARP who-has frames from the vantage (built with struct: fast)."""
    import socket
    import struct
    v = plan.vantage
    mac = bytes.fromhex(v.mac.replace(":", ""))
    me = socket.inet_aton(v.ip)
    head = b"\xff" * 6 + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + me + b"\0" * 6
    out = []
    for ip in ips:
        ip = plan.guard(ip)
        out.append(head + socket.inet_aton(ip))
    return out


def arp_replies(packets, wanted: set[str] | None = None) -> dict[str, set[str]]:
    """ip -> MACs that answered ARP for it (several MACs: a conflict worth keeping)."""
    seen: dict[str, set[str]] = {}
    for p in packets:
        f = arp_fields(p)
        if f is not None and f[0] == 2 and (wanted is None or f[2] in wanted):
            seen.setdefault(f[2], set()).add(f[1])
    return seen


def scapy_sweep(plan: Plan, wait: float = 1.5) -> list[dict]:
    v = plan.vantage
    ips = []
    for n in plan.networks4:
        net = IPNetwork(n)
        if net.size > SCAPY_LIMIT:
            raise ProbeError(text(f"网段 {n} 太大，无法用 scapy 扫描", f"network {n} is too large for the scapy sweep"))
        ips.extend(str(a) for a in (net.iter_hosts() if net.size > 2 else net) if str(a) not in v.own)
    with Burst(v.interface, f"arp and not ether src {v.mac}") as b:
        b.send(arp_frames(plan, ips))
        got = b.collect(wait)
    seen = arp_replies(got, set(ips))
    return [{"ip": ip, "mac": m, "via": "arp"} for ip in sorted(seen, key=IPAddress)
            for m in sorted(seen[ip]) if m not in v.own_macs]


def ipv6_neighbours(plan: Plan, wait: float = 1.0) -> list[dict]:
    """Hosts answering an echo to ff02::1 on the link (link-local and global)."""
    from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
    from scapy.layers.l2 import Ether
    v = plan.vantage
    src = next((a for a in v.ipv6 if a.lower().startswith("fe80")), None)
    if src is None:
        raise ProbeError(text("本机接口没有 IPv6 链路本地地址", "the interface has no IPv6 link-local address"))
    dst = plan.guard("ff02::1")
    nets = [IPNetwork(n) for n in plan.networks6]
    # from the link-local address (neighbours answer from theirs) and from each of
    # our addresses inside the declared IPv6 networks (they answer from their global one)
    srcs = [src] + [a for a in v.ipv6 if any(IPAddress(a) in n for n in nets)]
    frames = [bytes(Ether(src=v.mac, dst="33:33:00:00:00:01") / IPv6(src=s, dst=dst, hlim=255) /
                    ICMPv6EchoRequest(id=0x1505, seq=i, data=b"isoscan")) for i, s in enumerate(srcs)]
    with Burst(v.interface, f"ip6 and not ether src {v.mac}") as b:
        b.send(frames)
        got = b.collect(wait)
    out, seen = [], set()
    for p in got:
        if IPv6 in p and ICMPv6EchoReply in p and p[ICMPv6EchoReply].id == 0x1505:
            ip = p[IPv6].src
            mac = p[Ether].src.lower()
            if ip in v.own or mac in v.own_macs or (ip, mac) in seen:
                continue
            seen.add((ip, mac))
            a = IPAddress(ip)
            out.append({"ip": ip, "mac": mac, "via": "ndp",
                        "scope": "link" if a.is_link_local() else
                        ("segment" if any(a in n for n in nets) else "other")})
    return out


def confirm_round(plan: Plan, wait: float = 0.5) -> dict[str, set[str]]:
    """ARP who-has for every registered address of the segment, listening for
    every answer: nmap keeps one MAC per address (whichever won the reply
    race), and two MACs for one address is exactly what must be seen."""
    v = plan.vantage
    wanted = {c.ip for c in plan.controls}
    if not wanted:
        return {}
    with Burst(v.interface, f"arp and not ether src {v.mac}") as b:
        b.send(arp_frames(plan, sorted(wanted)))
        got = b.collect(wait)
    return {ip: {m for m in macs if m not in v.own_macs}
            for ip, macs in arp_replies(got, wanted).items()}


def probe(plan: Plan, confirm: bool = True) -> dict:
    """The discovery section of the observations. `confirm`: after nmap, an
    ARP round for the registered addresses records every MAC that answers
    (the forwarding listener does this itself when it runs beside discovery)."""
    require_privileges()
    require_up(plan.vantage.interface)
    require_l2(plan.vantage)
    method = "nmap -sn -n -PR"
    notes = []
    if not plan.networks4:
        hosts = []
        method = "none (no IPv4 network)"
    elif shutil.which("nmap"):
        try:
            hosts = nmap_sweep(plan)
        except ProbeError:
            raise
        except Exception as exc:    # nmap missing pieces, XML trouble: the scapy sweep instead
            notes.append(f"nmap failed ({type(exc).__name__}: {exc}); scapy ARP sweep used")
            hosts = scapy_sweep(plan)
            method = "scapy arp"
    else:
        notes.append("nmap not found; scapy ARP sweep used")
        hosts = scapy_sweep(plan)
        method = "scapy arp"
    if confirm and method.startswith("nmap") and plan.controls:
        have = {(h["ip"], h["mac"]) for h in hosts}
        hosts = hosts + [{"ip": ip, "mac": m, "via": "arp", "seen": "confirm"}
                         for ip, macs in sorted(confirm_round(plan).items(),
                                                key=lambda x: IPAddress(x[0]))
                         for m in sorted(macs) if (ip, m) not in have]
    out = {"status": "ok", "error": None, "method": method,
           "networks": list(plan.networks4), "hosts": hosts}
    if confirm or method.startswith("scapy") or not plan.networks4:
        out["every_mac"] = True      # else the forwarding listener records them (every_mac())
    if plan.networks6:
        out["networks6"] = list(plan.networks6)
        try:
            # kept beside "hosts": the device checks judge a neighbour by its MAC
            # first (its link-local and SLAAC addresses are never registered)
            out["neighbours6"] = ipv6_neighbours(plan)
        except ProbeError as exc:
            out["neighbours6_error"] = exc.message
    if notes:
        out["notes"] = notes
    return out
