"""Reading a ledger file (.xlsx, .xls, .csv) into sheets of rows, refusing
hostile files before any library inflates or evaluates them.

    with open_ledger("台账.xlsx") as ledger:
        for sheet in ledger.sheets:
            for rowno, values in sheet.rows():   # 1-based row numbers, as Excel shows them
                ...

What is refused (LedgerError, one clear line, nothing read):
  * a file over ISOSCAN_MAX_LEDGER_BYTES (default 64 MiB) on disk;
  * an .xlsx whose zip declares more than 128 MiB inflated, a member inflating
    more than 200 times its compressed size (past 1 MiB), or more than 10,000
    members (a zip bomb is found from the zip's directory, before anything is
    inflated; Python's zipfile never inflates past a member's declared size);
  * macros: .xlsm/.xltm, or an .xlsx/.xls carrying a VBA project (vbaProject.bin,
    _VBA_PROJECT). Nothing here would run them, but a classified unit's register
    has no business carrying code: save it as a plain workbook (.xlsx);
  * a sheet of more than ISOSCAN_LEDGER_MAX_ROWS (default 100,000) non-empty rows,
    or a row number past Excel's own limit (1,048,576): the rows in the sheet's
    bytes counted before openpyxl parses anything (with 50,000 rows of slack for
    rows Excel keeps for formatting alone), then the non-empty ones counted again
    while streaming (openpyxl read_only=True), never trusting the declared
    dimension; shared strings past 64 a row likewise.

Formulas are never evaluated: their cached values (data_only=True) are read,
as Excel last computed them; a formula never computed reads as empty. Only the
first MAX_COLUMNS columns of a sheet are read.
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from scanner.model import Text, text

MAX_COLUMNS = 256
EXCEL_MAX_ROW = 1_048_576
MAX_INFLATED = 128 * 1024 * 1024
MAX_RATIO = 200
RATIO_FROM = 1024 * 1024
MAX_MEMBERS = 10_000
MAX_MERGED_ROWS = 2_000_000
SUFFIXES = (".xlsx", ".xls", ".csv")
MACRO_SUFFIXES = (".xlsm", ".xltm", ".xlam")


class LedgerError(Exception):
    """A ledger that cannot or must not be read: the whole file is refused."""

    def __init__(self, message: Text):
        super().__init__(message["en"])
        self.message = message


def max_bytes() -> int:
    env = os.environ.get("ISOSCAN_MAX_LEDGER_BYTES", "")
    return int(env) if env.isdigit() and int(env) > 0 else 64 * 1024 * 1024


def max_rows() -> int:
    env = os.environ.get("ISOSCAN_LEDGER_MAX_ROWS", "")
    return int(env) if env.isdigit() and int(env) > 0 else 100_000


@dataclass
class Sheet:
    name: str | None              # None for a CSV file (it has no sheets)
    hidden: bool = False          # a hidden sheet (often a list of choices for a drop-down)
    hidden_columns: frozenset = frozenset()      # 1-based column numbers
    merged: tuple = ()            # (min_row, min_col, max_row, max_col) of each merged range
    formulas: bool = False        # the sheet has formulas (their cached values are read)
    _rows: Callable[[int, int], Iterator[tuple[int, tuple]]] | None = field(default=None,
                                                                            repr=False)
    file: str = ""                # the ledger's file name, for the messages

    def rows(self, width: int = MAX_COLUMNS, first: int = 1) -> Iterator[tuple[int, tuple]]:
        """(row number, values) of every non-empty row from row `first` on, at
        most `width` columns, merged ranges filled from their top-left cell, the
        non-empty row count capped."""
        cap, seen = max_rows(), 0
        width = max(1, min(width, MAX_COLUMNS))
        try:
            fill = _merge_filler(self.merged)
        except LedgerError as exc:
            raise LedgerError(_where(self, exc.message)) from None
        blank = None          # openpyxl yields one shared tuple for every missing row
        for rowno, values in self._rows(width, first):
            if values is blank:
                if rowno > EXCEL_MAX_ROW:
                    raise LedgerError(_where(self, _past_excel(rowno)))
                continue
            if rowno > EXCEL_MAX_ROW:
                raise LedgerError(_where(self, _past_excel(rowno)))
            if not any(v is not None and v != "" for v in values):
                blank = values
                continue
            if fill is not None:
                values = fill(rowno, values)
            seen += 1
            if seen > cap:
                raise LedgerError(_where(self, text(
                    f"非空行超过 {cap} 行（ISOSCAN_LEDGER_MAX_ROWS，至第 {rowno} 行），拒绝读取",
                    f"more than {cap} non-empty rows (ISOSCAN_LEDGER_MAX_ROWS; reached at row "
                    f"{rowno}): refused")))
            yield rowno, values


def _past_excel(rowno: int) -> Text:
    return text(f"行号 {rowno} 超出 Excel 的上限（{EXCEL_MAX_ROW}），拒绝读取",
                f"row number {rowno} is beyond Excel's limit ({EXCEL_MAX_ROW}): refused")


def _where(sheet: Sheet, msg: Text) -> Text:
    """The message with the file and the sheet it is about."""
    f_zh = f"{sheet.file}：" if sheet.file else ""
    f_en = f"{sheet.file}: " if sheet.file else ""
    if sheet.name is None:
        return text(f_zh + msg["zh-CN"], f_en + msg["en"])
    return text(f"{f_zh}工作表「{sheet.name}」：{msg['zh-CN']}",
                f"{f_en}sheet {sheet.name}: {msg['en']}")


def _merge_filler(merged):
    """A function giving each cell of a merged range its top-left value."""
    if not merged:
        return None
    by_row: dict[int, list] = {}
    tops: dict[tuple[int, int], Any] = {}
    budget = MAX_MERGED_ROWS
    for r1, c1, r2, c2 in merged:
        if c1 > MAX_COLUMNS or r1 > EXCEL_MAX_ROW:
            continue
        budget -= min(r2, EXCEL_MAX_ROW) - r1 + 1
        if budget < 0:
            raise LedgerError(text(
                f"合并单元格覆盖超过 {MAX_MERGED_ROWS} 行，拒绝读取",
                f"merged cells span more than {MAX_MERGED_ROWS} rows: refused"))
        for r in range(r1, min(r2, EXCEL_MAX_ROW) + 1):
            by_row.setdefault(r, []).append((r1, c1, min(c2, MAX_COLUMNS)))

    def fill(rowno: int, values: tuple) -> tuple:
        spans = by_row.get(rowno)
        if not spans:
            return values
        out = list(values)
        for r1, c1, c2 in spans:
            if rowno == r1:
                tops[(r1, c1)] = out[c1 - 1] if c1 - 1 < len(out) else None
            top = tops.get((r1, c1))
            if len(out) < c2:
                out.extend([None] * (c2 - len(out)))
            for c in range(c1, c2 + 1):
                if not (rowno == r1 and c == c1):
                    out[c - 1] = top
        return tuple(out)
    return fill


@dataclass
class Ledger:
    path: str
    kind: str                     # xlsx | xls | csv
    sheets: list[Sheet]
    encoding: str | None = None   # a CSV file's
    sha256: str = ""              # of the bytes read (the file is read once: what is
                                  # checked, parsed and named in devices.yaml is one file)


def kind_of(path: str) -> str:
    low = path.lower()
    if low.endswith(MACRO_SUFFIXES):
        raise LedgerError(text(
            f"{os.path.basename(path)}：启用宏的工作簿（{os.path.splitext(path)[1]}）一律拒绝读取；"
            "请在 Excel 中另存为“Excel 工作簿（.xlsx）”后再导入",
            f"{os.path.basename(path)}: a macro-enabled workbook ({os.path.splitext(path)[1]}) "
            "is refused; save it as an Excel Workbook (.xlsx) and import that"))
    for suffix in SUFFIXES:
        if low.endswith(suffix):
            return suffix[1:]
    raise LedgerError(text(
        f"{os.path.basename(path)}：不支持的台账格式（支持 .xlsx、.xls、.csv）",
        f"{os.path.basename(path)}: not a ledger format read here (.xlsx, .xls or .csv)"))


@contextlib.contextmanager
def open_ledger(path: str) -> Iterator[Ledger]:
    """The ledger at path, its sheets streamed (see the module docstring)."""
    kind = kind_of(path)
    name = os.path.basename(path)
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise LedgerError(text(f"{path}：无法读取（{exc.strerror or exc}）",
                               f"{path}: cannot be read ({exc.strerror or exc})")) from None
    cap = max_bytes()
    if size > cap:
        raise LedgerError(_too_large(name, size, cap))
    try:
        with open(path, "rb") as fh:
            raw = fh.read(cap + 1)
    except OSError as exc:
        raise LedgerError(text(f"{path}：无法读取（{exc.strerror or exc}）",
                               f"{path}: cannot be read ({exc.strerror or exc})")) from None
    if len(raw) > cap:                    # it grew since stat()
        raise LedgerError(_too_large(name, len(raw), cap))
    import hashlib
    sha = hashlib.sha256(raw).hexdigest()
    if kind == "csv":
        ledger = _csv(path, raw)
    elif kind == "xls":
        ledger = _xls(path, raw)
    else:
        with _xlsx(path, raw) as ledger:
            ledger.sha256 = sha
            yield ledger
        return
    ledger.sha256 = sha
    yield ledger


def _too_large(name: str, size: int, cap: int) -> Text:
    return text(f"{name}：文件过大（{size} 字节，上限 {cap}，ISOSCAN_MAX_LEDGER_BYTES）",
                f"{name}: too large ({size} bytes, the limit is {cap}, ISOSCAN_MAX_LEDGER_BYTES)")


# --------------------------------------------------------------------------
# .xlsx (openpyxl, read-only, cached values)

_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*?ref="([A-Za-z]{1,3})(\d{1,7}):([A-Za-z]{1,3})(\d{1,7})"')
_COL = re.compile(rb'<(?:\w+:)?col\s([^>]*)/?>')
_ATTR = re.compile(rb'(\w+)="([^"]*)"')
_FORMULA = re.compile(rb'<(?:\w+:)?f[\s>/]')


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def check_zip(path: str, raw: bytes) -> None:
    """Refuse a zip bomb or a VBA project from the zip's directory alone."""
    name = os.path.basename(path)
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise LedgerError(text(f"{name}：不是有效的 .xlsx 文件（{exc}）",
                               f"{name}: not a valid .xlsx file ({exc})")) from None
    if len(infos) > MAX_MEMBERS:
        raise LedgerError(text(f"{name}：压缩包内文件过多（{len(infos)}），拒绝读取",
                               f"{name}: too many parts in the zip ({len(infos)}): refused"))
    total = 0
    for i in infos:
        base = i.filename.rsplit("/", 1)[-1].lower()
        if base in ("vbaproject.bin", "vbaprojectsignature.bin"):
            raise LedgerError(text(
                f"{name}：含宏（{i.filename}），拒绝读取；请在 Excel 中另存为“Excel 工作簿（.xlsx）”后再导入",
                f"{name}: carries macros ({i.filename}) and is refused; save it as an Excel "
                "Workbook (.xlsx) and import that"))
        total += i.file_size
        if i.file_size > RATIO_FROM and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            raise LedgerError(text(
                f"{name}：疑似压缩炸弹（{i.filename} 声明解压 {i.file_size} 字节，"
                f"压缩率超过 {MAX_RATIO} 倍），拒绝读取",
                f"{name}: looks like a zip bomb ({i.filename} declares {i.file_size} bytes "
                f"inflated, more than {MAX_RATIO} times its compressed size): refused"))
    if total > MAX_INFLATED:
        raise LedgerError(text(
            f"{name}：解压后共 {total} 字节，超过上限 {MAX_INFLATED}，拒绝读取（疑似压缩炸弹）",
            f"{name}: {total} bytes inflated, over the limit of {MAX_INFLATED}: refused "
            "(a zip bomb?)"))


def _sheet_extras(data: bytes) -> tuple[frozenset, tuple, bool]:
    """Hidden columns, merged ranges and whether formulas exist, from a
    sheet's XML (read-only openpyxl reads neither): regex passes over bytes
    whose inflated size check_zip bounded."""
    hidden: set[int] = set()
    head = data.split(b"sheetData", 1)[0]
    for m in _COL.finditer(head):
        attrs = dict(_ATTR.findall(m.group(1)))
        if attrs.get(b"hidden") in (b"1", b"true"):
            lo = int(attrs.get(b"min", b"0") or 0)
            hi = min(int(attrs.get(b"max", b"0") or 0), MAX_COLUMNS)
            hidden.update(range(lo, hi + 1))
    merged = []
    for m in _MERGE.finditer(data):
        c1, r1, c2, r2 = (_col_number(m.group(1)), int(m.group(2)),
                          _col_number(m.group(3)), int(m.group(4)))
        merged.append((min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)))
    return frozenset(hidden), tuple(merged), _FORMULA.search(data) is not None


ROW_SLACK = 50_000          # rows Excel writes for formatting alone, beyond the data cap
STRINGS_PER_ROW = 64


def scan_parts(path: str, raw: bytes) -> dict[str, tuple]:
    """Before openpyxl parses anything: every sheet's rows and the shared
    strings counted in the bytes (a billion-cell sheet is refused here, not
    after minutes of parsing), and each sheet's hidden columns, merged ranges
    and formulas read. {member: (hidden, merged, formulas)}."""
    name = os.path.basename(path)
    cap = max_rows()
    out: dict[str, tuple] = {}
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        for info in z.infolist():
            member = info.filename
            if member.startswith("xl/worksheets/") and member.endswith(".xml"):
                data = z.read(member)
                rows = data.count(b"<row ") + data.count(b"<row>") + data.count(b":row ")
                if rows > cap + ROW_SLACK:
                    raise LedgerError(text(
                        f"{name}：{member} 有 {rows} 行，超过上限 {cap}（ISOSCAN_LEDGER_MAX_ROWS），拒绝读取",
                        f"{name}: {member} holds {rows} rows, over the limit of {cap} "
                        "(ISOSCAN_LEDGER_MAX_ROWS): refused"))
                out[member] = _sheet_extras(data)
            elif member == "xl/sharedStrings.xml":
                data = z.read(member)
                strings = data.count(b"<si>") + data.count(b"<si ") + data.count(b":si>")
                if strings > (cap + ROW_SLACK) * STRINGS_PER_ROW:
                    raise LedgerError(text(
                        f"{name}：共享字符串 {strings} 个，超过上限，拒绝读取",
                        f"{name}: {strings} shared strings, over the limit: refused"))
    return out


@contextlib.contextmanager
def _xlsx(path: str, raw: bytes) -> Iterator[Ledger]:
    check_zip(path, raw)
    name = os.path.basename(path)
    try:
        extras = scan_parts(path, raw)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:   # a CRC that lies
        raise LedgerError(text(f"{name}：不是有效的 .xlsx 文件（{exc}）",
                               f"{name}: not a valid .xlsx file ({exc})")) from None
    import openpyxl
    try:
        wb = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True, keep_vba=False,
                                    keep_links=False)
    except Exception as exc:     # openpyxl raises many kinds for a broken file
        raise LedgerError(text(f"{name}：无法作为 Excel 工作簿读取（{type(exc).__name__}: {exc}）",
                               f"{name}: cannot be read as an Excel workbook "
                               f"({type(exc).__name__}: {exc})")) from None
    try:
        sheets = []
        for ws in wb.worksheets:
            member = getattr(ws, "_worksheet_path", None)
            hidden, merged, formulas = extras.get(member, (frozenset(), (), False))
            ws.reset_dimensions()          # never trust the declared size: stream what is there
            sheets.append(Sheet(ws.title, getattr(ws, "sheet_state", "visible") != "visible",
                                hidden, merged, formulas, _xlsx_rows(ws, name), file=name))
        yield Ledger(path, "xlsx", sheets)
    finally:
        wb.close()


def _xlsx_rows(ws, name):
    def rows(width, first):
        n = first - 1
        try:
            for n, values in enumerate(ws.iter_rows(min_row=first, max_col=width,
                                                    values_only=True), first):
                yield n, values
        except LedgerError:
            raise
        except Exception as exc:
            # the row after the last one read is where it broke
            raise LedgerError(text(f"{name}：工作表「{ws.title}」第 {n + 1} 行附近无法读取"
                                   f"（{type(exc).__name__}: {exc}）",
                                   f"{name}: sheet {ws.title} cannot be read near row {n + 1} "
                                   f"({type(exc).__name__}: {exc})")) from None
    return rows


# --------------------------------------------------------------------------
# .xls (xlrd: BIFF, cached values only; it never evaluates)

_VBA_NAME = "_VBA_PROJECT".encode("utf-16-le")


def _xls(path: str, raw: bytes) -> Ledger:
    import xlrd
    name = os.path.basename(path)
    if _VBA_NAME in raw:
        raise LedgerError(text(
            f"{name}：含宏（_VBA_PROJECT），拒绝读取；请在 Excel 中另存为“Excel 工作簿（.xlsx）”后再导入",
            f"{name}: carries macros (_VBA_PROJECT) and is refused; save it as an Excel "
            "Workbook (.xlsx) and import that"))
    try:
        # ragged_rows: each row as long as its own cells (rows() asks row_len); otherwise
        # one cell far right pads all 65,536 rows to its width (200 MiB from a 2 MiB file)
        book = xlrd.open_workbook(file_contents=raw, formatting_info=True, on_demand=True,
                                  ragged_rows=True, logfile=io.StringIO())
    except Exception as exc:
        raise LedgerError(text(f"{name}：无法作为 Excel 97–2003 工作簿读取（{type(exc).__name__}: {exc}）",
                               f"{name}: cannot be read as an Excel 97-2003 workbook "
                               f"({type(exc).__name__}: {exc})")) from None
    sheets = []
    for i in range(book.nsheets):
        sh = book.sheet_by_index(i)
        if sh.nrows > EXCEL_MAX_ROW // 16:    # BIFF8 holds 65,536 rows; anything more is forged
            raise LedgerError(text(f"{name}：工作表「{sh.name}」声明 {sh.nrows} 行，拒绝读取",
                                   f"{name}: sheet {sh.name} declares {sh.nrows} rows: refused"))
        hidden = frozenset(c + 1 for c, info in sh.colinfo_map.items()
                           if info.hidden and c < MAX_COLUMNS)
        merged = tuple((r1 + 1, c1 + 1, r2, c2) for r1, r2, c1, c2 in sh.merged_cells)
        sheets.append(Sheet(sh.name, sh.visibility != 0, hidden, merged, False,
                            _xls_rows(sh, book.datemode), file=name))
    return Ledger(path, "xls", sheets)


def _xls_rows(sh, datemode):
    import xlrd

    def rows(width, first):
        ncols = min(sh.ncols, width)
        for r in range(first - 1, sh.nrows):
            values = []
            for c in range(min(ncols, sh.row_len(r))):
                cell = sh.cell(r, c)
                if cell.ctype == xlrd.XL_CELL_DATE:
                    try:
                        values.append(xlrd.xldate_as_datetime(cell.value, datemode))
                    except (ValueError, OverflowError, xlrd.xldate.XLDateError):
                        values.append(cell.value)
                elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                    values.append(None)
                elif cell.ctype == xlrd.XL_CELL_ERROR:
                    values.append(None)
                else:
                    values.append(cell.value)
            yield r + 1, tuple(values)
    return rows


# --------------------------------------------------------------------------
# .csv (UTF-8, UTF-8 with BOM, GB18030; UTF-16 with BOM as Excel's "Unicode text")

def decode_csv(raw: bytes) -> tuple[str, str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("gb18030"), "gb18030"


def _csv(path: str, raw: bytes) -> Ledger:
    name = os.path.basename(path)
    try:
        body, encoding = decode_csv(raw)
    except UnicodeDecodeError as exc:
        raise LedgerError(text(f"{name}：无法识别的编码（应为 UTF-8 或 GB18030，第 {exc.start} 字节）",
                               f"{name}: unknown encoding (UTF-8 or GB18030 expected; byte "
                               f"{exc.start})")) from None
    sample = body[:64 * 1024]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    csv.field_size_limit(1024 * 1024)

    def rows(width, first):
        reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter)
        try:
            for n, values in enumerate(reader, 1):
                if n >= first:
                    yield n, tuple(values[:width])
        except csv.Error as exc:
            line = reader.line_num
            raise LedgerError(text(f"{name} 第 {line} 行：CSV 格式错误（{exc}）",
                                   f"{name} line {line}: malformed CSV ({exc})")) from None
    return Ledger(path, "csv", [Sheet(None, _rows=rows, file=name)], encoding)

