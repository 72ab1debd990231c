"""The console's own tables, beside the store's (same database).

They are made with CREATE TABLE IF NOT EXISTS when the console opens the store
(create_all), not by the store's Alembic chain: the store must open without the
console. A column added later is added by `create` (ADDED below: nullable, so
ALTER TABLE ADD COLUMN on SQLite and PostgreSQL alike).

Every table here is the console's: the probes' database role has no grant on
console_* (docs/console.md), so a probe's URL reads no session, user or token.
"""
from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

users = Table(
    "console_users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(16), nullable=False),            # admin | inspector | viewer
    Column("password_hash", String(200), nullable=False),  # argon2id
    Column("created_at", String(40), nullable=False),
    Column("disabled", Integer, nullable=False, default=0),
    Column("totp_secret", String(64)),     # base32 (RFC 6238), admins who enrolled
)

# server-side sessions: the cookie is a random id, only its SHA-256 is kept, so
# nothing read from this table opens a session (there is no signing secret)
sessions = Table(
    "console_sessions", metadata,
    Column("id_sha256", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False),
    Column("name", String(100), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("seen_at", String(40), nullable=False),
    Column("remote", String(64)),
    Index("ix_console_sessions_user", "user_id"),
)

# waivers (SPEC §7), kept in the store: the console and the CLI's
# `--waivers store` (report --db, alert) read the same ones; waivers.yaml
# imports and exports them (`isoscan serve waivers import|export`)
waivers = Table(
    "console_waivers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(200)),        # one finding, or
    Column("match", Text),                     # JSON {check, segment, subject, ip, mac} globs
    Column("reason", Text, nullable=False),
    Column("approver", String(100), nullable=False),
    Column("expires", String(10), nullable=False),     # YYYY-MM-DD, valid through that day (UTC)
    Column("created_by", String(100), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
    Column("revoked_by", String(100)),
    Column("changed_at", String(40), nullable=False),
    Index("ix_console_waivers_fp", "fingerprint"),
)

# a finding acknowledged: who is to fix it, and a note (inspector or admin)
acks = Table(
    "console_acks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(64), nullable=False),
    Column("assignee", String(100), nullable=False),
    Column("note", Text),
    Column("by", String(100), nullable=False),
    Column("at", String(40), nullable=False),
    Index("ix_console_acks_fp", "fingerprint"),
)

tokens = Table(
    "console_tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("probe", String(100), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("segments", Text),      # JSON list: the vantage segments it may push (null: any)
    Column("created_at", String(40), nullable=False),
    Column("created_by", String(100)),
    Column("revoked_at", String(40)),
)

audit = Table(
    "console_audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("who", String(100)),            # user, probe:NAME, key:FP, spool, or null
    Column("role", String(16)),
    Column("remote", String(64)),
    Column("method", String(8)),
    Column("what", String(500), nullable=False),
    Column("status", Integer),
    Column("detail", Text),
    Column("target", String(200)),         # the user, token or finding an action was on
    Column("attempted", String(100)),      # the name a failed login gave
    Column("hash", String(64)),            # SHA-256 of the previous row's hash and this row
    Index("ix_console_audit_at", "at"),
)

login_failures = Table(
    "console_login_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("name", String(100)),
    Column("remote", String(64)),
    Index("ix_console_login_failures_at", "at"),
)

# signed documents received: a replay (an older or reused sequence of a chain) is refused
chains = Table(
    "console_chains", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chain", String(200), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("key_fingerprint", String(200)),
    Column("received_at", String(40), nullable=False),
    Index("ix_console_chains_chain", "chain", "sequence"),
)

settings = Table(
    "console_settings", metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)


ADDED = {"console_audit": ("target", "attempted", "hash"), "console_users": ("totp_secret",)}


def create(store) -> None:
    from sqlalchemy import inspect
    from sqlalchemy.schema import CreateColumn
    with store.write() as conn:
        metadata.create_all(conn, checkfirst=True)
        insp = inspect(conn)
        for table, cols in ADDED.items():
            have = {c["name"] for c in insp.get_columns(table)}
            for name in cols:
                if name not in have:
                    col = metadata.tables[table].c[name]
                    ddl = CreateColumn(col).compile(dialect=conn.dialect)
                    conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {ddl}")
        # the signing secret of the old cookies: sessions are server-side now (sessions.py)
        conn.execute(settings.delete().where(settings.c.name == "session_secret"))
