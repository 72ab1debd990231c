"""Both languages complete; a zh-CN report holds no English catalogue string."""
from __future__ import annotations

import json
import re
import string

import jinja2
import pytest

from scanner.report.render import render_report
from scanner.judge.registry import load_checks
from scanner.report.strings import STRINGS
from tests.report.conftest import Page


def test_same_keys_in_both_languages():
    assert set(STRINGS["zh-CN"]) == set(STRINGS["en"])
    # check titles come from each check's META (the one truth): both languages, never empty
    for c in load_checks().checks:
        assert c.meta.title["zh-CN"].strip() and c.meta.title["en"].strip(), c.id
    for lang in STRINGS:
        assert all(v.strip() for v in STRINGS[lang].values())


def test_placeholders_match():
    fmt = string.Formatter()
    for k in STRINGS["en"]:
        names = [{f for _, f, _, _ in fmt.parse(STRINGS[lang][k]) if f} for lang in STRINGS]
        assert names[0] == names[1], k


def test_every_key_the_template_uses_exists(bundles, inventory):
    # StrictUndefined + the catalogue's __getattr__: a missing key raises
    for lang in STRINGS:
        render_report(bundles, lang, inventory=inventory)


def test_missing_key_is_an_error(monkeypatch, bundles):
    import scanner.report.strings as rs
    broken = dict(rs.STRINGS["en"])
    del broken["sec_errors"]
    monkeypatch.setitem(rs.STRINGS, "en", broken)
    import scanner.report.render as r
    monkeypatch.setattr(r, "STRINGS", rs.STRINGS)
    with pytest.raises(jinja2.UndefinedError):
        render_report(bundles, "en")


def _english_phrases():
    """en catalogue values that are English words (not ids, not symbols)."""
    out = set()
    for k, v in STRINGS["en"].items():
        if v == STRINGS["zh-CN"][k]:
            continue
        for part in re.split(r"\{[a-z_]+\}", v):
            words = re.findall(r"[A-Za-z][a-z]{3,}", part)
            if words and part.strip():
                out.add(part.strip(" .:;()"))
    return {p for p in out if len(p) >= 5}


def test_zh_report_holds_no_english_catalogue_string(bundles, inventory):
    html = render_report(bundles, "zh-CN", inventory=inventory)
    # what the report says itself: the page text minus data cells from the bundles
    text = Page(html).text
    # words that occur in the bundles' own data (a segment named "internet", English
    # evidence such as "probe 'dhcp' did not run") are shown as stored, not the report's
    data = json.dumps(bundles, ensure_ascii=False)
    leaked = [p for p in _english_phrases() if p not in data
              and re.search(r"(?<![\w-])" + re.escape(p) + r"(?![\w-])", text)]
    assert leaked == []
    en_titles = [c.meta.title["en"] for c in load_checks().checks if c.meta.title["en"] in text]
    assert en_titles == []


def test_en_report_holds_no_chinese_of_its_own(bundles):
    b = [x for x in bundles]
    for x in b:                               # data without Chinese (evidence, titles, unit)
        x["inventory"]["organization"]["name"] = "Example Unit"
        for f in x["findings"]:
            f["title"] = ""
    html = render_report(b, "en")
    p = Page(html)
    han = re.findall(r"[\u4e00-\u9fff]+", p.text)
    assert han == [], han[:5]
