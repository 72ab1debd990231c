"""`isoscan ingest FILE...`: store bundles, merged bundles and canary logs.

Every file is read and checked as `isoscan report` reads it; one refused file
and nothing is stored (one transaction for all). The same bundle twice is one
scan. Exit codes: 0 stored (or stored already), 2 a refused file, a forged
scan_id, a store that cannot be opened, or a usage error.
"""
from __future__ import annotations

import sys

import click

from scanner.commands.common import db_option, fail, spool_once


@click.command("ingest")
@click.argument("files", nargs=-1, required=False, type=click.Path())
@db_option
@click.option("-q", "--quiet", is_flag=True, help="Say nothing when all went well")
@click.option("--spool", "spool", type=click.Path(file_okay=False), default=None,
              help="Take the complete files of this spool folder (SPEC §10.2) instead of FILES")
@click.option("--once", is_flag=True, help="With --spool: one pass, then exit (required)")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="With --spool: console.yaml (trusted keys, require_signed, size cap)")
def ingest(files, db, quiet, spool=None, once=False, config=None):
    """Store bundles, merged bundles and canary logs (结果入库)."""
    if spool:
        if files or not once:
            raise click.UsageError("--spool DIR takes no FILES and needs --once "
                                   "(isoscan serve --spool polls)")
        sys.exit(spool_once(spool, db, config, quiet))
    if not files:
        raise click.UsageError("give FILES, or --spool DIR --once")
    from scanner.documents.read import InputProblem
    from scanner.store.db import StoreError, open_store, store_problem
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
