"""A ledger's rows -> devices and problems, each problem at its sheet, row and column.

    result = import_ledger("台账.xlsx", segments=inv.segments, known=inv.devices,
                           ledger_map=m, sheets=("涉密网",))
    result.entries     # the good rows, as devices
    result.problems    # every bad one: 台账.xlsx「涉密网」第 12 行 F 列（MAC地址）：…

A row is blank (skipped) when none of name, asset tag, custodian, IP and MAC
is filled; a footer (填表人：… 审核：… 日期：…) is skipped; a scrapped device
(状态 报废/销毁/注销) is left out and counted. Everything else becomes a device
or a problem: a bad MAC or IP, an unknown network, an address outside its
segment, a device in no segment, a classified device (on a classified segment,
or marked 秘密/机密/绝密) without 责任人 or 资产编号, a duplicate name, IP,
MAC or asset tag (also of a device the -i files declare).
"""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from itertools import islice
from typing import Iterable, Sequence

from scanner.model import Device, Segment, Text, pick, text
from scanner.inventory.schema import normalise_mac, parse_ip
from scanner.inventory.ledger.clean import cell_text, half, key, tidy
from scanner.inventory.ledger.columns import (HEADER_SCAN_ROWS, LABELS, Column, Layout,
                                             find_header)
from scanner.inventory.ledger.mapfile import LedgerMap
from scanner.inventory.ledger.place import Placer
from scanner.inventory.ledger.read import LedgerError, Sheet, open_ledger

EXPORT_UNREGISTERED = ("未登记设备", "Unregistered stations")   # export's own sheets: never read
EXPORT_NOTES = ("说明", "Notes")

_CLASSIFIED = re.compile(r"秘密|机密|绝密|涉密|secret|confidential")
_NOT_CLASSIFIED = re.compile(r"非|公开|内部|unclassified|non")
_RETIRED = re.compile(r"报废|销毁|注销|退役|scrapped|destroyed|retired|disposed")
# a computer on no network (涉密单机): in the register, not in any segment
_STANDALONE = re.compile(r"单机|不联网|未联网|未入网|不入网|离线|脱网|standalone|offline|air-?gapped")
# what a register writes for "no address" (an address given by DHCP is none to register either)
_NONE = frozenset({"无", "/", "\\", "-", "--", "—", "——", "n/a", "na", "null", "none", "空", "暂无",
                   "dhcp", "自动获取", "动态", "动态获取"})
_FOOTER = re.compile(r"^(填表|制表|审核|审批|保密员|负责人|签字|签名|日期|合计|总计|说明|注[:：])")
_KINDS = [(k, re.compile(p)) for k, p in (
    ("printer", r"打印|复印|扫描|传真|多功能|printer"),
    ("transfer", r"单向|光闸|摆渡|diode|transfer"),
    ("gateway", r"网关|网闸|隔离|gateway"),
    ("firewall", r"防火墙|firewall"),
    ("router", r"路由|router"),
    ("switch", r"交换机|switch"),
    ("server", r"服务器|server"),
    ("probe", r"探针|probe"),
    ("workstation", r"台式|计算机|电脑|终端|pc|工作站|笔记本|便携|一体机|workstation|laptop|desktop"),
)]


@dataclass
class Where:
    file: str
    sheet: str | None
    row: int | None = None
    column: Column | None = None

    def text(self) -> Text:
        s_zh = f"「{self.sheet}」" if self.sheet is not None else ""
        s_en = f", sheet {self.sheet}" if self.sheet is not None else ""
        if self.row is None:
            return text(f"{self.file}{s_zh}", f"{self.file}{s_en}")
        zh, en = f"{self.file}{s_zh}第 {self.row} 行", f"{self.file}{s_en}, row {self.row}"
        if self.column is not None:
            c = self.column
            zh += f" {c.letter} 列（{c.header or '无表头'}）"
            en += f", column {c.letter} ({c.header or 'no header'})"
        return text(zh, en)


@dataclass
class Problem:
    where: Where
    message: Text

    def render(self, lang: str) -> str:
        sep = "：" if lang == "zh-CN" else ": "
        return pick(self.where.text(), lang) + sep + pick(self.message, lang)


@dataclass
class Entry:
    """One good row: a device."""
    sheet: str | None
    row: int
    name: str
    kind: str
    segment: str
    asset_tag: str | None = None
    custodian: str | None = None
    ip: str | None = None
    mac: str | None = None
    register: list = field(default_factory=list)      # [(header, text)], in column order
    cells: dict = field(default_factory=dict, repr=False)   # role -> Column
    layout: Layout | None = field(default=None, repr=False)


@dataclass
class SheetReport:
    name: str | None
    layout: Layout | None = None
    devices: int = 0
    blank: int = 0
    footer: int = 0
    retired: list = field(default_factory=list)       # row numbers
    declared: int = 0                                 # rows the -i files declare already
    standalone: list = field(default_factory=list)    # rows of computers on no network (单机)
    skipped: Text | None = None                       # why the whole sheet was not read
    no_header: bool = False
    segments: list = field(default_factory=list)      # segment names its devices sit on
    formulas: bool = False


@dataclass
class ImportResult:
    file: str
    kind: str
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    sheets: list[SheetReport] = field(default_factory=list)
    encoding: str | None = None
    bad_rows: int = 0
    sha256: str = ""              # of the ledger as read


def kind_of(value: str, ledger_map: LedgerMap | None) -> str:
    if ledger_map is not None and key(value) in ledger_map.kinds:
        return ledger_map.kinds[key(value)]
    return _kind(value)


@functools.lru_cache(maxsize=4096)
def _kind(value: str) -> str:
    k = key(value)
    from scanner.inventory.schema import KINDS
    if k in KINDS:
        return k
    for kind, pattern in _KINDS:
        if pattern.search(k):
            return kind
    return "other"


@functools.lru_cache(maxsize=4096)
def classified_mark(level: str) -> bool:
    k = key(level)
    return bool(k) and _CLASSIFIED.search(k) is not None and _NOT_CLASSIFIED.search(k) is None


def import_ledger(path: str, *, segments: Sequence[Segment], known: Iterable[Device] = (),
                  ledger_map: LedgerMap | None = None, sheets: Sequence[str] = ()) -> ImportResult:
    """Read and check a whole ledger (LedgerError: the file itself is refused)."""
    file = os.path.basename(path)
    wanted = tuple(sheets) or (ledger_map.sheets if ledger_map is not None else ())
    placer = Placer(segments, ledger_map.segments if ledger_map is not None else None)
    with open_ledger(path) as ledger:
        result = ImportResult(file, ledger.kind, encoding=ledger.encoding, sha256=ledger.sha256)
        names = [s.name for s in ledger.sheets]
        for w in wanted:
            if w not in names:
                raise LedgerError(text(f"{file}：没有名为「{w}」的工作表（有：{'、'.join(map(str, names))}）",
                                       f"{file}: no sheet named {w} (there are: "
                                       f"{', '.join(map(str, names))})"))
        for sheet in ledger.sheets:
            report = SheetReport(sheet.name, formulas=sheet.formulas)
            result.sheets.append(report)
            if wanted and sheet.name not in wanted:
                report.skipped = text("未选择（--sheet）", "not selected (--sheet)")
                continue
            if not wanted and sheet.name in EXPORT_UNREGISTERED + EXPORT_NOTES:
                report.skipped = text("isoscan 导出时附加的工作表（未登记设备、说明），不导入",
                                      "a sheet an export adds (unregistered stations, notes): "
                                      "not imported")
                continue
            if not wanted and sheet.hidden:
                report.skipped = text("隐藏的工作表（用 --sheet 指名即可读取）",
                                      "a hidden sheet (name it with --sheet to read it)")
                continue
            _read_sheet(result, report, sheet, placer, ledger_map, explicit=bool(wanted))
    _name_duplicates(result)
    _check_unique(result, known)
    order = {s.name: i for i, s in enumerate(result.sheets)}
    result.problems.sort(key=lambda p: (order.get(p.where.sheet, -1), p.where.row or 0,
                                        p.where.column.index if p.where.column else -1))
    if not result.entries and not result.problems:
        for r in result.sheets:
            if r.no_header:
                result.problems.append(Problem(Where(file, r.name), r.skipped))
    accounted = any(r.declared or r.retired or r.standalone for r in result.sheets)
    if not result.entries and not result.problems and not accounted:
        result.problems.append(Problem(Where(file, None), text(
            "台账中没有找到任何设备（检查表头是否含 设备名称/资产编号/IP地址/MAC地址 等列，或用 --map 指定）",
            "no devices found in the ledger (does a header name columns such as 设备名称, 资产编号, "
            "IP地址, MAC地址? or give --map)")))
    return result


def _read_sheet(result: ImportResult, report: SheetReport, sheet: Sheet, placer: Placer,
                ledger_map: LedgerMap | None, explicit: bool) -> None:
    rows = sheet.rows()
    head = list(islice(rows, HEADER_SCAN_ROWS))
    rows.close()
    layout = find_header(head, sheet.hidden_columns, ledger_map, sheet.name)
    where = Where(result.file, sheet.name)
    if layout is None:
        why = text("找不到表头行（前 30 行中没有一行含两个以上可识别的列名，如 设备名称、IP地址、MAC地址、责任人）",
                   "no header row found (no row among the first 30 names two or more known "
                   "columns such as 设备名称, IP地址, MAC地址, 责任人)")
        if explicit:
            result.problems.append(Problem(where, why))
        report.skipped = why
        report.no_header = True
        return
    report.layout = layout
    by = layout.by_role
    if "segment" not in by and not placer.segments:
        result.problems.append(Problem(where, text("没有声明任何网段（-i）", "no segments declared (-i)")))
        return
    # the data again from the row under the header, only as wide as the header
    # (openpyxl pads each row to the width asked for)
    width = max([len(layout.columns)] + [c2 for r1, c1, r2, c2 in sheet.merged
                                         if c1 <= len(layout.columns)])
    for rowno, values in sheet.rows(width, layout.header_row + 1):
        _read_row(result, report, sheet, layout, placer, ledger_map, rowno, values)


def _read_row(result, report, sheet, layout, placer, ledger_map, rowno, values) -> None:
    by = layout.by_role
    texts = [("" if v is None else tidy(v) if type(v) is str else tidy(cell_text(v)))
             for v in values]
    texts += [""] * (len(layout.columns) - len(texts))
    get = {role: texts[col.index] for role, col in by.items()}
    if not any(get.get(r) for r in ("name", "asset_tag", "custodian", "ip", "mac")):
        report.blank += 1
        return
    if sum(1 for v in values if v is not None and v != "") <= 3:
        filled = [t for t in texts if t]
        if filled and len(set(filled)) <= 2 and _FOOTER.match(filled[0]):
            report.footer += 1
            return
    if get.get("status") and _RETIRED.search(key(get["status"])):
        report.retired.append(rowno)
        return
    if any(get.get(r) and _STANDALONE.search(key(get[r])) for r in ("segment", "ip")):
        report.standalone.append(rowno)
        return
    for r in ("ip", "mac"):
        if get.get(r) and key(get[r]) in _NONE:
            get[r] = ""
    problems: list[Problem] = []

    def bad(role: str | None, zh: str, en: str) -> None:
        problems.append(Problem(Where(result.file, sheet.name, rowno, by.get(role) if role else None),
                                text(zh, en)))

    # addresses
    ip = mac = None
    raw_ip = half(get.get("ip", ""))
    if raw_ip:
        addr = raw_ip.split("/", 1)[0].strip() if raw_ip.count("/") == 1 and \
            raw_ip.split("/", 1)[1].strip().isdigit() else raw_ip
        ip = parse_ip(addr)
        if ip is None:
            several = re.search(r"[,;，；、\s]", raw_ip)
            if several:
                bad("ip", f"'{raw_ip}' 含多个地址：每行登记一个地址（多网卡设备请在清单 YAML 中用 interfaces 声明）",
                    f"'{raw_ip}' holds several addresses: one per row (declare a device with several "
                    "network cards in YAML, with interfaces)")
            else:
                bad("ip", f"'{raw_ip}' 不是有效的 IPv4/IPv6 地址", f"'{raw_ip}' is not a valid IPv4/IPv6 address")
    raw_mac = get.get("mac", "")
    if raw_mac:
        col = by["mac"]
        v = values[col.index] if col.index < len(values) else None
        if isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer() \
                and 0 <= v < 10 ** 12:
            text_mac = str(int(v)).rjust(12, "0")      # 001122334455 typed into a number cell
        else:
            text_mac = half(raw_mac).replace(" ", "")
        mac = normalise_mac(text_mac)
        if mac is None:
            bad("mac", f"'{raw_mac}' 不是有效的 MAC 地址（如 AA-BB-CC-DD-EE-FF）",
                f"'{raw_mac}' is not a valid MAC address (like AA-BB-CC-DD-EE-FF)")
    # where it sits
    seg: Segment | None = None
    how = None
    seg_text = get.get("segment", "")
    if seg_text:
        seg = placer.named(seg_text)
        how = "column"
        if seg is None:
            bad("segment", f"'{seg_text}' 不是已声明的网段（可选：{placer.choices()}；或在 --map 的 segments 中对应）",
                f"'{seg_text}' is no declared segment (one of: {placer.choices_en()}; or map it "
                "under segments in --map)")
    elif ip is not None:
        seg, how = placer.holding(ip), "ip"
    if seg is None and not seg_text and sheet.name is not None:
        seg, how = placer.named(sheet.name), "sheet"
    if seg is not None and ip is not None and how != "ip":
        why = placer.why_not_in(seg, ip)
        if why is not None:
            nets = ", ".join(str(n) for n in seg.networks)
            zh = {"outside": "不在", "network": "是", "broadcast": "是"}[why]
            tail_zh = {"outside": "内", "network": "的网络地址", "broadcast": "的广播地址"}[why]
            tail_en = {"outside": "is outside", "network": "is the network address of",
                       "broadcast": "is the broadcast address of"}[why]
            bad("ip", f"地址 {ip} {zh}网段 {seg.name}（{nets}）{tail_zh}",
                f"address {ip} {tail_en} segment {seg.name} ({nets})")
    elif seg is not None and ip is not None and how == "ip":
        why = placer.why_not_in(seg, ip)
        if why in ("network", "broadcast"):
            bad("ip", f"地址 {ip} 是网段 {seg.name} 的{'网络' if why == 'network' else '广播'}地址",
                f"address {ip} is the {why} address of segment {seg.name}")
    if seg is None and not seg_text:
        if ip is not None:
            bad("ip", f"地址 {ip} 不在任何已声明的网段内（{placer.choices()}）：无法确定设备所在网段",
                f"address {ip} lies in no declared segment ({placer.choices_en()}): the device "
                "is in no segment")
        elif not raw_ip:
            bad(None, "设备不在任何网段：既无 IP 地址、所属网络列，工作表名也不是网段名",
                "the device is in no segment: no IP address, no network column, and the sheet "
                "is not named after a segment")
    # who and what
    name = half(get.get("name", ""))
    asset = half(get.get("asset_tag", "")) or None
    custodian = tidy(get.get("custodian", "")) or None
    if not name:
        name = asset or ""
    if not name:
        bad("name" if "name" in by else None, "缺少设备名称（也没有资产编号可代替）",
            "no device name (and no asset tag to name it by)")
    level_text = get.get("level", "")
    classified = (seg is not None and seg.classified) or classified_mark(level_text)
    if seg is not None and not seg.classified and classified_mark(level_text):
        bad("level", f"密级为“{level_text}”的设备登记在非涉密网段 {seg.name}：涉密计算机不得接入非涉密网络"
                     "（更正密级或所属网络）",
            f"a device marked {level_text} is registered on the non-classified segment {seg.name}: "
            "a classified computer never joins a non-classified network (correct the level or the network)")
    if classified:
        why_zh = f"涉密网段 {seg.name} 上的设备" if seg is not None and seg.classified \
            else f"密级为“{level_text}”的设备"
        why_en = f"a device on classified segment {seg.name}" if seg is not None and seg.classified \
            else f"a device marked {level_text}"
        if not custodian:
            bad("custodian" if "custodian" in by else None, f"{why_zh}缺少责任人（专人管理）",
                f"{why_en} has no custodian (责任人)")
        if not asset:
            bad("asset_tag" if "asset_tag" in by else None, f"{why_zh}缺少资产编号（统一标识）",
                f"{why_en} has no asset tag (资产编号)")
    kind_text = get.get("kind", "")
    kind = kind_of(kind_text, ledger_map) if kind_text else \
        (ledger_map.default_kind if ledger_map is not None else "workstation")
    if problems:
        result.problems.extend(problems)
        result.bad_rows += 1
        return
    # the register's other columns, and the 设备类型 / 所属网络 cells as written
    register = [(k, texts[i]) for i, k in layout.kept if texts[i]]
    result.entries.append(Entry(sheet.name, rowno, name, kind, seg.name, asset, custodian,
                                str(ip) if ip is not None else None, mac, register, by, layout))
    report.devices += 1
    if seg.name not in report.segments:
        report.segments.append(seg.name)


def _name_duplicates(result: ImportResult) -> None:
    """Ledgers name many devices alike (台式计算机): a name shared by several
    rows becomes name-资产编号 where there is an asset tag; the cell's own text
    stays in the register, so an export writes it back as it was."""
    count: dict[str, int] = {}
    for e in result.entries:
        count[e.name] = count.get(e.name, 0) + 1
    for e in result.entries:
        if count[e.name] > 1 and e.asset_tag and e.name != e.asset_tag:
            col = e.cells.get("name")
            if col is not None:
                where = {c.key: c.index for c in e.layout.columns}
                e.register.insert(0, (col.key, e.name))
                e.register.sort(key=lambda kv: where.get(kv[0], 10 ** 6))
            e.name = f"{e.name}-{e.asset_tag}"


def _same(e: Entry, d: Device) -> bool:
    ips = {str(i.ip) for i in d.interfaces if i.ip is not None}
    macs = {i.mac for i in d.interfaces if i.mac}
    return ((e.ip is None or e.ip in ips) and (e.mac is None or e.mac in macs)
            and (e.asset_tag or None) == (d.asset_tag or None)
            and (e.custodian or None) == (d.custodian or None))


def _check_unique(result: ImportResult, known: Iterable[Device]) -> None:
    """Name, IP, MAC and asset tag: unique over the ledger and the -i devices.
    The first row keeps its value; each later one is a problem."""
    first: dict[tuple, str | Entry] = {}
    for d in known:
        where = f"{d.loc.file}" if d.loc is not None else "-i"
        first[("name", d.name)] = f"{where}（{d.name}）"
        if d.asset_tag:
            first[("asset_tag", d.asset_tag)] = f"{where}（{d.name}）"
        for i in d.interfaces:
            if i.ip is not None:
                first[("ip", str(i.ip))] = f"{where}（{d.name}）"
            if i.mac is not None:
                first[("mac", i.mac)] = f"{where}（{d.name}）"
    declared = {d.name: d for d in known}
    keep = []
    for e in result.entries:
        d = declared.get(e.name)
        if d is not None and _same(e, d):
            # the register lists a device the YAML declares (a gateway with two
            # cards, say): the same device, left to that file
            for r in result.sheets:
                if r.name == e.sheet:
                    r.devices -= 1
                    r.declared += 1
            continue
        dups = []
        for role, value in (("name", e.name), ("asset_tag", e.asset_tag), ("ip", e.ip),
                            ("mac", e.mac)):
            if value is None:
                continue
            prev = first.get((role, value))
            if prev is None:
                continue
            if isinstance(prev, Entry):
                s_zh = f"「{prev.sheet}」" if prev.sheet is not None and prev.sheet != e.sheet else ""
                s_en = f" of sheet {prev.sheet}" if prev.sheet is not None and prev.sheet != e.sheet else ""
                other = text(f"{s_zh}第 {prev.row} 行", f"row {prev.row}{s_en}")
            else:
                other = text(prev, prev.replace("（", " (").replace("）", ")"))
            label = LABELS[role]
            col = e.cells.get(role) if role != "name" or e.cells.get("name") else e.cells.get("asset_tag")
            dups.append(Problem(Where(result.file, e.sheet, e.row, col), text(
                f"{label['zh-CN']} {value} 与{other['zh-CN']}重复",
                f"{label['en']} {value} is already registered by {other['en']}")))
        if dups:
            result.problems.extend(dups)
            result.bad_rows += 1
            for r in result.sheets:
                if r.name == e.sheet:
                    r.devices -= 1
            continue
        for role, value in (("name", e.name), ("asset_tag", e.asset_tag), ("ip", e.ip),
                            ("mac", e.mac)):
            if value is not None:
                first[(role, value)] = e
        keep.append(e)
    result.entries = keep
