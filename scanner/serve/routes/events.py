"""The console's page of the watch's recent events (/events, every role).

Self-contained: its strings (zh-CN, en), its query, its route (ROUTES, which
scanner.serve.routes.all_routes() lists beside the other page groups).
Times are shown in the unit's zone (scanner/localtime.py); the store keeps UTC.
Everything shown came from the network or the inventory: the template is
autoescaped (Jinja2), nothing is escaped by hand; control characters and bidi
overrides are made visible as \\uXXXX first (scanner/formats/text.py), so a
name heard on the wire cannot reorder or hide the row around it.
"""
from __future__ import annotations

from starlette.routing import Route

from scanner.serve.routes.common import guard

LIMIT = 500
SILENT_AFTER = 120.0          # a heartbeat older than this (they come every 30 s): marked silent
STRINGS = {
    "zh-CN": {"title": "实时监听事件", "time": "时间", "event": "事件", "severity": "级别",
              "check": "检查", "segment": "网段", "subject": "对象", "detail": "详情",
              "none": "暂无事件", "watches": "监听探针", "beat": "最近心跳", "status": "状态",
              "segment_filter": "网段", "filter": "筛选", "silent": "沉默（已停止或失联）"},
    "en": {"title": "Watch events", "time": "Time", "event": "Event", "severity": "Severity",
           "check": "Check", "segment": "Segment", "subject": "Subject", "detail": "Detail",
           "none": "No events yet", "watches": "Watches", "beat": "Last heartbeat",
           "status": "Status", "segment_filter": "Segment", "filter": "Filter",
           "silent": "silent (stopped or lost)"},
}


def _zone(cfg):
    from scanner.localtime import unit_zone
    return unit_zone(getattr(cfg, "timezone", None))


_ONE_LINE = ("event", "severity", "check_id", "segment", "ip", "mac", "device")


def context(store, cfg, lang: str, segment: str | None = None) -> dict:
    from scanner.formats.text import clean, visible
    from scanner.localtime import local_iso
    from scanner.store.watchlog import health_rows, recent_events
    zone = _zone(cfg)
    rows = recent_events(store, limit=LIMIT, segment=segment or None)
    for r in rows:
        r["at_local"] = local_iso(r["at"], zone)
        d = r.get("detail") or {}
        r["text"] = visible(str(d.get(lang) or d.get("en") or ""))
        for k in _ONE_LINE:
            if r.get(k) is not None:
                r[k] = clean(str(r[k]))
    import datetime as _dt
    from scanner.alerts.watch_health import silent_watches
    watches = health_rows(store)
    now = _dt.datetime.now(_dt.timezone.utc)
    for w in watches:
        w["beat_local"] = local_iso(w["beat_at"], zone)
        w["silent"] = bool(silent_watches([w], now, SILENT_AFTER))
        for k in ("watch", "segment", "status"):
            if w.get(k) is not None:
                w[k] = clean(str(w[k]))
    return {"w": STRINGS.get(lang, STRINGS["en"]), "rows": rows, "watches": watches,
            "segment": segment or ""}


@guard("viewer")     # a viewer reads every page (issue 23)
def events(c, request, user):
    lang = c.lang(request)
    seg = request.query_params.get("segment") or None
    return c.page(request, "events.html.j2", user, **context(c.store, c.cfg, lang, seg))


ROUTES = [Route("/events", events)]
