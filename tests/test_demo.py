"""`isoscan demo` end to end, exactly as a newcomer runs it, plus its pure parts."""
from __future__ import annotations

import json
import re
import subprocess
import sys

from lab_support import REPO, require_root, unique_lab_name
from scanner.demo import DemoResult, Expectation, intro_lines, reconcile, summary_lines


def _e(**kw):
    base = dict(fault="f", check="DEV-UNREGISTERED", vantage="probe-a", ip="10.0.0.7",
                mac="02:aa:00:00:00:07", device=None, canary_only=False)
    base.update(kw)
    return Expectation(**base)


def _f(check="DEV-UNREGISTERED", status="fail", ip="10.0.0.7", mac="02:aa:00:00:00:07",
       severity="high", device=None):
    return {"check_id": check, "status": status, "severity": severity,
            "subject": {"ip": ip, "mac": mac, "device": device}}


def test_expected_fault_found_by_its_vantage_and_nothing_unexpected():
    e = _e()
    unexpected = reconcile([e], {"probe-a": [_f()]}, [_f()])
    assert e.found_by == "scan" and unexpected == []


def test_a_fault_seen_only_in_the_merged_result_is_found_by_the_canary():
    e = _e(check="ISO-BRIDGE", canary_only=True)
    reconcile([e], {"probe-a": []}, [_f(check="ISO-BRIDGE")])
    assert e.found_by == "canary"


def test_a_miss_and_an_unexpected_failure_both_fail_the_demo():
    e = _e()
    other = _f(ip="10.0.0.9", mac="02:aa:00:00:00:09")
    notice = _f(check="DEV-MISSING", severity="info", ip="10.0.0.3")
    unexpected = reconcile([e], {"probe-a": [_f(mac="02:bb:00:00:00:07")]}, [other, notice])
    assert e.found_by is None                      # the MAC differs: not the seeded fault
    assert unexpected == [other]                   # an info notice is no failure
    res = DemoResult(out_dir=REPO, expectations=[e], unexpected=unexpected)
    assert not res.ok
    assert any("MISSED" in line for line in summary_lines(res, "en"))


def test_isoscan_demo_finds_every_seeded_fault_and_leaves_no_namespace(tmp_path):
    require_root()
    name = unique_lab_name("demo")
    r = subprocess.run([sys.executable, "-m", "scanner.cli", "demo", "--out", str(tmp_path),
                        "--name", name, "--lang", "en"],
                       capture_output=True, text=True, timeout=600, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "nothing unexpected — PASS" in r.stdout, r.stdout
    assert "MISSED" not in r.stdout
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Non-compliant" in html
    # one count of findings: the printout, the report's tally and its findings heading agree
    from scanner.report.fixfirst import finding_tally
    merged = json.loads((tmp_path / "merged.json").read_text("utf-8"))
    tally = finding_tally(merged)
    assert tally["violations"] > 0
    said = f"{tally['violations']} violations"
    assert said in r.stdout and f'<p class="tally" id="tally">{said}' in html
    assert re.search(r'<section id="findings".*?<h2>[^<]*<span class="count">(\d+)</span>',
                     html, re.S).group(1) == str(tally["violations"])
    for out in (r.stdout, html):                  # no install path in what a person reads
        assert "site-packages" not in out and "/venv/" not in out
    assert sorted(p.name for p in tmp_path.glob("bundle-*.json")) == [
        "bundle-probe-internet.json", "bundle-probe-office.json", "bundle-probe-secret.json"]
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert name not in left, left


def test_summary_counts_faults_and_findings_apart_and_says_non_compliant_is_expected():
    e1 = _e(fault="dual-homed", check="ISO-BRIDGE", found_by="scan")
    e2 = _e(fault="dual-homed", found_by="scan")
    e3 = _e(fault="rogue-laptop", found_by="scan")
    res = DemoResult(out_dir=REPO, faults=["dual-homed", "rogue-laptop"], expectations=[e1, e2, e3],
                     vantages={"probe-a": {"verdict": "non-compliant", "bundle": "b"}})
    en = list(summary_lines(res, "en"))
    assert en[0].startswith("2 seeded faults, 3 expectations")
    assert en[-1] == "result: 2/2 seeded faults found (3/3 expectations met), nothing unexpected — PASS"
    assert any("non-compliant where faults are seeded is expected" in ln for ln in en)
    zh = list(summary_lines(res, "zh-CN"))
    assert zh[-1] == "结果：发现 2/2 个预置故障（满足预期 3/3 条），无意外违规 —— 通过（PASS）"


def test_a_fault_with_one_of_two_findings_missed_is_not_counted_found():
    res = DemoResult(out_dir=REPO, faults=["dual-homed"],
                     expectations=[_e(fault="dual-homed", found_by="scan"),
                                   _e(fault="dual-homed", check="ISO-BRIDGE")])
    assert res.faults_found() == 0 and not res.ok
    assert "0/1 seeded faults found (1/2 expectations met)" in list(summary_lines(res, "en"))[-1]


def test_intro_says_non_compliant_is_expected_and_how_to_switch_language():
    zh, en = intro_lines("zh-CN"), intro_lines("en")
    assert any("不合规" in ln and "预期" in ln for ln in zh)
    assert "isoscan demo --lang en" in zh[-1]              # a reader of English is told how
    assert any('"non-compliant"' in ln and "expected" in ln for ln in en)
    assert "isoscan demo --lang zh-CN" in en[-1]


def test_demo_lab_is_found_as_installed_package_data_from_any_folder(tmp_path, monkeypatch):
    import scanner.demo as d
    import scanner.packagedata as pd
    monkeypatch.setattr(pd, "SOURCE_TREE", tmp_path / "site")     # as if installed: no pyproject
    pkg = tmp_path / "site" / "fakelabs"
    pkg.mkdir(parents=True)
    (pkg / "demo.yaml").write_text("version: 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(d, "LAB_PACKAGE", "fakelabs")
    monkeypatch.chdir(tmp_path)
    assert d.find_lab_file() == pkg / "demo.yaml"


def test_demo_lab_is_found_in_the_source_tree_and_never_in_the_current_folder(tmp_path, monkeypatch):
    import scanner.demo as d
    (tmp_path / "inventories" / "lab").mkdir(parents=True)
    (tmp_path / "inventories" / "lab" / "demo.yaml").write_text("not this one\n")
    monkeypatch.chdir(tmp_path)
    assert d.find_lab_file() == REPO / "inventories" / "lab" / "demo.yaml"


def test_pyproject_ships_the_demo_lab_as_package_data():
    import tomllib
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    from scanner.demo import LAB_PACKAGE
    assert cfg["package-dir"][LAB_PACKAGE] == "inventories/lab"
    assert LAB_PACKAGE in cfg["packages"] and "*.yaml" in cfg["package-data"][LAB_PACKAGE]
