"""Fixture tests of the HOST-* checks (issue 26): no network.

Every folder tests/checks/HOST-<ID>/<status>-<case>/ holds case.json; the
inventory is tests/checks/HOST-<ID>/inventory.yaml unless the case has its
own. case.json:

    {"about": "what the case shows",
     "root": "laptop-wifi-up",           # a machine of tests/host/roots.py, built
                                         # as Linux lays out /sys, /proc, /etc, /var/log
     "device": "pc-07",                  # optional: the vantage's device
     "host": {"status": "error", ...},   # optional: the record as given, no root
     "reach": {...},                     # optional: the host_reach section
     "network": true,                    # optional: a probe's bundle, not a host's
     "findings": [{"status", "severity", "evidence_contains": ["..."]}]}

The check's findings must be exactly that multiset of (status, severity);
the evidence (en) of each must contain the listed strings.
"""
from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pytest

from scanner.host.collect import collect
from scanner.host.root import Root
from scanner.inventory.load import load_inventory
from scanner.judge.run import run_check
from scanner.model import pick
from tests.host import journal, roots

HERE = Path(__file__).resolve().parent
MODULES = {"HOST-WIRELESS": "checks.host_wireless", "HOST-NIC": "checks.host_nic",
           "HOST-FORWARD": "checks.host_forward", "HOST-MEDIA": "checks.host_media",
           "HOST-EGRESS": "checks.host_egress"}
CASES = sorted(p for cid in MODULES for p in (HERE / cid).iterdir() if p.is_dir())


def observations(case: dict, tmp: Path) -> dict:
    vantage = {"kind": "host", "device": case.get("device", "pc-07"), "segment": "secret-lan"}
    if case.get("network"):
        return {"vantage": {"segment": "secret-lan", "interface": "eth0"}}
    if "host" in case:
        host = case["host"]
    else:
        if case["root"] == "journal-stick":
            why = journal.available()
            if why is not None and not os.environ.get("CI"):
                pytest.skip(f"a real journal cannot be written here: {why}")
        path = roots.build(case["root"], tmp / "root")
        host = collect(Root(str(path))).to_json()
    obs = {"vantage": vantage, "host": host}
    obs["host_reach"] = case.get("reach", {"status": "not-run",
                                           "error": "a --root tree is not a running system"})
    return obs


def run_case(case_dir: Path, tmp: Path):
    case = json.loads((case_dir / "case.json").read_text(encoding="utf-8"))
    mod = importlib.import_module(MODULES[case_dir.parent.name])
    inv_file = case_dir / "inventory.yaml"
    if not inv_file.exists():
        inv_file = case_dir.parent / "inventory.yaml"
    res = load_inventory([inv_file])
    assert res.inventory is not None and not res.findings, [f.evidence for f in res.findings]
    return case, run_check(mod.META, mod.evaluate, res.inventory, observations(case, tmp))


@pytest.mark.parametrize("case_dir", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_fixture(case_dir: Path, tmp_path: Path):
    case, got = run_case(case_dir, tmp_path)
    shown = json.dumps([f.to_json("en") for f in got], ensure_ascii=False, indent=1)
    assert sorted((f.status.value, f.severity.value) for f in got) == \
        sorted((e["status"], e["severity"]) for e in case["findings"]), shown
    for e in case["findings"]:
        match = [f for f in got if (f.status.value, f.severity.value) == (e["status"], e["severity"])]
        for needle in e.get("evidence_contains", ()):
            assert any(needle in " | ".join(pick(x, "en") for x in f.evidence) for f in match), \
                (needle, shown)
    kind = case_dir.name.split("-", 1)[0]
    statuses = {f.status.value for f in got}
    if kind == "pass":
        assert statuses == {"pass"}, shown
    elif kind == "skipped":
        assert statuses == {"skipped"}, shown
    else:
        assert kind in statuses and "pass" not in statuses, shown
    for f in got:
        for lang in ("zh-CN", "en"):
            assert pick(f.title, lang) and f.evidence and all(pick(x, lang) for x in f.evidence)


def test_every_check_has_pass_fail_error():
    for cid in MODULES:
        kinds = {p.name.split("-", 1)[0] for p in (HERE / cid).iterdir() if p.is_dir()}
        assert {"pass", "fail", "error"} <= kinds, (cid, kinds)


def test_root_is_never_written(tmp_path: Path):
    """--root is read-only: collecting changes nothing under the tree."""
    path = roots.build("laptop-wifi-profile", tmp_path / "root")
    roots.build("rotated-gz", tmp_path / "root")

    def state():
        return sorted((str(p), p.lstat().st_mtime_ns, p.lstat().st_size)
                      for p in path.rglob("*"))
    before = state()
    collect(Root(str(path)))
    assert state() == before


def test_network_checks_skip_on_a_host_bundle():
    from checks import iso_physical
    from scanner.model import Status
    inv = load_inventory([HERE / "HOST-NIC" / "inventory.yaml"]).inventory
    got = run_check(iso_physical.META, iso_physical.evaluate, inv,
                    {"vantage": {"kind": "host", "device": "pc-07", "segment": "secret-lan"}})
    assert [f.status for f in got] == [Status.SKIPPED]


GARBAGE = [None, "x", 7, [], {}, {"status": "ok"}, {"status": "OK"},
           {"status": "ok", "interfaces": "eth0", "radios": 5, "storage": {}},
           {"status": "ok", "interfaces": [{"name": None}, 3, {"kind": "wlan"}],
            "media_history": [{"serial": 5}], "logs_read": "all", "ip_forward": "no"}]


@pytest.mark.parametrize("cid", sorted(MODULES))
def test_malformed_host_records_never_pass_and_never_crash(cid):
    mod = importlib.import_module(MODULES[cid])
    res = load_inventory([HERE / cid / "inventory.yaml"])
    for g in GARBAGE:
        for reach in (None, "x", {"status": "ok"}, {"status": "ok", "controls": "yes",
                                                     "probes": [{"via": 1}]}):
            obs = {"vantage": {"kind": "host", "device": "pc-07", "segment": "secret-lan"},
                   "host": g, "host_reach": reach}
            got = run_check(mod.META, mod.evaluate, res.inventory, obs)
            statuses = {f.status.value for f in got}
            assert "pass" not in statuses, (g, reach, [f.to_json("en") for f in got])
            assert not any("raised" in pick(e, "en") for f in got for e in f.evidence), \
                [f.to_json("en") for f in got]
