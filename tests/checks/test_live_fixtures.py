"""Fixture tests of every check: the live ones (ISO-*, ING-SINGLE, DEV-*, NET-*, XFER-*)
and, at the end of this file, the static INV-* ones. No network.

Layout: tests/checks/<CHECK>/<kind>/<case>/ with kind one of pass, fail,
error, skipped. A case folder holds observations.json and expected.json; its
inventory.yaml is the nearest one walking up to tests/checks/<CHECK>/ (each
check folder keeps one shared inventory). expected.json:

    {"about": "what the case shows",
     "findings": [{"status": "fail", "ip": "10.10.0.12", "mac": "02:..",
                   "device": "ws-002",                 # optional
                   "ports": ["8291/tcp"],              # optional: subject.ports
                   "destination": "203.0.113.10:443/tcp",  # optional: subject.destination
                   "severity": "critical",             # optional: default META's
                   "segment": "secret-lan",            # optional: else the vantage's (or none)
                   "evidence_contains": ["...", ...]}]} # optional, English

The check's findings must be exactly that set of (status, subject ip, subject
mac); device and evidence are checked where given. The kind folder must agree
with what the check said: a pass case passes and nothing else, a fail case
has a fail, an error case has an error and no pass, a skipped case skips.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from scanner.inventory.load import load_inventory
from scanner.judge.run import run_check
from scanner.model import pick

HERE = Path(__file__).resolve().parent
MODULES = {
    "ISO-PHYSICAL": "checks.iso_physical",
    "ISO-BRIDGE": "checks.iso_bridge",
    "ISO-LOGICAL": "checks.iso_logical",
    "ING-SINGLE": "checks.ing_single",
    "DEV-UNREGISTERED": "checks.dev_unregistered",
    "DEV-MISMATCH": "checks.dev_mismatch",
    "DEV-MISPLACED": "checks.dev_misplaced",
    "DEV-MISSING": "checks.dev_missing",
    "DEV-CONFLICT": "checks.dev_conflict",
    "XFER-ONEWAY": "checks.xfer_oneway",
    "NET-DHCP": "checks.net_dhcp",
    "NET-IPV6-RA": "checks.net_ipv6_ra",
}
KINDS = ("pass", "fail", "error", "skipped")
CASES = sorted(p.parent for cid in MODULES for p in (HERE / cid).rglob("observations.json"))


def _check_id(case: Path) -> str:
    return case.relative_to(HERE).parts[0]


def _kind(case: Path) -> str:
    return case.relative_to(HERE).parts[1]


def _inventory(case: Path):
    top = HERE / _check_id(case)
    for folder in (case, *case.parents):
        if (folder / "inventory.yaml").is_file():
            res = load_inventory([folder / "inventory.yaml"])
            assert res.inventory is not None and not res.findings, \
                [pick(e, "en") for f in res.findings for e in f.evidence]
            return res.inventory
        if folder == top:
            break
    raise AssertionError(f"{case}: no inventory.yaml up to {top}")


def run_case(case: Path):
    mod = importlib.import_module(MODULES[_check_id(case)])
    obs = json.loads((case / "observations.json").read_text(encoding="utf-8"))
    return mod, run_check(mod.META, mod.evaluate, _inventory(case), obs)


def _key(status, ip, mac) -> tuple:
    return (status, ip or None, mac or None)


@pytest.mark.parametrize("case", CASES, ids=[str(c.relative_to(HERE)) for c in CASES])
def test_fixture(case: Path):
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))["findings"]
    mod, got = run_case(case)
    shown = json.dumps([f.to_json("en") for f in got], ensure_ascii=False, indent=1)

    # exactly the expected set, one finding per subject
    got_keys = [_key(f.status.value, f.subject.ip, f.subject.mac) for f in got]
    assert len(got_keys) == len(set(got_keys)), "two findings about one subject:\n" + shown
    assert set(got_keys) == {_key(e["status"], e.get("ip"), e.get("mac")) for e in expected}, shown

    by_key = dict(zip(got_keys, got))
    for e in expected:
        f = by_key[_key(e["status"], e.get("ip"), e.get("mac"))]
        if "device" in e:
            assert f.subject.device == e["device"], shown
        if "ports" in e:              # what tells it apart: the open services, in order
            assert list(f.subject.ports) == e["ports"], shown
        if "destination" in e:        # where a leak reached
            assert f.subject.destination == e["destination"], shown
        assert f.severity.value == e.get("severity", mod.META.severity.value), shown
        if "segment" in e:
            assert f.segment == e["segment"], shown
        en = " | ".join(pick(x, "en") for x in f.evidence)
        for needle in e.get("evidence_contains", ()):
            assert needle in en, (needle, en)

    kind = _kind(case)
    statuses = {f.status.value for f in got}
    assert kind in KINDS, case
    if kind == "pass":
        assert statuses == {"pass"}, shown
    elif kind == "skipped":
        assert statuses == {"skipped"}, shown
    else:
        assert kind in statuses, shown
        assert "pass" not in statuses, shown

    for f in got:
        assert f.check_id == mod.META.id
        assert f.evidence, shown
        for lang in ("zh-CN", "en"):       # every string in both languages
            assert pick(f.title, lang) and all(pick(x, lang) for x in f.evidence), shown
            assert not any("{'" in pick(x, lang) for x in f.evidence), shown   # no dict reprs
        if f.status.value in ("fail", "error") and f.subject.ip:
            # evidence a person can read names the subject's IP and MAC
            en = " ".join(pick(x, "en") for x in f.evidence)
            zh = " ".join(pick(x, "zh-CN") for x in f.evidence)
            for addr in filter(None, (f.subject.ip, f.subject.mac)):
                assert addr in en and addr in zh, (addr, shown)
        assert f.segment == json.loads((case / "observations.json").read_text())["vantage"]["segment"] \
            or f.segment is None


def test_every_live_check_has_pass_fail_error():
    for cid in MODULES:
        kinds = {_kind(c) for c in CASES if _check_id(c) == cid}
        assert {"pass", "fail", "error"} <= kinds, (cid, kinds)


@pytest.mark.parametrize("cid", sorted(MODULES))
def test_meta(cid):
    meta = importlib.import_module(MODULES[cid]).META
    assert meta.id == cid and meta.needs and not meta.static
    for t in (meta.title, meta.remediation, meta.description):
        assert t.get("zh-CN") and t.get("en"), (cid, t)


def test_gate_agrees_with_observations_helpers():
    """scanner.judge.live.problem() words the same tests as controls_problem and
    section_problem: it allows a pass exactly when they do."""
    from scanner.judge.live import problem
    from scanner.observations import controls_problem, section_problem
    ok = {"status": "ok", "error": None}
    variants = [
        {},
        {"privileges": {"ok": True}},
        {"privileges": {"ok": True}, "controls": {"ok": True}},
        {"privileges": {"ok": True}, "controls": {"ok": True}, "egress": ok},
        {"privileges": {"ok": False}, "controls": {"ok": True}, "egress": ok},
        {"privileges": {"ok": True}, "controls": {"ok": False}, "egress": ok},
        {"privileges": {"ok": True}, "controls": {"ok": True}, "egress": {"status": "error"}},
        {"privileges": {"ok": True}, "controls": {"ok": True}, "egress": {"status": "not-run"}},
        {"privileges": {"ok": True}, "controls": {"ok": True}, "egress": "garbage"},
    ]
    for obs in variants:
        old = controls_problem(obs) or section_problem(obs, "egress")
        new = problem(obs, "egress")
        assert (old is None) == (new is None), obs
        if new is not None:
            assert new["zh-CN"] and new["en"]


def test_discovery_cache_sees_changed_observations():
    """hosts() is computed once per observation set; a changed host list or
    vantage is seen, never a stale answer."""
    from scanner.judge.live import hosts
    obs = {"vantage": {"ip": "10.0.0.5", "mac": "02:00:00:00:00:05"},
           "discovery": {"status": "ok", "hosts": [
               {"ip": "10.0.0.5", "mac": "02:00:00:00:00:05"},
               {"ip": "10.0.0.6", "mac": "02-00-00-00-00-06"}]}}
    assert [h["mac"] for h in hosts(obs)] == ["02:00:00:00:00:06"]
    obs["discovery"]["hosts"].append({"ip": "10.0.0.7", "mac": "02:00:00:00:00:07"})
    assert [h["ip"] for h in hosts(obs)] == ["10.0.0.6", "10.0.0.7"]
    obs["vantage"] = {"ip": "10.0.0.6", "mac": "02:00:00:00:00:06"}
    assert [h["ip"] for h in hosts(obs)] == ["10.0.0.5", "10.0.0.7"]
    hosts(obs).clear()                                   # callers get a copy
    assert len(hosts(obs)) == 2


def _all_observations():
    return [json.loads((c / "observations.json").read_text(encoding="utf-8")) for c in CASES]


def _mangled(obs: dict):
    """Observations damaged the ways a hand-edited or foreign bundle can be."""
    yield {}
    yield {"vantage": obs.get("vantage")}
    yield {**obs, "discovery": {"status": "ok", "hosts": [None, {}, {"ip": None, "mac": None},
                                                          {"ip": "not-an-ip", "mac": "zz"},
                                                          {"ip": 5, "mac": ["x"]}]}}
    for name in ("forwarding", "egress", "inbound"):
        yield {**obs, name: {"status": "ok", "probes": [
            None, {}, {"dst": None}, {"dst": "garbage", "proto": None, "port": "x", "ttl": None,
                                      "result": "answer", "state": "open", "via_ip": "1",
                                      "hop2": "nope", "dst_kind": "canary"}]}}
        yield {**obs, name: "not a section"}
    yield {**obs, "controls": {"ok": False, "error": None, "items": [None, "x", {"kind": "arp"}]}}
    yield {**obs, "privileges": None, "controls": None}


@pytest.mark.parametrize("cid", sorted(MODULES))
def test_checks_never_raise_and_never_pass_unearned(cid):
    mod = importlib.import_module(MODULES[cid])
    inv = _inventory(next(c for c in CASES if _check_id(c) == cid))
    for obs in _all_observations():
        for o in [obs, *_mangled(obs)]:
            got = list(mod.evaluate(inv, o))          # no exception, whatever the input
            assert got, o
            statuses = {f.status.value for f in got}
            if "pass" in statuses:
                assert statuses == {"pass"}
                assert (o.get("privileges") or {}).get("ok")


# -- the static checks (INV-*): the same layout, tests/checks/<ID>/<status>/<case>/ --------
# A case folder holds the inventory file(s) it loads and, for a fail case, expected.json:
#     {"about": "...", "findings": [{"status": "fail", "file": "inventory.yaml", "line": 5,
#                                    "evidence_contains": ["a piece of the English evidence"]}]}
# A pass case: the check yields only passes (at least one), and the files have no schema
# problem. A fail case: the failing findings are exactly those listed (file, line, evidence),
# no more, no fewer, each located and in both languages, and nothing passes.

STATIC = ("INV-SCHEMA", "INV-OVERLAP", "INV-ADDRESS", "INV-DUPLICATE", "INV-BRIDGE",
          "INV-INGRESS", "INV-REGISTRATION")
STATIC_CASES = sorted(p for cid in STATIC for p in (HERE / cid).glob("*/*") if p.is_dir())


def run_static(case: Path):
    from scanner.inventory.schema_check import merge_with_loader
    check_id = _check_id(case)
    files = sorted(str(p) for p in case.glob("*.yaml"))
    result = load_inventory(files)
    mod = importlib.import_module("checks." + check_id.lower().replace("-", "_"))
    found = run_check(mod.META, mod.evaluate, result.inventory, {}) if result.inventory else []
    if check_id == "INV-SCHEMA":
        return merge_with_loader(result.findings, found), []
    return found, result.findings


def test_every_static_check_has_pass_and_fail():
    assert {p.name for p in HERE.glob("INV-*") if p.is_dir()} == set(STATIC)
    for cid in STATIC:
        kinds = {_kind(c) for c in STATIC_CASES if _check_id(c) == cid}
        assert kinds == {"pass", "fail"}, cid


@pytest.mark.parametrize("case", STATIC_CASES, ids=[str(c.relative_to(HERE)) for c in STATIC_CASES])
def test_static_fixture(case: Path):
    import os

    from scanner.model import Status
    check_id = _check_id(case)
    findings, schema = run_static(case)
    assert schema == [], [f.evidence for f in schema]
    assert findings and all(f.check_id == check_id for f in findings)
    if _kind(case) == "pass":
        assert [f.status for f in findings] == [Status.PASS] * len(findings), \
            [f.evidence for f in findings]
        return
    assert _kind(case) == "fail", case
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))["findings"]
    failing = [f for f in findings if f.status == Status.FAIL]
    assert all(f.status != Status.PASS for f in findings)
    got = sorted((os.path.basename(f.location.file), f.location.line, f.evidence[0]["en"])
                 for f in failing)
    want = sorted((e.get("file", "inventory.yaml"), e["line"], e["evidence_contains"][0])
                  for e in expected)
    assert all(e["status"] == "fail" and len(e["evidence_contains"]) == 1 for e in expected)
    assert len(got) == len(want), got
    for (gf, gl, gev), (wf, wl, wtext) in zip(got, want):
        assert (gf, gl) == (wf, wl), (got, want)
        assert wtext in gev, (gev, wtext)
    for f in failing:                       # every finding is located and bilingual
        assert f.location.column >= 1
        assert f.evidence[0]["zh-CN"] and f.evidence[0]["en"]
