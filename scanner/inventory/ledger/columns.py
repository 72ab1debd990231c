"""Which column holds what: the usual Chinese and English names of a
register's columns, the header row found among title rows above it, and a
map file for whatever the names alone cannot settle.

Fields the inventory holds (FIELDS) become device keys; every other column is
kept, under its own header, in the device's `register:` (so an export writes
the register back as the unit keeps it). Some of those are also read:
密级 (a device marked 秘密/机密/绝密 is classified wherever it sits) and 状态
(a scrapped device, 报废/销毁/注销, is left out).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from scanner.model import Text, text
from scanner.inventory.ledger.clean import cell_text, key, tidy

# the inventory's device keys a column may fill
FIELDS = ("name", "kind", "asset_tag", "custodian", "ip", "mac", "segment")
# columns read for a purpose but kept in the register
READ = ("level", "status")
ROLES = FIELDS + READ + ("register", "ignore")

LABELS: dict[str, Text] = {
    "name": text("设备名称", "device name"), "kind": text("设备类型", "device type"),
    "asset_tag": text("资产编号", "asset tag"), "custodian": text("责任人", "custodian"),
    "ip": text("IP 地址", "IP address"), "mac": text("MAC 地址", "MAC address"),
    "segment": text("所属网络", "network"), "level": text("密级", "classification level"),
    "status": text("状态", "status"), "register": text("登记信息（原样保留）", "register (kept as is)"),
    "ignore": text("忽略", "ignored"),
}

# (role, pattern over key(header)); first match wins, so the specific come first
_RULES = [(role, re.compile(p)) for role, p in (
    ("register", r"硬盘|磁盘|disk|hdd|ssd|序列号|serial"),
    ("mac", r"mac|物理地址|网卡地址|硬件地址|网卡号"),
    ("ip", r"(^|[^a-z])ip(v[46])?([^a-z]|$)|^ip|网络地址|ip地址|地址ip"),
    ("custodian", r"责任人|使用人|保管人|负责人|管理人|使用者|领用人|custodian|owner|^user"),
    ("asset_tag", r"资产编号|设备编号|资产号|固定资产|保密编号|统一编号|标识号|^编号$|asset|tag"),
    ("register", r"^序号$|^no\.?$|^#$"),
    ("kind", r"设备类型|类型|类别|种类|^kind$|type"),
    ("name", r"设备名称|名称|计算机名|主机名|hostname|^name$|devicename|^device$"),
    ("level", r"密级|涉密等级|保密等级|classification|^level$|secrecy"),
    ("status", r"状态|status"),
    ("segment", r"所属网络|网络|网段|联网|^segment$|^network$"),
)]

HEADER_SCAN_ROWS = 30
EXPORT_MARK = "【核查】"     # columns an export adds (what the network saw): never imported
HEADER_MAX_CHARS = 24


def recognise(header: str) -> str | None:
    """The role a header names, or None (kept in the register)."""
    k = key(header)
    if not k or len(k) > HEADER_MAX_CHARS or header.startswith(EXPORT_MARK):
        return None
    for role, pattern in _RULES:
        if pattern.search(k):
            return None if role == "register" else role
    return None


@dataclass
class Column:
    index: int            # 0-based position in the row
    letter: str           # as Excel names it: A, B, ..., AA
    header: str           # as written (tidied); "" for a column without one
    role: str             # a FIELD, level, status, register or ignore
    hidden: bool = False
    how: str = "name"     # name | map | default: how the role was chosen

    @property
    def key(self) -> str:
        """Its key in a device's register."""
        return self.header or f"列{self.letter}"


def letter(n: int) -> str:
    """1 -> A, 27 -> AA."""
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


@dataclass
class Layout:
    """A sheet's header row and columns."""
    header_row: int
    columns: list[Column]
    title: str | None = None                 # the title row above the header, if one
    by_role: dict[str, Column] = field(default_factory=dict)
    kept: list = field(default_factory=list)      # [(index, register key)] kept as written

    def settle(self) -> None:
        """One column per field: the first visible one; others go to the register."""
        self.by_role = {}
        for visible in (True, False):
            for c in self.columns:
                if c.role in FIELDS + READ and c.hidden != visible and c.role not in self.by_role:
                    self.by_role[c.role] = c
        for c in self.columns:
            if c.role in FIELDS + READ and self.by_role.get(c.role) is not c:
                c.role, c.how = "register", "duplicate"
        seen: dict[str, int] = {}
        for c in self.columns:             # two columns of one header: keys 备注, 备注 2
            k = c.header
            if k and c.role != "ignore":
                seen[k] = seen.get(k, 0) + 1
                if seen[k] > 1:
                    c.header = f"{k} {seen[k]}"
        self.kept = [(c.index, c.key) for c in self.columns
                     if c.role in ("register", "level", "status", "kind", "segment")]


def find_header(rows: list[tuple[int, tuple]], hidden: frozenset, ledger_map,
                sheet: str | None) -> Layout | None:
    """The header among the first rows: the first row naming the most known
    columns, at least two of them and one that identifies a device (name,
    asset tag, IP or MAC). A map's header_row settles it."""
    want = ledger_map.header_row_of(sheet) if ledger_map is not None else None
    best = None
    for rowno, values in rows[:HEADER_SCAN_ROWS]:
        if want is not None:
            if rowno == want:
                best = (rowno, values)
                break
            continue
        roles = set()
        for v in values:
            t = cell_text(v)
            r = recognise(t) if isinstance(v, str) else None
            if r is None and ledger_map is not None:
                r = ledger_map.columns.get(key(t))
            if r is not None and r not in ("register", "ignore"):
                roles.add(r)
        score = len(roles)
        if score >= 2 and roles & {"name", "asset_tag", "ip", "mac"} and \
                (best is None or score > best[0]):
            best = (score, rowno, values)
    if best is None:
        return None
    rowno, values = (best[1], best[2]) if want is None else best
    columns = []
    for i, v in enumerate(values):
        header = tidy(cell_text(v))
        role, how = None, "name"
        if header.startswith(EXPORT_MARK):
            role, how = "ignore", "export"
        elif ledger_map is not None and key(header) in ledger_map.columns:
            role, how = ledger_map.columns[key(header)], "map"
        if role is None:
            role = recognise(header) or "register"
        columns.append(Column(i, letter(i + 1), header, role, (i + 1) in hidden, how))
    while columns and not columns[-1].header:
        columns.pop()                      # trailing columns without a header: nothing
    title = None
    above = [vs for n, vs in rows if n < rowno]
    if above:
        texts = list(dict.fromkeys(tidy(cell_text(v)) for v in above[0] if cell_text(v).strip()))
        if len(texts) == 1:
            title = texts[0]
    layout = Layout(rowno, columns, title)
    layout.settle()
    return layout
