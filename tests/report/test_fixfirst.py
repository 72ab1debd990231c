"""What to fix first (scanner/report/fixfirst.py): the one count, the ranking the
report and the record share, new before persisting once the store has spoken,
segments classified first, and the slot `report --db` fills."""
from __future__ import annotations

import copy
import re
import uuid

import pytest

from scanner.report.fixfirst import finding_tally, fix_first_view, ranked
from scanner.report.render import (FIXFIRST_SLOT, fill_since, merge_report, render_report,
                                   _T)
from scanner.report.strings import STRINGS
from tests.report.conftest import Page


def _with_logical_new(bundles, inventory, lang="en"):
    """The merged report, and the changes since an earlier result, the same but for
    ISO-LOGICAL, which passed then: tonight's ISO-LOGICAL failure is new, the rest persists."""
    from scanner.report.since import since_last
    from scanner.store.changes import results_of
    m = merge_report(bundles, lang, inventory=inventory)
    earlier = {k: copy.deepcopy(v) for k, v in m.items() if k != "inventory_view"}
    earlier.update(scan_id=str(uuid.uuid4()), started_at="2026-11-29T02:00:00Z",
                   finished_at="2026-11-29T02:01:00Z")
    for f in earlier["findings"]:
        if f["check_id"] == "ISO-LOGICAL" and f["status"] == "fail":
            f["status"] = "pass"
    m["since_last"] = since_last(m, results_of(earlier), trend=[], source="file")
    return m


def test_one_count_violations_apart_from_notices_errors_and_waived(bundles, inventory):
    m = merge_report(bundles, "en", inventory=inventory)
    t = finding_tally(m)
    fails = [f for f in m["findings"] if f["status"] == "fail"]
    assert t["violations"] == sum(1 for f in fails if f["severity"] != "info")
    assert t["notices"] == sum(1 for f in fails if f["severity"] == "info") == 1
    assert t["errors"] == 1 and t["waived"] == 0
    # the record's list and the report's heading use the same number
    html = render_report(bundles, "en", inventory=inventory, merged=m)
    assert re.search(rf'<section id="findings".*?<span class="count">{t["violations"]}</span>',
                     html, re.S)
    assert f"{t['violations']} violations" in Page(html).id_text("tally")
    m["findings"][0]["waiver"] = {"id": "W-1"}
    before = t["violations"] + t["notices"] + t["errors"]
    t2 = finding_tally(m)
    assert t2["waived"] == (1 if m["findings"][0]["status"] in ("fail", "error") else 0)
    assert t2["violations"] + t2["notices"] + t2["errors"] + t2["waived"] == before + (
        0 if m["findings"][0]["status"] in ("fail", "error") else 0)


def test_classified_first_then_severity_then_error_after_failure(bundles, inventory):
    m = merge_report(bundles, "en", inventory=inventory)
    rs = [f for f, _ in ranked(m)]
    assert rs[0]["segment"] == "secret-lan" and rs[0]["severity"] == "critical"
    sev = ["critical", "high", "medium", "low"]
    assert [sev.index(f["severity"]) for f in rs] == sorted(sev.index(f["severity"]) for f in rs)
    assert all(f["severity"] != "info" for f in rs)          # notices are not on the list
    high = [(f["segment"], f["status"]) for f in rs if f["severity"] == "high"]
    assert high.index(("secret-lan", "error")) > high.index(("secret-lan", "fail"))
    assert high.index(("secret-lan", "error")) < high.index(("office-lan", "fail"))


def test_new_before_persisting_and_marked(bundles, inventory):
    m = _with_logical_new(bundles, inventory)
    view = fix_first_view(m, _T(STRINGS["en"]))
    office_high = [ln for ln in view["lines"] if ln["severity"] == "high"
                   and ln["segment"] == "office-lan"]
    assert [ln["check_id"] for ln in office_high][:2] == ["ISO-LOGICAL", "ING-SINGLE"]
    assert office_high[0]["new"] and not office_high[1]["new"]
    assert view["compared"]
    # without the store's word, the check id decides among equals (ING before ISO)
    m.pop("since_last")
    plain = [ln["check_id"] for ln in fix_first_view(m, _T(STRINGS["en"]))["lines"]
             if ln["severity"] == "high" and ln["segment"] == "office-lan"]
    assert plain[:2] == ["ING-SINGLE", "ISO-LOGICAL"]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_db_slot_gives_the_single_pass_page_with_new_first(bundles, inventory, lang):
    m = _with_logical_new(bundles, inventory, lang)
    one = render_report(bundles, lang, inventory=inventory, merged=m)
    page = render_report(bundles, lang, inventory=inventory, merged=m, since_later=True)
    assert page.count(FIXFIRST_SLOT) == 1 and 'id="fixfirst"' not in page
    assert fill_since(page, m, lang) == one
    assert 'class="badge new"' in one


def test_data_cannot_forge_the_fix_first_slot(bundles, inventory):
    bundles[1]["findings"][5]["title"] = str(FIXFIRST_SLOT)
    bundles[1]["vantage"]["interface"] = str(FIXFIRST_SLOT)
    m = merge_report(bundles, "en", inventory=inventory)
    page = render_report(bundles, "en", inventory=inventory, merged=m, since_later=True)
    assert page.count(FIXFIRST_SLOT) == 1


def test_segments_ordered_by_classification_in_the_findings(bundles, inventory):
    html = render_report(bundles, "zh-CN", inventory=inventory)
    sec = html[html.index('<section id="findings"'):html.index('<section id="errors"')]
    segs = re.findall(r'<h3 class="seg">[^<]*<span class="mono">([^<]+)</span>', sec)
    assert segs[:2] == ["secret-lan", "office-lan"]
    assert "（涉密网段）" in sec and "（非涉密网段）" in sec


def test_times_in_the_units_zone(bundles, inventory):
    from dataclasses import replace
    inv = replace(inventory, organization=replace(inventory.organization,
                                                  timezone="Asia/Shanghai"))
    html = render_report(bundles, "zh-CN", inventory=inv)
    text = Page(html).text
    assert "2026-11-30T10:00:00+08:00" in text
    assert not re.search(r"\d{2}:\d{2}:\d{2}Z", text)


def test_no_install_path_and_no_raw_english_state_on_a_zh_page(bundles, inventory):
    from scanner.evidence.reportview import RecordOptions, report_extension
    m = merge_report(bundles, "zh-CN", inventory=inventory)
    html = render_report(bundles, "zh-CN", inventory=inventory, merged=m,
                         extend=report_extension(m, "zh-CN", evidence=None,
                                                 record=RecordOptions(), print_all=True))
    text = Page(html).text
    assert "site-packages" not in text and "/venv/" not in text
    rec = Page(html).id_text("record")
    for word in ("classified", "non-classified", "internet)", "secret)"):
        assert word not in rec, word
    assert html.index('id="record"') < html.index('id="title"')        # printed: record first


def test_the_probes_own_host_is_present_not_missing(bundles, inventory):
    """diode-01's secret-lan address is the secret-lan probe's own: it never answers
    its own sweep, and is there (its office-lan address was not seen: missing)."""
    html = render_report(bundles, "en", inventory=inventory)
    rows = re.findall(r'<tr class="recon-(\w+)">(.*?)</tr>', html, re.S)
    mine = [st for st, r in rows if "diode-01" in r and "10.10.0.5" in r]
    assert mine == ["seen"], rows


def test_identifiers_kept_whole_in_linear_time_and_escaped():
    import time
    from scanner.report.render import tokens
    out = str(tokens("tag BM-2026-0100 on <b>ws-001</b> 8291/tcp"))
    assert '<span class="tok">BM-2026-0100</span>' in out and "&lt;b&gt;" in out
    assert '<span class="tok">8291/tcp</span>' in out and "<b>" not in out
    for hostile in ("a" * 200_000, "a-" * 100_000, "1." * 100_000, "/" * 100_000 + "a"):
        t = time.perf_counter()
        tokens(hostile)
        assert time.perf_counter() - t < 1.0, hostile[:10]      # never quadratic


def test_utc_times_in_evidence_shown_in_the_units_zone(bundles, inventory):
    from dataclasses import replace
    inv = replace(inventory, organization=replace(inventory.organization,
                                                  timezone="Asia/Shanghai"))
    bundles[0]["findings"][5]["evidence"] = ["canary hit at 2026-11-30T02:00:07.439Z"]
    m = merge_report(bundles, "zh-CN", inventory=inv)
    text = " ".join(Page(render_report(bundles, "zh-CN", inventory=inv, merged=m)).text.split())
    assert "canary hit at 2026-11-30T10:00:07+08:00" in text
    assert not re.search(r"\d{2}:\d{2}:\d{2}(?:\.\d+)?Z", text)
    assert any("02:00:07.439Z" in e for f in m["findings"] for e in f["evidence"])   # data: UTC
