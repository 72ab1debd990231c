"""Users (argon2id), probe tokens (only their SHA-256 is kept), the login
rate limit, the audit log.

Login limit: 5 failures per (address, user name) and 20 per address in 15
minutes. A try takes its place in the window (a row, under a lock) BEFORE
its password is checked, so 40 parallel guesses get 5 checks, not 40; a burst
from one address never locks the same user out from another address.

Changing a user (its password, role, disabling or removing it) ends every
session of that user (scanner.serve.sessions)."""
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
            conn.execute(C.sessions.delete().where(C.sessions.c.user_id == have[0]))
        else:
            conn.execute(C.users.insert().values(name=name, role=role, password_hash=h,
                                                 created_at=now(), disabled=0))


def list_users(store) -> list[dict]:
    from sqlalchemy import func, select
    n = (select(func.count()).select_from(C.sessions)
         .where(C.sessions.c.user_id == C.users.c.id).scalar_subquery())
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(C.users.c.name, C.users.c.role, C.users.c.created_at, C.users.c.disabled,
                   (C.users.c.totp_secret.is_not(None)).label("totp"), n.label("sessions"))
            .order_by(C.users.c.name))]


def _user_id(conn, name: str) -> int:
    from sqlalchemy import select
    r = conn.execute(select(C.users.c.id).where(C.users.c.name == name)).first()
    if r is None:
        raise AccountError(f"no user {name!r}")
    return r[0]


def set_password(store, name: str, password: str, *, old: str | None = None) -> None:
    """A new password (with `old`, only when it is the current one); every
    session of the user ends."""
    from sqlalchemy import select
    from argon2.exceptions import InvalidHashError, VerificationError
    if len(password) < 8:
        raise AccountError("a password has at least 8 characters")
    ph = _hasher()
    if old is not None:
        with store.read() as conn:
            h = conn.execute(select(C.users.c.password_hash).where(C.users.c.name == name)).scalar()
        try:
            ok = bool(h) and ph.verify(h, old)
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            raise AccountError("the current password is wrong")
    h = ph.hash(password)
    with store.write() as conn:
        uid = _user_id(conn, name)
        conn.execute(C.users.update().where(C.users.c.id == uid).values(password_hash=h))
        conn.execute(C.sessions.delete().where(C.sessions.c.user_id == uid))


def disable_user(store, name: str, disabled: bool = True) -> None:
    with store.write() as conn:
        uid = _user_id(conn, name)
        conn.execute(C.users.update().where(C.users.c.id == uid).values(disabled=int(disabled)))
        conn.execute(C.sessions.delete().where(C.sessions.c.user_id == uid))


def remove_user(store, name: str) -> None:
    with store.write() as conn:
        uid = _user_id(conn, name)
        conn.execute(C.sessions.delete().where(C.sessions.c.user_id == uid))
        conn.execute(C.users.delete().where(C.users.c.id == uid))


def has_totp(store, name: str) -> bool:
    from sqlalchemy import select
    with store.read() as conn:
        return conn.execute(select(C.users.c.totp_secret).where(C.users.c.name == name)
                            ).scalar() is not None


def totp_of(store, name: str) -> str | None:
    """The user's TOTP secret (None: no second factor)."""
    from sqlalchemy import select
    with store.read() as conn:
        return conn.execute(select(C.users.c.totp_secret).where(C.users.c.name == name)).scalar()


def set_totp(store, name: str, secret: str | None) -> None:
    """The user's TOTP secret (base32), or None to turn the second factor off."""
    with store.write() as conn:
        uid = _user_id(conn, name)
        conn.execute(C.users.update().where(C.users.c.id == uid).values(totp_secret=secret))


def user_by_id(store, user_id: int) -> dict | None:
    """{id, name, role} of an enabled user."""
    from sqlalchemy import select
    with store.read() as conn:
        r = conn.execute(select(C.users.c.id, C.users.c.name, C.users.c.role)
                         .where(C.users.c.id == user_id, C.users.c.disabled == 0)).first()
    return dict(r._mapping) if r else None


def _since(window=WINDOW) -> str:
    return (datetime.now(timezone.utc) - window).strftime("%Y-%m-%dT%H:%M:%SZ")


PER_ADDRESS = MAX_FAILURES * 4


def limit_key(remote: str) -> str:
    """The address a login window counts: an IPv6 address as its /64 (one host
    may hold a whole prefix: SLAAC privacy addresses, a cloud VM's /64, so one
    window per address would be no limit), an IPv4-mapped one as IPv4."""
    import ipaddress
    try:
        ip = ipaddress.ip_address((remote or "").strip().split("%")[0])
    except ValueError:
        return (remote or "")[:64]
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _window_counts(conn, name: str, remote: str) -> tuple[int, int]:
    from sqlalchemy import func, select
    f = C.login_failures
    n_pair = conn.execute(select(func.count()).select_from(f).where(
        f.c.at >= _since(), f.c.name == name[:NAME_MAX], f.c.remote == remote[:64])).scalar()
    n_ip = conn.execute(select(func.count()).select_from(f).where(
        f.c.at >= _since(), f.c.remote == remote[:64])).scalar()
    return n_pair, n_ip


def limited(store, name: str, remote: str) -> bool:
    """Too many recent failures for this user name from this address, or from this address."""
    remote = limit_key(remote)
    with store.read() as conn:
        n_pair, n_ip = _window_counts(conn, name, remote)
    return n_pair >= MAX_FAILURES or n_ip >= PER_ADDRESS


def _reserve(store, name: str, remote: str) -> int | None:
    """A place in the window for one try (a failure row, removed again if the
    password is right), or None when the window is full: taken under a lock,
    so parallel tries are counted one by one."""
    import hashlib as _h
    remote = limit_key(remote)
    with store.write() as conn:
        store.lock(conn, int.from_bytes(_h.sha256(b"login:" + remote.encode()).digest()[:8],
                                        "big", signed=True))
        conn.execute(C.login_failures.delete().where(C.login_failures.c.at < _since()))
        n_pair, n_ip = _window_counts(conn, name, remote)
        if n_pair >= MAX_FAILURES or n_ip >= PER_ADDRESS:
            return None
        res = conn.execute(C.login_failures.insert().values(at=now(), name=name[:NAME_MAX],
                                                            remote=remote[:64]))
        return res.inserted_primary_key[0]


def clear_failures(store, name: str, remote: str) -> None:
    """A login that succeeded whole (password and, when enrolled, the one-time
    code): this (address, user)'s window is cleared. Until then the try's
    place stays a failure, so a wrong one-time code counts like a wrong password."""
    remote = limit_key(remote)
    with store.write() as conn:
        conn.execute(C.login_failures.delete().where(
            C.login_failures.c.name == name[:NAME_MAX], C.login_failures.c.remote == remote[:64]))


class Limited(Exception):
    """The login window of this (address, user) or this address is full."""


def authenticate(store, name: str, password: str, remote: str) -> dict | None:
    """The user {id, name, role, totp}, or None (the failure is counted); Limited
    when the window is full (the password is then not checked at all). The try
    stays counted until the caller's clear_failures() (the whole login succeeded)."""
    from sqlalchemy import select
    from argon2.exceptions import VerificationError, InvalidHashError
    ph = _hasher()
    slot = _reserve(store, name, remote)
    if slot is None:
        raise Limited(name)
    with store.read() as conn:
        r = conn.execute(select(C.users.c.id, C.users.c.name, C.users.c.role,
                                C.users.c.password_hash, C.users.c.totp_secret)
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
        return None
    return {"id": r.id, "name": r.name, "role": r.role, "totp": r.totp_secret}


class _Dummy:
    h: str | None = None

    def get(self):
        return self.h

    def make(self, ph):
        self.h = ph.hash(secrets.token_hex(16))
        return self.h


_DUMMY = _Dummy()


def user_named(store, name: str) -> dict | None:
    """{id, name, role} of the enabled user of that name."""
    from sqlalchemy import select
    with store.read() as conn:
        r = conn.execute(select(C.users.c.id, C.users.c.name, C.users.c.role)
                         .where(C.users.c.name == name, C.users.c.disabled == 0)).first()
    return dict(r._mapping) if r else None


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

AUDIT_LOCK = 0x150_5CA0_A0D1
_CHAINED = ("at", "who", "role", "remote", "method", "what", "status", "detail", "target",
            "attempted")


def row_hash(prev: str | None, row: dict) -> str:
    """SHA-256 of the previous row's hash and this row's fields (canonical JSON)."""
    import json
    body = json.dumps([prev or ""] + [row.get(k) for k in _CHAINED], ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def audit(store, *, who, role, remote, method, what, status, detail=None, target=None,
          attempted=None) -> None:
    """One row, its hash chained to the previous row's (under a lock: one chain)."""
    from sqlalchemy import select
    row = {"at": now(), "who": (who or None) and str(who)[:100], "role": role,
           "remote": (remote or "")[:64], "method": method, "what": str(what)[:500],
           "status": status, "detail": None if detail is None else str(detail)[:4000],
           "target": None if target is None else str(target)[:200],
           "attempted": None if attempted is None else str(attempted)[:100]}
    with store.write() as conn:
        store.lock(conn, AUDIT_LOCK)
        prev = conn.execute(select(C.audit.c.hash).order_by(C.audit.c.id.desc()).limit(1)).scalar()
        conn.execute(C.audit.insert().values(**row, hash=row_hash(prev, row)))


def _audit_query(q: str | None):
    from sqlalchemy import or_, select
    a = C.audit
    sel = select(a)
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")[:100] + "%"
        sel = sel.where(or_(*[a.c[k].like(like, escape="\\")
                              for k in ("who", "remote", "what", "detail", "target", "attempted")]))
    return sel


def audit_rows(store, limit: int = 500, *, offset: int = 0, q: str | None = None) -> list[dict]:
    """Newest first; `q` searches who, from, what, detail, target and attempted name."""
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(
            _audit_query(q).order_by(C.audit.c.id.desc()).limit(limit).offset(offset))]


def audit_count(store, q: str | None = None) -> int:
    from sqlalchemy import func, select
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(_audit_query(q).subquery())).scalar()


def audit_verify(store) -> list[int]:
    """The ids of rows whose hash does not follow from the row before them: a
    row changed, or one deleted before it (the oldest kept row is the anchor;
    retention removes from the start only). [] when the chain holds."""
    from sqlalchemy import select
    bad, prev, chained = [], None, False
    with store.read() as conn:
        for i, r in enumerate(conn.execute(select(C.audit).order_by(C.audit.c.id))):
            m = dict(r._mapping)
            if m["hash"] is None:          # rows written before the chain existed, only those:
                if chained:                # one after a chained row had its hash blanked
                    bad.append(m["id"])
                prev = None
                continue
            chained = True
            if i > 0 and prev is not None and row_hash(prev, m) != m["hash"]:
                bad.append(m["id"])
            prev = m["hash"]
    return bad


def audit_prune(store, days: float) -> int:
    """Delete the rows older than `days` (the retention); how many went."""
    from datetime import timedelta as _td
    cut = (datetime.now(timezone.utc) - _td(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with store.write() as conn:
        store.lock(conn, AUDIT_LOCK)
        return conn.execute(C.audit.delete().where(C.audit.c.at < cut)).rowcount or 0
