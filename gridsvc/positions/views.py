"""The devices API and the position intake. Views are thin: read the request, call the services."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user

from gridsvc.access import device_intake, ensure_own_record, own_patroller_id, require_roles, visible_station_ids
from gridsvc.db import utcnow
from gridsvc.errors import DomainError, NotFoundError
from gridsvc.i18n import N_
from gridsvc.people.service import visible_patroller
from gridsvc.positions import intake, service
from gridsvc.positions.models import Device
from gridsvc.positions.protocols import parse_osmand, parse_traccar_json
from gridsvc.web import db, json_object, writes_on_get

blueprint = Blueprint("positions", __name__)

# Who registers devices: a volunteer their own, station roles their station's patrollers, managers
# anyone's. The centre viewer reads them.
DEVICE_WRITERS = ("volunteer", "grid_worker", "station_manager", "manager")
DEVICE_READERS = ("centre_viewer", *DEVICE_WRITERS)


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


def _local_iso(moment):
    return None if moment is None else moment.astimezone(_zone()).isoformat()


def device_json(device: Device) -> dict:
    """A device as the API answers it: never its key, nor the key's hash."""
    patroller = device.patroller
    return {
        "id": device.id,
        "name": device.name,
        "platform": device.platform,
        "datum": device.datum,
        "volunteer": {"id": patroller.id, "app_account_id": patroller.app_account_id, "name": patroller.name,
                      "role": patroller.role},
        "created_at": _local_iso(device.created_at),
        "last_seen_at": _local_iso(device.last_seen_at),
        "battery_percent": device.battery_percent,
        "revoked_at": _local_iso(device.revoked_at),
        "active": device.revoked_at is None,
    }


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
    payload = json_object()
    patroller = _visible_patroller(payload.get("volunteer") or current_user.patroller_id)
    device, key = service.register_device(db(), patroller=patroller, name=payload.get("name"),
                                          platform=payload.get("platform"), datum=payload.get("datum"))
    response = jsonify({**device_json(device), "key": key})
    response.status_code = 201
    return response


@blueprint.get("/api/v1/devices")
@require_roles(*DEVICE_READERS)
def list_devices_api():
    """Devices in the caller's scope: a volunteer's own, a station's, every station's for zone roles."""
    devices = service.list_devices(db(), station_ids=visible_station_ids(current_user),
                                   patroller_id=own_patroller_id(current_user))
    return jsonify({"devices": [device_json(device) for device in devices]})


@blueprint.post("/api/v1/devices/<int:device_id>/revoke")
@require_roles(*DEVICE_WRITERS)
def revoke_device_api(device_id: int):
    """Revoke a device: its key stops working at once."""
    device = service.revoke_device(db(), device=_visible_device(device_id))
    return jsonify(device_json(device))


@blueprint.post("/api/v1/devices/<int:device_id>/key")
@require_roles(*DEVICE_WRITERS)
def rotate_device_key_api(device_id: int):
    """A new key for the device (the old one stops at once); the new key is in this answer only."""
    device = _visible_device(device_id)
    key = service.rotate_key(db(), device=device)
    return jsonify({**device_json(device), "key": key})


# ---------------------------------------------------------------------------------------------
# The position intake: tracker apps, authenticated by the device key in the message
# ---------------------------------------------------------------------------------------------

UNKNOWN_DEVICE = N_("Unknown or revoked device")


class UnknownDeviceForm(DomainError):
    """Traccar's answer to an OsmAnd message from a device it does not know: 400."""

    http_status = 400


def _device(key: str, *, json_body: bool) -> Device:
    """The live device sending this key, else Traccar's answer (400 form, 404 JSON); never naming the key."""
    device = service.device_for_key(db(), key=key)
    if device is None:
        raise (NotFoundError if json_body else UnknownDeviceForm)("unknown_device", UNKNOWN_DEVICE)
    return device


def _last_position(key) -> tuple[float, float] | None:
    device = service.device_for_key(db(), key=key) if isinstance(key, str) and key else None
    return None if device is None else intake.last_known_lonlat(db(), device_id=device.id)


@blueprint.route("/api/v1/positions/osmand", methods=["GET", "POST"])
@device_intake
@writes_on_get
def osmand_intake():
    """OsmAnd (query string or form) or Traccar Client 9 JSON; 200 empty once stored (or a replay)."""
    if request.method == "HEAD":
        return "", 200  # HEAD never writes (gridsvc.web); a tracker sends GET or POST
    now = utcnow()
    config = current_app.config
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
    limits = intake.limits_from_config(config)
    for fix in fixes:
        device = _device(fix.device_key, json_body=json_body)
        if not _on_duty(device.patroller_id, fix.time):
            continue  # off duty: answered like any point (the app must not retry it), never stored
        intake.store_fix(db(), device=device, fix=fix, now=now, limits=limits)
    return "", 200


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
    from gridsvc.errors import ValidationError

    payload = json_object()
    if not isinstance(payload.get("on_duty"), bool):
        raise ValidationError("duty_format", "Send {\"on_duty\": true} or {\"on_duty\": false}")
    patroller_id = _own_patroller_id()
    service.set_duty(db(), patroller_id=patroller_id, on_duty=payload["on_duty"], now=utcnow())
    return jsonify(_duty_json(patroller_id))


def _own_patroller_id() -> int:
    if current_user.patroller_id is None:
        raise NotFoundError("not_a_patroller", "This account is not a volunteer or grid worker")
    return current_user.patroller_id


def _duty_json(patroller_id: int) -> dict:
    state = service.duty_state(db(), patroller_id=patroller_id, now=utcnow(),
                               max_hours=float(current_app.config["DUTY_MAX_HOURS"]))
    return {"on_duty": state["on_duty"], "since": _local_iso(state["since"]), "until": _local_iso(state["until"]),
            "max_hours": float(current_app.config["DUTY_MAX_HOURS"])}
