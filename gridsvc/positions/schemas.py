"""The positions API's bodies: what the views read and what they answer, each beside its JSON Schema.

One place per field: a parser or a shaper here, and next to it the schema gridsvc.positions.openapi
puts in the OpenAPI document. The tracker protocols (OsmAnd, Traccar Client 9 JSON, OwnTracks) are
parsed and described in gridsvc.positions.protocols. No Flask: the views hand in the decoded body
and the display zone; times go out as ISO-8601 in that zone. No answer ever holds a device's key,
but the answer that made it (register, new key), nor the key's hash.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from geoalchemy2.shape import to_shape

from gridsvc.apidoc import BOOLEAN, COUNT, DATE_TIME, INTEGER, NUMBER, STRING, array, nullable, obj
from gridsvc.errors import ValidationError
from gridsvc.people.models import ROLES as PATROLLER_ROLES
from gridsvc.people.models import Patroller
from gridsvc.positions.models import DATUMS, POSITION_SOURCES, Device, Position
from gridsvc.positions.protocols import TRACCAR_DEVICE_ID, TRACCAR_LOCATION, Fix, parse_traccar_json, stripped_text_pattern
from gridsvc.positions.service import MAX_NAME_CHARS, MAX_PLATFORM_CHARS, DutyState


def local_iso(moment: dt.datetime | None, zone: ZoneInfo) -> str | None:
    """An aware time as ISO-8601 in `zone`, or None."""
    return None if moment is None else moment.astimezone(zone).isoformat()


LOCAL_TIME = {**DATE_TIME, "description": "ISO-8601 in DISPLAY_TIMEZONE"}


# --- who a device or a point belongs to ---------------------------------------------------------

_VOLUNTEER_PROPERTIES = {
    "id": {**INTEGER, "description": "patroller id"},
    "app_account_id": {**nullable(STRING), "description": "the volunteer-app account"},
    "name": STRING,
    "role": {"type": "string", "enum": list(PATROLLER_ROLES)},
}
VOLUNTEER = obj(_VOLUNTEER_PROPERTIES, required=list(_VOLUNTEER_PROPERTIES))


def volunteer_json(patroller: Patroller) -> dict:
    """The patroller a device belongs to."""
    return {"id": patroller.id, "app_account_id": patroller.app_account_id, "name": patroller.name,
            "role": patroller.role}


_READ_VOLUNTEER_PROPERTIES = {**_VOLUNTEER_PROPERTIES, "station_code": {**STRING, "description": "their station"}}
READ_VOLUNTEER = obj(_READ_VOLUNTEER_PROPERTIES, required=list(_READ_VOLUNTEER_PROPERTIES))


def read_volunteer_json(patroller: Patroller) -> dict:
    """The patroller whose position was read, with their station."""
    return {**volunteer_json(patroller), "station_code": patroller.station.code}


# --- devices ------------------------------------------------------------------------------------


def _any_case(word: str) -> str:
    return "".join(f"[{char.lower()}{char.upper()}]" if char.isalpha() else char for char in word)


DEVICE_REGISTRATION = obj({
    "volunteer": {"anyOf": [{"type": "string", "maxLength": 0}, {"type": "string", "pattern": r"\S"}, INTEGER,
                            {"type": "null"}],
                  "description": "whose tracker: a volunteer-app account or a patroller id within the caller's scope; "
                                 "absent, empty, 0 or null: the caller's own (an account that is no patroller must "
                                 "name one)"},
    "name": {"type": "string", "pattern": stripped_text_pattern(MAX_NAME_CHARS, required=True, nul=False),
             "description": f"the phone's model, say; at most {MAX_NAME_CHARS} characters once trimmed"},
    "platform": nullable({"type": "string", "pattern": stripped_text_pattern(MAX_PLATFORM_CHARS, required=False,
                                                                             nul=False),
                          "description": f"Android, iOS, ...; at most {MAX_PLATFORM_CHARS} characters once trimmed"}),
    "datum": nullable({"type": "string",
                       "pattern": r"^\s*(?:" + "|".join(_any_case(datum) for datum in DATUMS) + r")\s*$",
                       "description": "the datum the app sends: wgs84 (null or absent: the default) or gcj02"}),
}, required=["name"])


@dataclass(frozen=True)
class DeviceRegistration:
    """A registration as sent: whose (a patroller ref), and the fields the service checks."""

    volunteer: object
    name: object
    platform: object
    datum: object


def parse_device_registration(payload: dict, *, own_patroller_id: int | None) -> DeviceRegistration:
    """The registration's fields; no volunteer named (absent, empty, 0, null) is the caller's own patroller."""
    return DeviceRegistration(volunteer=payload.get("volunteer") or own_patroller_id, name=payload.get("name"),
                              platform=payload.get("platform"), datum=payload.get("datum"))


_DEVICE_PROPERTIES = {
    "id": INTEGER,
    "name": STRING,
    "platform": {**STRING, "description": "empty when not given"},
    "datum": {"type": "string", "enum": list(DATUMS)},
    "volunteer": VOLUNTEER,
    "created_at": LOCAL_TIME,
    "last_seen_at": {**nullable(LOCAL_TIME), "description": "when it last sent a point that was stored"},
    "battery_percent": {**nullable(NUMBER), "description": "its latest point's battery level"},
    "revoked_at": nullable(LOCAL_TIME),
    "active": {**BOOLEAN, "description": "not revoked: its key works"},
}
DEVICE = obj(_DEVICE_PROPERTIES, required=list(_DEVICE_PROPERTIES), description="a tracker, never its key")


def device_json(device: Device, *, zone: ZoneInfo) -> dict:
    """A device as the API answers it: never its key, nor the key's hash."""
    return {
        "id": device.id,
        "name": device.name,
        "platform": device.platform,
        "datum": device.datum,
        "volunteer": volunteer_json(device.patroller),
        "created_at": local_iso(device.created_at, zone),
        "last_seen_at": local_iso(device.last_seen_at, zone),
        "battery_percent": device.battery_percent,
        "revoked_at": local_iso(device.revoked_at, zone),
        "active": device.revoked_at is None,
    }


DEVICE_WITH_KEY = obj({
    **_DEVICE_PROPERTIES,
    "key": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "minLength": 32,
            "description": "the device key, shown in this answer only: the tracker app's device id"},
}, required=[*_DEVICE_PROPERTIES, "key"], description="a tracker with its new key")


def device_with_key_json(device: Device, key: str, *, zone: ZoneInfo) -> dict:
    """A device that was just given a key, with that key: the only answer that ever holds it."""
    return {**device_json(device, zone=zone), "key": key}


DEVICE_LIST = obj({"devices": array(DEVICE)}, required=["devices"])


def device_list_json(devices: list[Device], *, zone: ZoneInfo) -> dict:
    """The devices in the caller's scope, without their keys."""
    return {"devices": [device_json(device, zone=zone) for device in devices]}


# --- the on-duty switch -------------------------------------------------------------------------

DUTY_SWITCH = obj({"on_duty": {**BOOLEAN, "description": "true: on duty from now; false: off"}}, required=["on_duty"])


def parse_duty_switch(payload: dict) -> bool:
    """On or off, as {"on_duty": true|false}; anything else is a 422."""
    on_duty = payload.get("on_duty")
    if not isinstance(on_duty, bool):
        raise ValidationError("duty_format", "Send {\"on_duty\": true} or {\"on_duty\": false}")
    return on_duty


DUTY_STATE = obj({
    "on_duty": BOOLEAN,
    "since": {**nullable(LOCAL_TIME), "description": "when it was switched on; null when off"},
    "until": {**nullable(LOCAL_TIME), "description": "when it switches itself off; null when off"},
    "max_hours": {**NUMBER, "description": "DUTY_MAX_HOURS: how long a switch stays on"},
}, required=["on_duty", "since", "until", "max_hours"])


def duty_state_json(state: DutyState, *, zone: ZoneInfo, max_hours: float) -> dict:
    """The signed-in patroller's on-duty switch."""
    return {"on_duty": state.on_duty, "since": local_iso(state.since, zone), "until": local_iso(state.until, zone),
            "max_hours": float(max_hours)}


# --- the intake's answers -----------------------------------------------------------------------

# OsmAnd and Traccar Client read only the status: 200 with an empty body once stored (or a replay).
EMPTY_ANSWER_MEDIA_TYPE = "text/html"
EMPTY_ANSWER = {"type": "string", "maxLength": 0, "description": "empty"}
# OwnTracks stops sending until it gets a 200 with a JSON array: the server never has a command for it.
OWNTRACKS_ANSWER = array({}, maxItems=0, description="always empty")


def owntracks_answer() -> list:
    """What every handled OwnTracks message is answered."""
    return []


MAX_RECORDER_POINTS = 1000
RECORDER_BATCH = obj({
    "device_id": {**TRACCAR_DEVICE_ID, "description": "the recorder's own device key"},
    "location": array(TRACCAR_LOCATION, maxItems=MAX_RECORDER_POINTS),
}, required=["device_id", "location"], description="Traccar Client 9 JSON with location a list")


def parse_recorder_batch(body) -> list[Fix]:
    """The phone recorder's points: Traccar Client 9 JSON with `location` a list of at most MAX_RECORDER_POINTS."""
    if not isinstance(body, dict) or not isinstance(body.get("location"), list):
        raise ValidationError("recorder_batch_format", "Send {\"device_id\": key, \"location\": [points]}")
    if len(body["location"]) > MAX_RECORDER_POINTS:
        raise ValidationError("recorder_batch_too_long", "At most %(max)s points in one batch",
                              max=MAX_RECORDER_POINTS)
    return [dataclasses.replace(fix, source="recorder") for fix in parse_traccar_json(body, last_position=None)]


@dataclass(frozen=True)
class IntakeCounts:
    """What became of one message's points: received, stored, replays (stored before), off duty (not kept)."""

    received: int
    stored: int = 0
    replays: int = 0
    off_duty: int = 0


INTAKE_COUNTS = obj({
    "received": {**COUNT, "description": "points in the batch"},
    "stored": {**COUNT, "description": "points stored now"},
    "replays": {**COUNT, "description": "points stored before (or twice in the batch): nothing written"},
    "off_duty": {**COUNT, "description": "points fixed off duty: answered, never stored (do not send them again)"},
}, required=["received", "stored", "replays", "off_duty"])


def intake_counts_json(counts: IntakeCounts) -> dict:
    """The recorder's answer: what became of each point, once durable."""
    return {"received": counts.received, "stored": counts.stored, "replays": counts.replays,
            "off_duty": counts.off_duty}


# --- stored points ------------------------------------------------------------------------------

_NULLABLE_NUMBER = nullable(NUMBER)
_TRACKER_POINT_PROPERTIES = {
    "id": INTEGER,
    "time": {**DATE_TIME, "description": "fix time, in DISPLAY_TIMEZONE"},
    "received_at": {**DATE_TIME, "description": "when it came in, in DISPLAY_TIMEZONE"},
    "lat": {**NUMBER, "description": "WGS-84 latitude"},
    "lon": {**NUMBER, "description": "WGS-84 longitude"},
    "accuracy_m": _NULLABLE_NUMBER,
    "speed_mps": _NULLABLE_NUMBER,
    "heading_deg": {**_NULLABLE_NUMBER, "description": "degrees clockwise from north, 0 to below 360"},
    "altitude_m": _NULLABLE_NUMBER,
    "battery_percent": _NULLABLE_NUMBER,
    "source": {"type": "string", "enum": list(POSITION_SOURCES), "description": "how it came in"},
    "device_id": INTEGER,
    "flags": array(STRING, description="named reasons it is flagged (invalid, poor_accuracy, jump, outside_zone, "
                                       "...); empty when none"),
}
TRACKER_POINT = obj(_TRACKER_POINT_PROPERTIES, required=list(_TRACKER_POINT_PROPERTIES))


def point_json(position: Position, *, zone: ZoneInfo) -> dict:
    """A stored point: WGS-84 lat/lon, times in `zone`, its flags (never the payload digest)."""
    point = to_shape(position.geom)
    return {
        "id": position.id,
        "time": local_iso(position.fixed_at, zone),
        "received_at": local_iso(position.received_at, zone),
        "lat": point.y,
        "lon": point.x,
        "accuracy_m": position.accuracy_m,
        "speed_mps": position.speed_mps,
        "heading_deg": position.heading_deg,
        "altitude_m": position.altitude_m,
        "battery_percent": position.battery_percent,
        "source": position.source,
        "device_id": position.device_id,
        "flags": list(position.flags or []),
    }


PATROL_POINTS = obj({
    "patrol_id": INTEGER,
    "points": array(TRACKER_POINT, description="by fix time, flagged ones included"),
    "count": COUNT,
    "flagged_count": {**COUNT, "description": "points with at least one flag"},
}, required=["patrol_id", "points", "count", "flagged_count"])


def patrol_points_json(patrol_id: int, points: list[Position], *, zone: ZoneInfo) -> dict:
    """A patrol's points (its patroller's between its start and end), with how many are flagged."""
    return {
        "patrol_id": patrol_id,
        "points": [point_json(point, zone=zone) for point in points],
        "count": len(points),
        "flagged_count": sum(1 for point in points if point.flags),
    }


LAST_POSITION = obj({
    "volunteer": READ_VOLUNTEER,
    "position": {**nullable(TRACKER_POINT), "description": "their latest stored point; null when none"},
}, required=["volunteer", "position"])


def last_position_json(patroller: Patroller, position: Position | None, *, zone: ZoneInfo) -> dict:
    """A patroller's latest stored point (stored only on duty), or null."""
    return {"volunteer": read_volunteer_json(patroller),
            "position": None if position is None else point_json(position, zone=zone)}
