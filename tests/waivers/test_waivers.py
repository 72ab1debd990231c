"""Waivers: fixtures that pass (the waived findings stay visible and leave the
verdict) and that fail (expired, classified ISO waivers refused, malformed or
hostile files), through the API and through `isoscan report --waivers`."""
from __future__ import annotations

import copy
import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.report.merge import inventory_view
from scanner.waivers import META, WaiverError, apply_waivers, load_waivers

HERE = Path(__file__).parent / "fixtures"
REPORT = Path(__file__).parent.parent / "report" / "fixtures"
TODAY = dt.date(2026, 12, 2)


def bundle(name):
    return json.loads((REPORT / f"{name}.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def view():
    from scanner.inventory.load import load_inventory
    return inventory_view(load_inventory([str(REPORT / "inventory.yaml")]).inventory)


def with_inventory(b, view):
    b["inventory_view"] = copy.deepcopy(view)
    return b


def isoscan(*args):
    return subprocess.run([sys.executable, "-m", "scanner.cli", *args], capture_output=True,
                          text=True, timeout=120)


# ---------------------------------------------------------------- pass fixtures

def test_waived_findings_stay_failing_and_leave_the_verdict(view):
    b = with_inventory(bundle("office-lan"), view)
    assert b["summary"]["verdict"] == "non-compliant"
    apply_waivers(b, load_waivers(str(HERE / "pass" / "office.yaml")), today=TODAY)
    waived = [f for f in b["findings"] if f.get("waiver")]
    assert sorted(f["check_id"] for f in waived) == ["ING-SINGLE", "INV-DUPLICATE"]
    assert all(f["status"] == "fail" for f in waived)            # the status stays visible
    ing = next(f for f in waived if f["check_id"] == "ING-SINGLE")
    assert ing["waiver"] == {"reason": "备用 4G 线路，已报批整改（工单 2026-118）", "approver": "李四",
                             "expires": "2099-12-31", "source": f"{HERE / 'pass' / 'office.yaml'}:4:5",
                             "match": {"check": "ING-SINGLE", "segment": "office-lan",
                                       "subject": "02:BB:00:00:00:*"}}
    assert b["summary"]["verdict"] == "compliant"
    assert b["summary"]["counts"]["fail"] == 0 and b["summary"]["waived"] == 2
    assert b["waivers"] == {"applied": 2, "expired": 0, "entries": 2, "as_of": "2026-12-02"}


def test_a_classified_segments_other_findings_may_be_waived(view):
    b = with_inventory(bundle("secret-lan"), view)
    apply_waivers(b, load_waivers(str(HERE / "pass" / "secret-notice.yaml")), today=TODAY)
    [w] = [f for f in b["findings"] if f.get("waiver")]
    assert w["check_id"] == "DEV-MISSING" and w["subject"]["ip"] == "10.10.0.13"
    assert b["summary"]["verdict"] == "non-compliant"           # ISO-* still count


def test_a_waiver_is_valid_through_its_expiry_day(view):
    ws = load_waivers(str(HERE / "fail" / "expired.yaml"))
    on_the_day = apply_waivers(with_inventory(bundle("office-lan"), view), ws,
                               today=dt.date(2026, 1, 31))
    assert on_the_day["waivers"]["applied"] == 1 and on_the_day["waivers"]["expired"] == 0


def test_a_fingerprint_waiver(view):
    from scanner.store.fingerprint import Fingerprinter
    fingerprint = Fingerprinter()
    b = with_inventory(bundle("office-lan"), view)
    fp = fingerprint(next(f for f in b["findings"] if f["check_id"] == "ING-SINGLE"))
    p = HERE.parent / "fp.yaml"
    try:
        p.write_text(f"version: 1\nwaivers:\n  - {{fingerprint: {fp}, reason: r, approver: a, "
                     "expires: 2099-01-01}\n")
        apply_waivers(b, load_waivers(str(p)), today=TODAY)
    finally:
        p.unlink()
    [w] = [f for f in b["findings"] if f.get("waiver")]
    assert w["check_id"] == "ING-SINGLE" and w["waiver"]["fingerprint"] == fp


# ---------------------------------------------------------------- fail fixtures

def test_an_expired_waiver_waives_nothing_and_is_a_failing_finding(view):
    b = with_inventory(bundle("office-lan"), view)
    apply_waivers(b, load_waivers(str(HERE / "fail" / "expired.yaml")), today=TODAY, lang="en")
    assert not any(f.get("waiver") for f in b["findings"])
    [x] = [f for f in b["findings"] if f["check_id"] == "WAIVER-EXPIRED"]
    assert x["status"] == "fail" and x["severity"] == META.severity.value == "medium"
    assert x["segment"] == "office-lan"
    assert x["location"] == {"file": str(HERE / "fail" / "expired.yaml"), "line": 3, "column": 5}
    assert "expired on 2026-01-31" in x["evidence"][0] and "李四" in x["evidence"][0]
    assert b["summary"]["verdict"] == "non-compliant" and b["waivers"]["expired"] == 1


@pytest.mark.parametrize("name, where, what", [
    ("classified-iso-bridge", ":3:20:", "ISO-BRIDGE cannot be waived on classified segment secret-lan"),
    ("classified-iso-glob", ":3:20:", "ISO-PHYSICAL, ISO-BRIDGE cannot be waived on classified segment secret-lan"),
    ("classified-xfer", ":4:14:", "XFER-ONEWAY cannot be waived on classified segment secret-lan"),
])
def test_classified_iso_waivers_are_refused(view, name, where, what):
    path = str(HERE / "fail" / f"{name}.yaml")
    b = with_inventory(bundle("secret-lan"), view)
    before = copy.deepcopy(b)
    with pytest.raises(WaiverError) as e:
        apply_waivers(b, load_waivers(path), today=TODAY)
    assert str(e.value).startswith(path + where) and what in str(e.value), str(e.value)
    assert b == before                                          # nothing changed


def test_a_fingerprint_waiver_of_a_classified_iso_finding_is_refused(view, tmp_path):
    from scanner.store.fingerprint import Fingerprinter
    fingerprint = Fingerprinter()
    b = with_inventory(bundle("secret-lan"), view)
    fp = fingerprint(next(f for f in b["findings"] if f["check_id"] == "ISO-PHYSICAL"))
    p = tmp_path / "w.yaml"
    p.write_text(f"version: 1\nwaivers:\n  - reason: r\n    approver: a\n    expires: 2020-01-01\n"
                 f"    fingerprint: {fp}\n")
    with pytest.raises(WaiverError, match=r"w.yaml:6:18: ISO-PHYSICAL cannot be waived on classified"):
        apply_waivers(b, load_waivers(str(p)), today=TODAY)    # expired or not


def test_an_iso_waiver_without_the_inventory_is_refused():
    b = bundle("office-lan")                                    # carries no inventory document
    with pytest.raises(WaiverError, match="needs the inventory"):
        apply_waivers(b, load_waivers(str(HERE / "fail" / "classified-iso-bridge.yaml")), today=TODAY)


def test_an_iso_bridge_finding_on_a_non_classified_segment_may_be_waived(view, tmp_path):
    b = with_inventory(bundle("office-lan"), view)
    b["findings"].append({"check_id": "ISO-BRIDGE", "status": "fail", "severity": "critical",
                          "segment": "office-lan", "subject": {"ip": "10.20.0.7", "mac": None,
                                                               "device": None}, "title": "t"})
    p = tmp_path / "w.yaml"
    p.write_text("version: 1\nwaivers:\n  - {match: {check: ISO-BRIDGE, segment: office-lan}, "
                 "reason: r, approver: a, expires: 2099-01-01}\n")
    apply_waivers(b, load_waivers(str(p)), today=TODAY)
    assert [f["check_id"] for f in b["findings"] if f.get("waiver")] == ["ISO-BRIDGE"]


@pytest.mark.parametrize("name, where, what", [
    ("missing-approver", ":3:5:", "missing required key 'approver'"),
    ("both-forms", ":3:5:", "either a fingerprint or a match"),
    ("bad-date", ":6:14:", "must be a date YYYY-MM-DD"),
    ("match-without-check", ":3:12:", "missing required key 'check'"),
])
def test_malformed_waivers(name, where, what):
    path = str(HERE / "fail" / f"{name}.yaml")
    with pytest.raises(WaiverError) as e:
        load_waivers(path)
    assert str(e.value).startswith(path + where) and what in str(e.value), str(e.value)


@pytest.mark.parametrize("raw, where, what", [
    (b"version: 1\nwaivers:\n  - &a {match: {check: X}, reason: r, approver: a, expires: 2099-01-01}\n"
     b"x: " + b"[" + b"*a," * 5 + b"]\n", ":4:1:", "unknown key 'x'"),
    (b"version: 1\nwaivers:\n\t- x\n", ":3:1:", "tab"),
    (b"version: 1\nwaivers: []\nwaivers: []\n", ":3:1:", "duplicate"),
    (b"version: 1\nwaivers:\n  - {match: {check: \"\xff\"}}\n", ":3:22:", "not UTF-8"),
    (b"version: 1\nwaivers:\n  - {match: {check: \"a\\u0007b\"}, reason: r, approver: a, expires: 2099-01-01}\n",
     ":3:21:", "control characters"),
    (b"version: 1\nwaivers:\n  - {match: {check: \"" + b"*" * 300 + b"\"}, reason: r, approver: a, "
     b"expires: 2099-01-01}\n", ":3:21:", "longer than 200"),
    (b"version: 1\nwaivers:\n  - {match: {check: " + b"*" * 300 + b"}}\n", ":3:21:", "invalid YAML"),
    (b"--- \nversion: 1\n--- \nversion: 1\n", ":3:1:", "more than one YAML document"),
    (b"!!python/object:os.system {}\n", ":1:1:", ""),
])
def test_hostile_yaml(tmp_path, raw, where, what):
    p = tmp_path / "w.yaml"
    p.write_bytes(raw)
    with pytest.raises(WaiverError) as e:
        load_waivers(str(p))
    assert str(e.value).startswith(str(p) + where) and what in str(e.value), str(e.value)


def test_an_alias_bomb_is_refused(tmp_path):
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi"))
    p = tmp_path / "w.yaml"
    p.write_text("version: 1\n" + bomb)
    with pytest.raises(WaiverError, match="alias"):
        load_waivers(str(p))


def test_a_huge_file_is_refused_unread(tmp_path):
    p = tmp_path / "w.yaml"
    with open(p, "wb") as fh:
        fh.truncate(2 * 1024 ** 3)                               # a 2 GB sparse file
    with pytest.raises(WaiverError, match="larger than"):
        load_waivers(str(p))


# ---------------------------------------------------------------- the report command

def test_report_shows_the_waived_section_and_the_verdict_without_them(tmp_path):
    out, js = tmp_path / "r.html", tmp_path / "m.json"
    hostile = tmp_path / "w.yaml"
    hostile.write_text((HERE / "pass" / "office.yaml").read_text("utf-8").replace(
        "inventory clean-up scheduled", "<script>alert(1)</script> & \u202e"), "utf-8")
    r = isoscan("report", str(REPORT / "office-lan.json"), "--no-rejudge", "-i",
                str(REPORT / "inventory.yaml"), "--waivers", str(hostile), "-o", str(out),
                "--json", str(js), "--lang", "en")
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().endswith(": compliant")
    html = out.read_text("utf-8")
    sec = html[html.index('<section id="waived"'):]
    sec = sec[:sec.index("</section>")]
    assert "Waived findings" in sec and "ING-SINGLE" in sec and "李四" in sec and "2099-12-31" in sec
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in sec and "<script>alert" not in html
    assert "\\u202e" in sec and "\u202e" not in sec
    findings = html[html.index('<section id="findings"'):html.index('<section id="waived"')]
    assert "ING-SINGLE" not in findings                        # shown once, as waived
    m = json.loads(js.read_text())
    assert m["summary"]["verdict"] == "compliant"
    assert all(f["status"] == "fail" for f in m["findings"] if f.get("waiver"))
    # the merged result with its waivers is a valid input again
    r = isoscan("report", str(js), "--no-rejudge", "-o", str(tmp_path / "again.html"))
    assert r.returncode == 0, r.stderr


def test_report_without_waivers_has_no_waived_section(tmp_path):
    out = tmp_path / "r.html"
    r = isoscan("report", str(REPORT / "office-lan.json"), "-o", str(out))
    assert r.returncode == 0 and 'id="waived"' not in out.read_text("utf-8")


def test_report_with_an_expired_waiver(tmp_path):
    out, js = tmp_path / "r.html", tmp_path / "m.json"
    r = isoscan("report", str(REPORT / "office-lan.json"), "--no-rejudge", "-i",
                str(REPORT / "inventory.yaml"), "--waivers", str(HERE / "fail" / "expired.yaml"),
                "-o", str(out), "--json", str(js))
    assert r.returncode == 0, r.stderr
    m = json.loads(js.read_text())
    assert [f["check_id"] for f in m["findings"] if f["check_id"] == "WAIVER-EXPIRED"] == ["WAIVER-EXPIRED"]
    findings = out.read_text("utf-8")
    findings = findings[findings.index('<section id="findings"'):findings.index('<section id="waived"')]
    assert "WAIVER-EXPIRED" in findings and "豁免已过期" in findings


@pytest.mark.parametrize("name", ["classified-iso-bridge", "missing-approver"])
def test_report_refuses_a_bad_waivers_file(tmp_path, name):
    out = tmp_path / "r.html"
    path = str(HERE / "fail" / f"{name}.yaml")
    r = isoscan("report", str(REPORT / "secret-lan.json"), "-i", str(REPORT / "inventory.yaml"),
                "--waivers", path, "-o", str(out))
    assert r.returncode == 2 and not out.exists()
    assert re.fullmatch(rf"isoscan report: {re.escape(path)}:\d+:\d+: .+\n", r.stderr), r.stderr
