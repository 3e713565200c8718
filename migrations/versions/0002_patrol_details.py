"""patrol details: start point and track length of a session, task area, task sign-ups, time per grid

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 06:05:46
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2  # noqa: F401  (registers the geospatial operations)
import gridsvc.db
from geoalchemy2 import Geometry

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('patrol_grid_time',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Integer(), nullable=False),
    sa.CheckConstraint('seconds > 0', name='ck_patrol_grid_time_seconds'),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['session_id'], ['patrol_sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'grid_id')
    )
    op.create_index('ix_patrol_grid_time_grid_id', 'patrol_grid_time', ['grid_id'], unique=False)

    op.create_table('patrol_task_signups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('patroller_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('signed_up_at', gridsvc.db.UTCDateTime(), nullable=False),
    sa.Column('confirmed_at', gridsvc.db.UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('signed_up', 'attended', 'absent', 'cancelled')", name='ck_patrol_task_signups_status'),
    sa.ForeignKeyConstraint(['patroller_id'], ['patrollers.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['session_id'], ['patrol_sessions.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['task_id'], ['patrol_tasks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_id'),
    sa.UniqueConstraint('task_id', 'patroller_id', name='uq_patrol_task_signups_task_patroller')
    )
    op.create_index('ix_patrol_task_signups_patroller_id', 'patrol_task_signups', ['patroller_id'], unique=False)
    op.create_index('ix_patrol_task_signups_task_id', 'patrol_task_signups', ['task_id'], unique=False)

    # Plain ADD COLUMN (no batch): recreating patrol_sessions on SQLite would lose the SpatiaLite
    # registration and R*Tree index of its track column.
    op.add_geospatial_column('patrol_sessions', sa.Column('start_point', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True))
    op.add_column('patrol_sessions', sa.Column('track_length_m', sa.Float(), nullable=True))
    op.add_geospatial_column('patrol_tasks', sa.Column('area', Geometry(geometry_type='GEOMETRY', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite >= 3.35 drops columns in place; SpatiaLite must forget a geometry column first.
        # (A batch copy of patrol_sessions would trip over its foreign keys and R*Tree.)
        for table, column in (("patrol_tasks", "area"), ("patrol_sessions", "start_point")):
            op.execute(f"SELECT DiscardGeometryColumn('{table}', '{column}')")
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        op.execute("ALTER TABLE patrol_sessions DROP COLUMN track_length_m")
    else:
        op.drop_column('patrol_tasks', 'area')
        op.drop_column('patrol_sessions', 'start_point')
        op.drop_column('patrol_sessions', 'track_length_m')
    op.drop_index('ix_patrol_task_signups_task_id', table_name='patrol_task_signups')
    op.drop_index('ix_patrol_task_signups_patroller_id', table_name='patrol_task_signups')
    op.drop_table('patrol_task_signups')
    op.drop_index('ix_patrol_grid_time_grid_id', table_name='patrol_grid_time')
    op.drop_table('patrol_grid_time')
