"""Diff and history on a sequence of real lab scans (namespaces, as root):
a clean lab, the same lab with a rogue laptop on the classified segment,
again, clean, the laptop again, then the probe broken (its link down) while
the laptop is still there. The rogue laptop's DEV-UNREGISTERED finding must read
new -> persisting -> resolved -> new -> not assessed, never resolved at the end."""
from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from storelib import REPO, write

sys.path.insert(0, str(REPO / "tests" / "e2e"))
import scanlib  # noqa: E402

pytestmark = pytest.mark.lab

PROBE = "probe-secret"
ROGUE = "02:aa:00:00:00:77"


def run(*argv):
    from scanner.cli import main
    return CliRunner().invoke(main, list(argv), catch_exceptions=False)


def _scan(lab, n, tmp_path, files):
    # each scan also stores itself (scan --db): the later ingest of its file is a no-op
    rc, bundle, out = scanlib.scan(lab, PROBE, "--checks", "DEV-UNREGISTERED,DEV-MISSING",
                                   "--db", f"sqlite:///{tmp_path}/lab.db", files=files)
    assert bundle is not None, out
    return write(tmp_path / f"s{n}.json", bundle)


def _rogue(changes):
    return [c["kind"] for c in changes if c["check_id"] == "DEV-UNREGISTERED"
            and (c["subject"] or {}).get("mac") == ROGUE]


def test_new_persisting_resolved_not_assessed(lab_factory, tmp_path):
    clean = lab_factory(scanlib.DEMO, faults=[])
    faulty = lab_factory(scanlib.DEMO, faults=["rogue-laptop"])
    files = clean.files               # one inventory: the scans compare
    paths = [_scan(clean, 1, tmp_path, files), _scan(faulty, 2, tmp_path, files),
             _scan(faulty, 3, tmp_path, files), _scan(clean, 4, tmp_path, files),
             _scan(faulty, 5, tmp_path, files)]
    leg = faulty.hosts[PROBE].legs[0].ifname
    faulty.exec(PROBE, ["ip", "link", "set", leg, "down"])
    try:
        paths.append(_scan(faulty, 6, tmp_path, files))
    finally:
        faulty.exec(PROBE, ["ip", "link", "set", leg, "up"])
    kinds = []
    for old, new in zip(paths, paths[1:]):
        r = run("diff", old, new, "--format", "json")
        assert r.exit_code == 0, r.output
        kinds.append(_rogue(json.loads(r.output)["changes"]))
    assert kinds == [["new"], ["persisting"], ["resolved"], ["new"], ["not-assessed"]]
    db = f"sqlite:///{tmp_path}/lab.db"
    r = run("ingest", "--db", db, *paths)
    assert r.exit_code == 0 and r.output.count("already stored") == 6, r.output
    r = run("history", "--db", db, "--segment", "secret-lan", "--check", "DEV-UNREGISTERED",
            "--format", "json")
    h = [x for x in json.loads(r.output)["findings"] if x["subject"]["mac"] == ROGUE]
    assert len(h) == 1 and h[0]["state"] == "not-assessed"
    assert [e["event"] for e in h[0]["events"]] == ["new", "resolved", "returned", "not-assessed"]
    r = run("stations", "--db", db, "--segment", "secret-lan", "--format", "json")
    st = {s["mac"]: s for s in json.loads(r.output)["stations"]}
    assert [e["event"] for e in st[ROGUE]["events"]] == ["new", "vanished", "returned"]
