"""live streams: one row per open live stream, so the per-account cap holds across processes and servers

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 15:00:00

A new table only; its rows are transient (a stream renews its row while it runs), so the downgrade
simply drops it.
"""
import sqlalchemy as sa
from alembic import op

import gridsvc.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_streams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("opened_at", gridsvc.db.UTCDateTime(), nullable=False),
        sa.Column("seen_at", gridsvc.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_live_streams_user_id"), "live_streams", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_live_streams_user_id"), table_name="live_streams")
    op.drop_table("live_streams")
