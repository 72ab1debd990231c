"""The unit's state: computed once per new scan; on a large store a new scan's
state is made in a thread while the pages show the one there is (and say so);
acknowledgements and waivers show at once."""
from __future__ import annotations

import time

from servelib import fixture_bundle


def test_stale_while_a_new_scan_is_taken_in(console, monkeypatch):
    from scanner.serve import unit
    from scanner.serve.waiverstore import add_ack
    assert console.push(fixture_bundle("secret-lan")).status_code == 201
    from scanner.serve.config import Config
    u1 = unit.unit_state(console.store, Config())
    assert not u1.stale and u1.open
    monkeypatch.setattr(unit, "STALE_AFTER_S", -1.0)     # as if it were a year of 50 probes
    assert console.push(fixture_bundle("office-lan")).status_code == 201
    u2 = unit.unit_state(console.store, Config())
    assert u2.stale and u2.heavy is u1.heavy              # the one there is, at once
    add_ack(console.store, u2.open[0].fingerprint, "王五", "", "t")
    u3 = unit.unit_state(console.store, Config())
    assert u3.open[0].ack and u3.open[0].ack["assignee"] == "王五"   # acks show at once
    deadline = time.time() + 30
    while unit.unit_state(console.store, Config()).stale:
        assert time.time() < deadline
        time.sleep(0.05)
    segs = {r.h.segment for r in unit.unit_state(console.store, Config()).open}
    assert "office-lan" in segs
    assert "id=\"stale\"" not in console.client("viewer").get("/").text
    unit.forget(console.store)


def test_segments_by_title_and_classification_classified_first(console):
    from storelib import finding, synthetic_bundle
    doc = {"version": 1, "organization": {"name": "某研究所"},
           "segments": [{"name": "a-office", "title": "办公网", "classification": "non-classified"},
                        {"name": "z-secret", "title": "涉密内网", "classification": "classified"},
                        {"name": "b-net", "title": "互联网", "classification": "internet"}],
           "devices": []}
    for seg in ("a-office", "z-secret", "b-net"):
        b = synthetic_bundle(seg, "2026-12-01T02:00:00Z",
                             findings=[finding("DEV-UNREGISTERED", seg, "fail", mac="02:00:00:00:00:09")])
        b["inventory"]["document"] = doc
        assert console.push(b).status_code == 201
    page = console.client("viewer").get("/?lang=en").text
    assert page.index("涉密内网") < page.index("办公网") < page.index("互联网 <span")
    assert "cls-classified" in page and "某研究所" in page
