"""DEV-MISPLACED: a registered device answers on a segment other than its own
(SPEC §4).

Severity medium: the device is known and has a custodian, so what this check
measures is the register's accuracy — unless the move crosses an isolation
boundary (a classified device answering on another network, or another
network's device on a classified one): that finding is critical, because the
device now joins networks that must be physically isolated.

A moved device is seen on one segment only, so it is not ISO-BRIDGE (one host
seen on two isolated segments at once); the report joins the bundles of
several vantages for that.
"""
from __future__ import annotations

from scanner.judge.live import (conclude, dev_applies, hosts, dev_gate, merge_by_station,
                                must_isolate, reconcile, seen_text, vantage_segment)
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
            evidence = [seen_text(h), text(
                f"设备 {d.name} 登记于网段 {where}，却在网段 {seg.name} 上应答",
                f"device {d.name} is registered on {where} but answers on {seg.name}")]
            crossed = [s for s in d.segments if must_isolate(inv.segment(s), seg)]
            if crossed:
                evidence.append(text(
                    f"网段 {', '.join(crossed)} 与 {seg.name} 必须物理隔离：该设备已跨越隔离边界",
                    f"{', '.join(crossed)} and {seg.name} must be physically isolated: the "
                    f"device has crossed an isolation boundary"))
            fails.append(fail(META, evidence, segment=seg.name,
                              subject=Subject(ip=h["ip"], mac=h["mac"], device=d.name),
                              severity=Severity.CRITICAL if crossed else None))
    yield from conclude(META, seg, merge_by_station(fails), dev_gate(obs, *META.needs), text(
        f"网段 {seg.name} 上发现的 {len(seen)} 台主机中，没有登记于其他网段的设备",
        f"none of the {len(seen)} hosts seen on {seg.name} is registered on another segment"))
