"""`isoscan ingest FILE...`: store bundles, merged bundles and canary logs.

Every file is read and checked as `isoscan report` reads it; one refused file
and nothing is stored (one transaction for all). The same bundle twice is one
scan. Exit codes: 0 stored (or stored already), 2 a refused file, a forged
scan_id, a store that cannot be opened, or a usage error.
"""
from __future__ import annotations

import sys

import click

DB_HELP = ("The store: a SQLite file or sqlite:///PATH, or postgresql://USER@HOST/DB "
           "(default: $ISOSCAN_DB, else /var/lib/isoscan/isoscan.db)")


def db_option(f):
    return click.option("--db", "db", default=None, metavar="URL", help=DB_HELP)(f)


def store_problem(exc: BaseException) -> str:
    """One line of a database error (its driver's message, without SQL)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0] if text else ''}"


def fail(cmd: str, msg: str):
    click.echo(f"isoscan {cmd}: {msg}", err=True)
    sys.exit(2)


@click.command("ingest")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@db_option
@click.option("-q", "--quiet", is_flag=True, help="Say nothing when all went well")
def ingest(files, db, quiet):
    """Store bundles, merged bundles and canary logs (结果入库)."""
    from scanner.commands.report import InputProblem
    from scanner.store.db import StoreError, open_store
    from scanner.store.ingest import IngestError, ingest as store_docs, read_document
    try:
        docs = [read_document(p) for p in files]
    except InputProblem as exc:
        fail("ingest", f"{exc} (nothing stored)")
    try:
        store = open_store(db)
        try:
            done = store_docs(store, docs)
        finally:
            store.close()
    except (StoreError, IngestError) as exc:
        fail("ingest", str(exc))
    except Exception as exc:     # the database failed (disk full, connection lost): nothing stored
        from sqlalchemy.exc import SQLAlchemyError
        if not isinstance(exc, SQLAlchemyError):
            raise
        fail("ingest", f"the store failed, nothing stored: {store_problem(exc)}")
    if not quiet:
        for s in done:
            what = f"{s.kind} {s.scan_id}" if s.scan_id else s.kind
            click.echo(f"{s.name}: {what} {'stored' if s.new else 'already stored'}", err=True)
