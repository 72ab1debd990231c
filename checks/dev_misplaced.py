"""DEV-MISPLACED: a registered device answers on a segment other than its own
(SPEC §4).

Severity medium: the device is known and has a custodian, so what this check
measures is the register's accuracy. Where the move crosses an isolation
boundary (a classified device on another network) ISO-BRIDGE reports the same
MAC as a bridge with severity critical, so the breach is not left at medium.
"""
from __future__ import annotations

from checks._livecommon import (conclude, dev_applies, hosts, local_gate, merge_by_subject,
                                reconcile, seen_text, vantage_segment)
from scanner.model import CheckMeta, Severity, Subject, fail, text

META = CheckMeta(
    id="DEV-MISPLACED",
    severity=Severity.MEDIUM,
    title=text("设备出现在非登记网段", "Registered device answers on another segment"),
    needs=("discovery",),
    remediation=text(
        "将设备接回其登记网段，或经审批后更新登记；涉密设备接入其他网络须立即断开并按泄密隐患处置。",
        "Move the device back to its registered segment, or update the register after "
        "approval; a classified device on another network must be disconnected at once "
        "and handled as a potential leak."),
    description=text(
        "以 MAC 或 IP 识别出的已登记设备在其登记网段以外的网段应答。",
        "A device registered (by MAC or IP) on other segments answers on this one."),
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
    fails = []
    for h in seen:
        for d in reconcile(inv, seg, h)["misplaced"]:
            where = ", ".join(d.segments)
            fails.append(fail(META, (seen_text(h), text(
                f"设备 {d.name} 登记于网段 {where}，却在网段 {seg.name} 上应答",
                f"device {d.name} is registered on {where} but answers on {seg.name}")),
                segment=seg.name, subject=Subject(ip=h["ip"], mac=h["mac"], device=d.name)))
    yield from conclude(META, seg, merge_by_subject(fails), local_gate(obs, *META.needs), text(
        f"网段 {seg.name} 上发现的 {len(seen)} 台主机中，没有登记于其他网段的设备",
        f"none of the {len(seen)} hosts seen on {seg.name} is registered on another segment"))
