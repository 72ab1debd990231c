"""The spool folder: complete files only, done/ or rejected/ with a reason,
never lost, never read twice."""
from __future__ import annotations

import json
import os
import threading
import time

import pytest

from servelib import fixture_bundle


def _spool(tmp_path, settle=0.0, db=None):
    from scanner.serve import tables
    from scanner.serve.config import Config
    from scanner.serve.spool import Spool
    from scanner.store.db import open_store
    store = open_store(db or f"sqlite:///{tmp_path}/spool.db")
    tables.create(store)
    cfg = Config(spool_settle_seconds=settle, spool_poll_seconds=0.05)
    root = tmp_path / "spool"
    return Spool(str(root), store, cfg, None), store, root


def _scans(store):
    from sqlalchemy import func, select
    from scanner.store import tables as T
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(T.scans)).scalar()


def _old(path, age=60):
    t = time.time() - age
    os.utime(path, (t, t))


def test_complete_file_is_stored_and_moved_to_done(tmp_path):
    sp, store, root = _spool(tmp_path)
    p = root / "secret.json"
    p.write_text(json.dumps(fixture_bundle("secret-lan")))
    _old(p)
    assert sp.poll() == []                 # first look: size and mtime remembered
    [(name, outcome, detail)] = sp.poll()  # second look, unchanged: taken
    assert (name, outcome) == ("secret.json", "stored") and "scan-secret-01" in detail
    assert (root / "done" / "secret.json").is_file() and not p.exists()
    assert _scans(store) == 1
    assert sp.poll() == []                 # never read twice


def test_half_written_part_and_dot_files_are_not_read(tmp_path):
    sp, store, root = _spool(tmp_path, settle=2.0)
    raw = json.dumps(fixture_bundle("secret-lan"))
    growing = root / "growing.json"
    growing.write_text(raw[: len(raw) // 2])          # a copy in progress: mtime now
    (root / "copy.json.part").write_text(raw[:100])
    (root / ".hidden.json").write_text(raw[:100])
    for _ in range(3):
        assert sp.poll(once=True) == []
    assert growing.exists() and _scans(store) == 0
    # the copy finishes; a file that changed between two looks waits for the next
    growing.write_text(raw)
    _old(growing, 10)
    sp.poll()
    with open(growing, "a") as fh:
        fh.write(" ")
    _old(growing, 9)
    assert sp.poll() == []
    [(_, outcome, _)] = sp.poll()
    assert outcome == "stored"
    # the .part is renamed when complete and then taken
    part = root / "copy.json.part"
    part.write_text(json.dumps(fixture_bundle("office-lan")))
    os.rename(part, root / "copy.json")
    _old(root / "copy.json")
    assert [o for _, o, _ in sp.poll(once=True)] == ["stored"]
    assert (root / ".hidden.json").exists()            # never touched
    assert _scans(store) == 2


@pytest.mark.parametrize("content,words", [
    ('{"schema": "isoscan.bundle/1", "scan_id": "trunc', "not JSON"),
    ("[]", "not"),
])
def test_refused_file_goes_to_rejected_with_reason(tmp_path, content, words):
    sp, store, root = _spool(tmp_path)
    p = root / "bad.json"
    p.write_text(content)
    _old(p)
    [(name, outcome, detail)] = sp.poll(once=True)
    assert outcome == "rejected"
    assert (root / "rejected" / "bad.json").read_text() == content      # never lost
    reason = (root / "rejected" / "bad.json.reason.txt").read_text()
    assert words in reason and "nothing stored" in reason
    assert _scans(store) == 0


def test_links_and_odd_names_stay_inside_the_spool(tmp_path):
    sp, store, root = _spool(tmp_path)
    outside = tmp_path / "secret-outside.json"
    outside.write_text(json.dumps(fixture_bundle("secret-lan")))
    os.symlink(outside, root / "link.json")
    odd = root / "evil\\..\\..\\passwd <b>.json"
    odd.write_text("{}")
    _old(odd)
    os.utime(root / "link.json", (time.time() - 60,) * 2, follow_symlinks=False)
    out = {n: o for n, o, _ in sp.poll(once=True)}
    assert out == {"link.json": "rejected", "evil\\..\\..\\passwd <b>.json": "rejected"}
    assert (root / "rejected" / "link.json").is_symlink()
    assert "not a regular file" in (root / "rejected" / "link.json.reason.txt").read_text()
    assert (root / "rejected" / "evil\\..\\..\\passwd <b>.json").is_file()
    assert outside.is_file() and _scans(store) == 0
    assert sorted(os.listdir(tmp_path)) == sorted(["spool", "spool.db", "spool.db-wal",
                                                    "spool.db-shm", "secret-outside.json"])


def test_the_same_name_twice_keeps_both(tmp_path):
    sp, store, root = _spool(tmp_path)
    for n in ("secret-lan", "office-lan"):
        p = root / "bundle.json"
        p.write_text(json.dumps(fixture_bundle(n)))
        _old(p)
        sp.poll(once=True)
    assert sorted(os.listdir(root / "done")) == ["bundle.json", "bundle.json.1"]
    assert _scans(store) == 2


def test_two_pollers_never_read_one_file_twice(tmp_path):
    from scanner.serve.spool import Spool
    sp, store, root = _spool(tmp_path)
    sp2 = Spool(str(root), store, sp.cfg, None)
    for i in range(20):
        b = fixture_bundle("secret-lan")
        b["scan_id"] = f"s-{i}"
        p = root / f"b{i}.json"
        p.write_text(json.dumps(b))
        _old(p)
    got = []
    ts = [threading.Thread(target=lambda s=s: got.extend(s.poll(once=True))) for s in (sp, sp2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(n for n, _, _ in got) == sorted(f"b{i}.json" for i in range(20))
    assert all(o == "stored" for _, o, _ in got)
    assert len(os.listdir(root / "done")) == 20 and _scans(store) == 20


def test_a_crash_mid_ingest_is_taken_up_again(tmp_path):
    sp, store, root = _spool(tmp_path)
    (root / ".work" / "left.json").write_text(json.dumps(fixture_bundle("secret-lan")))
    [(name, outcome, _)] = sp.recover()
    assert (name, outcome) == ("left.json", "stored")
    assert (root / "done" / "left.json").exists()


def test_ingest_spool_once_command(tmp_path):
    from click.testing import CliRunner
    from scanner.cli import main
    root = tmp_path / "spool"
    root.mkdir()
    good, bad = root / "good.json", root / "bad.json"
    good.write_text(json.dumps(fixture_bundle("secret-lan")))
    bad.write_text("{")
    _old(good), _old(bad)
    db = f"sqlite:///{tmp_path}/cli.db"
    r = CliRunner().invoke(main, ["ingest", "--spool", str(root), "--once", "--db", db])
    assert r.exit_code == 1, r.output
    assert "bad.json: rejected" in r.output
    assert (root / "done" / "good.json").exists() and (root / "rejected" / "bad.json").exists()
    r = CliRunner().invoke(main, ["ingest", "--spool", str(root), "--db", db])
    assert r.exit_code == 2 and "--once" in r.output


def test_spool_through_the_running_console(console_factory, tmp_path):
    from scanner.serve.config import Config
    spool = tmp_path / "inbox"
    c = console_factory(cfg=Config(spool_settle_seconds=0.2, spool_poll_seconds=0.05),
                        spool_dir=spool)
    tmp = spool / "office.json.part"
    tmp.write_text(json.dumps(fixture_bundle("office-lan")))
    os.rename(tmp, spool / "office.json")
    deadline = time.time() + 20
    while not (spool / "done" / "office.json").exists():
        assert time.time() < deadline, os.listdir(spool)
        time.sleep(0.05)
    assert c.scans() == 1
