"""history and diff lines name what tells a finding apart (the open port, a
leak's destination), the check's title in the reader's language, and times
in the unit's zone with its offset (issue 22)."""
from __future__ import annotations

import copy
import json
import time

import pytest

from click.testing import CliRunner

from scanner.bundle import summary
from scanner.cli import main
from tests.alerts.conftest import bundle, write_json


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


def _pair(tmp_path):
    cur = bundle("internet")
    for f in cur["findings"]:
        if f["check_id"] == "ISO-LOGICAL" and f["status"] == "fail":
            f["subject"]["ports"] = ["8291/tcp", "3389/tcp"]
    prev = copy.deepcopy(cur)
    prev["scan_id"] = "internet-before"
    prev["started_at"], prev["finished_at"] = "2026-11-29T02:05:00Z", "2026-11-29T02:06:00Z"
    prev["findings"] = [f for f in prev["findings"] if f["check_id"] != "ISO-LOGICAL"]
    prev["summary"] = summary(prev["findings"])
    return write_json(tmp_path / "prev.json", prev), write_json(tmp_path / "cur.json", cur)


@pytest.fixture
def shanghai(monkeypatch):
    """The host's zone is Asia/Shanghai for the test (the unit's, with no inventory)."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_diff_and_history_lines(tmp_path, shanghai):
    prev, cur = _pair(tmp_path)
    env = None
    r = run("diff", prev, cur, "--lang", "en", env=env)
    assert r.exit_code == 0, r.output
    [line] = [l for l in r.output.splitlines() if "ISO-LOGICAL" in l]
    assert "Non-classified network exposes an undeclared service" in line
    assert "web-01 10.20.0.30 8291/tcp, 3389/tcp" in line
    assert "2026-11-30T10:05:00+08:00" in line and "Z " not in line
    r = run("diff", prev, cur, env=env)
    [line] = [l for l in r.output.splitlines() if "ISO-LOGICAL" in l]
    assert " ".join(line.split()).startswith("新增 高 ISO-LOGICAL 非涉密网络向互联网开放了未声明的服务：")
    assert "8291/tcp" in line and "网段 office-lan" in line
    db = str(tmp_path / "s.db")
    assert run("ingest", "-q", "--db", db, prev, cur).exit_code == 0
    r = run("history", "--db", db, "--check", "ISO-LOGICAL", "--lang", "en", env=env)
    assert r.exit_code == 0, r.output
    assert "web-01 10.20.0.30 8291/tcp, 3389/tcp" in r.output
    assert "2026-11-30T10:05:00+08:00" in r.output
    r = run("history", "--db", db, "--check", "ISO-LOGICAL", "--format", "json")
    [h] = json.loads(r.output)["findings"]
    assert h["subject"]["ports"] == ["8291/tcp", "3389/tcp"]
    assert h["first_seen"] == "2026-11-30T02:05:00Z"          # JSON stays UTC
