"""The report's first screen and the inspection record, measured, not eyed (issue 22).

The report fixtures, with the ports and destinations the checks now put in
`subject`, a declared time zone (Asia/Shanghai) and one signed bundle, go
through `isoscan report --record --pdf` in zh-CN and en:

- the first finding shown (the report's "what to fix first", the record's
  rectification list) is the classified segment's most severe one, and its line
  names the destination; the open service's line names its ports;
- Chromium (Debian's, driven by Playwright as tests/serve/test_console_browser.py
  does) measures the screen report at 1280 px and the printable page at the A4
  text width: no table wider than its page, no cell that clips, and no address,
  MAC, port, time, check or finding id, or fingerprint split over two lines;
- the PDF passes `qpdf --check`; the record comes first; pdftotext holds every
  check id, title and finding id of the rectification list in the ranked order,
  the signer's fingerprint once, times with their offset and no install path.

Screenshots of the first screen and of the record's pages (both languages) are
kept in tests/report/screenshots/ (ignored by git) for a person to look at.
Under CI these tests must run; elsewhere they skip only without Chromium,
Playwright, qpdf or poppler-utils.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.report.conftest import FIXTURES, NAMES

SHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("ISOSCAN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
A4_TEXT_PX = round((210 - 2 * 12) / 25.4 * 96)      # report.css @page: A4, 12 mm left and right
DEST = "10.10.0.77 -> 203.0.113.10:443/tcp"
LANGS = ("zh-CN", "en")

# what must never be split over two lines: addresses (with a port), MACs, ports, times,
# check and finding ids, key fingerprints
TOKENS = (r"(?:ed25519|sm2):SHA256:[A-Za-z0-9+/]+"
          r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:\d{2})"
          r"|\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b"
          r"|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+/(?:tcp|udp))?"
          r"|\b\d+/(?:tcp|udp)\b"
          r"|\b[A-Z]{2,}(?:-[A-Z0-9]+)+(?:-[0-9a-f]{6})?\b")

MEASURE = """(src) => {
  const re = new RegExp(src, 'g');
  const W = document.documentElement.clientWidth;
  const wide = [], clipped = [], split = [];
  for (const t of document.querySelectorAll('table')) {
    const r = t.getBoundingClientRect();
    if (!r.width) continue;
    if (r.right > W + 1 || r.left < -1)
      wide.push({table: t.className || (t.closest('[data-table]') || {}).dataset?.table,
                 right: Math.round(r.right), page: W});
  }
  for (const c of document.querySelectorAll('td, th, dd, li, p, .tbl')) {
    if (c.getClientRects().length && c.scrollWidth > c.clientWidth + 1)
      clipped.push({text: c.textContent.slice(0, 80), scroll: c.scrollWidth, client: c.clientWidth});
  }
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const n = walk.currentNode;
    if (n.parentElement.closest('script, style, svg')) continue;
    re.lastIndex = 0;
    let m;
    while ((m = re.exec(n.data))) {
      const range = document.createRange();
      range.setStart(n, m.index);
      range.setEnd(n, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].filter(x => x.width > 0)
                               .map(x => Math.round(x.top)));
      if (tops.size > 1) split.push(m[0]);
    }
  }
  return {page: W, doc: document.documentElement.scrollWidth, wide, clipped, split};
}"""


def _need(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing (./scripts/setup --tests installs it)")
        pytest.skip(f"{tool} is missing")
    return exe


def _bundles() -> list[dict]:
    """The report fixtures, with what the checks now say about where: the forwarder's
    and the classified leak's destination, the open service's ports."""
    out = [json.loads((FIXTURES / f"{n}.json").read_text("utf-8")) for n in NAMES]
    for b in out:
        for f in b["findings"]:
            s = f["subject"]
            if f["status"] != "fail":
                continue
            if f["check_id"] == "ISO-BRIDGE" and s.get("ip") == "10.10.0.77":
                s["destination"] = "203.0.113.10:443/tcp"
            elif f["check_id"] == "ISO-PHYSICAL":
                s["destination"] = "203.0.113.10:443/tcp"
            elif f["check_id"] == "ISO-LOGICAL":
                s["ports"] = ["443/tcp", "3389/tcp"]
    return out


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """{lang: {"html", "pdf", "print_html", "merged"}} and the signer's fingerprint."""
    from scanner.evidence.keys import load_private_key, new_key_pair
    from scanner.evidence.sign import sign_once
    from tests.evidence.conftest import run
    for t in ("qpdf", "pdftotext", "pdftoppm"):
        _need(t)
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: under CI the report's browser tests must run")
        pytest.skip("chromium is not installed")
    tmp = tmp_path_factory.mktemp("record")
    inv = tmp / "inventory.yaml"
    inv.write_text((FIXTURES / "inventory.yaml").read_text("utf-8").replace(
        "  id: EX-0001\n", "  id: EX-0001\n  timezone: Asia/Shanghai\n", 1), "utf-8")
    priv, pub, fp = new_key_pair(str(tmp / "probe.key"), name="涉密网探针")
    paths = []
    for name, doc in zip(NAMES, _bundles()):
        if name == "secret-lan":
            doc = sign_once(doc, load_private_key(priv), str(tmp / "state.json"))
        p = tmp / f"{name}.json"
        p.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
        paths.append(str(p))
    out = {"fp": fp, "tmp": tmp}
    for lang in LANGS:
        d = tmp / lang
        d.mkdir()
        r = run("report", *paths, "-i", str(inv), "--no-rejudge", "--lang", lang,
                "-o", str(d / "r.html"), "--json", str(d / "m.json"), "--trust", pub,
                "--record", "--inspector", "王检查", "--responsible", "李主任",
                "--deadline", "2027-01-31", "--pdf", str(d / "r.pdf"))
        assert r.exit_code == 0, r.output
        out[lang] = {"html": d / "r.html", "pdf": d / "r.pdf",
                     "merged": json.loads((d / "m.json").read_text("utf-8")),
                     "print_html": _printable(paths, str(inv), lang, pub, d / "print.html")}
    return out


def _printable(paths, inv, lang, pub, out: Path) -> Path:
    """The page `report --pdf` prints (every row, the record first), for Chromium to measure."""
    from scanner.evidence.reporthook import ReportEvidence
    from scanner.inventory.load import load_inventory
    from scanner.report.render import merge_report, render_report
    inventory = load_inventory([inv]).inventory
    bundles = [json.loads(Path(p).read_text("utf-8")) for p in paths]
    ev = ReportEvidence.from_options(trust=[pub], record=True, inspector="王检查",
                                     responsible="李主任", deadline="2027-01-31")
    ev.verify(list(zip(paths, bundles)))
    merged = merge_report(bundles, lang, inventory=inventory)
    html = render_report(bundles, lang, inventory=inventory, merged=merged,
                         extend=ev.extension(merged, lang, print_all=True, report_sha="0" * 64))
    out.write_text(html, "utf-8")
    return out


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed (pip install 'isoscan[test]')")
        pytest.skip("playwright is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _text(pdf: Path, *extra: str) -> str:
    return subprocess.run(["pdftotext", *extra, str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


# --------------------------------------------------------------------------
# what is shown first


@pytest.mark.parametrize("lang", LANGS)
def test_the_report_opens_with_the_classified_segments_worst_finding_and_where(made, lang):
    from tests.report.conftest import Page
    html = made[lang]["html"].read_text("utf-8")
    body = html.split("<body", 1)[1]
    # the ranked list comes before every section of detail
    assert body.index('id="fixfirst"') < min(body.index(f'id="{s}"') for s in
                                             ("header", "requirements", "findings", "devices"))
    page = Page(html)
    first = page.id_text("first-fix")
    assert "secret-lan" in page.id_text("fixfirst") and "203.0.113.10:443/tcp" in first
    assert ("严重" if lang == "zh-CN" else "Critical") in first
    items = re.findall(r'<li class="ff sev-(\w+)[^"]*">(.*?)</li>', html, re.S)
    assert items[0][0] == "critical" and "secret-lan" in items[0][1]
    assert "203.0.113.10:443/tcp" in items[0][1]
    logical = next(t for _, t in items if "ISO-LOGICAL" in t)
    assert "443/tcp" in logical and "3389/tcp" in logical
    # the one count, as the record gives it
    from scanner.report.fixfirst import finding_tally
    n = finding_tally(made[lang]["merged"])["violations"]
    assert re.search(rf'<p class="tally" id="tally">[^<]*\b{n}\b', html)


@pytest.mark.parametrize("lang", LANGS)
def test_the_record_comes_first_ranked_with_where(made, lang):
    # -layout keeps the page's top-to-bottom order (a table row before the next);
    # the plain reading order keeps a wrapped cell together (the titles)
    flat = "".join(_text(made[lang]["pdf"], "-layout").split())
    reading = "".join(_text(made[lang]["pdf"]).split())
    record, report = ("检查记录", "附件：完整检查报告") if lang == "zh-CN" else \
        ("Inspection record", "Appendix: the full report")
    assert flat.index("".join(record.split())) < flat.index("".join(report.split()))
    # the rectification list in the report's ranking: each row's finding id (its check id
    # in it) in order, its title, and the first row names where it leaked to
    from scanner.evidence.reportview import numbered_ids
    from scanner.report.fixfirst import ranked
    m = made[lang]["merged"]
    rid = {id(f): i for f, i in zip(m["findings"], numbered_ids(m["findings"]))}
    rows = [f for f, _ in ranked(m) if f["status"] == "fail"]
    assert rows[0]["segment"] == "secret-lan" and rows[0]["severity"] == "critical"
    at = flat.index("".join(("五、整改清单" if lang == "zh-CN" else "5. Rectification list").split()))
    end = flat.index("".join(report.split()))
    where = []
    for f in rows:
        assert f["check_id"] in rid[id(f)]
        where.append(flat.index(rid[id(f)], where[-1] + 1 if where else at))
        assert "".join(f["title"].split()) in reading
    assert where[-1] < end
    assert "203.0.113.10:443/tcp" in flat[where[0]:where[1]]      # row 1 names the destination
    seg = "secret-lan（涉密网段）" if lang == "zh-CN" else "secret-lan(classified)"
    assert seg in flat[at:where[1]]


@pytest.mark.parametrize("lang", LANGS)
def test_the_pdf_is_sound_local_time_no_install_path_fingerprint_once(made, lang):
    pdf = made[lang]["pdf"]
    r = subprocess.run(["qpdf", "--check", str(pdf)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    text = _text(pdf)
    flat = "".join(text.split())
    assert flat.count(made["fp"]) == 1                   # the signer's fingerprint, once
    assert "+08:00" in text                              # the unit's zone, with its offset
    assert not re.search(r"\d{2}:\d{2}:\d{2}Z", text)     # no UTC 'Z' time a person reads
    for path in ("site-packages", "/venv/", "/opt/isoscan", "regulations.yaml path"):
        assert path not in text
    if lang == "zh-CN":     # no raw English state or label on a zh-CN page
        for word in ("classified", "non-classified", "direct", "present", "vanished"):
            assert not re.search(rf"\b{word}\b", text), word


# --------------------------------------------------------------------------
# measured in Chromium


def _measure(page) -> dict:
    return page.evaluate(MEASURE, TOKENS)


@pytest.mark.parametrize("lang", LANGS)
def test_first_screen_measured_and_photographed(made, browser, lang):
    SHOTS.mkdir(exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(made[lang]["html"].as_uri())
    # the first screen shows the verdict, the one count and the first finding to fix
    top = page.locator("#first-fix").bounding_box()
    assert top is not None and top["y"] + top["height"] <= 800, top
    assert page.locator("li.ff").first.bounding_box()["y"] < 800
    shot = SHOTS / f"report-first-screen-{lang}.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    got = _measure(page)
    assert got["doc"] <= got["page"], got
    assert got["wide"] == [] and got["clipped"] == [] and got["split"] == [], got
    assert not errors, errors
    ctx.close()


@pytest.mark.parametrize("lang", LANGS)
def test_printed_pages_measured_at_a4_width(made, browser, lang):
    ctx = browser.new_context(viewport={"width": A4_TEXT_PX, "height": 1100})
    page = ctx.new_page()
    page.emulate_media(media="print")
    page.goto(made[lang]["print_html"].as_uri())
    got = _measure(page)
    assert got["page"] == A4_TEXT_PX
    assert got["doc"] <= got["page"], got
    assert got["wide"] == [], got["wide"]
    assert got["clipped"] == [], got["clipped"]
    assert got["split"] == [], got["split"]
    # the severity badges stand horizontal: wider than high, on one line
    for box in page.locator("#record .sev").evaluate_all(
            "els => els.map(e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height])"):
        assert box[0] > box[1], box
    ctx.close()


@pytest.mark.parametrize("lang", LANGS)
def test_record_pages_photographed(made, lang):
    """The record's pages of the real PDF, as PNGs for a person to look at."""
    SHOTS.mkdir(exist_ok=True)
    pdf = made[lang]["pdf"]
    pages = _text(pdf).split("\f")
    marker = "附件：完整检查报告" if lang == "zh-CN" else "Appendix: the full report"
    last = next(n for n, p in enumerate(pages, 1) if marker in p) - 1
    assert last >= 1
    for old in SHOTS.glob(f"record-{lang}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", str(last), str(pdf),
                    str(SHOTS / f"record-{lang}")], check=True)
    shots = sorted(SHOTS.glob(f"record-{lang}-*.png"))
    assert len(shots) == last and all(s.stat().st_size > 5_000 for s in shots)
