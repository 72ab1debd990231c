"""DEV-MISSING: a registered device does not answer (SPEC §4, severity info:
a notice — a workstation that is switched off is no breach)."""
from __future__ import annotations

from scanner.judge.live import (conclude, dev_applies, hosts, is_own, dev_gate,
                                vantage_segment)
from scanner.model import CheckMeta, Severity, Subject, fail, text

META = CheckMeta(
    id="DEV-MISSING",
    severity=Severity.INFO,
    title=text("登记设备未应答", "Registered device did not answer"),
    needs=("discovery",),
    remediation=text(
        "核实设备状态（关机、维修、报废、迁移），并相应更新设备登记。",
        "Find out why (switched off, in repair, retired, moved) and update the register."),
    description=text(
        "本网段登记的设备在发现探测中未应答。仅为提示：结论为“失败”但级别为 info，不影响合规结论。",
        "A device registered on the vantage's segment did not answer discovery. A notice: "
        "status fail with severity info, which does not make the verdict non-compliant."),
)


def evaluate(inv, obs):
    seg, err = vantage_segment(META, inv, obs)
    if err is not None:
        yield err
        return
    if (skip := dev_applies(META, seg)) is not None:
        yield skip
        return
    why = dev_gate(obs, *META.needs)
    seen = hosts(obs)
    seen_ips = {h["ip"] for h in seen}
    seen_macs = {h["mac"] for h in seen}
    # one finding per card: a dual-stack card is one interface entry per
    # address with the same MAC, and is one device that did not answer
    cards: dict[tuple, tuple] = {}
    present = 0
    for d, i in inv.devices_on(seg.name):
        ip = str(i.ip) if i.ip is not None else None
        if (ip is None and i.mac is None) or is_own(obs, ip, i.mac):
            continue
        if ip in seen_ips or (i.mac is not None and i.mac in seen_macs):
            present += 1
            continue
        key = (d.name, i.mac) if i.mac is not None else (d.name, ip)
        cards.setdefault(key, (d, i.mac, []))[2].append(ip)
    fails = []
    for d, mac, ips in cards.values():
        ips = [ip for ip in ips if ip] or [None]
        shown = "，".join(ip or "-" for ip in ips), ", ".join(ip or "-" for ip in ips)
        fails.append(fail(META, text(
            f"登记设备 {d.name}（{shown[0]}，{mac or '-'}）在网段 {seg.name} 的发现探测中未应答",
            f"registered device {d.name} ({shown[1]}, {mac or '-'}) did not answer "
            f"discovery on {seg.name}"),
            segment=seg.name, subject=Subject(ip=ips[0], mac=mac, device=d.name)))
    if why is not None:
        fails = []   # absence proves nothing while the probes are not shown to work
    yield from conclude(META, seg, fails, why, text(
        f"网段 {seg.name} 登记的 {present} 个设备接口均已应答",
        f"all {present} registered device interfaces of {seg.name} answered"))
