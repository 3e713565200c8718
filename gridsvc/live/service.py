"""The live snapshot: every patroller on an open session, their last position and a state from its age.

Framework-free: callers pass the session, the scope and the thresholds. A point is kept only on
duty, and an open session puts its patroller on duty, so the points read here are on-duty points.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from gridsvc.auth.models import User
from gridsvc.geo.geodesy import MEAN_EARTH_RADIUS_M
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
class LivePatroller:
    """One patroller out now: their open session, its distance so far, their last fix and its state."""

    patrol: PatrolSession
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


def _haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * MEAN_EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def open_sessions(session: Session, *, station_ids: set[int] | None) -> list[PatrolSession]:
    """Running patrols in scope: of the stations' patrollers, or on the stations' tasks (None: every station)."""
    query = (sa.select(PatrolSession).where(PatrolSession.status == "open")
             .options(joinedload(PatrolSession.patroller), joinedload(PatrolSession.task))
             .order_by(PatrolSession.started_at, PatrolSession.id))
    if station_ids is not None:
        on_station_task = sa.select(PatrolTask.id).where(PatrolTask.station_id.in_(station_ids))
        query = query.where(sa.or_(PatrolSession.station_id.in_(station_ids),
                                   PatrolSession.task_id.in_(on_station_task)))
    return list(session.scalars(query).unique())


def snapshot(session: Session, *, station_ids: set[int] | None, now: dt.datetime, rules: LiveRules) -> list[LivePatroller]:
    """Every patroller on an open session in scope, with the last kept fix since its start and the state."""
    patrols = open_sessions(session, station_ids=station_ids)
    if not patrols:
        return []
    started = {patrol.patroller_id: patrol.started_at for patrol in patrols}
    rows = session.execute(
        sa.select(Position.patroller_id, sa.func.ST_X(Position.geom), sa.func.ST_Y(Position.geom), Position.fixed_at,
                  Position.accuracy_m, Position.speed_mps, Position.battery_percent, Position.flags)
        .where(Position.patroller_id.in_(started), Position.fixed_at >= min(started.values()),
               Position.fixed_at <= now + rules.future)
        .order_by(Position.patroller_id, Position.fixed_at, Position.id)
    ).all()
    walked: dict[int, list] = {}
    for row in rows:
        patroller_id, lon, lat, fixed_at, accuracy, speed, battery, flags = row
        if fixed_at < started[patroller_id] or flags:
            continue  # before this session, or a point the intake flagged (a jump, a bad fix)
        walked.setdefault(patroller_id, []).append(
            LastFix(lon=lon, lat=lat, fixed_at=fixed_at, accuracy_m=accuracy, speed_mps=speed, battery_percent=battery))
    out = []
    for patrol in patrols:
        fixes = walked.get(patrol.patroller_id, [])
        distance = sum(_haversine_m((a.lon, a.lat), (b.lon, b.lat)) for a, b in zip(fixes, fixes[1:]))
        last = fixes[-1] if fixes else None
        out.append(LivePatroller(patrol=patrol, last=last, distance_m=distance, points=len(fixes),
                                 state=state_of(last.fixed_at if last else None, now=now, rules=rules)))
    return out


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
