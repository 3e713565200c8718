"""The read side of positions: a patroller's points in a window, their last point on duty, and the
record of who read them (issue 17: "who read a patroller's points is logged"). The answers' shape
is gridsvc.positions.schemas'.

Keyword arguments, no Flask, flushes only. Points are stored only on duty (gridsvc.positions.intake),
so whatever is stored is a point on duty. Positions are never row-audited (`__audit_skip__`); a read
of them leaves one `read` row in the audit trail naming reader, patroller and what was read, and
never a coordinate, a device key or any detail of a fix.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridsvc.audit import events
from gridsvc.audit.models import AuditEntry
from gridsvc.positions.models import Position

# What a recorded read may have shown.
READS = ("patrol_points", "last_position")


def points_between(session: Session, *, patroller_id: int, start: dt.datetime, end: dt.datetime) -> list[Position]:
    """Every stored point of the patroller fixed in [start, end], flagged ones too, by fix time then id."""
    return list(session.scalars(
        sa.select(Position)
        .where(Position.patroller_id == patroller_id, Position.fixed_at >= start, Position.fixed_at <= end)
        .order_by(Position.fixed_at, Position.id)
    ))


def last_position_on_duty(session: Session, *, patroller_id: int, now: dt.datetime,
                          future_seconds: float) -> Position | None:
    """The patroller's latest stored point by fix time up to now (stored points are all on duty), or None.

    A point dated past now + future_seconds (a phone with its clock ahead, flagged "future") would
    otherwise stay "latest" until its date and hide every real point.
    """
    return session.scalars(
        sa.select(Position).where(Position.patroller_id == patroller_id,
                                  Position.fixed_at <= now + dt.timedelta(seconds=future_seconds))
        .order_by(Position.fixed_at.desc(), Position.id.desc()).limit(1)
    ).first()


def record_read(
    session: Session,
    *,
    reader_user_id: int | None,
    patroller_id: int,
    what: str,
    reader_patroller_id: int | None = None,
    patrol_id: int | None = None,
) -> AuditEntry | None:
    """Log that `reader_user_id` read the patroller's points (`what`: one of READS); flushes.

    One audit row, action "read", table "patrollers", row the patroller: who read whose points,
    when, what (and of which patrol), from which request and address. No coordinate, device or fix.
    A patroller reading their own points (`reader_patroller_id` == `patroller_id`) is not logged:
    the rule is about others reading them. Returns the row, or None when nothing was logged.
    """
    if what not in READS:
        raise ValueError(f"unknown read {what!r}; one of {READS}")
    if reader_patroller_id is not None and reader_patroller_id == patroller_id:
        return None
    details = {"read": "positions", "what": what, "patroller_id": patroller_id}
    if patrol_id is not None:
        details["patrol_id"] = patrol_id
    return events.record_read(session, table="patrollers", row_id=patroller_id, reader_user_id=reader_user_id,
                              details=details)
