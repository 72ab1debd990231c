"""End to end in the lab: the silent forwarder is seen only by the canary.

The demo lab with only the `silent-bridge` fault: ws-005 on the classified
segment forwards to the internet without NAT and drops its outgoing ICMP
errors, so no answer and no time-exceeded ever comes back. The scan from the
classified vantage alone finds nothing; with the log of `isoscan canary
listen` run on the canary host, `isoscan report` fails ISO-BRIDGE naming
ws-005. The office scan is the positive control that vouches for the log.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
DEMO_LAB = REPO / "inventories" / "lab" / "demo.yaml"
WS005 = {"ip": "10.10.0.15", "mac": "02:00:00:00:0a:0f", "device": "ws-005"}


def _tmp(suffix):
    fd, path = tempfile.mkstemp(prefix="isoscan-p8-", suffix=suffix)
    os.close(fd)
    os.chmod(path, 0o666)
    os.unlink(path)
    return Path(path)


def run_scan(lab, host):
    out = _tmp(".json")
    r = lab.exec(host, [sys.executable, "-m", "scanner.cli", "scan", "-q", "--lang", "en",
                        *sum((["-i", str(f)] for f in lab.files), []), "-o", str(out)],
                 timeout=300)
    assert out.exists(), r.stdout + r.stderr
    bundle = json.loads(out.read_text())
    out.unlink()
    return r.returncode, bundle, r.stdout + r.stderr


@pytest.fixture(scope="module")
def outcome(lab_factory):
    lab = lab_factory(DEMO_LAB, faults=["silent-bridge"])
    from scanner.canary.listen import LabWitness
    log = _tmp(".json")
    try:
        with LabWitness(lab, "internet-canary", str(log), zone="canary.isoscan.invalid") as w:
            scans = {h: run_scan(lab, h) for h in ("probe-secret", "probe-office")}
        assert w.proc.returncode == 0, w.proc.stderr.read()
        data = w.log
        assert data is not None and data["running"] is False
    finally:
        if log.exists():
            log.unlink()
    return lab, scans, data


def test_scan_alone_does_not_see_the_silent_forwarder(outcome):
    _lab, scans, _log = outcome
    rc, bundle, out = scans["probe-secret"]
    bridged = [f for f in bundle["findings"] if f["check_id"] == "ISO-BRIDGE"
               and f["status"] == "fail" and f["subject"]["mac"] == WS005["mac"]]
    assert bridged == [], out
    assert rc == 0, [f for f in bundle["findings"] if f["status"] != "pass"]


def test_the_canary_saw_ws005_carry_secret_probes(outcome):
    _lab, scans, log = outcome
    from scanner.canary import tokens as T
    key = T.key_from_json(scans["probe-secret"][1]["observations"]["canary_key"])
    infos = [T.verify(a["token"], key) for a in log["arrivals"] if a["token"]]
    vias = {i.via_mac for i in infos if i is not None}
    assert WS005["mac"] in vias, log["arrivals"]
    srcs = {a["src"] for a in log["arrivals"] if a["token"] and T.verify(a["token"], key)}
    assert srcs == {"10.10.0.5"}            # no NAT: the vantage's own address arrives


def test_judge_arrivals_names_ws005(outcome):
    lab, scans, log = outcome
    from scanner.judge.crossbundle.canary import judge_arrivals
    from scanner.inventory.load import load_inventory
    inv = load_inventory(lab.files).inventory
    got = judge_arrivals([scans["probe-secret"][1], scans["probe-office"][1]], [log], inv)
    fails = [(f.check_id, f.subject.ip, f.subject.mac, f.subject.device)
             for f in got if f.status.value == "fail"]
    assert fails == [("ISO-BRIDGE", WS005["ip"], WS005["mac"], WS005["device"])], got


def test_report_with_the_log_is_non_compliant(outcome, tmp_path):
    _lab, scans, log = outcome
    files = []
    for h, (_rc, b, _o) in scans.items():
        p = tmp_path / f"{h}.json"
        p.write_text(json.dumps(b))
        files.append(str(p))
    alone = subprocess.run([sys.executable, "-m", "scanner.cli", "report", files[0], "-o",
                            str(tmp_path / "a.html"), "--json", str(tmp_path / "a.json")],
                           cwd=str(REPO), capture_output=True, text=True, timeout=120)
    assert alone.returncode == 0, alone.stderr
    hits = tmp_path / "hits.json"
    hits.write_text(json.dumps(log))
    r = subprocess.run([sys.executable, "-m", "scanner.cli", "report", *files, str(hits), "-o",
                        str(tmp_path / "r.html"), "--json", str(tmp_path / "m.json"), "--lang", "en"],
                       cwd=str(REPO), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    merged = json.loads((tmp_path / "m.json").read_text())
    assert merged["summary"]["verdict"] == "non-compliant"
    bridge = [f for f in merged["findings"] if f["check_id"] == "ISO-BRIDGE" and f["status"] == "fail"]
    assert [(f["subject"]["ip"], f["subject"]["mac"], f["subject"]["device"]) for f in bridge] == [
        (WS005["ip"], WS005["mac"], WS005["device"])]
    assert "10.10.0.5" in (tmp_path / "r.html").read_text()


@pytest.fixture(scope="module")
def full_demo(lab_factory):
    """The demo lab with every fault, both inside vantages scanned under the canary."""
    from scanner.canary.listen import LabWitness
    lab = lab_factory(DEMO_LAB)
    log = _tmp(".json")
    try:
        with LabWitness(lab, "internet-canary", str(log)) as w:
            scans = {h: run_scan(lab, h) for h in ("probe-secret", "probe-office")}
        assert w.log is not None
    finally:
        if log.exists():
            log.unlink()
    return lab, scans, w.log


def test_full_demo_canary_findings_are_exactly_the_leaks(full_demo):
    """No false positive: the dual-homed PC (NAT through the office and gw-01),
    the silent forwarder and the second exit; the office's routers inside the
    unit (gw-01, ws-004's office leg) are not exits."""
    lab, scans, log = full_demo
    from scanner.judge.crossbundle.canary import judge_arrivals, outside_view
    from scanner.inventory.load import load_inventory
    inv = load_inventory(lab.files).inventory
    bundles = [scans["probe-secret"][1], scans["probe-office"][1]]
    got = judge_arrivals(bundles, [log], inv)
    assert sorted((f.check_id, f.status.value, f.subject.device) for f in got
                  if f.status.value != "pass") == [
        ("ING-SINGLE", "fail", "ws-101"),
        ("ISO-BRIDGE", "fail", "ws-004"),
        ("ISO-BRIDGE", "fail", "ws-005"),
    ]
    view = outside_view(bundles, [log], inv)
    office = next(v for v in view["vantages"] if v["segment"] == "office-lan")
    exits = {(r["exit"], r["is_ingress"]) for r in office["rows"] if r["match"] == "verified"}
    assert exits == {("203.0.113.1", True), ("203.0.113.99", False)}
