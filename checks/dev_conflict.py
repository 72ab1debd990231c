"""DEV-CONFLICT: more than one station answers for one address (SPEC §4).

A rogue host that takes the address of a registered station while that
station is up makes two MACs answer ARP for one IP. Which reply a scanner
keeps follows the reply race, so discovery records every MAC that answered
(the forwarding listener beside nmap, or an ARP round for the registered
addresses) and this check judges them all: the result is the same whatever
the order the replies came in. One finding per address, naming it, the
registered device and every MAC. Critical on a classified segment, where it
is impersonation of a classified station; high elsewhere.

Proxy ARP answers of a registered router (see DEV-MISMATCH) are not a second
station. A pass needs a discovery that kept every MAC (`every_mac`).
"""
from __future__ import annotations

from scanner.judge.live import (address_conflicts, conclude, dev_applies, dev_gate, hosts,
                                every_mac_problem, join, vantage_segment)
from scanner.model import CheckMeta, Severity, Subject, fail, text

META = CheckMeta(
    id="DEV-CONFLICT",
    severity=Severity.HIGH,
    title=text("多台设备应答同一地址（地址冲突）", "Several stations answer for one address"),
    needs=("discovery",),
    remediation=text(
        "立即查明该地址上的每台设备：未登记的 MAC 很可能在冒用登记设备的地址（仿冒），应断开并调查；"
        "若为配置错误，为其分配唯一地址并登记。",
        "Find every station on this address now: a MAC that is not registered is probably "
        "impersonating the registered device — disconnect it and investigate; if it is a "
        "configuration mistake, give it its own address and register it."),
    description=text(
        "同一 IP 地址有两个或以上 MAC 应答 ARP（或 IPv6 邻居发现）。设备发现记录每个应答的 MAC，"
        "结果与应答先后无关；涉密网段上为严重（冒用涉密设备身份）。",
        "Two or more MACs answer ARP (or IPv6 neighbour discovery) for one IP address. "
        "Discovery records every MAC that answered, so the result does not depend on which "
        "reply came first; critical on a classified segment (impersonation)."),
)


def _finding(seg, c):
    d, reg = c["device"], c["registered_mac"]
    others = [m for m in c["macs"] if m != reg]
    mac = others[0] if d is not None and others else c["macs"][0]
    macs = join(c["macs"], 40)
    if d is not None:
        has = reg in c["macs"]
        zh_reg = f"登记为设备 {d.name}（登记 MAC {reg}）" + ("，登记设备也在应答" if has else "")
        en_reg = f"registered to {d.name} (MAC {reg})" + (", which answered too" if has else "")
    else:
        zh_reg, en_reg = "未登记", "registered to no device"
    lines = [text(f"{len(c['macs'])} 个 MAC 应答地址 {c['ip']}（{zh_reg}）：{macs}",
                  f"{len(c['macs'])} MACs answered for {c['ip']} ({en_reg}): {macs}")]
    if seg.classified:
        lines.append(text("涉密网段上的地址冲突即冒用涉密设备身份",
                          "on a classified segment an address conflict is impersonation of a "
                          "classified station"))
    return fail(META, lines, segment=seg.name,
                severity=Severity.CRITICAL if seg.classified else META.severity,
                subject=Subject(ip=c["ip"], mac=mac, device=d.name if d is not None else None))


def evaluate(inv, obs):
    seg, err = vantage_segment(META, inv, obs)
    if err is not None:
        yield err
        return
    if (skip := dev_applies(META, seg)) is not None:
        yield skip
        return
    seen = hosts(obs)
    found = address_conflicts(inv, seg, seen)
    fails = [_finding(seg, c) for c in found]
    n = len({h["ip"] for h in seen if h.get("ip")})
    yield from conclude(META, seg, fails, dev_gate(obs, *META.needs) or every_mac_problem(obs), text(
        f"网段 {seg.name} 上应答的 {n} 个地址各只有一个 MAC 应答（已记录每个应答）",
        f"each of the {n} addresses that answered on {seg.name} was answered by one MAC "
        f"(every reply recorded)"))
