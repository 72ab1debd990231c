"""What several commands share: the --db option, the one-line failure, and
the console's store, trust and config as `serve` and `ingest --spool` open
them. Commands import this module, never each other."""
from __future__ import annotations

import json
import sys

import click

from scanner.atomicio import write_text_atomic
from scanner.formats.text import clean
from scanner.model import pick, text


DB_HELP = ("The store: a SQLite file or sqlite:///PATH, or postgresql://USER@HOST/DB "
           "(default: $ISOSCAN_DB, else /var/lib/isoscan/isoscan.db)")


def db_option(f):
    return click.option("--db", "db", default=None, metavar="URL", help=DB_HELP)(f)


def fail(cmd: str, msg: str):
    click.echo(f"isoscan {cmd}: {msg}", err=True)
    sys.exit(2)


def open_store_or_fail(db, cmd: str):
    """The store of `db` (else ISOSCAN_DB), or one line `isoscan CMD: why` and exit 2."""
    from scanner.store.db import StoreError, open_store
    try:
        return open_store(db)
    except StoreError as exc:
        fail(cmd, str(exc))


def open_console_store(db, cmd="serve"):
    from scanner.serve import tables
    from scanner.store.db import StoreError
    store = open_store_or_fail(db, cmd)
    try:
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

# -- what scan and host do with a bundle (one way for both vantages) --------------

def say(lang, zh, en, err=True):
    click.echo(pick(text(zh, en), lang), err=err)


def push_bundle(bundle, url, token_file, lang) -> bool:
    """The bundle to the console (scanner.serve.client: urllib only, no extra)."""
    from scanner.serve.client import PushError, push_bytes, read_token
    try:
        body = json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        push_bytes(url, body, read_token(token_file), "scan.json")
    except PushError as exc:
        say(lang, f"无法上报控制台：{exc}", f"cannot push the bundle: {exc}")
        return False
    return True


def store_bundle(bundle, db, lang, then=None, opener=None) -> bool:
    """The bundle into the store, as `isoscan ingest` stores it (SQLAlchemy is
    imported only here: a scan without --db never loads it); `then(store)` first,
    while it is open (the nightly run reads the vantage's previous scan)."""
    from scanner.bundle import validate
    from scanner.store.db import StoreError, open_store
    from scanner.store.ingest import IngestError, document, ingest
    problem = validate(bundle)
    try:
        if problem is not None:
            raise IngestError(f"the bundle is not valid ({problem})")
        store = opener.take() if opener is not None else open_store(db)
        try:
            if then is not None:
                then(store)
            ingest(store, [document("scan", "bundle", bundle)])
        finally:
            store.close()
    except (StoreError, IngestError) as exc:
        say(lang, f"无法入库：{exc}", f"cannot store the bundle: {exc}")
        return False
    except Exception as exc:     # the database failed mid-ingest: one line, exit 2 (as ingest)
        from sqlalchemy.exc import SQLAlchemyError
        if not isinstance(exc, SQLAlchemyError):
            raise
        from scanner.store.db import store_problem
        why = store_problem(exc)
        say(lang, f"无法入库，未存储任何内容：{why}", f"cannot store the bundle, nothing stored: {why}")
        return False
    return True


def write_private(path, data: str):
    """Atomically, no fsync (as before), private to its owner (0600): a bundle
    holds the canary-token key, a report the unit's whole network."""
    write_text_atomic(path, data, mode=0o600, fsync=False, prefix=".isoscan-scan-")


def print_summary(bundle, lang, quiet):
    s = bundle["summary"]
    c = s["counts"]
    verdicts = {"compliant": "合规", "non-compliant": "不合规", "incomplete": "不完整（部分检查无法判定）"}
    v = bundle.get("vantage", {})
    if lang == "zh-CN":
        head = (f"结论：{verdicts.get(s['verdict'], s['verdict'])}（网段 {v.get('segment')}，"
                f"通过 {c.get('pass', 0)}，不通过 {c.get('fail', 0)}，错误 {c.get('error', 0)}，跳过 {c.get('skipped', 0)}）")
    else:
        head = (f"verdict: {s['verdict']} (segment {v.get('segment')}; pass {c.get('pass', 0)}, "
                f"fail {c.get('fail', 0)}, error {c.get('error', 0)}, skipped {c.get('skipped', 0)})")
    click.echo(head)
    if quiet:
        return
    for f in bundle["findings"]:
        if f["status"] in ("fail", "error"):
            from scanner.judge.priority import where
            who = where(f)          # device, address, MAC, open ports, a leak's destination
            ev = "; ".join(f.get("evidence") or [])[:300]
            if lang == "zh-CN":      # no English state or label on a Chinese terminal
                st = {"fail": "不合规", "error": "无法判定"}[f["status"]]
                sev = {"critical": "严重", "high": "高", "medium": "中", "low": "低",
                       "info": "提示"}.get(f["severity"], f["severity"])
                click.echo(clean(f"  {st} {f['check_id']} {sev} {who}  {ev}"))
            else:
                click.echo(clean(f"  {f['status'].upper():5} {f['check_id']:16} {f['severity']:8} "
                                 f"{who}  {ev}"))


def load_waivers(path: str, db: str | None = None):
    """`--waivers`: a waivers.yaml, or the waivers the console keeps in the store
    (`store`: the store of --db, else ISOSCAN_DB; or a database URL). One place
    for both, so the console's waivers are honoured by report, scan and alert."""
    if path == "store" or "://" in path:
        from scanner.serve.waiverstore import load_from_store
        return load_from_store(path, db)
    from scanner.waivers import load_waivers as from_file
    return from_file(path)
