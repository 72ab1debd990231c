"""`isoscan ingest` on SQLite and PostgreSQL: stored once, refused files leave
the store unchanged, a reused scan_id with other content is refused."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from storelib import REPO, fixture_bundle, write


def run(*argv, env=None):
    from scanner.cli import main
    return CliRunner().invoke(main, list(argv), env=env, catch_exceptions=False)


def snapshot(url):
    """Every row of every table of the store (to compare before/after)."""
    from sqlalchemy import create_engine, inspect, text
    eng = create_engine(url if "+psycopg" in url or url.startswith("sqlite") else url)
    try:
        with eng.connect() as c:
            names = sorted(inspect(c).get_table_names())
            return {n: sorted(map(repr, c.execute(text(f'SELECT * FROM "{n}"')).all())) for n in names}
    finally:
        eng.dispose()


def count_scans(url):
    return len(snapshot(url).get("scans", []))


def test_ingest_stores_once_and_is_idempotent(db_url, tmp_path):
    b = fixture_bundle("secret-lan")
    p1 = write(tmp_path / "a.json", b)
    p2 = tmp_path / "b.json"                     # the same bundle, indented otherwise
    p2.write_text(json.dumps(b, indent=4, ensure_ascii=False), "utf-8")
    r = run("ingest", "--db", db_url, p1)
    assert r.exit_code == 0, r.output
    assert "stored" in r.output
    r = run("ingest", "--db", db_url, p1, str(p2))
    assert r.exit_code == 0, r.output
    assert r.output.count("already stored") == 2
    snap = snapshot(db_url)
    assert len(snap["scans"]) == 1
    assert len(snap["findings"]) == len(b["findings"])
    assert len(snap["sightings"]) > 0


def test_ingest_merged_bundle_and_canary_log(db_url, tmp_path):
    from scanner.report.render import merge_report
    bundles = [fixture_bundle(n) for n in ("secret-lan", "office-lan", "internet")]
    merged = merge_report(bundles, "en", [], [None] * 3, None)
    merged.pop("inventory_view", None)
    log = {"schema": "isoscan.canary/1", "canary": "c1", "arrivals": []}
    r = run("ingest", "--db", db_url, write(tmp_path / "m.json", merged),
            write(tmp_path / "c.json", log))
    assert r.exit_code == 0, r.output
    snap = snapshot(db_url)
    assert len(snap["scans"]) == 1 and "'merged'" in snap["scans"][0]
    assert len(snap["scan_vantages"]) == 3
    assert len(snap["canary_logs"]) == 1


def _bad_inputs(tmp_path):
    good = fixture_bundle("office-lan")
    raw = json.dumps(good)
    trunc = tmp_path / "truncated.json"
    trunc.write_text(raw[: len(raw) // 2])
    other = dict(good, schema="isoscan.bundle/2")
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as f:                  # sparse: 2 GB claimed, nothing written
        f.truncate(2 * 1024 ** 3)
    return {"truncated": (str(trunc), "not JSON"),
            "other schema": (write(tmp_path / "other.json", other), "isoscan.bundle/2"),
            "huge": (str(huge), "larger than"),
            "not a bundle": (write(tmp_path / "list.json", [1, 2]), "")}


def test_refused_files_leave_the_store_unchanged(db_url, tmp_path):
    first = write(tmp_path / "first.json", fixture_bundle("secret-lan"))
    assert run("ingest", "--db", db_url, first).exit_code == 0
    before = snapshot(db_url)
    good = write(tmp_path / "good.json", fixture_bundle("office-lan"))
    for what, (path, said) in _bad_inputs(tmp_path).items():
        # the good file first: it must not be stored either
        r = run("ingest", "--db", db_url, good, path)
        assert r.exit_code == 2, (what, r.output)
        assert said in r.output and "nothing stored" in r.output, (what, r.output)
        assert r.output.count("\n") == 1, r.output          # one line
        assert snapshot(db_url) == before, what


def test_same_messages_as_report(tmp_path):
    """A file report refuses is refused with report's own words."""
    for what, (path, said) in _bad_inputs(tmp_path).items():
        rep = run("report", "-o", str(tmp_path / "r.html"), path)
        ing = run("ingest", "--db", f"sqlite:///{tmp_path}/x.db", path)
        assert rep.exit_code == ing.exit_code == 2, what
        assert rep.output.split(": ", 1)[1].strip() in ing.output, (what, rep.output, ing.output)


def test_forged_scan_id_collision_is_refused(db_url, tmp_path):
    b = fixture_bundle("secret-lan")
    assert run("ingest", "--db", db_url, write(tmp_path / "a.json", b)).exit_code == 0
    before = snapshot(db_url)
    forged = fixture_bundle("office-lan")
    forged["scan_id"] = b["scan_id"]
    r = run("ingest", "--db", db_url, write(tmp_path / "f.json", forged))
    assert r.exit_code == 2
    assert f"scan_id {b['scan_id']} is stored already with other content" in r.output
    assert snapshot(db_url) == before
    # two different files with one scan_id in one batch: neither is stored
    other = fixture_bundle("internet")
    twin = fixture_bundle("internet")
    twin["scan_id"] = other["scan_id"]
    twin["started_at"] = "2030-01-01T00:00:00Z"
    r = run("ingest", "--db", db_url, write(tmp_path / "o.json", other), write(tmp_path / "t.json", twin))
    assert r.exit_code == 2 and "given twice" in r.output
    assert snapshot(db_url) == before


def test_schema_matches_the_migrations(db_url):
    """What the migrations build is what scanner/store/tables.py declares."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from scanner.store import tables
    from scanner.store.db import head_revision, open_store
    store = open_store(db_url)
    try:
        with store.read() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), tables.metadata)
            assert MigrationContext.configure(conn).get_current_revision() == head_revision()
    finally:
        store.close()
    assert diff == []
    from scanner.store.db import HEAD
    assert HEAD == head_revision()          # db.HEAD follows the newest migration


def test_scan_without_db_does_not_import_sqlalchemy():
    code = ("import sys, scanner.commands.scan, scanner.scan.engine, scanner.store.changes, "
            "scanner.store.fingerprint, scanner.commands.history\n"
            "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_url_forms(monkeypatch):
    from scanner.store.url import StoreURLError, redact, resolve
    monkeypatch.delenv("ISOSCAN_DB", raising=False)
    assert resolve(None) == "sqlite:////var/lib/isoscan/isoscan.db"
    monkeypatch.setenv("ISOSCAN_DB", "/srv/x.db")
    assert resolve(None) == "sqlite:////srv/x.db"
    assert resolve("postgresql://u:pw@h/db") == "postgresql+psycopg://u:pw@h/db"
    assert redact("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    with pytest.raises(StoreURLError):
        resolve("mysql://h/db")


def test_a_store_that_cannot_be_opened(tmp_path):
    p = write(tmp_path / "a.json", fixture_bundle("secret-lan"))
    ro = tmp_path / "notadir"
    ro.write_text("x")
    r = run("ingest", "--db", f"sqlite:///{ro}/sub/x.db", p)
    assert r.exit_code == 2 and "isoscan ingest:" in r.output and "Traceback" not in r.output
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    r = run("ingest", "--db", str(garbage), p)
    assert r.exit_code == 2 and "cannot open the store" in r.output, r.output


def test_two_reports_of_the_same_bundles_are_two_merged_scans(db_url, tmp_path):
    names = ("secret-lan", "office-lan", "internet")
    inputs = [write(tmp_path / f"{n}.json", fixture_bundle(n)) for n in names]
    outs = []
    for i, extra in enumerate(((), ("--strict",))):
        out = tmp_path / f"m{i}.json"
        assert run("report", "-o", str(tmp_path / "r.html"), "--json", str(out), *extra, *inputs).exit_code == 0
        outs.append(str(out))
    r = run("ingest", "--db", db_url, *outs, outs[0])
    assert r.exit_code == 0, r.output
    assert r.output.count(" stored\n") - r.output.count("already stored") == 2
    assert r.output.count("already stored") == 1


def test_hostile_strings_are_stored_alike_on_both_back_ends(db_url, tmp_path):
    """Every string a bundle may carry, long and odd: stored (cut to the column)
    on SQLite and PostgreSQL alike, or refused with a clear line; never a driver error."""
    from storelib import finding, synthetic_bundle
    long = "x" * 5000
    odd = "名\u202e<script>\x1b[31m" + long
    f = finding("DEV-UNREGISTERED", odd, "fail", mac=odd, ip=odd, device=odd)
    f["title"] = odd
    b = synthetic_bundle(odd, "2026-11-01T00:00:00Z" + long, [f], [(odd, odd), ("10.0.0.5", "02:00:00:00:00:01")])
    b["vantage"]["mac"] = odd
    b["vantage"]["ip"] = odd
    b["tool"]["version"] = odd
    b["inventory"]["sha256"] = odd
    r = run("ingest", "--db", db_url, write(tmp_path / "h.json", b))
    assert r.exit_code == 0, r.output
    r = run("history", "--db", db_url)
    assert r.exit_code == 0 and "\x1b" not in r.output
    r = run("stations", "--db", db_url, "--format", "json")
    assert r.exit_code == 0
    b2 = dict(b, scan_id="s" * 201)
    r = run("ingest", "--db", db_url, write(tmp_path / "h2.json", b2))
    assert r.exit_code == 2 and "more than the 200" in r.output
