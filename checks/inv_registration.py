"""INV-REGISTRATION: every device on a classified segment has an asset tag and a custodian.

(统一登记、统一标识、专人管理.)
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from checks._static import subject
from scanner.model import CheckMeta, Finding, Inventory, Severity, fail, passed, text

META = CheckMeta(
    id="INV-REGISTRATION",
    severity=Severity.HIGH,
    title=text("涉密网段设备登记不全", "Device on a classified segment not fully registered"),
    needs=("inventory",),
    remediation=text("为涉密网段上的每台设备登记资产编号（asset_tag）与责任人（custodian）。",
                     "Register an asset tag (asset_tag) and a custodian for every device on a classified segment."),
    description=text("涉密网络设备须统一登记、统一标识、专人管理。",
                     "Devices on a classified network are registered, labelled and in someone's custody."),
)


def evaluate(inv: Inventory, obs: Mapping[str, Any]) -> Iterator[Finding]:
    classified = {s.name for s in inv.segments if s.classified}
    seen = bad = 0
    for d in inv.devices:
        seg = next((i.segment for i in d.interfaces if i.segment in classified), None)
        if seg is None:
            continue
        seen += 1
        lacks = [(zh, en) for ok, zh, en in ((d.asset_tag, "资产编号", "asset_tag"),
                                             (d.custodian, "责任人", "custodian")) if not ok]
        if lacks:
            bad += 1
            yield fail(META, text(f"涉密网段 {seg} 上的设备 {d.name} 缺少{'、'.join(z for z, _ in lacks)}",
                                  f"device {d.name} on classified segment {seg} lacks "
                                  f"{' and '.join(e for _, e in lacks)}"),
                       segment=seg, subject=subject(d), location=d.loc)
    if not bad:
        yield passed(META, text(f"涉密网段上 {seen} 台设备均已登记资产编号与责任人",
                                f"{seen} device(s) on classified segments, all with asset tag and custodian"))
