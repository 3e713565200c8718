"""The append-only audit trail: one row per inserted, updated or deleted row of any other table,
and one per read of data whose every read is logged (a patroller's positions: gridsvc.audit.events)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gridsvc.apidoc import DATE_TIME, INTEGER, STRING, nullable, obj
from gridsvc.db import Base, UTCDateTime

# "read": someone was shown personal data that is never row-audited (a patroller's points); the row
# names whose (table_name "patrollers", row_id) and what was read (after), never the data itself.
ACTIONS = ("insert", "update", "delete", "read")
_VALUES = {"type": ["object", "null"], "additionalProperties": {},
           "description": "the row's columns by name (secrets redacted); null when there is no such side"}
# The JSON Schema of AuditEntry.to_dict, beside it (the API's entries: gridsvc.audit.schemas).
AUDIT_ENTRY = obj({
    "id": INTEGER,
    "at": DATE_TIME,
    "actor": {**STRING, "description": "user:<name>, token:<name>#<id>, cli:<os user>, anonymous, ..."},
    "actor_user_id": nullable(INTEGER),
    "action": {"type": "string", "enum": list(ACTIONS)},
    "table": {**STRING, "description": "the table whose row it is (a read: patrollers)"},
    "row_id": nullable(STRING),
    "before": {**_VALUES, "description": "the values before (update, delete)"},
    "after": {**_VALUES, "description": "the values after (insert, update), or what was read (never the data)"},
    "request_id": nullable(STRING),
    "ip": nullable(STRING),
}, required=["id", "at", "actor", "actor_user_id", "action", "table", "row_id", "before", "after", "request_id", "ip"])


class AuditEntry(Base):
    """Who changed which row of which table, when, from what to what. Never updated, never deleted."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.CheckConstraint("action IN ('insert', 'update', 'delete', 'read')", name="ck_audit_log_action"),
        sa.Index("ix_audit_log_table_row", "table_name", "row_id"),
        sa.Index("ix_audit_log_at", "at"),
        sa.Index("ix_audit_log_actor_user", "actor_user_id"),
    )

    # BIGINT on PostGIS; SQLite's rowid alias must be declared INTEGER to autoincrement.
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # No foreign key: the trail must outlive (and never block) changes to the users table.
    actor_user_id: Mapped[int | None] = mapped_column(sa.Integer)
    actor: Mapped[str] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(8))
    table_name: Mapped[str] = mapped_column(sa.String(64))
    row_id: Mapped[str | None] = mapped_column(sa.String(64))
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)
    request_id: Mapped[str | None] = mapped_column(sa.String(32))
    ip: Mapped[str | None] = mapped_column(sa.String(64))

    def to_dict(self) -> dict:
        """JSON-ready form for the API and the page."""
        return {
            "id": self.id, "at": self.at.isoformat(), "actor": self.actor, "actor_user_id": self.actor_user_id,
            "action": self.action, "table": self.table_name, "row_id": self.row_id,
            "before": self.before, "after": self.after, "request_id": self.request_id, "ip": self.ip,
        }
