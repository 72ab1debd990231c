"""What several commands share: the --db option, the one-line failure, and
the console's store, trust and config as `serve` and `ingest --spool` open
them. Commands import this module, never each other."""
from __future__ import annotations

import sys

import click


DB_HELP = ("The store: a SQLite file or sqlite:///PATH, or postgresql://USER@HOST/DB "
           "(default: $ISOSCAN_DB, else /var/lib/isoscan/isoscan.db)")


def db_option(f):
    return click.option("--db", "db", default=None, metavar="URL", help=DB_HELP)(f)


def fail(cmd: str, msg: str):
    click.echo(f"isoscan {cmd}: {msg}", err=True)
    sys.exit(2)


def open_console_store(db, cmd="serve"):
    from scanner.serve import tables
    from scanner.store.db import StoreError, open_store
    try:
        store = open_store(db)
        tables.create(store)
    except StoreError as exc:
        fail(cmd, str(exc))
    return store


def console_trust(cfg, cmd="serve"):
    if not cfg.trust:
        return None
    from scanner.evidence.keys import KeyFileError, load_trust
    try:
        return load_trust(list(cfg.trust))
    except KeyFileError as exc:
        fail(cmd, f"trust: {exc}")


def console_config(path, cmd="serve"):
    from scanner.serve.config import ConfigError, load_config
    try:
        return load_config(path)
    except ConfigError as exc:
        fail(cmd, str(exc))


def spool_once(spool, db, config, quiet) -> int:
    """`isoscan ingest --spool DIR --once`: one pass over the spool (no console
    extra needed). 0 nothing refused, 1 a file was moved to rejected/."""
    from scanner.serve.spool import Spool, SpoolError
    cfg = console_config(config, "ingest")
    cfg.spool_settle_seconds = min(cfg.spool_settle_seconds, 2.0)
    store = open_console_store(db, "ingest")
    try:
        sp = Spool(spool, store, cfg, console_trust(cfg, "ingest"))
        results = sp.recover() + sp.poll(once=True)
    except SpoolError as exc:
        fail("ingest", str(exc))
    finally:
        store.close()
    for name, outcome, detail in results:
        if not quiet or outcome == "rejected":
            click.echo(f"{name}: {outcome}: {detail}", err=True)
    return 1 if any(o == "rejected" for _, o, _ in results) else 0
