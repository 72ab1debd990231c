"""A watch that died is itself an alert: vantage-silent, judged from the store.

Every running watch writes a heartbeat (watch_health) every 30 s. A dead
process cannot say it died, so the judgment is made elsewhere, where the
store is known: `isoscan watch --health` (run by a systemd timer, see
docs/watch.md) reads the heartbeats and raises `vantage-silent` (the alert
rules' own kind, scanner/alerts/rules.py) for each watch whose last beat is
older than --silent-after, or that stopped ("stopped" status: a clean stop
is silent too, the segment is unwatched), once per silence.
"""
from __future__ import annotations

import datetime as _dt
import sys

from scanner.localtime import parse


def silent_watches(rows: list[dict], now: _dt.datetime, after_s: float) -> list:
    """VantageSeen of every watch whose heartbeat is too old (or which stopped)."""
    from scanner.alerts.rules import VantageSeen
    out = []
    for r in rows:
        last = parse(r.get("beat_at"))
        stopped = str(r.get("status") or "").startswith("stopped")
        if last is not None and not stopped and (now - last).total_seconds() <= after_s:
            continue
        out.append(VantageSeen(name=f"{r.get('segment') or '?'} watch@{r.get('watch')}",
                               last_report=last, every_s=int(after_s)))
    return out


def run_health(db, alert_path, outbox, after_s: float, lang: str) -> int:
    from scanner.alerts.rules import compute
    from scanner.store.db import StoreError, open_store
    from scanner.store.watchlog import health_rows
    from scanner.alerts.outbox import default_outbox
    try:
        store = open_store(db)
    except StoreError as exc:
        print(f"isoscan watch --health: {exc}", file=sys.stderr)
        return 2
    try:
        rows = health_rows(store)
    finally:
        store.close()
    now = _dt.datetime.now(_dt.timezone.utc)
    silent = silent_watches(rows, now, after_s)
    if not rows:
        print("isoscan watch --health: no watch has ever beaten in this store", file=sys.stderr)
        return 1
    alerts = compute([], None, None, silent, now=now, result_id="watch-health")
    for r in rows:
        dead = any(v.name.endswith(f"watch@{r['watch']}") for v in silent)
        print(f"{'SILENT' if dead else 'ok'}\t{r['watch']}\t{r['segment']}\t{r['beat_at']}\t"
              f"{r['status']}")
    if alerts and alert_path:
        from scanner.alerts.config import ConfigError, load_config
        from scanner.alerts.outbox import deliver
        try:
            cfg = load_config(alert_path)
        except ConfigError as exc:
            print(f"isoscan watch --health: {exc}", file=sys.stderr)
            return 2
        try:
            res = deliver(outbox or cfg.outbox or default_outbox(db), alerts, cfg.channels,
                          now=now, keep_days=cfg.keep_days)
        except Exception as exc:      # noqa: BLE001 - said; the exit status still says silent
            print(f"isoscan watch --health: {len(alerts)} alert(s) NOT delivered (the outbox "
                  f"failed): {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        for ch, why in res.failed.items():
            print(f"isoscan watch --health: channel {ch} failed: {why}", file=sys.stderr)
    return 1 if silent else 0
