"""The result bundle (SPEC §5): round trip, validation, verdict, re-judging."""
from __future__ import annotations

import copy
import hashlib
import importlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from scanner import bundle as B
from scanner.inventory.load import load_inventory
from scanner.judge.run import run_checks
from scanner.model import (CheckMeta, Location, Severity, Status, Subject, fail,
                           passed, text)

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "checks"
LIVE = ["checks.iso_physical", "checks.iso_bridge", "checks.iso_logical", "checks.ing_single",
        "checks.dev_unregistered", "checks.dev_mismatch", "checks.dev_misplaced",
        "checks.dev_missing"]
T0 = datetime(2026, 11, 30, 2, 0, 0, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 30, 2, 0, 41, tzinfo=timezone.utc)
STATIC = CheckMeta(id="INV-TEST", severity=Severity.HIGH, title=text("静态", "static"),
                   needs=("inventory",), remediation=text("修", "fix"))


def _pairs():
    mods = [importlib.import_module(m) for m in LIVE]
    return [(m.META, m.evaluate) for m in mods]


def _case(path: str):
    case = FIXTURES / path
    inv = load_inventory([FIXTURES / path.split("/")[0] / "inventory.yaml"]).inventory
    obs = json.loads((case / "observations.json").read_text(encoding="utf-8"))
    return inv, obs


def _bundle(path="ISO-BRIDGE/fail/packets-cross", lang="zh-CN", static=True):
    """A bundle of the live checks on a fixture (+ one failing static finding)."""
    inv, obs = _case(path)
    findings = run_checks(_pairs(), inv, obs)
    if static:
        findings.insert(0, fail(STATIC, text("清单第 3 行有问题", "a problem on line 3"),
                                location=Location("inventory.yaml", 3, 5)))
    b = B.build_bundle(inventory=inv, vantage=obs["vantage"], observations=obs,
                       findings=findings, started_at=T0, finished_at=T1, lang=lang,
                       scan_id="scan-1", tool_version="9.9.9")
    return b, findings, inv


# -- building ------------------------------------------------------------------

def test_build_has_every_spec_field():
    b, findings, inv = _bundle()
    assert b["schema"] == "isoscan.bundle/1" and b["scan_id"] == "scan-1"
    assert b["tool"] == {"name": "isoscan", "version": "9.9.9"}
    assert (b["started_at"], b["finished_at"]) == ("2026-11-30T02:00:00Z", "2026-11-30T02:00:41Z")
    assert b["inventory"]["files"] == [f.path for f in inv.files]
    assert b["inventory"]["sha256"] == inv.sha256 and len(inv.sha256) == 64
    assert b["vantage"]["segment"] == "secret-lan" and b["vantage"]["mac"] == "02:00:00:00:0a:05"
    assert b["observations"]["forwarding"]["probes"]
    assert len(b["findings"]) == len(findings)
    bridge = [f for f in b["findings"] if f["check_id"] == "ISO-BRIDGE" and f["status"] == "fail"]
    assert {f["subject"]["ip"] for f in bridge} == {"10.10.0.11", "10.10.0.99"}
    f = next(f for f in bridge if f["subject"]["ip"] == "10.10.0.11")
    assert f["subject"] == {"ip": "10.10.0.11", "mac": "02:00:00:00:0c:0b", "device": "ws-001",
                            "destination": "internet-canary 203.0.113.10 (443/tcp, icmp)"}
    assert f["severity"] == "critical" and f["segment"] == "secret-lan"
    assert f["regulation"], "ISO-BRIDGE has references in checks/regulations.yaml"
    assert any("数据包已穿越" in e for e in f["evidence"])          # zh-CN strings
    assert any("packets cross" in e["en"] for e in f["i18n"]["evidence"])
    assert b["summary"] == {"verdict": "non-compliant",
                            "counts": {"pass": 4, "fail": 4, "error": 0, "skipped": 2}}
    assert B.validate(b) is None
    json.dumps(b)                                                   # JSON-ready as built


def test_build_in_english_and_scan_id_default():
    inv, obs = _case("DEV-MISSING/pass/classified")
    b = B.build_bundle(inventory=inv, vantage=obs["vantage"], observations=obs,
                       findings=run_checks(_pairs(), inv, obs), started_at="2026-11-30T02:00:00Z",
                       finished_at=T1, lang="en")
    assert b["lang"] == "en" and b["scan_id"] and b["tool"]["version"]
    assert b["started_at"] == "2026-11-30T02:00:00Z"
    assert all(f["title"] == f["i18n"]["title"]["en"] for f in b["findings"])
    with pytest.raises(ValueError):
        B.build_bundle(inventory=inv, vantage={}, observations={}, findings=[],
                       started_at=T0, finished_at=T1, lang="fr")


# -- verdict and counts --------------------------------------------------------

def _summary(*findings):
    return B.summary(list(findings))


def test_verdict_and_counts():
    ok = passed(STATIC, "x")
    notice = fail(STATIC, "x", severity=Severity.INFO)
    err = B.findings_from_bundle({"findings": [
        {"check_id": "X", "status": "error", "severity": "high", "segment": None,
         "subject": {}, "title": "t", "evidence": []}]})[0]
    low = fail(STATIC, "x", severity=Severity.LOW)
    assert _summary(ok)["verdict"] == "compliant"
    assert _summary(ok, notice)["verdict"] == "compliant"        # a failing info is a notice
    assert _summary(ok, notice, err)["verdict"] == "incomplete"
    assert _summary(ok, err, low)["verdict"] == "non-compliant"
    assert _summary(ok, err, low, notice)["counts"] == {"pass": 1, "fail": 2, "error": 1, "skipped": 0}


# -- round trip ----------------------------------------------------------------

def test_round_trip(tmp_path):
    b, findings, _ = _bundle()
    p = tmp_path / "bundle.json"
    B.write_bundle(p, b)
    assert B.read_bundle(p) == b
    assert B.bundle_sha256(p) == hashlib.sha256(p.read_bytes()).hexdigest()
    assert B.findings_from_bundle(B.read_bundle(p)) == findings   # both languages survive
    assert [x.name for x in tmp_path.iterdir()] == ["bundle.json"]
    assert "数据包已穿越" in p.read_text(encoding="utf-8")          # UTF-8, not \\u escapes


def test_write_is_atomic(tmp_path, monkeypatch):
    p = tmp_path / "bundle.json"
    p.write_text("old", encoding="utf-8")
    b, _, _ = _bundle()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        B.write_bundle(p, b)
    assert p.read_text(encoding="utf-8") == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["bundle.json"]   # no temporary left


# -- invalid bundles: one-line BundleError -------------------------------------

def _raises(tmp_path, content: bytes | str, needle: str):
    p = tmp_path / "b.json"
    p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(B.BundleError) as exc:
        B.read_bundle(p)
    msg = str(exc.value)
    assert "\n" not in msg and str(p) in msg and needle in msg, msg
    return msg


@pytest.mark.parametrize("content,needle", [
    ("", "not JSON"),
    ("{\"schema\": ", "not JSON (line 1"),
    ("<html>not a bundle</html>", "not JSON"),
    (b"\xff\xfe\x00garbage", "not JSON"),
    ("[1, 2, 3]", "not an isoscan bundle"),
    ("\"isoscan.bundle/1\"", "not an isoscan bundle"),
    ("{\"findings\": []}", "schema is null"),
    ("{\"schema\": \"sarif/2.1\"}", "not an isoscan bundle"),
    ("{\"schema\": \"isoscan.bundle/2\"}", "unsupported bundle schema"),
    ("[" * 100000 + "]" * 100000, "not JSON"),
], ids=["empty", "truncated", "html", "binary", "list", "string", "no-schema", "sarif",
        "future-version", "deep-nesting"])
def test_not_a_bundle(tmp_path, content, needle):
    _raises(tmp_path, content, needle)


def test_unreadable_path(tmp_path):
    with pytest.raises(B.BundleError, match="cannot be read"):
        B.read_bundle(tmp_path / "missing.json")
    with pytest.raises(B.BundleError, match="cannot be read"):
        B.read_bundle(tmp_path)


REQUIRED = [("schema",), ("scan_id",), ("tool",), ("tool", "version"), ("started_at",),
            ("finished_at",), ("inventory",), ("inventory", "files"), ("inventory", "sha256"),
            ("vantage",), ("vantage", "segment"), ("observations",), ("findings",),
            ("summary",), ("summary", "verdict"), ("summary", "counts"),
            ("summary", "counts", "fail"), ("findings", 0, "check_id"),
            ("findings", 0, "status"), ("findings", 0, "severity"), ("findings", 0, "subject"),
            ("findings", 0, "subject", "ip"), ("findings", 0, "title"),
            ("findings", 0, "evidence"), ("findings", 0, "regulation"),
            ("findings", 0, "segment")]


@pytest.mark.parametrize("path", REQUIRED, ids=[".".join(map(str, p)) for p in REQUIRED])
def test_missing_field(tmp_path, path):
    b, _, _ = _bundle()
    node = b
    for k in path[:-1]:
        node = node[k]
    del node[path[-1]]
    _raises(tmp_path, json.dumps(b), str(path[-1]) if path != ("schema",) else "schema")


@pytest.mark.parametrize("path,value,needle", [
    (("findings", 0, "status"), "passed", "is not one of pass, fail, error, skipped"),
    (("findings", 0, "severity"), "urgent", "severity"),
    (("findings", 0, "evidence"), "text", "list of strings"),
    (("findings", 0, "location", "line"), 0, "1-based"),
    (("findings",), {}, "expected a list"),
    (("summary", "verdict"), "fine", "verdict"),
    (("summary", "verdict"), "compliant", "does not follow from the findings"),
    (("summary", "counts", "pass"), 0, "do not match the findings"),
    (("summary", "counts", "pass"), True, "not a count"),
    (("tool",), "isoscan", "expected an object"),
    (("inventory", "files"), [1], "list of strings"),
])
def test_wrong_field(tmp_path, path, value, needle):
    b, _, _ = _bundle()
    node = b
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    _raises(tmp_path, json.dumps(b), needle)


def test_unknown_fields_are_allowed(tmp_path):
    b, _, _ = _bundle()
    b["future"] = {"x": 1}
    b["findings"][0]["future"] = 1
    p = tmp_path / "b.json"
    B.write_bundle(p, b)
    assert B.read_bundle(p)["future"] == {"x": 1}


# -- re-judging ----------------------------------------------------------------

def test_rejudge_from_the_embedded_inventory_gives_the_same_findings():
    b, findings, _ = _bundle()
    stored = json.loads(json.dumps(b))
    again = B.rejudge(stored, _pairs())
    assert stored == json.loads(json.dumps(b))                      # input untouched
    assert sorted(map(_k, again["findings"])) == sorted(map(_k, b["findings"]))
    assert again["summary"] == b["summary"]
    assert any(f["check_id"] == "INV-TEST" and f["location"]["line"] == 3
               for f in again["findings"])                          # static findings kept
    assert again["rejudged"]["checks"] == sorted(m.META.id for m in map(importlib.import_module, LIVE))
    assert B.validate(again) is None


def _k(f):
    return (f["check_id"], f["status"], f["subject"]["ip"], f["subject"]["mac"], tuple(f["evidence"]))


def test_rejudge_with_a_new_check_and_a_registry_object():
    b, _, inv = _bundle("DEV-MISSING/pass/classified", static=False)
    assert b["summary"]["verdict"] == "compliant"
    NEW = CheckMeta(id="X-NEW", severity=Severity.HIGH, title=text("新", "new"),
                    needs=("discovery",), remediation=text("修", "fix"))

    def new_eval(inv, obs):
        yield fail(NEW, text("发现", "found"), subject=Subject(ip="10.10.0.11"))

    class Reg:
        checks = [type("C", (), {"meta": NEW, "evaluate": staticmethod(new_eval)})()]
        problems = []

    again = B.rejudge(b, Reg(), inventory=inv, lang="en")
    assert again["summary"]["verdict"] == "non-compliant" and again["lang"] == "en"
    assert [f["title"] for f in again["findings"] if f["check_id"] == "X-NEW"] == ["new"]
    assert sum(f["check_id"] == "DEV-MISSING" for f in again["findings"]) == 1   # kept once


def test_rejudge_with_the_real_registry():
    from scanner.judge.registry import load_checks
    b, _, _ = _bundle()
    again = B.rejudge(b, load_checks())
    bridge = {(f["status"], f["subject"]["ip"]) for f in again["findings"]
              if f["check_id"] == "ISO-BRIDGE"}
    assert bridge == {("fail", "10.10.0.11"), ("fail", "10.10.0.99")}


def test_rejudge_without_an_inventory_is_a_bundle_error():
    b, _, _ = _bundle()
    del b["inventory"]["document"]
    with pytest.raises(B.BundleError, match="no inventory document"):
        B.rejudge(b, _pairs())


def test_embedded_inventory_round_trips():
    _, _, inv = _bundle()
    back = B.inventory_from_bundle({"inventory": {
        "document": B.inventory_document(inv), "sha256": inv.sha256,
        "sources": [{"path": f.path, "sha256": f.sha256} for f in inv.files]}})
    assert B.inventory_document(back) == B.inventory_document(inv)
    assert back.segment("office-lan").exposed[0].tcp == (443,)
    assert back.device_by_mac("02:00:00:00:0c:0b")[0].name == "ws-001"
    assert back.segment_of("10.10.0.7").name == "secret-lan"
    assert back.sha256 == inv.sha256 and back.files == inv.files


def test_plain_copies_made_early_give_the_same_bundle_and_only_for_the_same_object():
    """The engine makes the big final sections' plain copies while the DHCP
    window runs out: the bundle is the same; a section replaced since (a new
    object) is copied afresh, never taken from the early copy."""
    inv, obs = _case("ISO-BRIDGE/fail/packets-cross")
    obs["forwarding"]["when"] = ("a", "tuple")        # not plain JSON: it is converted

    def build(ready=None, o=obs):
        return B.build_bundle(inventory=inv, vantage=obs["vantage"], observations=o,
                              findings=[], started_at=T0, finished_at=T1, scan_id="s",
                              tool_version="9", plain_ready=ready)
    ready = B.plain_sections(obs, ["forwarding", "discovery", "no-such-section"])
    assert set(ready) == {"forwarding", "discovery"}
    assert build(ready) == build()
    assert build(ready)["observations"]["forwarding"]["when"] == ["a", "tuple"]
    later = dict(obs, discovery={"status": "error", "error": "replaced"})
    assert build(ready, later)["observations"]["discovery"] == {"status": "error", "error": "replaced"}


def test_plain_copy_is_the_json_round_trip():
    """_plain copies plain data directly and takes the JSON round trip for
    anything else: the result is the round trip's either way."""
    import enum
    import math

    from netaddr import IPAddress, IPNetwork

    class Kind(enum.Enum):
        A = "a"
    for data in ({"a": [1, 2.5, True, None, ("x", "y")], "b": {"c": "中文"}},
                 {"a": {1: "int key"}}, {"a": IPAddress("10.0.0.1"), "n": IPNetwork("10.0.0.0/8")},
                 {"a": {3, 4}}, {"a": Kind.A}, {"a": float("inf")}, {"a": math.nan}, [1, (2, 3)],
                 {"a": b"bytes"}):
        want = json.loads(json.dumps(data, default=B._default, ensure_ascii=False))
        got = B._plain(data)
        assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True), data
        assert type(got) is type(want)
