"""The devices API and the position intake. Views are thin: parse with schemas, call the services, shape with schemas."""
from __future__ import annotations

import contextlib
import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, current_app, g, jsonify, request
from flask_login import current_user

from gridsvc.access import device_intake, ensure_own_record, own_patroller_id, require_roles, visible_station_ids
from gridsvc.db import utcnow
from gridsvc.errors import DomainError, NotFoundError, ValidationError
from gridsvc.i18n import N_
from gridsvc.people.service import visible_patroller
from gridsvc.positions import intake, limits, schemas, service
from gridsvc.positions.models import Device
from gridsvc.positions.partitions import ensure_partitions, months_after
from gridsvc.positions.protocols import ProtocolError, parse_osmand, parse_owntracks, parse_traccar_json
from gridsvc.web import db, json_object, lookup_session, write_if_free, writes_on_get

blueprint = Blueprint("positions", __name__)

# Who registers devices: a volunteer their own, station roles their station's patrollers, managers
# anyone's. The centre viewer reads them.
DEVICE_WRITERS = ("volunteer", "grid_worker", "station_manager", "manager")
DEVICE_READERS = ("centre_viewer", *DEVICE_WRITERS)


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


def _visible_patroller(ref):
    return visible_patroller(db(), user=current_user, ref=ref)


def _visible_device(device_id: int) -> Device:
    device = service.get_device(db(), device_id=device_id)
    ensure_own_record(current_user, station_id=device.patroller.station_id, patroller_id=device.patroller_id,
                      missing=service.device_not_found(device_id))
    return device


@blueprint.post("/api/v1/devices")
@require_roles(*DEVICE_WRITERS)
def register_device_api():
    """Register a tracker for a patroller (default: the caller's own); the key is in this answer only."""
    registration = schemas.parse_device_registration(json_object(), own_patroller_id=current_user.patroller_id)
    patroller = _visible_patroller(registration.volunteer)
    device, key = service.register_device(db(), patroller=patroller, name=registration.name,
                                          platform=registration.platform, datum=registration.datum)
    response = jsonify(schemas.device_with_key_json(device, key, zone=_zone()))
    response.status_code = 201
    return response


@blueprint.get("/api/v1/devices")
@require_roles(*DEVICE_READERS)
def list_devices_api():
    """Devices in the caller's scope: a volunteer's own, a station's, every station's for zone roles."""
    devices = service.list_devices(db(), station_ids=visible_station_ids(current_user),
                                   patroller_id=own_patroller_id(current_user))
    return jsonify(schemas.device_list_json(devices, zone=_zone()))


@blueprint.post("/api/v1/devices/<int:device_id>/revoke")
@require_roles(*DEVICE_WRITERS)
def revoke_device_api(device_id: int):
    """Revoke a device: its key stops working at once."""
    device = service.revoke_device(db(), device=_visible_device(device_id))
    return jsonify(schemas.device_json(device, zone=_zone()))


@blueprint.post("/api/v1/devices/<int:device_id>/key")
@require_roles(*DEVICE_WRITERS)
def rotate_device_key_api(device_id: int):
    """A new key for the device (the old one stops at once); the new key is in this answer only."""
    device = _visible_device(device_id)
    key = service.rotate_key(db(), device=device)
    return jsonify(schemas.device_with_key_json(device, key, zone=_zone()))


# ---------------------------------------------------------------------------------------------
# The position intake: tracker apps, authenticated by the device key in the message
# ---------------------------------------------------------------------------------------------

UNKNOWN_DEVICE = N_("Unknown or revoked device")


class UnknownDeviceForm(DomainError):
    """Traccar's answer to an OsmAnd message from a device it does not know: 400."""

    http_status = 400


class UnknownOwnTracksDevice(DomainError):
    """OwnTracks with no key, or one of no live device: 401, which the app shows its user."""

    http_status = 401


def tracker_device(key: str, *, json_body: bool) -> Device:
    """The live device sending this key, else Traccar's answer (400 form, 404 JSON); never naming the key."""
    device = service.device_for_key(db(), key=key)
    if device is None:
        raise (NotFoundError if json_body else UnknownDeviceForm)("unknown_device", UNKNOWN_DEVICE)
    return device


def _last_position(key) -> tuple[float, float] | None:
    device = service.device_for_key(db(), key=key) if isinstance(key, str) and key else None
    return None if device is None else intake.last_known_lonlat(db(), device_id=device.id)


def _bucket(prefix: str) -> limits.Bucket:
    config = current_app.config
    if prefix == "device":
        return limits.Bucket(float(config["POSITION_DEVICE_BURST"]), float(config["POSITION_DEVICE_PER_MINUTE"]))
    return limits.Bucket(float(config["POSITION_ADDRESS_FAILURE_BURST"]),
                         float(config["POSITION_ADDRESS_FAILURES_PER_MINUTE"]))


_partitions_next_check: dict[str, dt.datetime] = {}
PARTITION_CHECK_EVERY = dt.timedelta(hours=6)
PARTITION_RETRY_AFTER = dt.timedelta(minutes=10)


def _partitions_ahead(now: dt.datetime) -> None:
    """Now and then per process, before this request touches positions: the month partitions ahead exist."""
    engine = current_app.extensions["gridsvc"].engine
    url = str(engine.url)
    if engine.dialect.name != "postgresql" or now < _partitions_next_check.get(url, now - dt.timedelta(seconds=1)):
        return
    try:
        with engine.begin() as connection:
            ensure_partitions(connection, first=now.date(), last=months_after(
                now.date(), int(current_app.config["POSITION_PARTITION_MONTHS_AHEAD"])))
    except sa.exc.DBAPIError as error:
        # The table was busy (lock_timeout), another server is at it, or the role may not make
        # tables: points still land (in the default partition if need be); the timer makes them.
        current_app.logger.warning("positions: month partitions not made (%s); trying again later",
                                   type(error.orig).__name__)
        _partitions_next_check[url] = now + PARTITION_RETRY_AFTER
        return
    _partitions_next_check[url] = now + PARTITION_CHECK_EVERY


@contextlib.contextmanager
def tracker_request(now):
    """A tracker request (the position intake, the recorder's sessions); a refused one spends a failure of its
    address, and a waiting address is told so (429).

    A message that names a live device and reads well is never refused for its address (the phones
    behind one intranet address are not held up by a broken or guessing sender among them). Neither
    check waits for SQLite's write lock: the address is read in a read-only transaction and a
    failure is counted only when the lock is free (a request that fails must answer at once).
    """
    _partitions_ahead(now)
    address = request.remote_addr or "unknown"
    try:
        yield
    except (UnknownDeviceForm, UnknownOwnTracksDevice, NotFoundError, ProtocolError, ValidationError):
        if "db_session" in g:
            db().rollback()  # nothing of this request is kept
        with lookup_session() as lookup:
            limits.refuse_waiting_address(lookup, address=address, now=now, bucket=_bucket("address"))
        write_if_free(lambda session: limits.record_address_failure(session, address=address, now=now,
                                                                     bucket=_bucket("address")))
        raise


def _store(fixes, *, now, json_body: bool) -> schemas.IntakeCounts:
    """Store the fixes of one message (all of one device), counting what became of them."""
    if not fixes:
        return schemas.IntakeCounts(received=0)
    keys = {fix.device_key for fix in fixes}
    if len(keys) > 1:
        raise ValidationError("several_devices", "One message carries the points of one device only")
    device = tracker_device(fixes[0].device_key, json_body=json_body)
    limits.take_device_token(db(), device=device, count=len(fixes), now=now, bucket=_bucket("device"))
    on_duty = [fix for fix in fixes if _on_duty(device.patroller_id, fix.time)]
    stored = intake.store_fixes(db(), device=device, fixes=on_duty, now=now,
                                limits=intake.limits_from_config(current_app.config))
    stored_count = sum(1 for position in stored if position is not None)
    # Off-duty points are answered like any point (not to be sent again), never stored.
    return schemas.IntakeCounts(received=len(fixes), stored=stored_count, replays=len(on_duty) - stored_count,
                                off_duty=len(fixes) - len(on_duty))


@blueprint.route("/api/v1/positions/osmand", methods=["GET", "POST"])
@device_intake
@writes_on_get
def osmand_intake():
    """OsmAnd (query string or form) or Traccar Client 9 JSON; 200 empty once stored (or a replay)."""
    if request.method == "HEAD":
        return "", 200  # HEAD never writes (gridsvc.web); a tracker sends GET or POST
    now = utcnow()
    config = current_app.config
    with tracker_request(now):
        if request.mimetype == "application/json":
            body = request.get_json(silent=True)
            key = body.get("device_id") if isinstance(body, dict) else None
            last = _last_position(key) if isinstance(key, str) else None
            parsed = parse_traccar_json(body, last_position=last)
            fixes = parsed if isinstance(parsed, list) else [parsed]
            json_body = True
        else:
            params = {**request.args.to_dict(), **request.form.to_dict()}
            has_position = ("lat" in params and "lon" in params) or "location" in params
            last = None if has_position else _last_position(params.get("id") or params.get("deviceid"))
            fixes = [parse_osmand(params, now=now, local_tz=_zone(), speed_unit=config["POSITION_OSMAND_SPEED_UNIT"],
                                  last_position=last)]
            json_body = False
        _store(fixes, now=now, json_body=json_body)
    return "", 200


@blueprint.post("/api/v1/positions/owntracks")
@device_intake
def owntracks_intake():
    """OwnTracks HTTP mode, the device key as the Basic-auth password: 200 `[]` for every message once handled.

    The app stops sending until it gets a 200 with a JSON array, so every authenticated message
    (any `_type`, even an empty body) gets one; only `location` messages are stored. A wrong or
    revoked key is a 401, which the app shows to its user.
    """
    now = utcnow()
    with tracker_request(now):
        auth = request.authorization
        key = auth.password if auth is not None and auth.type == "basic" else None
        if not key or service.device_for_key(db(), key=key) is None:
            raise UnknownOwnTracksDevice("unknown_device", UNKNOWN_DEVICE)
        body = request.get_json(silent=True, force=True) if request.get_data() else None
        try:
            fix = parse_owntracks(body, device_key=key)
        except ProtocolError as error:
            # The app resends a message until it gets 200 []: an unreadable one would jam its queue
            # for ever. It is dropped, and said so in the log by its code only (never its content).
            current_app.logger.warning("owntracks: unreadable location dropped (%s)", error.code)
            fix = None
        _store([fix] if fix is not None else [], now=now, json_body=True)
    return jsonify(schemas.owntracks_answer())


@blueprint.post("/api/v1/positions/recorder")
@device_intake
def recorder_intake():
    """The phone recorder's batch: Traccar Client 9 JSON with `location` a list; what became of each point.

    Authenticated by the recorder's own device key (`device_id`), never by the sign-in, so an expired
    session or a new CSRF token loses nothing. 200 `{received, stored, replays, off_duty}` once durable.
    """
    now = utcnow()
    with tracker_request(now):
        fixes = schemas.parse_recorder_batch(request.get_json(silent=True))
        counts = _store(fixes, now=now, json_body=True)
    return jsonify(schemas.intake_counts_json(counts))


def _on_duty(patroller_id: int, at) -> bool:
    """Positions are kept only on duty: the patroller's own switch, or a group task under way they signed up for."""
    if service.duty_switched_on(db(), patroller_id=patroller_id, at=at,
                                max_hours=float(current_app.config["DUTY_MAX_HOURS"])):
        return True
    return any(check(db(), patroller_id=patroller_id, at=at)
               for check in current_app.extensions.get("gridsvc_duty_checks", ()))


@blueprint.get("/api/v1/me/duty")
@require_roles("volunteer", "grid_worker", "station_manager", "manager")
def get_duty_api():
    """The signed-in patroller's on-duty switch."""
    return jsonify(_duty_json(_own_patroller_id()))


@blueprint.put("/api/v1/me/duty")
@require_roles("volunteer", "grid_worker", "station_manager", "manager")
def set_duty_api():
    """Switch one's own duty on or off: {"on_duty": true|false}; it switches itself off after DUTY_MAX_HOURS."""
    on_duty = schemas.parse_duty_switch(json_object())
    patroller_id = _own_patroller_id()
    service.set_duty(db(), patroller_id=patroller_id, on_duty=on_duty, now=utcnow())
    return jsonify(_duty_json(patroller_id))


def _own_patroller_id() -> int:
    if current_user.patroller_id is None:
        raise NotFoundError("not_a_patroller", "This account is not a volunteer or grid worker")
    return current_user.patroller_id


def _duty_json(patroller_id: int) -> dict:
    max_hours = float(current_app.config["DUTY_MAX_HOURS"])
    state = service.duty_state(db(), patroller_id=patroller_id, now=utcnow(), max_hours=max_hours)
    return schemas.duty_state_json(state, zone=_zone(), max_hours=max_hours)
