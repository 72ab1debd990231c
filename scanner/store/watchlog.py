"""`isoscan watch` in the store (scanner/watch/): its events, the keys it raised, its heartbeats
(tables watch_events, watch_state, watch_health; migration 0002).

Times in the store are UTC. Keys are kept as raised: a restart loads them
(newest first, at most state.MAX_REPORTED) and raises none of them again.
"""
from __future__ import annotations

import datetime as _dt
import socket
from typing import Iterable

from scanner.watch.events import Event, utc
from scanner.watch.state import MAX_REPORTED

KEEP_DAYS = 90


def _now() -> str:
    return utc(_dt.datetime.now(_dt.timezone.utc))


def load_state(store, segment: str) -> list[tuple[str, str]]:
    """(key, value) of the events raised on `segment`, oldest first."""
    from sqlalchemy import or_, select
    from scanner.store import tables as T
    from scanner.watch.events import EVENTS
    s = T.watch_state
    # every key is "<event>|<segment>|...": matched on that prefix, wildcards escaped
    # (a LIKE '%|seg|%' also took another segment's keys whose device was named seg)
    mine = or_(*(s.c.key.startswith(f"{ev}|{segment}|", autoescape=True) for ev in EVENTS))
    with store.read() as conn:
        rows = conn.execute(select(s.c.key, s.c.value)
                            .where(mine)
                            .order_by(s.c.updated_at.desc()).limit(MAX_REPORTED)).all()
    return [(k, v) for k, v in reversed(rows)]


def record(store, events: Iterable[Event], forgotten: Iterable[str] = ()) -> None:
    """The events, and their keys, in one transaction."""
    from sqlalchemy import delete, insert
    from scanner.store import tables as T
    events = list(events)
    forgotten = list(forgotten)
    if not events and not forgotten:
        return
    at = _now()
    keys = {e.key: ("gone" if e.event == "station-gone" else "reported") for e in events}
    with store.write() as conn:
        if events:
            conn.execute(insert(T.watch_events), [e.row() for e in events])
        gone = list(keys) + forgotten
        if gone:
            conn.execute(delete(T.watch_state).where(T.watch_state.c.key.in_(gone)))
        if keys:
            conn.execute(insert(T.watch_state), [{"key": k[:300], "value": v, "updated_at": at}
                                                 for k, v in keys.items()])


def prune(store, keep_days: int = KEEP_DAYS) -> int:
    """Forget keys raised more than `keep_days` ago (a card still gone stays): the
    state table stays bounded over months; an unregistered station still there
    after that is told again once (a reminder, not a repeat of yesterday's)."""
    from sqlalchemy import delete
    from scanner.store import tables as T
    cut = utc(_dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(days=keep_days))
    s = T.watch_state
    with store.write() as conn:
        return conn.execute(delete(s).where(s.c.updated_at < cut, s.c.value != "gone")).rowcount


def watch_name(interface: str) -> str:
    return f"{socket.gethostname()} {interface}"


def beat(store, *, interface: str, segment: str, pid: int, started_at: str,
         status: str = "listening") -> None:
    from sqlalchemy import delete, insert
    from scanner.store import tables as T
    name = watch_name(interface)
    with store.write() as conn:
        conn.execute(delete(T.watch_health).where(T.watch_health.c.watch == name))
        conn.execute(insert(T.watch_health).values(
            watch=name, host=socket.gethostname(), segment=segment, interface=interface,
            pid=pid, started_at=started_at, beat_at=_now(), status=status[:200]))


def recent_events(store, *, limit: int = 200, segment: str | None = None,
                  since: str | None = None) -> list[dict]:
    """The newest events first (the console's page, `isoscan stations`)."""
    import json
    from sqlalchemy import select
    from scanner.store import tables as T
    e = T.watch_events
    q = select(e.c.at, e.c.event, e.c.check_id, e.c.severity, e.c.segment, e.c.ip, e.c.mac,
               e.c.device, e.c.detail)
    if segment is not None:
        q = q.where(e.c.segment == segment)
    if since is not None:
        q = q.where(e.c.at >= since)
    with store.read() as conn:
        rows = conn.execute(q.order_by(e.c.at.desc(), e.c.id.desc()).limit(limit)).all()
    out = []
    for r in rows:
        try:
            detail = json.loads(r.detail or "{}").get("detail") or {}
        except (ValueError, AttributeError):
            detail = {}
        out.append({"at": r.at, "event": r.event, "check_id": r.check_id, "severity": r.severity,
                    "segment": r.segment, "ip": r.ip, "mac": r.mac, "device": r.device,
                    "detail": detail if isinstance(detail, dict) else {}})
    return out


def health_rows(store) -> list[dict]:
    from sqlalchemy import select
    from scanner.store import tables as T
    h = T.watch_health
    with store.read() as conn:
        rows = conn.execute(select(h.c.watch, h.c.host, h.c.segment, h.c.interface, h.c.pid,
                                   h.c.started_at, h.c.beat_at, h.c.status)).all()
    return [dict(r._mapping) for r in rows]
