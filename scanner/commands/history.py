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

from scanner.commands.common import db_option, fail, open_store_or_fail
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


SEVERITY = {"critical": text("严重", "critical"), "high": text("高", "high"),
            "medium": text("中", "medium"), "low": text("低", "low"), "info": text("提示", "info")}


def _subject(s) -> str:
    """Where, as every output says it: device, address, MAC, open ports, destination."""
    from scanner.judge.priority import where
    return where({"subject": s}) or "—"


class _Shown:
    """What a person reads of a finding line: the check's title in their
    language (from the installed checks, else the stored one), severity in
    their words, times in the unit's zone (the host's; TZ= overrides)."""

    def __init__(self, lang):
        from scanner.alerts.run import check_titles
        from scanner.localtime import unit_zone
        self.lang, self.titles, self.zone = lang, check_titles(), unit_zone(None)

    def title(self, check, stored) -> str:
        t = self.titles.get(check)
        return pick(t, self.lang) if t else (stored or "")

    def severity(self, sev) -> str:
        return pick(SEVERITY[sev], self.lang) if sev in SEVERITY else str(sev)

    def time(self, t) -> str:
        from scanner.localtime import local_iso
        return local_iso(t, self.zone) if t else "—"

    def line(self, state, sev, check, stored_title, segment, subject, first, age, fp) -> str:
        seg = pick(text(f"网段 {segment or '—'}", f"segment {segment or '—'}"), self.lang)
        return clean(f"{w(state, self.lang):6} {self.severity(sev):4} {check} "
                     f"{self.title(check, stored_title)}：{_subject(subject)}（{seg}）"
                     f" {w('first', self.lang)} {self.time(first)}（{_age(age, self.lang)}）  {fp}"
                     if self.lang == "zh-CN" else
                     f"{w(state, self.lang):12} {self.severity(sev):8} {check} "
                     f"{self.title(check, stored_title)}: {_subject(subject)} ({seg}), "
                     f"{w('first', self.lang)} {self.time(first)} ({_age(age, self.lang)})  {fp}")


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
    shown = _Shown(lang)
    for c in cs:
        click.echo("  " + shown.line(c.kind, c.severity, c.check, c.title, c.segment, c.subject,
                                     c.first_seen, c.age_days, c.fingerprint))


def _open(db):
    return open_store_or_fail(db, "history")


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
    shown = _Shown(lang)
    for h in hs:
        click.echo(shown.line(h.state, h.severity, h.check, h.title, h.segment, h.subject,
                              h.first_seen, h.age_days, h.fingerprint))


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
    shown = _Shown(lang)
    for s in sts:
        ev = "; ".join(f"{shown.time(t)} {w(e, lang)}{' ' + d if d else ''}"
                       for t, e, d in s.events[-4:])
        click.echo(clean(f"{s.segment:16} {s.mac:17} {w(s.state, lang):8} {shown.time(s.first_seen)} .. "
                         f"{shown.time(s.last_seen)}  {', '.join(s.addresses) or '—'}  [{ev}]"))
