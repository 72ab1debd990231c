"""Benchmark: `isoscan inventory import` of a 10,000-row register (台账) beside
openpyxl's own read-only load of the same file.

    python3 bench/ledger_bench.py [--rows 10000] [--keep DIR]

Makes the register with openpyxl (a title row merged across, the usual 15
columns, MACs in three notations, addresses in a /16), laid out as Excel saves
it (texts in sharedStrings.xml, the used range declared first), then in the
same run:
  1. `isoscan inventory import` on it, as a child process (the whole command:
     start-up, the zip checks, reading, header, normalising, placing, the
     duplicate checks, writing devices.yaml);
  2. openpyxl.load_workbook(read_only=True, data_only=True) and every row's
     values, in this process: the floor any reader built on openpyxl pays.
Then, for the record, the export of what was imported (no target).
Prints both (wall clock and CPU time: on a shared machine the CPU time is the
steadier figure) and the ratio. The target: the import under 3 s (wall). Exits 1
when missed.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import compile_modules  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEGMENTS = """\
version: 1
organization: {name: 基准测试单位}
segments:
  - name: secret-lan
    title: 涉密网
    classification: classified
    level: secret
    networks: [10.10.0.0/16]
"""
HEADER = ["序号", "设备名称", "设备类型", "型号", "资产编号", "密级", "所属部门", "责任人",
          "位置", "IP地址", "MAC地址", "硬盘序列号", "状态", "启用日期", "备注"]


def make(path: str, rows: int) -> None:
    import datetime as dt
    from openpyxl import Workbook
    wb = Workbook()           # as Excel saves: shared strings, the dimension first
    ws = wb.active
    ws.title = "涉密网"
    ws.append(["基准测试单位涉密计算机台账"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    ws.append(HEADER)
    for n in range(1, rows + 1):
        hi, lo = divmod(n, 250)
        mac = f"{0x02:02x}{0xbe:02x}{n >> 16 & 255:02x}{n >> 8 & 255:02x}{n & 255:02x}00"
        notation = n % 3
        if notation == 0:
            mac = "-".join(mac[i:i + 2] for i in range(0, 12, 2)).upper()
        elif notation == 1:
            mac = ".".join(mac[i:i + 4] for i in range(0, 12, 4))
        else:
            mac = ":".join(mac[i:i + 2] for i in range(0, 12, 2))
        ws.append([n, f"涉密终端-{n:05d}", "台式计算机", "ThinkCentre M920t", f"BM-2024-{n:05d}",
                   "秘密", "办公室", f"责任人{n % 97} ", f"{n % 9 + 1}楼{n % 40 + 1:02d}室",
                   f"10.10.{hi}.{lo + 1}", mac, f"WD-{n:010d}", "在用", dt.datetime(2024, 3, 1), ""])
    wb.save(path)


_INLINE = re.compile(rb'<c r="([A-Z]+)(\d+)"((?: s="\d+")?) t="inlineStr"><is><t(?: xml:space="preserve")?>'
                     rb'(.*?)</t></is></c>')


def as_excel_saves(path: str, rows: int) -> None:
    """openpyxl writes every text inline and no <dimension>; Excel keeps the
    texts once in sharedStrings.xml and the used range first. The register is
    rewritten so, as a unit's Excel would have saved it."""
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    index: dict[bytes, int] = {}

    def shared(m):
        i = index.setdefault(m.group(4), len(index))
        return b'<c r="%s%s"%s t="s"><v>%d</v></c>' % (m.group(1), m.group(2), m.group(3), i)
    sheet = _INLINE.sub(shared, parts["xl/worksheets/sheet1.xml"])
    sheet = sheet.replace(b"<sheetViews>", b'<dimension ref="A1:O%d"/><sheetViews>' % (rows + 2), 1)
    parts["xl/worksheets/sheet1.xml"] = sheet
    sst = b"".join(b'<si><t xml:space="preserve">%s</t></si>' % t for t in index)
    parts["xl/sharedStrings.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        b'uniqueCount="%d">%s</sst>' % (len(index), sst))
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rIdSST" Type="http://schemas.openxmlformats.org/'
        b'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
        b"</Relationships>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)


def main() -> int:
    ap = argparse.ArgumentParser(description="inventory import vs. openpyxl read-only load")
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--keep", help="a folder to keep the register and the inventory in")
    a = ap.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix="isoscan-ledger-bench-")
    os.makedirs(work, exist_ok=True)
    ledger = os.path.join(work, "台账.xlsx")
    segs = os.path.join(work, "segments.yaml")
    with open(segs, "w", encoding="utf-8") as fh:
        fh.write(SEGMENTS)
    t = time.perf_counter()
    make(ledger, a.rows)
    as_excel_saves(ledger, a.rows)
    t_make = time.perf_counter() - t
    compile_modules(ROOT)
    try:
        cmd = [sys.executable, "-m", "scanner.cli", "inventory", "import", ledger, "-i", segs,
               "-o", work]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        t_import = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_import = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            print(f"import exited {proc.returncode}: {proc.stderr.strip()[:500]}")
            return 1

        # the export of what was imported (no target; for the record)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        exp = subprocess.run([sys.executable, "-m", "scanner.cli", "inventory", "export", "-i", segs,
                              "-i", os.path.join(work, "devices.yaml"), "-o",
                              os.path.join(work, "export.xlsx")], capture_output=True, text=True,
                             cwd=ROOT)
        t_export = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_export = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if exp.returncode != 0:
            print(f"export exited {exp.returncode}: {exp.stderr.strip()[:500]}")
            return 1

        import openpyxl
        t, c = time.perf_counter(), time.process_time()
        wb = openpyxl.load_workbook(ledger, read_only=True, data_only=True)
        n = sum(1 for ws in wb.worksheets for _ in ws.iter_rows(values_only=True))
        wb.close()
        t_openpyxl = time.perf_counter() - t
        cpu_openpyxl = time.process_time() - c
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    size = os.path.getsize(ledger) if a.keep else 0
    print(f"register: {a.rows} rows, made in {t_make:.2f} s" + (f", {size} bytes" if size else ""))
    print(f"isoscan inventory import (whole command): {t_import:.2f} s wall, {cpu_import:.2f} s CPU")
    print(f"openpyxl read-only load + {n} rows:        {t_openpyxl:.2f} s wall, {cpu_openpyxl:.2f} s CPU")
    print(f"ratio import / openpyxl: {t_import / t_openpyxl:.2f} wall, {cpu_import / cpu_openpyxl:.2f} CPU")
    print(f"isoscan inventory export of it (styled, printable): {t_export:.2f} s wall, "
          f"{cpu_export:.2f} s CPU (no target)")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a shared machine is noisy)")
    ok = t_import < 3.0
    print("target (< 3 s):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
