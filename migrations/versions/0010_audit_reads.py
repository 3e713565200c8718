"""the audit trail records reads: action 'read' (who was shown a patroller's points, and when)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:00:00

Only the CHECK on audit_log.action is widened; no row changes. On SQLite the CHECK is rewritten in
place (SQLite's documented procedure for relaxing a CHECK through writable_schema), as 0009 does for
positions: every stored row satisfies the wider check, and the append-only table is not rebuilt.
The downgrade refuses while read rows exist: the trail is append-only, they cannot be removed.
"""
from alembic import op

from gridsvc.migrating import rewrite_sqlite_check

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD_ACTIONS = "action IN ('insert', 'update', 'delete')"
NEW_ACTIONS = "action IN ('insert', 'update', 'delete', 'read')"


def _replace_check(old: str, new: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("ck_audit_log_action", "audit_log", type_="check")
        op.create_check_constraint("ck_audit_log_action", "audit_log", new)
    else:
        rewrite_sqlite_check(op.get_bind(), table="audit_log", old=old, new=new)


def upgrade() -> None:
    _replace_check(OLD_ACTIONS, NEW_ACTIONS)


def downgrade() -> None:
    reads = op.get_bind().exec_driver_sql("SELECT count(*) FROM audit_log WHERE action = 'read'").scalar()
    if reads:
        raise RuntimeError(f"audit_log holds {reads} read records; the trail is append-only, so 0010 "
                           "cannot be undone while they exist")
    _replace_check(NEW_ACTIONS, OLD_ACTIONS)
