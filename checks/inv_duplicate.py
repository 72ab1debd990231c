"""INV-DUPLICATE: two devices share a name, IP, MAC or asset tag.

Judged over the merged inventory, so a duplicate across two files is found
(the finding points at the second declaration and names the first). Two
segments or two canaries with one name are duplicates too. One dict per key.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from checks._static import subject, where
from scanner.inventory.yamlsource import prefetch
from scanner.model import (CheckMeta, Finding, Inventory, Severity, Subject, fail,
                           passed, text)

META = CheckMeta(
    id="INV-DUPLICATE",
    severity=Severity.HIGH,
    title=text("设备名称、地址、MAC 或资产编号重复", "Duplicate device name, IP, MAC or asset tag"),
    needs=("inventory",),
    remediation=text("每台设备须有唯一的名称、IP、MAC 与资产编号（统一登记、统一标识）；删除或更正重复项。",
                     "Give every device a unique name, IP, MAC and asset tag (one registration, one "
                     "identity); remove or correct the duplicate."),
    description=text("重复的登记使设备无法被唯一识别。",
                     "Duplicate registrations make a device impossible to identify."),
)

_WHAT = {"name": ("名称", "name"), "ip": ("IP 地址", "IP address"),
         "mac": ("MAC 地址", "MAC address"), "asset_tag": ("资产编号", "asset tag")}


def evaluate(inv: Inventory, obs: Mapping[str, Any]) -> Iterator[Finding]:
    findings = list(_duplicates(inv))
    if not findings:
        yield passed(META, text(f"{len(inv.devices)} 台设备的名称、IP、MAC、资产编号均唯一",
                                f"names, IPs, MACs and asset tags of {len(inv.devices)} devices are unique"))
    yield from findings


def _pairs(inv: Inventory) -> Iterator[tuple]:
    """(kind, value, device, interface, first device, first interface) of every duplicate."""
    first: dict[str, dict] = {k: {} for k in _WHAT}
    for d in inv.devices:
        keys = [("name", d.name, None)]
        if d.asset_tag is not None:
            keys.append(("asset_tag", d.asset_tag, None))
        for i in d.interfaces:
            if i.ip is not None:
                keys.append(("ip", (i.ip.version, i.ip.value), i))
            if i.mac is not None:
                keys.append(("mac", i.mac, i))
        for kind, value, iface in keys:
            prev = first[kind].get(value)
            if prev is None:
                first[kind][value] = (d, iface)
                continue
            pd, pi = prev
            if pd is d and kind == "mac":
                continue              # one device may reuse its MAC on two interfaces
            yield kind, value, d, iface, pd, pi


def _duplicates(inv: Inventory) -> Iterator[Finding]:
    pairs = list(_pairs(inv))
    named = []
    for what, items in (("segment", inv.segments), ("canary", inv.canaries)):
        names: dict[str, Any] = {}
        for item in items:
            if item.name in names:
                named.append((what, item, names[item.name]))
            else:
                names[item.name] = item
    # evidence names the first declaration's line: look all positions up in one pass
    prefetch([x for kind, value, d, iface, pd, pi in pairs
              for x in ((pi.loc if pi is not None else None) or pd.loc,
                        (iface.loc if iface is not None else None) or d.loc)]
             + [x for _, item, prev in named for x in (item.loc, prev.loc)])
    for kind, value, d, iface, pd, pi in pairs:
        shown = str(iface.ip) if kind == "ip" else value
        zh, en = _WHAT[kind]
        other = f"{pd.name}" if pd is not d else "the same device"
        other_zh = pd.name if pd is not d else "同一设备"
        ploc = (pi.loc if pi is not None else None) or pd.loc
        yield fail(META, text(
            f"设备 {d.name} 的{zh} {shown} 与 {other_zh}（{where(ploc)}）重复",
            f"{en} {shown} of device {d.name} is already declared by {other} ({where(ploc)})"),
            segment=iface.segment if iface is not None else None,
            subject=subject(d, iface), location=(iface.loc if iface is not None else None) or d.loc)
    for what, item, prev in named:
        zh = "网段" if what == "segment" else "外部探针目标"
        yield fail(META, text(f"{zh}名称 {item.name} 重复（首次：{where(prev.loc)}）",
                              f"{what} name {item.name} is declared twice (first: {where(prev.loc)})"),
                   segment=item.name if what == "segment" else None,
                   subject=Subject(ip=str(item.address)) if what == "canary" else Subject(),
                   location=item.loc)
