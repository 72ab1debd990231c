"""report --pdf: every finding (no pager cut-off), CJK in an embedded font, A4,
page numbers, the running title, the signer fingerprints and the report's sha256
on the pages; hostile strings as text. Read back with poppler's pdftotext."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess

import pytest

from scanner.evidence.keys import load_private_key, short_fingerprint
from scanner.evidence.sign import sign_once
from tests.evidence.conftest import FIXTURES, fixture_bundle, run, write_json
from tests.report.conftest import require_chromium

N_EXTRA = 260          # more than a pager page (200 rows) in one table


def _need(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing (./scripts/setup --tests installs poppler-utils)")
        pytest.skip(f"{tool} is missing (poppler-utils)")
    return exe


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    require_chromium()
    for t in ("pdftotext", "pdftoppm", "pdfinfo", "pdffonts"):
        _need(t)
    from scanner.evidence.keys import new_key_pair
    tmp = tmp_path_factory.mktemp("pdf")
    priv, pub, fp = new_key_pair(str(tmp / "probe.key"), name="涉密网探针")
    doc = fixture_bundle()
    for i in range(N_EXTRA):
        doc["findings"].append({
            "check_id": "DEV-UNREGISTERED", "status": "fail", "severity": "high",
            "segment": "secret-lan",
            "subject": {"ip": f"10.10.{i // 250}.{i % 250}", "mac": None,
                        "device": f"rogue-{i:03d}"},
            "title": "发现未登记设备", "evidence": [f"ARP reply {i} <script>alert({i})</script>"],
            "regulation": [], "remediation": "拆除未登记设备"})
    from scanner.bundle import findings_from_bundle, summary
    doc["summary"] = summary(findings_from_bundle(doc))
    b = write_json(tmp / "secret.json", sign_once(doc, load_private_key(priv), str(tmp / "st.json")))
    html, pdf = tmp / "r.html", tmp / "r.pdf"
    merged = tmp / "m.json"
    r = run("report", str(b), str(FIXTURES / "office-lan.json"), "--no-rejudge", "-o", str(html),
            "--json", str(merged), "--trust", pub, "--pdf", str(pdf), "--inspector", "王检查",
            "--responsible", "李主任", "--deadline", "2027-01-31")
    assert r.exit_code == 0, r.output
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    raw = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                         check=True).stdout      # reading order: a wrapped cell stays together
    return {"tmp": tmp, "pdf": pdf, "html": html, "text": text, "fp": fp,
            "flat": "".join(raw.split()),
            "merged": json.loads(merged.read_text("utf-8"))}


def test_every_finding_is_in_the_pdf(made):
    text = made["text"]
    for i in range(N_EXTRA):
        assert f"rogue-{i:03d}" in text, i
    for f in made["merged"]["findings"]:
        assert f["check_id"] in text


def test_every_rectification_id_and_chinese_titles(made):
    from scanner.evidence.reportview import numbered_ids
    fs = made["merged"]["findings"]
    ids = [i for f, i in zip(fs, numbered_ids(fs)) if f["status"] == "fail"
           and f["severity"] != "info"]
    flat = made["flat"]
    for i in ids:
        assert i in flat, i
    titles = {f["title"] for f in fs if f["status"] == "fail"}
    assert any(re.search(r"[\u4e00-\u9fff]", t) for t in titles)       # the Chinese titles
    for t in titles:
        assert "".join(t.split()) in flat, t
    for f in fs:
        if f["status"] == "fail" and f["severity"] != "info" and f.get("remediation"):
            assert "".join(f["remediation"].split())[:30] in flat
    for s in ("检查记录", "整改清单", "王检查", "李主任",
              "检查人", "被检查单位负责人", "2027-01-31"):
        assert s in flat, s


def test_signer_fingerprints_and_report_sha_on_every_page(made):
    pages = made["text"].split("\f")
    pages = [p for p in pages if p.strip()]
    sha = hashlib.sha256(made["html"].read_bytes()).hexdigest()[:16]
    short = short_fingerprint(made["fp"])
    for n, p in enumerate(pages, 1):
        assert sha in p, n
        assert short in p, n
        assert re.search(rf"\b{n} / {len(pages)}\b", p), n       # page numbers
        assert "网络隔离合规检查报告" in p, n                      # running title
    assert made["fp"] in made["flat"]


def test_a4_and_page_count_follows_the_findings(made):
    info = subprocess.run(["pdfinfo", str(made["pdf"])], capture_output=True, text=True,
                          check=True).stdout
    assert re.search(r"Page size:\s+59[45](\.\d+)? x 84[12](\.\d+)? pts \(A4\)", info), info
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    # N_EXTRA findings in two tables (findings, record): at least 60 rows a page cannot hold
    n = len(made["merged"]["findings"])
    assert pages >= 2 * N_EXTRA / 60 and pages <= n, (pages, n)


def test_cjk_font_is_embedded(made):
    fonts = subprocess.run(["pdffonts", str(made["pdf"])], capture_output=True, text=True,
                           check=True).stdout
    cjk = [l for l in fonts.splitlines() if re.search(r"WenQuanYi|Noto.*CJK|Source.?Han|Droid", l)]
    assert cjk and all(" yes " in l for l in cjk), fonts


def test_page_one_is_not_blank(made):
    out = made["tmp"] / "p1"
    subprocess.run(["pdftoppm", "-r", "40", "-gray", "-f", "1", "-l", "1", str(made["pdf"]),
                    str(out)], check=True)
    [pgm] = [p for p in made["tmp"].iterdir() if p.name.startswith("p1") and p.suffix == ".pgm"]
    data = pgm.read_bytes()
    m = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    w, h = int(m.group(1)), int(m.group(2))
    pixels = data[m.end():]
    assert len(pixels) == w * h
    dark = sum(1 for b in pixels if b < 200)
    assert dark / (w * h) > 0.01, dark


def test_hostile_strings_are_text_in_the_pdf(made):
    assert "<script>alert(7)" in made["flat"] and "</script>" in made["flat"]


def test_missing_chromium_is_a_clear_error_only_for_pdf(tmp_path, monkeypatch):
    monkeypatch.setenv("ISOSCAN_CHROMIUM", str(tmp_path / "no-such-browser"))
    b = FIXTURES / "secret-lan.json"
    r = run("report", str(b), "-o", str(tmp_path / "r.html"), "--pdf", str(tmp_path / "r.pdf"))
    assert r.exit_code == 2 and "--pdf needs Chromium" in r.output
    assert (tmp_path / "r.html").exists() and not (tmp_path / "r.pdf").exists()
    r = run("report", str(b), "-o", str(tmp_path / "r2.html"))
    assert r.exit_code == 0
