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
import os
import sys

import click


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


def default_outbox() -> str:
    """Next to the store: the folder of ISOSCAN_DB when it is a file, else
    /var/lib/isoscan. (Lead: when the store lands, use its resolved path.)"""
    db = os.environ.get("ISOSCAN_DB", "")
    if db and "://" not in db:
        return os.path.join(os.path.dirname(os.path.abspath(db)), "alerts-outbox.jsonl")
    return "/var/lib/isoscan/alerts-outbox.jsonl"


def check_titles() -> dict:
    """check id → its title in both languages, from the installed checks."""
    from scanner.judge.registry import load_checks
    try:
        return {c.meta.id: dict(c.meta.title) for c in load_checks().checks}
    except Exception:          # noqa: BLE001 - a broken plugin costs a title, not the alert
        return {}


def _as_of(result: dict, default: _dt.date) -> _dt.date:
    """The UTC day a result was made (its finish, else its start), at most `default`."""
    t = _parse_time(result.get("finished_at")) or _parse_time(result.get("started_at"))
    return min(t.astimezone(_dt.timezone.utc).date(), default) if t is not None else default


def _verdict(result: dict) -> str:
    from scanner.judge.run import verdict
    return verdict([f for f in result["findings"] if not f.get("waiver")])


def _unwaived(doc: dict | None) -> dict:
    """The result without its waived findings (this run's --waivers): a waived
    finding raises no alert, and one whose waiver lapsed comes back as new."""
    doc = doc or {"findings": []}
    return {**doc, "findings": [f for f in doc.get("findings") or () if not f.get("waiver")]}


@click.command("alert")
@click.option("--config", "-c", "config_path", required=True, type=click.Path(dir_okay=False),
              help="alerts.yaml: channels, expected vantages, outbox.")
@click.option("--previous", type=click.Path(dir_okay=False),
              help="The last result (bundle or merged bundle); without it every failing "
                   "finding is new.")
@click.option("--current", required=True, type=click.Path(dir_okay=False),
              help="This run's result (bundle or merged bundle).")
@click.option("--waivers", "waivers_path", type=click.Path(dir_okay=False),
              help="waivers.yaml: waived findings raise no alert.")
@click.option("--outbox", type=click.Path(dir_okay=False),
              help="The outbox file (default: the config's, else next to the store).")
@click.option("--dry-run", is_flag=True, help="Print the alerts as JSON; send and record nothing.")
@click.option("--now", "now_s", hidden=True, help="The time of the run (ISO 8601; for replays).")
def alert(config_path, previous, current, waivers_path, outbox, dry_run, now_s):
    """Alert on regressions since the last scan (回归告警)."""
    from scanner.alerts import outbox as ob
    from scanner.alerts.config import ConfigError, load_config
    from scanner.store.changes import changes
    from scanner.alerts.rules import compute
    from scanner.documents.read import InputProblem, read_input

    now = _parse_time(now_s) if now_s else _dt.datetime.now(_dt.timezone.utc)
    if now is None:
        raise click.BadParameter("not an ISO 8601 time", param_hint="--now")
    try:
        cfg = load_config(config_path)
        results = []
        for path in (previous, current):
            if path is None:
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
            from scanner.waivers import apply_waivers, load_waivers
            ws = load_waivers(waivers_path)
            today = now.astimezone(_dt.timezone.utc).date()
            for r in (old, new):
                if r is not None:   # the previous result as it stood then: a waiver that
                    # lapsed since is a change (its finding and WAIVER-EXPIRED are new)
                    apply_waivers(r, ws, today=_as_of(r, today) if r is old else today)
    except (ConfigError, InputProblem) as exc:     # a WaiverError is a ConfigError
        click.echo(f"isoscan alert: {exc}", err=True)
        sys.exit(2)

    alerts = compute(changes(_unwaived(old), _unwaived(new)),
                     _verdict(old) if old is not None else None, _verdict(new),
                     vantages_seen(cfg.vantages, [r for r in (old, new) if r is not None]),
                     now=now, result_id=str(new.get("scan_id")), min_severity=cfg.min_severity,
                     titles=check_titles())
    if dry_run:
        click.echo(json.dumps([a.to_json() for a in alerts], ensure_ascii=False, indent=1))
        return
    path = outbox or cfg.outbox or default_outbox()
    try:
        res = ob.deliver(path, alerts, cfg.channels, now=now, keep_days=cfg.keep_days)
    except ob.OutboxError as exc:
        click.echo(f"isoscan alert: {exc}", err=True)
        sys.exit(2)
    for ch in cfg.channels:
        n = res.sent.get(ch.name, 0)
        if n:
            click.echo(f"isoscan alert: {ch.name}: {n} sent", err=True)
    for name, why in sorted(res.failed.items()):
        click.echo(f"isoscan alert: {name}: FAILED, {res.pending.get(name, 0)} alert(s) kept "
                   f"for the next run: {why}", err=True)
    if res.failed:
        sys.exit(1)
