"""Storing fixes: the device's datum to WGS-84, replays recognised, every point kept with its flags.

Keyword arguments, no Flask, flushes only. A fix is stored once per (device, fix time, payload):
the same fix again is a replay and stores nothing; a different payload at a fix time already
stored is kept and flagged "conflicting_fix". No message here or below ever holds a device key.
"""
from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import hashlib
import json
import secrets

import sqlalchemy as sa
from geoalchemy2.shape import from_shape, to_shape
import shapely
from shapely.geometry import Point
from sqlalchemy.orm import Session

from gridsvc.db import SRID
from gridsvc.geo.shapes import metres_to_area
from gridsvc.positions.models import Device, Position
from gridsvc.positions.protocols import Fix, Limits, flag_reasons
from gridsvc.positions.service import TRACK_FILE_PLATFORM


def limits_from_config(config) -> Limits:
    """The flag thresholds from the POSITION_* settings of config.py."""
    return Limits(max_accuracy_m=float(config["POSITION_MAX_ACCURACY_M"]),
                  max_jump_kmh=float(config["POSITION_MAX_JUMP_KMH"]),
                  max_future_seconds=float(config["POSITION_MAX_FUTURE_SECONDS"]),
                  max_age_days=float(config["POSITION_MAX_AGE_DAYS"]),
                  zone_tolerance_m=float(config["POSITION_ZONE_TOLERANCE_M"]))


_zone_cache: dict[tuple, object] = {}


def zone_outline(session: Session):
    """The zone's outline (union of the centre grids), rebuilt only when a centre grid changed; None without one."""
    from gridsvc.grids.models import Grid

    count, changed = session.execute(sa.select(sa.func.count(Grid.id), sa.func.max(Grid.updated_at))
                                     .where(Grid.level == "centre")).one()
    stamp = (str(session.get_bind().engine.url), count, changed)
    if stamp not in _zone_cache:
        from shapely.ops import unary_union

        shapes = [to_shape(geom) for geom in session.scalars(sa.select(Grid.geom).where(Grid.level == "centre"))]
        _zone_cache.clear()
        zone = unary_union(shapes) if shapes else None
        if zone is not None:
            shapely.prepare(zone)
        _zone_cache[stamp] = zone
    return _zone_cache[stamp]


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


def _trusted(position: Position) -> bool:
    return "jump" not in (position.flags or [])


# How far back a fix looks for the last point not flagged as a jump (a run of jumps longer than this
# is judged against the newest of them).
TRUSTED_LOOKBACK = 20


def _latest_trusted(session: Session, *, device_id: int, before: dt.datetime) -> Position | None:
    """The device's latest stored fix before `before` that is not flagged as a jump (else its latest)."""
    recent = list(session.scalars(
        sa.select(Position).where(Position.device_id == device_id, Position.fixed_at < before)
        .order_by(Position.fixed_at.desc(), Position.id.desc()).limit(TRUSTED_LOOKBACK)))
    return next((position for position in recent if _trusted(position)), recent[0] if recent else None)


def last_known_lonlat(session: Session, *, device_id: int) -> tuple[float, float] | None:
    """The device's last stored position (lon, lat), for a message without coordinates."""
    latest = latest_position(session, device_id=device_id)
    if latest is None:
        return None
    point = to_shape(latest.geom)
    return point.x, point.y


def store_fix(session: Session, *, device: Device, fix: Fix, now: dt.datetime, limits: Limits) -> Position | None:
    """Store one fix of the device; None when it is a replay (stored already, nothing written)."""
    return store_fixes(session, device=device, fixes=[fix], now=now, limits=limits)[0]


def store_fixes(session: Session, *, device: Device, fixes: list[Fix], now: dt.datetime,
                limits: Limits) -> list[Position | None]:
    """Store a device's fixes (one message, a batch, a track file) as if one by one in time order.

    Each result is the stored point, or None for a replay: the same fix already stored, or sent
    twice in this batch. A fix is judged against the device's fix nearest before it in time,
    stored or in this batch, so late and out-of-order points take their place in time.
    """
    sent = fixes
    fixes = [to_wgs84(fix, datum=device.datum) for fix in fixes]
    results: list[Position | None] = [None] * len(fixes)
    if not fixes:
        return results
    order = sorted(range(len(fixes)), key=lambda index: fixes[index].time)
    first, last = fixes[order[0]].time, fixes[order[-1]].time
    in_range = list(session.scalars(sa.select(Position).where(
        Position.device_id == device.id, Position.fixed_at >= first, Position.fixed_at <= last)
        .order_by(Position.fixed_at, Position.id)))
    digests_at: dict[dt.datetime, set[str]] = {}
    # (time, tie-break, fix, trusted) of the device, sorted; a point flagged as a jump is not trusted,
    # so the point after a jump is judged against the last good one (and is no jump when back on track).
    timeline: list[tuple[dt.datetime, int, Fix, bool]] = []
    for position in in_range:
        digests_at.setdefault(position.fixed_at, set()).add(position.payload_digest)
        timeline.append((position.fixed_at, len(timeline), _as_fix(position), _trusted(position)))
    before = _latest_trusted(session, device_id=device.id, before=first)
    if before is not None:
        timeline.append((before.fixed_at, -1, _as_fix(before), True))
    timeline.sort(key=lambda entry: (entry[0], entry[1]))
    zone = zone_outline(session)
    new_rows = []
    for index in order:
        fix = fixes[index]
        digest = payload_digest(fix)
        same_time = digests_at.setdefault(fix.time, set())
        if digest in same_time:
            continue
        at = bisect.bisect_left(timeline, fix.time, key=lambda entry: entry[0])
        previous = next((timeline[i][2] for i in range(at - 1, -1, -1) if timeline[i][3]), None)
        flags = flag_reasons(fix, previous=previous, now=now, limits=limits)
        if same_time:
            flags.append("conflicting_fix")
        if fix.reused_position:
            flags.append("reused_position")
        if (zone is not None and "zero_position" not in flags and not zone.contains(Point(fix.lon, fix.lat))
                and metres_to_area(zone, [fix.lon], [fix.lat])[0] > limits.zone_tolerance_m):
            flags.append("outside_zone")
        same_time.add(digest)
        bisect.insort(timeline, (fix.time, len(timeline) + len(new_rows), fix, "jump" not in flags),
                      key=lambda entry: (entry[0], entry[1]))
        results[index] = Position(
            device_id=device.id, patroller_id=device.patroller_id, fixed_at=fix.time, received_at=now,
            geom=from_shape(Point(fix.lon, fix.lat), srid=SRID), accuracy_m=fix.accuracy_m, speed_mps=fix.speed_mps,
            heading_deg=fix.heading_deg, altitude_m=fix.altitude_m, battery_percent=fix.battery_percent,
            source=fix.source, flags=flags, payload_digest=digest,
        )
        new_rows.append(results[index])
    if new_rows:
        newest_stored = session.scalar(sa.select(sa.func.max(Position.fixed_at)).where(Position.device_id == device.id))
        try:
            with session.begin_nested():
                session.add_all(new_rows)
                session.flush()
        except sa.exc.IntegrityError:
            if len(fixes) == 1:
                return [None]  # a concurrent request stored the very same fix: a replay
            # A concurrent request stored some of these: one by one, each judged again.
            return [store_fix(session, device=device, fix=fix, now=now, limits=limits) for fix in sent]
        device.last_seen_at = now
        latest_new = max((row for row in new_rows if row.battery_percent is not None),
                         key=lambda row: row.fixed_at, default=None)
        # A late point does not say how the battery is now.
        if latest_new is not None and (newest_stored is None or latest_new.fixed_at > newest_stored):
            device.battery_percent = latest_new.battery_percent
        session.flush()
    return results


TRACK_FILE_DEVICE_PLATFORM = TRACK_FILE_PLATFORM
TRACK_FILE_MAX_AGE_DAYS = 36_500


def track_file_device(session: Session, *, patroller_id: int) -> Device:
    """The patroller's device for points that came in a track file (GPX, GeoJSON): one each, no key anyone knows."""
    device = session.scalar(sa.select(Device).where(Device.patroller_id == patroller_id,
                                                    Device.platform == TRACK_FILE_DEVICE_PLATFORM).limit(1))
    if device is None:
        device = Device(patroller_id=patroller_id, name="GPX / GeoJSON", platform=TRACK_FILE_DEVICE_PLATFORM,
                        key_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest())
        session.add(device)
        session.flush()
    return device


def store_track_file(session: Session, *, patroller_id: int, source: str, points, now: dt.datetime,
                     limits: Limits) -> list[Position | None]:
    """Keep a logged patrol's track file points, (time, lon, lat) each, as positions: the same store and flags.

    The patrol itself is the duty the points were recorded on. The same file again stores nothing.
    A file is sent after the walk, as late as the patrol intake allows, so its points are never
    "too_old" (that flag is for live trackers whose clock or buffer went wrong).
    """
    limits = dataclasses.replace(limits, max_age_days=TRACK_FILE_MAX_AGE_DAYS)
    device = track_file_device(session, patroller_id=patroller_id)
    fixes = [Fix(device_key="-", time=time, lon=lon, lat=lat, source=source) for time, lon, lat in points]
    return store_fixes(session, device=device, fixes=fixes, now=now, limits=limits)
