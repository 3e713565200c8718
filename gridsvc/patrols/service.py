"""Logging patrol sessions: validation, idempotency by client_uuid, overlap and station rules."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid as uuid_module

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridsvc.db import is_sqlite, utcnow
from gridsvc.errors import ConflictError, NotFoundError, ValidationError
from gridsvc.geo.shapes import to_db
from gridsvc.grids.service import station_at
from gridsvc.patrols.models import KINDS, SOURCES, PatrolSession, PatrolTask
from gridsvc.people.models import Patroller


def normalise_uuid(value) -> str:
    """A client uuid in canonical lower-case form, or ValidationError."""
    try:
        return str(uuid_module.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        raise ValidationError("client_uuid_format", "client_uuid must be a UUID") from None


def payload_digest(**fields) -> str:
    """SHA-256 of the canonical form of a submission, to tell a retry from a different body."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_times(started_at: dt.datetime, ended_at: dt.datetime, *, now: dt.datetime, max_hours: int) -> int:
    for label, value in (("start", started_at), ("end", ended_at)):
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValidationError("time_zone_required", "The %(which)s time needs a time zone", which=label)
    if ended_at <= started_at:
        raise ValidationError("end_before_start", "The end time must be after the start time")
    if ended_at > now + dt.timedelta(minutes=5):  # allow a phone clock a few minutes fast
        raise ValidationError("in_future", "The patrol ends in the future")
    seconds = int((ended_at - started_at).total_seconds())
    if seconds > max_hours * 3600:
        raise ValidationError("too_long", "A patrol can last at most %(hours)s hours", hours=max_hours)
    if seconds <= 0:
        raise ValidationError("end_before_start", "The end time must be after the start time")
    return seconds


def log_patrol(
    session: Session,
    *,
    client_uuid: str,
    kind: str,
    patroller_id: int,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    source: str,
    task_id: int | None = None,
    track=None,
    verified_seconds: int | None = None,
    verification: dict | None = None,
    track_digest: str | None = None,
    max_hours: int = 24,
    now: dt.datetime | None = None,
) -> tuple[PatrolSession, bool]:
    """Store a patrol session; returns (session, created). A retry with the same body returns the original.

    `track` is an optional shapely LineString (lon/lat). Raises ConflictError when the uuid was used
    for a different body or when the patroller already has an overlapping session.
    """
    client_uuid = normalise_uuid(client_uuid)
    if kind not in KINDS:
        raise ValidationError("patrol_kind", "Kind must be group or individual; got %(kind)s", kind=kind)
    if source not in SOURCES:
        raise ValidationError("patrol_source", "Unknown source %(source)s", source=source)
    digest = payload_digest(
        kind=kind, patroller_id=patroller_id, started_at=started_at.astimezone(dt.timezone.utc).isoformat()
        if isinstance(started_at, dt.datetime) and started_at.tzinfo else str(started_at),
        ended_at=ended_at.astimezone(dt.timezone.utc).isoformat()
        if isinstance(ended_at, dt.datetime) and ended_at.tzinfo else str(ended_at),
        task_id=task_id, track=track_digest or (track.wkb_hex if track is not None else None),
    )
    existing = _replay_if_known(session, client_uuid, digest)
    if existing is not None:
        return existing, False

    patroller = _lock_patroller(session, patroller_id)
    serialised = is_sqlite(session)  # SQLite transactions begin IMMEDIATE: writers are already serial
    if not serialised:
        # Re-check after taking the lock: a concurrent identical submission may have just committed.
        existing = _replay_if_known(session, client_uuid, digest)
        if existing is not None:
            return existing, False

    seconds = _check_times(started_at, ended_at, now=now or utcnow(), max_hours=max_hours)
    if task_id is not None and session.get(PatrolTask, task_id) is None:
        raise NotFoundError("task_not_found", "No group-patrol task %(task)s", task=task_id)
    if kind == "group" and task_id is None and source != "import":
        raise ValidationError("group_needs_task", "A group patrol belongs to a group-patrol task")
    overlapping = session.execute(
        sa.select(PatrolSession.id, PatrolSession.started_at, PatrolSession.ended_at)
        .where(PatrolSession.patroller_id == patroller.id)
        .where(PatrolSession.started_at < ended_at, PatrolSession.ended_at > started_at)
        .limit(1)
    ).first()
    if overlapping is not None:
        raise ConflictError(
            "overlapping_session",
            "This overlaps patrol session %(other)s (%(start)s to %(end)s) of the same person",
            other=overlapping.id, start=overlapping.started_at.isoformat(), end=overlapping.ended_at.isoformat(),
        )
    station_id = patroller.station_id
    if track is not None:
        first_lon, first_lat = track.coords[0][:2]
        located = station_at(session, lon=first_lon, lat=first_lat)
        if located is None:
            raise ValidationError("track_outside_zone", "The track starts outside every station of the zone")
        station_id = located.id
    patrol = PatrolSession(
        client_uuid=client_uuid, payload_digest=digest, kind=kind, patroller_id=patroller.id, task_id=task_id,
        station_id=station_id, started_at=started_at, ended_at=ended_at, duration_seconds=seconds,
        verified_seconds=verified_seconds, verification=verification,
        track=to_db(track) if track is not None else None, source=source,
    )
    if serialised:
        session.add(patrol)
        session.flush()
        return patrol, True
    try:
        with session.begin_nested():
            session.add(patrol)
            session.flush()
    except IntegrityError:
        # A concurrent request with the same uuid won the race: answer as a retry would be answered.
        existing = _replay_if_known(session, client_uuid, digest)
        if existing is None:
            raise
        return existing, False
    return patrol, True


def _replay_if_known(session: Session, client_uuid: str, digest: str) -> PatrolSession | None:
    """The stored session for this uuid when the body matches; ConflictError when it differs."""
    row = session.execute(
        sa.select(PatrolSession.id, PatrolSession.payload_digest).where(PatrolSession.client_uuid == client_uuid)
    ).first()
    if row is None:
        return None
    if row.payload_digest != digest:
        raise ConflictError(
            "client_uuid_reused",
            "client_uuid %(uuid)s was already used for a different patrol (session %(id)s)",
            uuid=client_uuid, id=row.id,
        )
    return session.get(PatrolSession, row.id)


def _lock_patroller(session: Session, patroller_id: int) -> Patroller:
    """Serialise one patroller's writes so two overlapping sessions can't both pass the check."""
    if is_sqlite(session):  # SQLite transactions already start with BEGIN IMMEDIATE
        patroller = session.get(Patroller, patroller_id)
    else:
        patroller = session.scalar(sa.select(Patroller).where(Patroller.id == patroller_id).with_for_update())
    if patroller is None:
        raise NotFoundError("patroller_not_found", "No such volunteer or grid worker: %(ref)s", ref=patroller_id)
    return patroller


def create_task(
    session: Session, *, title: str, station_id: int, starts_at: dt.datetime, ends_at: dt.datetime, headcount: int = 1
) -> PatrolTask:
    """Publish a group-patrol task."""
    if not (title or "").strip():
        raise ValidationError("task_title_required", "A task needs a title")
    if ends_at <= starts_at:
        raise ValidationError("end_before_start", "The end time must be after the start time")
    if headcount < 1:
        raise ValidationError("task_headcount", "Headcount must be at least 1")
    task = PatrolTask(title=title.strip(), station_id=station_id, starts_at=starts_at, ends_at=ends_at, headcount=headcount)
    session.add(task)
    session.flush()
    return task
