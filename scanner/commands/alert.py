"""`isoscan alert`: alerts on regressions between two results, sent once.

    isoscan alert --config alerts.yaml --previous OLD.json --current NEW.json

OLD and NEW are bundles or merged bundles (`isoscan report --json`), read and
refused as `report` refuses them. The alerts (scanner.alerts.rules) are
queued in the outbox and sent to every channel of the config; what a channel
could not take stays pending and is sent on the next run.

Exit codes (docs/SPEC.md §3): 0 every alert delivered (or none to send);
1 a channel failed (said on stderr; its alerts stay in the outbox for the
next run); 2 a usage error, an unreadable or off-schema input, a config or
waivers file with an error (file:line:column), an outbox that cannot be used.
"""
from __future__ import annotations

import datetime as _dt
import json
import sys

import click

from scanner.alerts.outbox import default_outbox


def _parse_time(s) -> _dt.datetime | None:
    if not isinstance(s, str) or not s:
        return None
    try:
        t = _dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=_dt.timezone.utc)


def _reports(result: dict) -> list[tuple[dict, _dt.datetime | None]]:
    """(vantage, finished or started time) of every scan in a bundle or merged bundle."""
    srcs = result.get("sources")
    if isinstance(srcs, list) and srcs:
        return [(s.get("vantage") or {}, _parse_time(s.get("finished_at")) or _parse_time(s.get("started_at")))
                for s in srcs if isinstance(s, dict)]
    return [(result.get("vantage") or {}, _parse_time(result.get("finished_at"))
             or _parse_time(result.get("started_at")))]


def vantages_seen(expected, results) -> list:
    from scanner.alerts.rules import VantageSeen
    out = []
    for ev in expected:
        last = None
        for r in results:
            for v, t in _reports(r):
                if v.get("segment") == ev.segment and (ev.ip is None or v.get("ip") == ev.ip) \
                        and t is not None and (last is None or t > last):
                    last = t
        out.append(VantageSeen(ev.name, last, ev.every_s))
    return out


def _seen_in_store(expected, db) -> list:
    """When each expected vantage last reported, as the store knows it."""
    from scanner.alerts.rules import VantageSeen
    from scanner.store.vantages import last_reports
    from scanner.commands.common import open_store_or_fail
    store = open_store_or_fail(db, "alert")
    from sqlalchemy.exc import SQLAlchemyError
    try:
        last = last_reports(store)
    except SQLAlchemyError as exc:
        from scanner.store.db import store_problem
        click.echo(f"isoscan alert: the store failed: {store_problem(exc)}", err=True)
        sys.exit(2)
    finally:
        store.close()
    out = []
    for ev in expected:
        times = [t for (seg, ip), t in last.items()
                 if seg == ev.segment and (ev.ip is None or ip == ev.ip)]
        out.append(VantageSeen(ev.name, _parse_time(max(times)) if times else None, ev.every_s))
    return out


def check_titles() -> dict:
    from scanner.alerts.run import check_titles as titles
    return titles()


def _as_of(result: dict, default: _dt.date) -> _dt.date:
    from scanner.alerts.run import as_of
    return as_of(result, default)


@click.command("alert")
@click.option("--config", "-c", "config_path", required=True, type=click.Path(dir_okay=False),
              help="alerts.yaml: channels, expected vantages, outbox.")
@click.option("--previous", type=click.Path(dir_okay=False),
              help="The last result (bundle or merged bundle); without it every failing "
                   "finding is new.")
@click.option("--current", type=click.Path(dir_okay=False),
              help="This run's result (bundle or merged bundle). Without it (and with "
                   "--db) only the expected vantages' silence is judged.")
@click.option("--db", "db", default=None, metavar="URL",
              help="The store that holds every vantage's scans (the collecting host): the "
                   "expected vantages' last reports are read from it.")
@click.option("--waivers", "waivers_path", type=click.Path(dir_okay=False),
              help="waivers.yaml: waived findings raise no alert.")
@click.option("--outbox", type=click.Path(dir_okay=False),
              help="The outbox file (default: the config's, else next to the store).")
@click.option("--dry-run", is_flag=True, help="Print the alerts as JSON; send and record nothing.")
@click.option("--now", "now_s", hidden=True, help="The time of the run (ISO 8601; for replays).")
def alert(config_path, previous, current, waivers_path, outbox, dry_run, now_s, db=None):
    """Alert on regressions since the last scan (回归告警).

    Vantage silence (the config's `vantages`) is judged only where every
    vantage's reports are known: the store (--db) or a merged result, never
    from one probe's bundle (it would call every other probe silent)."""
    from scanner.alerts import outbox as ob
    from scanner.alerts.config import ConfigError, load_config
    from scanner.alerts.run import deliver, raise_alerts, tell, unit_zone_for
    from scanner.alerts.rules import compute
    from scanner.documents.read import InputProblem, read_input

    now = _parse_time(now_s) if now_s else _dt.datetime.now(_dt.timezone.utc)
    if now is None:
        raise click.BadParameter("not an ISO 8601 time", param_hint="--now")
    if current is None and db is None:
        raise click.UsageError("give --current (a result to alert on), --db (the store, to "
                               "judge the vantages' silence), or both")
    try:
        cfg = load_config(config_path)
        results = []
        for path in (previous, current):
            if path is None or current is None:
                results.append(None)
                continue
            kind, data, digest = read_input(path)
            if kind != "bundle":
                raise InputProblem(f"{path}: a canary log, not a result bundle")
            if not (isinstance(data.get("scan_id"), str) and data["scan_id"]):
                data["scan_id"] = digest     # null (SPEC §5) too: never one id for all such
            for f in data["findings"]:      # only this run's --waivers waive, never the file's marks
                f.pop("waiver", None)
            results.append(data)
        old, new = results
        if waivers_path:
            from scanner.commands.common import load_waivers
            from scanner.waivers import apply_waivers
            ws = load_waivers(waivers_path)
            today = now.astimezone(_dt.timezone.utc).date()
            for r in (old, new):
                if r is not None:   # the previous result as it stood then: a waiver that
                    # lapsed since is a change (its finding and WAIVER-EXPIRED are new)
                    apply_waivers(r, ws, today=_as_of(r, today) if r is old else today)
    except (ConfigError, InputProblem) as exc:     # a WaiverError is a ConfigError
        click.echo(f"isoscan alert: {exc}", err=True)
        sys.exit(2)

    zone = unit_zone_for(cfg)
    if db is not None:
        seen = _seen_in_store(cfg.vantages, db)
    elif any(isinstance(r.get("sources"), list) for r in (old, new) if r is not None):
        seen = vantages_seen(cfg.vantages, [r for r in (old, new) if r is not None])
    else:
        seen = []
        if cfg.vantages:
            click.echo("isoscan alert: vantage silence is not judged from one probe's bundle "
                       "(give --db, the store every probe reports to, or a merged result)",
                       err=True)
    if new is not None:
        alerts = raise_alerts(old, new, cfg, now=now, vantages=seen, zone=zone)
    else:
        alerts = compute((), None, None, seen, now=now, result_id="", zone=zone)
    if dry_run:
        click.echo(json.dumps([a.to_json() for a in alerts], ensure_ascii=False, indent=1))
        return
    path = outbox or cfg.outbox or default_outbox(db)
    try:
        res = deliver(cfg, alerts, path, now=now, zone=zone)
    except ob.OutboxError as exc:
        click.echo(f"isoscan alert: {exc}", err=True)
        sys.exit(2)
    tell(cfg, res)
    if res.failed:
        sys.exit(1)
