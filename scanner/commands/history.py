"""`isoscan diff OLD NEW`, `isoscan history`, `isoscan stations`.

diff compares two bundles or merged bundles (read as `report` reads them, no
store); history and stations read the store. For every fingerprint: new,
resolved (the check ran without error there and did not see it), persisting
(first seen, age) or not assessed (never "resolved": the vantage did not scan
or the check errored). Exit codes: 0 shown, 2 an input or store problem.
SQLAlchemy is imported only by history and stations.
"""
from __future__ import annotations

import json
import sys

import click

from scanner.commands.common import db_option, fail
from scanner.formats.text import clean
from scanner.model import LANGS, pick, text

WORDS = {
    "new": text("新增", "new"),
    "resolved": text("已整改", "resolved"),
    "persisting": text("持续存在", "persisting"),
    "not-assessed": text("未评估", "not assessed"),
    "returned": text("再次出现", "returned"),
    "present": text("在线", "present"),
    "vanished": text("消失", "vanished"),
    "flip-flop": text("地址换了 MAC", "flip-flop"),
    "days": text("{n} 天", "{n} d"),
    "first": text("首次发现", "first seen"),
    "none": text("无变化记录", "nothing to show"),
    "summary": text("新增 {new} · 已整改 {resolved} · 持续存在 {persisting} · 未评估 {na}",
                    "new {new} · resolved {resolved} · persisting {persisting} · not assessed {na}"),
}


def w(key: str, lang: str, **kw) -> str:
    return pick(WORDS[key], lang).format(**kw)


def _subject(s) -> str:
    return " ".join(x for x in (s.get("device"), s.get("mac"), s.get("ip")) if x) or "—"


def _fmt_option(f):
    return click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text",
                        show_default=True)(f)


def _lang_option(f):
    return click.option("--lang", type=click.Choice(LANGS), default="zh-CN", show_default=True)(f)


def _age(n, lang):
    return w("days", lang, n=n) if n is not None else "—"


@click.command("diff")
@click.argument("old", type=click.Path())
@click.argument("new", type=click.Path())
@_fmt_option
@_lang_option
def diff(old, new, fmt, lang):
    """What changed between two bundles or merged bundles (两次结果对比).

    new · resolved · persisting · not assessed, per finding fingerprint."""
    from scanner.documents.read import InputProblem, read_input
    from scanner.store.changes import changes, counts, results_of
    docs = []
    for path in (old, new):
        try:
            kind, data, _ = read_input(path)
        except InputProblem as exc:
            fail("diff", str(exc))
        if kind != "bundle":
            fail("diff", f"{path}: a canary log, not a bundle")
        docs.append(data)
    from scanner.store.fingerprint import FingerprintError
    try:
        cs = changes(results_of(docs[0]), results_of(docs[1]))
    except FingerprintError as exc:
        fail("diff", str(exc))
    if fmt == "json":
        click.echo(json.dumps({"old": docs[0].get("scan_id"), "new": docs[1].get("scan_id"),
                               "counts": counts(cs), "changes": [c.to_json() for c in cs]},
                              ensure_ascii=False, indent=1))
        return
    n = counts(cs)
    click.echo(w("summary", lang, new=n["new"], resolved=n["resolved"],
                 persisting=n["persisting"], na=n["not-assessed"]))
    for c in cs:
        click.echo(clean(f"  {w(c.kind, lang):12} {c.severity:8} {c.check:16} {c.segment or '—':16} "
                         f"{_subject(c.subject):40} {w('first', lang)} {c.first_seen or '—'} "
                         f"({_age(c.age_days, lang)})  {c.fingerprint}"))


def _open(db):
    from scanner.store.db import StoreError, open_store
    try:
        return open_store(db)
    except StoreError as exc:
        fail("history", str(exc))


def _read(cmd, fn, store, **kw):
    """fn(store, **kw), a database failure as one line and exit 2 (never a traceback)."""
    from sqlalchemy.exc import SQLAlchemyError

    from scanner.store.db import store_problem
    try:
        return fn(store, **kw)
    except SQLAlchemyError as exc:
        fail(cmd, f"the store failed: {store_problem(exc)}")
    finally:
        store.close()


def _since(spec):
    from scanner.store.history import since_time
    try:
        return since_time(spec)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None


@click.command("history")
@db_option
@click.option("--segment", default=None, help="Only this segment")
@click.option("--check", "check", default=None, help="Only this check id")
@click.option("--since", default=None, metavar="AGE|DATE", help="Only what happened since: 30d, 12h, 2w, 2026-11-01")
@_fmt_option
@_lang_option
def history(db, segment, check, since, fmt, lang):
    """Every failing finding the store knows, and what became of it (历史记录)."""
    from scanner.store.history import finding_history
    since_t = _since(since)
    hs = _read("history", finding_history, _open(db), segment=segment, check=check, since=since_t)
    if fmt == "json":
        click.echo(json.dumps({"since": since_t, "segment": segment, "check": check,
                               "findings": [h.to_json() for h in hs]}, ensure_ascii=False, indent=1))
        return
    if not hs:
        click.echo(w("none", lang))
    for h in hs:
        click.echo(clean(f"{w(h.state, lang):12} {h.severity:8} {h.check:16} {h.segment or '—':16} "
                         f"{_subject(h.subject):40} {w('first', lang)} {h.first_seen} "
                         f"({_age(h.age_days, lang)})  {h.fingerprint}"))


@click.command("stations")
@db_option
@click.option("--segment", default=None, help="Only this segment")
@click.option("--since", default=None, metavar="AGE|DATE", help="Only stations active since: 30d, 2026-11-01")
@_fmt_option
@_lang_option
def stations(db, segment, since, fmt, lang):
    """The stations discovery saw: first/last seen, addresses, events (站点历史)."""
    from scanner.store.history import station_history
    since_t = _since(since)
    sts = _read("stations", station_history, _open(db), segment=segment, since=since_t)
    if fmt == "json":
        click.echo(json.dumps({"since": since_t, "segment": segment,
                               "stations": [s.to_json() for s in sts]}, ensure_ascii=False, indent=1))
        return
    if not sts:
        click.echo(w("none", lang))
    for s in sts:
        ev = "; ".join(f"{t} {w(e, lang)}{' ' + d if d else ''}" for t, e, d in s.events[-4:])
        click.echo(clean(f"{s.segment:16} {s.mac:17} {w(s.state, lang):8} {s.first_seen} .. "
                         f"{s.last_seen}  {', '.join(s.addresses) or '—'}  [{ev}]"))
