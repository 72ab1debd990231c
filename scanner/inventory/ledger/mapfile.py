"""The map file: what the column names alone cannot settle.

```yaml
header_row: 3                 # the header's row on every sheet (else found), or per sheet:
# header_row: {涉密网: 3, 办公网: 2}
sheets: [涉密网, 办公网]        # read only these (as --sheet)
columns:                      # header as written -> name | kind | asset_tag | custodian | ip |
  计算机名: name               #   mac | segment | level | status | register | ignore
  网卡: mac
  旧IP: ignore
segments:                     # a 所属网络 cell or a sheet name -> a declared segment
  涉密网: secret-lan
kinds:                        # a 设备类型 cell -> workstation | server | printer | ...
  瘦客户机: workstation
default_kind: workstation     # a row with no 设备类型 (default: workstation)
order: [序号, 设备名称, 资产编号] # the export's column order (else the ledger's own)
```
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from scanner.model import text
from scanner.inventory.ledger.clean import key
from scanner.inventory.ledger.columns import ROLES
from scanner.inventory.ledger.read import LedgerError

MAP_KEYS = ("header_row", "sheets", "columns", "segments", "kinds", "default_kind", "order")


@dataclass
class LedgerMap:
    path: str | None = None
    header_row: int | dict | None = None
    sheets: tuple[str, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)     # key(header) -> role
    segments: dict[str, str] = field(default_factory=dict)    # key(text) -> segment name
    kinds: dict[str, str] = field(default_factory=dict)       # key(text) -> kind
    default_kind: str = "workstation"
    order: tuple[str, ...] = ()

    def header_row_of(self, sheet: str | None) -> int | None:
        if isinstance(self.header_row, dict):
            return self.header_row.get(sheet)
        return self.header_row


def load_map(path: str) -> LedgerMap:
    """A map file, or LedgerError naming file, line and column."""
    from scanner.inventory.load import locate
    from scanner.inventory.schema import KINDS
    from scanner.inventory.yamlsource import InputError, decode, parse, read_source

    def bad(where: tuple, zh: str, en: str):
        loc = locate(path, where)
        at = f"{path}:{loc.line}:{loc.column}" if loc else path
        return LedgerError(text(f"{at}：{zh}", f"{at}: {en}"))

    try:
        src = read_source(path, limit=1024 * 1024)
    except InputError as exc:
        raise LedgerError(text(str(exc), str(exc))) from None
    if len(src.raw) > 1024 * 1024:
        raise LedgerError(text(f"{path}：映射文件过大（上限 1 MiB）", f"{path}: map file too large (1 MiB at most)"))
    problem = decode(src)
    data = None
    if problem is None:
        data, problem = parse(src.text)
    if problem is not None:
        raise LedgerError(text(f"{path}:{problem.line}:{problem.column}：{problem.message}",
                               f"{path}:{problem.line}:{problem.column}: {problem.message}"))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise bad((), "映射文件应为映射（键: 值）", "a map file is a mapping (key: value)")
    m = LedgerMap(path=os.fspath(path))
    for k in data:
        if k not in MAP_KEYS:
            raise bad((k,), f"未知的键 '{k}'；允许：{', '.join(MAP_KEYS)}",
                      f"unknown key '{k}'; allowed: {', '.join(MAP_KEYS)}")
    hr = data.get("header_row")
    if hr is not None:
        if isinstance(hr, dict) and all(isinstance(v, int) and v > 0 for v in hr.values()):
            m.header_row = {str(k): v for k, v in hr.items()}
        elif isinstance(hr, int) and not isinstance(hr, bool) and hr > 0:
            m.header_row = hr
        else:
            raise bad(("header_row",), "header_row 应为正整数（或 工作表: 行号）",
                      "header_row is a positive integer (or sheet: row)")
    sheets = data.get("sheets") or []
    if not isinstance(sheets, list) or not all(isinstance(s, str) for s in sheets):
        raise bad(("sheets",), "sheets 应为工作表名称的列表", "sheets is a list of sheet names")
    m.sheets = tuple(sheets)
    for section, allowed, target in (("columns", ROLES, m.columns), ("kinds", KINDS, m.kinds),
                                     ("segments", None, m.segments)):
        d = data.get(section) or {}
        if not isinstance(d, dict):
            raise bad((section,), f"{section} 应为映射", f"{section} is a mapping")
        for k, v in d.items():
            if not isinstance(v, str) or (allowed is not None and v not in allowed):
                choices = f"；可选：{', '.join(allowed)}" if allowed else ""
                raise bad((section, k), f"'{k}' 的值无效{choices}",
                          f"the value of '{k}' is not valid" +
                          (f"; one of: {', '.join(allowed)}" if allowed else ""))
            target[key(str(k))] = v
    dk = data.get("default_kind", "workstation")
    if dk not in KINDS:
        raise bad(("default_kind",), f"default_kind 应为 {', '.join(KINDS)} 之一",
                  f"default_kind is one of {', '.join(KINDS)}")
    m.default_kind = dk
    order = data.get("order") or []
    if not isinstance(order, list) or not all(isinstance(s, str) for s in order):
        raise bad(("order",), "order 应为列名的列表", "order is a list of column headers")
    m.order = tuple(order)
    return m
