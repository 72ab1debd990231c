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


def test_scan_push_from_a_lab_probe_to_a_console_in_the_lab(lab_factory, tmp_path):
    """The console runs on a lab host of the office segment (its own namespace);
    the office probe's `scan --push` reaches it over the lab's wire."""
    import subprocess
    lab = lab_factory(scanlib.DEMO, faults=["moved-workstation"])
    db = f"sqlite:///{tmp_path}/lab-console.db"
    tok = subprocess.run([sys.executable, "-m", "scanner.cli", "serve", "token", "add",
                          "probe-office", "--db", db], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout.strip()
    (tmp_path / "token").write_text(tok)
    log = open(tmp_path / "serve.log", "w")
    srv = lab.spawn("dmz-web", [sys.executable, "-m", "scanner.cli", "serve", "--db", db,
                                "--host", "10.20.0.30", "--port", "8080"],
                    cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        health = ["python3", "-c", "import urllib.request;"
                  "urllib.request.urlopen('http://10.20.0.30:8080/api/v1/health', timeout=2)"]
        while lab.exec("probe-office", health, timeout=10).returncode != 0:
            assert srv.poll() is None and time.time() < deadline, \
                (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        rc, bundle, out = scanlib.scan(lab, "probe-office", "--checks", "DEV-MISPLACED",
                                       "--push", "http://10.20.0.30:8080",
                                       "--token-file", str(tmp_path / "token"))
        assert bundle is not None and rc == 1, out
        assert "cannot push" not in out, out
    finally:
        srv.terminate()
        srv.wait(timeout=20)
        log.close()
    from scanner.store.db import open_store
    from scanner.store.history import finding_history
    s = open_store(db)
    try:
        fails = [h.check for h in finding_history(s)]
    finally:
        s.close()
    assert "DEV-MISPLACED" in fails
