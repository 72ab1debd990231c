"""A real lab (namespaces, as root): the classified probe's scan is pushed over
HTTP, the office probe's arrives through the spool (as from a one-way
transfer), and the console's overview then shows the breach: the rogue laptop
on the classified segment, the workstation moved to the office."""
from __future__ import annotations

import json
import os
import sys
import time

import pytest
from click.testing import CliRunner

from servelib import REPO

sys.path.insert(0, str(REPO / "tests" / "e2e"))
import scanlib  # noqa: E402

pytestmark = pytest.mark.lab

ROGUE = "02:aa:00:00:00:77"


def test_lab_scans_pushed_and_spooled_show_the_breach(lab_factory, console_factory, tmp_path):
    from scanner.cli import main
    from scanner.serve.config import Config
    lab = lab_factory(scanlib.DEMO, faults=["rogue-laptop", "moved-workstation"])
    checks = ("--checks", "DEV-UNREGISTERED,DEV-MISSING,DEV-MISPLACED")
    rc, secret, out = scanlib.scan(lab, "probe-secret", *checks)
    assert secret is not None, out
    rc, office, out = scanlib.scan(lab, "probe-office", *checks)
    assert office is not None, out
    spool = tmp_path / "inbox"
    c = console_factory(cfg=Config(spool_settle_seconds=0.2, spool_poll_seconds=0.05),
                        spool_dir=spool)
    # over HTTP, with the probe's token (isoscan push, as a probe's timer runs it)
    f = tmp_path / "secret.json"
    f.write_text(json.dumps(secret, ensure_ascii=False))
    tok = tmp_path / "token"
    tok.write_text(c.token)
    r = CliRunner().invoke(main, ["push", str(f), "--url", c.base, "--token-file", str(tok)])
    assert r.exit_code == 0, r.output
    # through the spool: copied as .part, renamed when complete
    part = spool / "office.json.part"
    part.write_text(json.dumps(office, ensure_ascii=False))
    os.rename(part, spool / "office.json")
    deadline = time.time() + 30
    while not (spool / "done" / "office.json").exists():
        assert not (spool / "rejected" / "office.json").exists(), \
            (spool / "rejected" / "office.json.reason.txt").read_text()
        assert time.time() < deadline
        time.sleep(0.05)
    assert c.scans() == 2
    v = c.client("viewer").get("/?lang=en").text
    assert "non-compliant" in v
    assert "secret-lan" in v and "office-lan" in v
    i = c.client("inspector")
    page = i.get("/findings?check=DEV-UNREGISTERED&segment=secret-lan").text
    assert ROGUE in page
    assert "DEV-MISPLACED" in i.get("/findings?segment=office-lan").text
    devices = i.get("/devices?lang=en").text
    assert ROGUE in devices
