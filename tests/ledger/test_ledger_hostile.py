"""Hostile registers are refused fast and clearly, before openpyxl inflates
or evaluates anything: a zip bomb, a billion-cell sheet, macros; formulas
are read as Excel last computed them, never evaluated."""
from __future__ import annotations

import re
import time
import zipfile

import pytest
from click.testing import CliRunner

import ledgerlib


def run(*argv):
    from scanner.cli import main
    return CliRunner().invoke(main, [str(a) for a in argv], catch_exceptions=False)


@pytest.fixture
def inv(tmp_path):
    ledgerlib.segments(tmp_path / "inv")
    return tmp_path / "inv"


def rewrite(src, dst, member, change, extra=()):
    """A copy of the zip src with one member's bytes changed (and members added)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info, change(data) if info.filename == member else data)
        for name, data in extra:
            zout.writestr(name, data)
    return dst


def refused(r, *words):
    assert r.exit_code == 2, r.output
    for w in words:
        assert w in r.stderr, r.stderr
    return r


def test_zip_bomb_refused_from_the_directory(tmp_path, inv):
    good = ledgerlib.make_ledger(tmp_path / "good.xlsx")
    bomb = rewrite(good, tmp_path / "bomb.xlsx", None, None,
                   extra=[("xl/media/image1.png", b"\0" * (24 * 1024 * 1024))])
    t = time.monotonic()
    refused(run("inventory", "import", bomb, "-i", inv, "-o", inv), "疑似压缩炸弹", "xl/media/image1.png")
    assert time.monotonic() - t < 2
    assert not (inv / "devices.yaml").exists()


def test_billion_cell_sheet_refused(tmp_path, inv, monkeypatch):
    good = ledgerlib.make_ledger(tmp_path / "good.xlsx")
    far = rewrite(good, tmp_path / "far.xlsx", "xl/worksheets/sheet1.xml", lambda d: d.replace(
        b"</sheetData>", b'<row r="999999999"><c r="XFD999999999" t="inlineStr"><is><t>x</t></is></c>'
                         b"</row></sheetData>"))
    far = rewrite(far, tmp_path / "far2.xlsx", "xl/worksheets/sheet1.xml", lambda d: re.sub(
        rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', d))
    t = time.monotonic()
    refused(run("inventory", "import", far, "-i", inv, "-o", inv), "超出 Excel 的上限", "涉密网")
    assert time.monotonic() - t < 5
    # rows past the cap, counted as they stream (the declared dimension is not trusted)
    monkeypatch.setenv("ISOSCAN_LEDGER_MAX_ROWS", "5")
    refused(run("inventory", "import", good, "-i", inv, "-o", inv, "--lang", "en"),
            "more than 5 non-empty rows")


def test_a_sheet_of_too_many_rows_is_refused_before_parsing(tmp_path, inv, monkeypatch):
    monkeypatch.setenv("ISOSCAN_LEDGER_MAX_ROWS", "100")
    good = ledgerlib.make_ledger(tmp_path / "good.xlsx")
    rows = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>x</t></is></c></row>' % (n, n)
                    for n in range(20, 60_200))
    big = rewrite(good, tmp_path / "big.xlsx", "xl/worksheets/sheet1.xml",
                  lambda d: d.replace(b"</sheetData>", rows + b"</sheetData>"))
    t = time.monotonic()
    refused(run("inventory", "import", big, "-i", inv, "-o", inv), "xl/worksheets/sheet1.xml 有 60",
            "超过上限 100")
    assert time.monotonic() - t < 3


def test_macros_refused(tmp_path, inv):
    good = ledgerlib.make_ledger(tmp_path / "good.xlsx")
    xlsm = tmp_path / "台账.xlsm"
    xlsm.write_bytes(good.read_bytes())
    refused(run("inventory", "import", xlsm, "-i", inv, "-o", inv), "启用宏的工作簿", ".xlsx")
    vba = rewrite(good, tmp_path / "vba.xlsx", None, None, extra=[("xl/vbaProject.bin", b"VBA")])
    refused(run("inventory", "import", vba, "-i", inv, "-o", inv), "含宏", "vbaProject.bin")
    # an old .xls with a VBA project stream name in it
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100 + "_VBA_PROJECT".encode("utf-16-le"))
    refused(run("inventory", "import", xls, "-i", inv, "-o", inv), "_VBA_PROJECT")


def test_formulas_read_as_cached_never_evaluated(tmp_path, inv):
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.append(["设备名称", "资产编号", "责任人", "IP地址", "MAC地址"])
    ws.append(["pc-1", "BM-1", "甲", '=CONCAT("10.10.0.",21)', "02:00:00:00:0a:01"])
    ws.append(["pc-2", "BM-2", "乙", "10.10.0.22", '=WEBSERVICE("http://192.0.2.1/x")'])
    wb.save(tmp_path / "f.xlsx")
    cached = {b"CONCAT": b"10.10.0.21", b"WEBSERVICE": b"02:00:00:00:0a:02"}

    def with_cache(data):
        def one(m):
            fn = re.match(rb"<f>(\w+)", m.group(2)).group(1)
            return m.group(1) + b' t="str">' + m.group(2) + b"<v>" + cached[fn] + b"</v></c>"
        return re.sub(rb'(<c r="[A-Z]+\d+")>(<f>.*?</f>)<v\s*/?>(?:</v>)?</c>', one, data)
    f = rewrite(tmp_path / "f.xlsx", tmp_path / "cached.xlsx", "xl/worksheets/sheet1.xml", with_cache)
    r = run("inventory", "import", f, "-i", inv, "-o", inv)
    assert r.exit_code == 0, r.output
    assert "含公式：读取其上次计算的结果，未执行" in r.output
    text = (inv / "devices.yaml").read_text(encoding="utf-8")
    assert '"10.10.0.21"' in text and '"02:00:00:00:0a:02"' in text and "CONCAT" not in text


def test_not_a_workbook(tmp_path, inv):
    p = tmp_path / "x.xlsx"
    p.write_bytes(b"not a zip at all")
    refused(run("inventory", "import", p, "-i", inv, "-o", inv), "不是有效的 .xlsx 文件")
    p = tmp_path / "x.ods"
    p.write_bytes(b"")
    refused(run("inventory", "import", p, "-i", inv, "-o", inv), "不支持的台账格式")


def test_malformed_csv_names_its_line(tmp_path, inv):
    bad = tmp_path / "台账.csv"
    bad.write_text("设备名称,IP地址,MAC地址\npc-01,10.20.0.7,aa-bb-cc-dd-ee-01\n"
                   'pc-02,"' + "x" * (1024 * 1024 + 1) + '"\n', encoding="utf-8")
    refused(run("inventory", "import", bad, "-i", inv, "-o", inv), "台账.csv 第 3 行")
    assert not (inv / "devices.yaml").exists()


def test_one_far_cell_does_not_pad_every_row_of_an_xls(tmp_path):
    """xlrd pads every row to the widest one unless told not to: one cell in
    column IV over 65,536 one-cell rows cost 200 MiB from a 2 MiB file."""
    import subprocess
    import sys
    import xlwt
    wb = xlwt.Workbook()
    ws = wb.add_sheet("s")
    for r in range(65536):
        ws.write(r, 0, 1)
    ws.write(0, 255, "x")
    wb.save(str(tmp_path / "pad.xls"))
    child = (
        "import resource, sys\n"
        "from scanner.inventory.ledger.read import open_ledger\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "with open_ledger(sys.argv[1]) as l:\n"
        "    next(l.sheets[0].rows())\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n")
    r = subprocess.run([sys.executable, "-c", child, str(tmp_path / "pad.xls")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) < 100, f"{r.stdout.strip()} MiB to open a 2 MiB .xls"


def test_a_refused_sheet_names_its_file_sheet_and_row(tmp_path, inv, monkeypatch):
    good = ledgerlib.make_ledger(tmp_path / "台账.xlsx")
    monkeypatch.setenv("ISOSCAN_LEDGER_MAX_ROWS", "5")
    refused(run("inventory", "import", good, "-i", inv, "-o", inv),
            "台账.xlsx：工作表「涉密网」：非空行超过 5 行（ISOSCAN_LEDGER_MAX_ROWS，至第 6 行）")
