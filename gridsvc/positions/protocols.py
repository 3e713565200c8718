"""What tracker apps send, parsed into one `Fix`, and the checks every fix goes through.

No database, no Flask: the intake views (issue 17, later slices) hand this module the decoded
query string, form or JSON body and store what it returns. Facts about the protocols are from
../shared/docs/tracking-and-events.md §1-2 (Traccar's OsmAnd decoder, Traccar Client 9's JSON,
the OwnTracks booklet), checked against Traccar's own decoder (traccar/traccar
src/main/java/org/traccar/protocol/OsmAndProtocolDecoder.java, August 2026); where this module
departs from Traccar it says so.

- OsmAnd (`parse_osmand`): also what GPSLogger's "custom URL" speaks; GPSLogger's `%SPD` is in
  m/s, so such a device is read with `speed_unit="mps"` (Traccar's `osmand.speed` setting).
- Traccar Client 9 JSON (`parse_traccar_json`).
- OwnTracks HTTP mode (`parse_owntracks`).

Privacy (PIPL art. 28, issue 17 §4): only what patrol duty needs is kept. Traccar stores every
unknown OsmAnd key and Client 9's `extras` as attributes; these parsers drop them.

Errors are ProtocolError: a stable `code`, an English msgid with %(name)s params (translated by
the web layer), HTTP 400 (Traccar's answer to a malformed OsmAnd request). No message or param
ever holds a device key: keys are identities on the wire, like passwords.

Beside each reader and each parser is its JSON Schema (the OpenAPI document describes the
intake routes from them): exactly what the reader takes, except where JSON Schema cannot say it
(a number's range when it comes as text, the fields that depend on one another), where it is looser.

Coordinates stay in the sender's datum (WGS-84 or GCJ-02, a property of the device, not of the
message); converting to WGS-84 is the intake's job, which knows the device.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from gridsvc.apidoc import BOOLEAN, INTEGER, NUMBER, STRING, array, nullable, obj
from gridsvc.errors import DomainError
from gridsvc.geo.geodesy import geodesic_distance_m
from gridsvc.i18n import N_

# Unit conversions to metres per second, exact by definition (the international knot is 1852 m
# per hour, the international mile 1609.344 m).
METRES_PER_SECOND = {
    "kn": 1852 / 3600,
    "kmh": 1000 / 3600,
    "mps": 1.0,
    "mph": 1609.344 / 3600,
}
# Traccar reads an integer timestamp below Java's Integer.MAX_VALUE as epoch seconds, anything
# larger as epoch milliseconds.
EPOCH_SECONDS_BELOW = 2147483647
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LOCAL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # Java's yyyy-MM-dd HH:mm:ss
# Longer than any real key (the server makes 128-bit keys, 22-32 characters); caps the work done.
MAX_DEVICE_KEY_CHARS = 200
MAX_TEXT_CHARS = 64  # alarm, event and activity names
MAX_TIMESTAMP_CHARS = 64

SOURCES = ("osmand", "traccar_json", "owntracks", "recorder", "gpx", "geojson")

PROTOCOL_ERROR_MESSAGES: dict[str, str] = {
    "no_device": N_("The message names no device: send id or deviceid (device_id in JSON)."),
    "device_too_long": N_("The device id is longer than %(max)s characters."),
    "conflicting_devices": N_("The message names two different devices in id and deviceid."),
    "no_position": N_("The message has no position: send lat and lon, or location=lat,lon (coords in JSON)."),
    "half_position": N_("The message has only one of lat and lon."),
    "bad_location": N_("location must be two numbers separated by a comma: lat,lon."),
    "bad_number": N_("The field %(field)s is not a finite number."),
    "bad_latitude": N_("The latitude %(value)s is outside -90..90."),
    "bad_longitude": N_("The longitude %(value)s is outside -180..180."),
    "bad_timestamp": N_("The time %(value)s is not epoch seconds, epoch milliseconds, ISO-8601 or yyyy-MM-dd HH:mm:ss."),
    "timestamp_without_offset": N_("The time %(value)s has no UTC offset; send ISO-8601 such as 2026-11-30T12:00:00Z."),
    "bad_boolean": N_("The field %(field)s must be true, false, 1 or 0."),
    "bad_text": N_("The field %(field)s must be text of at most %(max)s characters."),
    "missing_field": N_("The message has no %(field)s."),
    "bad_type": N_("The field %(field)s has the wrong type."),
}


class ProtocolError(DomainError):
    """A tracker message that cannot be read; `code` is stable, `message` an English msgid."""

    http_status = 400

    def __init__(self, code: str, **params: Any):
        super().__init__(code, PROTOCOL_ERROR_MESSAGES[code], **params)


@dataclass(frozen=True, slots=True)
class Fix:
    """One position report as its sender meant it, whatever protocol carried it.

    `time` is the fix time, aware, in UTC. `lon`/`lat` are degrees in the sender's datum. Unknown
    measurements are None (senders use -1 for "unknown" speed or heading; that is read as None).
    `device_key` is the secret the device sent; it is left out of repr() so that a logged Fix
    never shows it.
    """

    device_key: str = field(repr=False)
    time: datetime
    lon: float
    lat: float
    source: str
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None
    altitude_m: float | None = None
    battery_percent: float | None = None
    charging: bool | None = None
    valid: bool = True
    hdop: float | None = None
    alarm: str | None = None
    moving: bool | None = None
    mock: bool | None = None  # Traccar Client 9: the OS says a mock-location app produced it
    event: str | None = None
    activity: str | None = None
    odometer_m: float | None = None
    # OsmAnd without coordinates: Traccar reuses the device's last known location. Such a fix
    # carries a time but no new position; later slices must not draw it as a track point.
    reused_position: bool = False

    def __post_init__(self) -> None:
        if self.time.tzinfo is None or self.time.utcoffset() != timedelta(0):
            raise ValueError("Fix.time must be an aware UTC datetime")
        if self.source not in SOURCES:
            raise ValueError(f"unknown Fix.source {self.source!r}")


@dataclass(frozen=True, slots=True)
class Limits:
    """The thresholds of flag_reasons (issue 17 §3: each one a setting in config.py)."""

    max_accuracy_m: float
    max_jump_kmh: float
    max_future_seconds: float
    max_age_days: float
    zone_tolerance_m: float = 200.0  # "outside_zone" beyond this distance from the zone (the store checks it)


# --- reading values ---------------------------------------------------------------------------

# A decimal number as senders write it. Stricter than Python's float(), which also takes "1_000",
# "nan", "infinity" and non-ASCII digits, and than Java's parseDouble ("1d", hex floats).
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: Any, name: str) -> float | None:
    """A finite float from a JSON number or decimal text; None when absent or blank."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ProtocolError("bad_number", field=name)
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an int beyond any float
            raise ProtocolError("bad_number", field=name) from None
    elif isinstance(value, str) and len(value) <= 64 and _DECIMAL.fullmatch(value.strip()):
        number = float(value.strip())
    else:
        raise ProtocolError("bad_number", field=name)
    if not math.isfinite(number):
        raise ProtocolError("bad_number", field=name)
    return number


def _non_negative(value: float | None) -> float | None:
    """Speeds, accuracies and DOPs below zero mean "unknown" (iOS and Android send -1)."""
    return None if value is None or value < 0 else value


def _heading(value: float | None) -> float | None:
    """Degrees clockwise from north in [0, 360); negative means unknown."""
    if value is None or value < 0:
        return None
    return math.fmod(value, 360.0) + 0.0  # + 0.0 turns -0.0 into 0.0


def _percent(value: float | None) -> float | None:
    return value if value is not None and 0 <= value <= 100 else None


def _boolean(value: Any, name: str) -> bool | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
    raise ProtocolError("bad_boolean", field=name)


def _traccar_boolean(value: str | None) -> bool | None:
    """Java's Boolean.parseBoolean, and "1": never an error."""
    return None if _blank(value) else value.strip().lower() in ("true", "1")


def _text(value: Any, name: str) -> str | None:
    if _blank(value):
        return None
    if not isinstance(value, str) or len(value.strip()) > MAX_TEXT_CHARS:
        raise ProtocolError("bad_text", field=name, max=MAX_TEXT_CHARS)
    return value.strip()


def _device_key(*candidates: Any) -> str:
    keys = []
    for candidate in candidates:
        if _blank(candidate):
            continue
        if isinstance(candidate, int) and not isinstance(candidate, bool):
            candidate = str(candidate)  # a JSON device_id sent as a number
        if not isinstance(candidate, str):
            raise ProtocolError("bad_type", field="device_id")
        key = candidate.strip()
        if len(key) > MAX_DEVICE_KEY_CHARS:
            raise ProtocolError("device_too_long", max=MAX_DEVICE_KEY_CHARS)
        keys.append(key)
    if not keys:
        raise ProtocolError("no_device")
    if any(key != keys[0] for key in keys):
        raise ProtocolError("conflicting_devices")
    return keys[0]


def _position(lat: Any, lon: Any, lat_name: str = "lat", lon_name: str = "lon") -> tuple[float, float]:
    """(lon, lat) checked: finite and on the globe."""
    latitude = _number(lat, lat_name)
    longitude = _number(lon, lon_name)
    if latitude is None and longitude is None:
        raise ProtocolError("no_position")
    if latitude is None or longitude is None:
        raise ProtocolError("half_position")
    if not -90 <= latitude <= 90:
        raise ProtocolError("bad_latitude", value=latitude)
    if not -180 <= longitude <= 180:
        raise ProtocolError("bad_longitude", value=longitude)
    return longitude, latitude


def _shown(text: str) -> str:
    """Part of a sender's value fit for an error message."""
    return text[:40]


def _epoch(seconds: float, shown: str) -> datetime:
    try:
        return UNIX_EPOCH + timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        raise ProtocolError("bad_timestamp", value=_shown(shown)) from None


def _iso(text: str) -> datetime:
    """ISO-8601 with a UTC offset or Z; as Traccar's ISO_ZONED_DATE_TIME, no offset is refused."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ProtocolError("bad_timestamp", value=_shown(text)) from None
    if moment.tzinfo is None:
        raise ProtocolError("timestamp_without_offset", value=_shown(text))
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ProtocolError("bad_timestamp", value=_shown(text)) from None


def _osmand_time(value: Any, local_tz: tzinfo) -> datetime:
    if not isinstance(value, str) or len(value.strip()) > MAX_TIMESTAMP_CHARS:
        raise ProtocolError("bad_timestamp", value=_shown(str(value)))
    text = value.strip()
    if _INTEGER.fullmatch(text):
        number = int(text)
        try:
            if number < EPOCH_SECONDS_BELOW:
                return UNIX_EPOCH + timedelta(seconds=number)
            return UNIX_EPOCH + timedelta(milliseconds=number)  # exact: no float in between
        except (OverflowError, ValueError):
            raise ProtocolError("bad_timestamp", value=_shown(text)) from None
    if "T" in text:
        return _iso(text)
    try:
        moment = datetime.strptime(text, LOCAL_TIME_FORMAT)
    except ValueError:
        raise ProtocolError("bad_timestamp", value=_shown(text)) from None
    try:
        return moment.replace(tzinfo=local_tz).astimezone(UTC)
    except (OverflowError, ValueError):
        raise ProtocolError("bad_timestamp", value=_shown(text)) from None


def _aware_utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(UTC)


# --- the readers above as JSON Schema ----------------------------------------------------------


def stripped_text_pattern(max_chars: int, *, required: bool, nul: bool = True) -> str:
    """A regex of text that is at most max_chars long once stripped (and not blank if required; without NUL if not nul)."""
    char, edge = (r"[\s\S]", r"\S") if nul else (r"[^\x00]", r"[^\s\x00]")
    core = rf"{edge}(?:{char}{{0,{max_chars - 2}}}{edge})?"
    return rf"^\s*{core}\s*$" if required else rf"^\s*(?:{core})?\s*$"


def text_schema(max_chars: int, *, required: bool = False, description: str | None = None) -> dict:
    """Text as _text and _device_key read it: stripped, at most max_chars; blank is absent unless required."""
    schema = {"type": "string", "pattern": stripped_text_pattern(max_chars, required=required)}
    return {**schema, "description": description} if description else schema


# Blank text is read as absent (_blank).
BLANK_TEXT = {"type": "string", "pattern": r"^\s*$", "description": "blank: as if absent"}
# A decimal number in text, as _number reads it (at most 64 characters, then stripped).
DECIMAL_TEXT = {"type": "string", "maxLength": 64, "pattern": rf"^\s*(?:{_DECIMAL.pattern})\s*$"}
# A boolean in text, as _boolean reads it (any case; blank is absent).
BOOLEAN_TEXT = {"type": "string", "pattern": r"^\s*(?:[tT][rR][uU][eE]|[fF][aA][lL][sS][eE]|1|0)?\s*$"}


def number_text_schema(description: str) -> dict:
    """A number in a query string or form, as _number reads it: decimal text, or blank (absent)."""
    return {"anyOf": [DECIMAL_TEXT, BLANK_TEXT], "description": description}


def json_number_schema(description: str, *, minimum: float | None = None, maximum: float | None = None,
                       required: bool = False) -> dict:
    """A number in JSON, as _number reads it: a number or decimal text, else absent (the range: said of numbers only)."""
    number = {**NUMBER, **({"minimum": minimum} if minimum is not None else {}),
              **({"maximum": maximum} if maximum is not None else {})}
    alternatives = [number, DECIMAL_TEXT] if required else [number, DECIMAL_TEXT, BLANK_TEXT, {"type": "null"}]
    return {"anyOf": alternatives, "description": description}


def json_boolean_schema(description: str) -> dict:
    """A boolean in JSON, as _boolean reads it: true/false, their text or 1/0 as text, else absent."""
    return {"anyOf": [BOOLEAN, BOOLEAN_TEXT, {"type": "null"}], "description": description}


# --- the protocols ----------------------------------------------------------------------------


def parse_osmand(
    params: Mapping[str, str],
    *,
    now: datetime,
    local_tz: tzinfo,
    speed_unit: str = "kn",
    last_position: tuple[float, float] | None = None,
) -> Fix:
    """One fix from the OsmAnd protocol's fields (a query string or a form body, decoded).

    - device: `id` or `deviceid` (both may be sent only if equal);
    - position: `lat` + `lon`, else `location=lat,lon`. With neither, Traccar reuses the last
      known location: pass it as `last_position` (lon, lat) and the fix is marked
      `reused_position`; without one the message is refused (`no_position`). As Traccar, an
      explicit 0,0 is kept as sent (and flagged zero_position). Unlike Traccar, which reuses the
      last location when only one of lat/lon comes, half a position is refused (`half_position`);
    - `timestamp`: an integer below 2147483647 is epoch seconds, a larger one epoch milliseconds;
      text with a `T` is ISO-8601 and must carry an offset (as Traccar); anything else is the
      local form `yyyy-MM-dd HH:mm:ss`, read in `local_tz` — Traccar reads it in the server's
      zone (ZoneId.systemDefault()), so the intake passes the zone the service runs in
      (DISPLAY_TIMEZONE, Asia/Shanghai). Missing: the fix time is `now`, the receive time;
    - `speed` in knots (or `speed_unit`: "kn", "kmh", "mps", "mph"), stored in m/s;
    - `bearing` or `heading` (degrees), `altitude` (m), `accuracy` (m), `hdop`, `batt` (%),
      `alarm` (e.g. "sos", which Traccar Client sends from its SOS button);
    - `valid` and `charge`: as Traccar reads `valid`, true (any case) or 1 is true and any other
      value false (Traccar reads `charge=1` as false; here it is true); absent `valid` is true,
      absent `charge` unknown.

    A blank value counts as absent. Other keys (Traccar keeps them as attributes) are dropped.
    """
    if speed_unit not in METRES_PER_SECOND:
        raise ValueError(f"unknown speed unit {speed_unit!r}")
    received = _aware_utc(now)

    def get(name: str) -> str | None:
        value = params.get(name)
        if value is not None and not isinstance(value, str):
            raise ProtocolError("bad_type", field=name)
        return value

    device_key = _device_key(get("id"), get("deviceid"))

    reused = False
    lat, lon, location = get("lat"), get("lon"), get("location")
    if not _blank(lat) or not _blank(lon):
        longitude, latitude = _position(lat, lon)
    elif not _blank(location):
        parts = location.split(",")
        if len(parts) != 2:
            raise ProtocolError("bad_location")
        longitude, latitude = _position(parts[0], parts[1], "location", "location")
    elif last_position is not None:
        longitude, latitude = last_position
        reused = True
    else:
        raise ProtocolError("no_position")

    timestamp = get("timestamp")
    time = received if _blank(timestamp) else _osmand_time(timestamp, local_tz)

    speed = _number(get("speed"), "speed")
    bearing = get("bearing")
    heading = _number(bearing if not _blank(bearing) else get("heading"), "heading")
    valid = get("valid")
    return Fix(
        device_key=device_key,
        time=time,
        lon=longitude,
        lat=latitude,
        source="osmand",
        accuracy_m=_non_negative(_number(get("accuracy"), "accuracy")),
        speed_mps=_non_negative(None if speed is None else speed * METRES_PER_SECOND[speed_unit]),
        heading_deg=_heading(heading),
        altitude_m=_number(get("altitude"), "altitude"),
        battery_percent=_percent(_number(get("batt"), "batt")),
        charging=_traccar_boolean(get("charge")),
        valid=True if _blank(valid) else bool(_traccar_boolean(valid)),
        hdop=_non_negative(_number(get("hdop"), "hdop")),
        alarm=_text(get("alarm"), "alarm"),
        reused_position=reused,
    )



# The OsmAnd fields parse_osmand reads (query string or form; every value is text). Other keys are dropped.
OSMAND_FIELDS: dict[str, dict] = {
    "id": text_schema(MAX_DEVICE_KEY_CHARS, description="the device key (or deviceid; both only if equal)"),
    "deviceid": text_schema(MAX_DEVICE_KEY_CHARS, description="the device key, as id"),
    "lat": number_text_schema("latitude, degrees -90..90 in the device's datum (with lon)"),
    "lon": number_text_schema("longitude, degrees -180..180 (with lat)"),
    "location": {"anyOf": [{"type": "string", "pattern": "^[^,]*,[^,]*$"}, BLANK_TEXT],
                 "description": "lat,lon when lat and lon are absent; with neither, the device's last known "
                                "position is reused (refused without one)"},
    "timestamp": text_schema(MAX_TIMESTAMP_CHARS, description=(
        "fix time: an integer below 2147483647 is epoch seconds, a larger one epoch milliseconds; ISO-8601 "
        "with a UTC offset; else yyyy-MM-dd HH:mm:ss in the server's DISPLAY_TIMEZONE; absent: the receive time")),
    "speed": number_text_schema("knots (or the server's POSITION_OSMAND_SPEED_UNIT); below 0: unknown"),
    "bearing": number_text_schema("degrees clockwise from north; below 0: unknown"),
    "heading": number_text_schema("as bearing, read when bearing is absent"),
    "altitude": number_text_schema("metres"),
    "accuracy": number_text_schema("metres; below 0: unknown"),
    "hdop": number_text_schema("horizontal dilution of precision; below 0: unknown"),
    "batt": number_text_schema("battery, percent 0..100 (another value: unknown)"),
    "alarm": text_schema(MAX_TEXT_CHARS, description="an alarm, such as sos"),
    "valid": {**STRING, "description": "true (any case) or 1: a valid fix, any other value: not valid; absent: valid"},
    "charge": {**STRING, "description": "true (any case) or 1: charging, any other value: not charging"},
}

def parse_traccar_json(body: Any, *, last_position: tuple[float, float] | None = None) -> Fix | list[Fix]:
    """Traccar Client 9's JSON: one fix, or a list of fixes when `location` is a list.

    `{device_id, location: {timestamp (ISO-8601 with offset), coords: {latitude, longitude,
    accuracy (m), speed (m/s), heading, altitude}, is_moving, odometer (m), event, mock,
    activity: {type}, battery: {level 0-1, is_charging}, alarm, extras}}`. `device_id` and
    `timestamp` are required; the other fields may be absent (Traccar requires every coords
    field once coords come). Without coords, as Traccar, the last known location is reused
    (`last_position`, lon/lat) and the fix is not valid; without one it is refused. Speed,
    heading and battery level below 0 are unknown. The battery level is kept as a percentage to
    6 decimals (Traccar truncates it to a whole percent, so 0.57 becomes 56). `alarm` is read
    from the location, else from `extras`; the rest of `extras` is dropped. Traccar's server
    reads only one object under `location`; a list there (several buffered points in one
    request) is read here point by point.
    """
    if not isinstance(body, Mapping):
        raise ProtocolError("bad_type", field="body")
    device_key = _device_key(body.get("device_id"))
    location = body.get("location")
    if location is None:
        raise ProtocolError("missing_field", field="location")
    if isinstance(location, list):
        return [_traccar_location(device_key, item, last_position) for item in location]
    return _traccar_location(device_key, location, last_position)


def _member(container: Mapping, name: str, shown: str) -> Mapping | None:
    value = container.get(name)
    if value is not None and not isinstance(value, Mapping):
        raise ProtocolError("bad_type", field=shown)
    return value


def _traccar_location(device_key: str, location: Any, last_position: tuple[float, float] | None) -> Fix:
    if not isinstance(location, Mapping):
        raise ProtocolError("bad_type", field="location")
    timestamp = location.get("timestamp")
    if _blank(timestamp):
        raise ProtocolError("missing_field", field="location.timestamp")
    if not isinstance(timestamp, str) or len(timestamp.strip()) > MAX_TIMESTAMP_CHARS:
        raise ProtocolError("bad_timestamp", value=_shown(str(timestamp)))
    time = _iso(timestamp.strip())
    coords = _member(location, "coords", "location.coords")
    reused = coords is None
    if not reused:
        longitude, latitude = _position(coords.get("latitude"), coords.get("longitude"), "latitude", "longitude")
    elif last_position is not None:
        longitude, latitude = last_position
        coords = {}
    else:
        raise ProtocolError("no_position")
    extras = location.get("extras")
    alarm = location.get("alarm")
    if _blank(alarm) and isinstance(extras, Mapping):
        alarm = extras.get("alarm")
    battery = _member(location, "battery", "location.battery") or {}
    level = _number(battery.get("level"), "battery.level")
    activity = _member(location, "activity", "location.activity") or {}
    return Fix(
        device_key=device_key,
        time=time,
        lon=longitude,
        lat=latitude,
        source="traccar_json",
        accuracy_m=_non_negative(_number(coords.get("accuracy"), "accuracy")),
        speed_mps=_non_negative(_number(coords.get("speed"), "speed")),
        heading_deg=_heading(_number(coords.get("heading"), "heading")),
        altitude_m=_number(coords.get("altitude"), "altitude"),
        battery_percent=None if level is None or not 0 <= level <= 1 else round(level * 100, 6),
        charging=_boolean(battery.get("is_charging"), "battery.is_charging"),
        valid=not reused,
        alarm=_text(alarm, "alarm"),
        moving=_boolean(location.get("is_moving"), "is_moving"),
        mock=_boolean(location.get("mock"), "mock"),
        event=_text(location.get("event"), "event"),
        activity=_text(activity.get("type"), "activity.type"),
        odometer_m=_non_negative(_number(location.get("odometer"), "odometer")),
        reused_position=reused,
    )



# Traccar Client 9's JSON as parse_traccar_json reads it (other fields are dropped).
TRACCAR_COORDS = obj({
    "latitude": json_number_schema("degrees -90..90 in the device's datum", minimum=-90, maximum=90, required=True),
    "longitude": json_number_schema("degrees -180..180", minimum=-180, maximum=180, required=True),
    "accuracy": json_number_schema("metres; below 0: unknown"),
    "speed": json_number_schema("metres per second; below 0: unknown"),
    "heading": json_number_schema("degrees clockwise from north; below 0: unknown"),
    "altitude": json_number_schema("metres"),
}, required=["latitude", "longitude"])
TRACCAR_LOCATION = obj({
    "timestamp": {**text_schema(MAX_TIMESTAMP_CHARS, required=True), "format": "date-time",
                  "description": "fix time, ISO-8601 with a UTC offset"},
    "coords": {**nullable(TRACCAR_COORDS), "description": "absent: the device's last known position is reused "
                                                          "and the fix is not valid (refused without one)"},
    "is_moving": json_boolean_schema("the phone says it moves"),
    "odometer": json_number_schema("metres; below 0: unknown"),
    "event": nullable(text_schema(MAX_TEXT_CHARS, description="the app's event name")),
    "mock": json_boolean_schema("the phone says a mock-location app made the fix"),
    "activity": nullable(obj({"type": nullable(text_schema(MAX_TEXT_CHARS, description="still, walking, ..."))})),
    "battery": nullable(obj({
        "level": json_number_schema("0..1 (another value: unknown)"),
        "is_charging": json_boolean_schema("charging"),
    })),
    "alarm": nullable(text_schema(MAX_TEXT_CHARS, description="an alarm, such as sos")),
    "extras": {**obj({"alarm": nullable(text_schema(MAX_TEXT_CHARS))}, description=(
        "dropped, but for alarm when the location has none")), "additionalProperties": {}},
}, required=["timestamp"])
TRACCAR_DEVICE_ID = {"anyOf": [text_schema(MAX_DEVICE_KEY_CHARS, required=True), INTEGER],
                     "description": "the device key"}
TRACCAR_JSON = obj({
    "device_id": TRACCAR_DEVICE_ID,
    "location": {"anyOf": [TRACCAR_LOCATION, array(TRACCAR_LOCATION)],
                 "description": "one fix, or a list of fixes (each stored as if sent alone)"},
}, required=["device_id", "location"])

# OwnTracks `bs`: 0 unknown, 1 unplugged, 2 charging, 3 full (on the charger).
_OWNTRACKS_CHARGING = {1: False, 2: True, 3: True}


def parse_owntracks(body: Any, *, device_key: str) -> Fix | None:
    """A fix from an OwnTracks HTTP-mode message, or None when it is not a `location`.

    `{_type: "location", tst (epoch s), lat, lon, acc (m), alt (m), vel (km/h), cog (degrees),
    batt (%), bs (battery status: 2 charging, 3 full, 1 unplugged, 0 unknown)}`. Every other
    `_type` (and an empty or non-object body) is None: the endpoint still answers 200 `[]`,
    because the app stops sending until it gets one. The key comes from HTTP Basic auth.
    """
    if not isinstance(body, Mapping) or body.get("_type") != "location":
        return None
    key = _device_key(device_key)
    longitude, latitude = _position(body.get("lat"), body.get("lon"))
    tst = body.get("tst")
    if _blank(tst):
        raise ProtocolError("missing_field", field="tst")
    try:
        seconds = _number(tst, "tst")
    except ProtocolError:
        raise ProtocolError("bad_timestamp", value=_shown(str(tst))) from None
    velocity = _number(body.get("vel"), "vel")
    status = body.get("bs")
    return Fix(
        device_key=key,
        time=_epoch(seconds, str(tst)),
        lon=longitude,
        lat=latitude,
        source="owntracks",
        accuracy_m=_non_negative(_number(body.get("acc"), "acc")),
        speed_mps=_non_negative(None if velocity is None else velocity * METRES_PER_SECOND["kmh"]),
        heading_deg=_heading(_number(body.get("cog"), "cog")),
        altitude_m=_number(body.get("alt"), "alt"),
        battery_percent=_percent(_number(body.get("batt"), "batt")),
        charging=_OWNTRACKS_CHARGING.get(status) if isinstance(status, int) and not isinstance(status, bool) else None,
        valid=True,
    )



# An OwnTracks HTTP-mode message as parse_owntracks reads it. Every message is answered 200 `[]`:
# one of another `_type`, and an unreadable location, are dropped.
OWNTRACKS_MESSAGE = obj({
    "_type": {**STRING, "description": "location is stored; any other type (transition, waypoint, lwt, ...) "
                                       "is answered and dropped"},
    "tst": json_number_schema("fix time, epoch seconds"),
    "lat": json_number_schema("latitude, degrees -90..90", minimum=-90, maximum=90),
    "lon": json_number_schema("longitude, degrees -180..180", minimum=-180, maximum=180),
    "acc": json_number_schema("accuracy, metres; below 0: unknown"),
    "alt": json_number_schema("altitude, metres"),
    "vel": json_number_schema("speed, km/h; below 0: unknown"),
    "cog": json_number_schema("course over ground, degrees; below 0: unknown"),
    "batt": json_number_schema("battery, percent 0..100 (another value: unknown)"),
    "bs": {**INTEGER, "description": "battery status: 0 unknown, 1 unplugged, 2 charging, 3 full"},
}, description="other members (tid, conn, ...) are dropped")

# --- checks -----------------------------------------------------------------------------------


def flag_reasons(fix: Fix, *, previous: Fix | None, now: datetime, limits: Limits) -> list[str]:
    """The named reasons to flag a fix (never to drop it), in a fixed order.

    - "invalid": the sender said the fix is not valid;
    - "zero_position": exactly 0,0 (a receiver with no fix);
    - "future": the fix time is more than max_future_seconds after `now` (the receive time);
    - "too_old": the fix time is more than max_age_days before `now`;
    - "poor_accuracy": accuracy worse (larger) than max_accuracy_m;
    - "jump": the geodesic speed implied from `previous` (the device's fix nearest before in time
      that the caller trusts) is over max_jump_kmh. Fixes at the same instant are not judged here:
      same time, different fields is the store's "conflicting fix". A fix with a reused position
      is never a jump.

    The store adds "conflicting_fix" (it needs the stored points) and "outside_zone" (it needs the
    zone's outline from the grids).
    """
    received = _aware_utc(now)
    reasons = []
    if not fix.valid:
        reasons.append("invalid")
    if fix.lon == 0 and fix.lat == 0:
        reasons.append("zero_position")
    if fix.time > received + timedelta(seconds=limits.max_future_seconds):
        reasons.append("future")
    if fix.time < received - timedelta(days=limits.max_age_days):
        reasons.append("too_old")
    if fix.accuracy_m is not None and fix.accuracy_m > limits.max_accuracy_m:
        reasons.append("poor_accuracy")
    if previous is not None and not fix.reused_position and not previous.reused_position:
        seconds = abs((fix.time - previous.time).total_seconds())
        if seconds > 0:
            metres = geodesic_distance_m(previous.lon, previous.lat, fix.lon, fix.lat)
            if metres / seconds * 3.6 > limits.max_jump_kmh:
                reasons.append("jump")
    return reasons
