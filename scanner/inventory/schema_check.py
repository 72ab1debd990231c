"""INV-SCHEMA's metadata and how its findings join the others': the loader
makes these findings while it reads the files, so inventory/ owns them and
checks/inv_schema.py (the plugin that reports the pass) imports them from here."""
from __future__ import annotations

from typing import Iterable

from scanner.model import CheckMeta, Finding, Severity, text

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


def merge_with_loader(loader_findings: Iterable[Finding],
                      check_findings: Iterable[Finding]) -> list[Finding]:
    """All findings of a run: the loader's INV-SCHEMA findings replace this
    check's pass when there are any."""
    loader = list(loader_findings)
    out = []
    for f in check_findings:
        if f.check_id == META.id and loader:
            continue
        out.append(f)
    return loader + out
