"""DEV-UNREGISTERED: an address or hardware address answers that the
inventory does not know (SPEC §4).

IPv4 stations (ARP) and IPv6 neighbours (ND) are judged alike: a seen entry
is unregistered when neither its address nor its MAC is registered (an IPv6
link-local address is never registered, so a neighbour whose MAC is
registered is known whatever its link-local address). One finding per
station (MAC), naming every address it answered from, IPv4 first — so an
IPv6-only laptop is found, and a dual-stack one is reported once.
"""
from __future__ import annotations

from scanner.judge.live import (conclude, dev_applies, dev_gate, host_label, hosts, join,
                                reconcile, seen_text, stations, vantage_segment)
from scanner.model import CheckMeta, Severity, Subject, fail, text

META = CheckMeta(
    id="DEV-UNREGISTERED",
    severity=Severity.HIGH,
    title=text("网段上存在未登记设备", "Unregistered device on the segment"),
    needs=("discovery",),
    remediation=text(
        "查明该设备的归属：属于本单位的，按规定登记（资产编号、责任人、IP 与 MAC）；"
        "不属于的，立即断开并调查其接入途径。",
        "Identify the device: if it belongs to the unit, register it (asset tag, "
        "custodian, IP and MAC); if not, disconnect it and investigate how it got on."),
    description=text(
        "将本网段发现的主机（ARP 与 IPv6 邻居发现）与设备清单比对：IP 与 MAC 均未登记的主机即未登记设备，"
        "每个 MAC 一条结论，列出其全部地址。",
        "Compares the hosts discovered on the vantage's segment (ARP and IPv6 neighbour "
        "discovery) with the inventory: a host whose IP and MAC are both unknown is an "
        "unregistered device; one finding per MAC, naming all its addresses."),
)


def evaluate(inv, obs):
    seg, err = vantage_segment(META, inv, obs)
    if err is not None:
        yield err
        return
    if (skip := dev_applies(META, seg)) is not None:
        yield skip
        return
    seen = hosts(obs)
    unknown = [h for h in seen if reconcile(inv, seg, h)["unregistered"]]
    fails = [fail(META, (*(seen_text(h) for h in st["entries"]), _why(st)),
                  segment=seg.name, subject=Subject(ip=st["ip"], mac=st["mac"]))
             for st in stations(unknown)]
    yield from conclude(META, seg, fails, dev_gate(obs, *META.needs), text(
        f"网段 {seg.name} 上发现的 {len(seen)} 台主机均已登记",
        f"all {len(seen)} hosts seen on {seg.name} are registered"))


def _why(st):
    if len(st["ips"]) <= 1:
        label = host_label(st["ip"], st["mac"])
        return text(f"{label} 的 IP 与 MAC 均未在设备清单中登记",
                    f"neither the IP nor the MAC of {label} is in the inventory")
    ips = join(st["ips"])
    if not st["mac"]:
        return text(f"地址 {ips} 均未在设备清单中登记", f"none of the addresses {ips} is in the inventory")
    return text(f"MAC {st['mac']} 及其应答地址 {ips} 均未在设备清单中登记",
                f"neither the MAC {st['mac']} nor any of its addresses ({ips}) is in the inventory")
