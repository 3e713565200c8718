"""Reading the audit trail: filters and pages. There is deliberately no function that writes or edits it."""
from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from sqlalchemy.orm import Session

from config import DefaultConfig
from gridsvc.audit.models import AuditEntry
from gridsvc.errors import ValidationError

MAX_PAGE_SIZE = 500
MAX_PAGE = 1_000_000  # (page - 1) x page size must stay an SQL integer


def _day(value: str | None, label: str) -> dt.date | None:
    if not value:
        return None
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):  # as the message says (not 20200131 or 2020-W01)
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError("audit_date", "The %(which)s date must look like 2020-01-31", which=label) from None


def search(
    session: Session,
    *,
    actor: str | None = None,
    actor_user_id: int | None = None,
    table: str | None = None,
    row_id: str | None = None,
    action: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    tz: str = DefaultConfig.DISPLAY_TIMEZONE,
    page: int = 1,
    page_size: int = 50,
) -> dict:
    """Entries matching every given filter, newest first, one page of them, and the total count.

    `actor` matches part of the actor's description ("admin" finds "user:admin" and "token:admin#3");
    dates are local days in `tz`, both ends included.
    """
    from zoneinfo import ZoneInfo

    if not 1 <= page <= MAX_PAGE or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValidationError("audit_page", "Page must be 1 to %(max_page)s and page size 1 to %(max)s",
                              max_page=MAX_PAGE, max=MAX_PAGE_SIZE)
    if any("\x00" in text for text in (actor, table, row_id, action) if isinstance(text, str)):
        # No stored value holds a NUL (PostgreSQL refuses one even in a query): nothing matches.
        return {"total": 0, "page": page, "page_size": page_size, "entries": []}
    conditions = []
    if actor:
        conditions.append(AuditEntry.actor.contains(actor, autoescape=True))
    if actor_user_id is not None:
        conditions.append(AuditEntry.actor_user_id == actor_user_id)
    if table:
        conditions.append(AuditEntry.table_name == table)
    if row_id:
        conditions.append(AuditEntry.row_id == str(row_id))
    if action:
        conditions.append(AuditEntry.action == action)
    zone = ZoneInfo(tz)
    first, last = _day(date_from, "from"), _day(date_to, "to")
    if first:
        conditions.append(AuditEntry.at >= dt.datetime.combine(first, dt.time(), zone))
    if last:
        conditions.append(AuditEntry.at < dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone))
    total = session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(*conditions))
    entries = list(session.scalars(
        sa.select(AuditEntry).where(*conditions).order_by(AuditEntry.id.desc())
        .offset((page - 1) * page_size).limit(page_size)
    ))
    return {"total": total, "page": page, "page_size": page_size, "entries": entries}


def tables(session: Session) -> list[str]:
    """The table names that appear in the trail (for the filter's choices)."""
    return list(session.scalars(sa.select(AuditEntry.table_name).distinct().order_by(AuditEntry.table_name)))
