"""`isoscan report`: exit 0 with a report, 2 with one line for bad input."""
from __future__ import annotations

import json

from click.testing import CliRunner

from scanner.cli import main
from tests.report.conftest import FIXTURES, NAMES

FILES = [str(FIXTURES / f"{n}.json") for n in NAMES]


def run(*args):
    return CliRunner().invoke(main, ["report", *args], catch_exceptions=False)


def test_report_ok(tmp_path):
    out, merged = tmp_path / "r.html", tmp_path / "m.json"
    r = run(*FILES, "-o", str(out), "--json", str(merged))
    assert r.exit_code == 0, r.output
    html = out.read_text("utf-8")
    assert html.startswith("<!DOCTYPE html>") and "不合规" in html
    m = json.loads(merged.read_text("utf-8"))
    assert m["schema"] == "isoscan.bundle/1"
    assert m["summary"]["verdict"] == "non-compliant"
    assert len(m["sources"]) == 3 and all(len(s["sha256"]) == 64 for s in m["sources"])
    import hashlib
    assert m["sources"][0]["sha256"] == hashlib.sha256(open(FILES[0], "rb").read()).hexdigest()
    assert m["sources"][0]["sha256"] in html


def test_report_en_with_inventory(tmp_path):
    out = tmp_path / "r.html"
    r = run(*FILES, "-o", str(out), "--lang", "en", "-i", str(FIXTURES / "inventory.yaml"))
    assert r.exit_code == 0, r.output
    html = out.read_text("utf-8")
    assert 'lang="en"' in html and "registered, missing" in html
    assert "示例审计局" in html


def _err(r):
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1, r.output
    assert "Traceback" not in r.output
    return lines[0]


def test_not_json(tmp_path):
    p = tmp_path / "b.json"
    p.write_text("{nope", "utf-8")
    r = run(str(p), "-o", str(tmp_path / "r.html"))
    assert r.exit_code == 2 and "not JSON" in _err(r)
    assert not (tmp_path / "r.html").exists()


def test_not_schema(tmp_path):
    for body, what in (("[]", "not a JSON object"), ('{"schema": "other"}', "schema"),
                       ('{"schema": "isoscan.bundle/1", "findings": [{"check_id": "X", '
                        '"status": "maybe", "severity": "high"}]}', "status")):
        p = tmp_path / "b.json"
        p.write_text(body, "utf-8")
        r = run(str(p), "-o", str(tmp_path / "r.html"))
        assert r.exit_code == 2 and what in _err(r)


def test_missing_file_and_binary(tmp_path):
    r = run(str(tmp_path / "nope.json"))
    assert r.exit_code == 2 and "cannot be read" in _err(r)
    p = tmp_path / "b.json"
    p.write_bytes(b"\xff\xfe\x00garbage")
    r = run(str(p))
    assert r.exit_code == 2 and _err(r)


def test_only_canary_logs(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"schema": "isoscan.canary/1", "arrivals": []}), "utf-8")
    r = run(str(p), "-o", str(tmp_path / "r.html"))
    assert r.exit_code == 2 and "no result bundle" in _err(r)


def test_canary_log_beside_bundles(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"schema": "isoscan.canary/1", "arrivals": [
        {"proto": "icmp", "src": "198.51.100.7", "dport": None, "ttl": 60, "token": "ab" * 33,
         "count": 2, "time": "2026-11-30T02:00:03Z"}]}), "utf-8")
    out = tmp_path / "r.html"
    r = run(*FILES, str(p), "-o", str(out), "--lang", "en")
    assert r.exit_code == 0, r.output
    html = out.read_text("utf-8")
    sec = html[html.index('<section id="outside"'):html.index('<section id="passed"')]
    # a token no bundle's key verifies: the log is listed, nothing is attributed,
    # and the report says so per vantage (the canary judge's errors are not hidden)
    assert "Canary logs" in sec and "Unmatched arrivals" in sec
    assert sec.count("Nothing from this vantage reached the outside canary.") == 3


def test_bad_inventory_is_exit_2(tmp_path):
    r = run(*FILES, "-i", str(tmp_path / "none.yaml"))
    assert r.exit_code == 2 and _err(r)


def test_usage_error_is_exit_2():
    r = run()
    assert r.exit_code == 2
    r = run(FILES[0], "--lang", "fr")
    assert r.exit_code == 2


def test_bundles_with_their_inventory_are_rejudged(tmp_path, inventory):
    from scanner.bundle import inventory_document
    b = json.loads(open(FILES[1], encoding="utf-8").read())
    b["inventory"]["document"] = inventory_document(inventory)
    b["observations"].pop("dhcp", None)               # NET-DHCP's probe did not run ...
    b["findings"] = [f for f in b["findings"] if f["check_id"] == "NET-DHCP"]   # ... stored as pass
    assert b["findings"][0]["status"] == "pass"
    from scanner.judge.run import counts, verdict
    b["summary"] = {"verdict": verdict(b["findings"]), "counts": counts(b["findings"])}
    p = tmp_path / "b.json"
    p.write_text(json.dumps(b), "utf-8")
    m1, m2 = tmp_path / "m1.json", tmp_path / "m2.json"
    assert run(str(p), "-o", str(tmp_path / "r.html"), "--json", str(m1)).exit_code == 0
    assert run(str(p), "-o", str(tmp_path / "r.html"), "--json", str(m2),
               "--no-rejudge").exit_code == 0
    rejudged = json.loads(m1.read_text("utf-8"))["findings"]
    stored = json.loads(m2.read_text("utf-8"))["findings"]
    assert [f["status"] for f in stored] == ["pass"]
    assert [f["status"] for f in rejudged if f["check_id"] == "NET-DHCP"] == ["error"]  # fail closed
    # every installed live check is judged again, not only those the findings name
    # (findings are what a tamperer edits)
    from scanner.judge.registry import load_checks
    live = {c.meta.id for c in load_checks().checks if not c.meta.static}
    assert {f["check_id"] for f in rejudged} == live


def test_merged_json_is_a_bundle_again(tmp_path):
    merged = tmp_path / "m.json"
    assert run(*FILES, "-o", str(tmp_path / "r.html"), "--json", str(merged)).exit_code == 0
    from scanner.bundle import validate
    assert validate(json.loads(merged.read_text("utf-8"))) is None
    r = run(str(merged), "-o", str(tmp_path / "r2.html"))
    assert r.exit_code == 0, r.output


def test_an_endless_input_is_refused_at_the_size_cap(monkeypatch):
    """`isoscan report /dev/zero` stops at the cap: exit 2, one line, no memory eaten."""
    monkeypatch.setenv("ISOSCAN_MAX_BUNDLE_BYTES", "4096")
    r = run("/dev/zero", "-o", "/dev/null")
    assert r.exit_code == 2 and "4,096 bytes" in r.stderr and r.stderr.count("\n") == 1
