"""What tells a finding apart (issue 22): the open services of its subject
(`subject.ports`, a JSON list such as ["8291/tcp"]) and the destination a
leak reached (`subject.destination`), so history shows them. Rows stored
before this revision have neither (NULL): their documents still hold them.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("subject_ports", sa.Text))
        batch.add_column(sa.Column("subject_destination", sa.String(300)))


def downgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("subject_destination")
        batch.drop_column("subject_ports")
