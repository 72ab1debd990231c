"""INV-SCHEMA's metadata and how its findings join the others': the loader
makes these findings while it reads the files, so inventory/ owns them and
checks/inv_schema.py (the plugin that reports the pass) imports them from here."""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from scanner.model import CheckMeta, Finding, Severity, Status, text

META = CheckMeta(
    id="INV-SCHEMA",
    severity=Severity.HIGH,
    title=text("清单文件不符合格式", "Inventory file is not valid YAML or not of the schema"),
    needs=("inventory",),
    remediation=text(
        "按所指文件、行、列修正清单（格式见 SPEC §2）：键名、类型、网段/IP/MAC 写法、引用的网段与设备。",
        "Fix the inventory at the file, line and column given (format: SPEC §2): key names, "
        "types, CIDR/IP/MAC spelling, the segments and devices referred to."),
    description=text("每个清单文件须为合法 YAML，且符合清单格式。",
                     "Every inventory file is valid YAML and follows the inventory format."),
)


PARTIAL = text(
    "未判定：清单未通过格式校验（INV-SCHEMA），出错的部分（网段、设备、引用）未被读入，"
    "本检查读取的内容不完整；请先修正上面的格式错误",
    "not judged: the inventory failed INV-SCHEMA, so what the errors name (a segment, "
    "a device, a reference) was left out and this check would read a partial inventory; "
    "fix the schema errors above first")


def merge_with_loader(loader_findings: Iterable[Finding],
                      check_findings: Iterable[Finding]) -> list[Finding]:
    """All findings of a run: the loader's INV-SCHEMA findings replace this
    check's pass when there are any. Fail closed on a partial inventory: once
    INV-SCHEMA failed, what the loader dropped is missing from every check's
    input, so no other check's pass stands: each becomes `skipped` saying why
    (a failure it found stays: it names a line that is there)."""
    loader = list(loader_findings)
    partial = any(f.status in (Status.FAIL, Status.ERROR) for f in loader)
    out = []
    for f in check_findings:
        if f.check_id == META.id and loader:
            continue
        if partial and f.status == Status.PASS:
            f = replace(f, status=Status.SKIPPED, evidence=(PARTIAL,))
        out.append(f)
    return loader + out
