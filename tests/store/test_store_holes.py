"""Review of the store (issue 14): opening, ingest, changes, history."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from tests.store.storelib import fixture_bundle, synthetic_bundle, write  # noqa: F401


def run(*args):
    from scanner.cli import main
    return CliRunner().invoke(main, list(args))


BAD_URLS = ["postgresql://auditor:Pa55w0rd@127.0.0.1:notaport/isoscan",
            "sqlite://auditor:Pa55w0rd@/isoscan.db"]


@pytest.mark.parametrize("url", BAD_URLS)
def test_unparsable_store_url_is_one_line_without_password(tmp_path, url):
    b = write(tmp_path / "b.json", synthetic_bundle("office-lan", "2026-12-01T02:00:00Z"))
    for args in (("history", "--db", url), ("ingest", "--db", url, b),
                 ("report", b, "-o", str(tmp_path / "r.html"), "--db", url)):
        r = run(*args)
        assert r.exception is None or isinstance(r.exception, SystemExit), (args, r.exception)
        assert r.exit_code == 2, (args, r.output)
        assert "Pa55w0rd" not in r.output
        assert "Traceback" not in r.output


def test_scan_db_store_failure_mid_ingest_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    # `isoscan ingest` turns a database failure mid-batch into one line and exit 2;
    # `scan --db` let the SQLAlchemy error escape: a traceback and exit 1, which is
    # scan's "non-compliant" -- a broken store read as a verdict
    import sqlalchemy.exc

    import scanner.store.ingest as ingest_mod
    from scanner.commands.common import store_bundle as _store

    def broken(*a, **k):
        raise sqlalchemy.exc.OperationalError("INSERT INTO scans ...", {},
                                              Exception("database or disk is full"))
    monkeypatch.setattr(ingest_mod, "ingest", broken)
    b = synthetic_bundle("office-lan", "2026-12-01T02:00:00Z")
    assert _store(b, f"sqlite:///{tmp_path}/isoscan.db", "en") is False
    err = capsys.readouterr()
    text = err.out + err.err
    assert "disk is full" in text and "INSERT INTO" not in text


def test_report_store_failure_while_reading_is_one_line(tmp_path):
    # `report --db` reads the store in a child process (scanner/store/reader.py), out
    # of a monkeypatch's reach: the store is broken for real instead. It opens (its
    # revision is current), and the first query fails
    import sqlite3
    db_file = tmp_path / "isoscan.db"
    db = f"sqlite:///{db_file}"
    b = write(tmp_path / "b.json", synthetic_bundle("office-lan", "2026-12-01T02:00:00Z"))
    assert run("ingest", "--db", db, b).exit_code == 0
    with sqlite3.connect(db_file) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("DROP TABLE findings")
    r = run("report", b, "-o", str(tmp_path / "r.html"), "--db", db)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.exit_code == 2, r.output
    assert "the store failed: OperationalError: no such table: findings" in r.output
    assert "SELECT" not in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize("cmd", ["history", "stations"])
def test_store_failure_while_reading_is_one_line(tmp_path, monkeypatch, cmd):
    import sqlalchemy.exc

    import scanner.store.history as H

    def broken(*a, **k):
        raise sqlalchemy.exc.OperationalError("SELECT ...", {}, Exception("disk I/O error"))
    for name in ("previous_results", "finding_history", "station_history"):
        monkeypatch.setattr(H, name, broken)
    db = f"sqlite:///{tmp_path}/isoscan.db"
    b = write(tmp_path / "b.json", synthetic_bundle("office-lan", "2026-12-01T02:00:00Z"))
    assert run("ingest", "--db", db, b).exit_code == 0
    args = {"history": ("history", "--db", db), "stations": ("stations", "--db", db)}[cmd]
    r = run(*args)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.exit_code == 2, r.output
    assert "disk I/O error" in r.output and "SELECT" not in r.output


def test_a_stale_merged_scan_does_not_stand_for_the_last_scan(tmp_path):
    # the store's "previous" is each vantage's newest bundle plus the newest merged
    # scan, however old: a finding in last month's merged report, fixed since (the
    # vantage's newer bundle passes) and failing again tonight read as "persisting"
    # (with last month's age) instead of "new"
    from scanner.store.db import open_store
    from scanner.store.history import previous_results
    from tests.store.storelib import finding
    db = f"sqlite:///{tmp_path}/isoscan.db"
    bad = finding("DEV-UNREGISTERED", "office-lan", "fail", mac="02:aa:00:00:00:01")
    ok = finding("DEV-UNREGISTERED", "office-lan", "pass")
    n1 = write(tmp_path / "n1.json", synthetic_bundle("office-lan", "2026-10-01T02:00:00Z", [bad]))
    merged = tmp_path / "m1.json"
    r = run("report", n1, "-o", str(tmp_path / "m1.html"), "--json", str(merged))
    assert r.exit_code == 0, r.output
    n2 = write(tmp_path / "n2.json", synthetic_bundle("office-lan", "2026-11-01T02:00:00Z", [ok]))
    assert run("ingest", "--db", db, n1, str(merged), n2).exit_code == 0
    store = open_store(db)
    try:
        prev = previous_results(store, before="2026-12-01T02:00:00Z")
    finally:
        store.close()
    assert prev.started_at == "2026-11-01T02:00:00Z"
    assert not [f for f in prev.findings if f["status"] == "fail"], prev.findings


@pytest.mark.parametrize("url", [
    "postgresql://auditor@127.0.0.1:1/isoscan?password=Pa55w0rd",
    "postgresql:///isoscan?host=/nonexistent&user=auditor&password=Pa55w0rd&sslmode=disable",
    "postgresql://auditor@127.0.0.1:1/isoscan?sslpassword=Pa55w0rd",
])
def test_a_password_in_the_query_of_the_url_is_never_printed(tmp_path, url):
    # libpq takes the password as a query parameter too; redact() masked only user:pw@
    r = run("history", "--db", url)
    assert r.exit_code == 2, r.output
    assert "Pa55w0rd" not in r.output
    assert "cannot open the store" in r.output
