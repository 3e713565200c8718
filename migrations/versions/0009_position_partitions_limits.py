"""positions from the recorder and track files; intake limits; on PostGIS positions partitioned by month

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 05:30:00

On PostgreSQL the positions table becomes a table partitioned by range of fixed_at, with a default
partition; the month partitions are created ahead by the application
(gridsvc.positions.partitions.ensure_partitions). A partitioned table's primary key must hold the
partition key, so there it is (id, fixed_at); id stays unique by its sequence.

On SQLite the source CHECK is widened in place (SQLite's documented procedure for relaxing a
CHECK constraint through writable_schema): every stored row satisfies the wider check, so the
table need not be rebuilt (a rebuild would have to re-register the SpatiaLite geometry column).
"""
import datetime as dt

import sqlalchemy as sa
from alembic import op

import gridsvc.db
from gridsvc.migrating import rewrite_sqlite_check

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OLD_SOURCES = "source IN ('osmand', 'traccar_json', 'owntracks')"
NEW_SOURCES = "source IN ('osmand', 'traccar_json', 'owntracks', 'recorder', 'gpx', 'geojson')"

_PARTITIONED = f"""
CREATE TABLE positions (
    id SERIAL NOT NULL,
    device_id INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    patroller_id INTEGER NOT NULL REFERENCES patrollers (id) ON DELETE RESTRICT,
    fixed_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    received_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    geom geometry(POINT, 4326) NOT NULL,
    accuracy_m FLOAT,
    speed_mps FLOAT,
    heading_deg FLOAT,
    altitude_m FLOAT,
    battery_percent FLOAT,
    source VARCHAR(16) NOT NULL,
    flags JSON NOT NULL,
    payload_digest VARCHAR(64) NOT NULL,
    CONSTRAINT positions_pkey PRIMARY KEY (id, fixed_at),
    CONSTRAINT uq_positions_device_fix_payload UNIQUE (device_id, fixed_at, payload_digest),
    CONSTRAINT ck_positions_source CHECK ({{sources}})
) PARTITION BY RANGE (fixed_at)
"""

_INDEXES = (
    "CREATE INDEX idx_positions_geom ON positions USING gist (geom)",
    "CREATE INDEX ix_positions_patroller_fixed ON positions (patroller_id, fixed_at)",
    "CREATE INDEX ix_positions_device_fixed ON positions (device_id, fixed_at)",
)


def _rebuild_positions_postgresql(*, partitioned: bool, sources: str) -> None:
    """Recreate positions (partitioned or plain) with its rows, ids and sequence position kept."""
    op.execute("CREATE TEMPORARY TABLE positions_copy ON COMMIT DROP AS SELECT * FROM positions")
    op.execute("DROP TABLE positions CASCADE")
    ddl = _PARTITIONED.replace("{sources}", sources)
    if not partitioned:
        ddl = (ddl.replace(") PARTITION BY RANGE (fixed_at)", ")")
               .replace("PRIMARY KEY (id, fixed_at)", "PRIMARY KEY (id)"))
    op.execute(ddl)
    for statement in _INDEXES:
        op.execute(statement)
    if partitioned:
        op.execute("CREATE TABLE positions_default PARTITION OF positions DEFAULT")
        # This month and the next three; from then on the application makes them ahead
        # (gridsvc.positions.partitions.ensure_partitions).
        month = dt.date.today().replace(day=1)
        for _ in range(4):
            following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            op.execute(f"CREATE TABLE positions_p{month:%Y%m} PARTITION OF positions "
                       f"FOR VALUES FROM ('{month.isoformat()}') TO ('{following.isoformat()}')")
            month = following
    op.execute("INSERT INTO positions SELECT * FROM positions_copy")
    op.execute("SELECT setval('positions_id_seq', COALESCE((SELECT max(id) FROM positions), 0) + 1, false)")


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("rate_tokens", sa.Float(), nullable=True))
        batch.add_column(sa.Column("rate_at", gridsvc.db.UTCDateTime(), nullable=True))
    op.create_table(
        "intake_address_limits",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", gridsvc.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("address"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _rebuild_positions_postgresql(partitioned=True, sources=NEW_SOURCES)
    else:
        rewrite_sqlite_check(op.get_bind(), table="positions", old=OLD_SOURCES, new=NEW_SOURCES)


def downgrade() -> None:
    # Points from the recorder and from track files cannot be kept under the narrower check.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DELETE FROM positions WHERE source IN ('recorder', 'gpx', 'geojson')")
        _rebuild_positions_postgresql(partitioned=False, sources=OLD_SOURCES)
    else:
        op.execute("DELETE FROM positions WHERE source IN ('recorder', 'gpx', 'geojson')")
        rewrite_sqlite_check(op.get_bind(), table="positions", old=NEW_SOURCES, new=OLD_SOURCES)
    op.drop_table("intake_address_limits")
    # Not batch mode: on SQLite it rebuilds devices, and dropping the old table (foreign keys on)
    # would delete every point through the positions -> devices cascade. ALTER TABLE DROP COLUMN
    # (SQLite 3.35+, PostgreSQL) keeps the table.
    op.execute("ALTER TABLE devices DROP COLUMN rate_at")
    op.execute("ALTER TABLE devices DROP COLUMN rate_tokens")
