"""`isoscan checks list`: every installed check with its id, title, severity,
what it needs and its regulation references. A plugin that cannot be loaded is
listed as broken (and the command still exits 0: listing is not judging)."""
from __future__ import annotations

import json
import sys

import click

from scanner.model import LANGS, pick


@click.group("checks")
def checks():
    """Installed checks (已安装的检查)."""


@checks.command("list")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
@click.option("--lang", type=click.Choice(LANGS), default="zh-CN", show_default=True)
def list_checks(fmt, lang):
    """List every installed check."""
    from scanner.judge.registry import load_checks
    from scanner.judge.regulations import MappingError, references

    reg = load_checks()
    rows = []
    for c in reg.checks:
        try:
            refs = references(c.meta.id, lang)
        except MappingError as exc:
            click.echo(f"isoscan checks: {exc}", err=True)
            sys.exit(2)
        rows.append({"id": c.meta.id, "title": pick(c.meta.title, lang),
                     "severity": c.meta.severity.value, "needs": list(c.meta.needs),
                     "static": c.meta.static, "regulation": refs, "source": c.source,
                     "fingerprint": list(getattr(c.meta, "fingerprint", None) or ("identity",))})
    broken = [{"id": p.check_id, "error": pick(p.evidence[0], lang)}
              for p in list(reg.problems) + reg.missing_problems()]
    if fmt == "json":
        click.echo(json.dumps({"checks": rows, "problems": broken}, ensure_ascii=False, indent=2))
        return
    from scanner.formats.text import clean   # a plugin's strings are data: no terminal control
    for r in rows:
        click.echo(clean(f"{r['id']:<18} {r['severity']:<9} {','.join(r['needs']):<22} {r['title']}"))
        for ref in r["regulation"]:
            click.echo(clean(f"{'':<18} - {ref}"))
    for b in broken:
        click.echo(clean(f"{b['id']:<18} {'BROKEN':<9} {b['error']}"))
