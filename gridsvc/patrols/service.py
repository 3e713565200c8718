"""Logging patrol sessions: idempotency by client_uuid, overlap, task rules, station and verified time;
group-patrol tasks with sign-ups and attendance; hours per grid.

log_patrol takes a NewPatrol that gridsvc.patrols.intake has checked (the intake is the one
validator of outside input) and applies the rules that need the database: replay, overlap, tasks,
the zone, verification."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import uuid as uuid_module
from dataclasses import dataclass

import sqlalchemy as sa
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, shape
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridsvc.db import is_sqlite, utcnow
from gridsvc.errors import ConflictError, NotFoundError, ValidationError
from gridsvc.geo.shapes import check_lon_lat, from_db, to_db
from gridsvc.grids.models import Grid
from gridsvc.grids.service import get_grid, station_at
from gridsvc.patrols.models import COUNTED, KINDS, PatrolGridTime, PatrolSession, PatrolTask, TaskSignup
from gridsvc.patrols.track import Track, track_digest
from gridsvc.patrols.verification import Limits, PatrolVerification, verify_patrol, verify_without_track
from gridsvc.patrols.zone import Zone, load_zone
from gridsvc.people.models import Patroller
from gridsvc.people.service import patroller_not_found
from gridsvc.positions.intake import store_track_file
from gridsvc.positions.protocols import Limits as PositionLimits

# Times in messages are shown in the zone's local time (with their offset, so never ambiguous).
# A phone's clock, or a volunteer arriving a little early, may put a group patrol slightly
# outside its task's window; beyond this it is not that task's patrol.
TASK_WINDOW_TOLERANCE = dt.timedelta(minutes=10)
# Sign-ups that take a place in a task.
ACTIVE_SIGNUP_STATUSES = ("signed_up", "attended")
MAX_HEADCOUNT = 10_000
# Deterministic ids for sessions created by confirming attendance (uuid5 of task and patroller).
ATTENDANCE_NAMESPACE = uuid_module.UUID("5b0c8f2e-1d4a-4c1e-9a63-3f1f6b0d2c71")


@dataclass(frozen=True)
class NewPatrol:
    """A patrol to log, as checked by the intake: a canonical uuid, a kind of KINDS, aware times, a parsed track."""

    client_uuid: str
    kind: str
    patroller_id: int
    started_at: dt.datetime
    ended_at: dt.datetime
    task_id: int | None = None
    track: Track | None = None
    start_point: tuple[float, float] | None = None  # (lon, lat) in range: places a patrol without a track
    # Entered afterwards from a paper sign-in sheet (补录): claimed time, never verified.
    from_paper: bool = False
    confirmed_by_station: bool = False


def payload_digest(**fields) -> str:
    """SHA-256 of the canonical form of a submission, to tell a retry from a different body."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _patrol_digest(patrol: NewPatrol) -> str:
    fields = dict(
        kind=patrol.kind, patroller_id=patrol.patroller_id,
        started_at=patrol.started_at.astimezone(dt.timezone.utc).isoformat(),
        ended_at=patrol.ended_at.astimezone(dt.timezone.utc).isoformat(), task_id=patrol.task_id,
        track=track_digest(patrol.track) if patrol.track is not None else None,
    )
    if patrol.start_point is not None:  # only when given, so digests of older sessions stay valid
        fields["start_point"] = [repr(patrol.start_point[0]), repr(patrol.start_point[1])]
    if patrol.from_paper:
        fields["from_paper"] = True
    return payload_digest(**fields)


def _check_time_zones(started_at, ended_at) -> None:
    for label, value in (("start", started_at), ("end", ended_at)):
        if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
            if label == "end":
                raise ValidationError("time_zone_required", "The end time needs a time zone", which=label)
            raise ValidationError("time_zone_required", "The start time needs a time zone", which=label)


def _check_times(started_at: dt.datetime, ended_at: dt.datetime, *, now: dt.datetime, max_hours: int) -> int:
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


# ---------------------------------------------------------------------------------------------
# Patrol sessions
# ---------------------------------------------------------------------------------------------


def log_patrol(
    session: Session,
    *,
    patrol: NewPatrol,
    source: str,
    zone: Zone | None = None,
    limits: Limits | None = None,
    max_hours: int = 24,
    position_limits: PositionLimits | None = None,
    now: dt.datetime | None = None,
) -> tuple[PatrolSession, bool]:
    """Store a patrol session; returns (session, created). A retry with the same body returns the original.

    In four steps: resolve (a retry, else the patroller, locked), check the time, task and overlap
    rules, verify (track or start point, against `zone`, loaded when not given), insert. With
    `position_limits`, a new patrol's track-file points are kept as positions too. Raises
    ConflictError when the uuid was used for a different body or the patroller has an overlapping
    session, and ValidationError / NotFoundError for a patrol that breaks a rule; nothing is written then.
    """
    digest = _patrol_digest(patrol)
    patroller, existing = _resolve(session, patrol, digest)
    if existing is not None:
        return existing, False
    now = now or utcnow()
    seconds, task, signup = _check_rules(session, patrol, patroller=patroller, source=source, now=now,
                                         max_hours=max_hours)
    verification = _verify(session, patrol, seconds=seconds, task=task, patroller=patroller, zone=zone,
                           limits=limits or Limits())
    row, created = _insert(session, patrol, digest=digest, seconds=seconds, verification=verification, source=source)
    if not created:
        return row, False
    if task is not None:
        attach_to_signup(session, signup, task=task, patroller=patroller, patrol=row,
                          confirmed=patrol.confirmed_by_station or patrol.from_paper, now=now)
    track = patrol.track
    if track is not None and track.file_format and position_limits is not None:
        store_track_file(session, patroller_id=row.patroller_id, source=track.file_format,
                         points=[(point.time, point.lon, point.lat) for point in track.points], now=now,
                         limits=position_limits)
    return row, True


def _resolve(session: Session, patrol: NewPatrol, digest: str) -> tuple[Patroller | None, PatrolSession | None]:
    """(None, the original) for a retry; else (the patroller, locked, None)."""
    existing = replay_if_known(session, patrol.client_uuid, digest)
    if existing is not None:
        return None, existing
    patroller = lock_patroller(session, patrol.patroller_id)
    if not is_sqlite(session):  # SQLite transactions begin IMMEDIATE: writers are already serial
        # Re-check after taking the lock: a concurrent identical submission may have just committed.
        existing = replay_if_known(session, patrol.client_uuid, digest)
    return patroller, existing


def _check_rules(session: Session, patrol: NewPatrol, *, patroller: Patroller, source: str, now: dt.datetime,
                 max_hours: int) -> tuple[int, PatrolTask | None, TaskSignup | None]:
    """The claimed seconds, and the task and sign-up, once the time, task and overlap rules hold."""
    if patrol.from_paper and patrol.track is not None:
        raise ValidationError("paper_with_track", "A patrol entered from a paper sheet has no track")
    seconds = _check_times(patrol.started_at, patrol.ended_at, now=now, max_hours=max_hours)
    task, signup = check_task(session, kind=patrol.kind, task_id=patrol.task_id, patroller=patroller, source=source,
                               started_at=patrol.started_at, ended_at=patrol.ended_at, from_paper=patrol.from_paper)
    check_no_overlap(session, patroller.id, patrol.started_at, patrol.ended_at)
    return seconds, task, signup


def _verify(session: Session, patrol: NewPatrol, *, seconds: int, task: PatrolTask | None, patroller: Patroller,
            zone: Zone | None, limits: Limits) -> PatrolVerification:
    """The verification and the station of the patrol: by its track, else placed by its start point, else as claimed."""
    station_id = task.station_id if task is not None else patroller.station_id
    track = patrol.track
    if track is not None:
        verification = verify_patrol(
            track, started_at=patrol.started_at, ended_at=patrol.ended_at, zone=zone or load_zone(session),
            task_area=from_db(task.area) if task is not None else None, task_id=task.id if task is not None else None,
            station_id=station_id, limits=limits)
        located = verification.station_id
        if located is None:  # no moving time anywhere: fall back to where the track begins
            found = station_at(session, lon=track.points[0].lon, lat=track.points[0].lat)
            located = found.id if found is not None else None
        return dataclasses.replace(verification, station_id=located or station_id)
    verification = verify_without_track(seconds, confirmed_by_station=patrol.confirmed_by_station,
                                        from_paper=patrol.from_paper)
    if patrol.start_point is not None:
        lon, lat = patrol.start_point
        located = station_at(session, lon=lon, lat=lat)
        if located is None:
            raise ValidationError(
                "start_outside_zone", "The start point %(lon)s, %(lat)s lies outside every station of the zone",
                lon=lon, lat=lat,
            )
        station_id = located.id
    return dataclasses.replace(verification, station_id=station_id)


def _insert(session: Session, patrol: NewPatrol, *, digest: str, seconds: int, verification: PatrolVerification,
            source: str) -> tuple[PatrolSession, bool]:
    """(the new session, True) once added and flushed; (the original, False) when a concurrent identical request won."""
    track = patrol.track
    row = PatrolSession(
        client_uuid=patrol.client_uuid, payload_digest=digest, kind=patrol.kind, patroller_id=patrol.patroller_id,
        task_id=patrol.task_id, station_id=verification.station_id, started_at=patrol.started_at,
        ended_at=patrol.ended_at, duration_seconds=seconds, verified_seconds=verification.verified_seconds,
        verification=verification.details,
        track=to_db(LineString([(p.lon, p.lat) for p in track.points])) if track is not None else None,
        start_point=to_db(Point(*patrol.start_point)) if patrol.start_point is not None else None,
        track_length_m=verification.length_m, source=source, from_paper=patrol.from_paper,
        grid_times=[PatrolGridTime(grid_id=grid_id, seconds=s)
                    for grid_id, s in sorted(verification.grid_seconds.items())],
    )
    if is_sqlite(session):  # writers are serial: no concurrent insert of the same uuid
        session.add(row)
        session.flush()
        return row, True
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # A concurrent request with the same uuid won the race: answer as a retry would be answered.
        existing = replay_if_known(session, patrol.client_uuid, digest)
        if existing is None:
            raise
        return existing, False
    return row, True


def check_task(session, *, kind, task_id, patroller, source, started_at, ended_at, from_paper=False):
    """The task and the patroller's sign-up for a group patrol, after checking the task's rules.

    A paper sign-in sheet records who came, however many the task asked for: it takes no place.
    """
    if task_id is None:
        if kind == "group" and source != "import":
            raise ValidationError("group_needs_task", "A group patrol belongs to a group-patrol task")
        return None, None
    if kind != "group":
        raise ValidationError("task_needs_group_kind", "Only a group patrol belongs to a group-patrol task")
    # Locked (after the patroller): a cancel or a new window cannot slip in between check and write.
    task = lock_task(session, task_id) if isinstance(task_id, int) and 0 < task_id < 2**31 else None
    if task is None:
        raise task_not_found(task_id)
    if task.cancelled_at is not None:
        raise task_cancelled(task)
    if started_at < task.starts_at - TASK_WINDOW_TOLERANCE or ended_at > task.ends_at + TASK_WINDOW_TOLERANCE:
        raise ValidationError(
            "outside_task_window",
            "The patrol (%(start)s to %(end)s) lies outside the time of task %(task)s (%(task_start)s to %(task_end)s)",
            start=started_at, end=ended_at, task=task.title, task_start=task.starts_at, task_end=task.ends_at,
        )
    signup = session.scalar(
        sa.select(TaskSignup).where(TaskSignup.task_id == task.id, TaskSignup.patroller_id == patroller.id)
    )
    if signup is not None and signup.session_id is not None:
        raise ConflictError(
            "task_already_logged", "%(name)s already has a patrol recorded for task %(task)s",
            name=patroller.name, other=signup.session_id, task=task.title,
        )
    if (signup is None or signup.status not in ACTIVE_SIGNUP_STATUSES) and source != "import" and not from_paper:
        _check_room(session, task)
    return task, signup


def check_no_overlap(session: Session, patroller_id: int, started_at, ended_at) -> None:
    """ConflictError when a logged or open session of the patroller overlaps [started_at, ended_at).

    An open session reaches on until it stops; proposed and rejected trips are no patrol yet.
    """
    overlapping = session.execute(
        sa.select(PatrolSession.id, PatrolSession.started_at, PatrolSession.ended_at)
        .where(PatrolSession.patroller_id == patroller_id, PatrolSession.status.in_(("logged", "open")))
        .where(PatrolSession.started_at < ended_at,
               sa.or_(PatrolSession.ended_at.is_(None), PatrolSession.ended_at > started_at))
        .order_by(PatrolSession.started_at)
        .limit(1)
    ).first()
    if overlapping is not None:
        raise ConflictError(
            "overlapping_session", "This overlaps another patrol of the same person (%(start)s to %(end)s)",
            other=overlapping.id, start=overlapping.started_at, end=overlapping.ended_at,
        )


def attach_to_signup(session, signup, *, task, patroller, patrol, confirmed: bool, now) -> None:
    """Record the session as the patroller's attendance of the task (signing them up if needed)."""
    if signup is None:
        signup = TaskSignup(task_id=task.id, patroller_id=patroller.id, signed_up_at=now)
        session.add(signup)
    signup.status = "attended"
    signup.session_id = patrol.id
    if confirmed:
        signup.confirmed_at = now
    session.flush()


def replay_if_known(session: Session, client_uuid: str, digest: str) -> PatrolSession | None:
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


def lock_patroller(session: Session, patroller_id: int) -> Patroller:
    """Serialise one patroller's writes so two overlapping sessions can't both pass the check."""
    if is_sqlite(session):  # SQLite transactions already start with BEGIN IMMEDIATE
        patroller = session.get(Patroller, patroller_id)
    else:
        # populate_existing: a patroller already in the session (a batch caches them) is re-read
        # under the lock, so a move to another station committed meanwhile is seen.
        patroller = session.scalar(sa.select(Patroller).where(Patroller.id == patroller_id).with_for_update()
                                   .execution_options(populate_existing=True))
    if patroller is None:
        raise patroller_not_found(patroller_id)
    return patroller


def lock_task(session: Session, task_id: int) -> PatrolTask:
    if is_sqlite(session):
        task = session.get(PatrolTask, task_id)
    else:
        # populate_existing: the view has usually loaded the task already; re-read it under the lock
        # so a cancel, a new window or a lower headcount committed meanwhile is what the checks see.
        task = session.scalar(sa.select(PatrolTask).where(PatrolTask.id == task_id).with_for_update()
                              .execution_options(populate_existing=True))
    if task is None:
        raise task_not_found(task_id)
    return task


def _check_room(session: Session, task: PatrolTask) -> None:
    """ConflictError when the task already has its headcount of sign-ups (the task row is locked first)."""
    lock_task(session, task.id)
    taken = _taken_places(session, task.id)
    if taken >= task.headcount:
        raise ConflictError("task_full", "Task %(task)s already has its %(headcount)s volunteers",
                            task=task.title, headcount=task.headcount)


def on_task_duty(session: Session, *, patroller_id: int, at: dt.datetime) -> bool:
    """True when the patroller is signed up for a task (not cancelled) whose window, with the usual allowance, holds `at`."""
    return session.scalar(
        sa.select(sa.literal(True)).select_from(TaskSignup).join(PatrolTask, TaskSignup.task_id == PatrolTask.id)
        .where(TaskSignup.patroller_id == patroller_id, TaskSignup.status.in_(ACTIVE_SIGNUP_STATUSES),
               PatrolTask.cancelled_at.is_(None),
               PatrolTask.starts_at <= at + TASK_WINDOW_TOLERANCE, PatrolTask.ends_at >= at - TASK_WINDOW_TOLERANCE)
        .limit(1)
    ) is True


def position_holds(session: Session, *, cutoff: dt.datetime) -> list[tuple[int, dt.datetime, dt.datetime]]:
    """(patroller, start, end) of the sessions whose points the retention still keeps at `cutoff` (not rejected trips).

    Raw points are kept POSITION_RETENTION_DAYS once their session is final: a session that ended
    after the cutoff keeps the points of its whole window, even those fixed before the cutoff.
    """
    rows = session.execute(sa.select(PatrolSession.patroller_id, PatrolSession.started_at, PatrolSession.ended_at)
                           .where(PatrolSession.status.in_(("logged", "open", "proposed")),
                                  sa.or_(PatrolSession.ended_at.is_(None), PatrolSession.ended_at >= cutoff),
                                  PatrolSession.started_at < cutoff))
    # An open session holds its points until it stops (and is then held as a logged one).
    return [(patroller, started, ended or dt.datetime.max.replace(tzinfo=dt.timezone.utc))
            for patroller, started, ended in rows]


def task_cancelled(task: PatrolTask) -> ConflictError:
    """The answer for a write to a cancelled task."""
    return ConflictError("task_cancelled", "Task %(task)s was cancelled", task=task.title)


def task_not_found(task_id) -> NotFoundError:
    """The answer for a group-patrol task that is not there (or not the caller's to see)."""
    return NotFoundError("task_not_found", "No group-patrol task %(task)s", task=str(task_id)[:20])


def patrol_not_found(patrol_id) -> NotFoundError:
    """The answer for a patrol session that is not there (or not the caller's to see)."""
    return NotFoundError("patrol_not_found", "No patrol session %(id)s", id=patrol_id)


def get_patrol(session: Session, *, patrol_id: int) -> PatrolSession:
    """A patrol session by id, or NotFoundError."""
    patrol = session.get(PatrolSession, patrol_id) if 0 < patrol_id < 2**31 else None
    if patrol is None:
        raise patrol_not_found(patrol_id)
    return patrol


def list_patrols(
    session: Session, *, patroller_id: int, start: dt.datetime | None = None, end: dt.datetime | None = None,
    limit: int = 200, status: str = "logged",
) -> dict:
    """One patroller's sessions of one status (logged: the ones that count), newest first, with totals by kind."""
    where = [PatrolSession.patroller_id == patroller_id, PatrolSession.status == status]
    if start is not None:
        where.append(PatrolSession.started_at >= start)
    if end is not None:
        where.append(PatrolSession.started_at < end)
    totals = {kind: {"sessions": 0, "claimed_seconds": 0, "verified_seconds": 0, "paper_seconds": 0} for kind in KINDS}
    for kind, count, claimed, verified, paper in session.execute(
        sa.select(PatrolSession.kind, sa.func.count(), sa.func.sum(PatrolSession.duration_seconds),
                  sa.func.sum(sa.func.coalesce(PatrolSession.verified_seconds, 0)),
                  sa.func.sum(sa.case((PatrolSession.from_paper, PatrolSession.duration_seconds), else_=0)))
        .where(*where).group_by(PatrolSession.kind)
    ):
        totals[kind] = {"sessions": count, "claimed_seconds": int(claimed or 0), "verified_seconds": int(verified or 0),
                        "paper_seconds": int(paper or 0)}
    patrols = list(session.scalars(
        sa.select(PatrolSession).where(*where).order_by(PatrolSession.started_at.desc()).limit(limit)
    ))
    return {"patrols": patrols, "totals": totals}


def time_in_grid(session: Session, *, grid_code: str, start: dt.datetime, end: dt.datetime) -> dict:
    """Seconds patrolled in one grid, by kind and role: tracked moving time, and claimed time of sessions placed there."""
    grid = get_grid(session, code=grid_code)
    period = (COUNTED, PatrolSession.started_at >= start, PatrolSession.started_at < end)
    tracked = session.execute(
        sa.select(Patroller.role, PatrolSession.kind, sa.func.sum(PatrolGridTime.seconds), sa.func.count())
        .select_from(PatrolGridTime)
        .join(PatrolSession, PatrolGridTime.session_id == PatrolSession.id)
        .join(Patroller, PatrolSession.patroller_id == Patroller.id)
        .where(PatrolGridTime.grid_id == grid.id, *period)
        .group_by(Patroller.role, PatrolSession.kind)
    ).all()
    claimed = session.execute(
        sa.select(Patroller.role, PatrolSession.kind, sa.func.sum(PatrolSession.duration_seconds),
                  sa.func.sum(sa.func.coalesce(PatrolSession.verified_seconds, 0)), sa.func.count())
        .join(Patroller, PatrolSession.patroller_id == Patroller.id)
        .where(PatrolSession.station_id == grid.id, *period)
        .group_by(Patroller.role, PatrolSession.kind)
    ).all()
    figures = {
        role: {kind: {"tracked_seconds": 0, "tracked_sessions": 0, "claimed_seconds": 0, "verified_seconds": 0,
                      "sessions": 0} for kind in KINDS}
        for role in ("volunteer", "grid_worker")
    }
    for role, kind, seconds, count in tracked:
        figures[role][kind].update(tracked_seconds=int(seconds or 0), tracked_sessions=count)
    for role, kind, seconds, verified, count in claimed:
        figures[role][kind].update(claimed_seconds=int(seconds or 0), verified_seconds=int(verified or 0),
                                   sessions=count)
    return {"grid_code": grid.code, "grid_name": grid.name, "level": grid.level, "by_role": figures}


def patroller_choices(session: Session) -> list[Patroller]:
    """Every patroller, volunteers first, for pickers."""
    return list(session.scalars(
        sa.select(Patroller).order_by(Patroller.role.desc(), Patroller.app_account_id, Patroller.id)
    ))


# ---------------------------------------------------------------------------------------------
# Group-patrol tasks
# ---------------------------------------------------------------------------------------------


def parse_task_area(geometry) -> Polygon | MultiPolygon | LineString | None:
    """A task's GeoJSON area (Polygon/MultiPolygon) or route (LineString), checked; None when absent."""
    if geometry in (None, "", {}):
        return None
    try:
        parsed = shape(geometry)
    except Exception:  # shapely raises several types for malformed GeoJSON
        raise ValidationError("task_area_invalid", "The task area must be a GeoJSON Polygon, MultiPolygon or LineString") from None
    if parsed.geom_type not in ("Polygon", "MultiPolygon", "LineString") or parsed.is_empty:
        raise ValidationError("task_area_invalid", "The task area must be a GeoJSON Polygon, MultiPolygon or LineString")
    check_lon_lat(parsed)
    if not parsed.is_valid:
        raise ValidationError("task_area_invalid", "The task area must be a GeoJSON Polygon, MultiPolygon or LineString")
    return parsed


def _checked_title(title) -> str:
    if not isinstance(title, str) or not title.strip():
        raise ValidationError("task_title_required", "A task needs a title")
    if any(ord(c) < 32 for c in title):
        raise ValidationError("task_title_control", "A task title cannot contain control characters")
    if len(title.strip()) > 200:
        raise ValidationError("task_title_too_long", "A task title has at most %(max)s characters", max=200)
    return title.strip()


def _check_window(starts_at, ends_at) -> None:
    _check_time_zones(starts_at, ends_at)
    if ends_at <= starts_at:
        raise ValidationError("end_before_start", "The end time must be after the start time")


def _check_headcount(headcount) -> None:
    if isinstance(headcount, bool) or not isinstance(headcount, int) or not 1 <= headcount <= MAX_HEADCOUNT:
        raise ValidationError("task_headcount", "Headcount must be between 1 and %(max)s", max=MAX_HEADCOUNT)


def _check_area_in_station(station: Grid, area) -> None:
    if area is not None and not from_db(station.geom).buffer(1e-9).intersects(area):
        raise ValidationError("task_area_outside_station", "The task area lies outside station %(name)s",
                              name=station.name)


def create_task(
    session: Session, *, title: str, station_id: int, starts_at: dt.datetime, ends_at: dt.datetime,
    headcount: int = 1, area=None,
) -> PatrolTask:
    """Publish a group-patrol task; `area` is an optional shapely area or route inside the zone."""
    title = _checked_title(title)
    _check_window(starts_at, ends_at)
    _check_headcount(headcount)
    station = session.get(Grid, station_id)
    if station is None or station.level != "station":
        raise NotFoundError("station_not_found", "No station %(ref)s", ref=station_id)
    _check_area_in_station(station, area)
    task = PatrolTask(title=title, station_id=station.id, starts_at=starts_at, ends_at=ends_at,
                      headcount=headcount, area=to_db(area) if area is not None else None)
    session.add(task)
    session.flush()
    return task


# Marks "leave this as it is" for update_task's optional fields (None is a value for the area).
UNCHANGED = object()


def update_task(
    session: Session, *, task_id: int, title=UNCHANGED, starts_at=UNCHANGED, ends_at=UNCHANGED,
    headcount=UNCHANGED, area=UNCHANGED,
) -> PatrolTask:
    """Change a task's title, time, headcount or area (None: the whole station), keeping its records true.

    Refused when the task is cancelled, when the new window would leave a recorded patrol outside
    it, or when fewer places would remain than volunteers already signed up.
    """
    task = lock_task(session, task_id)
    if task.cancelled_at is not None:
        raise task_cancelled(task)
    new_title = task.title if title is UNCHANGED else _checked_title(title)
    new_start = task.starts_at if starts_at is UNCHANGED else starts_at
    new_end = task.ends_at if ends_at is UNCHANGED else ends_at
    _check_window(new_start, new_end)
    if (new_start, new_end) != (task.starts_at, task.ends_at):
        outside = session.execute(
            sa.select(PatrolSession.id, PatrolSession.started_at, PatrolSession.ended_at)
            .where(PatrolSession.task_id == task.id, PatrolSession.status.in_(("logged", "open"))).where(
                sa.or_(PatrolSession.started_at < new_start - TASK_WINDOW_TOLERANCE,
                       PatrolSession.ended_at > new_end + TASK_WINDOW_TOLERANCE)).limit(1)
        ).first()
        if outside is not None:
            raise ConflictError("task_window_excludes_patrols",
                                "A recorded patrol of this task (%(start)s to %(end)s) would lie outside the new time",
                                other=outside.id, start=outside.started_at, end=outside.ended_at)
    if headcount is not UNCHANGED:
        _check_headcount(headcount)
        taken = _taken_places(session, task.id)
        if headcount < taken:
            raise ConflictError("task_headcount_below_signups",
                                "%(taken)s volunteers are already signed up; the headcount cannot be lower",
                                taken=taken)
        task.headcount = headcount
    if area is not UNCHANGED:
        _check_area_in_station(task.station, area)
        task.area = to_db(area) if area is not None else None
    task.title, task.starts_at, task.ends_at = new_title, new_start, new_end
    session.flush()
    return task


def cancel_task(session: Session, *, task_id: int, now: dt.datetime | None = None) -> PatrolTask:
    """Cancel a task that has no recorded patrol: its sign-ups are withdrawn, the task stays listed as cancelled."""
    task = lock_task(session, task_id)
    if task.cancelled_at is not None:
        return task
    recorded = session.scalar(sa.select(PatrolSession.id).where(
        PatrolSession.task_id == task.id, PatrolSession.status.in_(("logged", "open"))).limit(1))
    if recorded is not None:
        raise ConflictError("task_has_patrols",
                            "Task %(task)s already has recorded patrols; it cannot be cancelled", task=task.title)
    task.cancelled_at = now or utcnow()
    # Trips detected within the task are no longer its attendance: they stay proposed, as individual patrols.
    for trip in session.scalars(sa.select(PatrolSession).where(PatrolSession.task_id == task.id,
                                                               PatrolSession.status.in_(("proposed", "rejected")))):
        trip.task_id, trip.kind, trip.station_id = None, "individual", trip.patroller.station_id
    for signup in task.signups:
        if signup.status == "signed_up":
            signup.status = "cancelled"
    session.flush()
    return task


def get_task(session: Session, *, task_id: int) -> PatrolTask:
    """A group-patrol task by id, or NotFoundError."""
    task = session.get(PatrolTask, task_id) if isinstance(task_id, int) and 0 < task_id < 2**31 else None
    if task is None:
        raise task_not_found(task_id)
    return task


def list_tasks(
    session: Session, *, station_id: int | None = None, start: dt.datetime | None = None,
    end: dt.datetime | None = None, limit: int = 100, open_only: bool = False, now: dt.datetime | None = None,
) -> list[PatrolTask]:
    """Tasks overlapping [start, end), optionally of one station, by start time; open_only: not over, not cancelled."""
    query = sa.select(PatrolTask).order_by(PatrolTask.starts_at, PatrolTask.id).limit(limit)
    if open_only:
        query = query.where(PatrolTask.cancelled_at.is_(None), PatrolTask.ends_at > (now or utcnow()))
    if station_id is not None:
        query = query.where(PatrolTask.station_id == station_id)
    if start is not None:
        query = query.where(PatrolTask.ends_at > start)
    if end is not None:
        query = query.where(PatrolTask.starts_at < end)
    return list(session.scalars(query))


def tasks_to_record(session: Session, *, patroller_id: int, now: dt.datetime,
                    ahead: dt.timedelta = dt.timedelta(hours=12)) -> list[PatrolTask]:
    """Group tasks the patroller signed up for that run now or start within `ahead`: what the recorder offers."""
    return list(session.scalars(
        sa.select(PatrolTask).join(TaskSignup, TaskSignup.task_id == PatrolTask.id)
        .where(TaskSignup.patroller_id == patroller_id, TaskSignup.status.in_(ACTIVE_SIGNUP_STATUSES),
               PatrolTask.cancelled_at.is_(None), PatrolTask.ends_at > now, PatrolTask.starts_at < now + ahead)
        .order_by(PatrolTask.starts_at, PatrolTask.id)
    ))


def task_summary(session: Session, task: PatrolTask) -> dict:
    """Sign-ups by status and the task's person-hours (seconds of its group sessions)."""
    counts = dict(session.execute(
        sa.select(TaskSignup.status, sa.func.count()).where(TaskSignup.task_id == task.id).group_by(TaskSignup.status)
    ).all())
    seconds, verified, paper = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(PatrolSession.duration_seconds), 0),
                  sa.func.coalesce(sa.func.sum(PatrolSession.verified_seconds), 0),
                  sa.func.coalesce(sa.func.sum(sa.case((PatrolSession.from_paper, PatrolSession.duration_seconds),
                                                       else_=0)), 0))
        .where(PatrolSession.task_id == task.id, COUNTED)
    ).one()
    return {
        "signed_up": sum(counts.get(status, 0) for status in ACTIVE_SIGNUP_STATUSES),
        "by_status": {status: counts.get(status, 0) for status in ("signed_up", "attended", "absent", "cancelled")},
        "person_seconds": int(seconds), "verified_person_seconds": int(verified),
        "paper_person_seconds": int(paper),
    }


def sign_up(session: Session, *, task_id: int, patroller_id: int, now: dt.datetime | None = None) -> tuple[TaskSignup, bool]:
    """Sign a volunteer up for a task; returns (sign-up, created). Signing up again is harmless."""
    get_task(session, task_id=task_id)
    patroller = lock_patroller(session, patroller_id)  # patroller, then task: the order log_patrol keeps
    task = lock_task(session, task_id)
    now = now or utcnow()
    if task.cancelled_at is not None:
        raise task_cancelled(task)
    if task.ends_at <= now:
        raise ValidationError(
            "task_over", "Task %(task)s is over; sign-ups are closed. Enter who came from the paper sign-in sheet instead",
            task=task.title)
    signup = session.scalar(
        sa.select(TaskSignup).where(TaskSignup.task_id == task.id, TaskSignup.patroller_id == patroller.id)
    )
    if signup is not None and signup.status in ACTIVE_SIGNUP_STATUSES:
        return signup, False
    _check_room(session, task)
    if signup is None:
        signup = TaskSignup(task_id=task.id, patroller_id=patroller.id, signed_up_at=now)
        session.add(signup)
    signup.status, signup.confirmed_at = "signed_up", None
    session.flush()
    return signup, True


def cancel_signup(session: Session, *, task_id: int, patroller_id: int, now: dt.datetime | None = None) -> TaskSignup:
    """Withdraw a sign-up that has no patrol session yet, before the task is over."""
    task = get_task(session, task_id=task_id)
    signup = session.scalar(
        sa.select(TaskSignup).where(TaskSignup.task_id == task.id, TaskSignup.patroller_id == patroller_id)
    )
    if signup is None or signup.status == "cancelled":
        raise NotFoundError("signup_not_found", "%(name)s is not signed up for this task",
                            name=signup.patroller.name if signup is not None else _patroller_name(session, patroller_id))
    if signup.session_id is not None or signup.status != "signed_up":
        raise ConflictError("signup_attendance_recorded",
                            "Attendance is already recorded; the sign-up cannot be withdrawn")
    if task.ends_at <= (now or utcnow()):
        raise ValidationError("task_over_withdraw", "The task is over; a sign-up can no longer be withdrawn")
    signup.status = "cancelled"
    session.flush()
    return signup


def _patroller_name(session: Session, patroller_id: int) -> str:
    patroller = session.get(Patroller, patroller_id)
    return patroller.name if patroller is not None else "?"


def _taken_places(session: Session, task_id: int) -> int:
    return session.scalar(
        sa.select(sa.func.count()).select_from(TaskSignup)
        .where(TaskSignup.task_id == task_id, TaskSignup.status.in_(ACTIVE_SIGNUP_STATUSES))
    )


def confirm_attendance(
    session: Session,
    *,
    task_id: int,
    patroller_id: int,
    attended: bool,
    started_at: dt.datetime | None = None,
    ended_at: dt.datetime | None = None,
    source: str = "web",
    from_paper: bool = False,
    max_hours: int = 24,
    now: dt.datetime | None = None,
) -> TaskSignup:
    """The station confirms one participant's attended time (default: the whole task window) or absence.

    Attending creates the participant's group session (person-hours), verified by this confirmation
    when it has no track; a trip their tracker recorded within the task (proposed) becomes that
    session when no other time is given; a session the volunteer logged already is confirmed as it is. With
    `from_paper` the time is entered from the task's paper sign-in sheet (补录): the participant
    need not have signed up, takes no place, and the hours are claimed but never verified.
    """
    get_task(session, task_id=task_id)
    lock_patroller(session, patroller_id)  # patroller, then task: the order log_patrol keeps
    task = lock_task(session, task_id)
    now = now or utcnow()
    if task.cancelled_at is not None:
        raise task_cancelled(task)
    if task.starts_at > now:
        raise ValidationError("task_not_started", "Task %(task)s has not started yet", task=task.title)
    signup = session.scalar(
        sa.select(TaskSignup).where(TaskSignup.task_id == task.id, TaskSignup.patroller_id == patroller_id)
    )
    patrol = session.get(PatrolSession, signup.session_id) if signup is not None and signup.session_id else None
    if not attended:
        if patrol is not None:
            raise ConflictError("signup_has_session",
                                "%(name)s already has a recorded patrol for this task; they cannot be marked absent",
                                name=_patroller_name(session, patroller_id), other=patrol.id)
        if signup is None:
            raise NotFoundError("signup_not_found", "%(name)s is not signed up for this task",
                                name=_patroller_name(session, patroller_id))
        signup.status, signup.confirmed_at = "absent", now
        session.flush()
        return signup
    if patrol is not None:
        given = (started_at or patrol.started_at, ended_at or patrol.ended_at)
        if given != (patrol.started_at, patrol.ended_at):
            raise ConflictError(
                "attendance_differs",
                "A patrol (%(start)s to %(end)s) is already recorded for %(name)s",
                other=patrol.id, start=patrol.started_at, end=patrol.ended_at,
                name=_patroller_name(session, patroller_id),
            )
        if patrol.from_paper or from_paper:
            # A paper sheet verifies nothing, entered once or again: the session stays as it is.
            if signup.confirmed_at is None:
                signup.status, signup.confirmed_at = "attended", now
                session.flush()
            return signup
        if patrol.track is None and patrol.verification and patrol.verification.get("method") != "attendance":
            confirmed = verify_without_track(patrol.duration_seconds, confirmed_by_station=True)
            patrol.verified_seconds, patrol.verification = confirmed.verified_seconds, confirmed.details
        signup.status, signup.confirmed_at = "attended", now
        session.flush()
        return signup
    trip = session.scalar(sa.select(PatrolSession).where(
        PatrolSession.task_id == task.id, PatrolSession.patroller_id == patroller_id,
        PatrolSession.status == "proposed", PatrolSession.source == "trip").order_by(PatrolSession.started_at).limit(1))
    running = session.scalar(sa.select(PatrolSession.id).where(
        PatrolSession.task_id == task.id, PatrolSession.patroller_id == patroller_id, PatrolSession.status == "open"))
    if trip is not None and running is None and started_at is None and ended_at is None and not from_paper:
        # The trip the tracker recorded within the task is the attendance, verified from its points.
        check_no_overlap(session, patroller_id, trip.started_at, trip.ended_at)
        trip.status = "logged"
        attach_to_signup(session, signup, task=task, patroller=trip.patroller, patrol=trip, confirmed=True, now=now)
        return signup
    client_uuid = str(uuid_module.uuid5(ATTENDANCE_NAMESPACE, f"task:{task.id}:patroller:{patroller_id}"))
    log_patrol(session, patrol=NewPatrol(
        client_uuid=client_uuid, kind="group", patroller_id=patroller_id, task_id=task.id,
        started_at=started_at or task.starts_at, ended_at=ended_at or task.ends_at,
        confirmed_by_station=not from_paper, from_paper=from_paper,
    ), source=source, max_hours=max_hours, now=now)
    return session.scalar(
        sa.select(TaskSignup).where(TaskSignup.task_id == task.id, TaskSignup.patroller_id == patroller_id)
    )
