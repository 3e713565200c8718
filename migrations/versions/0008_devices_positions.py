"""tracker devices (only the key's SHA-256 stored) and the positions they send

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:30:00
"""
from alembic import op
import sqlalchemy as sa
import gridsvc.db
from geoalchemy2 import Geometry

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

    # Positions are not row-audited (personal data: gridsvc.positions.models.Position).
    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("patroller_id", sa.Integer(), nullable=False),
        sa.Column("fixed_at", gridsvc.db.UTCDateTime(), nullable=False),
        sa.Column("received_at", gridsvc.db.UTCDateTime(), nullable=False),
        sa.Column("geom", Geometry(geometry_type="POINT", srid=4326, dimension=2, spatial_index=False,
                                   from_text="ST_GeomFromEWKT", name="geometry", nullable=False), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("heading_deg", sa.Float(), nullable=True),
        sa.Column("altitude_m", sa.Float(), nullable=True),
        sa.Column("battery_percent", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("payload_digest", sa.String(length=64), nullable=False),
        sa.CheckConstraint("source IN ('osmand', 'traccar_json', 'owntracks')", name="ck_positions_source"),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["patroller_id"], ["patrollers.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_id", "fixed_at", "payload_digest", name="uq_positions_device_fix_payload"),
    )
    with op.batch_alter_table("positions") as batch:
        batch.create_geospatial_index("idx_positions_geom", ["geom"], unique=False, postgresql_using="gist",
                                      postgresql_ops={})
        batch.create_index("ix_positions_patroller_fixed", ["patroller_id", "fixed_at"], unique=False)
        batch.create_index("ix_positions_device_fixed", ["device_id", "fixed_at"], unique=False)
    op.create_table(
        "duty_switches",
        sa.Column("patroller_id", sa.Integer(), nullable=False),
        sa.Column("on_since", gridsvc.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["patroller_id"], ["patrollers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("patroller_id"),
    )


def downgrade() -> None:
    op.drop_table("duty_switches")
    with op.batch_alter_table("positions") as batch:
        batch.drop_index("ix_positions_device_fixed")
        batch.drop_index("ix_positions_patroller_fixed")
        batch.drop_geospatial_index("idx_positions_geom", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table("positions")
    with op.batch_alter_table("devices") as batch:
        batch.drop_index(batch.f("ix_devices_patroller_id"))
    op.drop_table("devices")
