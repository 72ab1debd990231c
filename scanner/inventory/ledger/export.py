"""The inventory written back as the unit's register (台账), with what the
network saw beside each device, ready to print, sign and file.

Sheets and columns follow the ledger the inventory was imported from (its
`ledger:` section: sheet names, title rows, column order), else a map's
`order`, else one sheet per segment in a default order. With the store's
view (scanner.store.seen.Seen) each row gains the columns EXPORT_MARK names
(last seen, where, addresses, open findings, attention) and rows that need
attention are shaded: never seen on a segment a discovery covered, seen with
another MAC than registered, seen on another segment. Stations seen that no
device registers get a sheet of their own (未登记设备). Those columns and that
sheet are left out when the export is imported again.

Printing: A4 landscape, one page wide, the title and header rows repeated on
every page, page numbers and a line for the 保密员's signature in the footer.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Sequence

from scanner.model import Device, Inventory, Text, pick, text
from scanner.inventory.ledger.build import EXPORT_NOTES, EXPORT_UNREGISTERED
from scanner.inventory.ledger.columns import EXPORT_MARK
from scanner.inventory.ledger.yamlout import ledger_sheets

KIND_ZH = {"workstation": "计算机", "server": "服务器", "printer": "打印机", "switch": "交换机",
           "router": "路由器", "firewall": "防火墙", "gateway": "网关", "transfer": "单向导入设备",
           "probe": "检查探针", "other": "其他"}

DEFAULT_COLUMNS = [("序号", "register"), ("设备名称", "name"), ("设备类型", "kind"),
                   ("资产编号", "asset_tag"), ("责任人", "custodian"), ("所属网络", "segment"),
                   ("IP地址", "ip"), ("MAC地址", "mac")]
DEFAULT_COLUMNS_EN = [("No.", "register"), ("Device name", "name"), ("Type", "kind"),
                      ("Asset tag", "asset_tag"), ("Custodian", "custodian"),
                      ("Network", "segment"), ("IP address", "ip"), ("MAC address", "mac")]


def seen_columns(lang: str) -> list[str]:
    zh = ["最近发现", "发现位置", "发现地址", "未关闭问题", "需关注"]
    en = ["Last seen", "Seen on", "Addresses seen", "Open findings", "Attention"]
    return [EXPORT_MARK + h for h in (zh if lang == "zh-CN" else en)]


@dataclass
class Row:
    device: Device
    cells: list
    attention: list = field(default_factory=list)


@dataclass
class ExportSummary:
    sheets: list = field(default_factory=list)      # (name, rows)
    attention: int = 0
    unregistered: int = 0
    never_seen: int = 0
    mismatched: int = 0


def _layouts(inv: Inventory, ledger_map, lang: str) -> list[dict]:
    """[{name, title, columns [(header, role)], segments}] the devices go into."""
    sheets = ledger_sheets(inv.extras)
    if not sheets:
        cols = DEFAULT_COLUMNS if lang == "zh-CN" else DEFAULT_COLUMNS_EN
        seen_keys: list[str] = []
        for d in inv.devices:
            for k, _ in d.register:
                if k not in seen_keys and k not in {c for c, _ in cols}:
                    seen_keys.append(k)
        cols = list(cols) + [(k, "register") for k in seen_keys]
        sheets = [{"name": s.title or s.name, "title": None, "columns": cols, "segments": [s.name]}
                  for s in inv.segments if any(s.name in d.segments for d in inv.devices)]
    if ledger_map is not None and ledger_map.order:
        rank = {h: i for i, h in enumerate(ledger_map.order)}
        for s in sheets:
            s["columns"] = sorted(s["columns"], key=lambda c: rank.get(c[0], len(rank)))
    return sheets


def _value(d: Device, header: str, role: str, inv: Inventory, lang: str = "zh-CN") -> str:
    reg = dict(d.register)
    first = d.interfaces[0] if d.interfaces else None
    if role in ("register", "level", "status"):
        return reg.get(header, "")
    if role == "name":
        return reg.get(header, d.name)
    if role == "kind":
        return reg.get(header, KIND_ZH.get(d.kind, d.kind) if lang == "zh-CN" else d.kind)
    if role == "segment":
        if header in reg:
            return reg[header]
        seg = inv.segment(first.segment) if first is not None else None
        return (seg.title or seg.name) if seg is not None else ""
    if role == "asset_tag":
        return d.asset_tag or ""
    if role == "custodian":
        return d.custodian or ""
    if role == "ip":
        return str(first.ip) if first is not None and first.ip is not None else ""
    if role == "mac":
        return first.mac.upper().replace(":", "-") if first is not None and first.mac else ""
    return ""


class _Index:
    """The store's view looked up by MAC, address and device name (one pass each)."""

    def __init__(self, seen):
        self.seen = seen
        self.by_mac: dict[str, list] = {}
        self.by_ip: dict[str, list] = {}
        for s in seen.stations:
            self.by_mac.setdefault(s.mac, []).append(s)
            for a in s.addresses:
                self.by_ip.setdefault(a, []).append(s)
        self.findings: dict[tuple, list] = {}
        for n, f in enumerate(seen.open_findings):
            sub = f.get("subject") or {}
            for k in ("device", "mac", "ip"):
                if sub.get(k):
                    self.findings.setdefault((k, sub[k]), []).append((n, f))


def _observed(d: Device, ix: _Index, inv: Inventory, zone, lang: str
              ) -> tuple[list[str], list[Text]]:
    """The five seen columns of a device, and why it needs attention."""
    from scanner.localtime import local_iso
    macs = {i.mac for i in d.interfaces if i.mac}
    ips = {str(i.ip) for i in d.interfaces if i.ip is not None}
    segs = set(d.segments)
    mine = [s for m in sorted(macs) for s in ix.by_mac.get(m, ())]
    by_ip = list({id(s): s for a in sorted(ips) for s in ix.by_ip.get(a, ())
                  if s.mac not in macs}.values())
    attention: list[Text] = []
    last = max((s.last_seen for s in mine), default="")
    where = sorted({s.segment for s in mine})
    addrs = sorted({a for s in mine for a in s.addresses})
    if mine and not (set(where) & segs):
        attention.append(text(f"位置不符：登记在 {'、'.join(sorted(segs))}，实见于 {'、'.join(where)}",
                              f"misplaced: registered on {', '.join(sorted(segs))}, seen on "
                              f"{', '.join(where)}"))
    for s in by_ip:
        if macs:
            shown = "、".join(sorted(m.upper().replace(":", "-") for m in macs))
            at = ", ".join(sorted(ips & set(s.addresses)))
            attention.append(text(
                f"MAC 不符：{at} 登记为 {shown}，实见 {s.mac.upper().replace(':', '-')}",
                f"MAC mismatch: {at} is registered as {shown}, seen as "
                f"{s.mac.upper().replace(':', '-')}"))
    if not mine and not by_ip:
        if segs & set(ix.seen.covered):
            attention.append(text("从未发现：所在网段已核查，未见该设备",
                                  "never seen: its segment was swept, the device was not there"))
        else:
            attention.append(text("未核查：所在网段尚无成功的发现扫描",
                                  "not checked: no successful discovery of its segment yet"))
    hits = {n: f for k, vs in (("device", (d.name,)), ("mac", macs), ("ip", ips))
            for v in vs for n, f in ix.findings.get((k, v), ())}
    ids = sorted({f.get("check_id", "") for f in hits.values()})
    sep = "；" if lang == "zh-CN" else "; "
    cells = [local_iso(last, zone) if last else "",
             ("、" if lang == "zh-CN" else ", ").join(_segment_title(inv, w) for w in where),
             ", ".join(addrs),
             (f"{len(hits)}{'：' if lang == 'zh-CN' else ': '}{', '.join(ids)}" if hits else ""),
             sep.join(pick(a, lang) for a in attention)]
    return cells, attention


def export_workbook(inv: Inventory, path: str, *, seen=None, ledger_map=None, lang: str = "zh-CN",
                    zone=None, now: datetime | None = None, store: str | None = None
                    ) -> ExportSummary:
    """Write the register to path (atomically); what was written, counted."""
    from openpyxl import Workbook
    from scanner.atomicio import open_atomic
    from scanner.localtime import local_iso
    now = now or datetime.now(timezone.utc)
    stamp = local_iso(now, zone)
    wb = Workbook()
    wb.remove(wb.active)
    summary = ExportSummary()
    placed: set[str] = set()
    layouts = _layouts(inv, ledger_map, lang)
    # devices not on any ledger sheet's segments (declared in YAML beside it) join a sheet of their segment
    extra_cols = layouts[0]["columns"] if layouts else DEFAULT_COLUMNS
    for s in inv.segments:
        if not any(s.name in lay["segments"] for lay in layouts) and \
                any(s.name in d.segments for d in inv.devices):
            layouts.append({"name": s.title or s.name, "title": None, "columns": extra_cols,
                            "segments": [s.name]})
    used_names: set[str] = set()
    ix = _Index(seen) if seen is not None else None
    by_name = {d.name: d for d in inv.devices}
    listed = {n for lay in layouts for n in lay.get("devices") or ()}
    for lay in layouts:
        # the sheet's own rows in their order, then devices of its segments no sheet lists
        devices = [by_name[n] for n in dict.fromkeys(lay.get("devices") or ())
                   if n in by_name and n not in placed]
        placed.update(d.name for d in devices)
        devices += [d for d in inv.devices if d.name not in placed and d.name not in listed
                    and d.segments and d.segments[0] in lay["segments"]]
        if not devices:
            continue
        placed.update(d.name for d in devices)
        headers = [h for h, role in lay["columns"]]
        if seen is not None:
            headers += seen_columns(lang)
        rows = []
        for d in devices:
            cells = [_value(d, h, role, inv, lang) for h, role in lay["columns"]]
            attention = []
            if seen is not None:
                more, attention = _observed(d, ix, inv, zone, lang)
                cells += more
            rows.append(Row(d, cells, attention))
        name = _sheet_name(lay["name"] or "台账", used_names)
        title = lay["title"] or (f"{inv.organization.name}{name}设备台账" if lang == "zh-CN"
                                 else f"{inv.organization.name}: register of {name}")
        _sheet(wb, name, title, headers, [r.cells for r in rows],
               [bool(r.attention and _needs(r.attention)) for r in rows], stamp, lang)
        summary.sheets.append((name, len(rows)))
        for r in rows:
            if r.attention and _needs(r.attention):
                summary.attention += 1
            summary.never_seen += any(a["en"].startswith("never seen") for a in r.attention)
            summary.mismatched += any(a["en"].startswith("MAC mismatch") for a in r.attention)
    if seen is not None:
        known = {i.mac for d in inv.devices for i in d.interfaces if i.mac}
        registered_ips = {str(i.ip) for d in inv.devices for i in d.interfaces if i.ip is not None}
        # a card answering on a registered device's address is that row's MAC mismatch
        strangers = [s for s in seen.stations if s.mac not in known
                     and not (s.addresses and set(s.addresses) <= registered_ips)]
        summary.unregistered = len(strangers)
        if lang == "zh-CN":
            headers = ["所属网络", "MAC地址", "发现地址", "首次发现", "最近发现", "现状", "处理意见"]
        else:
            headers = ["Network", "MAC address", "Addresses seen", "First seen", "Last seen",
                       "State", "Action taken"]
        state = {"present": text("在网", "present"), "vanished": text("已离网", "vanished")}
        cells = [[_segment_title(inv, s.segment), s.mac.upper().replace(":", "-"),
                  ", ".join(s.addresses), local_iso(s.first_seen, zone), local_iso(s.last_seen, zone),
                  pick(state.get(s.state, text(s.state, s.state)), lang), ""] for s in strangers]
        name = EXPORT_UNREGISTERED[0] if lang == "zh-CN" else EXPORT_UNREGISTERED[1]
        title = (f"{inv.organization.name}未登记设备（扫描发现，须登记或清除）" if lang == "zh-CN"
                 else f"{inv.organization.name}: stations found that no device registers "
                 "(register or remove them)")
        _sheet(wb, name, title, headers, cells, [True] * len(cells), stamp, lang)
        summary.sheets.append((name, len(cells)))
    if seen is not None:
        _notes(wb, inv, stamp, store, summary, lang)
    if not wb.worksheets:
        _sheet(wb, "台账" if lang == "zh-CN" else "Register", inv.organization.name,
               [h for h, _ in (DEFAULT_COLUMNS if lang == "zh-CN" else DEFAULT_COLUMNS_EN)],
               [], [], stamp, lang)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open_atomic(path) as fh:
        wb.save(fh)
    return summary


def _notes(wb, inv: Inventory, stamp: str, store: str | None, summary: ExportSummary,
           lang: str) -> None:
    """A last sheet saying what the marks mean, for whoever signs the printout."""
    from openpyxl.styles import Alignment, Font
    zh = lang == "zh-CN"
    ws = wb.create_sheet(EXPORT_NOTES[0] if zh else EXPORT_NOTES[1])
    lines = [
        (f"{inv.organization.name}设备台账核对说明" if zh else f"{inv.organization.name}: notes on this register"),
        (f"导出时间：{stamp}（isoscan）" if zh else f"Exported: {stamp} (isoscan)"),
        (f"扫描数据：{store}" if zh else f"Scan data: {store}") if store else None,
        (f"需关注 {summary.attention} 台（从未发现 {summary.never_seen}，MAC 不符 {summary.mismatched}）；"
         f"未登记设备 {summary.unregistered} 台" if zh else
         f"{summary.attention} need attention ({summary.never_seen} never seen, {summary.mismatched} "
         f"MAC mismatches); {summary.unregistered} unregistered station(s)"),
        "",
        ("【核查】各列是扫描所见，不是台账内容；台账重新导入时不读取这些列和本工作表。" if zh else
         "The 【核查】 columns are what the scans saw, not the register; importing the register "
         "again reads neither them nor this sheet."),
        ("浅橙色底纹：需关注的行。" if zh else "Shaded orange: rows that need attention."),
        ("从未发现：所在网段的发现扫描成功，但该设备的 MAC 与地址都没有应答——核实设备是否在位、是否已报废。" if zh else
         "Never seen: its segment's discovery worked and neither its MAC nor its address answered: "
         "check that it is there, or whether it was scrapped."),
        ("未核查：所在网段尚无成功的发现扫描，不能据此判断设备在位与否。" if zh else
         "Not checked: no discovery of its segment has worked yet; nothing can be said."),
        ("MAC 不符：登记的地址由另一块网卡应答——核实是否更换了网卡或有设备冒用该地址。" if zh else
         "MAC mismatch: its registered address answered from another card: a replaced card, or "
         "someone using its address."),
        ("位置不符：该设备在其他网段被发现——核实是否被移动。" if zh else
         "Misplaced: it was seen on another segment: was it moved?"),
        ("未登记设备：扫描发现、台账中没有的设备，须登记或清除，并在“处理意见”栏填写结果。" if zh else
         "Unregistered stations: found by the scans, in no register: register or remove each, and "
         "write what was done under Action taken."),
        "",
        ("保密员（签字）：____________    日期：________" if zh else
         "Security officer (signature): ____________    Date: ________"),
    ]
    for n, line in enumerate((x for x in lines if x is not None), start=1):
        _cell(ws, n, 1, line)
    ws["A1"].font = Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 110
    for row in ws.iter_rows():
        row[0].alignment = Alignment(wrap_text=True, vertical="top")
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"


def _needs(attention: list[Text]) -> bool:
    """'not checked' alone is no alarm: it says what was not looked at."""
    return any(not a["en"].startswith("not checked") for a in attention)


def _segment_title(inv: Inventory, name: str) -> str:
    seg = inv.segment(name)
    return (seg.title or seg.name) if seg is not None else name


_BAD_SHEET_CHARS = str.maketrans({c: "_" for c in "[]:*?/\\"})


def _sheet_name(name: str, used: set[str]) -> str:
    base = name.translate(_BAD_SHEET_CHARS)[:31] or "Sheet"
    out, n = base, 2
    while out in used:
        out = f"{base[:28]} {n}"
        n += 1
    used.add(out)
    return out


def _width(s: str) -> int:
    return sum(2 if ord(c) > 0x2E80 else 1 for c in s)


def _styles(wb) -> tuple[str, str]:
    """The two cell styles (bordered text; shaded for a row needing attention), added once."""
    from openpyxl.styles import Alignment, Border, NamedStyle, PatternFill, Side
    names = ("isoscan-cell", "isoscan-attention")
    if names[0] not in wb.named_styles:
        thin = Side(style="thin", color="000000")
        for name, fill in zip(names, (None, PatternFill("solid", fgColor="FCE4D6"))):
            st = NamedStyle(name=name, number_format="@",
                            border=Border(left=thin, right=thin, top=thin, bottom=thin),
                            alignment=Alignment(vertical="center", wrap_text=True))
            if fill is not None:
                st.fill = fill
            wb.add_named_style(st)
    return names


def _cell(ws, row: int, column: int, v):
    """One cell of the export. Every string written comes from a register, an
    inventory or the network: control characters removed (a hand-edited
    register), and one that starts with "=" kept as text, never a formula to
    Excel (a title and a header too, not only the rows)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    if isinstance(v, str):
        v = ILLEGAL_CHARACTERS_RE.sub("", v)
    c = ws.cell(row=row, column=column, value=v)
    if isinstance(v, str) and v.startswith("="):
        c.data_type = "s"
    return c


def _sheet(wb, name: str, title: str, headers: Sequence[str], rows: Sequence[list],
           shaded: Sequence[bool], stamp: str, lang: str) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.properties import PageSetupProperties
    ws = wb.create_sheet(name)
    ncols = max(len(headers), 1)
    _cell(ws, 1, 1, title)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncols)
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 24
    plain, marked = _styles(wb)
    thin = Side(style="thin", color="000000")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    head_fill = PatternFill("solid", fgColor="D9D9D9")
    bold = Font(bold=True)
    centred = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for i, h in enumerate(headers, start=1):
        c = _cell(ws, 2, i, h)
        c.font, c.fill, c.border, c.alignment = bold, head_fill, border, centred
    widths = [_width(h) for h in headers]
    # cell by cell (ws[r] would measure the whole sheet for every row)
    for r, (cells, shade) in enumerate(zip(rows, shaded), start=3):
        for i, v in enumerate(cells):
            c = _cell(ws, r, i + 1, v)
            c.style = marked if shade else plain      # one named style: one lookup a cell
            if i < len(widths):
                widths[i] = max(widths[i], min(_width(str(v)), 40))
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(6, min(w + 2, 42))
    ws.freeze_panes = "A3"
    ws.print_title_rows = "1:2"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    if lang == "zh-CN":
        ws.oddFooter.left.text = "保密员（签字）：____________    日期：________"
        ws.oddFooter.right.text = "第 &P 页 共 &N 页"
        ws.oddHeader.right.text = f"导出：{stamp}（isoscan）"
    else:
        ws.oddFooter.left.text = "Security officer (signature): ____________    Date: ________"
        ws.oddFooter.right.text = "Page &P of &N"
        ws.oddHeader.right.text = f"Exported {stamp} (isoscan)"

