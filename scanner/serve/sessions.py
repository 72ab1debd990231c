"""Server-side sessions: the cookie holds a random id; the store keeps only its
SHA-256, the user's id and name, the session's CSRF token and when it was made
and last used. Nothing read from the database opens a session (there is no
signing secret to steal), and deleting the row ends it at once.

    sid = open_session(store, user_id, name, remote)   # at login: a new id and CSRF token
    s = lookup(store, sid)                              # None: unknown, idle or too old
    end(store, sid); end_user(store, user_id)          # logout; "log out everywhere"

Idle timeout 30 minutes, absolute 12 hours.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from scanner.serve import tables as C

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
TOUCH_EVERY = timedelta(seconds=60)    # seen_at is written at most once a minute per session


@dataclass(frozen=True)
class Session:
    digest: str
    user_id: int
    name: str
    csrf: str


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def _fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def open_session(store, user_id: int, name: str, remote: str) -> tuple[str, str]:
    """(the cookie's value, the session's CSRF token): both new at every login."""
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = _fmt(_now())
    with store.write() as conn:
        conn.execute(C.sessions.delete().where(          # the expired go with each login
            (C.sessions.c.seen_at < _fmt(_now() - IDLE))
            | (C.sessions.c.created_at < _fmt(_now() - ABSOLUTE))))
        conn.execute(C.sessions.insert().values(
            id_sha256=_digest(sid), user_id=user_id, name=name[:100], csrf=csrf,
            created_at=now, seen_at=now, remote=(remote or "")[:64]))
    return sid, csrf


def lookup(store, sid: str | None, now: datetime | None = None) -> Session | None:
    """The live session of this cookie value, its seen_at moved on; None when
    unknown, ended, idle 30 minutes or older than 12 hours (then it is deleted)."""
    from sqlalchemy import select
    if not sid or len(sid) > 100:
        return None
    now = now or _now()
    d = _digest(sid)
    s = C.sessions
    with store.read() as conn:
        r = conn.execute(select(s.c.user_id, s.c.name, s.c.csrf, s.c.created_at, s.c.seen_at)
                         .where(s.c.id_sha256 == d)).first()
    if r is None:
        return None
    if r.seen_at < _fmt(now - IDLE) or r.created_at < _fmt(now - ABSOLUTE):
        end(store, sid)
        return None
    if r.seen_at < _fmt(now - TOUCH_EVERY):
        with store.write() as conn:
            conn.execute(s.update().where(s.c.id_sha256 == d).values(seen_at=_fmt(now)))
    return Session(d, r.user_id, r.name, r.csrf)


def end(store, sid: str) -> None:
    with store.write() as conn:
        conn.execute(C.sessions.delete().where(C.sessions.c.id_sha256 == _digest(sid)))


def end_user(store, user_id: int, keep: str | None = None) -> int:
    """End every session of the user (but `keep`, a cookie value); how many ended."""
    q = C.sessions.delete().where(C.sessions.c.user_id == user_id)
    if keep:
        q = q.where(C.sessions.c.id_sha256 != _digest(keep))
    with store.write() as conn:
        return conn.execute(q).rowcount or 0


def count(store, user_id: int) -> int:
    from sqlalchemy import func, select
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(C.sessions)
                            .where(C.sessions.c.user_id == user_id)).scalar()
