"""Volunteers and grid workers."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridsvc.errors import ConflictError, NotFoundError, ValidationError
from gridsvc.grids.service import get_grid
from gridsvc.people.models import ROLES, Patroller


def create_patroller(
    session: Session,
    *,
    role: str,
    name: str,
    station_code: str,
    active_from: dt.date,
    active_to: dt.date | None = None,
    app_account_id: str | None = None,
) -> Patroller:
    """Register a volunteer or grid worker at a station."""
    if role not in ROLES:
        raise ValidationError("patroller_role", "Role must be volunteer or grid_worker; got %(role)s", role=role)
    name = (name or "").strip()
    if not name:
        raise ValidationError("patroller_name_required", "A name is required")
    if active_to is not None and active_to < active_from:
        raise ValidationError("patroller_active_range", "Active-to date is before active-from date")
    station = get_grid(session, code=station_code)
    if station.level != "station":
        raise ValidationError("patroller_station_level", "%(code)s is not a station", code=station_code)
    if app_account_id and session.scalar(sa.select(Patroller.id).where(Patroller.app_account_id == app_account_id)):
        raise ConflictError("app_account_taken", "App account %(account)s is already registered", account=app_account_id)
    patroller = Patroller(
        role=role, name=name, station=station, active_from=active_from, active_to=active_to,
        app_account_id=app_account_id or None,
    )
    session.add(patroller)
    session.flush()
    return patroller


def patroller_not_found(ref) -> NotFoundError:
    """The answer for a volunteer or grid worker who is not there (or not the caller's to see)."""
    return NotFoundError("patroller_not_found", "No such volunteer or grid worker: %(ref)s",
                         ref=str(ref)[:64].replace("\x00", ""))


def visible_patroller(session: Session, *, user, ref) -> Patroller:
    """The patroller `ref` names, if `user` may see their records; else "no such volunteer", as for a missing one."""
    from gridsvc.access import ensure_own_record

    patroller = resolve_patroller(session, ref)
    ensure_own_record(user, station_id=patroller.station_id, patroller_id=patroller.id,
                      missing=patroller_not_found(ref))
    return patroller


def resolve_patroller(session: Session, ref) -> Patroller:
    """A patroller by id (a number) or by volunteer-app account (text), or NotFoundError."""
    if isinstance(ref, bool) or ref is None or (isinstance(ref, str) and not ref.strip()):
        raise ValidationError("volunteer_required", "Say who patrolled: a volunteer-app account or a patroller id")
    patroller = None
    if isinstance(ref, int):
        patroller = session.get(Patroller, ref) if -2**31 < ref < 2**31 else None
    elif isinstance(ref, str):
        text = ref.strip()
        if "\x00" in text or len(text) > 64:  # PostgreSQL refuses NUL in text; no account is longer
            raise patroller_not_found(text)
        patroller = session.scalar(sa.select(Patroller).where(Patroller.app_account_id == text))
        if patroller is None and text.isdecimal() and len(text) < 10:
            patroller = session.get(Patroller, int(text))
    else:
        raise ValidationError("volunteer_required", "Say who patrolled: a volunteer-app account or a patroller id")
    if patroller is None:
        raise patroller_not_found(ref)
    return patroller
