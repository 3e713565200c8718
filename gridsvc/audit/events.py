"""Access events in the audit trail: who was shown data whose rows are never audited, and when.

The listener (gridsvc.audit.listener) records row changes on its own. A read leaves no change, so
the reading side says it happened with record_read: one `read` row naming the subject (a table and
row id, e.g. the patroller) and what was read, in `after`. It must never hold the data itself (a
coordinate, a device key): callers pass only names and ids. Flushes only: the caller's transaction
commits it with the answer, so data is never answered without its read recorded.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from gridsvc.audit.context import current_actor
from gridsvc.audit.models import AuditEntry

# What a read row may say about the read: plain names and ids, no value of the data read.
_DETAIL_TYPES = (str, int, type(None))


def record_read(session: Session, *, table: str, row_id, reader_user_id: int | None, details: dict) -> AuditEntry:
    """Add one `read` audit row: `reader_user_id` read `details` of `table` row `row_id`; flushes.

    The actor's description, request id and address come from the current actor, as for every
    other audit row. `details` values must be text, whole numbers or None.
    """
    for key, value in details.items():
        if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, _DETAIL_TYPES):
            raise TypeError(f"a read's details are names and ids only, not {type(value).__name__}")
    actor = current_actor()
    entry = AuditEntry(
        at=dt.datetime.now(dt.timezone.utc), actor_user_id=reader_user_id, actor=actor.description[:200],
        action="read", table_name=table, row_id=None if row_id is None else str(row_id),
        before=None, after=dict(details), request_id=actor.request_id, ip=actor.ip,
    )
    session.add(entry)
    session.flush()
    return entry
