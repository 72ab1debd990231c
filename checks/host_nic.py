"""HOST-NIC: the computer's network cards are the ones registered (专机专用).

Fails for:
* an interface up with an address outside the device's registered segments
  (a phone's network, a hotel's, another segment's);
* USB tethering (rndis_host, cdc_ether, cdc_ncm, ipheth) or a WWAN modem
  present, whatever its state, or registered in the logs (it has been
  plugged in: usbnet's "register 'rndis_host' at ..., MAC" lines);
* on a classified computer, a second wired card (one more than the device
  registers; the one whose MAC is not registered is named).
Critical on a classified computer, high elsewhere.
"""
from __future__ import annotations

from checks._host import (classification, gate, homed, networks, nic_subject, nothing_read, outside,
                          problems_finding, shown_time, words)
from scanner.host.record import TETHER_DRIVERS, WWAN_DRIVERS
from scanner.model import CLASSIFIED, CheckMeta, Severity, Subject, fail, passed, text

META = CheckMeta(
    id="HOST-NIC",
    severity=Severity.CRITICAL,
    title=text("计算机存在未登记的网络接口或外联通道", "Unregistered network interface or way out on a computer"),
    needs=("host",),
    remediation=text(
        "断开并拆除该接口（USB 共享网络的手机、4G 模块、第二块网卡）；涉密计算机只保留登记的一块网卡，"
        "接入登记的网段；查明该接口连接过的网络并按违规外联处置。",
        "Disconnect and remove the interface (a tethered phone, a 4G modem, a second card); a "
        "classified computer keeps only its one registered card on its registered segment; "
        "find out which networks the interface reached and handle it as an unauthorised "
        "connection."),
    description=text(
        "在计算机内部按驱动与设备类别识别接口：USB 共享网络、4G/5G 模块、地址不在登记网段内的已启用接口、"
        "涉密计算机上的第二块网卡。",
        "Inside the computer, interfaces by their drivers and device classes: USB tethering, "
        "4G/5G modems, interfaces up with an address outside the registered segments, a second "
        "card on a classified computer."),
)

WIRED = ("ethernet",)


def evaluate(inv, obs):
    yield from homed(inv, obs, _evaluate(inv, obs))


def _evaluate(inv, obs):
    rec, dev, why = gate(META, inv, obs)
    if why is not None:
        yield why
        return
    cls = classification(inv, dev)
    sev = Severity.CRITICAL if cls == CLASSIFIED else Severity.HIGH
    nets = networks(inv, dev)
    seg_names = ", ".join(dict.fromkeys(i.segment for i in dev.interfaces))
    registered_macs = {i.mac for i in dev.interfaces if i.mac}
    flagged = set()
    for n in rec.interfaces:
        lines = []
        if n.kind == "usb-tether":
            lines.append(text(f"USB 共享网络接口（手机等）：{n.label()}，{n.why}",
                              f"USB tethering interface (a phone or the like): {n.label()}, {n.why}"))
        elif n.kind == "wwan":
            lines.append(text(f"4G/5G 移动网络接口：{n.label()}，{n.why}",
                              f"4G/5G mobile broadband interface: {n.label()}, {n.why}"))
        up = n.up or n.operstate == "up"
        away = [a for a in n.addresses if outside(nets, a)] if n.kind != "loopback" else []
        if up and away:
            lines.append(text(
                f"接口 {n.name} 已启用，地址 {', '.join(away)} 不在本机登记的网段（{seg_names}）内",
                f"interface {n.name} is up with {', '.join(away)}, outside the computer's "
                f"registered segments ({seg_names})"))
        if lines:
            flagged.add(n.name)
            yield fail(META, lines, severity=sev, subject=nic_subject(dev, n))
    past = [e for e in rec.net_history if e.driver in TETHER_DRIVERS or e.driver in WWAN_DRIVERS]
    now_macs = {n.mac for n in rec.interfaces if n.name in flagged}
    past = [e for e in past if e.mac is None or e.mac not in now_macs]
    if past:
        yield fail(META, [text(
            f"日志显示曾接入 USB 共享网络或 4G/5G 模块：{e.source}，{shown_time(inv, e.time) or '时间未知'}，驱动 {e.driver}，"
            f"USB {e.bus_id or '-'}，接口 {e.interface or '-'}，MAC {e.mac or '-'}（{e.what or ''}）",
            f"the logs show USB tethering or a 4G/5G modem was plugged in: {e.source}, "
            f"{shown_time(inv, e.time) or 'time unknown'}, driver {e.driver}, USB {e.bus_id or '-'}, interface "
            f"{e.interface or '-'}, MAC {e.mac or '-'} ({e.what or ''})") for e in past[:10]],
            severity=sev, subject=Subject(device=dev.name))
        flagged.add("(logs)")
    if cls == CLASSIFIED:
        wired = [n for n in rec.interfaces if n.kind in WIRED and n.bus]
        allowed = max(len(dev.interfaces), 1)
        if len(wired) > allowed:
            extra = [n for n in wired if registered_macs and n.mac not in registered_macs] or \
                wired[allowed:]
            for n in extra:
                if n.name in flagged:
                    continue
                yield fail(META, text(
                    f"涉密计算机有第二块网卡：{n.label()}（登记 {allowed} 块，发现 {len(wired)} 块）",
                    f"a second network card on a classified computer: {n.label()} ({allowed} "
                    f"registered, {len(wired)} found)"), severity=sev, subject=nic_subject(dev, n))
                flagged.add(n.name)
    bad = problems_finding(META, rec, dev, "sysfs", "addresses", "logs", "journal")
    yield from bad
    empty = nothing_read(META, rec, dev, "interfaces")
    if empty is not None and not bad:
        yield empty
        return
    if not flagged and not bad:
        zh, en = words(cls)
        shown = [n.label() for n in rec.interfaces if n.kind != "loopback"]
        yield passed(META, text(
            f"{dev.name}（{zh}）的接口均为登记的：{'；'.join(shown) or '无'}；已启用接口的地址均在 {seg_names} 内",
            f"{dev.name} ({en}) has only its registered interfaces: {'; '.join(shown) or 'none'}; "
            f"every address of an interface up is in {seg_names}"), subject=Subject(device=dev.name))
