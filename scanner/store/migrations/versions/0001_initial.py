"""The first store schema (isoscan 0.1, issue 14).

A migration is frozen once released: later changes are new revisions, so a
store made by this version upgrades with `upgrade head` (run on open).

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scan_id", sa.String(200), nullable=False, unique=True),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("finished_at", sa.String(40), nullable=False),
        sa.Column("segment", sa.String(200)),
        sa.Column("vantage_ip", sa.String(64)),
        sa.Column("vantage_mac", sa.String(32)),
        sa.Column("tool_version", sa.String(64)),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("inventory_sha256", sa.String(64)),
        sa.Column("ingested_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_scans_started_at", "scans", ["started_at"])
    op.create_index("ix_scans_segment_started", "scans", ["segment", "started_at"])
    op.create_table(
        "scan_vantages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scan", sa.Integer, sa.ForeignKey("scans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("segment", sa.String(200)),
        sa.Column("ip", sa.String(64)),
        sa.Column("mac", sa.String(32)),
        sa.Column("started_at", sa.String(40)),
        sa.Column("discovery", sa.String(16)),
    )
    op.create_index("ix_scan_vantages_scan", "scan_vantages", ["scan"])
    op.create_index("ix_scan_vantages_segment", "scan_vantages", ["segment"])
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scan", sa.Integer, sa.ForeignKey("scans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("fingerprint", sa.String(40), nullable=False),
        sa.Column("check_id", sa.String(100), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("segment", sa.String(200)),
        sa.Column("subject_ip", sa.String(64)),
        sa.Column("subject_mac", sa.String(32)),
        sa.Column("subject_device", sa.String(200)),
        sa.Column("peer_segment", sa.String(200)),
        sa.Column("title", sa.Text),
        sa.Column("vantages", sa.Text),
    )
    op.create_index("ix_findings_scan", "findings", ["scan"])
    op.create_index("ix_findings_fingerprint", "findings", ["fingerprint"])
    op.create_index("ix_findings_segment_check", "findings", ["segment", "check_id"])
    op.create_table(
        "sightings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scan", sa.Integer, sa.ForeignKey("scans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("segment", sa.String(200), nullable=False),
        sa.Column("mac", sa.String(32), nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("seen_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_sightings_scan", "sightings", ["scan"])
    op.create_index("ix_sightings_segment_mac", "sightings", ["segment", "mac"])
    op.create_table(
        "documents",
        sa.Column("scan", sa.Integer, sa.ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "canary_logs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("content_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("canary", sa.String(200)),
        sa.Column("arrivals", sa.Integer, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("ingested_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    for t in ("canary_logs", "documents", "sightings", "findings", "scan_vantages", "scans"):
        op.drop_table(t)
