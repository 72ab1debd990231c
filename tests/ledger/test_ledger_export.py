"""`isoscan inventory export`: the register written back (printable, in the
unit's columns); imported again it is the same inventory; with a lab's store
it marks what the network saw: the unregistered station, the swapped card."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import ledgerlib
from test_ledger_import import devices


def run(*argv):
    from scanner.cli import main
    return CliRunner().invoke(main, [str(a) for a in argv], catch_exceptions=False)


def test_export_then_import_is_the_same_inventory(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    seg = ledgerlib.segments(first)
    ledgerlib.segments(second)
    ledger = ledgerlib.make_ledger(tmp_path / "台账.xlsx")
    assert run("inventory", "import", ledger, "-i", seg, "-o", first).exit_code == 0
    r = run("inventory", "export", "-i", first, "-o", tmp_path / "导出.xlsx")
    assert r.exit_code == 0, r.output
    assert "「涉密网」4 行、「办公网」4 行" in r.output     # gw-01 (declared in YAML) is listed too
    r = run("inventory", "import", tmp_path / "导出.xlsx", "-i", second / "segments.yaml", "-o", second)
    assert r.exit_code == 0, r.output
    assert "1 台已在 -i 的清单中声明" in r.output
    a, b = devices(first), devices(second)
    # gw-01 (two interfaces, declared in YAML) is exported for the record, and is
    # in both inventories through segments.yaml; every ledger device comes back equal
    assert a == b
    assert run("validate", second).exit_code == 0


def test_export_is_printable_in_the_units_columns(tmp_path):
    from openpyxl import load_workbook
    inv = tmp_path / "inv"
    seg = ledgerlib.segments(inv)
    ledger = ledgerlib.make_ledger(tmp_path / "台账.xlsx")
    assert run("inventory", "import", ledger, "-i", seg, "-o", inv).exit_code == 0
    assert run("inventory", "export", "-i", inv, "-o", tmp_path / "x.xlsx").exit_code == 0
    wb = load_workbook(tmp_path / "x.xlsx")
    assert wb.sheetnames[:2] == ["涉密网", "办公网"]
    ws = wb["涉密网"]
    assert ws["A1"].value == "某市审计局涉密网计算机台账"
    assert [c.value for c in ws[2]] == ledgerlib.HEADER
    assert ws.print_title_rows == "$1:$2"
    assert str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4 and ws.page_setup.orientation == "landscape"
    assert "保密员（签字）" in ws.oddFooter.left.text
    assert ws.column_dimensions["B"].width >= 12
    row = [c.value for c in ws[3]]
    assert row[1] == "涉密终端-001" and row[2] == "台式计算机" and row[10] == "02-00-00-00-0C-0B"


@pytest.mark.lab
def test_export_of_a_lab_store_marks_what_the_scan_found(lab_factory, tmp_path):
    from openpyxl import load_workbook
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
    import scanlib
    lab = lab_factory(scanlib.DEMO, faults=["rogue-laptop", "swapped-nic"])
    db = f"sqlite:///{tmp_path}/lab.db"
    rc, bundle, out = scanlib.scan(lab, "probe-secret", "--checks", "DEV-UNREGISTERED,DEV-MISMATCH",
                                   "--db", db, files=lab.files)
    assert bundle is not None, out
    r = run("inventory", "export", *sum((["-i", f] for f in lab.files), []), "--db", db,
            "-o", tmp_path / "核对.xlsx")
    assert r.exit_code == 0, r.output
    wb = load_workbook(tmp_path / "核对.xlsx")
    dump = {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}
    assert "未登记设备 1 台" in r.output and "MAC 不符 1" in r.output, (r.output, dump)
    assert wb.sheetnames[-2:] == ["未登记设备", "说明"]
    assert any("从未发现" in (c.value or "") for c in wb["说明"]["A"])
    stray = [[c.value for c in row] for row in wb["未登记设备"].iter_rows(min_row=3)]
    assert any(v[1] == "02-AA-00-00-00-77" and "10.10.0.77" in v[2] for v in stray), stray
    ws = wb["涉密内网"]
    head = [c.value for c in ws[2]]
    rows = {row[1].value: [c.value for c in row] for row in ws.iter_rows(min_row=3)}
    attention = head.index("【核查】需关注")
    assert "MAC 不符" in rows["ws-002"][attention] and "02-AA-00-00-00-0C" in rows["ws-002"][attention]
    assert rows["ws-001"][head.index("【核查】最近发现")]           # seen, with a time
    assert ws.cell(row=3 + list(rows).index("ws-002"), column=1).fill.fgColor.rgb.endswith("FCE4D6")
    # the marked register imports back: its 【核查】 columns and added sheets are left out
    r = run("inventory", "import", tmp_path / "核对.xlsx", *sum((["-i", f] for f in lab.files), []),
            "-o", tmp_path / "again")
    assert r.exit_code == 0, r.output
    assert "isoscan 导出时附加的工作表" in r.output


def test_sheets_by_device_type_come_back_as_they_were(tmp_path):
    """Two sheets on one network (计算机, 打印机): each row goes back to its own sheet, in order."""
    from openpyxl import Workbook, load_workbook
    inv = tmp_path / "inv"
    seg = ledgerlib.segments(inv)
    wb = Workbook()
    for i, (title, rows) in enumerate((("计算机", [("pc-2", "10.10.0.22"), ("pc-1", "10.10.0.21")]),
                                       ("打印机", [("prn-1", "10.10.0.41")]))):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = title
        ws.append(["设备名称", "资产编号", "责任人", "IP地址"])
        for n, (name, ip) in enumerate(rows):
            ws.append([name, f"BM-{title}-{n}", "甲", ip])
    wb.save(tmp_path / "l.xlsx")
    assert run("inventory", "import", tmp_path / "l.xlsx", "-i", seg, "-o", inv).exit_code == 0
    assert run("inventory", "export", "-i", inv, "-o", tmp_path / "x.xlsx").exit_code == 0
    out = load_workbook(tmp_path / "x.xlsx")
    assert [[r[0].value for r in out[s].iter_rows(min_row=3)] for s in ("计算机", "打印机")] == \
        [["pc-2", "pc-1"], ["prn-1"]]


def test_export_without_a_ledger_section_in_the_maps_order(tmp_path):
    """A YAML-only inventory: one sheet per segment, in the map's column order, English."""
    from openpyxl import load_workbook
    (tmp_path / "map.yaml").write_text("order: [IP address, Device name, MAC address]\n", encoding="utf-8")
    r = run("inventory", "export", "-i", "inventories/", "-o", tmp_path / "x.xlsx", "--map",
            tmp_path / "map.yaml", "--lang", "en")
    assert r.exit_code == 0, r.output
    wb = load_workbook(tmp_path / "x.xlsx")
    assert wb.sheetnames == ["涉密内网", "办公网", "对外服务区"]   # gw-01 on its first segment
    ws = wb["涉密内网"]
    assert [c.value for c in ws[2]][:3] == ["IP address", "Device name", "MAC address"]
    assert [c.value for c in ws[3]][:3] == ["10.10.0.11", "涉密终端-001", "02-00-00-00-0C-0B"]
    assert "Security officer" in ws.oddFooter.left.text


def test_a_header_that_starts_with_equals_is_text_never_a_formula(tmp_path):
    from openpyxl import load_workbook
    inv = tmp_path / "inv"
    seg = ledgerlib.segments(inv)
    ledger = ledgerlib.make_ledger(tmp_path / "台账.xlsx")
    wb = load_workbook(ledger)
    for ws in wb.worksheets:          # a register column whose header reads as a formula
        c = ws.cell(row=3, column=len(ledgerlib.HEADER) + 1, value='=HYPERLINK("http://198.51.100.7/")')
        c.data_type = "s"
    wb.save(ledger)
    assert run("inventory", "import", ledger, "-i", seg, "-o", inv).exit_code == 0
    r = run("inventory", "export", "-i", inv, "-o", tmp_path / "x.xlsx")
    assert r.exit_code == 0, r.output
    wb = load_workbook(tmp_path / "x.xlsx")
    heads = [c.value for c in wb["涉密网"][2]]
    assert '=HYPERLINK("http://198.51.100.7/")' in heads
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"{ws.title}!{c.coordinate}: {c.value}"
