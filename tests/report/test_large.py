"""Large scans stay usable: long tables are capped in the HTML and paged from
embedded data; rendering stays fast (bench/report_bench.py has the full size)."""
from __future__ import annotations

import importlib.util
import json
import re
import time
from pathlib import Path

from scanner.report.render import PAGE, render_report
from tests.report.conftest import Page

BENCH = Path(__file__).parents[2] / "bench" / "report_bench.py"


def _bench():
    spec = importlib.util.spec_from_file_location("report_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_large_scan_is_capped_and_paged():
    bundles, inv = _bench().make_scan(devices=20_000, findings=2_000, segments=4)
    t = time.perf_counter()
    html = render_report(bundles, "zh-CN", inventory=inv)
    took = time.perf_counter() - t
    assert took < 20, took                        # generous: CI machines vary; bench has the figure
    p = Page(html)
    rows_in_html = html.count("<tr")
    assert rows_in_html < 12 * PAGE * 4           # never the 20,000 devices as DOM rows
    blocks = [json.loads(b) for a, b in p.scripts if a.get("type") == "application/json"]
    assert sum(len(b) for b in blocks) >= 20_000  # ... but all of them in the file
    for box in re.findall(r'<div class="tbl" data-table="(r\d+)"', html):
        assert f'id="data-{box}"' in html
    assert "<details>" in html                    # passes are collapsed


def test_bench_prints_figures(capsys, tmp_path):
    _bench().main(["--devices", "2000", "--findings", "200", "--out", str(tmp_path / "b.html")])
    out = capsys.readouterr().out
    assert re.search(r"render: [\d.]+ s\s+file: [\d.]+ MB", out)


def test_evidence_in_report_language_from_i18n(bundles):
    b = bundles[0]
    f = b["findings"][0]
    f["evidence"] = ["读取了 1 个文件"]
    f["i18n"] = {"title": {"zh-CN": "清单", "en": "Inventory"},
                 "remediation": {"zh-CN": "修复", "en": "Fix it"},
                 "evidence": [{"zh-CN": "读取了 1 个文件", "en": "read 1 file"}]}
    from scanner.report.render import merge_report
    m = merge_report([b], "en")
    got = [x for x in m["findings"] if x["check_id"] == f["check_id"]][0]
    assert got["evidence"] == ["read 1 file"]
