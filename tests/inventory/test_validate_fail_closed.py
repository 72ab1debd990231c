"""`isoscan validate` fails closed (issue 22): once INV-SCHEMA fails, no pass is
printed on the partial inventory; the last line says the FILE passed or
failed validation, never that the unit is compliant; messages name the
segment and point at the line; no canary is a warning; `isoscan init`
writes a starter that validates."""
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import main

HERE = Path(__file__).resolve().parent / "partial"
CASES = {"dropped-segment.yaml": "network", "bad-classification.yaml": "unclassified",
         "unknown-ingress.yaml": "gw-99"}


def validate(*args):
    return CliRunner().invoke(main, ["validate", *args])


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_partial_inventory_prints_no_pass_and_exits_1(name, lang):
    r = validate(str(HERE / name), "--lang", lang)
    assert r.exit_code == 1, r.output
    lines = r.output.splitlines()
    assert not [l for l in lines[:-1] if l.startswith(("PASS", "通过"))], r.output
    assert any(CASES[name] in l for l in lines if "INV-SCHEMA" in l)
    assert lines[-1].startswith("清单校验：未通过" if lang == "zh-CN" else "inventory validation: failed")
    assert "合规" not in r.output and "compliant" not in r.output
    skipped = [l for l in lines if l.startswith(("SKIPPED", "跳过"))]
    assert skipped and all("INV-SCHEMA" in l for l in skipped)        # each says why


def test_json_of_a_partial_inventory_has_no_pass():
    import json
    r = validate(str(HERE / "dropped-segment.yaml"), "--format", "json")
    assert r.exit_code == 1
    doc = json.loads(r.output)
    found = doc["findings"] if isinstance(doc, dict) else doc
    assert found and all(f["status"] != "pass" for f in found)


def test_messages_name_the_segment_and_point_at_the_networks_line(tmp_path):
    r = validate(str(HERE / "dropped-segment.yaml"), "--lang", "en")
    assert "dropped-segment.yaml:10:5:" in r.output                 # the misspelt key's line
    assert "segment secret-lan: unknown key 'netwroks'" in r.output
    text = (HERE.parent / "partial" / "dropped-segment.yaml").read_text()
    text = text.replace("netwroks: [10.10.0.0/24]", "networks: [10.10.0.0/24]")
    text = text.replace("networks: [10.20.0.0/24]", "networks: [10.20.0.0/24, 10.10.0.128/25]")
    p = tmp_path / "overlap.yaml"
    p.write_text(text)
    r = validate(str(p), "--lang", "en")
    [line] = [l for l in r.output.splitlines() if "INV-OVERLAP" in l]
    assert line.startswith("overlap.yaml:13:") or line.startswith(f"{p}:13:"), line
    assert "secret-lan" in line and "office-lan" in line


def test_no_canary_is_a_warning(tmp_path):
    text = (HERE / "dropped-segment.yaml").read_text().replace("netwroks", "networks")
    lines = [l for l in text.splitlines() if "canar" not in l and "c1," not in l]
    (tmp_path / "inv.yaml").write_text("\n".join(lines) + "\n")
    r = validate(str(tmp_path / "inv.yaml"), "--lang", "en")
    assert r.exit_code == 0, r.output
    assert "warning: the inventory declares no canary" in r.output
    assert r.output.splitlines()[-1].startswith("inventory validation: passed")


def test_init_writes_a_starter_that_validates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    if True:
        r = runner.invoke(main, ["init"])
        assert r.exit_code == 0, r.output
        assert oct(os.stat("inventory.yaml").st_mode & 0o777) == "0o600"
        assert Path("inventory.yaml").read_text().count("#") > 10      # commented
        r = runner.invoke(main, ["validate", "inventory.yaml"])
        assert r.exit_code == 0, r.output
        assert r.output.splitlines()[-1].startswith("清单校验：通过")
        assert "警告" not in r.output
        r = runner.invoke(main, ["init"])
        assert r.exit_code == 2 and "exists" in r.output             # never overwritten
