"""Users (argon2id), probe tokens (only their SHA-256 is kept), the login
rate limit (5 failures per user or per address in 15 minutes), the audit log."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from scanner.serve import tables as C

ROLES = ("admin", "inspector", "viewer")
MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
NAME_MAX = 100


class AccountError(ValueError):
    """A refused account operation (one line)."""


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hasher():
    try:
        from argon2 import PasswordHasher
    except ImportError:
        raise AccountError("passwords need argon2-cffi: pip install 'isoscan[console]'") from None
    return PasswordHasher()


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name or len(name) > NAME_MAX \
            or any(c.isspace() or ord(c) < 32 for c in name):
        raise AccountError(f"a user or probe name is 1 to {NAME_MAX} characters without spaces")
    return name


def add_user(store, name: str, role: str, password: str) -> None:
    from sqlalchemy import select
    _check_name(name)
    if role not in ROLES:
        raise AccountError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise AccountError("a password has at least 8 characters")
    h = _hasher().hash(password)
    with store.write() as conn:
        have = conn.execute(select(C.users.c.id).where(C.users.c.name == name)).first()
        if have:
            conn.execute(C.users.update().where(C.users.c.name == name)
                         .values(role=role, password_hash=h, disabled=0))
        else:
            conn.execute(C.users.insert().values(name=name, role=role, password_hash=h,
                                                 created_at=now(), disabled=0))


def list_users(store) -> list[dict]:
    from sqlalchemy import select
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(C.users.c.name, C.users.c.role, C.users.c.created_at, C.users.c.disabled)
            .order_by(C.users.c.name))]


def _since(window=WINDOW) -> str:
    return (datetime.now(timezone.utc) - window).strftime("%Y-%m-%dT%H:%M:%SZ")


def limited(store, name: str, remote: str) -> bool:
    """Too many recent failures for this user name or from this address."""
    from sqlalchemy import func, select
    f = C.login_failures
    with store.read() as conn:
        n_user = conn.execute(select(func.count()).select_from(f).where(
            f.c.at >= _since(), f.c.name == name[:NAME_MAX])).scalar()
        n_ip = conn.execute(select(func.count()).select_from(f).where(
            f.c.at >= _since(), f.c.remote == remote)).scalar()
    return n_user >= MAX_FAILURES or n_ip >= MAX_FAILURES * 4


def authenticate(store, name: str, password: str, remote: str) -> dict | None:
    """The user {name, role}, or None (the failure is counted)."""
    from sqlalchemy import select
    from argon2.exceptions import VerificationError, InvalidHashError
    ph = _hasher()
    with store.read() as conn:
        r = conn.execute(select(C.users.c.name, C.users.c.role, C.users.c.password_hash)
                         .where(C.users.c.name == name[:NAME_MAX], C.users.c.disabled == 0)).first()
    ok = False
    if r is not None:
        try:
            ok = ph.verify(r.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:   # the same work for an unknown name: no timing oracle of who exists
        try:
            ph.verify(_DUMMY.get() or _DUMMY.make(ph), password)
        except (VerificationError, InvalidHashError):
            pass
    if not ok:
        with store.write() as conn:     # the window's rows only: the table never grows
            conn.execute(C.login_failures.delete().where(C.login_failures.c.at < _since()))
            conn.execute(C.login_failures.insert().values(at=now(), name=name[:NAME_MAX],
                                                          remote=remote[:64]))
        return None
    return {"name": r.name, "role": r.role}


class _Dummy:
    h: str | None = None

    def get(self):
        return self.h

    def make(self, ph):
        self.h = ph.hash(secrets.token_hex(16))
        return self.h


_DUMMY = _Dummy()


def user_role(store, name: str) -> str | None:
    from sqlalchemy import select
    with store.read() as conn:
        r = conn.execute(select(C.users.c.role).where(C.users.c.name == name,
                                                      C.users.c.disabled == 0)).first()
    return r[0] if r else None


# ---------------------------------------------------------------- probe tokens

def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(store, probe: str, by: str | None = None, segments=()) -> str:
    """A new bearer token for `probe` (returned once; only its SHA-256 is kept).
    With `segments`, it may push only bundles of a vantage on one of them."""
    import json
    _check_name(probe)
    segs = sorted({s.strip() for s in segments if s and s.strip()})
    tok = "isk_" + secrets.token_urlsafe(32)
    with store.write() as conn:
        conn.execute(C.tokens.insert().values(probe=probe, token_sha256=token_digest(tok),
                                              created_at=now(), created_by=by,
                                              segments=json.dumps(segs) if segs else None))
    return tok


def revoke_token(store, token_id: int) -> None:
    with store.write() as conn:
        conn.execute(C.tokens.update().where(C.tokens.c.id == token_id,
                                             C.tokens.c.revoked_at.is_(None))
                     .values(revoked_at=now()))


def list_tokens(store) -> list[dict]:
    import json
    from sqlalchemy import select
    with store.read() as conn:
        return [dict(r._mapping, segments=json.loads(r.segments) if r.segments else None)
                for r in conn.execute(
            select(C.tokens.c.id, C.tokens.c.probe, C.tokens.c.segments, C.tokens.c.created_at,
                   C.tokens.c.created_by, C.tokens.c.revoked_at).order_by(C.tokens.c.id))]


def probe_of_token(store, token: str) -> tuple[str, list | None] | None:
    """(probe, its segments or None for any) of a valid, unrevoked token; None:
    unknown or revoked."""
    import json
    from sqlalchemy import select
    if not token or len(token) > 200:
        return None
    with store.read() as conn:
        r = conn.execute(select(C.tokens.c.probe, C.tokens.c.segments).where(
            C.tokens.c.token_sha256 == token_digest(token),
            C.tokens.c.revoked_at.is_(None))).first()
    if r is None:
        return None
    return r[0], (json.loads(r[1]) if r[1] else None)


# ---------------------------------------------------------------- audit log

def audit(store, *, who, role, remote, method, what, status, detail=None) -> None:
    with store.write() as conn:
        conn.execute(C.audit.insert().values(
            at=now(), who=(who or None) and str(who)[:100], role=role, remote=(remote or "")[:64],
            method=method, what=str(what)[:500], status=status,
            detail=None if detail is None else str(detail)[:4000]))


def audit_rows(store, limit: int = 500) -> list[dict]:
    from sqlalchemy import select
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(C.audit).order_by(C.audit.c.id.desc()).limit(limit))]


def secret(store) -> bytes:
    """The key that signs session cookies: kept in the database (made once)."""
    from sqlalchemy import select
    with store.write() as conn:
        r = conn.execute(select(C.settings.c.value).where(C.settings.c.name == "session_secret")).first()
        if r:
            return r[0].encode()
        v = secrets.token_urlsafe(48)
        conn.execute(C.settings.insert().values(name="session_secret", value=v))
        return v.encode()
