"""Every INV check against its fixture folders tests/checks/INV-*/<case>/.

A `pass*` folder: the check yields only passes (at least one), and the files
have no schema problem. A `fail*` folder: the check's failing findings are
exactly those listed in expected.yaml (file, line, a piece of the English
evidence), no more, no fewer.
"""
import importlib
import os
from pathlib import Path

import pytest
import yaml_rs

from checks.inv_schema import merge_with_loader
from scanner.inventory.load import load_inventory
from scanner.judge.run import run_check
from scanner.model import Status

ROOT = Path(__file__).resolve().parents[1] / "checks"
CASES = sorted((d.parent.name, d.name) for d in ROOT.glob("INV-*/*") if d.is_dir())


def module_of(check_id):
    return importlib.import_module("checks." + check_id.lower().replace("-", "_"))


def run(check_id, folder):
    files = sorted(str(p) for p in folder.glob("*.yaml") if p.name != "expected.yaml")
    result = load_inventory(files)
    mod = module_of(check_id)
    found = run_check(mod.META, mod.evaluate, result.inventory, {}) if result.inventory else []
    if check_id == "INV-SCHEMA":
        return merge_with_loader(result.findings, found), []
    return found, result.findings


def test_every_static_check_has_fixtures():
    ids = {c for c, _ in CASES}
    assert ids == {"INV-SCHEMA", "INV-OVERLAP", "INV-ADDRESS", "INV-DUPLICATE",
                   "INV-BRIDGE", "INV-INGRESS", "INV-REGISTRATION"}
    for check_id in ids:
        kinds = {case.split("-")[0] for c, case in CASES if c == check_id}
        assert kinds == {"pass", "fail"}, check_id


@pytest.mark.parametrize("check_id,case", CASES, ids=[f"{c}/{k}" for c, k in CASES])
def test_fixture(check_id, case):
    folder = ROOT / check_id / case
    findings, schema = run(check_id, folder)
    assert schema == [], [f.evidence for f in schema]
    assert findings and all(f.check_id == check_id for f in findings)
    if case.startswith("pass"):
        assert [f.status for f in findings] == [Status.PASS] * len(findings), \
            [f.evidence for f in findings]
        return
    expected = yaml_rs.loads((folder / "expected.yaml").read_text(encoding="utf-8"))
    failing = [f for f in findings if f.status == Status.FAIL]
    assert all(f.status != Status.PASS for f in findings)
    got = sorted((os.path.basename(f.location.file), f.location.line, f.evidence[0]["en"])
                 for f in failing)
    want = sorted((e.get("file", "inventory.yaml"), e["line"], e["contains"]) for e in expected)
    assert len(got) == len(want), got
    for (gf, gl, gev), (wf, wl, wtext) in zip(got, want):
        assert (gf, gl) == (wf, wl), (got, want)
        assert wtext in gev, (gev, wtext)
    for f in failing:                       # every finding is located and bilingual
        assert f.location.column >= 1
        assert f.evidence[0]["zh-CN"] and f.evidence[0]["en"]
