"""`isoscan inventory import`: a realistic register (made here with openpyxl)
becomes devices.yaml on which validate passes; a bad row is named by its
cell and nothing is written; --keep-going writes the good rows."""
from __future__ import annotations

import csv
import io

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


def devices(folder):
    from scanner.inventory.load import load_inventory
    from dataclasses import replace
    r = load_inventory([folder])
    assert r.inventory is not None and not r.findings, [f.evidence for f in r.findings]
    return {d.name: replace(d, loc=None, interfaces=tuple(replace(i, loc=None) for i in d.interfaces))
            for d in r.inventory.devices}


def test_import_then_validate_passes(tmp_path, inv):
    ledger = ledgerlib.make_ledger(tmp_path / "台账.xlsx")
    r = run("inventory", "import", ledger, "-i", inv / "segments.yaml", "-o", inv)
    assert r.exit_code == 0, r.output + r.stderr
    text = (inv / "devices.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("# isoscan-generated")
    assert "来源 source: 台账.xlsx" in text
    v = run("validate", inv)
    assert v.exit_code == 0, v.output
    d = devices(inv)
    # three MAC notations, a full-width colon, trailing spaces: all normalised
    assert d["涉密终端-001"].interfaces[0].mac == "02:00:00:00:0c:0b"      # AA-BB-..
    assert d["涉密终端-002"].interfaces[0].mac == "02:00:00:00:0c:0c"      # aabb.ccdd.eeff
    assert d["涉密文件服务器"].interfaces[0].mac == "02:00:00:00:0c:05"    # full-width colons
    assert str(d["涉密终端-002"].interfaces[0].ip) == "10.10.0.12"          # trailing space
    assert d["涉密终端-001"].custodian == "张三"                             # trailing space
    # placed by IP network; kinds from the Chinese types; the scrapped device left out
    assert d["涉密终端-001"].interfaces[0].segment == "secret-lan"
    assert d["办公打印机"].interfaces[0].segment == "office-lan"
    assert d["涉密文件服务器"].kind == "server" and d["办公打印机"].kind == "printer"
    assert "旧涉密终端" not in d
    reg = dict(d["涉密终端-002"].register)
    assert reg["所属部门"] == "办公室"                   # merged down from the row above
    assert reg["硬盘序列号"] == "WD-WCC4N7654321"         # the hidden column is read
    assert reg["启用日期"] == "2024-03-01" and reg["设备类型"] == "台式计算机"
    assert len(d) == 8 and d["gw-01"].register == ()      # the -i devices stay where they are
    assert "工作表「涉密网」：表头第 3 行，4 台设备" in r.output
    assert "已报废/注销未导入 1 行" in r.output


def test_bad_row_named_by_cell_nothing_written(tmp_path, inv):
    ledger = ledgerlib.make_ledger(tmp_path / "台账.xlsx", bad=True)
    r = run("inventory", "import", ledger, "-i", inv, "-o", inv)
    assert r.exit_code == 2
    assert "台账.xlsx「涉密网」第 9 行 K 列（MAC地址）：'02-00-00-00-0C-GG' 不是有效的 MAC 地址" in r.stderr
    assert "台账.xlsx「涉密网」第 9 行 H 列（责任人）：涉密网段 secret-lan 上的设备缺少责任人" in r.stderr
    assert not (inv / "devices.yaml").exists()
    r = run("inventory", "import", ledger, "-i", inv, "-o", inv, "--lang", "en")
    assert r.exit_code == 2
    assert "台账.xlsx, sheet 涉密网, row 9, column K (MAC地址): '02-00-00-00-0C-GG' is not a valid " \
           "MAC address" in r.stderr
    assert "nothing written" in r.stderr


def test_keep_going_writes_the_good_rows(tmp_path, inv):
    ledger = ledgerlib.make_ledger(tmp_path / "台账.xlsx", bad=True)
    r = run("inventory", "import", ledger, "-i", inv, "-o", inv, "--keep-going")
    assert r.exit_code == 1
    assert "第 9 行 K 列" in r.stderr and "未导入 1 行" in r.stderr
    d = devices(inv)
    assert "涉密终端-003" not in d and len(d) == 8        # 7 from the ledger + gw-01
    assert run("validate", inv).exit_code == 0


def test_problems_of_placement_and_duplicates(tmp_path, inv):
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.append(["设备名称", "资产编号", "使用人", "IP", "物理地址", "网络"])
    ws.append(["pc-1", "A1", "甲", "10.10.0.21", "0200.0000.0a01", "涉密网"])
    ws.append(["pc-2", "A2", "乙", "10.20.0.22", "02:00:00:00:0a:02", "secret-lan"])   # outside
    ws.append(["pc-3", "A3", "丙", "10.10.0.23", "02:00:00:00:0a:01", ""])             # dup MAC
    ws.append(["pc-4", "A4", "丁", "192.0.2.4", "02:00:00:00:0a:04", ""])              # no segment
    ws.append(["pc-5", "A5", "戊", "10.10.0.25", "02:00:00:00:0a:05", "财务网"])        # unknown
    ws.append(["pc-6", "A6", "己", "10.20.0.1", "02:00:00:00:0a:06", ""])               # gw-01's IP
    wb.save(tmp_path / "l.xlsx")
    r = run("inventory", "import", tmp_path / "l.xlsx", "-i", inv, "-o", inv)
    assert r.exit_code == 2
    err = r.stderr
    assert "第 3 行 D 列（IP）：地址 10.20.0.22 不在网段 secret-lan（10.10.0.0/24）内" in err
    assert "第 4 行 E 列（物理地址）：MAC 地址 02:00:00:00:0a:01 与第 2 行重复" in err
    assert "第 5 行 D 列（IP）：地址 192.0.2.4 不在任何已声明的网段内" in err
    assert "第 6 行 F 列（网络）：'财务网' 不是已声明的网段" in err
    assert "第 7 行 D 列（IP）：IP 地址 10.20.0.1 与" in err and "gw-01" in err


def test_same_names_get_their_asset_tags(tmp_path, inv):
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.append(["设备名称", "设备编号", "责任人", "IP地址", "MAC"])
    ws.append(["台式计算机", "BM-1", "甲", "10.10.0.21", "02:00:00:00:0a:01"])
    ws.append(["台式计算机", "BM-2", "乙", "10.10.0.22", "02:00:00:00:0a:02"])
    wb.save(tmp_path / "l.xlsx")
    r = run("inventory", "import", tmp_path / "l.xlsx", "-i", inv, "-o", inv)
    assert r.exit_code == 0, r.stderr
    d = devices(inv)
    assert dict(d["台式计算机-BM-2"].register)["设备名称"] == "台式计算机"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030", "utf-8"])
def test_csv_encodings(tmp_path, inv, encoding):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["某市审计局涉密计算机台账"])
    w.writerow(["序号", "设备名称", "资产编号", "责任人", "IP地址", "MAC地址", "所属部门"])
    w.writerow(["1", "涉密终端-001", "BM-1", "张三", "10.10.0.11", "02-00-00-00-0C-0B", "办公室 "])
    w.writerow(["2", "涉密终端-002", "BM-2", "赵敏", "１０．１０．０．１２", "0200.0000.0c0c", "办公室"])
    (tmp_path / "台账.csv").write_bytes(buf.getvalue().encode(encoding))
    r = run("inventory", "import", tmp_path / "台账.csv", "-i", inv, "-o", inv)
    assert r.exit_code == 0, r.stderr
    d = devices(inv)
    assert str(d["涉密终端-002"].interfaces[0].ip) == "10.10.0.12"      # full-width digits
    assert dict(d["涉密终端-001"].register)["所属部门"] == "办公室"


def test_map_file_and_show_map(tmp_path, inv):
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.append(["主机", "标签", "保密员指定人员", "地址", "网卡", "区域"])
    ws.append(["pc-1", "A1", "甲", "10.10.0.21", "02:00:00:00:0a:01", "内网"])
    wb.save(tmp_path / "l.xlsx")
    r = run("inventory", "import", tmp_path / "l.xlsx", "-i", inv, "-o", inv)
    assert r.exit_code == 2 and "找不到表头行" in r.stderr
    (tmp_path / "map.yaml").write_text(
        "columns: {主机: name, 标签: asset_tag, 保密员指定人员: custodian, 地址: ip, 网卡: mac, 区域: segment}\n"
        "segments: {内网: secret-lan}\n", encoding="utf-8")
    r = run("inventory", "import", tmp_path / "l.xlsx", "--map", tmp_path / "map.yaml", "--show-map")
    assert r.exit_code == 0, r.stderr
    assert '"网卡": mac    # F 列' in r.output or '"网卡": mac    # E 列' in r.output
    r = run("inventory", "import", tmp_path / "l.xlsx", "--map", tmp_path / "map.yaml", "-i", inv,
            "-o", inv)
    assert r.exit_code == 0, r.stderr
    assert devices(inv)["pc-1"].interfaces[0].segment == "secret-lan"
    (tmp_path / "bad.yaml").write_text("columns:\n  主机: hostname\n", encoding="utf-8")
    r = run("inventory", "import", tmp_path / "l.xlsx", "--map", tmp_path / "bad.yaml", "-i", inv,
            "-o", inv)
    assert r.exit_code == 2 and "bad.yaml:2:" in r.stderr


def test_header_names_recognised():
    from scanner.inventory.ledger.columns import recognise
    cases = {"MAC地址": "mac", "物理地址": "mac", "MAC": "mac", "ＭＡＣ地址": "mac", "IP地址": "ip",
             "IP": "ip", "IP 地址（内网）": "ip", "责任人": "custodian", "使用人": "custodian",
             "资产编号": "asset_tag", "设备编号": "asset_tag", "设备名称": "name", "设备类型": "kind",
             "密级": "level", "状态": "status", "所属网络": "segment", "硬盘序列号": None,
             "序号": None, "型号": None, "所属部门": None, "位置": None, "启用日期": None,
             "*责任人：": "custodian", "Asset tag": "asset_tag", "MAC address": "mac"}
    assert {h: recognise(h) for h in cases} == cases


def test_old_xls_register(tmp_path, inv):
    """An Excel 97-2003 register (.xls, read by xlrd): a title row merged
    across, a hidden column, a date cell, a MAC in dashes."""
    import datetime as dt
    import xlwt          # a test dependency (pyproject: test): it writes .xls as Excel 2003 did
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("涉密网")
    ws.write_merge(0, 0, 0, 5, "某市审计局涉密计算机台账")
    for c, h in enumerate(["设备名称", "资产编号", "责任人", "IP地址", "MAC地址", "启用日期"]):
        ws.write(1, c, h)
    row = ["涉密终端-001", "BM-1", "张三 ", "10.10.0.11", "02-00-00-00-0C-0B"]
    for c, v in enumerate(row):
        ws.write(2, c, v)
    ws.write(2, 5, dt.datetime(2024, 3, 1), xlwt.easyxf(num_format_str="YYYY-MM-DD"))
    ws.col(1).hidden = True
    wb.save(str(tmp_path / "台账.xls"))
    r = run("inventory", "import", tmp_path / "台账.xls", "-i", inv, "-o", inv, "--show-map")
    assert r.exit_code == 0, r.output
    assert "隐藏列" in r.output
    d = devices(inv)["涉密终端-001"]
    assert d.asset_tag == "BM-1" and d.custodian == "张三" and d.interfaces[0].mac == "02:00:00:00:0c:0b"
    assert dict(d.register)["启用日期"] == "2024-03-01"


def test_classified_mark_on_a_non_classified_network(tmp_path, inv):
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.append(["设备名称", "资产编号", "责任人", "IP地址", "密级"])
    ws.append(["pc-1", "BM-1", "甲", "10.20.0.31", "机密"])
    ws.append(["pc-2", "BG-2", "", "10.20.0.32", "非密"])
    wb.save(tmp_path / "l.xlsx")
    r = run("inventory", "import", tmp_path / "l.xlsx", "-i", inv, "-o", inv)
    assert r.exit_code == 2
    assert "第 2 行 E 列（密级）：密级为“机密”的设备登记在非涉密网段 office-lan" in r.stderr
    assert "第 3 行" not in r.stderr          # 非密, no custodian needed


def test_a_hidden_stale_column_gives_way_to_the_visible_one(tmp_path, inv):
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.append(["设备名称", "资产编号", "责任人", "原IP地址", "IP地址", "MAC地址"])
    ws.append(["pc-1", "BM-1", "甲", "10.10.0.99", "10.10.0.21", "02:00:00:00:0a:01"])
    ws.column_dimensions["D"].hidden = True
    wb.save(tmp_path / "l.xlsx")
    r = run("inventory", "import", tmp_path / "l.xlsx", "-i", inv, "-o", inv, "--show-map")
    assert r.exit_code == 0, r.output
    assert '"原IP地址": register    # D 列，登记信息（原样保留），隐藏列，同类列已有一列，本列原样保留' in r.output
    d = devices(inv)["pc-1"]
    assert str(d.interfaces[0].ip) == "10.10.0.21" and dict(d.register)["原IP地址"] == "10.10.0.99"


def test_tab_separated_unicode_text(tmp_path, inv):
    """Excel's "Unicode text" (UTF-16, tab-separated)."""
    body = "设备名称\t资产编号\t责任人\tIP地址\tMAC地址\r\npc-1\tBM-1\t甲\t10.10.0.21\tAABB.CCDD.EEFF\r\n"
    (tmp_path / "l.csv").write_bytes(body.encode("utf-16"))
    r = run("inventory", "import", tmp_path / "l.csv", "-i", inv, "-o", inv)
    assert r.exit_code == 0, r.output
    assert devices(inv)["pc-1"].interfaces[0].mac == "aa:bb:cc:dd:ee:ff"


def test_a_hand_written_devices_yaml_is_never_overwritten(tmp_path, inv):
    ledger = ledgerlib.make_ledger(tmp_path / "台账.xlsx")
    mine = inv / "devices.yaml"
    mine.write_text("version: 1\ndevices: []\n", encoding="utf-8")
    r = run("inventory", "import", ledger, "-i", inv, "-o", inv)
    assert r.exit_code == 2 and "不会覆盖" in r.stderr
    assert mine.read_text(encoding="utf-8") == "version: 1\ndevices: []\n"
    r = run("inventory", "import", ledger, "-i", inv / "segments.yaml", "-o", inv / "devices-台账.yaml")
    assert r.exit_code == 0, r.output
    # a generated file is replaced on the next import (it is the output, left out of -i)
    r = run("inventory", "import", ledger, "-i", inv / "segments.yaml", "-i", inv / "devices-台账.yaml",
            "-o", inv / "devices-台账.yaml")
    assert r.exit_code == 0, r.output


def test_show_map_prints_a_map_that_imports_the_same(tmp_path, inv):
    ledger = ledgerlib.make_ledger(tmp_path / "台账.xlsx")
    r = run("inventory", "import", ledger, "--show-map")
    assert r.exit_code == 0, r.output
    assert r.output.startswith('header_row: {"涉密网": 3, "办公网": 3}\ncolumns:\n')
    (tmp_path / "map.yaml").write_text(r.output, encoding="utf-8")
    r = run("inventory", "import", ledger, "--map", tmp_path / "map.yaml", "-i", inv, "-o", inv)
    assert r.exit_code == 0, r.output
    assert len(devices(inv)) == 8


def test_two_row_header_standalone_computers_and_no_address(tmp_path, inv):
    """A header of two rows (合并表头: 序号 and 设备名称 merged down, 网络信息 over IP
    and MAC), a standalone computer (单机) left out, "无" and "DHCP" as no address."""
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = "涉密网"
    ws.append(["某单位涉密计算机台账"])
    ws.append(["序号", "设备名称", "资产编号", "责任人", "网络信息", None, "所属网络"])
    ws.append([None, None, None, None, "IP地址", "MAC地址", None])
    for rng in ("A1:G1", "A2:A3", "B2:B3", "C2:C3", "D2:D3", "E2:F2", "G2:G3"):
        ws.merge_cells(rng)
    ws.append([1, "涉密终端-001", "BM-1", "张三", "10.10.0.11", "无", "涉密网"])
    ws.append([2, "涉密单机-001", "BM-2", "李四", "无", "无", "单机"])
    ws.append([3, "涉密笔记本", "BM-3", "王五", "DHCP", "02-00-00-00-0A-03", "涉密网"])
    wb.save(tmp_path / "l.xlsx")
    r = run("inventory", "import", tmp_path / "l.xlsx", "-i", inv, "-o", inv)
    assert r.exit_code == 0, r.output
    assert "表头第 3 行" in r.output and "单机（不联网）未导入 1 行（第 5 行）" in r.output
    d = devices(inv)
    assert "涉密单机-001" not in d
    assert d["涉密终端-001"].interfaces[0].mac is None
    assert d["涉密笔记本"].interfaces[0].ip is None and d["涉密笔记本"].interfaces[0].segment == "secret-lan"
    assert run("validate", inv).exit_code == 0


def test_the_source_named_in_devices_yaml_is_the_bytes_imported(tmp_path):
    import hashlib
    seg = ledgerlib.segments(tmp_path / "inv")
    ledger = ledgerlib.make_ledger(tmp_path / "台账.xlsx")
    from click.testing import CliRunner
    from scanner.cli import main
    r = CliRunner().invoke(main, ["inventory", "import", str(ledger), "-i", str(seg),
                                  "-o", str(tmp_path / "inv")])
    assert r.exit_code == 0, r.output
    head = (tmp_path / "inv" / "devices.yaml").read_text(encoding="utf-8")[:2000]
    assert hashlib.sha256(ledger.read_bytes()).hexdigest() in head
