"""Whatever a register's cells hold, import ends in a verdict (0 written, or 2
with a message and nothing written), never a traceback."""
from __future__ import annotations

import datetime as dt

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

import ledgerlib

# what a worksheet can hold (openpyxl refuses control characters, as Excel does)
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\n"), max_size=30)
CELL = st.one_of(st.none(), TEXT, st.integers(-10**15, 10**15),
                 st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                 st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)),
                 st.sampled_from(["10.10.0.11", "１０．１０．０．１２", "02-00-00-00-0C-0B", "aabb.ccdd.eeff",
                                  "秘密", "报废", "服务器", "涉密网", "填表人：张三", "=1+1", " ", "\u3000"]))
HEADERS = st.lists(st.sampled_from(ledgerlib.HEADER + ["", "IP", "物理地址", "使用人", "网络", "备注"]),
                   min_size=1, max_size=8)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(header=HEADERS, rows=st.lists(st.lists(CELL, max_size=8), max_size=6))
def test_any_cells_end_in_a_verdict(tmp_path_factory, header, rows):
    from openpyxl import Workbook
    from scanner.cli import main
    folder = tmp_path_factory.mktemp("fuzz")
    ledgerlib.segments(folder / "inv")
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append([v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v for v in r])
    wb.save(folder / "l.xlsx")
    r = CliRunner().invoke(main, ["inventory", "import", str(folder / "l.xlsx"), "-i",
                                  str(folder / "inv"), "-o", str(folder / "inv")])
    assert r.exit_code in (0, 2), (r.output, r.exception)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    if r.exit_code == 0:
        assert CliRunner().invoke(main, ["validate", str(folder / "inv")]).exit_code == 0
    else:
        assert not (folder / "inv" / "devices.yaml").exists()
