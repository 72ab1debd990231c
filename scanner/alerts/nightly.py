"""The nightly run of one probe: `isoscan scan ... --db URL --alert alerts.yaml
[--output-dir DIR]` scans, keeps the bundle, stores it and alerts, in one run.

- The alerts compare tonight's bundle with the store's previous scan of the
  same vantage (scanner.store.vantages.previous_bundle). Night one has none:
  every failing finding is new, and no verdict change is claimed.
- Vantage silence is never judged here: a probe knows only itself. The
  collecting host judges it over the store (`isoscan alert --db URL`).
- A channel that fails is said on stderr and its alerts stay in the outbox
  (sent on the next run); the scan's exit code stays the verdict's.
- `--output-dir DIR` names each bundle after its vantage and start time
  (`secret-lan_10.10.0.5_20261208T023000Z.json`), so the bundles of two
  probes gathered in one folder never collide; written 0600 (a bundle holds
  the canary-token key).
"""
from __future__ import annotations

import datetime as _dt
import os
import re
from typing import Mapping

_UNSAFE = re.compile(r"[^\w.-]+")


def _part(v: object, limit: int = 60) -> str:
    s = _UNSAFE.sub("-", str(v or "")).strip(".-")[:limit]
    return s or "unknown"


def bundle_name(bundle: Mapping) -> str:
    """'<segment>_<vantage ip>_<UTC start, compact>.json' (only [word . -] characters)."""
    v = bundle.get("vantage") if isinstance(bundle.get("vantage"), Mapping) else {}
    started = str(bundle.get("started_at") or "")
    stamp = re.sub(r"[^0-9TZ]", "", started) or _dt.datetime.now(_dt.timezone.utc).strftime(
        "%Y%m%dT%H%M%SZ")
    return f"{_part(v.get('segment'))}_{_part(v.get('ip'))}_{_part(stamp, 20)}.json"


def output_path(folder: str, bundle: Mapping) -> str:
    """A path in `folder` no other bundle holds (…-2.json if two start in one second)."""
    base = bundle_name(bundle)
    path = os.path.join(folder, base)
    n = 2
    while os.path.exists(path):
        path = os.path.join(folder, f"{base[:-5]}-{n}.json")
        n += 1
    return path


def make_folder(folder: str) -> None:
    """The output folder, made private (0700) when isoscan makes it."""
    os.makedirs(folder, mode=0o700, exist_ok=True)


def alert_on(bundle: Mapping, previous: Mapping | None, cfg, *, outbox: str,
             inventory_zone: str | None, waivers=None, prefix: str = "isoscan scan",
             lang: str = "en") -> bool:
    """Raise tonight's alerts against `previous`, queue and send them; False
    when the outbox cannot be used (said on stderr). A failed channel is said
    and kept for the next run, and is not a False."""
    import click

    from scanner.alerts.outbox import OutboxError
    from scanner.alerts.run import deliver, raise_alerts, tell, unit_zone_for
    now = _dt.datetime.now(_dt.timezone.utc)
    zone = unit_zone_for(cfg, inventory_zone)
    current = dict(bundle)
    for_alerts = [current, dict(previous) if previous is not None else None]
    for r in for_alerts:          # the bundle's own waiver marks do not waive here (as alert)
        if r is not None:
            r["findings"] = [{k: v for k, v in f.items() if k != "waiver"}
                             for f in r.get("findings") or ()]
    if waivers:                   # as `isoscan alert --waivers`: the previous result as it stood then
        from scanner.alerts.run import as_of
        from scanner.waivers import WaiverError, apply_waivers
        today = now.astimezone(_dt.timezone.utc).date()
        try:
            for r in for_alerts:
                if r is not None:
                    apply_waivers(r, waivers, today=as_of(r, today) if r is for_alerts[1] else today)
        except WaiverError as exc:
            click.echo(f"{prefix}: {'告警未发送' if lang == 'zh-CN' else 'alerts not sent'}: {exc}", err=True)
            return False
    alerts = raise_alerts(for_alerts[1], for_alerts[0], cfg, now=now, vantages=(), zone=zone)
    try:
        res = deliver(cfg, alerts, outbox, now=now, zone=zone)
    except OutboxError as exc:
        click.echo(f"{prefix}: {'告警未发送' if lang == 'zh-CN' else 'alerts not sent'}: {exc}",
                   err=True)
        return False
    tell(cfg, res, prefix, lang)
    return True
