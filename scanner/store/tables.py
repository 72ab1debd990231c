"""The store's tables (SQLAlchemy Core). The schema is made and changed only by
the Alembic migrations in migrations/versions/ (run on open); these
definitions are what queries use, and tests/store/test_schema.py checks that
they match what the migrations build.

Times are ISO 8601 UTC strings ('2026-11-30T02:00:00Z'): they sort as text,
the same on SQLite and PostgreSQL.
"""
from __future__ import annotations

from sqlalchemy import (Column, ForeignKey, Index, Integer, LargeBinary, MetaData, String,
                        Table, Text)

metadata = MetaData()

# one row per stored bundle or merged bundle
scans = Table(
    "scans", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scan_id", String(200), nullable=False, unique=True),
    Column("content_sha256", String(64), nullable=False),
    Column("kind", String(16), nullable=False),          # bundle | merged
    Column("started_at", String(40), nullable=False),
    Column("finished_at", String(40), nullable=False),
    Column("segment", String(200)),                      # a bundle's vantage segment
    Column("vantage_ip", String(64)),
    Column("vantage_mac", String(32)),
    Column("tool_version", String(64)),
    Column("verdict", String(20), nullable=False),
    Column("inventory_sha256", String(64)),
    Column("ingested_at", String(40), nullable=False),
    Index("ix_scans_started_at", "started_at"),
    Index("ix_scans_segment_started", "segment", "started_at"),
)

# the vantages of a scan (one for a bundle, each source of a merged bundle)
scan_vantages = Table(
    "scan_vantages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scan", Integer, ForeignKey("scans.id", ondelete="CASCADE"), nullable=False),
    Column("segment", String(200)),
    Column("ip", String(64)),
    Column("mac", String(32)),
    Column("started_at", String(40)),
    Column("discovery", String(16)),          # ok | error | not-run: may stations be missed
    Index("ix_scan_vantages_scan", "scan"),
    Index("ix_scan_vantages_segment", "segment"),
)

# every finding of a scan (pass, fail, error, skipped: what was assessed is known)
findings = Table(
    "findings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scan", Integer, ForeignKey("scans.id", ondelete="CASCADE"), nullable=False),
    Column("fingerprint", String(40), nullable=False),
    Column("check_id", String(100), nullable=False),
    Column("status", String(10), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("segment", String(200)),
    Column("subject_ip", String(64)),
    Column("subject_mac", String(32)),
    Column("subject_device", String(200)),
    Column("peer_segment", String(200)),
    Column("title", Text),
    Column("vantages", Text),     # JSON list of the vantage segments it came from
    Column("subject_ports", Text),             # (migration 0003) JSON list: the open services ("8291/tcp")
    Column("subject_destination", String(300)),   # where a leak reached
    Index("ix_findings_scan", "scan"),
    Index("ix_findings_fingerprint", "fingerprint"),
    Index("ix_findings_segment_check", "segment", "check_id"),
)

# the stations a scan's discovery saw (arpwatch's database, one row a sighting)
sightings = Table(
    "sightings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scan", Integer, ForeignKey("scans.id", ondelete="CASCADE"), nullable=False),
    Column("segment", String(200), nullable=False),
    Column("mac", String(32), nullable=False),
    Column("ip", String(64)),
    Column("seen_at", String(40), nullable=False),
    Index("ix_sightings_scan", "scan"),
    Index("ix_sightings_segment_mac", "segment", "mac"),
)

# the stored document itself (zlib-compressed canonical JSON), so nothing is lost
documents = Table(
    "documents", metadata,
    Column("scan", Integer, ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True),
    Column("body", LargeBinary, nullable=False),
)

canary_logs = Table(
    "canary_logs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("content_sha256", String(64), nullable=False, unique=True),
    Column("canary", String(200)),
    Column("arrivals", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("ingested_at", String(40), nullable=False),
)

# `isoscan watch` (issue 27, migration 0002): its events, the keys it raised, its heartbeats
watch_events = Table(
    "watch_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("event", String(40), nullable=False),
    Column("check_id", String(100)),
    Column("severity", String(10), nullable=False),
    Column("segment", String(200)),
    Column("ip", String(64)),
    Column("mac", String(32)),
    Column("device", String(200)),
    Column("key", String(300), nullable=False),
    Column("detail", Text),                       # JSON: {"detail": Text, "evidence": [...]}
    Index("ix_watch_events_at", "at"),
    Index("ix_watch_events_segment_mac", "segment", "mac"),
)

watch_state = Table(
    "watch_state", metadata,
    Column("key", String(300), primary_key=True),
    Column("value", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
)

watch_health = Table(
    "watch_health", metadata,
    Column("watch", String(300), primary_key=True),     # "host interface"
    Column("host", String(200)),
    Column("segment", String(200)),
    Column("interface", String(64)),
    Column("pid", Integer),
    Column("started_at", String(40), nullable=False),
    Column("beat_at", String(40), nullable=False),
    Column("status", String(200)),
)
