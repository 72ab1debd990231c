"""One alert run, shared by `isoscan alert` and the nightly `isoscan scan --alert`:
the alerts of two results, queued in the outbox, sent, and what happened
said on stderr.

    alerts = raise_alerts(old, new, cfg, now=now, vantages=seen, zone=zone)
    res = deliver(cfg, alerts, outbox_path, now=now)     # OutboxError: cannot be used
    tell(cfg, res)                                       # one line per channel, stderr

`old` is None when there is no previous result (night one): every failing
finding is then new, and no verdict is compared.
"""
from __future__ import annotations

import datetime as _dt
from typing import Mapping, Sequence

import click


def as_of(result: Mapping, default: _dt.date) -> _dt.date:
    """The UTC day a result was made (its finish, else its start), at most
    `default`: the day its waivers are judged as of."""
    from scanner.localtime import parse
    t = parse(result.get("finished_at")) or parse(result.get("started_at"))
    return min(t.astimezone(_dt.timezone.utc).date(), default) if t is not None else default


def unit_zone_for(cfg, inventory_zone: str | None = None):
    """The zone people read times in: the config's `timezone`, else the
    inventory's organization.timezone, else the host's."""
    from scanner.localtime import unit_zone
    return unit_zone(cfg.timezone or inventory_zone)


def check_titles() -> dict:
    """check id → its title in both languages, from the installed checks."""
    from scanner.judge.registry import load_checks
    try:
        return {c.meta.id: dict(c.meta.title) for c in load_checks().checks}
    except Exception:          # noqa: BLE001 - a broken plugin costs a title, not the alert
        return {}


def verdict_of(result: Mapping) -> str:
    from scanner.judge.run import verdict
    return verdict([f for f in result["findings"] if not f.get("waiver")])


def unwaived(doc: Mapping | None) -> dict:
    """The result without its waived findings: a waived finding raises no alert,
    and one whose waiver lapsed comes back as new."""
    doc = doc or {"findings": []}
    return {**doc, "findings": [f for f in doc.get("findings") or () if not f.get("waiver")]}


def raise_alerts(old: Mapping | None, new: Mapping, cfg, *, now: _dt.datetime,
                 vantages: Sequence = (), zone=None) -> list:
    """The alerts of `new` against `old` (rules.compute over the store's changes)."""
    from scanner.alerts.rules import compute
    from scanner.store.changes import changes
    return compute(changes(unwaived(old), unwaived(new)),
                   verdict_of(old) if old is not None else None, verdict_of(new),
                   vantages, now=now, result_id=str(new.get("scan_id")),
                   min_severity=cfg.min_severity, titles=check_titles(), zone=zone)


def deliver(cfg, alerts: list, path: str, *, now: _dt.datetime, zone=None):
    """Queue and send (scanner.alerts.outbox); the channels show times in `zone`."""
    from scanner.alerts import outbox as ob
    for ch in cfg.channels:
        if hasattr(ch, "zone"):
            ch.zone = zone
    return ob.deliver(path, alerts, cfg.channels, now=now, keep_days=cfg.keep_days)


def tell(cfg, res, prefix: str = "isoscan alert", lang: str = "en") -> None:
    """What each channel took, and each failure with how many alerts wait for
    the next run (stderr; never a secret: a ChannelError is one safe line)."""
    zh = lang == "zh-CN"
    for ch in cfg.channels:
        n = res.sent.get(ch.name, 0)
        if n:
            click.echo(f"{prefix}：告警渠道 {ch.name} 已发送 {n} 条" if zh else
                       f"{prefix}: {ch.name}: {n} sent", err=True)
    for name, why in sorted(res.failed.items()):
        kept = res.pending.get(name, 0)
        click.echo(f"{prefix}：告警渠道 {name} 发送失败（FAILED），{kept} 条告警保留至下次运行：{why}"
                   if zh else
                   f"{prefix}: {name}: FAILED, {kept} alert(s) kept for the next run: {why}",
                   err=True)
