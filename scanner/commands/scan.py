"""`isoscan scan`: probe from this host, judge, write the bundle.

Exit codes (SPEC §3): 0 compliant · 1 non-compliant · 2 usage or input error
(nothing was sent), or the result bundle could not be built (the reason is
said; no thinner bundle is ever written instead) · 3 incomplete (no violation, but something could not be
judged: no privilege, interface down, a probe failed, the positive control
did not succeed).
"""
from __future__ import annotations

import hashlib
import json
import sys

import click

from scanner.atomicio import write_text_atomic
from scanner.formats.text import clean
from scanner.model import LANGS, pick, text


def _say(lang, zh, en, err=True):
    click.echo(pick(text(zh, en), lang), err=err)


@click.command("scan")
@click.option("-i", "--inventory", "inventory", multiple=True, required=True,
              type=click.Path(), help="Inventory file or folder (repeatable) / 清单文件或目录")
@click.option("-o", "--output", "output", type=click.Path(),
              help="Write the result bundle (JSON) here (a folder with --all-segments) / 结果包输出路径")
@click.option("--report", "report", type=click.Path(dir_okay=False),
              help="Also write the HTML report here / 同时生成 HTML 报告")
@click.option("--checks", "checks", default=None, help="Only these check ids, comma separated")
@click.option("--lang", "lang", type=click.Choice(LANGS), default="zh-CN", show_default=True)
@click.option("--segment", "segment", default=None, help="The vantage's segment (when ambiguous)")
@click.option("--interface", "interface", default=None, help="The interface to probe from")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr")
@click.option("--inbound", "inbound", type=click.Choice(("auto", "quick", "full")), default="auto",
              show_default=True,
              help="From an internet vantage: auto = every TCP port when the sweep, estimated at "
                   "--inbound-rate, takes under 60 s, else as quick; quick = nmap's top 200 TCP "
                   "ports plus the declared ones; full = every TCP port 1-65535")
@click.option("--strict", is_flag=True,
              help="A result not backed by a recent full port sweep is an error, not a pass")
@click.option("--full-sweep-max-age", "full_sweep_max_age", type=click.IntRange(1, 3650),
              default=30, show_default=True, metavar="DAYS",
              help="How old the last full port sweep may be before ISO-LOGICAL warns")
@click.option("--inbound-rate", "inbound_rate", type=click.IntRange(100, 100000), default=5000,
              show_default=True, metavar="PPS",
              help="Probes per second a full sweep keeps at least (nmap --min-rate)")
@click.option("--sign", "sign_key", type=click.Path(dir_okay=False), default=None, metavar="KEY",
              help="Sign the bundle with this private key (isoscan keys new) / 用此私钥签名结果包")
@click.option("--chain-state", "chain_state", type=click.Path(dir_okay=False), default=None,
              help="The probe's chain state file (default /var/lib/isoscan/chain/<vantage>.json)")
@click.option("--db", "db", default=None, metavar="URL",
              help="Also store the bundle in this store (a SQLite file or postgresql://...; "
                   "see `isoscan ingest`) / 结果同时入库")
@click.option("--push", "push_url", default=None, metavar="URL",
              help="Also send the bundle to the unit's console (isoscan serve) / 上报控制台")
@click.option("--token-file", "token_file", type=click.Path(dir_okay=False), default=None,
              help="The probe's push token for --push (default $ISOSCAN_PUSH_TOKEN)")
@click.option("--all-segments", "all_segments", is_flag=True,
              help="Scan every segment this host has a leg in (VLAN subinterfaces, several "
                   "cards), one after the other; -o is then a folder (one <segment>.json each) "
                   "/ 扫描本机所在的每个网段")
def scan(inventory, output, report, checks, lang, segment, interface, quiet, inbound, strict,
         full_sweep_max_age, inbound_rate, sign_key=None, chain_state=None, db=None,
         push_url=None, token_file=None, all_segments=False):
    """Probe the network from this host and judge it against the inventory.

    从本机探测网络并对照清单判定（退出码 0 合规 · 1 不合规 · 2 输入错误 · 3 不完整）。
    """
    import gc

    from scanner.scan import engine
    from scanner.scan.progress import Progress
    from scanner.judge.registry import parse_ids

    # a /22 keeps ~10^6 objects alive (11,000 probe records and their frames):
    # the modules' objects are frozen out of the collector and it runs less
    # often (it took ~0.2 s of a scan)
    gc.freeze()
    gc.set_threshold(20000, 20, 20)
    if all_segments:
        if segment or interface or sign_key:
            _say(lang, "--all-segments 扫描本机所在的每个网段：不能与 --segment、--interface 或 --sign 同用",
                 "--all-segments scans every segment of this host: it takes no --segment, "
                 "--interface or --sign (sign each segment's scan on its own)")
            sys.exit(2)
        from scanner.commands import scan_all
        scan_all.run(inventory, output, report, lang, quiet, db, push_url, token_file,
                     dict(checks=parse_ids(checks), inbound=inbound, strict=strict,
                          full_sweep_max_age=full_sweep_max_age, inbound_rate=inbound_rate))
    progress = Progress(quiet=quiet, lang=lang)
    signer = None
    if sign_key:   # the key is checked before anything is sent
        from scanner.evidence.scanhook import signer_for
        signer = signer_for(sign_key, chain_state, lang)
    try:
        result = engine.scan(list(inventory), checks=parse_ids(checks), lang=lang,
                             segment=segment, interface=interface, progress=progress,
                             inbound=inbound, strict=strict,
                             full_sweep_max_age=full_sweep_max_age,
                             inbound_rate=inbound_rate)
    except KeyboardInterrupt:
        _say(lang, "扫描被中断：结果不完整", "scan interrupted: the result is incomplete")
        sys.exit(3)
    except engine.ScanInputError as exc:
        # the message and findings quote the (hostile) inventory: escaped, one line each
        click.echo(clean("isoscan scan: " + pick(exc.message, lang)), err=True)
        for f in exc.findings[:50]:
            loc = f.location
            where = f"{loc}: " if loc else ""
            click.echo(clean(f"  {where}{f.check_id}: " + "; ".join(pick(e, lang) for e in f.evidence)),
                       err=True)
        sys.exit(2)
    except Exception as exc:   # a crash must not read as a verdict: 1 would claim a violation
        import traceback
        traceback.print_exc()
        _say(lang, f"扫描内部错误，无法判定（{type(exc).__name__}: {exc}）",
             f"internal error, nothing could be judged ({type(exc).__name__}: {exc})")
        sys.exit(3)
    bundle = result.bundle
    digest = None
    if signer is not None:
        from scanner.evidence.scanhook import sign_bundle
        bundle = sign_bundle(signer, bundle, lang, written=bool(output))
    if output:
        # compact: json's C encoder (indent= falls back to the slow Python one)
        data = json.dumps(bundle, ensure_ascii=False, separators=(",", ":"))
        try:
            _write(output, data)
        except OSError as exc:
            _say(lang, f"无法写入 {output}：{exc}", f"cannot write {output}: {exc}")
            if signer is not None:
                signer.abandon()
            sys.exit(2)
        if signer is not None:
            from scanner.evidence.scanhook import commit
            commit(signer, lang)
        digest = hashlib.sha256(data.encode("utf-8")).hexdigest()
    if report:
        from scanner.report.render import render_report
        try:
            _write(report, render_report([bundle], lang=lang, bundle_digests=[digest]))
        except OSError as exc:
            _say(lang, f"无法写入 {report}：{exc}", f"cannot write {report}: {exc}")
            sys.exit(2)
    _summary(bundle, lang, quiet)
    if db and not _store(bundle, db, lang):
        sys.exit(2)
    if push_url and not _push(bundle, push_url, token_file, lang):
        sys.exit(2)
    sys.exit(result.exit_code)


def _push(bundle, url, token_file, lang) -> bool:
    """The bundle to the console (scanner.serve.client: urllib only, no extra)."""
    from scanner.serve.client import PushError, push_bytes, read_token
    try:
        body = json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        push_bytes(url, body, read_token(token_file), "scan.json")
    except PushError as exc:
        _say(lang, f"无法上报控制台：{exc}", f"cannot push the bundle: {exc}")
        return False
    return True


def _store(bundle, db, lang) -> bool:
    """The bundle into the store, as `isoscan ingest` stores it (SQLAlchemy is
    imported only here: a scan without --db never loads it)."""
    from scanner.bundle import validate
    from scanner.store.db import StoreError, open_store
    from scanner.store.ingest import IngestError, document, ingest
    problem = validate(bundle)
    try:
        if problem is not None:
            raise IngestError(f"the bundle is not valid ({problem})")
        store = open_store(db)
        try:
            ingest(store, [document("scan", "bundle", bundle)])
        finally:
            store.close()
    except (StoreError, IngestError) as exc:
        _say(lang, f"无法入库：{exc}", f"cannot store the bundle: {exc}")
        return False
    except Exception as exc:     # the database failed mid-ingest: one line, exit 2 (as ingest)
        from sqlalchemy.exc import SQLAlchemyError
        if not isinstance(exc, SQLAlchemyError):
            raise
        from scanner.commands.ingest import store_problem
        why = store_problem(exc)
        _say(lang, f"无法入库，未存储任何内容：{why}", f"cannot store the bundle, nothing stored: {why}")
        return False
    return True


def _write(path, data: str):
    """Atomically, with the permissions open() would give, no fsync (as before)."""
    write_text_atomic(path, data, fsync=False, prefix=".isoscan-scan-")


def _summary(bundle, lang, quiet):
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
            subj = f.get("subject") or {}
            who = " ".join(x for x in (subj.get("ip"), subj.get("mac"), subj.get("device")) if x)
            ev = "; ".join(f.get("evidence") or [])[:300]
            click.echo(clean(f"  {f['status'].upper():5} {f['check_id']:16} {f['severity']:8} {who}  {ev}"))
