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


def get_patroller(session: Session, *, patroller_id: int | None = None, app_account_id: str | None = None) -> Patroller:
    """A patroller by id or volunteer-app account, or NotFoundError."""
    if patroller_id is not None:
        patroller = session.get(Patroller, patroller_id)
    else:
        patroller = session.scalar(sa.select(Patroller).where(Patroller.app_account_id == app_account_id))
    if patroller is None:
        raise patroller_not_found(patroller_id if patroller_id is not None else app_account_id)
    return patroller

