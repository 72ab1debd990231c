"""Fixture tests of NET-DHCP and NET-IPV6-RA: no network.

Every folder tests/checks/<CHECK>/<case>/ (for the NET-* checks) holds
inventory.yaml + observations.json + expected.json. expected.json:

    {"about": "what the case shows",
     "findings": [{"status", "severity", "segment",
                   "subject": {"ip", "mac", "device"},
                   "evidence_contains": ["...", ...]}]}   # optional, English

The check's findings must be exactly that multiset (status, severity,
segment, subject); each expected finding's evidence (en) must contain the
listed strings.
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
MODULES = {"NET-DHCP": "checks.net_dhcp", "NET-IPV6-RA": "checks.net_ipv6_ra"}
CASES = sorted(p for cid in MODULES for p in (HERE / cid).iterdir() if p.is_dir())


def _key(f: dict) -> tuple:
    s = f.get("subject") or {}
    return (f["status"], f["severity"], f.get("segment"), s.get("ip"), s.get("mac"), s.get("device"))


def run_case(case: Path) -> list[dict]:
    mod = importlib.import_module(MODULES[case.parent.name])
    res = load_inventory([case / "inventory.yaml"])
    assert res.inventory is not None and not res.findings, [f.evidence for f in res.findings]
    obs = json.loads((case / "observations.json").read_text(encoding="utf-8"))
    return [f.to_json("en") | {"_zh": [pick(e, "zh-CN") for e in f.evidence]}
            for f in run_check(mod.META, mod.evaluate, res.inventory, obs)]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_fixture(case: Path):
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))["findings"]
    got = run_case(case)
    assert sorted(map(_key, got)) == sorted(map(_key, expected)), json.dumps(got, ensure_ascii=False, indent=1)
    for exp in expected:
        match = [g for g in got if _key(g) == _key(exp)]
        for needle in exp.get("evidence_contains", ()):
            assert any(needle in " | ".join(g["evidence"]) for g in match), (needle, match)
    for g in got:
        assert g["check_id"] == case.parent.name
        assert g["evidence"] and all(g["_zh"]), g      # both languages say something


def test_every_check_has_pass_fail_error():
    for cid in MODULES:
        names = {p.name for p in (HERE / cid).iterdir() if p.is_dir()}
        assert {"pass", "fail", "error"} <= names, (cid, names)


GARBAGE = [None, "x", 7, {}, ["x", 3, None], [{"src_ip": 5, "src_mac": [], "router": 9,
                                                "prefixes": "p", "router_lifetime": "1800",
                                                "rdnss": 3, "wait": "long"}]]


@pytest.mark.parametrize("cid", sorted(MODULES))
def test_malformed_observations_never_pass_and_never_crash(cid):
    mod = importlib.import_module(MODULES[cid])
    case = HERE / cid / "pass"
    inv = load_inventory([case / "inventory.yaml"]).inventory
    good = json.loads((case / "observations.json").read_text(encoding="utf-8"))
    name, key = ("dhcp", "offers") if cid == "NET-DHCP" else ("ra", "adverts")
    for g in GARBAGE + [[]]:
        for obs in (dict(good, **{name: g}), dict(good, **{name: dict(good[name], **{key: g})})):
            if g == [] and isinstance(obs[name], dict):
                continue                              # an empty list is a clean "nothing seen"
            got = list(mod.evaluate(inv, obs))        # never raises
            statuses = {f.status.value for f in got}
            assert statuses and "pass" not in statuses, (g, statuses)
