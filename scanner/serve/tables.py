"""The console's own tables, beside the store's (same database).

They are made with CREATE TABLE IF NOT EXISTS when the console opens the store
(create_all), not by the store's Alembic chain: the store must open without the
console. A later change to these tables needs a migration of its own.
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


def create(store) -> None:
    with store.write() as conn:
        metadata.create_all(conn, checkfirst=True)
