"""Storing fixes: the device's datum to WGS-84, replays recognised, every point kept with its flags.

Keyword arguments, no Flask, flushes only. A fix is stored once per (device, fix time, payload):
the same fix again is a replay and stores nothing; a different payload at a fix time already
stored is kept and flagged "conflicting_fix". No message here or below ever holds a device key.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

import sqlalchemy as sa
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point
from sqlalchemy.orm import Session

from gridsvc.db import SRID
from gridsvc.positions.models import Device, Position
from gridsvc.positions.protocols import Fix, Limits, flag_reasons


def limits_from_config(config) -> Limits:
    """The flag thresholds from the POSITION_* settings of config.py."""
    return Limits(max_accuracy_m=float(config["POSITION_MAX_ACCURACY_M"]),
                  max_jump_kmh=float(config["POSITION_MAX_JUMP_KMH"]),
                  max_future_seconds=float(config["POSITION_MAX_FUTURE_SECONDS"]),
                  max_age_days=float(config["POSITION_MAX_AGE_DAYS"]))


def to_wgs84(fix: Fix, *, datum: str) -> Fix:
    """The fix with its position in WGS-84 (a reused position is already stored in WGS-84)."""
    if datum != "gcj02" or fix.reused_position:
        return fix
    from maps.gcj02 import gcj02_to_wgs84

    lon, lat = gcj02_to_wgs84(fix.lon, fix.lat)
    return dataclasses.replace(fix, lon=lon, lat=lat)


def payload_digest(fix: Fix) -> str:
    """SHA-256 of what is stored of a fix (as sent, whatever protocol carried it): equal means a replay."""
    fields = {
        "time": fix.time.isoformat(), "lon": repr(fix.lon), "lat": repr(fix.lat),
        "accuracy_m": fix.accuracy_m, "speed_mps": fix.speed_mps, "heading_deg": fix.heading_deg,
        "altitude_m": fix.altitude_m, "battery_percent": fix.battery_percent, "valid": fix.valid,
        "reused_position": fix.reused_position,
    }
    text = json.dumps({k: repr(v) if isinstance(v, float) else v for k, v in fields.items()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _as_fix(position: Position) -> Fix:
    point = to_shape(position.geom)
    return Fix(device_key="", time=position.fixed_at, lon=point.x, lat=point.y, source=position.source,
               reused_position="reused_position" in (position.flags or []))


def latest_position(session: Session, *, device_id: int, before: dt.datetime | None = None) -> Position | None:
    """The device's latest stored fix (strictly before `before` when given)."""
    query = sa.select(Position).where(Position.device_id == device_id)
    if before is not None:
        query = query.where(Position.fixed_at < before)
    return session.scalars(query.order_by(Position.fixed_at.desc(), Position.id.desc()).limit(1)).first()


def last_known_lonlat(session: Session, *, device_id: int) -> tuple[float, float] | None:
    """The device's last stored position (lon, lat), for a message without coordinates."""
    latest = latest_position(session, device_id=device_id)
    if latest is None:
        return None
    point = to_shape(latest.geom)
    return point.x, point.y


def store_fix(session: Session, *, device: Device, fix: Fix, now: dt.datetime, limits: Limits) -> Position | None:
    """Store one fix of the device; None when it is a replay (stored already, nothing written)."""
    fix = to_wgs84(fix, datum=device.datum)
    digest = payload_digest(fix)
    same_time = list(session.scalars(sa.select(Position.payload_digest).where(
        Position.device_id == device.id, Position.fixed_at == fix.time)))
    if digest in same_time:
        return None
    previous = latest_position(session, device_id=device.id, before=fix.time)
    flags = flag_reasons(fix, previous=_as_fix(previous) if previous is not None else None, now=now, limits=limits)
    if same_time:
        flags.append("conflicting_fix")
    if fix.reused_position:
        flags.append("reused_position")
    position = Position(
        device_id=device.id, patroller_id=device.patroller_id, fixed_at=fix.time, received_at=now,
        geom=from_shape(Point(fix.lon, fix.lat), srid=SRID), accuracy_m=fix.accuracy_m, speed_mps=fix.speed_mps,
        heading_deg=fix.heading_deg, altitude_m=fix.altitude_m, battery_percent=fix.battery_percent,
        source=fix.source, flags=flags, payload_digest=digest,
    )
    later = session.scalar(sa.select(sa.func.count()).select_from(Position).where(
        Position.device_id == device.id, Position.fixed_at > fix.time))
    try:
        with session.begin_nested():  # a concurrent request stored the very same fix: a replay
            session.add(position)
            session.flush()
    except sa.exc.IntegrityError:
        return None
    device.last_seen_at = now
    if fix.battery_percent is not None and not later:
        device.battery_percent = fix.battery_percent
    session.flush()
    return position
