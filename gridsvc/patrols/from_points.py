"""Patrol sessions built from stored points: explicit sessions (start, stop), trips detected in an
on-duty tracker stream (proposed, then confirmed or rejected), and their verification from the
points, again whenever a limit changes (reverify).

Keyword arguments, no Flask, flushes only. A session is open (started, not stopped), proposed (a
detected trip), rejected or logged; only logged sessions count in any figure (models.COUNTED).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
import uuid as uuid_module
from dataclasses import dataclass, field

import sqlalchemy as sa
from shapely.geometry import LineString
from sqlalchemy.orm import Session

from gridsvc.db import is_sqlite, utcnow
from gridsvc.errors import ConflictError, ValidationError
from gridsvc.geo.shapes import from_db, to_db
from gridsvc.patrols import service
from gridsvc.patrols.models import PatrolGridTime, PatrolSession, PatrolTask, TaskSignup
from gridsvc.patrols.track import Track, TrackPoint
from gridsvc.patrols.trips import StoredPoint, Trip, TripRules, detect_trips, kept_points
from gridsvc.patrols.verification import Limits, PatrolVerification, verify_patrol, verify_without_track
from gridsvc.patrols.zone import Zone
from gridsvc.positions.models import Position

# Deterministic ids of detected trips (uuid5 of patroller and start): detecting again finds the same trip.
TRIP_NAMESPACE = uuid_module.UUID("0f7d3c52-8a41-4c8e-b1f6-6a2e9d4b7c13")
# Sessions whose points are the patrol: an explicit one and a detected trip.
POINT_SOURCES = ("points", "trip")


@dataclass(frozen=True)
class PointRules:
    """The limits a patrol from points is computed with (config.py VERIFY_*, POSITION_MAX_JUMP_KMH, TRIP_*)."""

    limits: Limits = field(default_factory=Limits)
    max_jump_kmh: float = 150.0
    trips: TripRules = field(default_factory=TripRules)
    max_hours: int = 24
    lookback_hours: float = 48

    @classmethod
    def from_config(cls, config) -> PointRules:
        """The rules of an app's configuration."""
        return cls(
            limits=Limits(max_speed_kmh=float(config["VERIFY_MAX_SPEED_KMH"]),
                          max_gap_seconds=float(config["VERIFY_MAX_GAP_SECONDS"]),
                          zone_tolerance_m=float(config["PATROL_ZONE_TOLERANCE_M"]),
                          route_buffer_m=float(config["PATROL_ROUTE_BUFFER_M"])),
            max_jump_kmh=float(config["POSITION_MAX_JUMP_KMH"]), trips=TripRules.from_config(config),
            max_hours=int(config["MAX_SESSION_HOURS"]), lookback_hours=float(config["TRIP_LOOKBACK_HOURS"]))


# ---------------------------------------------------------------------------------------------
# Points and their verification
# ---------------------------------------------------------------------------------------------


def stored_points(session: Session, *, patroller_id: int, start: dt.datetime, end: dt.datetime) -> list[StoredPoint]:
    """Every stored point of the patroller fixed in [start, end], by time (flagged ones too)."""
    rows = session.execute(
        sa.select(Position.fixed_at, sa.func.ST_X(Position.geom), sa.func.ST_Y(Position.geom), Position.device_id,
                  Position.flags)
        .where(Position.patroller_id == patroller_id, Position.fixed_at >= start, Position.fixed_at <= end)
        .order_by(Position.fixed_at, Position.id))
    return [StoredPoint(time=time, lon=float(lon), lat=float(lat), device_id=device_id, flags=tuple(flags or ()))
            for time, lon, lat, device_id, flags in rows]


def _verification(patrol: PatrolSession, points: list[StoredPoint], kept: list[StoredPoint], *, zone: Zone,
                  rules: PointRules) -> tuple[PatrolVerification, Track | None]:
    """The session's verification from its kept points (with fewer than two, nothing supports it)."""
    claimed = int((patrol.ended_at - patrol.started_at).total_seconds())
    if len(kept) < 2:
        verification = verify_without_track(claimed, confirmed_by_station=False)
        track = None
    else:
        track = Track(points=tuple(TrackPoint(point.lon, point.lat, point.time) for point in kept))
        task = patrol.task
        # Stored points far outside the zone are already flagged; the rest count as outside the
        # area, never as a refusal (a session from points cannot be sent again without them).
        verification = verify_patrol(
            track, started_at=patrol.started_at, ended_at=patrol.ended_at, zone=zone,
            task_area=from_db(task.area) if task is not None else None,
            task_id=task.id if task is not None else None,
            station_id=task.station_id if task is not None else patrol.patroller.station_id,
            limits=dataclasses.replace(rules.limits, zone_tolerance_m=math.inf))
    details = dict(verification.details, method="points" if patrol.source in POINT_SOURCES else "track",
                   points={"stored": len(points), "kept": len(kept), "excluded": len(points) - len(kept)},
                   jump_kmh=rules.max_jump_kmh)
    return dataclasses.replace(verification, details=details), track


def _figures(patrol: PatrolSession) -> tuple:
    """What a re-verification may change: verified seconds, reasons, station, seconds per grid."""
    reasons = (patrol.verification or {}).get("reasons")
    return (patrol.verified_seconds, reasons, patrol.station_id,
            sorted((row.grid_id, row.seconds) for row in patrol.grid_times))


def apply_points(session: Session, *, patrol: PatrolSession, zone: Zone, rules: PointRules,
                 only_if_changed: bool = False) -> bool:
    """(Re)compute a closed session's verified time, track and seconds per grid from its stored points.

    Flagged points are excluded; jumps are judged with rules.max_jump_kmh. With only_if_changed
    the session is written only when a figure (verified seconds, reasons, station, seconds per
    grid) differs. Returns whether it was written.
    """
    points = stored_points(session, patroller_id=patrol.patroller_id, start=patrol.started_at, end=patrol.ended_at)
    kept = kept_points(points, max_jump_kmh=rules.max_jump_kmh)
    verification, track = _verification(patrol, points, kept, zone=zone, rules=rules)
    station_id = verification.station_id if patrol.task_id is None and verification.station_id else patrol.station_id
    new_figures = (verification.verified_seconds, verification.details.get("reasons"), station_id,
                   sorted(verification.grid_seconds.items()))
    if only_if_changed and new_figures == _figures(patrol):
        return False
    patrol.duration_seconds = int((patrol.ended_at - patrol.started_at).total_seconds())
    patrol.verified_seconds = verification.verified_seconds
    kept_trim = (patrol.verification or {}).get("trimmed_from")
    patrol.verification = verification.details if kept_trim is None else {**verification.details, "trimmed_from": kept_trim}
    patrol.track = to_db(LineString([(p.lon, p.lat) for p in track.points])) if track is not None else None
    patrol.track_length_m = verification.length_m
    patrol.station_id = station_id
    _set_grid_times(patrol, verification.grid_seconds)
    session.flush()
    return True


def _set_grid_times(patrol: PatrolSession, grid_seconds: dict[int, int]) -> None:
    """Update the rows in place: replacing them would insert a (session, grid) key before deleting it."""
    existing = {row.grid_id: row for row in patrol.grid_times}
    for grid_id, row in existing.items():
        if grid_id not in grid_seconds:
            patrol.grid_times.remove(row)
        elif row.seconds != grid_seconds[grid_id]:
            row.seconds = grid_seconds[grid_id]
    for grid_id in sorted(set(grid_seconds) - set(existing)):
        patrol.grid_times.append(PatrolGridTime(grid_id=grid_id, seconds=grid_seconds[grid_id]))


# ---------------------------------------------------------------------------------------------
# Explicit sessions
# ---------------------------------------------------------------------------------------------


def _start_digest(*, kind: str, patroller_id: int, task_id: int | None) -> str:
    return service.payload_digest(explicit=True, kind=kind, patroller_id=patroller_id, task_id=task_id)


def open_session_of(session: Session, *, patroller_id: int) -> PatrolSession | None:
    """The patroller's open session, if one is running."""
    return session.scalar(sa.select(PatrolSession).where(PatrolSession.patroller_id == patroller_id,
                                                         PatrolSession.status == "open"))


def start_session(session: Session, *, client_uuid: str, kind: str, patroller_id: int, task_id: int | None = None,
                  now: dt.datetime | None = None) -> tuple[PatrolSession, bool]:
    """Open a session for the patroller now; (session, created). The same client_uuid answers the same session.

    ConflictError when another session of theirs is open or a logged one covers now, or the
    client_uuid was used for something else; the task rules of a group patrol apply at its start.
    """
    now = now or utcnow()
    digest = _start_digest(kind=kind, patroller_id=patroller_id, task_id=task_id)
    existing = service.replay_if_known(session, client_uuid, digest)
    if existing is not None:
        return existing, False
    patroller = service.lock_patroller(session, patroller_id)
    if not is_sqlite(session):  # a concurrent start with this uuid may have committed while we waited
        existing = service.replay_if_known(session, client_uuid, digest)
        if existing is not None:
            return existing, False
    running = open_session_of(session, patroller_id=patroller_id)
    if running is not None:
        raise ConflictError("session_already_open", "%(name)s already has a patrol running since %(start)s",
                            name=patroller.name, start=running.started_at, other=running.id)
    task, _signup = service.check_task(session, kind=kind, task_id=task_id, patroller=patroller, source="points",
                                       started_at=now, ended_at=now)
    service.check_no_overlap(session, patroller.id, now, now + dt.timedelta(seconds=1))
    row = PatrolSession(
        client_uuid=client_uuid, payload_digest=digest, kind=kind, patroller_id=patroller.id, task_id=task_id,
        station_id=task.station_id if task is not None else patroller.station_id, started_at=now, ended_at=None,
        duration_seconds=None, source="points", status="open", created_at=now,
    )
    session.add(row)
    session.flush()
    return row, True


def recorded_session(session: Session, *, client_uuid: str, kind: str, patroller_id: int, task_id: int | None,
                     started_at: dt.datetime, ended_at: dt.datetime | None, zone: Zone, rules: PointRules,
                     trimmed_from: dt.datetime | None = None, now: dt.datetime | None = None) -> PatrolSession:
    """The phone recorder's session as its queue tells it: started at `started_at`, stopped at `ended_at` once known.

    The times are the phone's own (it may have been offline for hours); sending the same again
    changes nothing, and a stopped session stays as it was stopped. A trimmed end comes with
    `trimmed_from`, when Stop was tapped: it is kept in the verification, and so in the audit trail.
    """
    now = now or utcnow()
    if not now - dt.timedelta(hours=rules.max_hours) <= started_at <= now + dt.timedelta(minutes=5):
        raise ValidationError("start_out_of_range", "The start must lie within the last %(hours)s hours",
                              hours=rules.max_hours)
    patrol, _created = start_session(session, client_uuid=client_uuid, kind=kind, patroller_id=patroller_id,
                                     task_id=task_id, now=started_at)
    if ended_at is not None and trimmed_from is not None and trimmed_from < ended_at:
        raise ValidationError("trim_after_end", "A trimmed end must lie before the moment Stop was tapped (trimmed_from)")
    if ended_at is not None and patrol.status == "open":
        stop_session(session, patrol=patrol, zone=zone, rules=rules, ended_at=ended_at, now=now)
        if trimmed_from is not None and trimmed_from > ended_at:
            patrol.verification = {**(patrol.verification or {}), "trimmed_from": trimmed_from.isoformat()}
            session.flush()
    return patrol


def stop_session(session: Session, *, patrol: PatrolSession, zone: Zone, rules: PointRules,
                 ended_at: dt.datetime | None = None, now: dt.datetime | None = None) -> PatrolSession:
    """Close an open session at `ended_at` (default now) and compute it from its points; a stopped one answers as it is.

    A session left running is cut at rules.max_hours, and a group patrol at its task's end (with
    the usual allowance); `ended_at` (a trimmed end) must lie between its start and now. A stop
    always succeeds: when the task's attendance was recorded meanwhile by another session, or the
    patroller withdrew, this one is logged as an individual patrol instead.
    """
    now = now or utcnow()
    service.lock_patroller(session, patrol.patroller_id)
    session.refresh(patrol)
    if patrol.status != "open":
        if patrol.source == "points":
            return patrol  # a retried stop
        raise ConflictError("session_not_open", "Patrol %(id)s is not running", id=patrol.id)
    if ended_at is not None and not patrol.started_at < ended_at <= now + dt.timedelta(minutes=5):
        raise ValidationError("stop_outside_session", "The end must lie after the start (%(start)s) and not in the future",
                              start=patrol.started_at)
    end = min(now if ended_at is None else ended_at, patrol.started_at + dt.timedelta(hours=rules.max_hours))
    if patrol.task is not None:
        end = min(end, patrol.task.ends_at + service.TASK_WINDOW_TOLERANCE)
    # A stop in the same second as the start still ends a (one-second) session, so it can be closed.
    patrol.ended_at = max(end, patrol.started_at + dt.timedelta(seconds=1))
    patrol.status = "logged"
    if patrol.task_id is not None and not _may_attend(session, patrol=patrol):
        patrol.task_id, patrol.task, patrol.kind = None, None, "individual"
        patrol.station_id = patrol.patroller.station_id
    apply_points(session, patrol=patrol, zone=zone, rules=rules)
    if patrol.task_id is not None:
        _attend(session, patrol=patrol, confirmed=False, now=now)
    return patrol


def _signup_of(session: Session, patrol: PatrolSession) -> TaskSignup | None:
    return session.scalar(sa.select(TaskSignup).where(TaskSignup.task_id == patrol.task_id,
                                                      TaskSignup.patroller_id == patrol.patroller_id))


def _may_attend(session: Session, *, patrol: PatrolSession) -> bool:
    """Whether the session can be its patroller's attendance of its task: still signed up, and no other session is."""
    signup = _signup_of(session, patrol)
    return (signup is not None and signup.status in service.ACTIVE_SIGNUP_STATUSES
            and signup.session_id in (None, patrol.id) and patrol.task.cancelled_at is None)


def _attend(session: Session, *, patrol: PatrolSession, confirmed: bool, now: dt.datetime) -> None:
    """Record a session as the patroller's attendance of its task (unconfirmed unless the station confirms)."""
    task = service.lock_task(session, patrol.task_id)
    signup = _signup_of(session, patrol)
    if signup is not None and signup.session_id not in (None, patrol.id):
        raise ConflictError("task_already_logged", "%(name)s already has a patrol recorded for task %(task)s",
                            name=patrol.patroller.name, other=signup.session_id, task=task.title)
    service.attach_to_signup(session, signup, task=task, patroller=patrol.patroller, patrol=patrol,
                             confirmed=confirmed, now=now)


def on_explicit_session(session: Session, *, patroller_id: int, at: dt.datetime, max_hours: float = 24) -> bool:
    """True when `at` lies in a session from points of the patroller: open (at most max_hours from its start) or stopped.

    A stopped one still holds the points a phone sends late, from its queue.
    """
    return session.scalar(
        sa.select(sa.literal(True)).select_from(PatrolSession)
        .where(PatrolSession.patroller_id == patroller_id, PatrolSession.source == "points",
               PatrolSession.status.in_(("open", "logged")), PatrolSession.started_at <= at,
               sa.or_(sa.and_(PatrolSession.ended_at.is_(None),
                              PatrolSession.started_at >= at - dt.timedelta(hours=max_hours)),
                      PatrolSession.ended_at >= at))
        .limit(1)) is True


def stop_abandoned(session: Session, *, zone: Zone, rules: PointRules, now: dt.datetime | None = None) -> int:
    """Stop every session open longer than rules.max_hours (a phone lost mid-patrol) at its last point; how many.

    Without a point it ends a second after its start: nothing supports more.
    """
    now = now or utcnow()
    abandoned = list(session.scalars(sa.select(PatrolSession).where(
        PatrolSession.status == "open", PatrolSession.started_at < now - dt.timedelta(hours=rules.max_hours))))
    for patrol in abandoned:
        last = session.scalar(sa.select(sa.func.max(Position.fixed_at)).where(
            Position.patroller_id == patrol.patroller_id, Position.fixed_at >= patrol.started_at,
            Position.fixed_at <= patrol.started_at + dt.timedelta(hours=rules.max_hours)))
        stop_session(session, patrol=patrol, zone=zone, rules=rules, now=now,
                     ended_at=last if last is not None and last > patrol.started_at
                     else patrol.started_at + dt.timedelta(seconds=1))
    return len(abandoned)


def refresh_late_points(session: Session, *, zone: Zone, rules: PointRules, now: dt.datetime | None = None) -> int:
    """Recompute the recent sessions from points whose window received points after they were computed; how many.

    A phone sends its queue when the network is back, possibly after the patrol was stopped.
    """
    now = now or utcnow()
    recent = session.scalars(sa.select(PatrolSession).where(
        PatrolSession.source.in_(POINT_SOURCES), PatrolSession.status.in_(("logged", "proposed")),
        PatrolSession.ended_at >= now - dt.timedelta(hours=rules.lookback_hours)))
    refreshed = 0
    for patrol in list(recent):
        counted = ((patrol.verification or {}).get("points") or {}).get("stored")
        if counted != _stored_count(session, patrol):
            apply_points(session, patrol=patrol, zone=zone, rules=rules)
            refreshed += 1
    return refreshed


# ---------------------------------------------------------------------------------------------
# Detected trips
# ---------------------------------------------------------------------------------------------


def _session_windows(session: Session, *, patroller_id: int, start: dt.datetime,
                     now: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """The windows of all the patroller's sessions (of any status) that reach past `start`; open ones until now."""
    rows = session.execute(sa.select(PatrolSession.started_at, PatrolSession.ended_at)
                           .where(PatrolSession.patroller_id == patroller_id,
                                  sa.or_(PatrolSession.ended_at.is_(None), PatrolSession.ended_at >= start)))
    return [(started, ended or now) for started, ended in rows]


def _task_for_trip(session: Session, *, patroller_id: int, trip: Trip) -> PatrolTask | None:
    """The group task the patroller signed up for whose window (with the usual allowance) holds the trip,
    unless another session of theirs is that task's patrol already."""
    tolerance = service.TASK_WINDOW_TOLERANCE
    recorded = sa.exists().where(PatrolSession.task_id == PatrolTask.id, PatrolSession.patroller_id == patroller_id,
                                 PatrolSession.status.in_(("open", "logged")))
    return session.scalar(
        sa.select(PatrolTask).join(TaskSignup, TaskSignup.task_id == PatrolTask.id)
        .where(TaskSignup.patroller_id == patroller_id, TaskSignup.status.in_(service.ACTIVE_SIGNUP_STATUSES),
               TaskSignup.session_id.is_(None), PatrolTask.cancelled_at.is_(None), ~recorded,
               PatrolTask.starts_at <= trip.started_at + tolerance, PatrolTask.ends_at >= trip.ended_at - tolerance)
        .order_by(PatrolTask.starts_at).limit(1))


def trip_uuid(patroller_id: int, started_at: dt.datetime) -> str:
    """The client_uuid of the trip the patroller began at `started_at`."""
    return str(uuid_module.uuid5(TRIP_NAMESPACE, f"trip:{patroller_id}:{started_at.astimezone(dt.timezone.utc).isoformat()}"))


def pending_trips(session: Session, *, patroller_id: int, rules: PointRules,
                  now: dt.datetime | None = None) -> list[Trip]:
    """The patroller's finished trips outside every session of theirs not stored yet (reads only).

    Looks rules.lookback_hours back; a trip proposed before, or rejected, is not pending again.
    """
    now = now or utcnow()
    since = now - dt.timedelta(hours=rules.lookback_hours)
    windows = _session_windows(session, patroller_id=patroller_id, start=since, now=now)
    points = kept_points(stored_points(session, patroller_id=patroller_id, start=since, end=now),
                         max_jump_kmh=rules.max_jump_kmh)

    def covered(point: StoredPoint) -> bool:
        return any(started <= point.time <= ended for started, ended in windows)

    trips = detect_trips(points, rules=rules.trips, now=now, covered=covered)
    if not trips:
        return []
    stored = set(session.scalars(sa.select(PatrolSession.client_uuid).where(
        PatrolSession.client_uuid.in_([trip_uuid(patroller_id, trip.started_at) for trip in trips]))))
    return [trip for trip in trips if trip_uuid(patroller_id, trip.started_at) not in stored]


def propose_trips(session: Session, *, patroller_id: int, zone: Zone, rules: PointRules,
                  now: dt.datetime | None = None) -> list[PatrolSession]:
    """Store each of the patroller's pending trips as a proposed session; returns the new proposals.

    A trip inside a group task the patroller signed up for is proposed as that task's group patrol.
    """
    now = now or utcnow()
    trips = pending_trips(session, patroller_id=patroller_id, rules=rules, now=now)
    if not trips:
        return []
    patroller = service.lock_patroller(session, patroller_id)
    proposals = []
    for trip in pending_trips(session, patroller_id=patroller_id, rules=rules, now=now):  # again, under the lock
        task = _task_for_trip(session, patroller_id=patroller_id, trip=trip)
        if task is not None and _joined_task_trip(session, patroller_id=patroller_id, task=task, trip=trip, zone=zone,
                                                  rules=rules):
            continue
        row = PatrolSession(
            client_uuid=trip_uuid(patroller_id, trip.started_at), kind="group" if task is not None else "individual",
            payload_digest=service.payload_digest(trip=True, patroller_id=patroller_id,
                                                  started_at=trip.started_at.isoformat()),
            patroller_id=patroller_id, task_id=task.id if task is not None else None,
            station_id=task.station_id if task is not None else patroller.station_id,
            started_at=trip.started_at, ended_at=trip.ended_at, source="trip", status="proposed", created_at=now,
            patroller=patroller, task=task)
        session.add(row)
        apply_points(session, patrol=row, zone=zone, rules=rules)
        proposals.append(row)
    return proposals


def _joined_task_trip(session: Session, *, patroller_id: int, task: PatrolTask, trip: Trip, zone: Zone,
                      rules: PointRules) -> bool:
    """Join a trip to the task's proposal of the patroller, if there is one: a task is one attendance.

    Walking, standing at a post and walking on are all the task's patrol: the proposal then spans
    from the first trip's start to the last one's end (unless that would cover another session).
    """
    proposal = session.scalar(sa.select(PatrolSession).where(
        PatrolSession.patroller_id == patroller_id, PatrolSession.task_id == task.id,
        PatrolSession.status == "proposed"))
    if proposal is None:
        return False
    start, end = min(proposal.started_at, trip.started_at), max(proposal.ended_at, trip.ended_at)
    other = session.scalar(sa.select(PatrolSession.id).where(
        PatrolSession.patroller_id == patroller_id, PatrolSession.id != proposal.id,
        PatrolSession.started_at < end, sa.or_(PatrolSession.ended_at.is_(None), PatrolSession.ended_at > start)))
    if other is not None:
        return False
    proposal.started_at, proposal.ended_at = start, end
    apply_points(session, patrol=proposal, zone=zone, rules=rules)
    return True


def confirm_trip(session: Session, *, patrol: PatrolSession, by_station: bool,
                 now: dt.datetime | None = None) -> PatrolSession:
    """A proposed (or rejected) trip becomes a logged patrol; confirming it again changes nothing.

    ConflictError when it now overlaps another logged or open session of the patroller; a trip of a
    group task becomes the patroller's attendance (confirmed when the station confirms it).
    """
    now = now or utcnow()
    service.lock_patroller(session, patrol.patroller_id)
    session.refresh(patrol)
    if patrol.source != "trip":
        raise ConflictError("not_a_trip", "Patrol %(id)s is not a detected trip", id=patrol.id)
    if patrol.status == "logged":
        if by_station and patrol.task_id is not None:
            _attend(session, patrol=patrol, confirmed=True, now=now)
        return patrol
    service.check_no_overlap(session, patrol.patroller_id, patrol.started_at, patrol.ended_at)
    if patrol.task_id is not None:
        signup = _signup_of(session, patrol)
        other = signup.session_id if signup is not None and signup.session_id not in (None, patrol.id) else None
        other = other or session.scalar(sa.select(PatrolSession.id).where(
            PatrolSession.task_id == patrol.task_id, PatrolSession.patroller_id == patrol.patroller_id,
            PatrolSession.status == "open"))
        if other is not None:
            raise ConflictError("task_already_logged", "%(name)s already has a patrol recorded for task %(task)s",
                                name=patrol.patroller.name, other=other, task=patrol.task.title)
        if not by_station and (signup is None or signup.status not in service.ACTIVE_SIGNUP_STATUSES):
            raise ConflictError("signup_not_active",
                                "%(name)s is no longer signed up for task %(task)s; the station may still confirm it",
                                name=patrol.patroller.name, task=patrol.task.title)
    patrol.status = "logged"
    if patrol.task_id is not None:
        _attend(session, patrol=patrol, confirmed=by_station, now=now)
    session.flush()
    return patrol


def reject_trip(session: Session, *, patrol: PatrolSession) -> PatrolSession:
    """A proposed trip was no patrol (the walk to the market): kept as rejected, never proposed again."""
    service.lock_patroller(session, patrol.patroller_id)  # after a concurrent confirm, this sees it confirmed
    session.refresh(patrol)
    if patrol.source != "trip":
        raise ConflictError("not_a_trip", "Patrol %(id)s is not a detected trip", id=patrol.id)
    if patrol.status == "logged":
        raise ConflictError("trip_confirmed", "Patrol %(id)s was confirmed already", id=patrol.id)
    patrol.status = "rejected"
    session.flush()
    return patrol


def proposed_for_task(session: Session, *, task_id: int) -> dict[int, PatrolSession]:
    """The proposed trips of a task, by patroller: the attendance its station is offered."""
    rows = session.scalars(sa.select(PatrolSession).where(PatrolSession.task_id == task_id,
                                                          PatrolSession.status == "proposed"))
    return {row.patroller_id: row for row in rows}


# ---------------------------------------------------------------------------------------------
# Re-verification
# ---------------------------------------------------------------------------------------------


@dataclass
class ReverifyReport:
    """What `patrols reverify` did: sessions looked at, changed, and left as they were (and why)."""

    checked: int = 0
    changed: int = 0
    unchanged: int = 0
    without_points: int = 0  # tracked sessions whose window holds fewer than two stored points
    not_tracked: int = 0  # sessions with no track (typed, attendance, paper): nothing to recompute
    changes: list[tuple[int, int | None, int | None]] = field(default_factory=list)  # (id, old, new) verified


def reverify(session: Session, *, start: dt.datetime, end: dt.datetime, zone: Zone, rules: PointRules,
             report: ReverifyReport, after_id: int = 0, batch_size: int = 200) -> int | None:
    """Recompute from the stored points the next batch of closed sessions that started in [start, end); `report` adds up.

    Takes the sessions with ids above `after_id` and returns the last id done, or None when there
    are no more: the caller commits each batch, so a long period never holds the write lock long.
    Sessions with a track or points are recomputed; those whose window holds fewer than two stored
    points are left as they are (their track came in a file whose points are gone, say) and
    counted. A changed session's old and new figures are in the audit trail (the row audit
    records the update).
    """
    batch = list(session.scalars(
        sa.select(PatrolSession).where(PatrolSession.started_at >= start, PatrolSession.started_at < end,
                                       PatrolSession.status.in_(("logged", "proposed")), PatrolSession.id > after_id)
        .order_by(PatrolSession.id).limit(batch_size)))
    for patrol in batch:
        report.checked += 1
        if patrol.source not in POINT_SOURCES and patrol.track is None:
            report.not_tracked += 1
        elif _stored_count(session, patrol) < 2:
            report.without_points += 1
        else:
            old_verified = patrol.verified_seconds
            if apply_points(session, patrol=patrol, zone=zone, rules=rules, only_if_changed=True):
                report.changed += 1
                report.changes.append((patrol.id, old_verified, patrol.verified_seconds))
            else:
                report.unchanged += 1
    return batch[-1].id if batch else None


def _stored_count(session: Session, patrol: PatrolSession) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Position).where(
        Position.patroller_id == patrol.patroller_id, Position.fixed_at >= patrol.started_at,
        Position.fixed_at <= patrol.ended_at))
