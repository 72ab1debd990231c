"""The body of `isoscan scan --all-segments` (scanner/scan/allsegments.py):
one scan a segment this host has a leg in; `-o DIR` gets DIR/<segment>.json,
`--report` one HTML report of them all; the exit code is the worst verdict."""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

import click

from scanner.formats.text import clean
from scanner.model import pick


@dataclass(frozen=True)
class Nightly:
    """The nightly run's options (issue 22), applied to each segment's bundle as
    `scan` applies them to its one: --alert (cfg), --waivers, --output-dir."""
    cfg: Any = None
    waivers: Any = None
    output_dir: str | None = None
    previous: Callable | None = None     # (store, bundle) -> the vantage's previous scan


def run(inventory, output, report, lang, quiet, db, push_url, token_file, scan_kw,
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
