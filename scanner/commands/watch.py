"""`isoscan watch`: a probe that never sleeps (docs/watch.md).

    isoscan watch -i INVENTORY [--interface IF ...] [--db URL] [--alert alerts.yaml]
                  [--events FILE|-] [--sweep-every 10m] [--solicit-every 30m] [--silence 30m]
    isoscan watch --health --db URL [--alert alerts.yaml] [--silent-after 2m]

Exit codes: 0 stopped by SIGTERM/SIGINT (or --health: every watch beats);
1 --health found a silent watch; 2 unusable input (inventory, alert config,
store, no interface that can be watched).
"""
from __future__ import annotations

import re
import sys

import click

from scanner.langs import LANGS

_DUR = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*\Z")
_UNIT = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600, "d": 86400}


def duration(ctx, param, value):
    if value is None:
        return None
    m = _DUR.match(str(value))
    if not m:
        raise click.BadParameter(f"{value!r}: expected a duration such as 30s, 10m, 2h")
    secs = float(m.group(1)) * _UNIT[m.group(2)]
    if secs <= 0:
        raise click.BadParameter(f"{value!r}: must be more than zero")
    return secs


@click.command("watch")
@click.option("-i", "--inventory", "inventory", multiple=True, metavar="PATH",
              help="Inventory files or folders (as for scan).")
@click.option("--interface", "interfaces", multiple=True, metavar="IF",
              help="A vantage interface to listen on (repeatable; default: the one interface "
                   "with an address in a declared segment).")
@click.option("--db", "db", default=None, metavar="URL", help="The store (default: ISOSCAN_DB, "
              "else the default SQLite file).")
@click.option("--alert", "alert", type=click.Path(dir_okay=False), default=None,
              help="alerts.yaml: the channels events are sent to.")
@click.option("--outbox", type=click.Path(dir_okay=False), default=None,
              help="The alert outbox (default: the config's, else next to the store).")
@click.option("--events", "events", default=None, metavar="FILE|-",
              help="Write each event as one JSON line to FILE (appended) or stdout (-).")
@click.option("--sweep-every", "sweep_every", default="10m", callback=duration, metavar="DURATION",
              show_default=True,
              help="ARP/ND sweep of the declared networks.")
@click.option("--solicit-every", "solicit_every", default="30m", callback=duration, metavar="DURATION",
              show_default=True, help="DHCP discover, DHCPv6 solicit, router solicitation.")
@click.option("--silence", "silence", default="30m", callback=duration, metavar="DURATION",
              show_default=True,
              help="A registered device not heard this long is station-gone (longer than "
                   "--sweep-every).")
@click.option("--conflict-window", "conflict_window", default="60s", callback=duration, metavar="DURATION",
              show_default=True, help="Two MACs heard for one address within this: a conflict.")
@click.option("--user", "user", default=None, metavar="NAME", help="Run as this user once the sockets are open.")
@click.option("--lang", "lang", type=click.Choice(LANGS), default="zh-CN", show_default=True)
@click.option("--health", is_flag=True, help="Judge the watches' heartbeats in the store "
              "(vantage-silent) and exit.")
@click.option("--silent-after", "silent_after", default="2m", callback=duration, metavar="DURATION",
              show_default=True, help="With --health: a watch not beating this long is silent.")
def watch(inventory, interfaces, db, alert, outbox, events, sweep_every, solicit_every, silence,
          conflict_window, user, lang, health, silent_after):
    """Listen between scans: new stations, conflicts, rogue DHCP/RA in seconds (持续监听)."""
    if health:
        from scanner.alerts.watch_health import run_health
        sys.exit(run_health(db, alert, outbox, silent_after, lang))
    if not inventory:
        raise click.UsageError("give the inventory: -i FILE")
    if silence <= sweep_every:
        raise click.UsageError(f"--silence ({silence:g} s) must be longer than --sweep-every "
                               f"({sweep_every:g} s): a quiet device would go and come back "
                               "at every sweep")
    from scanner.watch.runner import Options, Watch, WatchInputError
    from scanner.watch.tracker import Timing
    from scanner.judge.registry import load_checks
    from scanner.watch.rules import CHECKS
    opts = Options(inventory=list(inventory), interfaces=list(interfaces), events=events,
                   sweep_every=sweep_every, solicit_every=solicit_every, user=user, lang=lang,
                   timing=Timing(silence=silence, conflict_window=conflict_window),
                   checks=lambda: load_checks(list(CHECKS)))
    sink = _sink(db, alert, outbox)
    out = None
    try:
        if events == "-":
            out = sys.stdout
        elif events:
            out = open(events, "a", encoding="utf-8")
    except OSError as exc:
        click.echo(f"isoscan watch: --events {events}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    from scanner.watch.privs import PrivError
    try:
        code = Watch(opts, out, sink).run()
    except (WatchInputError, PrivError) as exc:
        click.echo(f"isoscan watch: {exc}", err=True)
        sys.exit(2)
    sys.exit(code)


def _sink(db, alert, outbox):
    """The store and the alert channels the events go to (exit 2 when unusable)."""
    from scanner.alerts.outbox import default_outbox
    from scanner.alerts.watchsink import Sink
    from scanner.commands.common import open_store_or_fail
    cfg = None
    if alert:
        from scanner.alerts.config import ConfigError, load_config
        try:
            cfg = load_config(alert)
        except ConfigError as exc:
            click.echo(f"isoscan watch: {exc}", err=True)
            sys.exit(2)
    store = open_store_or_fail(db, "watch")
    box = (outbox or cfg.outbox or default_outbox(db)) if cfg is not None else None
    return Sink(store, cfg, box)
