"""Review: hostile strings from an inventory file, a bundle and a canary log
through `isoscan report` come out escaped."""
from __future__ import annotations

import json
import os
import re
import sys

import pytest
from click.testing import CliRunner

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fuzz"))
import fuzzkit  # noqa: E402

from scanner.cli import main  # noqa: E402
from scanner.report.render import render_report  # noqa: E402

EVIL = "ev\x1b[2J\x1b]0;t\x07\u202eil\x00\x9b\u2066</script><script>alert(1)</script>\u2028" \
       "\"'><img src=x onerror=alert(2)>\n{{ 7*7 }}"
RAW_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f"
                          r"\u202a-\u202e\u2066-\u2069]")

INVENTORY = """\
version: 1
organization: {name: %(q)s}
segments:
  - {name: secret-lan, title: %(q)s, classification: classified, level: secret,
     networks: [10.10.0.0/24]}
devices:
  - {name: %(q)s, kind: workstation, asset_tag: %(q)s, custodian: %(q)s,
     segment: secret-lan, ip: 10.10.0.11, mac: "02:00:00:00:0c:0b"}
  - {name: probe, kind: probe, asset_tag: P, custodian: c, segment: secret-lan,
     ip: 10.10.0.5, mac: "02:00:00:00:0a:05"}
"""


def _hostile_bundle():
    b = fuzzkit.make_bundle("DEV-UNREGISTERED/fail/unknown-hosts")
    b["observations"]["discovery"]["hosts"].append(
        {"ip": "10.10.0.98", "mac": "02:aa:00:00:00:98", "via": EVIL})
    for f in b["findings"]:
        f["evidence"].append(EVIL)
        f["subject"]["device"] = EVIL
    b["vantage"]["interface"] = EVIL
    doc = b["inventory"]["document"]
    doc["organization"]["name"] = EVIL
    for d in doc["devices"]:
        d["custodian"] = EVIL
    return b


def _run(tmp_path, *extra_files, inventory=True):
    bp = tmp_path / "b.json"
    bp.write_text(json.dumps(_hostile_bundle(), ensure_ascii=False), encoding="utf-8")
    args = ["report", str(bp), *map(str, extra_files), "-o", str(tmp_path / "r.html")]
    if inventory:
        ip = tmp_path / "inv.yaml"
        ip.write_text(INVENTORY % {"q": json.dumps(EVIL)}, encoding="utf-8")
        args += ["-i", str(ip)]
    r = CliRunner().invoke(main, args, color=True)
    assert r.exit_code == 0, r.output
    return (tmp_path / "r.html").read_text(encoding="utf-8"), r


def test_hostile_inventory_bundle_and_log_are_escaped(tmp_path):
    log = fuzzkit.canary_log("log-breach")
    for a in log["arrivals"]:
        if not isinstance(a, dict):
            continue                 # the fixture carries junk entries of its own
        a["qname"] = EVIL
        a["interface"] = EVIL
    log["interfaces"][0]["name"] = EVIL
    lp = tmp_path / "log.json"
    lp.write_text(json.dumps(log, ensure_ascii=False), encoding="utf-8")
    html, r = _run(tmp_path, lp)
    for bad in ("<script>alert", "<img", "onerror=alert(2)>"):
        assert bad not in html, bad
    assert "{{ 7*7 }}" in html                  # data, shown as written, never a template
    head = html[:html.rindex("<script>")]       # before our own inline script: no script but data
    assert re.findall(r"<script(?![^>]*application/json)", head) == []
    assert not RAW_CONTROLS.search(r.stderr)


def test_report_shows_controls_and_bidi_overrides_visibly(tmp_path):
    html, _ = _run(tmp_path)
    assert not RAW_CONTROLS.search(html), repr(RAW_CONTROLS.search(html))


def test_render_report_without_inventory_escapes(tmp_path):
    html = render_report([_hostile_bundle()], "zh-CN")
    assert "<script>alert" not in html and "<img" not in html
