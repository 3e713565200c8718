"""tracker devices (only the key's SHA-256 stored) and the positions they send

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:30:00
"""
from alembic import op
import sqlalchemy as sa
import gridsvc.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patroller_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", gridsvc.db.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", gridsvc.db.UTCDateTime(), nullable=True),
        sa.Column("battery_percent", sa.Float(), nullable=True),
        sa.Column("datum", sa.String(length=8), server_default="wgs84", nullable=False),
        sa.Column("revoked_at", gridsvc.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint("datum IN ('wgs84', 'gcj02')", name="ck_devices_datum"),
        sa.ForeignKeyConstraint(["patroller_id"], ["patrollers.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("devices") as batch:
        batch.create_index(batch.f("ix_devices_patroller_id"), ["patroller_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_index(batch.f("ix_devices_patroller_id"))
    op.drop_table("devices")
