"""`isoscan inventory import | export`: the unit's register (台账) as the inventory.

    isoscan inventory import 台账.xlsx -i inventories/segments.yaml -o inventories/
    isoscan inventory export -i inventories/ --db sqlite:///isoscan.db -o 台账-核对.xlsx

Exit codes: import 0 written · 1 written with --keep-going, some rows left out
· 2 nothing written (a bad row, a refused file, a usage error); export 0 · 2.
"""
from __future__ import annotations

import os
import sys

import click

from scanner.langs import LANGS


def _say(lang: str, zh: str, en: str, err: bool = False) -> None:
    from scanner.formats.text import clean
    click.echo(clean(zh if lang == "zh-CN" else en), err=err)


def _fail(lang: str, zh: str, en: str):
    _say(lang, "isoscan inventory: " + zh, "isoscan inventory: " + en, err=True)
    sys.exit(2)


@click.group("inventory")
def inventory():
    """The inventory from the unit's register (台账): import and export (Excel, CSV)."""


def _output_file(out: str) -> str:
    if out.lower().endswith((".yaml", ".yml")):
        return out
    return os.path.join(out, "devices.yaml")


def _segments(paths, target: str, lang: str):
    """The -i inventory (segments, and devices declared there), the output file left out."""
    from scanner.inventory.load import InputError, expand_paths, load_inventory
    from scanner.model import pick
    try:
        files = expand_paths(paths)
    except InputError as exc:
        _fail(lang, str(exc), str(exc))
    here = os.path.realpath(target)
    files = [f for f in files if os.path.realpath(f) != here]
    if not files:
        _fail(lang, "-i 只有输出文件本身：请给出声明网段的清单文件",
              "-i names only the output file: give the inventory files declaring the segments")
    result = load_inventory(files)
    schema = [f for f in result.findings if f.check_id == "INV-SCHEMA"]
    if result.inventory is None or schema:
        for f in schema[:20]:
            loc = f.location
            at = f"{loc.file}:{loc.line}:{loc.column}: " if loc else ""
            _say(lang, at + pick(f.evidence[0], "zh-CN"), at + pick(f.evidence[0], "en"), err=True)
        _fail(lang, "-i 的清单文件有错误（先运行 isoscan validate 修正）",
              "the -i inventory has errors (run isoscan validate and fix them first)")
    return result.inventory


def _show_map(result, lang: str) -> None:
    """The mapping chosen, as one valid map file (docs/ledger.md): header rows
    per sheet, each header once with the role it was read as; comments say
    where, and what was not read."""
    from scanner.inventory.ledger.columns import LABELS
    from scanner.inventory.ledger.yamlout import q
    read = [r for r in result.sheets if r.layout is not None]
    for r in result.sheets:
        if r.layout is None:
            name = r.name if r.name is not None else result.file
            why = r.skipped or {"zh-CN": "", "en": ""}
            _say(lang, f"# 工作表「{name}」：未读取（{why['zh-CN']}）", f"# sheet {name}: not read ({why['en']})")
    if not read:
        return
    if all(r.name is None for r in read):
        click.echo(f"header_row: {read[0].layout.header_row}")
    else:
        rows = ", ".join(f"{q(r.name)}: {r.layout.header_row}" for r in read)
        click.echo(f"header_row: {{{rows}}}")
    click.echo("columns:")
    shown: dict[str, str] = {}
    for r in read:
        for c in r.layout.columns:
            if c.key in shown:
                if shown[c.key] != c.role:
                    _say(lang, f"  # 工作表「{r.name}」的 {c.letter} 列 {c.key} 读作 {c.role}",
                         f"  # on sheet {r.name}, column {c.letter} {c.key} is read as {c.role}")
                continue
            shown[c.key] = c.role
            label = LABELS.get(c.role, LABELS["register"])
            where_zh = f"「{r.name}」" if r.name is not None and len(read) > 1 else ""
            where_en = f"sheet {r.name}, " if r.name is not None and len(read) > 1 else ""
            notes_zh = [f"{where_zh}{c.letter} 列", label["zh-CN"]]
            notes_en = [f"{where_en}column {c.letter}", label["en"]]
            if c.hidden:
                notes_zh.append("隐藏列")
                notes_en.append("hidden")
            if c.how == "map":
                notes_zh.append("按映射文件")
                notes_en.append("from the map")
            if c.how == "duplicate":
                notes_zh.append("同类列已有一列，本列原样保留")
                notes_en.append("another column holds this already: kept as is")
            _say(lang, f"  {q(c.key)}: {c.role}    # {'，'.join(notes_zh)}",
                 f"  {q(c.key)}: {c.role}    # {', '.join(notes_en)}")


def _first_rows(rows: list[int], n: int = 10) -> str:
    return ", ".join(map(str, rows[:n])) + ("…" if len(rows) > n else "")


def _summary(result, lang: str) -> None:
    for r in result.sheets:
        name = r.name if r.name is not None else result.file
        if r.layout is None:
            if r.skipped:
                _say(lang, f"工作表「{name}」：跳过（{r.skipped['zh-CN']}）",
                     f"sheet {name}: skipped ({r.skipped['en']})")
            continue
        extra_zh, extra_en = [], []
        if r.blank:
            extra_zh.append(f"空行 {r.blank}")
            extra_en.append(f"{r.blank} blank")
        if r.footer:
            extra_zh.append(f"表尾 {r.footer} 行")
            extra_en.append(f"{r.footer} footer")
        if r.retired:
            rows = _first_rows(r.retired)
            extra_zh.append(f"已报废/注销未导入 {len(r.retired)} 行（第 {rows} 行）")
            extra_en.append(f"{len(r.retired)} scrapped left out (rows {rows})")
        if r.standalone:
            rows = _first_rows(r.standalone)
            extra_zh.append(f"单机（不联网）未导入 {len(r.standalone)} 行（第 {rows} 行）")
            extra_en.append(f"{len(r.standalone)} standalone (on no network) left out (rows {rows})")
        if r.declared:
            extra_zh.append(f"{r.declared} 台已在 -i 的清单中声明，以清单为准")
            extra_en.append(f"{r.declared} declared in the -i files already, left to them")
        if r.formulas:
            extra_zh.append("含公式：读取其上次计算的结果，未执行")
            extra_en.append("has formulas: their last computed values read, none evaluated")
        tail_zh = f"（{'；'.join(extra_zh)}）" if extra_zh else ""
        tail_en = f" ({'; '.join(extra_en)})" if extra_en else ""
        _say(lang, f"工作表「{name}」：表头第 {r.layout.header_row} 行，{r.devices} 台设备{tail_zh}",
             f"sheet {name}: header row {r.layout.header_row}, {r.devices} device(s){tail_en}")


@inventory.command("import")
@click.argument("ledger", type=click.Path(dir_okay=False))
@click.option("-i", "--inventory", "inv_paths", multiple=True, type=click.Path(),
              help="Inventory files or folder declaring the segments (repeatable).")
@click.option("-o", "--out", "out", type=click.Path(),
              help="The inventory folder to write devices.yaml into (or a FILE.yaml).")
@click.option("--map", "map_path", type=click.Path(dir_okay=False),
              help="A map file: columns, header row, segment and type names the heuristics miss.")
@click.option("--sheet", "sheets", multiple=True, help="Read only this sheet (repeatable).")
@click.option("--show-map", is_flag=True, help="Print the column mapping chosen (as a map file).")
@click.option("--keep-going", is_flag=True,
              help="Write the good rows and list the others (exit 1) instead of writing nothing.")
@click.option("--lang", type=click.Choice(LANGS), default="zh-CN", show_default=True)
def import_(ledger, inv_paths, out, map_path, sheets, show_map, keep_going, lang):
    """Import the unit's register (台账, .xlsx/.xls/.csv) as devices.yaml (导入台账)."""
    from scanner.atomicio import write_text_atomic
    from scanner.inventory.ledger.build import import_ledger
    from scanner.inventory.ledger.mapfile import load_map
    from scanner.inventory.ledger.read import LedgerError
    from scanner.inventory.ledger.yamlout import devices_yaml, is_generated
    from scanner import localtime

    if not show_map and (not inv_paths or not out):
        _fail(lang, "需要 -i（声明网段的清单）与 -o（输出目录）", "-i (the segments) and -o (where to write) are required")
    target = _output_file(out) if out else None
    if target and os.path.exists(target) and not is_generated(target):
        _fail(lang, f"{target} 已存在且不是 inventory import 生成的文件，不会覆盖；"
              "请用 -o 指定另一个文件（如 devices-台账.yaml）或先移走它",
              f"{target} exists and was not written by inventory import: it is not overwritten; "
              "give -o another file (devices-ledger.yaml, say) or move it away first")
    try:
        ledger_map = load_map(map_path) if map_path else None
        inv = _segments(inv_paths, target or "", lang) if inv_paths else None
        result = import_ledger(ledger, segments=inv.segments if inv else (),
                               known=inv.devices if inv else (), ledger_map=ledger_map,
                               sheets=sheets)
    except LedgerError as exc:
        _fail(lang, exc.message["zh-CN"], exc.message["en"])
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, OSError) as exc:
        # fail closed: a register this code did not foresee writes nothing, and says so
        _fail(lang, f"{os.path.basename(ledger)}：无法读取（{type(exc).__name__}: {str(exc)[:200]}），未写入任何文件",
              f"{os.path.basename(ledger)}: cannot be read ({type(exc).__name__}: {str(exc)[:200]}); "
              "nothing written")
    if show_map:
        _show_map(result, lang)
        if not out:
            return
    _summary(result, lang)
    from scanner.formats.text import clean
    for p in result.problems:
        click.echo(clean(p.render(lang)), err=True)     # a cell's text never drives the terminal
    if result.problems and not keep_going:
        _fail(lang, f"{len(result.problems)} 处问题（{result.bad_rows} 行），未写入任何文件；"
              "修正台账后重新导入，或用 --keep-going 只导入无误的行",
              f"{len(result.problems)} problem(s) in {result.bad_rows} row(s): nothing written; "
              "correct the register and import again, or --keep-going to write the good rows")
    sha = result.sha256                  # of the bytes imported (the file is read once)
    zone = localtime.unit_zone(inv.organization.timezone if inv else None)
    from datetime import datetime, timezone
    when = localtime.local_iso(datetime.now(timezone.utc), zone)
    command = "isoscan inventory import " + " ".join(
        [os.path.basename(ledger)] + (["--map", map_path] if map_path else [])
        + [x for s in sheets for x in ("--sheet", s)])
    text_out = devices_yaml(result, source=os.path.basename(ledger), sha256=sha, when=when,
                            command=command)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        write_text_atomic(target, text_out)
    except OSError as exc:
        _fail(lang, f"{target}：无法写入（{exc.strerror or exc}）", f"{target}: cannot write ({exc.strerror or exc})")
    _say(lang, f"已写入 {target}：{len(result.entries)} 台设备", f"wrote {target}: {len(result.entries)} device(s)")
    if result.problems:
        _say(lang, f"未导入 {result.bad_rows} 行（见上）", f"{result.bad_rows} row(s) left out (see above)", err=True)
        sys.exit(1)


@inventory.command("export")
@click.option("-i", "--inventory", "inv_paths", multiple=True, required=True, type=click.Path(),
              help="Inventory files or folder (repeatable).")
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False),
              help="The register to write (.xlsx).")
@click.option("--db", default=None, metavar="URL",
              help="Add what the network saw, from this store (else no store is read).")
@click.option("--map", "map_path", type=click.Path(dir_okay=False),
              help="A map file whose `order` gives the column order.")
@click.option("--lang", type=click.Choice(LANGS), default="zh-CN", show_default=True)
def export(inv_paths, out, db, map_path, lang):
    """Write the inventory back as the unit's register (.xlsx), with what the network saw (导出台账)."""
    from scanner import localtime
    from scanner.inventory.ledger.export import export_workbook
    from scanner.inventory.ledger.mapfile import load_map
    from scanner.inventory.ledger.read import LedgerError
    if not out.lower().endswith(".xlsx"):
        _fail(lang, f"{out}：导出文件须为 .xlsx", f"{out}: the export is an .xlsx file")
    try:
        ledger_map = load_map(map_path) if map_path else None
    except LedgerError as exc:
        _fail(lang, exc.message["zh-CN"], exc.message["en"])
    inv = _segments(inv_paths, "", lang)
    seen = None
    if db is not None:
        from sqlalchemy.exc import SQLAlchemyError

        from scanner.store.db import store_problem
        from scanner.store.db import StoreError, open_store
        from scanner.store.seen import network_seen
        try:
            store = open_store(db)
        except StoreError as exc:
            _fail(lang, str(exc), str(exc))
        try:
            seen = network_seen(store)
        except SQLAlchemyError as exc:
            _fail(lang, f"读取数据库失败：{store_problem(exc)}", f"the store failed: {store_problem(exc)}")
        finally:
            store.close()
    zone = localtime.unit_zone(inv.organization.timezone)
    try:
        from scanner.store.url import redact, resolve
        s = export_workbook(inv, out, seen=seen, ledger_map=ledger_map, lang=lang, zone=zone,
                            store=redact(resolve(db)) if db is not None else None)
    except OSError as exc:
        _fail(lang, f"{out}：无法写入（{exc.strerror or exc}）", f"{out}: cannot write ({exc.strerror or exc})")
    sheets = "、".join(f"「{n}」{k} 行" for n, k in s.sheets)
    sheets_en = ", ".join(f"{n} ({k} rows)" for n, k in s.sheets)
    _say(lang, f"已写入 {out}：{sheets}", f"wrote {out}: {sheets_en}")
    if seen is not None:
        _say(lang, f"需关注 {s.attention} 台（从未发现 {s.never_seen}，MAC 不符 {s.mismatched}）；"
             f"未登记设备 {s.unregistered} 台",
             f"{s.attention} need attention ({s.never_seen} never seen, {s.mismatched} MAC "
             f"mismatches); {s.unregistered} unregistered station(s)")
