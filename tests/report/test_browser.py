"""A real browser: headless Chromium on local files (no network).

Screenshots, DOM dump (verdict shown, pager script ran under the CSP, no
console message), print-to-PDF."""
from __future__ import annotations

import copy
import re

import pytest

from scanner.report.render import PAGE, render_report
from tests.report.conftest import require_chromium, run_chromium


@pytest.fixture(autouse=True)
def _browser():
    """Skips without Chromium, except under CI, where these tests must run."""
    require_chromium()


def _console(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln]


@pytest.fixture
def report_file(tmp_path, bundles, inventory):
    big = copy.deepcopy(bundles)
    # more rows than a page on secret-lan, so the pager and its script are exercised
    for i in range(PAGE + 50):
        big[0]["findings"].append({
            "check_id": "DEV-UNREGISTERED", "status": "fail", "severity": "high",
            "segment": "secret-lan", "subject": {"ip": f"10.10.0.{i % 250}", "mac": None,
                                                  "device": f"<script>alert({i})</script>"},
            "title": "", "evidence": [f"ARP reply {i}"], "regulation": []})
    p = tmp_path / "report.html"
    p.write_text(render_report(big, "zh-CN", inventory=inventory), "utf-8")
    return p


def test_screenshot_and_dom(report_file, tmp_path):
    png = tmp_path / "shot.png"
    r = run_chromium(report_file, f"--screenshot={png}", "--window-size=1280,2000")
    assert png.exists(), r.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000                # a rendered page, not a blank one
    assert _console(r.stderr) == []

    r = run_chromium(report_file, "--dump-dom", "--virtual-time-budget=3000")
    dom = r.stdout
    assert re.search(r'id="verdict-text">不合规<', dom)
    assert _console(r.stderr) == []          # no script error, no CSP violation
    # the script ran: the pager of the long table is shown (hidden until the script runs)
    assert re.search(r'<div class="pager">', dom)
    assert "<script>alert(" not in dom.split("<body", 1)[1].replace(
        '<script type="application/json"', "").split("</footer>")[0]


def test_print_to_pdf(report_file, tmp_path):
    pdf = tmp_path / "report.pdf"
    r = run_chromium(report_file, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert pdf.exists(), r.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    # an A4 document of several pages (sections break onto new pages)
    assert len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 4
    assert re.search(rb"/MediaBox\s*\[\s*0 0 59[45]", data)


def test_english_report_renders(tmp_path, bundles):
    p = tmp_path / "en.html"
    p.write_text(render_report(bundles, "en"), "utf-8")
    r = run_chromium(p, "--dump-dom")
    assert 'id="verdict-text">Non-compliant<' in r.stdout
    assert _console(r.stderr) == []


def test_pager_pages_and_filters(report_file, tmp_path):
    """Drive the pager in the browser: next page, then a filter. The harness
    script is added to a copy of the report (its hash admitted by the CSP)."""
    import base64
    import hashlib
    html = report_file.read_text("utf-8")
    harness = (
        "(function(){var box=document.querySelector('div.tbl .pager').parentNode;"
        "var next=box.querySelector('.next');next.click();"
        "var out=document.createElement('pre');out.id='harness';"
        "var first=box.querySelector('tbody tr td:nth-child(3)').textContent;"
        "var pos1=box.querySelector('.pos').textContent;"
        "var input=box.querySelector('.filter');input.value='alert(7)';"
        "input.dispatchEvent(new Event('input'));"
        "setTimeout(function(){out.textContent=[pos1,first,"
        "box.querySelector('.pos').textContent,box.querySelectorAll('tbody tr').length,"
        "document.querySelectorAll('tbody script, tbody img').length].join('|');"
        "document.body.appendChild(out);},600);})();")
    digest = base64.b64encode(hashlib.sha256(harness.encode()).digest()).decode()
    csp_script = "script-src &#39;sha256-"          # the attribute is HTML-escaped
    assert csp_script in html
    html = html.replace(csp_script, f"script-src &#39;sha256-{digest}&#39; &#39;sha256-", 1)
    html = html.replace("</body>", f"<script>{harness}</script></body>")
    p = tmp_path / "harness.html"
    p.write_text(html, "utf-8")
    r = run_chromium(p, "--dump-dom", "--virtual-time-budget=5000")
    assert _console(r.stderr) == []
    m = re.search(r'<pre id="harness">([^<]*)</pre>', r.stdout)
    assert m, r.stdout[-3000:]
    pos1, first, pos2, nrows, injected = m.group(1).split("|")
    assert pos1.startswith(f"{PAGE + 1}\u2013")           # page 2 of the long table
    assert first                                           # rows drawn from the JSON data
    assert pos2 == "1\u20131 / 1" and nrows == "1"         # the filter found exactly one row
    assert injected == "0"                                 # hostile names stayed text
