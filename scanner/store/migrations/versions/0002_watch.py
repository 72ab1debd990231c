"""The watch's tables (issue 27): its events, its state, its heartbeats.

    watch_events   every event `isoscan watch` raised (station history, the console's page)
    watch_state    the event keys it raised and the cards it saw go silent, so a
                   restart repeats nothing
    watch_health   one row per running watch (host, interface), its last heartbeat:
                   a watch that stopped beating is vantage-silent

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watch_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("check_id", sa.String(100)),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("segment", sa.String(200)),
        sa.Column("ip", sa.String(64)),
        sa.Column("mac", sa.String(32)),
        sa.Column("device", sa.String(200)),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_watch_events_at", "watch_events", ["at"])
    op.create_index("ix_watch_events_segment_mac", "watch_events", ["segment", "mac"])
    op.create_table(
        "watch_state",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("value", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "watch_health",
        sa.Column("watch", sa.String(300), primary_key=True),
        sa.Column("host", sa.String(200)),
        sa.Column("segment", sa.String(200)),
        sa.Column("interface", sa.String(64)),
        sa.Column("pid", sa.Integer),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("beat_at", sa.String(40), nullable=False),
        sa.Column("status", sa.String(200)),
    )


def downgrade() -> None:
    for t in ("watch_health", "watch_state", "watch_events"):
        op.drop_table(t)
