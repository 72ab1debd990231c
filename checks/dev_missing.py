"""DEV-MISSING: a registered device does not answer (SPEC §4, severity info:
a notice — a workstation that is switched off is no breach)."""
from __future__ import annotations

from checks._livecommon import (conclude, dev_applies, hosts, is_own, dev_gate,
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
    fails, present = [], 0
    for d, i in inv.devices_on(seg.name):
        ip = str(i.ip) if i.ip is not None else None
        if (ip is None and i.mac is None) or is_own(obs, ip, i.mac):
            continue
        if ip in seen_ips or (i.mac is not None and i.mac in seen_macs):
            present += 1
            continue
        fails.append(fail(META, text(
            f"登记设备 {d.name}（{ip or '-'}，{i.mac or '-'}）在网段 {seg.name} 的发现探测中未应答",
            f"registered device {d.name} ({ip or '-'}, {i.mac or '-'}) did not answer "
            f"discovery on {seg.name}"),
            segment=seg.name, subject=Subject(ip=ip, mac=i.mac, device=d.name)))
    if why is not None:
        fails = []   # absence proves nothing while the probes are not shown to work
    yield from conclude(META, seg, fails, why, text(
        f"网段 {seg.name} 登记的 {present} 个设备接口均已应答",
        f"all {present} registered device interfaces of {seg.name} answered"))
