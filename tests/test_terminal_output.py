"""Review: text output never passes raw terminal control sequences (ANSI/OSC
escapes, C1 controls, bidi overrides) or forged lines through.

CliRunner(color=True): click strips ANSI *styles* when output is not a
terminal, which would hide exactly what a real terminal receives."""
from __future__ import annotations

import json
import re
import types

import pytest
from click.testing import CliRunner

from scanner.cli import main

CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
EVIL = "ev\x1b[2J\x1b]0;pwned\x07il\u202e\x9b1m"


def _clean_output(r):
    for stream in (r.stdout, r.stderr):
        assert not CTRL.search(stream), repr(stream)


def test_lab_status_escapes_state_data(monkeypatch):
    from scanner import lab as L
    monkeypatch.setattr(L, "status", lambda: [{
        "name": EVIL, "status": EVIL, "namespaces_present": 1, "namespaces": 2,
        "processes_alive": 0, "processes": 0, "faults": [EVIL, "x\ny", 7]}])
    r = CliRunner().invoke(main, ["lab", "status"], color=True)
    assert r.exit_code == 0, r.output
    _clean_output(r)
    assert len(r.stdout.splitlines()) == 1


def test_lab_up_escapes_names_from_the_lab_file(monkeypatch):
    from scanner import lab as L
    leg = types.SimpleNamespace(segment=EVIL, ip="10.0.0.1", mac=EVIL)
    host = types.SimpleNamespace(name=EVIL, role="host", legs=[leg], ns="ns")
    built = types.SimpleNamespace(name=EVIL, prefix="isl-x", hosts={"h": host},
                                  switches={"s": 1}, faults=[types.SimpleNamespace(id=EVIL, kind=EVIL)],
                                  timings={"build_s": 0.1})
    monkeypatch.setattr(L, "up", lambda paths, faults=None, name=None: built)
    r = CliRunner().invoke(main, ["lab", "up", "x.yaml"], color=True)
    assert r.exit_code == 0, r.output
    _clean_output(r)


def test_lab_errors_are_escaped(monkeypatch):
    from scanner import lab as L

    def boom(name=None):
        raise L.LabError(f"no lab {EVIL}")
    monkeypatch.setattr(L, "down", boom)
    r = CliRunner().invoke(main, ["lab", "down", "x"], color=True)
    assert r.exit_code == 2
    _clean_output(r)


def test_scan_input_errors_are_escaped(tmp_path):
    # exit 2 while loading the inventory: nothing is probed, nothing is sent
    p = tmp_path / "inv.yaml"
    p.write_text(json.dumps({"version": 1, "organization": {"name": "x"}, EVIL: 1,
                             "segments": [{"name": "a", "classification": EVIL,
                                           "networks": ["10.0.0.0/24"]}]}))
    r = CliRunner().invoke(main, ["scan", "-i", str(p), "--quiet"], color=True)
    assert r.exit_code == 2, r.output
    _clean_output(r)


def test_demo_summary_is_escaped(monkeypatch, tmp_path):
    from scanner import demo as d
    e = d.Expectation(fault=EVIL, check="DEV-UNREGISTERED", vantage="p", ip="10.0.0.1",
                      mac=EVIL, device=None, canary_only=False, found_by=None)
    res = d.DemoResult(out_dir=tmp_path, vantages={"p": {"verdict": "compliant", "bundle": "b",
                                                          "stderr": EVIL}},
                       expectations=[e], unexpected=[{"check_id": EVIL, "subject": {"ip": EVIL}}])
    monkeypatch.setattr(d, "find_lab_file", lambda f: f)
    monkeypatch.setattr(d, "run", lambda **kw: res)
    r = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "o")], color=True)
    assert r.exit_code == 1
    _clean_output(r)


def test_lab_errors_say_what_to_do(monkeypatch):
    """A newcomer without privileges is told which capability is missing; a
    multi-line error keeps its lines (each escaped)."""
    from scanner import lab as L

    def denied(*a, **kw):
        raise L.LabError("creating namespaces failed (exit 1): mount --make-shared /run/netns "
                         "failed: Operation not permitted\nCommand failed -:1")
    monkeypatch.setattr(L, "up", denied)
    monkeypatch.setattr(L, "load", denied)
    r = CliRunner().invoke(main, ["lab", "up", "inventories/lab/demo.yaml"])
    assert r.exit_code == 2
    assert "CAP_NET_ADMIN" in r.stderr and "Command failed" in r.stderr
    assert "\\u000a" not in r.stderr
