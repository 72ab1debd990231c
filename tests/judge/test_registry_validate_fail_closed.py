"""Review: the registry and `isoscan validate` fail closed, and their text
output never passes terminal control sequences or forged lines through."""
from __future__ import annotations

import json
import re
import types

import pytest
from click.testing import CliRunner

from scanner.judge import registry as R
from scanner.cli import main
from scanner.model import CheckMeta, Severity, Status, passed, text

CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class EP:
    def __init__(self, name, value, load):
        self.name, self.value, self._load = name, value, load

    def load(self):
        return self._load()


# CliRunner(color=True): click strips ANSI styles when stdout is not a terminal,
# which would hide exactly what a terminal shows.


def _exit():
    raise SystemExit(0)


def test_a_plugin_that_exits_at_import_is_a_problem_not_a_clean_exit():
    reg = R.load_checks(entry_points=lambda: [EP("X-EXIT", "pkg.exit", _exit)])
    assert reg.checks == []
    [p] = reg.problems
    assert p.status == Status.ERROR and "SystemExit" in p.evidence[0]["en"]


@pytest.mark.parametrize("field,value", [("id", 42), ("severity", "high"), ("needs", "inventory"),
                                         ("title", None), ("id", "")])
def test_meta_of_the_wrong_types_is_a_problem(field, value):
    kw = dict(id="X-ODD", severity=Severity.LOW, title=text("t", "t"), needs=("inventory",),
              remediation=text("r", "r"))
    kw[field] = value
    meta = CheckMeta(**kw)
    mod = types.SimpleNamespace(META=meta, evaluate=lambda inv, obs: [passed(meta, "x")])
    reg = R.load_checks(entry_points=lambda: [EP("X-ODD", "pkg.odd", lambda: mod)])
    assert reg.checks == [] and reg.problems and reg.problems[0].status == Status.ERROR


def test_a_missing_builtin_check_is_an_error(monkeypatch):
    real = list(R._entry_points(group=R.GROUP))
    monkeypatch.setattr(R, "_entry_points",
                        lambda group: [e for e in real if e.name != "ISO-PHYSICAL"])
    reg = R.load_checks()
    assert "ISO-PHYSICAL" not in [c.id for c in reg.checks]
    assert [p.check_id for p in reg.missing_problems()] == ["ISO-PHYSICAL"]
    assert all(p.status == Status.ERROR for p in reg.missing_problems())
    assert reg.missing_problems(static_only=True) == []


def test_validate_without_a_static_builtin_is_not_clean(monkeypatch, tmp_path):
    real = list(R._entry_points(group=R.GROUP))
    monkeypatch.setattr(R, "_entry_points",
                        lambda group: [e for e in real if e.name != "INV-BRIDGE"])
    p = tmp_path / "inv.yaml"
    p.write_text("version: 1\norganization: {name: x}\nsegments: []\n")
    r = CliRunner().invoke(main, color=True, args=["validate", "--lang", "en", str(p)])
    assert r.exit_code == 1 and "INV-BRIDGE" in r.stdout


def test_no_checks_installed_never_validates_clean(monkeypatch, tmp_path):
    monkeypatch.setattr(R, "_entry_points", lambda group: [])
    p = tmp_path / "inv.yaml"
    p.write_text("version: 1\norganization: {name: x}\nsegments: []\n")
    r = CliRunner().invoke(main, color=True, args=["validate", str(p)])
    assert r.exit_code == 1, r.output


def test_validate_with_only_live_checks_is_a_usage_error(tmp_path):
    p = tmp_path / "inv.yaml"
    p.write_text("version: 1\norganization: {name: x}\nsegments:\n"
                 "  - {name: a, classification: internet, networks: [10.0.0.0/24]}\n"
                 "  - {name: a, classification: internet, networks: [10.0.0.0/24]}\n")
    r = CliRunner().invoke(main, color=True, args=["validate", "--checks", "ISO-PHYSICAL", str(p)])
    assert r.exit_code == 2                # was 0: "compliant" with nothing judged
    assert "static" in r.stderr and r.stderr.count("\n") == 1
    r = CliRunner().invoke(main, color=True, args=["validate", "--checks", "ISO-PHYSICAL,INV-DUPLICATE", str(p)])
    assert r.exit_code == 1 and "ISO-PHYSICAL" in r.stderr


HOSTILE = ["\x1b[2J\x1b[31mPWN", "a\u202eevil", "x\n结论: 合规 (通过 9)", "x\n清单校验：通过（通过 9）",
           "\x07\x08bell",
           "</script><script>alert(1)</script>", "\x9b31m", "\u2028sep"]


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_validate_text_output_escapes_hostile_strings(tmp_path, bad, lang):
    p = tmp_path / "inv.yaml"
    doc = {"version": 1, "organization": {"name": bad},
           bad: 1,
           "segments": [{"name": bad, "classification": "classified", "level": "secret",
                         "networks": ["10.0.0.0/24"], "title": bad}],
           "devices": [{"name": bad, "kind": "workstation", "segment": bad, "ip": "10.0.0.5",
                        "asset_tag": bad, "custodian": bad}]}
    p.write_text(json.dumps(doc, ensure_ascii=False))
    r = CliRunner().invoke(main, color=True, args=["validate", "--lang", lang, str(p)])
    assert r.exit_code == 1
    assert not CTRL.search(r.stdout), repr(r.stdout)
    assert not CTRL.search(r.stderr), repr(r.stderr)
    lines = r.stdout.splitlines()
    # one line a finding, the verdict last: no line forged by data
    verdicts = [l for l in lines if l.startswith(("清单校验：", "inventory validation:"))]
    assert verdicts == [lines[-1]]


def test_validate_hostile_file_names(tmp_path):
    d = tmp_path / "inv"
    d.mkdir()
    (d / "\x1b[2Jx.yaml").write_text("version: 1\norganization: {name: x}\nnetwroks: 1\n")
    (d / "lab\x1b[31m.yaml").write_text("version: 1\nlab: {}\n")
    r = CliRunner().invoke(main, color=True, args=["validate", str(d)])
    assert r.exit_code == 1
    assert "\x1b" not in r.stdout and "\x1b" not in r.stderr
    r = CliRunner().invoke(main, color=True, args=["validate", str(d / "nope\x1b[2J.yaml")])
    assert r.exit_code == 2 and "\x1b" not in r.stderr


def test_checks_list_escapes_a_hostile_plugin(monkeypatch):
    meta = CheckMeta(id="X-EVIL", severity=Severity.LOW, title=text("\x1b[2J坏\n伪造", "\x1b[2Jbad\nforged"),
                     needs=("inventory",), remediation=text("r", "r"))
    mod = types.SimpleNamespace(META=meta, evaluate=lambda inv, obs: [passed(meta, "x")])

    def broken():
        raise ImportError("\x1b]0;title\x07 no module")
    real = list(R._entry_points(group=R.GROUP))
    monkeypatch.setattr(R, "_entry_points", lambda group: real + [
        EP("X-EVIL", "pkg.evil", lambda: mod), EP("X-BROKEN", "pkg.broken", broken)])
    import scanner.judge.regulations as REG
    monkeypatch.setattr(REG, "references", lambda cid, lang="zh-CN": ["\x1b[5mref"] if cid == "X-EVIL" else [])
    for lang in ("zh-CN", "en"):
        r = CliRunner().invoke(main, color=True, args=["checks", "list", "--lang", lang])
        assert r.exit_code == 0, r.output
        assert not CTRL.search(r.stdout), repr(r.stdout)
        assert "\nforged" not in r.stdout and "\n伪造" not in r.stdout


def test_checks_list_names_a_missing_builtin(monkeypatch):
    real = list(R._entry_points(group=R.GROUP))
    monkeypatch.setattr(R, "_entry_points",
                        lambda group: [e for e in real if e.name != "NET-DHCP"])
    r = CliRunner().invoke(main, color=True, args=["checks", "list", "--format", "json"])
    assert r.exit_code == 0
    assert [p["id"] for p in json.loads(r.stdout)["problems"]] == ["NET-DHCP"]
