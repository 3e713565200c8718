"""The devices API and the position intake. Views are thin: read the request, call the services."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user

from gridsvc.access import ensure_own_record, own_patroller_id, require_roles, visible_station_ids
from gridsvc.people.service import patroller_not_found, resolve_patroller
from gridsvc.positions import service
from gridsvc.positions.models import Device
from gridsvc.web import db, json_object

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
    patroller = resolve_patroller(db(), ref)
    ensure_own_record(current_user, station_id=patroller.station_id, patroller_id=patroller.id,
                      missing=patroller_not_found(ref))
    return patroller


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
