"""Realistic registers (台账), made with openpyxl by the tests themselves: a
title row, merged cells, two sheets (涉密网, 办公网), MACs in three notations,
a full-width colon, trailing spaces, a hidden column, a blank row, and (when
asked) one bad row."""
from __future__ import annotations

from pathlib import Path

SEGMENTS = """\
version: 1
organization: {name: 某市审计局, timezone: Asia/Shanghai}
segments:
  - name: secret-lan
    title: 涉密网
    classification: classified
    level: secret
    networks: [10.10.0.0/24]
  - name: office-lan
    title: 办公网
    classification: non-classified
    networks: [10.20.0.0/24]
    ingress: gw-01
  - name: internet
    title: 互联网
    classification: internet
    networks: [203.0.113.0/24]
devices:
  - name: gw-01
    kind: gateway
    interfaces:
      - {segment: office-lan, ip: 10.20.0.1, mac: "02:00:00:00:0d:01"}
      - {segment: internet, ip: 203.0.113.1, mac: "02:00:00:00:0d:03"}
"""

HEADER = ["序号", "设备名称", "设备类型", "型号", "资产编号", "密级", "所属部门", "责任人",
          "位置", "IP地址", "MAC地址", "硬盘序列号", "状态", "启用日期", "备注"]


def segments(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "segments.yaml"
    p.write_text(SEGMENTS, encoding="utf-8")
    return p


def secret_rows(bad: bool = False):
    import datetime as dt
    rows = [
        [1, "涉密终端-001", "台式计算机", "ThinkCentre M920t", "BM-2024-0001", "秘密", "办公室", "张三 ",
         "3楼301", "10.10.0.11", "02-00-00-00-0C-0B", "WD-WCC4N1234567", "在用", dt.datetime(2024, 3, 1), ""],
        [2, "涉密终端-002", "台式计算机", "ThinkCentre M920t", "BM-2024-0002", "秘密", None, "赵敏",
         "3楼302", "10.10.0.12 ", "0200.0000.0c0c", "WD-WCC4N7654321", "在用", dt.datetime(2024, 3, 1), ""],
        [3, "涉密文件服务器", "服务器", "PowerEdge R740", "BM-2024-0010", "秘密", "信息中心", "张三",
         "机房", "10.10.0.5", "02：00：00：00：0c：05", "SN-R740-01", "在用", dt.datetime(2023, 6, 15), "主服务器"],
        None,                                  # a blank row in the middle
        [4, "涉密打印机", "打印机", "HP M403d", "BM-2024-0020", "秘密", "办公室", "赵敏",
         "3楼301", "10.10.0.40", "02:00:00:00:0c:28", "", "在用", dt.datetime(2024, 1, 9), ""],
        [5, "旧涉密终端", "台式计算机", "OptiPlex 7010", "BM-2015-0003", "秘密", "办公室", "张三",
         "库房", "10.10.0.99", "02:00:00:00:0c:63", "", "已报废", dt.datetime(2015, 1, 1), "2024年报废"],
    ]
    if bad:
        rows.insert(5, [6, "涉密终端-003", "台式计算机", "ThinkCentre M920t", "BM-2024-0003", "秘密",
                        "办公室", "", "3楼303", "10.10.0.13", "02-00-00-00-0C-GG", "", "在用",
                        dt.datetime(2024, 3, 1), ""])
    return rows


def office_rows():
    import datetime as dt
    return [
        [1, "办公-张伟", "笔记本", "ThinkPad X1", "BG-2025-0101", "非密", "办公室", "张伟",
         "2楼201", "10.20.0.21", "02:00:00:00:14:15", "", "在用", dt.datetime(2025, 2, 1), ""],
        [2, "办公-王芳", "台式机", "OptiPlex 7090", "BG-2025-0102", "非密", "财务科", "王芳",
         "2楼202", "10.20.0.22", "0200.0000.1416", "", "在用", dt.datetime(2025, 2, 1), ""],
        [3, "办公打印机", "多功能一体机", "Canon iR2630", "BG-2025-0140", "非密", "财务科", "王芳",
         "2楼走廊", "10.20.0.40", "02-00-00-00-14-28", "", "在用", dt.datetime(2025, 2, 1), ""],
    ]


def make_ledger(path: Path, *, bad: bool = False) -> Path:
    from openpyxl import Workbook
    wb = Workbook()
    for i, (title, rows) in enumerate((("涉密网", secret_rows(bad)), ("办公网", office_rows()))):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = title
        ws.append([f"某市审计局{title}计算机台账"])           # a title row, merged across
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
        ws.append(["填报单位：某市审计局", None, None, None, None, None, None, None, None, None,
                   None, None, None, "2026年12月"])
        ws.append(HEADER)
        for r in rows:
            ws.append(r if r is not None else [])
        ws.column_dimensions["L"].hidden = True                    # 硬盘序列号, hidden
        if title == "涉密网":
            # 所属部门 merged down over the first two devices (B 列 is 设备名称, G 列 所属部门)
            ws.merge_cells("G4:G5")
    wb.save(path)
    return path
