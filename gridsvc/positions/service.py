"""Devices: register, list, revoke, rotate the key; look a device up by the key it sends.

Keyword arguments, no Flask, flushes only (the caller commits). A device key is shown once, in
the answer that made it; only its SHA-256 is stored, and no message or log line ever holds it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridsvc.db import utcnow
from gridsvc.errors import NotFoundError, ValidationError
from gridsvc.people.models import Patroller
from gridsvc.positions.models import DATUMS, Device, DutySwitch, Position

MAX_NAME_CHARS = 100
MAX_PLATFORM_CHARS = 64


def key_digest(key: str) -> str:
    """The SHA-256 (hex) under which a device key is stored and looked up."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    """A fresh device key: 192 random bits, URL-safe (it travels in a query string)."""
    return secrets.token_urlsafe(24)


def device_not_found(device_id) -> NotFoundError:
    """The answer for a device that is not there (or not the caller's to see)."""
    return NotFoundError("device_not_found", "No device %(id)s", id=device_id)


def _text(value, *, field: str, max_chars: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str) or "\x00" in value:
        raise ValidationError("device_field_text", "The field %(field)s must be text", field=field)
    text = value.strip()
    if required and not text:
        raise ValidationError("device_name_required", "Give the device a name (for example, the phone's model)")
    if len(text) > max_chars:
        raise ValidationError("device_field_too_long", "The field %(field)s is longer than %(max)s characters",
                              field=field, max=max_chars)
    return text


def check_datum(value) -> str:
    """wgs84 (the default) or gcj02."""
    if value is None:
        return "wgs84"
    if isinstance(value, str) and value.strip().lower() in DATUMS:
        return value.strip().lower()
    raise ValidationError("device_datum", "The datum must be wgs84 or gcj02; got %(datum)s", datum=str(value)[:20])


def register_device(session: Session, *, patroller: Patroller, name, platform=None, datum=None) -> tuple[Device, str]:
    """A new device for the patroller: (row, key). The key is returned once and never stored."""
    device = Device(
        patroller_id=patroller.id,
        name=_text(name, field="name", max_chars=MAX_NAME_CHARS, required=True),
        platform=_text(platform, field="platform", max_chars=MAX_PLATFORM_CHARS, required=False),
        datum=check_datum(datum),
    )
    key = new_key()
    device.key_hash = key_digest(key)
    session.add(device)
    session.flush()
    return device, key


def get_device(session: Session, *, device_id: int) -> Device:
    """A device by id, or NotFoundError."""
    device = session.get(Device, device_id) if 0 < device_id < 2**31 else None
    if device is None:
        raise device_not_found(device_id)
    return device


# The platform of the stand-in device that holds a patroller's GPX / GeoJSON track points.
TRACK_FILE_PLATFORM = "track-file"


def list_devices(session: Session, *, station_ids: set[int] | None, patroller_id: int | None = None) -> list[Device]:
    """Devices of patrollers in these stations (None: every station), or of one patroller."""
    # The stand-in device of a patroller's track files (positions.intake) is no tracker to set up or list.
    query = (sa.select(Device).join(Patroller, Device.patroller_id == Patroller.id)
             .where(Device.platform != TRACK_FILE_PLATFORM).order_by(Device.id))
    if station_ids is not None:
        query = query.where(Patroller.station_id.in_(sorted(station_ids)))
    if patroller_id is not None:
        query = query.where(Device.patroller_id == patroller_id)
    return list(session.scalars(query))


def revoke_device(session: Session, *, device: Device) -> Device:
    """Stop the device's points from now on (revoking again keeps the first time)."""
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        session.flush()
    return device


def rotate_key(session: Session, *, device: Device) -> str:
    """A new key for the device (the old one stops working at once); the new key, shown once."""
    if device.revoked_at is not None:
        raise ValidationError("device_revoked", "The device %(id)s is revoked; register a new one", id=device.id)
    if device.platform == TRACK_FILE_PLATFORM:
        raise device_not_found(device.id)  # the track files' stand-in never gets a usable key
    key = new_key()
    device.key_hash = key_digest(key)
    session.flush()
    return key


def device_for_key(session: Session, *, key: str) -> Device | None:
    """The live (not revoked) device sending this key, or None."""
    return session.scalar(sa.select(Device).where(Device.key_hash == key_digest(key), Device.revoked_at.is_(None)))


# ---------------------------------------------------------------------------------------------
# Duty and retention: a volunteer's whereabouts are kept only while on duty, and only so long
# ---------------------------------------------------------------------------------------------


def set_duty(session: Session, *, patroller_id: int, on_duty: bool, now: dt.datetime) -> DutySwitch:
    """Switch the patroller's own duty on (from now) or off."""
    switch = session.get(DutySwitch, patroller_id)
    if switch is None:
        switch = DutySwitch(patroller_id=patroller_id)
        session.add(switch)
    switch.on_since = now if on_duty else None  # switching on again restarts the DUTY_MAX_HOURS clock
    session.flush()
    return switch


def duty_switched_on(session: Session, *, patroller_id: int, at: dt.datetime, max_hours: float) -> bool:
    """True when the patroller's own switch covers this moment (it switches itself off after max_hours)."""
    switch = session.get(DutySwitch, patroller_id)
    if switch is None or switch.on_since is None:
        return False
    return switch.on_since - dt.timedelta(minutes=5) <= at <= switch.on_since + dt.timedelta(hours=max_hours)


@dataclass(frozen=True)
class DutyState:
    """A patroller's own switch now: on or off, and while on, since and until when (aware UTC)."""

    on_duty: bool
    since: dt.datetime | None
    until: dt.datetime | None


def duty_state(session: Session, *, patroller_id: int, now: dt.datetime, max_hours: float) -> DutyState:
    """The switch now: on or off, since when, until when (it switches itself off after max_hours)."""
    switch = session.get(DutySwitch, patroller_id)
    on = switch is not None and switch.on_since is not None and now <= switch.on_since + dt.timedelta(hours=max_hours)
    if not on:
        return DutyState(on_duty=False, since=None, until=None)
    return DutyState(on_duty=True, since=switch.on_since, until=switch.on_since + dt.timedelta(hours=max_hours))


def purge_positions(session: Session, *, older_than: dt.datetime, holds=(), batch_size: int = 5000) -> int:
    """Delete stored points with a fix time before `older_than`, except those `holds` keeps; how many went.

    `holds` are (patroller_id, start, end) windows whose points stay (a session not yet final, or
    final too recently for its points to have been kept the retention). On PostGIS whole month
    partitions go at once; what remains (the default partition, a month holding a hold) in batches.
    All in the caller's transaction; `flask positions purge` runs each step in a short one of its own.
    """
    from gridsvc.positions.partitions import drop_partitions_before

    holds = list(holds)
    _dropped, removed = drop_partitions_before(session.connection(), cutoff=older_than, keep=holds_overlap(holds))
    while True:
        batch = delete_position_batch(session, older_than=older_than, holds=holds, batch_size=batch_size)
        if not batch:
            return removed
        removed += batch


def holds_overlap(holds):
    """A test of whether any hold overlaps the window [low, high)."""
    def overlaps(low: dt.datetime, high: dt.datetime) -> bool:
        return any(start < high and end >= low for _patroller, start, end in holds)
    return overlaps


def delete_position_batch(session: Session, *, older_than: dt.datetime, holds=(), batch_size: int = 5000) -> int:
    """Delete up to batch_size points fixed before `older_than` that no hold keeps; how many went."""
    kept = [sa.and_(Position.patroller_id == patroller, Position.fixed_at >= start, Position.fixed_at <= end)
            for patroller, start, end in holds]
    condition = Position.fixed_at < older_than
    if kept:
        condition = sa.and_(condition, sa.not_(sa.or_(*kept)))
    ids = list(session.scalars(sa.select(Position.id).where(condition).order_by(Position.id).limit(batch_size)))
    if ids:
        session.execute(sa.delete(Position).where(Position.id.in_(ids)).execution_options(synchronize_session=False))
        session.flush()
    return len(ids)


# ---------------------------------------------------------------------------------------------
# Provisioning: Traccar Client takes its whole configuration from one link (QR code or tap)
# ---------------------------------------------------------------------------------------------

# The app's own URL scheme: a link in it opens the app (from the phone's camera or a tap), which
# asks before applying it; the app's QR scanner reads the same link.
TRACCAR_CLIENT_SCHEME = "org.traccar.client"
# The location accuracies the app knows (anything else it reads as "medium").
TRACCAR_ACCURACIES = ("highest", "high", "medium", "low")


def provisioning_url(*, server_url: str, key: str, interval_s: int, distance_m: int, accuracy: str) -> str:
    """Traccar Client's configuration link: org.traccar.client://?url=…&id=…&interval=…&distance=…&accuracy=…

    The app posts each fix to `url` exactly as given, so `server_url` is the intake's full URL
    (…/api/v1/positions/osmand); `id` is what the app sends as its device id: here the device key.
    The link holds the key: show it only to the device's owner, never log it.
    """
    from urllib.parse import quote, urlencode, urlsplit

    if urlsplit(server_url).scheme not in ("http", "https") or not urlsplit(server_url).netloc:
        raise ValueError("server_url must be an absolute http(s) URL")
    if not key:
        raise ValueError("the device key is empty")
    if isinstance(interval_s, bool) or not isinstance(interval_s, int) or interval_s < 1:
        raise ValueError("interval_s must be a whole number of seconds, at least 1")
    if isinstance(distance_m, bool) or not isinstance(distance_m, int) or distance_m < 0:
        raise ValueError("distance_m must be a whole number of metres, at least 0")
    if accuracy not in TRACCAR_ACCURACIES:
        raise ValueError(f"accuracy must be one of {', '.join(TRACCAR_ACCURACIES)}")
    query = urlencode({"url": server_url, "id": key, "interval": interval_s, "distance": distance_m,
                       "accuracy": accuracy}, quote_via=quote)
    return f"{TRACCAR_CLIENT_SCHEME}://?{query}"
