"""Review: inventory paths that are not plain files are read within the cap."""
from __future__ import annotations

import time

from click.testing import CliRunner

from scanner.cli import main
from scanner.inventory.load import load_inventory


def test_a_device_that_never_ends_is_too_large_not_a_hang(monkeypatch):
    monkeypatch.setenv("ISOSCAN_MAX_INVENTORY_BYTES", "1000")
    t0 = time.perf_counter()
    for dev in ("/dev/zero", "/dev/urandom"):
        res = load_inventory([dev])
        [f] = res.findings
        assert "too large" in f.evidence[0]["en"] and f.location.line == 1
    r = CliRunner().invoke(main, ["validate", "--lang", "en", "/dev/zero"])
    assert r.exit_code == 1 and "too large" in r.stdout
    assert time.perf_counter() - t0 < 5


def test_an_empty_device_is_an_empty_file():
    res = load_inventory(["/dev/null"])
    [f] = res.findings
    assert "empty" in f.evidence[0]["en"]
