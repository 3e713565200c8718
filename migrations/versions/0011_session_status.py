"""patrol sessions built from points: a status (open / proposed / rejected / logged), sources points and trip

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:00:00

Every stored session is 'logged' (the server default), so all figures stay as they were. An open
session has no end yet: ended_at and duration_seconds become nullable; their CHECKs (end after
start, duration > 0) hold for every value that is there. On SQLite the column is added with
ALTER TABLE and the CHECK and NOT NULL text is rewritten in place (gridsvc.migrating), as 0009 and
0010 do: every stored row satisfies the new text, and the table is not rebuilt. The downgrade
refuses while sessions other than logged ones exist.
"""
import sqlalchemy as sa
from alembic import op

from gridsvc.migrating import rewrite_sqlite_check

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OLD_SOURCES = "source IN ('web', 'api', 'gpx', 'import')"
NEW_SOURCES = "source IN ('web', 'api', 'gpx', 'import', 'points', 'trip')"
STATUSES = "status IN ('open', 'proposed', 'rejected', 'logged')"
# SQLite keeps the table's CREATE text: the NOT NULLs to drop, and where the status check goes.
SQLITE_NOT_NULL = (("ended_at DATETIME NOT NULL", "ended_at DATETIME"),
                   ("duration_seconds INTEGER NOT NULL", "duration_seconds INTEGER"))
SQLITE_OLD_CHECK = f"CONSTRAINT ck_patrol_sessions_source CHECK ({OLD_SOURCES})"
SQLITE_NEW_CHECK = (f"CONSTRAINT ck_patrol_sessions_source CHECK ({NEW_SOURCES}), "
                    f"CONSTRAINT ck_patrol_sessions_status CHECK ({STATUSES})")
OPEN_INDEX = "uq_patrol_sessions_open"


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("patrol_sessions", sa.Column("status", sa.String(16), nullable=False, server_default="logged"))
    if bind.dialect.name == "postgresql":
        op.drop_constraint("ck_patrol_sessions_source", "patrol_sessions", type_="check")
        op.create_check_constraint("ck_patrol_sessions_source", "patrol_sessions", NEW_SOURCES)
        op.create_check_constraint("ck_patrol_sessions_status", "patrol_sessions", STATUSES)
        op.alter_column("patrol_sessions", "ended_at", nullable=True)
        op.alter_column("patrol_sessions", "duration_seconds", nullable=True)
    else:
        rewrite_sqlite_check(bind, table="patrol_sessions", old=SQLITE_OLD_CHECK, new=SQLITE_NEW_CHECK)
        for old, new in SQLITE_NOT_NULL:
            rewrite_sqlite_check(bind, table="patrol_sessions", old=old, new=new)
    op.create_index(OPEN_INDEX, "patrol_sessions", ["patroller_id"], unique=True,
                    sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))


def downgrade() -> None:
    bind = op.get_bind()
    others = bind.exec_driver_sql("SELECT count(*) FROM patrol_sessions WHERE status <> 'logged' "
                                  "OR source IN ('points', 'trip')").scalar()
    if others:
        raise RuntimeError(f"patrol_sessions holds {others} sessions built from points (open, proposed, rejected "
                           "or from points); revision 0010 has no place for them")
    op.drop_index(OPEN_INDEX, table_name="patrol_sessions")
    if bind.dialect.name == "postgresql":
        op.alter_column("patrol_sessions", "ended_at", nullable=False)
        op.alter_column("patrol_sessions", "duration_seconds", nullable=False)
        op.drop_constraint("ck_patrol_sessions_status", "patrol_sessions", type_="check")
        op.drop_constraint("ck_patrol_sessions_source", "patrol_sessions", type_="check")
        op.create_check_constraint("ck_patrol_sessions_source", "patrol_sessions", OLD_SOURCES)
        op.drop_column("patrol_sessions", "status")
    else:
        for old, new in SQLITE_NOT_NULL:
            rewrite_sqlite_check(bind, table="patrol_sessions", old=new + ",", new=old + ",")
        rewrite_sqlite_check(bind, table="patrol_sessions", old=SQLITE_NEW_CHECK, new=SQLITE_OLD_CHECK)
        op.drop_column("patrol_sessions", "status")
