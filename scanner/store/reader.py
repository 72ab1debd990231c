"""What `isoscan report --db` reads from the store, in a process of its own.

The store's part of a report is a fixed cost: importing SQLAlchemy (and, for
PostgreSQL, psycopg and its dialect), connecting, three indexed queries. Run
in the report's own process it came after the report's own reading and
judging, and doubled a small report's time. Here it starts first, in a child
process, and imports and connects while the report reads, re-judges and
merges its inputs on the other core; the report then asks its questions and
waits only for the queries.

Protocol: JSON lines on the child's stdin, one JSON document on its stdout.
  1. {"url": "..."}    (stdin, not argv: a password in the URL stays out of `ps`)
  2. {"before": "...", "exclude": [scan ids], "failing": [fingerprints],
      "documents": true|false}  (documents: the previous scans' stored
      documents, for --require-signed)
  answer: {"ok": true, "previous": {...} | null, "first_seen": {fp: time},
           "trend": [...], "documents": [[scan id, document], ...]}
       or {"ok": false, "error": "one line"}
End of input instead of the second line: the report gave up; nothing is read.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import IO

from scanner.store.changes import Results


def _results_json(r: Results | None) -> dict | None:
    if r is None:
        return None
    return {"started_at": r.started_at, "findings": r.findings,
            "assessed": sorted(list(a) for a in r.assessed), "scans": r.scans}


def _results(d: dict | None) -> Results | None:
    if d is None:
        return None
    return Results(started_at=d["started_at"], findings=d["findings"],
                   assessed={tuple(a) for a in d["assessed"]}, scans=d["scans"])


def answer(store, req: dict) -> dict:
    """The answer to one request, from an open store (pure of any process)."""
    from concurrent.futures import ThreadPoolExecutor

    from scanner.store.history import first_seen, previous_results, stored_documents, trend
    # the trend on a connection of its own beside the rest: the database works
    # (PostgreSQL on its own core, SQLite without the GIL) while this thread waits
    with ThreadPoolExecutor(1) as ex:
        points = ex.submit(trend, store, days=30, until=req["before"])
        prev = previous_results(store, before=req["before"], exclude=req["exclude"])
        docs = stored_documents(store, prev.scans) if prev is not None and req.get("documents") \
            else []
        seen = first_seen(store, req["failing"])
        return {"ok": True, "previous": _results_json(prev), "first_seen": seen,
                "trend": points.result(), "documents": [list(d) for d in docs]}


def _close(out: IO[str]) -> None:
    """Close `out`, its file descriptor too (sys.stdout's close leaves fd 1
    open, and the report would wait for this process's exit to see the end)."""
    try:
        fd = out.fileno()
    except (OSError, ValueError):
        fd = None
    out.close()
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


def serve(inp: IO[str], out: IO[str]) -> None:
    """The child's side: open the store at once, then answer the one request."""
    first = inp.readline()
    if not first:
        return
    store, problem = None, None
    try:
        from scanner.store.db import StoreError, open_store
        try:
            store = open_store(json.loads(first)["url"])
        except StoreError as exc:
            problem = str(exc)
        line = inp.readline()
        if not line:
            return
        if problem is None:
            from sqlalchemy.exc import SQLAlchemyError
            try:
                reply = answer(store, json.loads(line))
            except SQLAlchemyError as exc:   # the database failed while read: one line
                from scanner.store.db import store_problem
                reply = {"ok": False, "error": f"the store failed: {store_problem(exc)}"}
        else:
            reply = {"ok": False, "error": problem}
        json.dump(reply, out)      # ASCII: a lone surrogate from a hostile bundle survives the pipe
        out.flush()
        _close(out)                # the report reads to the end of this, not to our exit
    finally:
        if store is not None:
            store.close()


class ReaderError(RuntimeError):
    """The store could not be read (one line, for exit 2)."""


class StoreReader:
    """The report's side: `StoreReader(url)` starts the child at once;
    `ask(...)` sends the request and returns (previous, first_seen, trend,
    documents); `close()` (or leaving its `with`) ends the child whatever happened."""

    def __init__(self, url: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "scanner.store.reader"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, encoding="utf-8")
        self.answered = False
        try:
            self.proc.stdin.write(json.dumps({"url": url}) + "\n")
            self.proc.stdin.flush()
        except OSError:
            pass                   # the child died at once: ask() says so

    def ask(self, *, before: str, exclude, failing, documents: bool):
        self.answered = True
        req = {"before": before, "exclude": sorted(set(exclude)),
               "failing": sorted(set(failing)), "documents": bool(documents)}
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.close()
            got = self.proc.stdout.read()    # to the end of the answer, not to the child's exit
        except OSError as exc:
            raise ReaderError(f"the store reader failed: {exc}") from None
        try:
            reply = json.loads(got)
        except ValueError:
            raise ReaderError(f"the store reader failed (exit {self.proc.wait()})") from None
        if not reply.get("ok"):
            raise ReaderError(reply.get("error") or "the store reader failed")
        return (_results(reply["previous"]), reply["first_seen"], reply["trend"],
                [tuple(d) for d in reply["documents"]])

    def __enter__(self) -> "StoreReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Ends the child: once it answered, it is let finish (it closes the
        store); if the report gave up early, it is killed (whatever it was
        doing is a read, or a migration inside a transaction)."""
        if self.proc.poll() is None:
            if self.answered:
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass

if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
    # answered and the store closed: skip the interpreter's teardown of SQLAlchemy's
    # modules (~0.1 s the report would wait for); a failure above exits as usual
    sys.stderr.flush()
    os._exit(0)
