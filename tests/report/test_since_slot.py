"""`report --db` renders the page while the store is read and puts the changes
since the last scan into their slot afterwards (scanner/report/render.py):
the page must be the one a single pass renders, and data cannot forge the slot."""
from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = ("secret-lan", "office-lan", "internet")


def _bundles():
    return [json.loads((FIXTURES / f"{n}.json").read_text("utf-8")) for n in NAMES]


def _merged(bundles, lang):
    from scanner.report.render import merge_report
    from scanner.report.since import since_last
    from scanner.store.changes import results_of
    merged = merge_report(bundles, lang)
    earlier = dict(copy.deepcopy(bundles[1]), scan_id=str(uuid.uuid4()),
                   started_at="2026-11-29T02:00:00Z", finished_at="2026-11-29T02:01:00Z")
    earlier["findings"] = earlier["findings"][1:]        # one finding is new tonight
    merged["since_last"] = since_last(merged, results_of(earlier), trend=[], source="file")
    return merged


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_page_with_its_slot_filled_is_the_single_pass_page(lang):
    from scanner.report.render import fill_since, render_report
    bundles = _bundles()
    merged = _merged(bundles, lang)
    one = render_report(bundles, lang, merged=merged)
    assert '<section id="since"' in one
    page = render_report(bundles, lang, merged=merged, since_later=True)
    assert '<section id="since"' not in page
    assert fill_since(page, merged, lang) == one


def test_data_cannot_forge_the_slot():
    from scanner.report.render import SINCE_SLOT, fill_since, render_report
    bundles = _bundles()
    bundles[1]["findings"][0]["title"] = str(SINCE_SLOT)        # a hostile title
    bundles[1]["vantage"]["interface"] = str(SINCE_SLOT)
    merged = _merged(bundles, "en")
    page = render_report(bundles, "en", merged=merged, since_later=True)
    assert page.count(SINCE_SLOT) == 1                     # ours; theirs is escaped
    html = fill_since(page, merged, "en")
    assert SINCE_SLOT not in html and html.count('<section id="since"') == 1
    with pytest.raises(ValueError):
        fill_since(html, merged, "en")                # no slot left: refused, not skipped
