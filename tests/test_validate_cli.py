"""`isoscan validate` and `isoscan checks list` end to end (click runner).

The live checks' modules belong to other parts of the project; here the
registry sees only the INV-* entry points, so these tests judge validate alone.
"""
import json
import os
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from scanner.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = sorted(str(p) for p in (ROOT / "inventories").glob("*.yaml"))
SARIF_SCHEMA = json.loads((ROOT / "tests" / "sarif" / "sarif-2.1.0-subset.schema.json").read_text())

BAD = """version: 1
organization: {name: 测试单位}
segments:
  - name: office
    classification: non-classified
    netwroks: [10.0.0.0/24]
  - {name: a, classification: internet, networks: [10.1.0.0/16]}
  - {name: b, classification: internet, networks: [10.1.2.0/24]}
devices:
  - {name: "pc\\u001b[2J<b>", kind: workstation, segment: a, ip: 10.1.0.5}
  - {name: pc2, kind: workstation, segment: a, ip: 10.1.0.5}
"""


@pytest.fixture(autouse=True)
def only_static_checks(monkeypatch):
    inv = [ep for ep in entry_points(group="isoscan.checks") if ep.name.startswith("INV-")]
    monkeypatch.setattr("scanner.judge.registry._entry_points", lambda group: inv)
    return inv


@pytest.fixture
def bad(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(BAD, encoding="utf-8")
    return str(p)


def run(*args):
    return CliRunner(mix_stderr=False).invoke(main, list(args)) if "mix_stderr" in \
        CliRunner.__init__.__code__.co_varnames else CliRunner().invoke(main, list(args))


def test_example_unit_validates_clean():
    for lang in ("zh-CN", "en"):
        r = run("validate", "--lang", lang, *EXAMPLE)
        assert r.exit_code == 0, r.output
    assert run("validate", "--lang", "en", *EXAMPLE).output.splitlines()[-1].startswith(
        "inventory validation: passed")


def test_json_shape(bad):
    r = run("validate", "--format", "json", "--lang", "en", bad)
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert set(doc) == {"findings", "summary"}
    assert doc["summary"]["verdict"] == "non-compliant"
    assert set(doc["summary"]["counts"]) == {"pass", "fail", "error", "skipped"}
    schema = [f for f in doc["findings"] if f["check_id"] == "INV-SCHEMA"]
    assert schema and schema[0]["location"] == {"file": bad, "line": 6, "column": 5}
    assert "did you mean 'networks'" in schema[0]["evidence"][0]
    for f in doc["findings"]:
        assert {"check_id", "status", "severity", "segment", "subject", "title", "evidence",
                "regulation"} <= set(f)
        assert f["regulation"], f["check_id"]
    dup = [f for f in doc["findings"] if f["check_id"] == "INV-DUPLICATE" and f["status"] == "fail"]
    assert dup[0]["subject"] == {"ip": "10.1.0.5", "mac": None, "device": "pc2"}
    assert any(f["check_id"] == "INV-OVERLAP" and f["status"] == "fail" for f in doc["findings"])


def test_exit_codes_for_inputs_and_usage(tmp_path, bad):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("validate", *EXAMPLE).exit_code == 0
    assert run("validate", bad).exit_code == 1
    for args in (["validate", str(tmp_path / "missing.yaml")],
                 ["validate", str(empty)],                          # folder without YAML
                 ["validate", "--checks", "INV-NOPE", bad],
                 ["validate", "--format", "xml", bad],
                 ["validate"]):
        r = run(*args)
        assert r.exit_code == 2, (args, r.output)
        assert "Traceback" not in r.output and r.exception is None or isinstance(r.exception, SystemExit)
    r = run("validate", str(tmp_path / "missing.yaml"))
    assert len(r.stderr.strip().splitlines()) == 1 and "missing.yaml" in r.stderr


def test_unwritable_output_is_exit_2(tmp_path, bad):
    r = run("validate", "--output", str(tmp_path / "no" / "such" / "dir.json"), bad)
    assert r.exit_code == 2 and "cannot be written" in r.stderr


def test_output_file(tmp_path):
    out = tmp_path / "r.json"
    r = run("validate", "--format", "json", "--output", str(out), *EXAMPLE)
    assert r.exit_code == 0 and r.stdout == ""
    assert json.loads(out.read_text(encoding="utf-8"))["summary"]["verdict"] == "compliant"


def test_checks_selection(bad):
    r = run("validate", "--format", "json", "--checks", "inv-overlap", bad)
    ids = {f["check_id"] for f in json.loads(r.stdout)["findings"]}
    # schema problems are never filtered away: an unread file is not a clean one
    assert ids == {"INV-OVERLAP", "INV-SCHEMA"} and r.exit_code == 1


def test_checks_selection_cannot_hide_an_unparsable_file(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("version: 1\nsegments: [\n", encoding="utf-8")
    r = run("validate", "--checks", "INV-OVERLAP", str(p))
    assert r.exit_code == 1


def test_broken_plugin_is_an_error_and_nonzero(monkeypatch, only_static_checks):
    class Broken:
        name, value = "X-BROKEN", "thirdparty.broken"

        def load(self):
            raise ImportError("boom")
    monkeypatch.setattr("scanner.judge.registry._entry_points",
                        lambda group: only_static_checks + [Broken()])
    r = run("validate", "--format", "json", *EXAMPLE)
    assert r.exit_code == 1
    errs = [f for f in json.loads(r.stdout)["findings"] if f["status"] == "error"]
    assert errs and errs[0]["check_id"] == "X-BROKEN"


def test_sarif_is_valid_and_points_at_lines(bad):
    r = run("validate", "--format", "sarif", bad)
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    results = doc["runs"][0]["results"]
    regions = {(x["ruleId"], x["locations"][0]["physicalLocation"]["region"]["startLine"])
               for x in results}
    assert ("INV-SCHEMA", 6) in regions and ("INV-DUPLICATE", 11) in regions
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    for x in results:
        assert rules[x["ruleIndex"]]["id"] == x["ruleId"]
        assert x["level"] in ("error", "warning", "note")
        assert x["locations"][0]["physicalLocation"]["region"]["startColumn"] >= 1


def test_sarif_uses_relative_uris(tmp_path, monkeypatch):
    d = tmp_path / "清单"
    d.mkdir()
    (d / "a b.yaml").write_text(BAD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    doc = json.loads(run("validate", "--format", "sarif", "清单").stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    uri = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "%E6%B8%85%E5%8D%95/a%20b.yaml"


def test_sarif_of_a_clean_run_is_valid():
    doc = json.loads(run("validate", "--format", "sarif", *EXAMPLE).stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    assert doc["runs"][0]["results"] == []


def test_junit_parses_even_with_hostile_names(bad):
    r = run("validate", "--format", "junit", bad)
    assert r.exit_code == 1
    root = ET.fromstring(r.stdout.encode("utf-8"))
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases)
    assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None) > 0
    assert any(c.get("line") == "6" for c in cases)


def test_text_escapes_control_characters(bad):
    r = run("validate", "--lang", "en", bad)
    assert "\x1b" not in r.stdout and "\\u001b" in r.stdout


@pytest.mark.parametrize("body", [
    b"\x00\x01\x02binary", b"version: 1\nx: " + b"[" * 50000, b"\xff\xfe\x00v\x00",
    b"version: 1\norganization: {name: " + b"9" * 5000 + b"}\n",
    b"version: 1\n" + b"a: &a [1]\n" + b"".join(b"k%d: &k%d [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n" % (
        i, i, *([b"a" if i == 0 else b"k%d" % (i - 1)] * 8)) for i in range(12)),
    b"? [a, b]\n: 1\nversion: 1\n", b"version: !!binary aGVsbG8=\n", b"version: 1\ndevices: [{}]\n",
], ids=lambda b: repr(b[:24]))
def test_hostile_files_never_traceback(tmp_path, body):  # noqa: D103
    p = tmp_path / "h.yaml"
    p.write_bytes(body)
    r = run("validate", "--format", "json", str(p))
    assert r.exit_code == 1, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert json.loads(r.stdout)["summary"]["verdict"] == "non-compliant"


def test_checks_list(only_static_checks):
    r = run("checks", "list", "--format", "json", "--lang", "en")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    ids = [c["id"] for c in doc["checks"]]
    assert ids == sorted(ep.name for ep in only_static_checks)
    c = doc["checks"][0]
    assert set(c) >= {"id", "title", "severity", "needs", "regulation"}
    assert all(c["needs"] == ["inventory"] and c["regulation"] for c in doc["checks"])
    text = run("checks", "list")
    assert text.exit_code == 0 and "INV-BRIDGE" in text.output


def test_positions_are_looked_up_in_at_most_two_passes(monkeypatch, bad):
    # one pass for everything known before INV-DUPLICATE writes its evidence
    # (which names the first declaration's line), one for the rest
    import scanner.inventory.yamlsource as ys
    calls = []
    real = ys.marks

    def counted(text, wanted):
        calls.append(len(set(wanted)))
        return real(text, wanted)
    monkeypatch.setattr(ys, "marks", counted)
    r = run("validate", "--format", "json", bad)
    assert r.exit_code == 1 and 1 <= len(calls) <= 2, calls


def test_clean_files_are_never_parsed_for_positions(monkeypatch):
    import scanner.inventory.yamlsource as ys
    monkeypatch.setattr(ys, "marks", lambda *a: pytest.fail("position pass on a clean file"))
    assert run("validate", *EXAMPLE).exit_code == 0


def test_the_repository_inventories_folder_validates_clean_and_leaves_lab_files_out():
    """`isoscan validate inventories/` is the unit; the lab file beside it is a
    test network, read only when named (and then it validates clean too)."""
    from click.testing import CliRunner
    from scanner.cli import main
    root = Path(__file__).resolve().parent.parent
    runner = CliRunner()
    r = runner.invoke(main, ["validate", str(root / "inventories")])
    assert r.exit_code == 0, r.output
    assert "lab" in r.stderr and "demo.yaml" in r.stderr
    r = runner.invoke(main, ["validate", str(root / "inventories" / "lab" / "demo.yaml")])
    assert r.exit_code == 0, r.output
