"""`isoscan host --root` on fixture trees: exit codes, the bundle, bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.host import roots

INV = Path(__file__).resolve().parents[1] / "checks" / "HOST-MEDIA" / "inventory.yaml"


def host(*args, cwd=None):
    r = subprocess.run([sys.executable, "-m", "scanner.cli", "host", "--lang", "en", *args],
                       capture_output=True, text=True, timeout=120, cwd=cwd)
    return r.returncode, r.stdout + r.stderr


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("roots")
    return {n: roots.build(n, base / n) for n in ("clean-pc", "iphone-tether", "unreadable-log",
                                                  "usb-stick")}


def test_clean_root_is_compliant_and_says_what_was_skipped(trees, tmp_path):
    out = tmp_path / "b.json"
    rc, text = host("-i", str(INV), "--root", str(trees["clean-pc"]), "-o", str(out))
    assert rc == 0, text
    assert "reach test skipped" in text and "offline" in text
    b = json.loads(out.read_text(encoding="utf-8"))
    from scanner.bundle import validate
    assert validate(b) is None
    assert b["vantage"]["kind"] == "host" and b["vantage"]["device"] == "pc-07"
    assert b["vantage"]["found_by"] == "by MAC 3c:52:82:10:0c:07"
    assert {f["check_id"] for f in b["findings"]} == {"HOST-WIRELESS", "HOST-NIC", "HOST-FORWARD",
                                                     "HOST-MEDIA", "HOST-EGRESS"}


def test_tether_is_exit_1(trees):
    rc, text = host("-i", str(INV), "--root", str(trees["iphone-tether"]))
    assert rc == 1, text
    assert "HOST-NIC" in text and "enx3e4ac1000c07" in text


def test_unreadable_log_is_said_and_the_rest_judged(trees):
    rc, text = host("-i", str(INV), "--root", str(trees["unreadable-log"]))
    assert rc == 1, text                  # the stick in the readable log is still found
    assert "syslog.3.gz" in text and "4C530001234567890123" in text


def test_malformed_medium_is_reported_and_the_rest_judged(trees, tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text(INV.read_text(encoding="utf-8") + "  - {serial: 12345, classification: secret}\n",
                   encoding="utf-8")
    rc, text = host("-i", str(inv), "--root", str(trees["usb-stick"]))
    assert rc == 1, text
    line = len(INV.read_text(encoding="utf-8").splitlines()) + 1
    assert f"{inv}:{line}:" in text and "quote it" in text, text
    assert "HOST-MEDIA" in text and "4C530001234567890123" in text


def test_other_inventory_errors_refuse(trees, tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text(INV.read_text(encoding="utf-8").replace("kind: workstation", "kind: desk", 1),
                   encoding="utf-8")
    rc, text = host("-i", str(inv), "--root", str(trees["clean-pc"]))
    assert rc == 2, text
    assert "INV-SCHEMA" in text


def test_unknown_computer_refuses(trees, tmp_path):
    rc, text = host("-i", str(INV), "--root", str(trees["clean-pc"]), "--device", "nobody")
    assert rc == 2 and "no device nobody" in text, text


def test_validate_checks_media_and_disks(tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text(INV.read_text(encoding="utf-8").replace(
        "disks: [S4EWNX0R700026]", "disks: [S4EWNX0R700026, 7]") +
        "  - {label: x, classification: classified, colour: red}\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "scanner.cli", "validate", str(inv), "--lang", "en"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "required key 'serial' is missing" in r.stdout
    assert "unknown key 'colour'" in r.stdout
    assert "a serial must be text, got the number 7" in r.stdout


def test_signed_stored_like_a_scan(trees, tmp_path):
    key = tmp_path / "probe.key"
    assert subprocess.run([sys.executable, "-m", "scanner.cli", "keys", "new", "--out", str(key)],
                          capture_output=True).returncode == 0
    out, db = tmp_path / "b.json", tmp_path / "store.sqlite"
    rc, text = host("-i", str(INV), "--root", str(trees["iphone-tether"]), "-o", str(out),
                    "--sign", str(key), "--chain-state", str(tmp_path / "chain.json"),
                    "--db", str(db))
    assert rc == 1, text
    r = subprocess.run([sys.executable, "-m", "scanner.cli", "verify", str(out), "--trust",
                        str(tmp_path / "probe.pub"), "--lang", "en"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "scanner.cli", "history", "--db", str(db), "--lang",
                        "en"], capture_output=True, text=True)
    assert "HOST-NIC" in r.stdout and "pc-07" in r.stdout, r.stdout + r.stderr
