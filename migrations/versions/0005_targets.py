"""completion targets: quota hours per volunteer for a period, zone-wide or per station

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 07:00:00
"""
from alembic import op
import sqlalchemy as sa
import gridsvc.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("quota_seconds", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", gridsvc.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name="ck_targets_dates"),
        sa.CheckConstraint("quota_seconds >= 0", name="ck_targets_quota"),
        sa.ForeignKeyConstraint(["station_id"], ["grids.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.create_index("ix_targets_dates", ["starts_on", "ends_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_targets_station_id"), ["station_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_targets_station_id"))
        batch_op.drop_index("ix_targets_dates")
    op.drop_table("targets")
