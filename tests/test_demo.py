"""`isoscan demo` end to end, exactly as a newcomer runs it, plus its pure parts."""
from __future__ import annotations

import subprocess
import sys

from lab_support import REPO, require_root, unique_lab_name
from scanner.demo import Expectation, reconcile, summary_lines, DemoResult


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
    assert sorted(p.name for p in tmp_path.glob("bundle-*.json")) == [
        "bundle-probe-internet.json", "bundle-probe-office.json", "bundle-probe-secret.json"]
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert name not in left, left
