"""DEV-MISMATCH: a registered address answers with another hardware address
than registered, or a registered hardware address from another address
(SPEC §4).

Two situations are told apart from a mismatch:
* proxy ARP: a registered router, gateway or firewall answering ARP for
  addresses it does not own and nobody on the segment is registered at (it
  routes them elsewhere; Cisco IOS's default). Those addresses are no devices:
  one finding names the router and lists them -- a notice (severity info) on
  a non-classified segment; on a classified segment, where nothing routes, it
  stays a failing finding (high) that says what it is;
* an address conflict: the registered MAC answered for the address too, so
  the other MAC is a second station on the same address -- DEV-CONFLICT's.
"""
from __future__ import annotations

from scanner.judge.live import (address_conflicts, conclude, dev_applies, host_label, hosts,
                                dev_gate, merge_by_station, proxy_answers, reconcile,
                                ranges, seen_text, vantage_segment)
from scanner.model import CheckMeta, Severity, Subject, fail, text

META = CheckMeta(
    id="DEV-MISMATCH",
    severity=Severity.HIGH,
    title=text("设备地址与登记不符", "Device answers with other addresses than registered"),
    needs=("discovery",),
    remediation=text(
        "核实该地址上的设备：若为登记设备更换了网卡或地址，更新登记；"
        "否则可能是地址冒用（仿冒 IP 或 MAC），应断开并调查。",
        "Check the device at this address: if a registered device changed its card "
        "or address, update the register; otherwise the address may be spoofed — "
        "disconnect it and investigate."),
    description=text(
        "已登记的 IP 以其他 MAC 应答，或已登记的 MAC 以同一协议族的其他 IP 应答。",
        "A registered IP answers with another MAC than registered, or a registered "
        "MAC answers from another IP of the same family."),
)


def _why(d, i, kind, h):
    seen = host_label(h["ip"], h["mac"])
    if kind == "mac":
        return text(f"{i.ip} 登记为设备 {d.name} 的地址，登记 MAC 为 {i.mac}，实际应答 MAC 为 {h['mac']}",
                    f"{i.ip} is registered to {d.name} with MAC {i.mac}, but {seen} answered")
    return text(f"MAC {i.mac} 登记为设备 {d.name}，登记 IP 为 {i.ip}，实际从 {h['ip']} 应答",
                f"MAC {i.mac} is registered to {d.name} at {i.ip}, but answered from {h['ip']}")


def _proxy_finding(seg, mac, p):
    d, i, ips = p["device"], p["interface"], p["ips"]
    me = host_label(str(i.ip) if i.ip is not None else None, mac)
    lines = [text(
        f"代理 ARP：{d.kind} {d.name}（{me}）对 {len(ips)} 个不属于它、且本网段无设备登记的地址应答 ARP：{ranges(ips)}",
        f"proxy ARP: {d.kind} {d.name} ({me}) answered ARP for {len(ips)} addresses it does not "
        f"own and no device on {seg.name} is registered at: {ranges(ips)}")]
    if seg.classified:
        lines.append(text(
            "涉密网段内不应有路由转发：该设备代答其他地址，说明它为本网段以外的地址提供路由，须查明",
            "nothing routes on a classified segment: a station answering for addresses it does not "
            "own there routes them elsewhere, which must be explained"))
        sev = Severity.HIGH
    else:
        lines.append(text("这些地址不是设备（路由器的默认代理 ARP，如 Cisco IOS 的 ip proxy-arp）；"
                          "仅作提示，不计为违规",
                          "these addresses are no devices (a router's proxy ARP, as Cisco IOS's "
                          "default `ip proxy-arp`); a notice, not a breach"))
        sev = Severity.INFO
    return fail(META, lines, severity=sev, segment=seg.name,
                subject=Subject(ip=str(i.ip) if i.ip is not None else None, mac=mac,
                                device=d.name))


def evaluate(inv, obs):
    seg, err = vantage_segment(META, inv, obs)
    if err is not None:
        yield err
        return
    if (skip := dev_applies(META, seg)) is not None:
        yield skip
        return
    seen = hosts(obs)
    proxy = proxy_answers(inv, seg, seen)
    conflicted = {c["ip"] for c in address_conflicts(inv, seg, seen)
                  if c["registered_mac"] in c["macs"]}
    fails = [_proxy_finding(seg, mac, p) for mac, p in proxy.items()]
    for h in seen:
        if h["mac"] in proxy and h["ip"] in proxy[h["mac"]]["ips"]:
            continue
        wrong = [(d, i, k) for d, i, k in reconcile(inv, seg, h)["mismatch"]
                 if not (k == "mac" and h["ip"] in conflicted)]
        if wrong:
            fails.append(fail(
                META, (seen_text(h), *(_why(d, i, k, h) for d, i, k in wrong)),
                segment=seg.name,
                subject=Subject(ip=h["ip"], mac=h["mac"], device=wrong[0][0].name)))
    yield from conclude(META, seg, merge_by_station(fails), dev_gate(obs, *META.needs), text(
        f"网段 {seg.name} 上发现的 {len(seen)} 台主机中，已登记者的 IP 与 MAC 均与登记一致",
        f"of the {len(seen)} hosts seen on {seg.name}, every registered one answered "
        f"with its registered IP and MAC"))
