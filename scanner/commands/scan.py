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
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

import click

from scanner.alerts.outbox import default_outbox
from scanner.commands.common import print_summary, push_bundle, store_bundle, write_private
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
@click.option("--alert", "alert_config", type=click.Path(dir_okay=False), default=None,
              metavar="ALERTS.YAML",
              help="With --db: alert on what is new since the store's previous scan of this "
                   "vantage (the nightly run; see docs/nightly.md) / 与上次扫描对比并告警")
@click.option("--waivers", "waivers_path", type=click.Path(dir_okay=False), default=None,
              help="With --alert: waived findings raise no alert (waivers.yaml) / 已豁免项不告警")
@click.option("--output-dir", "output_dir", type=click.Path(file_okay=False), default=None,
              help="Write the bundle into this folder, named after the vantage and the time "
                   "/ 结果包按位置与时间命名写入此目录")
@click.option("--all-segments", "all_segments", is_flag=True,
              help="Scan every segment this host has a leg in (VLAN subinterfaces, several "
                   "cards), one after the other; -o is then a folder (one <segment>.json each) "
                   "/ 扫描本机所在的每个网段")
def scan(inventory, output, report, checks, lang, segment, interface, quiet, inbound, strict,
         full_sweep_max_age, inbound_rate, sign_key=None, chain_state=None, db=None,
         push_url=None, token_file=None, alert_config=None, output_dir=None, waivers_path=None,
         all_segments=False):
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
    cfg = _alert_config(alert_config, db, output, output_dir, lang)   # before anything is sent
    waivers = _waivers(waivers_path, cfg, lang)
    opener = _StoreOpener(db) if db else None
    if all_segments:
        if segment or interface or sign_key:
            _say(lang, "--all-segments 扫描本机所在的每个网段：不能与 --segment、--interface 或 --sign 同用",
                 "--all-segments scans every segment of this host: it takes no --segment, "
                 "--interface or --sign (sign each segment's scan on its own)")
            sys.exit(2)
        _scan_all(inventory, output, report, lang, quiet, db, push_url, token_file,
                     dict(checks=parse_ids(checks), inbound=inbound, strict=strict,
                          full_sweep_max_age=full_sweep_max_age, inbound_rate=inbound_rate),
                     nightly=Nightly(cfg, waivers, output_dir, _previous))
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
    if output_dir:
        from scanner.alerts.nightly import make_folder, output_path
        try:
            make_folder(output_dir)
        except OSError as exc:
            _say(lang, f"无法创建目录 {output_dir}：{exc}", f"cannot make {output_dir}: {exc}")
            sys.exit(2)
        output = output_path(output_dir, bundle)
    if signer is not None:
        from scanner.evidence.scanhook import sign_bundle
        bundle = sign_bundle(signer, bundle, lang, written=bool(output))
    if output:
        # compact: json's C encoder (indent= falls back to the slow Python one)
        data = json.dumps(bundle, ensure_ascii=False, separators=(",", ":"))
        try:
            write_private(output, data)
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
            write_private(report, render_report([bundle], lang=lang, bundle_digests=[digest]))
        except OSError as exc:
            _say(lang, f"无法写入 {report}：{exc}", f"cannot write {report}: {exc}")
            sys.exit(2)
    print_summary(bundle, lang, quiet)
    previous: list = []
    if db and not store_bundle(bundle, db, lang,
                         then=(lambda store: previous.append(_previous(store, bundle)))
                         if cfg is not None else None, opener=opener):
        sys.exit(2)
    if cfg is not None:
        from scanner.alerts.nightly import alert_on
        if not alert_on(bundle, previous[0] if previous else None, cfg,
                        outbox=cfg.outbox or default_outbox(db), inventory_zone=result.timezone,
                        waivers=waivers, lang=lang):
            sys.exit(2)
    if push_url and not push_bundle(bundle, push_url, token_file, lang):
        sys.exit(2)
    # everything is written and closed: what is alive now (the bundle, SQLAlchemy's
    # classes) goes to the permanent generation, so the interpreter's last collection
    # does not walk it (0.2-0.4 s of a scan's exit with the store loaded)
    gc.freeze()
    sys.exit(result.exit_code)


class _StoreOpener:
    """Opens the store (SQLAlchemy's import, 0.3-0.5 s; the migrations on a
    new store) in a thread while the scan runs, which mostly waits on the
    wire: the nightly run then adds little after the scan. What fails here is
    raised again by take(), where the store is used, and reported there."""

    def __init__(self, db):
        import threading
        self.db, self.store, self.error = db, None, None
        self.thread = threading.Thread(target=self._open, name="isoscan-open-store", daemon=True)
        self.thread.start()

    def _open(self):
        try:
            from scanner.store.db import open_store
            # imported here, in this thread, while the scan runs (named, so the layer test sees them)
            import scanner.alerts.outbox  # noqa: F401
            import scanner.alerts.run  # noqa: F401
            import scanner.bundle  # noqa: F401
            import scanner.store.changes  # noqa: F401
            import scanner.store.ingest  # noqa: F401
            import scanner.store.vantages  # noqa: F401
            self.store = open_store(self.db)
        except BaseException as exc:        # noqa: BLE001 - raised again by take()
            self.error = exc

    def take(self):
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.store


def _previous(store, bundle):
    from scanner.store.vantages import previous_bundle
    return previous_bundle(store, bundle)


def _waivers(path, cfg, lang):
    """The waivers of --waivers (read before anything is probed; exit 2 on an error)."""
    if path is None:
        return None
    if cfg is None:
        _say(lang, "--waivers 仅与 --alert 一起使用", "--waivers goes with --alert")
        sys.exit(2)
    from scanner.commands.common import load_waivers
    from scanner.waivers import WaiverError
    try:
        return load_waivers(path)
    except WaiverError as exc:
        click.echo(clean(f"isoscan scan: {exc}"), err=True)
        sys.exit(2)


def _alert_config(path, db, output, output_dir, lang):
    """The alerts configuration of --alert (None without it); a usage problem
    or a config error exits 2 before anything is probed."""
    if output and output_dir:
        _say(lang, "-o 与 --output-dir 只能给出其一", "give -o or --output-dir, not both")
        sys.exit(2)
    if path is None:
        return None
    if not db:
        _say(lang, "--alert 需要 --db：告警与存储中本位置的上一次扫描对比",
             "--alert needs --db: the alerts compare with the store's previous scan of this vantage")
        sys.exit(2)
    from scanner.alerts.config import ConfigError, load_config
    try:
        return load_config(path)
    except ConfigError as exc:
        click.echo(clean(f"isoscan scan: {exc}"), err=True)
        sys.exit(2)


# -- `scan --all-segments` (issue 24): one scan a segment this host has a leg in; `-o DIR`
# gets DIR/<segment>.json, `--report` one HTML report of them all; the exit code is
# the worst verdict

@dataclass(frozen=True)
class Nightly:
    """The nightly run's options (issue 22), applied to each segment's bundle as
    `scan` applies them to its one: --alert (cfg), --waivers, --output-dir."""
    cfg: Any = None
    waivers: Any = None
    output_dir: str | None = None
    previous: Callable | None = None     # (store, bundle) -> the vantage's previous scan


def _scan_all(inventory, output, report, lang, quiet, db, push_url, token_file, scan_kw,
        nightly: Nightly = Nightly()) -> None:
    from scanner.alerts.outbox import default_outbox
    from scanner.commands.common import print_summary as _summary
    from scanner.commands.common import push_bundle as _push
    from scanner.commands.common import say as _say
    from scanner.commands.common import store_bundle as _store
    from scanner.commands.common import write_private as _write
    from scanner.scan import allsegments, engine
    from scanner.scan.progress import Progress
    if output and os.path.exists(output) and not os.path.isdir(output):
        _say(lang, f"--all-segments 的 -o 须为目录：{output}",
             f"with --all-segments, -o must be a folder: {output}")
        sys.exit(2)
    try:
        runs = allsegments.scan_all(list(inventory), engine.scan,
                                    lambda seg: Progress(quiet=quiet, lang=lang), lang=lang,
                                    **scan_kw)
    except KeyboardInterrupt:
        _say(lang, "扫描被中断：结果不完整", "scan interrupted: the result is incomplete")
        sys.exit(3)
    except engine.ScanInputError as exc:
        click.echo(clean("isoscan scan: " + pick(exc.message, lang)), err=True)
        sys.exit(2)
    bundles, digests, failed = [], [], False
    for r in runs:
        if r.error is not None:
            click.echo(clean(f"isoscan scan: {r.segment}: " + pick(r.error.message, lang)), err=True)
            continue
        bundle = r.result.bundle
        bundles.append(bundle)
        digest = None
        path = os.path.join(output, f"{r.segment}.json") if output else None
        if nightly.output_dir:        # named after the vantage and the time (issue 22)
            from scanner.alerts.nightly import make_folder, output_path
            try:
                make_folder(nightly.output_dir)
            except OSError as exc:
                _say(lang, f"无法创建目录 {nightly.output_dir}：{exc}",
                     f"cannot make {nightly.output_dir}: {exc}")
                sys.exit(2)
            path = output_path(nightly.output_dir, bundle)
        if path:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            data = json.dumps(bundle, ensure_ascii=False, separators=(",", ":"))
            try:
                _write(path, data)
            except OSError as exc:
                _say(lang, f"无法写入 {path}：{exc}", f"cannot write {path}: {exc}")
                sys.exit(2)
            digest = hashlib.sha256(data.encode("utf-8")).hexdigest()
        digests.append(digest)
        _summary(bundle, lang, quiet)
        previous: list = []
        cfg = nightly.cfg
        if db and not _store(bundle, db, lang,
                             then=(lambda store: previous.append(nightly.previous(store, bundle)))
                             if cfg is not None else None):
            failed = True
        elif cfg is not None:
            from scanner.alerts.nightly import alert_on
            if not alert_on(bundle, previous[0] if previous else None, cfg,
                            outbox=cfg.outbox or default_outbox(db),
                            inventory_zone=r.result.timezone, waivers=nightly.waivers, lang=lang):
                failed = True
        if push_url and not _push(bundle, push_url, token_file, lang):
            failed = True
    if report and bundles:
        from scanner.report.render import render_report
        try:
            _write(report, render_report(bundles, lang=lang, bundle_digests=digests))
        except OSError as exc:
            _say(lang, f"无法写入 {report}：{exc}", f"cannot write {report}: {exc}")
            sys.exit(2)
    code = allsegments.exit_code(runs)
    sys.exit(2 if failed and code != 1 else code)
