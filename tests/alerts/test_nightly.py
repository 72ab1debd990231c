"""The nightly run's parts without a lab: bundle names that never collide, the
store's previous scan of the same vantage, the usage errors said before
anything is probed, the store file made private."""
from __future__ import annotations

import copy
import os
import subprocess
import sys

from scanner.alerts.nightly import bundle_name, output_path
from tests.alerts.conftest import bundle

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def isoscan(*args):
    """In a fresh empty network namespace: should a usage check ever come after
    the probing, the scan reaches nothing (never the machine's own network)."""
    return subprocess.run(["unshare", "--net", sys.executable, "-m", "scanner.cli", *args],
                          capture_output=True, text=True, timeout=120, cwd=REPO)


def test_bundle_names_carry_the_vantage_and_never_collide(tmp_path):
    b = bundle("office-lan")
    name = bundle_name(b)
    v = b["vantage"]
    assert name.startswith(f"office-lan_{v['ip']}_") and name.endswith("Z.json")
    evil = copy.deepcopy(b)
    evil["vantage"]["segment"] = "../../etc/x y"
    assert "/" not in bundle_name(evil) and " " not in bundle_name(evil)
    (tmp_path / name).write_text("{}")
    assert output_path(str(tmp_path), b) == str(tmp_path / (name[:-5] + "-2.json"))
    other = bundle("secret-lan")
    other["started_at"] = b["started_at"]
    assert bundle_name(other) != name                      # two probes, one second


def test_previous_scan_is_the_same_vantages(tmp_path):
    from scanner.store.db import open_store
    from scanner.store.ingest import document, ingest
    from scanner.store.vantages import last_reports, previous_bundle
    office, secret = bundle("office-lan"), bundle("secret-lan")
    later = copy.deepcopy(office)
    later["scan_id"] = "office-night-2"
    later["started_at"] = "2026-12-30T02:00:00Z"
    store = open_store(str(tmp_path / "s.db"))
    try:
        assert previous_bundle(store, office) is None                # night one
        ingest(store, [document("a", "bundle", office), document("b", "bundle", secret)])
        assert previous_bundle(store, office) is None                # itself is not its previous
        prev = previous_bundle(store, later)
        assert prev is not None and prev["scan_id"] == office["scan_id"]
        assert previous_bundle(store, secret) is None                # another vantage's is not
        segs = {seg for seg, _ in last_reports(store)}
        assert {"office-lan", "secret-lan"} <= segs
    finally:
        store.close()
    assert oct(os.stat(tmp_path / "s.db").st_mode & 0o777) == "0o600"
    os.chmod(tmp_path / "s.db", 0o644)                   # a store an older isoscan made
    open_store(str(tmp_path / "s.db")).close()
    assert oct(os.stat(tmp_path / "s.db").st_mode & 0o777) == "0o600"


def test_usage_errors_before_anything_is_probed(tmp_path):
    cfg = tmp_path / "alerts.yaml"
    cfg.write_text("version: 1\nchannels:\n  - {name: s, type: syslog}\n")
    inv = os.path.join(REPO, "inventories", "lab", "demo.yaml")
    r = isoscan("scan", "-i", inv, "--alert", str(cfg), "--lang", "en")
    assert r.returncode == 2 and "--alert needs --db" in r.stderr
    r = isoscan("scan", "-i", inv, "-o", str(tmp_path / "a.json"), "--output-dir", str(tmp_path),
                "--lang", "en")
    assert r.returncode == 2 and "not both" in r.stderr
    cfg.write_text("version: 1\nchannels:\n  - {name: s, type: pager}\n")
    r = isoscan("scan", "-i", inv, "--db", str(tmp_path / "s.db"), "--alert", str(cfg))
    assert r.returncode == 2 and "alerts.yaml:3:" in r.stderr
    assert not os.path.exists(tmp_path / "s.db")


def test_night_one_alerts_every_failure_but_the_waived(tmp_path, receivers):
    import json as _json

    from scanner.alerts.config import load_config
    from scanner.alerts.nightly import alert_on
    from scanner.waivers import load_waivers
    hook = receivers("webhook")
    (tmp_path / "s").write_text("k")
    cfg = tmp_path / "alerts.yaml"
    cfg.write_text(f"version: 1\noutbox: o.jsonl\nchannels:\n"
                   f"  - {{name: h, type: webhook, url: {hook.url}, secret_file: s}}\n")
    w = tmp_path / "waivers.yaml"
    w.write_text("version: 1\nwaivers:\n  - {match: {check: ING-SINGLE, segment: office-lan}, "
                 "reason: approved modem, approver: 保密办, expires: 2099-01-01}\n")
    b = bundle("office-lan")
    failing = {f["check_id"] for f in b["findings"] if f["status"] == "fail"}
    assert "ING-SINGLE" in failing and len(failing) > 1
    assert alert_on(b, None, load_config(str(cfg)), outbox=str(tmp_path / "o.jsonl"),
                    inventory_zone=None, waivers=load_waivers(str(w)))
    [req] = hook.requests
    got = {a["check"] for a in _json.loads(req["body"])["alerts"]}
    assert got == failing - {"ING-SINGLE"}
    r = isoscan("scan", "-i", "x.yaml", "--waivers", str(w), "--lang", "en")
    assert r.returncode == 2 and "--waivers goes with --alert" in r.stderr


def test_a_chinese_mail_has_no_english_label_and_local_times():
    from zoneinfo import ZoneInfo

    from scanner.alerts.mail import message
    from scanner.alerts.rules import Alert
    a = Alert(kind="new-finding", key="new-finding:fp1:s2", severity="high", segment="office-lan",
              title={"zh-CN": "新发现：ISO-LOGICAL", "en": "new finding: ISO-LOGICAL"},
              text={"zh-CN": "新发现 ISO-LOGICAL（高）：gw-01 203.0.113.1 8291/tcp（网段 internet）",
                    "en": "x"}, time="2026-12-07T18:30:00Z")
    body = message([a], "a@b", ["c@d"], "zh-CN", ZoneInfo("Asia/Shanghai")).get_content()
    assert "[高]" in body and "2026-12-08T02:30:00+08:00" in body and "8291/tcp" in body
    assert not any(w in body for w in ("high", "time:", "key:", "Z "))
