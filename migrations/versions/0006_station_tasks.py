"""station-run tasks: a task can be cancelled; a session entered from a paper sign-in sheet is marked

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 00:30:00
"""
from alembic import op
import sqlalchemy as sa
import gridsvc.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch): recreating these tables on SQLite would lose the SpatiaLite
    # geometry registration and trip over their foreign keys.
    op.add_column("patrol_tasks", sa.Column("cancelled_at", gridsvc.db.UTCDateTime(), nullable=True))
    op.add_column("patrol_sessions", sa.Column("from_paper", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    # SQLite >= 3.35 drops plain (non-geometry) columns in place.
    op.drop_column("patrol_sessions", "from_paper")
    op.drop_column("patrol_tasks", "cancelled_at")
