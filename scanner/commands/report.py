"""`isoscan report FILE...`: one HTML report from bundles (and canary logs).

Each FILE is a result bundle (SPEC §5, schema isoscan.bundle/1) or a canary
log (schema isoscan.canary/1, from `isoscan canary listen`); the kind is read
from the file. `-i INVENTORY` (optional, files or folders) gives the
registration the device reconciliation compares against.

Bundles that carry their inventory document are re-judged: the live checks
they ran are run again on their stored observations (a corrected check or
mapping needs no new scan); `--no-rejudge` keeps the stored findings.

Exit codes (SPEC §3): 0 the report was written; 2 an input that cannot be
read, is not JSON or not of its schema (one line on stderr), or a usage error.
The verdict is in the report, not in the exit code.
"""
from __future__ import annotations

import json
import sys

import click

from scanner.atomicio import write_text_atomic
from scanner.documents.read import InputProblem, read_input
from scanner.langs import LANGS


def last_full_sweep(bundles) -> tuple[str | None, list[str]]:
    """When the newest full inbound sweep among the inputs that reached the
    unit started, and the addresses it covered (a sweep that reached nothing
    backs nothing)."""
    from scanner.judge.sweep import sweep_reached
    best: tuple[str, list[str]] | None = None
    for b in bundles:
        obs = b.get("observations") if isinstance(b, dict) else None
        inbound = obs.get("inbound") if isinstance(obs, dict) else None
        if not sweep_reached(inbound):
            continue
        cov = inbound["coverage"]
        when = cov.get("started_at")
        if not isinstance(when, str) or (best is not None and when <= best[0]):
            continue
        addrs = [a for a in (*(cov.get("public") or ()), *(cov.get("routed") or ()))
                 if isinstance(a, str)]
        best = (when, addrs)
    return best if best is not None else (None, [])


def judging_policy(bundles, strict: bool, max_age: int | None) -> dict:
    """How `report` judges: now, the newest full sweep among the inputs that
    reached the unit, and the options (a scan's own --strict is kept; the
    report's adds to it)."""
    import datetime as _dt

    from scanner.bundle import timestamp
    out: dict = {"as_of": timestamp(_dt.datetime.now(_dt.timezone.utc))}
    last, addrs = last_full_sweep(bundles)
    if last:
        out["last_full_sweep"] = last
        out["last_full_sweep_addresses"] = addrs
    if strict:
        out["strict"] = True
    if max_age is not None:
        out["full_sweep_max_age_days"] = max_age
    return out


def rejudge_stored(bundle: dict, path: str, inventory=None, policy=None) -> dict:
    """The bundle with every installed live check run again on its stored
    observations (scanner.bundle.rejudge), against `inventory` (the inspector's
    -i) or else the inventory document the bundle carries.

    Every live check, not only those with a stored finding: findings are what a
    tamperer edits, and a check missing from them would drop out of the
    verdict. A check whose probe never ran (a scan limited with --checks) is
    then an error, so a part of the rules never reads as compliant. A bundle
    with neither a document nor -i keeps its stored findings.
    """
    inv_part = bundle.get("inventory")
    has_doc = isinstance(inv_part, dict) and isinstance(inv_part.get("document"), dict)
    if inventory is None and not has_doc:
        return bundle
    from scanner.bundle import BundleError, rejudge
    from scanner.judge.registry import load_checks
    live = [(c.meta, c.evaluate) for c in load_checks().checks if not c.meta.static]
    try:
        out = rejudge(bundle, live, inventory=inventory, policy=policy)
    except BundleError as exc:
        raise InputProblem(f"{path}: cannot be re-judged: {exc}") from None
    except Exception as exc:   # a malformed document or observation: one line, not a traceback
        raise InputProblem(f"{path}: cannot be re-judged ({type(exc).__name__}: {exc})") from None
    return out


def since_last_scan(merged: dict, bundles, previous: str | None, ev=None, reader=None) -> dict:
    """The changes since the last scan (scanner.report.since): against the
    store's latest results before these bundles (`reader`, the store's
    scanner.store.reader.StoreReader, started first), or an earlier result
    file (`previous`). `ev` (ReportEvidence): with --require-signed, what is
    compared with must verify as well."""
    from scanner.evidence.reporthook import EvidenceRefused
    from scanner.report.since import since_last
    from scanner.store.changes import results_of
    if previous:
        kind, data, _ = read_input(previous, strict=bool(ev and ev.trust is not None))
        if kind != "bundle":
            raise InputProblem(f"{previous}: a canary log, not a bundle (--previous)")
        if ev is not None:
            try:
                ev.verify_earlier([(previous, data)], "--previous")
            except EvidenceRefused as exc:
                raise InputProblem(str(exc)) from None
        from scanner.report.since import trend_point
        from scanner.store.fingerprint import Fingerprinter
        prev = results_of(data)
        point = trend_point(prev.findings, prev.started_at[:10], Fingerprinter())
        return since_last(merged, prev, trend=[point] if prev.started_at else [], source="file")
    from scanner.store.fingerprint import Fingerprinter
    from scanner.store.reader import ReaderError
    fp = Fingerprinter()
    try:
        prev, seen, points, docs = reader.ask(
            before=merged.get("started_at") or "9999",
            exclude=[b.get("scan_id") for b in bundles if isinstance(b.get("scan_id"), str)],
            failing=[fp(f) for f in merged["findings"] if f.get("status") == "fail"],
            documents=bool(ev is not None and ev.require_signed))
    except ReaderError as exc:
        raise InputProblem(str(exc)) from None
    if prev is not None and ev is not None and ev.require_signed:
        try:
            ev.verify_earlier(docs, "the store's previous scan")
        except EvidenceRefused as exc:
            raise InputProblem(str(exc)) from None
    return since_last(merged, prev, first_seen=seen, trend=points, source="store")


def _write(path: str, text: str) -> None:
    """Atomically, with the permissions open() would give (a report is to share),
    no fsync; '-' is standard output."""
    write_text_atomic(path, text, fsync=False, prefix=".isoscan-report-", dash_is_stdout=True)


@click.command("report")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--output", "-o", default="report.html", show_default=True,
              type=click.Path(dir_okay=False), help="The HTML report ('-': standard output).")
@click.option("--lang", type=click.Choice(LANGS), default="zh-CN", show_default=True,
              help="Report language / 报告语言")
@click.option("--json", "json_out", type=click.Path(dir_okay=False),
              help="Also write the merged, re-judged findings as one bundle.")
@click.option("--inventory", "-i", "inventory", multiple=True, type=click.Path(),
              help="Inventory files or folders (optional): the findings are re-judged and the "
                   "devices reconciled against it instead of the bundles' own copy.")
@click.option("--no-rejudge", is_flag=True,
              help="Keep the findings as stored; do not run the live checks again on the "
                   "stored observations.")
@click.option("--strict", is_flag=True,
              help="ISO-LOGICAL: a result not backed by a recent full port sweep is an error.")
@click.option("--full-sweep-max-age", "full_sweep_max_age", type=click.IntRange(1, 3650),
              default=None, metavar="DAYS",
              help="How old the last full port sweep may be (default: the scan's, 30).")
@click.option("--waivers", "waivers_file", type=click.Path(dir_okay=False),
              help="waivers.yaml: accepted findings, shown in their own section and not "
                   "counted toward the verdict until they expire.")
@click.option("--trust", "trust", multiple=True, type=click.Path(),
              help="Verify every input's signature against these public keys (folder or file).")
@click.option("--require-signed", is_flag=True,
              help="Refuse (exit 2) unless every input is validly signed and every chain whole.")
@click.option("--record", is_flag=True, help="Add the inspection record (检查记录).")
@click.option("--inspector", default=None, help="The inspector's name (检查人), for the record.")
@click.option("--responsible", default=None,
              help="The unit's responsible person (被检查单位负责人), for the record.")
@click.option("--deadline", default=None, metavar="YYYY-MM-DD",
              help="The rectification deadline (整改期限), for the record.")
@click.option("--record-config", type=click.Path(dir_okay=False), default=None,
              help="YAML with inspector, responsible, deadline, unit (the options win).")
@click.option("--pdf", "pdf", type=click.Path(dir_okay=False), default=None,
              help="Also write the full report as a PDF (headless Chromium).")
@click.option("--evidence", "evidence_zip", type=click.Path(dir_okay=False), default=None,
              help="Also write the evidence package (report, inputs, keys, SHA256SUMS).")
@click.option("--sign", "sign_key", type=click.Path(dir_okay=False), default=None, metavar="KEY",
              help="Sign the evidence package's SHA256SUMS with this private key (the reporter's).")
@click.option("--db", "db", default=None, metavar="URL",
              help="Open with the changes since the last scan the store holds, and a trend "
                   "(a SQLite file or postgresql://...; see `isoscan ingest`).")
@click.option("--previous", "previous", default=None, type=click.Path(dir_okay=False),
              help="Open with the changes since this earlier bundle or merged bundle (no store).")
def report(files, output, lang, json_out, inventory, no_rejudge, strict, full_sweep_max_age,
           trust=(), require_signed=False, record=False, inspector=None, responsible=None,
           deadline=None, record_config=None, pdf=None, evidence_zip=None, waivers_file=None,
           db=None, previous=None, sign_key=None):
    """One HTML report from bundles and canary logs (生成合规检查报告)."""
    if db and previous:
        raise click.UsageError("give --db or --previous, not both")
    from contextlib import nullcontext
    opened = nullcontext()
    if db:        # first: the store's reader imports and connects while the inputs are read
        from scanner.store.reader import StoreReader
        opened = StoreReader(db)
    with opened as reader:        # it never outlives the report, exit 2 on an input included
        from scanner.report.render import fill_since, merge_report, render_report
        from scanner.evidence.reporthook import EvidenceRefused, ReportEvidence

        bundles, digests, logs = [], [], []
        read = []
        try:
            try:
                ev = ReportEvidence.from_options(
                    trust=trust, require_signed=require_signed, record=record, inspector=inspector,
                    responsible=responsible, deadline=deadline, record_config=record_config,
                    pdf=pdf, evidence=evidence_zip, sign=sign_key)
            except EvidenceRefused as exc:
                raise InputProblem(str(exc)) from None
            inv = None
            if inventory:
                from scanner.inventory.load import InputError, load_inventory
                try:
                    result = load_inventory(list(inventory))
                except InputError as exc:
                    raise InputProblem(str(exc)) from None
                schema = [f for f in result.findings
                          if f.check_id == "INV-SCHEMA" and f.status.value == "fail"]
                if result.inventory is None or schema:
                    first = next(iter(schema or result.findings), None)
                    why = ""
                    if first is not None and first.evidence:
                        e = first.evidence[0]
                        why = ": " + (e.get("en", "") if isinstance(e, dict) else str(e))
                        if first.location is not None:
                            loc = first.location
                            why = f" ({loc}){why}"
                    raise InputProblem(f"{', '.join(inventory)}: not a valid inventory{why}")
                inv = result.inventory
            stored = []
            for path in files:
                kind, data, digest = read_input(path, strict=bool(trust))
                read.append((path, data))
                if kind == "canary":
                    logs.append(data)
                else:
                    stored.append((path, data))
                    digests.append(digest)
            try:
                ev.verify(read)        # the files as stored, before anything is re-judged
            except EvidenceRefused as exc:
                raise InputProblem(str(exc)) from None
            policy = judging_policy([d for _, d in stored], strict, full_sweep_max_age)
            bundles = [data if no_rejudge else rejudge_stored(data, path, inv, policy)
                       for path, data in stored]
            if not bundles:
                raise InputProblem("no result bundle among the inputs (only canary logs)")
            merged = merge_report(bundles, lang, logs, digests, inv)
            merged["judging"] = policy        # how it was judged (the report's coverage note too)
            if waivers_file:                  # issue 14: scanner/waivers.py
                import datetime as _dt

                from scanner.commands.common import load_waivers
                from scanner.waivers import WaiverError, apply_waivers
                try:
                    apply_waivers(merged, load_waivers(waivers_file, db), lang=lang,
                                  today=_dt.datetime.now(_dt.timezone.utc).date())
                except WaiverError as exc:
                    raise InputProblem(str(exc)) from None
            if reader is not None:
                # the page first, while the store's reader still imports, connects and
                # queries; then the changes since the last scan go into their slot
                page = render_report(bundles, lang, logs, digests, inventory=inv, merged=merged,
                                     extend=ev.extension(merged, lang), since_later=True)
                merged["since_last"] = since_last_scan(merged, bundles, None, ev, reader)
                html = fill_since(page, merged, lang)
            else:
                if previous:
                    merged["since_last"] = since_last_scan(merged, bundles, previous, ev)
                html = render_report(bundles, lang, logs, digests, inventory=inv, merged=merged,
                                     extend=ev.extension(merged, lang))
        except InputProblem as exc:
            click.echo(f"isoscan report: {exc}", err=True)
            sys.exit(2)
        try:
            _write(output, html)
            if json_out:
                # without the report's own view of the inventory, which the PDF after
                # this still needs (its record, its ranking, its device reconciliation)
                out = {k: v for k, v in merged.items() if k != "inventory_view"}
                _write(json_out, json.dumps(out, ensure_ascii=False, indent=1) + "\n")
        except OSError as exc:
            click.echo(f"isoscan report: cannot write {exc.filename or output}: "
                       f"{exc.strerror or exc}", err=True)
            sys.exit(2)
        if pdf or evidence_zip:
            from scanner.evidence.pdf import PdfError
            try:
                ev.finish(html, lambda ext: render_report(bundles, lang, logs, digests,
                                                          inventory=inv, merged=merged,
                                                          extend=ext), merged, lang)
            except (EvidenceRefused, PdfError) as exc:
                click.echo(f"isoscan report: {exc}", err=True)
                sys.exit(2)
            except OSError as exc:
                click.echo(f"isoscan report: cannot write {exc.filename or pdf or evidence_zip}: "
                           f"{exc.strerror or exc}", err=True)
                sys.exit(2)
        if output != "-":
            click.echo(f"{output}: {merged['summary']['verdict']}", err=True)
