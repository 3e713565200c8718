"""camera registry: retirement, the position as given (WGS-84 or GCJ-02), history of changes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 06:30:00
"""
from alembic import op
import sqlalchemy as sa
import gridsvc.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch): recreating cameras on SQLite would lose the SpatiaLite
    # registration and R*Tree index of its geom column.
    op.add_column('cameras', sa.Column('source_crs', sa.String(length=8), server_default='wgs84', nullable=False))
    op.add_column('cameras', sa.Column('source_lon', sa.Float(), nullable=True))
    op.add_column('cameras', sa.Column('source_lat', sa.Float(), nullable=True))
    op.add_column('cameras', sa.Column('retired_at', gridsvc.db.UTCDateTime(), nullable=True))

    op.create_table('camera_status_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('old_value', sa.String(length=200), nullable=True),
    sa.Column('new_value', sa.String(length=200), nullable=True),
    sa.Column('changed_at', gridsvc.db.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_camera_status_changes_camera_at', 'camera_status_changes', ['camera_id', 'changed_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_camera_status_changes_camera_at', table_name='camera_status_changes')
    op.drop_table('camera_status_changes')
    # SQLite >= 3.35 drops plain (non-geometry) columns in place; no batch copy of cameras needed.
    for column in ('retired_at', 'source_lat', 'source_lon', 'source_crs'):
        op.drop_column('cameras', column)
