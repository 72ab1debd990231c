"""DEV-MISMATCH: a registered address answers with another hardware address
than registered, or a registered hardware address from another address
(SPEC §4)."""
from __future__ import annotations

from checks._livecommon import (conclude, dev_applies, host_label, hosts, dev_gate, merge_by_station,
                                reconcile, seen_text, vantage_segment)
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
        wrong = reconcile(inv, seg, h)["mismatch"]
        if wrong:
            fails.append(fail(
                META, (seen_text(h), *(_why(d, i, k, h) for d, i, k in wrong)),
                segment=seg.name,
                subject=Subject(ip=h["ip"], mac=h["mac"], device=wrong[0][0].name)))
    yield from conclude(META, seg, merge_by_station(fails), dev_gate(obs, *META.needs), text(
        f"网段 {seg.name} 上发现的 {len(seen)} 台主机中，已登记者的 IP 与 MAC 均与登记一致",
        f"of the {len(seen)} hosts seen on {seg.name}, every registered one answered "
        f"with its registered IP and MAC"))
