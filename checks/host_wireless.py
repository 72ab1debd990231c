"""HOST-WIRELESS: no wireless, Bluetooth or WWAN hardware in a classified
computer (严禁使用无线互联设备).

Seen from inside the computer (`isoscan host`): every radio the kernel
knows of, also when it is down, blocked or has no driver (rfkill, ieee80211
phys, bluetooth hci devices, PCI class 0x0280, USB class e0/01/01, WWAN
interfaces). Critical when it is up or has been used (a saved Wi-Fi or
mobile broadband profile, an association in the logs); high when it is merely
present. Saved profiles and associations without the hardware (a dongle
since removed) are use all the same: critical.
"""
from __future__ import annotations

from checks._host import (classification, gate, homed, nic_subject, nothing_read,
                          problems_finding, shown_time, words)
from scanner.model import CLASSIFIED, CheckMeta, Severity, Subject, fail, passed, skipped, text

META = CheckMeta(
    id="HOST-WIRELESS",
    severity=Severity.CRITICAL,
    title=text("涉密计算机存在无线设备", "Wireless hardware in a classified computer"),
    needs=("host",),
    remediation=text(
        "拆除无线网卡、蓝牙与 4G/5G 模块（仅禁用驱动或 rfkill 不够）；删除已保存的无线与移动网络配置；"
        "查明曾经的无线连接并按违规外联处置。",
        "Remove the Wi-Fi card, Bluetooth and 4G/5G modules (disabling the driver or rfkill is "
        "not enough); delete saved wireless and mobile profiles; find out what the past "
        "wireless connections carried and handle them as unauthorised connections."),
    description=text(
        "在涉密计算机内部读取 rfkill、ieee80211、蓝牙 hci、PCI/USB 设备类别与网络接口，识别无线、蓝牙与"
        "移动网络硬件（含关闭、屏蔽或无驱动的）；已启用或有使用痕迹（保存的配置、日志中的关联）为严重。",
        "Inside the classified computer: rfkill, ieee80211 phys, Bluetooth hci devices, PCI/USB "
        "device classes and interfaces reveal wireless, Bluetooth and mobile hardware (also "
        "down, blocked or driverless); up or used (saved profiles, associations in the logs) "
        "is critical."),
)

RADIOS = ("wlan", "bluetooth", "wwan", "other")
PROFILE_OF = {"wlan": ("wifi",), "wwan": ("gsm", "cdma"), "bluetooth": ("bluetooth",)}
KIND_WORDS = {"wlan": ("无线网卡", "Wi-Fi"), "bluetooth": ("蓝牙", "Bluetooth"),
              "wwan": ("4G/5G 移动网络模块", "4G/5G modem"), "other": ("无线控制器", "wireless controller")}


def evaluate(inv, obs):
    yield from homed(inv, obs, _evaluate(inv, obs))


def _evaluate(inv, obs):
    rec, dev, why = gate(META, inv, obs)
    if why is not None:
        yield why
        return
    cls = classification(inv, dev)
    if cls != CLASSIFIED:
        zh, en = words(cls)
        yield skipped(META, text(f"不适用：{dev.name} 登记为{zh}计算机，本规则针对涉密计算机",
                                 f"does not apply: {dev.name} is registered as a {en} computer; "
                                 f"the rule is for classified computers"),
                      subject=Subject(device=dev.name))
        return
    found = False
    used_profiles = set()
    used_events = set()
    for r in rec.radios:
        if r.kind not in RADIOS:
            continue
        found = True
        profiles = [p for p in rec.profiles if p.kind in PROFILE_OF.get(r.kind, ())]
        events = [e for e in rec.wifi_events if r.kind == "wlan"
                  and (e.interface is None or r.interface is None or e.interface == r.interface)]
        used_profiles.update(id(p) for p in profiles)
        used_events.update(id(e) for e in events)
        zh_kind, en_kind = KIND_WORDS.get(r.kind, KIND_WORDS["other"])
        lines = [text(f"{zh_kind}：{r.label()}（发现于 {'；'.join(r.found_by)}）",
                      f"{en_kind}: {r.label()} (found by {'; '.join(r.found_by)})")]
        lines += [text(f"已保存的网络配置：{p.name}（{p.source}）", f"saved profile: {p.name} ({p.source})")
                  for p in profiles[:5]]
        lines += [text(f"日志中的无线关联：{e.source} {shown_time(inv, e.time) or ''} {e.line}",
                       f"wireless association in the log: {e.source} {shown_time(inv, e.time) or ''} {e.line}")
                  for e in events[:5]]
        up = r.state == "up"
        pan = [n for n in rec.interfaces if r.kind == "bluetooth" and n.kind == "bluetooth-pan"
               and (n.up or n.operstate == "up")]
        if pan:                      # a Bluetooth network (PAN) up: the controller is in use
            up = True
            lines += [text(f"蓝牙网络接口已启用：{n.label()}", f"Bluetooth network interface up: "
                                                           f"{n.label()}") for n in pan]
        sev = Severity.CRITICAL if up or profiles or events else Severity.HIGH
        yield fail(META, lines, severity=sev, subject=nic_subject(dev, rec.nic(r.interface)))
    rest_p = [p for p in rec.profiles if id(p) not in used_profiles]
    rest_e = [e for e in rec.wifi_events if id(e) not in used_events]
    if rest_p or rest_e:
        found = True
        lines = [text(f"已保存的无线/移动网络配置（现无对应硬件，曾使用的设备可能已拔出）：{p.name}（{p.source}）",
                      f"saved wireless/mobile profile with no such hardware now (the device used "
                      f"may have been unplugged): {p.name} ({p.source})") for p in rest_p[:10]]
        lines += [text(f"日志中的无线关联：{e.source} {shown_time(inv, e.time) or ''} {e.line}",
                       f"wireless association in the log: {e.source} {shown_time(inv, e.time) or ''} {e.line}")
                  for e in rest_e[:10]]
        yield fail(META, lines, severity=Severity.CRITICAL, subject=Subject(device=dev.name))
    bad = problems_finding(META, rec, dev, "sysfs", "profiles", "logs", "journal")
    yield from bad
    empty = nothing_read(META, rec, dev, "interfaces")
    if empty is not None and not bad:
        yield empty
        return
    if not found and not bad:
        yield passed(META, text(
            f"{dev.name} 未发现无线、蓝牙或移动网络硬件与使用痕迹（查看了 {len(rec.interfaces)} 个接口、rfkill、"
            f"ieee80211、蓝牙、PCI 与 USB 设备类别、{len(rec.logs_read)} 个日志）",
            f"no wireless, Bluetooth or mobile hardware nor traces of its use in {dev.name} "
            f"(looked at {len(rec.interfaces)} interfaces, rfkill, ieee80211, Bluetooth, PCI and "
            f"USB device classes, {len(rec.logs_read)} logs)"), subject=Subject(device=dev.name))
