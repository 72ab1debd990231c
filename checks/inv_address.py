"""INV-ADDRESS: a device address lies outside its segment's networks.

Also judged: an IPv4 device address that is its network's network or
broadcast address, an `exposed` service address outside its segment, and a
declared public address (a segment's `public` range, an exposed service's
`public`) that is no public address: in private space, or inside a
classified segment (the internet vantage would probe it as the unit's face).
Integer interval tests, no per-device netaddr work.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from checks._static import subject
from scanner.model import (CheckMeta, Finding, Inventory, Severity, Subject, fail,
                           passed, private_space, text)

META = CheckMeta(
    id="INV-ADDRESS",
    severity=Severity.MEDIUM,
    title=text("设备地址不在所属网段内", "Device address outside its segment"),
    needs=("inventory",),
    remediation=text("更正设备的 IP 地址或所属网段，使地址落在该网段的网络范围内。",
                     "Correct the device's IP address or segment so the address lies in that segment's networks."),
    description=text("登记的地址必须属于登记的网段，否则核查结果无从对照。",
                     "A registered address must lie in its registered segment, or live results cannot be matched."),
)


def _ranges(seg):
    return [(n.version, n.first, n.last, n.prefixlen) for n in seg.networks]


def _problem(ranges, ip) -> str | None:
    v, x = ip.version, ip.value
    for version, first, last, plen in ranges:
        if version == v and first <= x <= last:
            if v == 4 and plen <= 30 and (x == first or x == last):
                return "network" if x == first else "broadcast"
            return None
    return "outside"


def evaluate(inv: Inventory, obs: Mapping[str, Any]) -> Iterator[Finding]:
    ranges = {s.name: _ranges(s) for s in inv.segments}
    seen = bad = 0
    for d in inv.devices:
        for i in d.interfaces:
            if i.ip is None or i.segment not in ranges:
                continue
            seen += 1
            why = _problem(ranges[i.segment], i.ip)
            if why is None:
                continue
            bad += 1
            nets = ", ".join(str(n) for n in inv.segment(i.segment).networks)
            if why == "outside":
                msg = text(f"设备 {d.name} 的地址 {i.ip} 不在网段 {i.segment}（{nets}）内",
                           f"address {i.ip} of device {d.name} is outside segment {i.segment} ({nets})")
            else:
                zh = "网络地址" if why == "network" else "广播地址"
                msg = text(f"设备 {d.name} 的地址 {i.ip} 是网段 {i.segment} 的{zh}",
                           f"address {i.ip} of device {d.name} is the {why} address of segment {i.segment}")
            yield fail(META, msg, segment=i.segment, subject=subject(d, i), location=i.loc or d.loc)
    for s in inv.segments:
        for e in s.exposed:
            inside = e.internal        # a routed address, or where a port forward leads
            if inside is None:
                continue               # a service on the public address itself
            seen += 1
            if _problem(ranges[s.name], inside) == "outside":
                bad += 1
                yield fail(META, text(f"网段 {s.name} 声明暴露的地址 {inside} 不在该网段内",
                                      f"exposed address {inside} is outside segment {s.name}"),
                           segment=s.name, subject=Subject(ip=str(inside)), location=e.loc or s.loc)
    for s in inv.segments:
        publics = [(n.network, str(n), n, s.loc) for n in s.public]
        publics += [(e.public, str(e.public), None, e.loc or s.loc)
                    for e in s.exposed if e.public is not None]
        for first, shown, net, loc in publics:
            seen += 1
            why = _not_public(inv, first, net)
            if why is None:
                continue
            bad += 1
            yield fail(META, text(f"网段 {s.name} 声明的公网地址 {shown} {why['zh-CN']}",
                                  f"public address {shown} of segment {s.name} {why['en']}"),
                       segment=s.name, subject=Subject(ip=str(first)), location=loc)
    if not bad:
        yield passed(META, text(f"{seen} 个地址均在所属网段内",
                                f"{seen} addresses, all inside their segments"))


def _not_public(inv: Inventory, ip, net) -> Any:
    """Why a declared public address (or range) is none, or None."""
    ends = (ip,) if net is None else (net.network, net.broadcast or net.network)
    if any(private_space(a) for a in ends):
        return text("位于私有地址空间，不是公网地址", "lies in private address space: it is no public address")
    for seg in inv.segments:
        if seg.classified and any(n.version == ip.version and (
                ip in n if net is None else (net in n or n in net)) for n in seg.networks):
            return text(f"与涉密网段 {seg.name} 重叠", f"overlaps the classified segment {seg.name}")
    return None
