"""`isoscan service install probe|console`: the systemd units of the daily loop.

    isoscan service install probe -i /etc/isoscan/inventory.yaml \\
        --alert /etc/isoscan/alerts.yaml          # the scan + its timer, on a probe
    isoscan service install console                # the console, on the collecting host
    isoscan service install probe ... --dry-run    # print the units, change nothing
    isoscan service install probe ... --root DIR   # write them under DIR (an image, a test)

Without --root and --dry-run (as root): writes /etc/systemd/system/isoscan-*,
makes the service user (a system user, no shell, home /var/lib/isoscan) when
it is missing, reloads systemd and enables the timer (or the console).
What the units hold and why: scanner/service.py and docs/nightly.md.
"""
from __future__ import annotations

import os
import subprocess
import sys

import click

UNIT_DIR = "etc/systemd/system"


def _common(f):
    for opt in reversed([
        click.option("--user", default="isoscan", show_default=True,
                     help="The service user (made when missing; never root)"),
        click.option("--isoscan", "isoscan_bin", default=None, metavar="PATH",
                     help="The isoscan command (default: the one running, else /usr/local/bin/isoscan)"),
        click.option("--root", "root", type=click.Path(file_okay=False), default=None,
                     help="Write the units under this folder instead of / (no systemctl, no user made)"),
        click.option("--dry-run", is_flag=True, help="Print the units; write and change nothing"),
        click.option("--no-enable", is_flag=True, help="Write the units but do not enable or start them"),
    ]):
        f = opt(f)
    return f


def _bin(given):
    if given:
        return given
    here = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if os.path.basename(here) == "isoscan" and os.access(here, os.X_OK):
        return here
    return "/usr/local/bin/isoscan"


@click.group("service")
def service():
    """systemd units for the nightly scan and the console (系统服务)."""


@service.group("install")
def install():
    """Install the units of a probe or of the collecting host's console."""


@install.command("probe")
@click.option("-i", "--inventory", "inventory", multiple=True, required=True,
              help="Inventory file or folder (repeatable), as the scan reads it")
@click.option("--db", default="/var/lib/isoscan/isoscan.db", show_default=True, metavar="URL",
              help="The store (a SQLite file or postgresql://...)")
@click.option("--alert", "alert", default=None, metavar="ALERTS.YAML",
              help="Alert on what is new each night (docs/nightly.md)")
@click.option("--waivers", "waivers", default=None, metavar="WAIVERS.YAML",
              help="With --alert: waived findings raise no alert")
@click.option("--output-dir", default="/var/lib/isoscan/bundles", show_default=True,
              help="Where each night's bundle is kept, named after the vantage and time")
@click.option("--on-calendar", default="*-*-* 02:30:00", show_default=True,
              help="When (systemd.time OnCalendar)")
@click.option("--randomized-delay", default="30min", show_default=True,
              help="RandomizedDelaySec: spread the probes of one unit")
@click.option("--all-segments", "all_segments", is_flag=True,
              help="A probe with a leg in several segments (a trunk): scan every one each night")
@click.option("--lang", type=click.Choice(("zh-CN", "en")), default="zh-CN", show_default=True)
@_common
def probe(inventory, db, alert, output_dir, on_calendar, randomized_delay, lang, user,
          isoscan_bin, root, dry_run, no_enable, waivers=None, all_segments=False):
    """The nightly scan and its timer (探针：每夜扫描与定时器)."""
    from scanner.service import ProbeService, probe_units
    # a path is made absolute for the unit; a database URL, and `--waivers store` (the
    # console's waivers in the store), are passed as they are
    abs_ = (lambda p: p if p is None or "://" in p or p == "store" else os.path.abspath(p))
    units = probe_units(ProbeService(
        inventory=[os.path.abspath(i) for i in inventory], db=abs_(db), alert=abs_(alert),
        output_dir=os.path.abspath(output_dir), on_calendar=on_calendar,
        randomized_delay=randomized_delay, user=user, isoscan=_bin(isoscan_bin), lang=lang,
        extra=[*(["--waivers", abs_(waivers)] if waivers else []),
               *(["--all-segments"] if all_segments else [])]))
    if waivers and not alert:
        click.echo("isoscan service: --waivers goes with --alert", err=True)
        sys.exit(2)
    if alert:
        _private(alert)
    _install(units, "isoscan-scan.timer", user, root, dry_run, no_enable)


@install.command("console")
@click.option("--db", default="/var/lib/isoscan/isoscan.db", show_default=True, metavar="URL")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--config", "config", default=None, help="console.yaml")
@click.option("--spool", default=None, help="A folder of bundles that arrive as files")
@_common
def console(db, host, port, config, spool, user, isoscan_bin, root, dry_run, no_enable):
    """The console on the collecting host (控制台服务)."""
    from scanner.service import ConsoleService, console_units
    units = console_units(ConsoleService(
        db=db if "://" in db else os.path.abspath(db), host=host, port=port,
        config=os.path.abspath(config) if config else None,
        spool=os.path.abspath(spool) if spool else None, user=user, isoscan=_bin(isoscan_bin)))
    _install(units, "isoscan-console.service", user, root, dry_run, no_enable)


def _private(path):
    """Say so when a file that may hold secrets is readable by others."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError as exc:
        click.echo(f"isoscan service: {path}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    if mode & 0o077:
        click.echo(f"isoscan service: warning: {path} is mode {mode:04o}; it may hold secrets "
                   f"(passwords, webhook secrets): chmod 600 {path}", err=True)


def _install(units, enable, user, root, dry_run, no_enable):
    if user == "root":
        click.echo("isoscan service: --user root is refused: the units run with the least "
                   "privilege that works (a service user with CAP_NET_RAW, CAP_NET_ADMIN)", err=True)
        sys.exit(2)
    if dry_run:
        for name, body in units.items():
            click.echo(f"# /{UNIT_DIR}/{name}\n{body}")
        return
    base = os.path.join(root or "/", UNIT_DIR)
    try:
        os.makedirs(base, exist_ok=True)
        from scanner.atomicio import write_text_atomic
        for name, body in units.items():
            write_text_atomic(os.path.join(base, name), body, mode=0o644, prefix=".isoscan-unit-")
            os.chmod(os.path.join(base, name), 0o644)
    except OSError as exc:
        click.echo(f"isoscan service: cannot write the units into {base}: "
                   f"{exc.strerror or exc}", err=True)
        sys.exit(2)
    for name in units:
        click.echo(f"isoscan service: wrote {os.path.join(base, name)}", err=True)
    if root:
        return
    if os.geteuid() != 0:
        click.echo("isoscan service: run as root to make the user and enable the units", err=True)
        sys.exit(2)
    steps = []
    if subprocess.run(["id", "-u", user], capture_output=True).returncode != 0:
        steps.append(["useradd", "--system", "--home-dir", "/var/lib/isoscan", "--no-create-home",
                      "--shell", "/usr/sbin/nologin", "--user-group", user])
    steps.append(["systemctl", "daemon-reload"])
    if not no_enable:
        steps.append(["systemctl", "enable", "--now", enable])
    for argv in steps:
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            click.echo(f"isoscan service: {' '.join(argv)} failed: "
                       f"{(r.stderr or r.stdout).strip()[:300]}", err=True)
            sys.exit(2)
        click.echo(f"isoscan service: {' '.join(argv)}", err=True)
