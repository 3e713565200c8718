"""The live snapshot: every patroller on an open session, their last position and a state from its age.

Framework-free: callers pass the session, the scope and the thresholds. A point is kept only on
duty, and an open session puts its patroller on duty, so the points read here are on-duty points.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from gridsvc.auth.models import User
from gridsvc.geo.geodesy import great_circle_distance_m
from gridsvc.live.models import LiveStream
from gridsvc.patrols.models import PatrolSession, PatrolTask
from gridsvc.positions.models import Position

LIVE_STATES = ("online", "stale", "offline")


@dataclass(frozen=True)
class LiveRules:
    """How old a last fix may be: up to stale_after online, then stale, after offline_after offline."""

    stale_after: dt.timedelta
    offline_after: dt.timedelta
    future: dt.timedelta  # a fix dated this far ahead is a phone's wrong clock, not the last position

    @classmethod
    def from_config(cls, config) -> "LiveRules":
        """The thresholds of config.py (LIVE_STALE_SECONDS, LIVE_OFFLINE_SECONDS, POSITION_MAX_FUTURE_SECONDS)."""
        return cls(stale_after=dt.timedelta(seconds=float(config["LIVE_STALE_SECONDS"])),
                   offline_after=dt.timedelta(seconds=float(config["LIVE_OFFLINE_SECONDS"])),
                   future=dt.timedelta(seconds=float(config["POSITION_MAX_FUTURE_SECONDS"])))


@dataclass(frozen=True)
class LastFix:
    """The latest kept point of a running patrol."""

    lon: float
    lat: float
    fixed_at: dt.datetime
    accuracy_m: float | None
    speed_mps: float | None
    battery_percent: float | None


@dataclass(frozen=True)
class SessionInfo:
    """What the live view shows of a running patrol, detached from any database session."""

    id: int
    kind: str
    started_at: dt.datetime
    patroller_id: int
    patroller_name: str
    app_account_id: str | None
    station_id: int
    station_code: str
    station_name: str
    task_id: int | None
    task_title: str | None
    task_station_id: int | None

    @classmethod
    def of(cls, patrol: PatrolSession) -> "SessionInfo":
        """The info of a loaded session."""
        return cls(id=patrol.id, kind=patrol.kind, started_at=patrol.started_at, patroller_id=patrol.patroller_id,
                   patroller_name=patrol.patroller.name, app_account_id=patrol.patroller.app_account_id,
                   station_id=patrol.station_id, station_code=patrol.station.code, station_name=patrol.station.name,
                   task_id=patrol.task_id, task_title=None if patrol.task is None else patrol.task.title,
                   task_station_id=None if patrol.task is None else patrol.task.station_id)

    def in_scope(self, station_ids: set[int] | None) -> bool:
        """A station user sees their station's patrollers and those on their station's tasks."""
        return station_ids is None or self.station_id in station_ids or self.task_station_id in station_ids


@dataclass(frozen=True)
class LivePatroller:
    """One patroller out now: their open session, its distance so far, their last fix and its state."""

    patrol: SessionInfo
    last: LastFix | None
    distance_m: float
    points: int
    state: str


def state_of(last_fix_at: dt.datetime | None, *, now: dt.datetime, rules: LiveRules) -> str:
    """online / stale / offline from the age of the last fix (none yet: offline)."""
    if last_fix_at is None:
        return "offline"
    age = now - last_fix_at
    if age <= rules.stale_after:
        return "online"
    return "stale" if age <= rules.offline_after else "offline"


def open_sessions(session: Session, *, station_ids: set[int] | None) -> list[SessionInfo]:
    """Running patrols in scope: of the stations' patrollers, or on the stations' tasks (None: every station)."""
    query = (sa.select(PatrolSession).where(PatrolSession.status == "open")
             .options(joinedload(PatrolSession.patroller), joinedload(PatrolSession.task),
                      joinedload(PatrolSession.station))
             .order_by(PatrolSession.started_at, PatrolSession.id))
    if station_ids is not None:
        on_station_task = sa.select(PatrolTask.id).where(PatrolTask.station_id.in_(station_ids))
        query = query.where(sa.or_(PatrolSession.station_id.in_(station_ids),
                                   PatrolSession.task_id.in_(on_station_task)))
    return [SessionInfo.of(patrol) for patrol in session.scalars(query).unique()]


_POINT_COLUMNS = (Position.id, Position.patroller_id, sa.func.ST_X(Position.geom), sa.func.ST_Y(Position.geom),
                  Position.fixed_at, Position.accuracy_m, Position.speed_mps, Position.battery_percent,
                  Position.flags)


def _kept_fixes(session: Session, patrols: list[SessionInfo], *, now: dt.datetime, rules: LiveRules,
                max_id: int | None = None) -> dict[int, list[LastFix]]:
    """Each patroller's kept fixes since their session's start, in fix order (flagged ones left out)."""
    if not patrols:
        return {}
    started = {patrol.patroller_id: patrol.started_at for patrol in patrols}
    query = (sa.select(*_POINT_COLUMNS)
             .where(Position.patroller_id.in_(started), Position.fixed_at >= min(started.values()),
                    Position.fixed_at <= now + rules.future)
             .order_by(Position.patroller_id, Position.fixed_at, Position.id))
    if max_id is not None:
        query = query.where(Position.id <= max_id)
    rows = session.execute(query).all()
    walked: dict[int, list[LastFix]] = {}
    for _id, patroller_id, lon, lat, fixed_at, accuracy, speed, battery, flags in rows:
        if fixed_at < started[patroller_id] or flags:
            continue  # before this session, or a point the intake flagged (a jump, a bad fix)
        walked.setdefault(patroller_id, []).append(
            LastFix(lon=lon, lat=lat, fixed_at=fixed_at, accuracy_m=accuracy, speed_mps=speed, battery_percent=battery))
    return walked


def _distance_m(fixes: list[LastFix]) -> float:
    total = 0.0
    for a, b in zip(fixes, fixes[1:]):
        total += great_circle_distance_m(a.lon, a.lat, b.lon, b.lat)
    return total


def snapshot(session: Session, *, station_ids: set[int] | None, now: dt.datetime, rules: LiveRules) -> list[LivePatroller]:
    """Every patroller on an open session in scope, with the last kept fix since its start and the state."""
    patrols = open_sessions(session, station_ids=station_ids)
    walked = _kept_fixes(session, patrols, now=now, rules=rules)
    out = []
    for patrol in patrols:
        fixes = walked.get(patrol.patroller_id, [])
        last = fixes[-1] if fixes else None
        out.append(LivePatroller(patrol=patrol, last=last, distance_m=_distance_m(fixes), points=len(fixes),
                                 state=state_of(last.fixed_at if last else None, now=now, rules=rules)))
    return out


@dataclass
class _Tracked:
    info: SessionInfo
    last: LastFix | None
    distance_m: float
    points: int


class LiveState:
    """A process's running patrols and their figures, brought up to date with only the points that came in.

    `refresh` reads the open sessions (one small query) and the points stored since its last read:
    by id past the newest it saw, and again those received within REREAD (a transaction committed
    out of id order on PostgreSQL is read then). A point older than its session's last fix (a
    phone's buffer sent late) has the session's figures read again in full. Its snapshots equal
    `snapshot`'s for the same data.
    """

    REREAD = dt.timedelta(seconds=30)

    def __init__(self) -> None:
        self._tracked: dict[int, _Tracked] = {}  # by session id
        self._cursor = 0  # the newest position id read
        self._recent: dict[int, dt.datetime] = {}  # ids read within REREAD, by received time
        self._last_read: dt.datetime | None = None

    def refresh(self, session: Session, *, now: dt.datetime, rules: LiveRules) -> bool:
        """Bring the state up to date; whether anything changed. A failed refresh starts the next one afresh."""
        try:
            return self._refresh(session, now=now, rules=rules)
        except Exception:
            # Figures may be half-updated: forget them all, the next refresh reads every session in full.
            self._tracked, self._recent, self._cursor, self._last_read = {}, {}, 0, None
            raise

    def _refresh(self, session: Session, *, now: dt.datetime, rules: LiveRules) -> bool:
        current = {info.id: info for info in open_sessions(session, station_ids=None)}
        changed = False
        for session_id in list(self._tracked):
            if session_id not in current:
                del self._tracked[session_id]
                changed = True
        new = [info for session_id, info in current.items() if session_id not in self._tracked]
        cursor = session.scalar(sa.select(sa.func.max(Position.id))) or 0
        reread_from = (self._last_read or now) - self.REREAD
        unread = Position.received_at >= reread_from
        if self._last_read is not None:
            unread = sa.or_(Position.id > self._cursor, unread)
        rows = session.execute(
            sa.select(*_POINT_COLUMNS, Position.received_at)
            .where(unread, Position.id <= cursor,
                   Position.patroller_id.in_({info.patroller_id for info in current.values()}))
            .order_by(Position.fixed_at, Position.id)
        ).all()
        by_patroller = {t.info.patroller_id: t for t in self._tracked.values()}
        dirty: set[int] = set()
        seen: dict[int, dt.datetime] = {}
        for point_id, patroller_id, lon, lat, fixed_at, accuracy, speed, battery, flags, received_at in rows:
            if point_id in self._recent:
                continue
            # Seen now (the sessions read in full below include it): never applied twice.
            seen[point_id] = received_at
            tracked = by_patroller.get(patroller_id)
            if tracked is None or flags or fixed_at < tracked.info.started_at or fixed_at > now + rules.future:
                continue
            if tracked.last is not None and fixed_at <= tracked.last.fixed_at:
                # Late, or a second point at the same moment (one a full read may already hold): read again.
                dirty.add(tracked.info.id)
                continue
            fix = LastFix(lon=lon, lat=lat, fixed_at=fixed_at, accuracy_m=accuracy, speed_mps=speed,
                          battery_percent=battery)
            if tracked.last is not None:
                tracked.distance_m += great_circle_distance_m(tracked.last.lon, tracked.last.lat, lon, lat)
            tracked.last, tracked.points = fix, tracked.points + 1
            changed = True
        reload = new + [self._tracked[session_id].info for session_id in dirty]
        changed = changed or bool(reload)
        # Read up to the cursor only: a point stored meanwhile is the next refresh's, never counted twice.
        for info, fixes in ((info, _kept_fixes(session, [info], now=now, rules=rules, max_id=cursor)
                             .get(info.patroller_id, [])) for info in reload):
            self._tracked[info.id] = _Tracked(info=info, last=fixes[-1] if fixes else None,
                                              distance_m=_distance_m(fixes), points=len(fixes))
        self._recent.update(seen)
        self._recent = {i: at for i, at in self._recent.items() if at >= reread_from}
        self._cursor, self._last_read = max(self._cursor, cursor), now
        return changed

    def snapshot(self, *, station_ids: set[int] | None, now: dt.datetime, rules: LiveRules) -> list[LivePatroller]:
        """The patrollers out now in scope, as `snapshot` orders them."""
        tracked = sorted((t for t in self._tracked.values() if t.info.in_scope(station_ids)),
                         key=lambda t: (t.info.started_at, t.info.id))
        return [LivePatroller(patrol=t.info, last=t.last, distance_m=t.distance_m, points=t.points,
                              state=state_of(t.last.fixed_at if t.last else None, now=now, rules=rules))
                for t in tracked]


def open_stream(session: Session, *, user_id: int, now: dt.datetime, limit: int,
                live_after: dt.timedelta) -> int | None:
    """Register a stream of the account, unless it already holds `limit` live ones (None then); its id.

    A stream renews its row while it runs: a row not renewed within `live_after` was left by a
    killed process and no longer counts. The account's row is locked so two opening at once count right.
    """
    session.execute(sa.select(User.id).where(User.id == user_id).with_for_update())
    session.execute(sa.delete(LiveStream).where(LiveStream.user_id == user_id, LiveStream.seen_at < now - live_after))
    held = session.scalar(sa.select(sa.func.count()).select_from(LiveStream).where(LiveStream.user_id == user_id))
    if held >= limit:
        return None
    stream = LiveStream(user_id=user_id, opened_at=now, seen_at=now)
    session.add(stream)
    session.flush()
    return stream.id


def renew_stream(session: Session, *, stream_id: int, now: dt.datetime) -> None:
    """The stream is still open."""
    session.execute(sa.update(LiveStream).where(LiveStream.id == stream_id).values(seen_at=now))


def close_stream(session: Session, *, stream_id: int) -> None:
    """The stream ended."""
    session.execute(sa.delete(LiveStream).where(LiveStream.id == stream_id))
