"""HOST-MEDIA: only registered removable media of the computer's own
classification (专用移动存储介质; no 交叉使用).

Every USB storage device attached now, and every one the kernel and system
logs and the journal remember (rotated, compressed ones too), is compared by
serial with the inventory's `media:`. Unregistered, or registered for another
classification: high. A medium registered for the internet side on a
classified computer is 交叉使用: critical. A device without a serial cannot be
registered at all: high. The computer's own disks (`disks:`) are not media.
A log that could not be read is an `error` beside what the others showed.
"""
from __future__ import annotations

from checks._host import (classification, gate, homed, nothing_read, problems_finding,
                          shown_time, words)
from scanner.model import (CLASSIFIED, INTERNET, CheckMeta, Severity, Subject, fail, passed,
                           text)

META = CheckMeta(
    id="HOST-MEDIA",
    severity=Severity.HIGH,
    title=text("计算机使用了未登记或密级不符的移动存储介质",
               "Unregistered or wrongly classified removable media on a computer"),
    needs=("host",),
    remediation=text(
        "停止使用该介质；涉密计算机只能使用登记的涉密专用介质（media: 中按序列号登记）；"
        "查明介质去向与所拷贝的内容，交叉使用的按泄密隐患处置。",
        "Stop using the medium; a classified computer uses only its registered dedicated "
        "media (listed by serial under media:); find where the medium went and what was "
        "copied, and handle cross-use as a potential leak."),
    description=text(
        "在计算机内部读取当前接入的 USB 存储设备及系统日志、内核日志（含轮转压缩的）与 journal 中的 USB 存储接入记录，"
        "按序列号对照清单登记的介质与密级。",
        "Inside the computer: USB storage attached now and USB storage attachments in the "
        "system and kernel logs (rotated and compressed ones too) and the journal, compared "
        "by serial with the registered media and their classification."),
)


def evaluate(inv, obs):
    yield from homed(inv, obs, _evaluate(inv, obs))


def _evaluate(inv, obs):
    rec, dev, why = gate(META, inv, obs)
    if why is not None:
        yield why
        return
    cls = classification(inv, dev)
    zh_c, en_c = words(cls)
    registered = {m.serial.upper(): m for m in inv.media}
    own = {s.upper() for s in dev.disks}
    seen: dict[str, list] = {}
    for s in rec.storage:
        mtp = s.name.startswith("mtp:")
        name_zh = "手机/相机存储（MTP/PTP）" if mtp else f"/dev/{s.name}"
        name_en = "a phone's or camera's storage (MTP/PTP)" if mtp else f"/dev/{s.name}"
        seen.setdefault((s.serial or "").upper(), []).append(text(
            f"当前接入：{name_zh}（{s.vendor_name or ''} {s.model or ''}，USB {s.bus_id} "
            f"{s.vendor}:{s.product}）",
            f"attached now: {name_en} ({s.vendor_name or ''} {s.model or ''}, USB {s.bus_id} "
            f"{s.vendor}:{s.product})"))
    for e in rec.media_history:
        seen.setdefault((e.serial or "").upper(), []).append(text(
            f"日志记录：{e.source}，{shown_time(inv, e.time) or '时间未知'}（{e.vendor_name or ''} {e.model or ''} "
            f"{e.vendor or ''}:{e.product or ''}）",
            f"in the log: {e.source}, {shown_time(inv, e.time) or 'time unknown'} ({e.vendor_name or ''} "
            f"{e.model or ''} {e.vendor or ''}:{e.product or ''})"))
    ok = []
    fails = 0
    for serial, where in seen.items():
        where = where[:8]
        if serial and serial in own:
            continue
        subj = Subject(device=dev.name)
        m = registered.get(serial) if serial else None
        if not serial:
            fails += 1
            yield fail(META, [text("USB 存储设备没有序列号，无法登记为专用介质",
                                   "a USB storage device without a serial number: it cannot be "
                                   "registered as a dedicated medium")] + where, subject=subj)
        elif m is None:
            fails += 1
            yield fail(META, [text(f"未登记的移动存储介质，序列号 {serial}",
                                   f"an unregistered removable medium, serial {serial}")] + where,
                       subject=subj)
        elif m.classification != cls:
            fails += 1
            zh_m, en_m = words(m.classification)
            cross = cls == CLASSIFIED and m.classification == INTERNET
            yield fail(META, [text(
                f"介质 {m.label or serial}（序列号 {serial}，保管人 {m.custodian or '未登记'}）登记为{zh_m}介质，"
                f"却接入了{zh_c}计算机 {dev.name}" + ("：交叉使用" if cross else ""),
                f"medium {m.label or serial} (serial {serial}, custodian {m.custodian or 'none'}) "
                f"is registered as {en_m} but was attached to the {en_c} computer {dev.name}"
                + (": cross-use" if cross else ""))] + where,
                severity=Severity.CRITICAL if cross else Severity.HIGH, subject=subj)
        else:
            ok.append(m.label or serial)
    bad = problems_finding(META, rec, dev, "sysfs", "logs", "journal")
    yield from bad
    if fails or bad:
        return
    empty = nothing_read(META, rec, dev, "logs")
    if empty is not None:
        yield empty
        return
    yield passed(META, text(
        f"{dev.name} 上出现的移动存储介质均为登记的{zh_c}介质：{', '.join(ok) or '无'}"
        f"（查看了当前 USB 存储设备与 {len(rec.logs_read)} 个日志，共 {rec.log_lines} 行）",
        f"every removable medium seen on {dev.name} is registered as {en_c}: "
        f"{', '.join(ok) or 'none'} (looked at the USB storage attached now and "
        f"{len(rec.logs_read)} logs, {rec.log_lines} lines)"), subject=Subject(device=dev.name))
