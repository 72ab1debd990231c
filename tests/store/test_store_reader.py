"""The report's store reader (scanner/store/reader.py): a child process that
imports and connects while the report reads its inputs. It must answer what
the report read in its own process before, keep a URL's password off the
command line, and never outlive the report."""
from __future__ import annotations

import io
import json
import os
import uuid

from click.testing import CliRunner

from storelib import NAMES, fixture_bundle, write


def run(*argv):
    from scanner.cli import main
    return CliRunner().invoke(main, list(argv), catch_exceptions=False)


def _earlier(b, days):
    b = dict(b, scan_id=str(uuid.uuid4()))
    for k in ("started_at", "finished_at"):
        b[k] = b[k][:8] + f"{int(b[k][8:10]) - days:02d}" + b[k][10:]
    return b


def _children_reading() -> list[int]:
    """This process's children that run the store reader."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"scanner.store.reader" in cmd:
            out.append(int(pid))
    return out


def test_the_reader_answers_what_the_store_holds(db_url, tmp_path):
    from scanner.store.db import open_store
    from scanner.store.fingerprint import Fingerprinter
    from scanner.store.history import first_seen, previous_results, stored_documents, trend
    from scanner.store.reader import StoreReader
    old = [write(tmp_path / f"old-{d}-{n}.json", _earlier(fixture_bundle(n), d))
           for d in (2, 1) for n in NAMES]
    assert run("ingest", "-q", "--db", db_url, *old).exit_code == 0
    now = [fixture_bundle(n) for n in NAMES]
    fp = Fingerprinter()
    failing = [fp(f) for b in now for f in b["findings"] if f["status"] == "fail"]
    before = min(b["started_at"] for b in now)
    mine = [b["scan_id"] for b in now]
    reader = StoreReader(db_url)
    try:
        prev, seen, points, docs = reader.ask(before=before, exclude=mine, failing=failing,
                                              documents=True)
    finally:
        reader.close()
    store = open_store(db_url)
    try:
        want = previous_results(store, before=before, exclude=mine)
        assert prev == want and prev.findings and isinstance(next(iter(prev.assessed)), tuple)
        assert seen == first_seen(store, failing) and seen
        assert points == trend(store, days=30, until=before) and len(points) == 2
        assert docs == stored_documents(store, want.scans) and len(docs) == len(want.scans)
    finally:
        store.close()


def test_the_url_stays_off_the_command_line_and_the_child_ends(tmp_path):
    from scanner.store.reader import StoreReader
    url = f"sqlite:///{tmp_path}/isoscan.db?secret=Pa55w0rd"
    reader = StoreReader(url)
    try:
        assert all("Pa55w0rd" not in a for a in reader.proc.args)
        with open(f"/proc/{reader.proc.pid}/cmdline", "rb") as f:
            assert b"Pa55w0rd" not in f.read()
    finally:
        reader.close()        # before any request: the report gave up early
    assert reader.proc.returncode is not None and not _children_reading()


class Kept(io.StringIO):
    """serve() closes its output when it has answered (the report reads to the end)."""
    text = None

    def close(self):
        self.text = self.getvalue()
        super().close()


def test_end_of_input_after_the_url_reads_nothing(tmp_path):
    from scanner.store.reader import serve
    out = Kept()
    serve(io.StringIO(json.dumps({"url": f"sqlite:///{tmp_path}/isoscan.db"}) + "\n"), out)
    assert out.getvalue() == "" and not out.closed
    serve(io.StringIO(""), out)           # nothing at all: nothing opened, nothing said
    assert out.getvalue() == ""


def test_a_store_that_cannot_be_opened_is_the_answer_not_a_traceback(tmp_path):
    from scanner.store.reader import serve
    out = Kept()
    serve(io.StringIO(json.dumps({"url": "mysql://db/isoscan"}) + "\n"
                      + json.dumps({"before": "9999", "exclude": [], "failing": [],
                                    "documents": False}) + "\n"), out)
    assert out.closed
    reply = json.loads(out.text)
    assert reply["ok"] is False and "mysql" in reply["error"]


def test_a_report_refused_for_its_input_leaves_no_reader(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    r = run("report", "--db", f"sqlite:///{tmp_path}/isoscan.db", "-o",
            str(tmp_path / "r.html"), str(bad))
    assert r.exit_code == 2 and "not JSON" in r.output
    assert not _children_reading()
