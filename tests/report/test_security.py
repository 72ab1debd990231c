"""Hostile data comes out escaped (HTML, attributes, SVG and script data);
the page references nothing outside itself."""
from __future__ import annotations

import base64
import copy
import hashlib
import html as html_lib
import json
import re

from scanner.report.render import PAGE, render_report
from tests.report.conftest import Page

XSS = "<script>alert(1)</script>"
END = "</script><script>alert(2)</script>"
QUOTES = "\"'><img src=x onerror=alert(3)>"
LONG = "设备" + "A" * 10_000 + "<marquee>"
LS = "line\u2028sep\u2029x"
HOSTILE = [XSS, END, QUOTES, LONG, LS, "{{ 7*7 }}", "&amp; &lt;"]


def hostile_bundles(bundles):
    """Hostile strings in every field a network or inventory controls, and more
    rows than a page so the pager's JSON path is exercised."""
    out = []
    for b in copy.deepcopy(bundles):
        b["scan_id"] = QUOTES
        b["vantage"]["interface"] = XSS
        b["inventory"]["files"].append(END)
        for f in b["findings"]:
            f["title"] = XSS
            f["evidence"] = f["evidence"] + HOSTILE
            f["subject"]["device"] = QUOTES
        b["observations"]["discovery"]["hosts"] += [
            {"ip": XSS, "mac": QUOTES, "via": "arp"}]
        out.append(b)
    seg = out[0]
    seg["vantage"]["segment"] = END                     # a hostile segment name (SVG, headings)
    for i, h in enumerate(HOSTILE * ((PAGE // len(HOSTILE)) + 2)):
        seg["findings"].append({
            "check_id": "DEV-UNREGISTERED", "status": "fail", "severity": "high",
            "segment": END, "subject": {"ip": f"10.10.1.{i}", "mac": h, "device": h},
            "title": h, "evidence": [h, XSS], "regulation": [QUOTES]})
    return out


def render_hostile(bundles, lang="zh-CN"):
    inv = {"organization": {"name": XSS},
           "segments": [{"name": END, "classification": "classified", "title": QUOTES},
                        {"name": "office-lan", "classification": "non-classified", "ingress": XSS},
                        {"name": "internet", "classification": "internet"}],
           "devices": [{"name": XSS, "kind": QUOTES, "asset_tag": END, "custodian": LONG,
                        "segment": END, "ip": "10.10.0.11", "mac": "02:00:00:00:0c:0b"}],
           "transfers": [{"device": QUOTES, "from": "office-lan", "to": END}]}
    return render_report(hostile_bundles(bundles), lang, bundle_digests=[QUOTES, None, None],
                         inventory=inv)


def test_hostile_strings_escaped_in_html(bundles):
    html = render_hostile(bundles)
    assert not any([bad in html for bad in ("alert(1)</script>", "<script>alert", "<img",
                                            "<marquee>")])
    # only our own script elements exist: the inline one and JSON data blocks
    p = Page(html)
    scripts = [a for t, a in p.tags if t == "script"]
    assert all(a.get("type") == "application/json" for a in scripts[:-1])
    assert scripts[-1] == {}
    assert len([1 for t, _ in p.tags if t in ("img", "iframe", "object", "embed", "link")]) == 0
    assert not [k for _, a in p.tags for k in a if k.startswith("on")]   # no event handler
    # the text the reader sees is the hostile text itself, verbatim
    assert all([h in p.text for h in (XSS, QUOTES, END, LONG, "{{ 7*7 }}", "&amp; &lt;")])


def test_hostile_strings_escaped_in_script_data(bundles):
    html = render_hostile(bundles)
    p = Page(html)
    blocks = [body for a, body in p.scripts if a.get("type") == "application/json"]
    assert blocks, "more rows than a page: the pager data must be embedded"
    cells = []
    for body in blocks:
        assert not any([c in body for c in "<>&'\u2028\u2029"])
        for row in json.loads(body):
            cells.extend(row)
    blob = "\n".join(cells)
    assert all([h in blob for h in (XSS, END, QUOTES, LONG, LS)])    # round-trips exactly


def test_hostile_in_svg_and_attributes(bundles):
    html = render_hostile(bundles, "en")
    svg = html[html.index("<svg"):html.index("</svg>") + 6]
    assert not ("<script" in svg or "<img" in svg)
    for _tag, attrs in Page(svg).tags:
        for k, v in attrs.items():
            assert not k.startswith("on"), k


def test_csp_admits_only_the_inline_blocks(bundles):
    html = render_report(bundles, "en")
    csp = html_lib.unescape(
        re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1))
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    script = [b for a, b in Page(html).scripts if not a][0]
    for body, directive in ((style, "style-src"), (script, "script-src")):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in csp


def test_no_reference_outside_the_file(bundles, inventory):
    html = render_report(bundles, "zh-CN", inventory=inventory)
    low = html.lower()
    for bad in ("http:", "https:", "//", "@import", "ftp:", "file:"):
        assert not (bad in low), bad
    assert not re.search(r"\bsrc\s*=", low)
    assert not re.search(r"\bhref\s*=", low)
    assert not re.search(r"url\(\s*(?!#)", low)
    assert "@font-face" not in low


def test_no_traceback_on_junk_fields(bundles):
    b = bundles[0]
    b["vantage"] = {"segment": 7, "ip": ["x"], "mac": {"a": 1}}
    b["findings"][0]["subject"] = "not an object"
    b["findings"][1]["evidence"] = "one string"
    b["findings"][2]["regulation"] = [1, None]
    b["observations"]["discovery"]["hosts"] = [None, 5, {"ip": 3, "mac": ["x"]}]
    html = render_report([b], "en")
    assert "Non-compliant" in html
