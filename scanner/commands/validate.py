"""`isoscan validate PATH...`: the inventory checked without touching the network.

Exit codes (SPEC §3): 0 clean; 1 a failing or erring finding (INV-SCHEMA,
any static check, a check plugin that cannot be loaded); 2 a path that does
not exist or cannot be read, or a usage error. Never a traceback.
"""
from __future__ import annotations

import sys

import click

from scanner.atomicio import write_text_atomic

from scanner.model import LANGS

FORMATS = ("text", "json", "sarif", "junit")


def run_validate(paths, *, fmt="text", lang="zh-CN", check_ids=None,
                 notice=lambda line: None) -> tuple[str, int]:
    """(rendered output, exit code); raises InputError / UnknownCheck / MappingError.

    notice(line) hears what a person should know that is not a finding (lab
    files a folder left out)."""
    from scanner.inventory.schema_check import merge_with_loader
    from scanner.formats import render
    from scanner.inventory.load import load_inventory
    from scanner.judge.run import run_checks
    from scanner.model import Status, pick, text
    from scanner.judge.registry import load_checks
    from scanner.inventory.yamlsource import bulk, prefetch

    from scanner.judge.registry import UnknownCheck

    registry = load_checks(check_ids)
    if check_ids is not None:
        live = [c.meta.id for c in registry.checks if not c.meta.static]
        if not registry.static and not registry.problems:
            # nothing would be judged, and nothing judged must never read as clean
            raise UnknownCheck(f"--checks names no static check ({', '.join(live)}: "
                               "live checks run with `isoscan scan`); validate runs INV-* checks")
        if live:
            notice(pick(text(f"未运行：{', '.join(live)} 为现场检查，需 isoscan scan",
                             f"not run: {', '.join(live)} (live checks need `isoscan scan`)"),
                        lang))
    result = load_inventory(paths)
    for f in result.lab_files_left_out:
        notice(pick(text(f"未纳入：{f} 是实验网文件（含 lab: 段），如需校验请直接指定该文件",
                         f"left out: {f} is a lab file (it has a lab: section); name it to validate it"),
                    lang))
    if result.inventory is not None and not result.inventory.canaries:
        notice(pick(text("警告：清单未声明外部探针（canaries）：物理隔离只能依据应答判定，"
                         "无法发现只出不进的泄露通道",
                         "warning: the inventory declares no canary: physical isolation then "
                         "rests on replies alone (a path that only leaks out is not seen)"),
                    lang))
    static = registry.static
    findings = []
    prefetch(f.location for f in result.findings)  # resolved with the checks' own, in one pass
    if result.inventory is not None:
        with bulk():
            findings = run_checks([(c.meta, c.evaluate) for c in static], result.inventory, {})
    # The loader's INV-SCHEMA findings are kept whatever --checks selects: a file
    # that could not be read was not judged, and must never make a run clean.
    findings = (merge_with_loader(result.findings, findings) + list(registry.problems)
                + registry.missing_problems(static_only=True))
    prefetch(f.location for f in findings)       # one position pass per file
    out = render(findings, fmt, lang, files=result.files)
    bad = any(f.status in (Status.FAIL, Status.ERROR) for f in findings)
    return out, 1 if bad else 0


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write the result to FILE instead of standard output.")
@click.option("--lang", type=click.Choice(LANGS), default="zh-CN", show_default=True)
@click.option("--checks", "checks_opt", metavar="ID,...", help="Run only these checks.")
def validate(paths, fmt, output, lang, checks_opt):
    """Check inventory files without touching the network (校验清单文件)."""
    from scanner.formats.text import clean
    from scanner.inventory.load import InputError
    from scanner.judge.registry import UnknownCheck, parse_ids
    from scanner.judge.regulations import MappingError

    try:
        out, code = run_validate(paths, fmt=fmt, lang=lang, check_ids=parse_ids(checks_opt),
                                 notice=lambda line: click.echo(clean(line), err=True))
    except (InputError, UnknownCheck, MappingError) as exc:
        click.echo(clean(f"isoscan validate: {exc}"), err=True)
        sys.exit(2)
    if output:
        try:
            # a CI artifact is whole or absent, never half a SARIF file
            write_text_atomic(output, out, fsync=False, prefix=".isoscan-validate-")
        except OSError as exc:
            click.echo(clean(f"isoscan validate: {output}: cannot be written "
                             f"({exc.strerror or exc})"), err=True)
            sys.exit(2)
    else:
        click.echo(out, nl=False)
    sys.exit(code)
