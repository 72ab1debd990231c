"""`isoscan demo`: build the bundled lab, scan it from every vantage, report.

Exit 0 when every seeded fault was found and nothing else failed; 1 when a
fault was missed or something unexpected failed; 2 when the demo cannot run
here (the message says what is missing).
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from scanner.formats.text import clean
from scanner.model import LANGS, pick


@click.command("demo")
@click.option("--out", "out", default="isoscan-demo", show_default=True,
              type=click.Path(file_okay=False), help="Where the bundles and report.html go")
@click.option("--keep", is_flag=True, help="Leave the lab up afterwards (explore it with `isoscan lab exec`)")
@click.option("--lang", type=click.Choice(LANGS), default="zh-CN", show_default=True)
@click.option("--lab-file", default=None, type=click.Path(dir_okay=False),
              help="Another lab file instead of inventories/lab/demo.yaml")
@click.option("--name", default=None, help="Lab name (default: the lab file's lab.name)")
def demo(out, keep, lang, lab_file, name):
    """Build the demo lab, scan it from every vantage, write the report, tear it down.

    演示：搭建内置实验网，从每个探测点扫描，生成报告，然后拆除实验网。
    """
    from scanner import demo as d
    from scanner.lab import LabError

    def say(line: str) -> None:         # lab names and network text are data: escaped
        click.echo(clean(line), err=True)

    try:
        res = d.run(out_dir=Path(out), lab_file=d.find_lab_file(lab_file), lang=lang,
                    keep=keep, say=say, name=name)
    except d.DemoError as exc:
        click.echo("isoscan demo: " + pick(exc.message, lang), err=True)
        sys.exit(2)
    except LabError as exc:
        click.echo(clean(f"isoscan demo: {exc}"), err=True)
        sys.exit(2)
    for block in d.summary_lines(res, lang):
        for line in block.split("\n"):
            click.echo(clean(line))
    sys.exit(0 if res.ok else 1)
