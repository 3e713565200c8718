"""The patrols API's bodies: what it answers, each shaper beside its JSON Schema, and the bodies it reads.

One place per field: a shaper here and next to it the schema gridsvc.patrols.openapi puts in the
OpenAPI document. No Flask: the views hand in the display zone, a task's sign-up counts
(service.task_summary), the period's label and error dicts already rendered; times go out as
ISO-8601 in the display zone, hours as numbers rounded half-up to the cent (figures.hours).

The request bodies are read by gridsvc.patrols.intake (patrol submissions) and the views (tasks,
sign-ups, attendance); the schemas at the end say exactly what those accept, no more, no less.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from config import DefaultConfig
from gridsvc.apidoc import BOOLEAN, COUNT, DATE_TIME, INTEGER, NUMBER, STRING, array, nullable, obj, ref
from gridsvc.figures import hours
from gridsvc.geo.shapes import from_db
from gridsvc.grids.models import LEVELS as GRID_LEVELS
from gridsvc.patrols.intake import MAX_TIME_TEXT
from gridsvc.patrols.models import KINDS, SESSION_STATUSES, SIGNUP_STATUSES, SOURCES, PatrolSession, PatrolTask, TaskSignup
from gridsvc.patrols.service import MAX_HEADCOUNT
from gridsvc.patrols.verification import REASON_LABELS
from gridsvc.people.models import ROLES as PATROLLER_ROLES
from gridsvc.people.models import Patroller

# datetime.isoformat in the display zone: RFC 3339, but for a time before 1901, whose zone offset is the local
# mean time's (Asia/Shanghai +08:05:43): the server takes such times, so its answers may hold them.
LOCAL_TIME = {"type": "string",
              "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?"
                         r"[+-][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{6})?)?$",
              "description": "ISO-8601 in DISPLAY_TIMEZONE"}
UTC_TIME = {**DATE_TIME, "description": "ISO-8601 in UTC (Z)"}
SECONDS = {**COUNT, "description": "whole seconds"}
HOURS = {**NUMBER, "minimum": 0, "description": "hours rounded half-up to the cent"}
PERIOD_LABEL = {**STRING, "description": "the period asked for: 2020, 2020-Q1, 2020-03 or 2020-03-01..2020-03-31"}
KIND = {"type": "string", "enum": list(KINDS)}


def local_iso(moment: dt.datetime | None, zone: ZoneInfo) -> str | None:
    """An aware time as ISO-8601 in `zone`, or None."""
    return None if moment is None else moment.astimezone(zone).isoformat()


def hours_number(seconds: int) -> float:
    """Seconds as hours rounded half-up to the cent, as a JSON number."""
    return float(hours(seconds))


# --- who patrolled ------------------------------------------------------------------------------

_PERSON_PROPERTIES = {
    "id": {**INTEGER, "description": "patroller id"},
    "app_account_id": {**nullable(STRING), "description": "the volunteer-app account"},
    "name": STRING,
}
SIGNUP_VOLUNTEER = obj(_PERSON_PROPERTIES, required=list(_PERSON_PROPERTIES))


def signup_volunteer_json(patroller: Patroller) -> dict:
    """The person a sign-up is for."""
    return {"id": patroller.id, "app_account_id": patroller.app_account_id, "name": patroller.name}


_PATROLLER_PROPERTIES = {**_PERSON_PROPERTIES, "role": {"type": "string", "enum": list(PATROLLER_ROLES)}}
PATROLLER = obj(_PATROLLER_PROPERTIES, required=list(_PATROLLER_PROPERTIES))


def patroller_json(patroller: Patroller) -> dict:
    """The volunteer (or grid worker) who patrolled, with their role."""
    return {**signup_volunteer_json(patroller), "role": patroller.role}


# --- patrol sessions ----------------------------------------------------------------------------

_REASON = obj({
    "code": {"type": "string", "enum": list(REASON_LABELS), "description": "why these seconds are not verified"},
    "seconds": SECONDS,
}, required=["code", "seconds"])
_VERIFICATION_AREA = obj({
    "kind": {"type": "string", "enum": ["station", "task_area", "task_route", "none"],
             "description": "what the track was checked against"},
    "code": {**STRING, "description": "the station's code (kind station)"},
    "task": {**INTEGER, "description": "the task's id (task_area, task_route)"},
    "buffer_m": {**NUMBER, "description": "metres either side of the route that count (task_route)"},
}, required=["kind"])
_VERIFICATION_TRACK = obj({
    "points": COUNT, "segments": COUNT, "start": UTC_TIME, "end": UTC_TIME, "duration_seconds": SECONDS,
    "length_m": {**NUMBER, "description": "geodesic length, to 0.1 m"},
    "dropped_duplicates": COUNT, "dropped_untimed": COUNT,
    "seconds_outside_claimed_time": {**SECONDS, "description": "track time cut off outside start..end"},
}, required=["points", "segments", "start", "end", "duration_seconds", "length_m", "dropped_duplicates",
             "dropped_untimed", "seconds_outside_claimed_time"])
# Built by gridsvc.patrols.verification (assess_track with a track, unverified without one).
VERIFICATION = obj({
    "method": {"type": "string", "enum": ["track", "points", "attendance", "paper", "none"],
               "description": "track: from the GPS track; points: from the patroller's stored tracker points "
                              "(flagged ones excluded); attendance: confirmed by the station; paper: entered "
                              "from a paper sign-in sheet (never verified); none: nothing supports the claim"},
    "points": obj({"stored": COUNT, "kept": COUNT, "excluded": COUNT}, required=["stored", "kept", "excluded"],
                  description="points and track only: the stored points of the window, those used, those "
                              "excluded (flagged, or a jump at the current limit)"),
    "jump_kmh": {**NUMBER, "description": "points and track only: the jump limit the points were judged with"},
    "claimed_seconds": SECONDS,
    "verified_seconds": SECONDS,
    "reasons": array(_REASON, description="the claimed seconds that are not verified, by reason"),
    "moving_seconds": {**SECONDS, "description": "track only"},
    "inside_seconds": {**nullable(SECONDS), "description": "track only; null when there was no area to check"},
    "area": _VERIFICATION_AREA,
    "track": _VERIFICATION_TRACK,
    "limits": obj({"max_speed_kmh": NUMBER, "max_gap_seconds": NUMBER}, required=["max_speed_kmh", "max_gap_seconds"]),
}, required=["method", "claimed_seconds", "verified_seconds", "reasons"])

LINESTRING = obj({"type": {"const": "LineString"}, "coordinates": array(ref("Position"), minItems=2)},
                 required=["type", "coordinates"], description="GeoJSON LineString in WGS-84 longitude/latitude")

_PATROL_PROPERTIES = {
    "id": INTEGER,
    "client_uuid": {"type": "string", "format": "uuid", "description": "the client's id of the submission"},
    "kind": KIND,
    "volunteer": PATROLLER,
    "task_id": {**nullable(INTEGER), "description": "the group-patrol task (group patrols)"},
    "station_code": {**STRING, "description": "the station it is counted for"},
    "status": {"type": "string", "enum": list(SESSION_STATUSES),
               "description": "logged: counts in the figures; open: started, not yet stopped; proposed: a trip "
                              "detected in the tracker's points, awaiting confirmation; rejected: a trip that was "
                              "no patrol"},
    "start": LOCAL_TIME,
    "end": {**nullable(LOCAL_TIME), "description": "null while the session is open"},
    "claimed_seconds": {**nullable({**SECONDS, "minimum": 1}), "description": "null while the session is open"},
    "claimed_hours": {**nullable(HOURS), "description": "null while the session is open"},
    "verified_seconds": {**nullable(SECONDS), "description": "null: not verified (counted as 0)"},
    "verified_hours": nullable(HOURS),
    "verification": {**nullable(VERIFICATION), "description": "how the verified time was found"},
    "track_length_m": {**nullable(NUMBER), "description": "geodesic length of the track, to 0.1 m; null without one"},
    "grid_seconds": {"type": "object", "additionalProperties": {**SECONDS, "minimum": 1},
                     "description": "moving seconds of the track in each grid (code), every level"},
    "start_point": {**nullable(array(NUMBER, minItems=2, maxItems=2)),
                    "description": "[lon, lat] where a patrol without a track began"},
    "source": {"type": "string", "enum": list(SOURCES)},
    "from_paper": {**BOOLEAN, "description": "entered afterwards from a paper sign-in sheet (补录)"},
}
PATROL = obj(_PATROL_PROPERTIES, required=list(_PATROL_PROPERTIES), description="a patrol session")
PATROL_WITH_TRACK = obj({**_PATROL_PROPERTIES, "track": {**nullable(LINESTRING), "description": "null without one"}},
                        required=[*_PATROL_PROPERTIES, "track"], description="a patrol session with its track")


def patrol_json(patrol: PatrolSession, *, zone: ZoneInfo, with_track: bool = False) -> dict:
    """A patrol session as the API answers it (PATROL; PATROL_WITH_TRACK with its track)."""
    start_point = from_db(patrol.start_point)
    body = {
        "id": patrol.id,
        "client_uuid": patrol.client_uuid,
        "kind": patrol.kind,
        "volunteer": patroller_json(patrol.patroller),
        "task_id": patrol.task_id,
        "station_code": patrol.station.code,
        "status": patrol.status,
        "start": local_iso(patrol.started_at, zone),
        "end": None if patrol.ended_at is None else local_iso(patrol.ended_at, zone),
        "claimed_seconds": patrol.duration_seconds,
        "claimed_hours": None if patrol.duration_seconds is None else hours_number(patrol.duration_seconds),
        "verified_seconds": patrol.verified_seconds,
        "verified_hours": None if patrol.verified_seconds is None else hours_number(patrol.verified_seconds),
        "verification": patrol.verification,
        "track_length_m": None if patrol.track_length_m is None else round(patrol.track_length_m, 1),
        "grid_seconds": {row.grid.code: row.seconds for row in patrol.grid_times},
        "start_point": None if start_point is None else [start_point.x, start_point.y],
        "source": patrol.source,
        "from_paper": patrol.from_paper,
    }
    if with_track:
        track = from_db(patrol.track)
        body["track"] = None if track is None else {"type": "LineString", "coordinates": [list(c) for c in track.coords]}
    return body


_KIND_TOTALS = obj({
    "sessions": COUNT,
    "claimed_seconds": SECONDS,
    "verified_seconds": SECONDS,
    "paper_seconds": {**SECONDS, "description": "claimed seconds entered from paper sign-in sheets"},
    "claimed_hours": HOURS,
    "verified_hours": HOURS,
}, required=["sessions", "claimed_seconds", "verified_seconds", "paper_seconds", "claimed_hours", "verified_hours"])
TOTALS = obj({kind: _KIND_TOTALS for kind in KINDS}, required=list(KINDS), description="by kind")


def totals_json(totals: dict) -> dict:
    """service.list_patrols totals by kind, with their hours (the API and the "my patrols" page)."""
    return {
        kind: {**figures, "claimed_hours": hours_number(figures["claimed_seconds"]),
               "verified_hours": hours_number(figures["verified_seconds"])}
        for kind, figures in totals.items()
    }


PATROL_LIST = obj({
    "volunteer": PATROLLER,
    "period": PERIOD_LABEL,
    "totals": TOTALS,
    "patrols": array(PATROL, description="newest first, at most 200"),
}, required=["volunteer", "period", "totals", "patrols"])


def patrol_list_json(patroller: Patroller, *, period_label: str, listing: dict, zone: ZoneInfo) -> dict:
    """One patroller's patrols of a period (service.list_patrols) with claimed and verified totals."""
    return {
        "volunteer": patroller_json(patroller),
        "period": period_label,
        "totals": totals_json(listing["totals"]),
        "patrols": [patrol_json(patrol, zone=zone) for patrol in listing["patrols"]],
    }


# --- the batch ----------------------------------------------------------------------------------

_BATCH_SUCCESS = obj({
    "index": {**COUNT, "description": "the item's place in the batch"},
    "status": {"type": "integer", "enum": [200, 201], "description": "201 stored now, 200 a replay"},
    "id": {**INTEGER, "description": "the patrol session's id"},
    "client_uuid": {"type": "string", "format": "uuid"},
}, required=["index", "status", "id", "client_uuid"], closed=True)
ITEM_ERROR = obj({
    "code": {**STRING, "description": "stable machine-readable code"},
    "message": {**STRING, "description": "Chinese by default, English with ?lang=en"},
    "params": {"type": "object", "additionalProperties": {}, "description": "the values the message names"},
}, required=["code", "message", "params"])
_BATCH_FAILURE = obj({
    "index": {**COUNT, "description": "the item's place in the batch"},
    "status": {"type": "integer", "minimum": 400, "maximum": 499, "description": "what the item alone would answer"},
    "client_uuid": {**nullable(STRING), "description": "as sent, when it was text"},
    "error": ITEM_ERROR,
}, required=["index", "status", "client_uuid", "error"], closed=True)
BATCH_RESULT = obj({
    "created": COUNT,
    "replayed": COUNT,
    "failed": COUNT,
    "results": array({"oneOf": [_BATCH_SUCCESS, _BATCH_FAILURE]}, description="one per item, in order"),
}, required=["created", "replayed", "failed", "results"])


def batch_success_json(index: int, patrol: PatrolSession, *, created: bool) -> dict:
    """One stored (201) or replayed (200) item of a batch."""
    return {"index": index, "status": 201 if created else 200, "id": patrol.id, "client_uuid": patrol.client_uuid}


def batch_failure_json(index: int, item, *, status: int, error: dict) -> dict:
    """One refused item of a batch: its status and error ({code, message, params}, rendered by the caller)."""
    client_uuid = item.get("client_uuid") if isinstance(item, dict) else None
    return {"index": index, "status": status, "client_uuid": client_uuid if isinstance(client_uuid, str) else None,
            "error": error}


def batch_json(results: list[dict]) -> dict:
    """The batch's answer: how many were created, replayed and refused, and each item's result."""
    counts = {"created": 0, "replayed": 0, "failed": 0}
    for result in results:
        counts["created" if result["status"] == 201 else "replayed" if result["status"] == 200 else "failed"] += 1
    return {**counts, "results": results}


# --- patrol time per grid -----------------------------------------------------------------------

_GRID_FIGURES = obj({
    "tracked_seconds": {**SECONDS, "description": "moving seconds of tracks in this grid"},
    "tracked_sessions": {**COUNT, "description": "sessions with tracked time in this grid"},
    "claimed_seconds": {**SECONDS, "description": "claimed seconds of the sessions counted for this grid"},
    "verified_seconds": SECONDS,
    "sessions": {**COUNT, "description": "sessions counted for this grid"},
    "tracked_hours": HOURS,
    "claimed_hours": HOURS,
    "verified_hours": HOURS,
}, required=["tracked_seconds", "tracked_sessions", "claimed_seconds", "verified_seconds", "sessions",
             "tracked_hours", "claimed_hours", "verified_hours"])
_BY_KIND = obj({kind: _GRID_FIGURES for kind in KINDS}, required=list(KINDS))
PATROL_TIME = obj({
    "period": PERIOD_LABEL,
    "grid_code": STRING,
    "grid_name": STRING,
    "level": {"type": "string", "enum": list(GRID_LEVELS)},
    "by_role": obj({role: _BY_KIND for role in PATROLLER_ROLES}, required=list(PATROLLER_ROLES)),
}, required=["period", "grid_code", "grid_name", "level", "by_role"])


def patrol_time_json(*, period_label: str, result: dict) -> dict:
    """service.time_in_grid's seconds by role and kind, with their hours."""
    by_role = {
        role: {kind: {**figures, "tracked_hours": hours_number(figures["tracked_seconds"]),
                      "claimed_hours": hours_number(figures["claimed_seconds"]),
                      "verified_hours": hours_number(figures["verified_seconds"])}
               for kind, figures in by_kind.items()}
        for role, by_kind in result["by_role"].items()
    }
    return {"period": period_label, **result, "by_role": by_role}


# --- group-patrol tasks -------------------------------------------------------------------------

_SIGNUP_PROPERTIES = {
    "volunteer": SIGNUP_VOLUNTEER,
    "status": {"type": "string", "enum": list(SIGNUP_STATUSES),
               "description": "signed_up; attended (has a patrol session for the task); absent; cancelled"},
    "session_id": {**nullable(INTEGER), "description": "the patrol session holding the attended time"},
    "confirmed": {**BOOLEAN, "description": "the station confirmed attendance or absence"},
}
SIGNUP = obj(_SIGNUP_PROPERTIES, required=list(_SIGNUP_PROPERTIES), description="a sign-up")


def signup_json(signup: TaskSignup) -> dict:
    """A sign-up as the API answers it."""
    return {
        "volunteer": signup_volunteer_json(signup.patroller),
        "status": signup.status,
        "session_id": signup.session_id,
        "confirmed": signup.confirmed_at is not None,
    }


SIGNUP_RESULT = obj({**_SIGNUP_PROPERTIES, "already_signed_up": {**BOOLEAN, "description": "nothing changed"}},
                    required=[*_SIGNUP_PROPERTIES, "already_signed_up"])


def sign_up_json(signup: TaskSignup, *, created: bool) -> dict:
    """The answer to a sign-up: the sign-up, and whether it was there already."""
    return {**signup_json(signup), "already_signed_up": not created}


TASK_AREA = {
    "oneOf": [ref("PolygonGeometry"), LINESTRING],
    "description": "where to patrol: an area (Polygon, MultiPolygon) or a route (LineString)",
}
_TASK_PROPERTIES = {
    "id": INTEGER,
    "title": STRING,
    "station_code": {**STRING, "description": "the station that publishes it"},
    "start": LOCAL_TIME,
    "end": LOCAL_TIME,
    "headcount": {**INTEGER, "minimum": 1, "maximum": MAX_HEADCOUNT, "description": "volunteers asked for"},
    "area": {**nullable(TASK_AREA), "description": "null: the whole station"},
    "cancelled": BOOLEAN,
    # service.task_summary:
    "signed_up": {**COUNT, "description": "sign-ups taking a place (signed_up and attended)"},
    "by_status": obj({status: COUNT for status in SIGNUP_STATUSES}, required=list(SIGNUP_STATUSES)),
    "person_seconds": {**SECONDS, "description": "claimed seconds of the task's group sessions (person-hours)"},
    "verified_person_seconds": SECONDS,
    "paper_person_seconds": {**SECONDS, "description": "claimed seconds entered from the paper sign-in sheet"},
}
TASK = obj(_TASK_PROPERTIES, required=list(_TASK_PROPERTIES), description="a group-patrol task")
TASK_WITH_SIGNUPS = obj({**_TASK_PROPERTIES, "signups": array(SIGNUP, description="a volunteer sees only their own")},
                        required=[*_TASK_PROPERTIES, "signups"], description="a group-patrol task with its sign-ups")


def task_json(task: PatrolTask, *, summary: dict, zone: ZoneInfo, signups: list[TaskSignup] | None = None) -> dict:
    """A task (TASK) with its summary (service.task_summary); with `signups`, TASK_WITH_SIGNUPS."""
    area = from_db(task.area)
    body = {
        "id": task.id,
        "title": task.title,
        "station_code": task.station.code,
        "start": local_iso(task.starts_at, zone),
        "end": local_iso(task.ends_at, zone),
        "headcount": task.headcount,
        "area": None if area is None else area.__geo_interface__,
        "cancelled": task.cancelled_at is not None,
        **summary,
    }
    if signups is not None:
        body["signups"] = [signup_json(signup) for signup in signups]
    return body


TASK_LIST = obj({"period": PERIOD_LABEL, "tasks": array(TASK, description="by start time, at most 1000")},
                required=["period", "tasks"])


def task_list_json(*, period_label: str, tasks: list[dict]) -> dict:
    """The tasks of a period, each shaped by task_json."""
    return {"period": period_label, "tasks": tasks}


ATTENDANCE_RESULT = obj({"task": TASK, "results": array(SIGNUP, description="one per entry, in order")},
                        required=["task", "results"])


def attendance_json(task: dict, results: list[dict]) -> dict:
    """The answer to an attendance list: the task (task_json) and each entry's sign-up (signup_json) as it was then."""
    return {"task": task, "results": results}


# --- what the patrols API reads -----------------------------------------------------------------
# gridsvc.patrols.intake.PatrolIntake.fields reads a patrol; the views read tasks and attendance.

_ABSENT = [{"type": "null"}, {"type": "string", "maxLength": 0}]
TIME_TEXT = {"type": "string", "format": "date-time", "maxLength": MAX_TIME_TEXT,
             "description": "ISO-8601 with a UTC offset, such as 2024-05-01T08:30:00+08:00 (a time without one is "
                            f"refused); at most {MAX_TIME_TEXT} characters"}
OPTIONAL_TIME = {"anyOf": [TIME_TEXT, *_ABSENT], "description": "null or empty: absent"}
# uuid.UUID: 32 hex digits, dashes anywhere, braces around, an urn:uuid: prefix; any case.
UUID_TEXT = {"type": "string", "pattern": r"^(?:urn:)?(?:uuid:)?\{*(?:-*[0-9A-Fa-f]){32}-*\}*$",
             "description": "a UUID the client made: the same one again is the same submission (a retry)"}
_NON_BLANK = {"type": "string", "pattern": r"\S"}
VOLUNTEER_REF = {"anyOf": [_NON_BLANK, INTEGER],
                 "description": "a volunteer-app account or a patroller id (one outside the caller's scope: 404)"}
_LON = {**NUMBER, "minimum": -180, "maximum": 180}
_LAT = {**NUMBER, "minimum": -90, "maximum": 90}
_LON_LAT = {"type": "array", "prefixItems": [_LON, _LAT], "items": NUMBER, "minItems": 2, "maxItems": 3,
            "description": "[lon, lat] or [lon, lat, elevation], WGS-84"}
START_POINT = {
    "anyOf": [_LON_LAT, obj({"lon": _LON, "lat": _LAT}, required=["lon", "lat"]),
              obj({"type": {"const": "Point"}, "coordinates": _LON_LAT}, required=["type", "coordinates"]),
              *_ABSENT, {"type": "object", "properties": {}, "additionalProperties": False}],
    "description": "where a patrol without a track began (a station of the zone); null, empty or {}: absent",
}
# A track position: extra members after lon and lat (elevation) are ignored.
_TRACK_POSITION = {"type": "array", "prefixItems": [_LON, _LAT], "items": {}, "minItems": 2}
_TRACK_TIME = {"type": "string", "format": "date-time", "maxLength": 64,
               "description": "ISO-8601 with a UTC offset"}
_TIMES = array(_TRACK_TIME, description="one time per position, in order")
_MAX_POINTS = int(DefaultConfig.MAX_TRACK_POINTS)
_LINE_COORDINATES = array(_TRACK_POSITION, maxItems=_MAX_POINTS)
_MULTILINE_COORDINATES = array(array(_TRACK_POSITION))
_MULTILINE_TIMES = {"anyOf": [_TIMES, array(_TIMES)], "description": "one flat list, or one list per line"}
_LINE_TRACK = obj({"type": {"const": "LineString"}, "coordinates": _LINE_COORDINATES, "times": _TIMES,
                   "coordTimes": _TIMES}, required=["type", "coordinates"])
_MULTILINE_TRACK = obj({"type": {"const": "MultiLineString"}, "coordinates": _MULTILINE_COORDINATES,
                        "times": _MULTILINE_TIMES, "coordTimes": _MULTILINE_TIMES}, required=["type", "coordinates"])
_FEATURE_TRACK = obj({
    "type": {"const": "Feature"},
    "geometry": {"oneOf": [obj({"type": {"const": "LineString"}, "coordinates": _LINE_COORDINATES},
                               required=["type", "coordinates"]),
                           obj({"type": {"const": "MultiLineString"}, "coordinates": _MULTILINE_COORDINATES},
                               required=["type", "coordinates"])]},
    "properties": obj({"times": _MULTILINE_TIMES, "coordTimes": _MULTILINE_TIMES},
                      description="the times, as times or coordTimes (togeojson)"),
}, required=["type", "geometry", "properties"])
GEOJSON_TRACK = {
    "oneOf": [_FEATURE_TRACK, _LINE_TRACK, _MULTILINE_TRACK],
    "description": "a GeoJSON LineString or MultiLineString, bare (times in a times or coordTimes member) or in a "
                   f"Feature (in properties), one ISO-8601 time per position; at most MAX_TRACK_POINTS ({_MAX_POINTS}) "
                   "positions in all, inside the zone; without start and end its first and last times are the "
                   "patrol's",
}
TASK_ID_TEXT = {"type": "string", "pattern": r"^\s*(?=[0-9]{1,9}\s*$)0*[1-9][0-9]*\s*$"}
TASK_ID = {"anyOf": [{**INTEGER, "minimum": 1, "maximum": 2**31 - 1}, TASK_ID_TEXT, *_ABSENT],
           "description": "the group-patrol task (group patrols only); null or empty: none"}

PATROL_BODY = obj({
    "client_uuid": UUID_TEXT,
    "kind": KIND,
    "volunteer": VOLUNTEER_REF,
    "start": {**OPTIONAL_TIME, "description": "required without a track; null or empty: the track's first time"},
    "end": {**OPTIONAL_TIME, "description": "required without a track; null or empty: the track's last time"},
    "task_id": TASK_ID,
    "track": nullable(GEOJSON_TRACK),
    "start_point": START_POINT,
}, required=["client_uuid", "kind", "volunteer"], description="one patrol: start and end, or a track with times")

START_BODY = obj({
    "client_uuid": UUID_TEXT,
    "kind": KIND,
    "volunteer": {**VOLUNTEER_REF, "description": "whose patrol (default: the caller's own patroller)"},
    "task_id": TASK_ID,
}, required=["client_uuid", "kind"], description="a patrol starting now; its points are the patroller's devices' "
                                                 "from now until it stops")
RECORDER_SESSION_BODY = obj({
    "device_id": {**STRING, "description": "the recorder's own device key (from POST /api/v1/devices)"},
    "client_uuid": UUID_TEXT,
    "kind": KIND,
    "task_id": TASK_ID,
    "start": {**TIME_TEXT, "description": "when the patroller tapped Start, by the phone's clock"},
    "end": {**OPTIONAL_TIME, "description": "when they tapped Stop (or the trimmed end); absent while it runs"},
    "trimmed_from": {**OPTIONAL_TIME, "description": "with a trimmed end: when they actually tapped Stop (kept with "
                                                     "the patrol's verification, so the trim is in the audit trail)"},
}, required=["device_id", "client_uuid", "kind", "start"], description="the phone recorder's patrol, as its queue "
                                                                      "holds it")
STOP_BODY = obj({
    "end": {**OPTIONAL_TIME, "description": "when it ended (a trimmed end, after the start; default: now)"},
}, description="optional: the end of the patrol")

_DECIMAL_TEXT = r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*"
PATROL_FORM = obj({
    "client_uuid": UUID_TEXT,
    "kind": KIND,
    "volunteer": {**_NON_BLANK, "description": VOLUNTEER_REF["description"]},
    "start": {"anyOf": [TIME_TEXT, _ABSENT[1]], "description": "required without a track; empty: the track's"},
    "end": {"anyOf": [TIME_TEXT, _ABSENT[1]], "description": "required without a track; empty: the track's"},
    "task_id": {"anyOf": [TASK_ID_TEXT, _ABSENT[1]], "description": TASK_ID["description"]},
    "start_lon": {"type": "string", "pattern": f"^(?:{_DECIMAL_TEXT})?$",
                  "description": "with start_lat: where a patrol without a track began (-180..180)"},
    "start_lat": {"type": "string", "pattern": f"^(?:{_DECIMAL_TEXT})?$",
                  "description": "with start_lon (-90..90)"},
    "track": {"type": "string", "format": "binary",
              "description": "a GPX file (DOCTYPE and ENTITY refused) with timed points inside the zone; at most "
                             f"MAX_TRACK_BYTES ({DefaultConfig.MAX_TRACK_BYTES}) bytes and MAX_TRACK_POINTS "
                             f"({_MAX_POINTS}) points"},
}, required=["client_uuid", "kind", "volunteer"], description="one patrol as a form, with a GPX file in track")

MAX_BATCH_ITEMS = int(DefaultConfig.MAX_BATCH_SIZE)
_BATCH_ITEMS = array(PATROL_BODY, minItems=1, maxItems=MAX_BATCH_ITEMS,
                     description=f"at most MAX_BATCH_SIZE ({MAX_BATCH_ITEMS}, more: 413); an item breaking the rules "
                                 "is refused alone, in its result")
PATROL_BATCH = {"oneOf": [obj({"sessions": _BATCH_ITEMS}, required=["sessions"]), _BATCH_ITEMS],
                "description": "{sessions: [patrol, ...]} or the bare list"}

# service._checked_title: no control character, not blank, at most 200 characters once stripped.
_EDGE, _INNER, _SPACE = r"[^\s\x00-\x1f]", r"[^\x00-\x1f]", r"[^\S\x00-\x1f]"
# (?![\s\S]) after $: Python's $ (jsonschema's, hypothesis's) also matches before a final newline.
TITLE = {"type": "string", "pattern": rf"^{_SPACE}*{_EDGE}(?:{_INNER}{{0,198}}{_EDGE})?{_SPACE}*$(?![\s\S])",
         "description": "at most 200 characters once trimmed, no control characters"}
# views._headcount: digits (at most 6) are read as a number.
HEADCOUNT = {"anyOf": [{**INTEGER, "minimum": 1, "maximum": MAX_HEADCOUNT},
                       {"type": "string", "pattern": r"^\s*(?=[0-9]{1,6}\s*$)0*(?:[1-9][0-9]{0,3}|10000)\s*$"}],
             "description": f"volunteers asked for, 1 to {MAX_HEADCOUNT}"}
_AREA_LINESTRING = obj({"type": {"const": "LineString"}, "coordinates": array(_LON_LAT, minItems=2)},
                       required=["type", "coordinates"])
TASK_AREA_INPUT = {
    "anyOf": [ref("PolygonGeometry"), _AREA_LINESTRING, {"type": "string", "description": "the same as GeoJSON text"},
              {"type": "null"}, {"type": "object", "properties": {}, "additionalProperties": False}],
    "description": "a valid Polygon or MultiPolygon area, or a LineString route, touching the station; null, "
                   "blank or {}: the whole station",
}
AREA_GRID = {**nullable(STRING), "description": "instead of area: the area of this grid (code) of the station"}
TASK_BODY = obj({
    "title": TITLE,
    "station": {**STRING, "description": "the station's code; a station role's default: their own station"},
    "start": TIME_TEXT,
    "end": {**TIME_TEXT, "description": "after start"},
    "headcount": {**HEADCOUNT, "description": f"{HEADCOUNT['description']}; default 1"},
    "area": TASK_AREA_INPUT,
    "area_grid": AREA_GRID,
}, required=["title", "start", "end"], description="a new group-patrol task")
TASK_CHANGES = obj({
    "title": TITLE,
    "start": TIME_TEXT,
    "end": TIME_TEXT,
    "headcount": {**HEADCOUNT, "description": f"{HEADCOUNT['description']}; not below the sign-ups"},
    "area": TASK_AREA_INPUT,
    "area_grid": AREA_GRID,
}, description="what to change; absent members stay as they are")
VOLUNTEER_CHOICE = obj({
    "volunteer": {"anyOf": [*VOLUNTEER_REF["anyOf"], *_ABSENT, {"const": False}],
                  "description": "whose: a volunteer-app account or a patroller id within the caller's scope; "
                                 "absent, empty, 0 or null: the caller's own"},
}, description="whose sign-up")
ATTENDANCE_ENTRY = obj({
    "volunteer": VOLUNTEER_REF,
    "attended": {**BOOLEAN, "description": "false: absent"},
    "start": {**OPTIONAL_TIME, "description": "attended from (default: the task's start)"},
    "end": {**OPTIONAL_TIME, "description": "attended until (default: the task's end)"},
    "paper": {**BOOLEAN, "description": "entered from the paper sign-in sheet (补录): no sign-up needed, "
                                        "claimed hours only, never verified"},
}, required=["volunteer", "attended"])
ATTENDANCE_BODY = obj({
    "attendance": array(ATTENDANCE_ENTRY, minItems=1, description="at most headcount × 2 + 100 entries"),
}, required=["attendance"], description="attendance to confirm, all or nothing")
