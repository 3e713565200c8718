"""The camera registry API's bodies: what the views read and what they answer, each beside its JSON Schema.

One place per field: a parser or a shaper here, and next to it the schema gridsvc.cameras.openapi
puts in the OpenAPI document. The parsers only gather what was sent (unknown members refused);
gridsvc.cameras.service checks every value, so the request schemas here describe those checks.
Answers that are computed and shaped elsewhere keep their schema beside their shaper: the map
collection and the shares in gridsvc.cameras.service, the import report and the export in
gridsvc.cameras.transfer, the coverage in gridsvc.cameras.coverage, the id's parts in
gridsvc.cameras.gbt28181. No Flask: the views hand in the query, the form, the upload and the body.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from gridsvc.apidoc import BOOLEAN, DATE_TIME, NUMBER, STRING, array, nullable, obj, query, ref
from gridsvc.cameras import service, transfer
from gridsvc.cameras.coverage import MAX_RADIUS_M, check_radius
from gridsvc.cameras.gbt28181 import ID_PARTS, parse_device_id
from gridsvc.cameras.models import CRS_CODES, HISTORY_FIELDS, KINDS, STATUSES, Camera, CameraStatusChange
from gridsvc.errors import ValidationError
from gridsvc.i18n import N_

# --- the values, as the service's checks read them ---------------------------------------------


def _any_case(word: str) -> str:
    return "".join(f"[{char.lower()}{char.upper()}]" if char.isascii() and char.isalpha() else re.escape(char)
                   for char in word)


def _words(words) -> str:
    """A regex alternative of the words in any (ASCII) case, as `.strip().lower()` compares them."""
    return "|".join(_any_case(word) for word in sorted(words, key=lambda w: (-len(w), w)))


def _text(max_chars: int, *, forbidden: str, required: bool) -> str:
    """A regex of text that strip() leaves at most max_chars long (and not empty if required), none of `forbidden`."""
    edge, inner = rf"[^\s{forbidden}]", rf"[^{forbidden}]"
    core = rf"{edge}(?:{inner}{{0,{max_chars - 2}}}{edge})?"
    return rf"^\s*{core}\s*$" if required else rf"^\s*(?:{core})?\s*$"


_CONTROL = r"\x00-\x1f\x7f"
# float() of the stripped text: digits with single underscores, a point, an exponent (not inf or nan).
_DIGITS = r"\d(?:_?\d)*"
FLOAT_TEXT = rf"^\s*[+-]?(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?\s*$"

DEVICE_ID_TEXT = {"type": "string", "pattern": r"^\s*[0-9]{10}13[12][0-8][0-9]{6}\s*$",
                  "description": "GB/T 28181 device id: 20 digits, a camera type (131 or 132), a network digit 0-8, "
                                 "its centre code in the configured REGION_CODE; surrounding blanks are trimmed"}
NAME = {"type": "string", "pattern": _text(service.NAME_MAX, forbidden=_CONTROL, required=True),
        "description": f"trimmed, 1 to {service.NAME_MAX} characters, no control characters"}
KIND = {"type": "string", "enum": list(KINDS)}
STATUS = {"type": "string", "enum": list(STATUSES)}
POLICE_LINKED = {"anyOf": [BOOLEAN, {"type": "integer", "enum": [0, 1]},
                           {"type": "string", "pattern": rf"^\s*(?:{_words(service.TRUE_WORDS | service.FALSE_WORDS)})"
                                                         r"\s*$"}],
                 "description": "true or false, 1 or 0, or yes/no, 是/否, 已接入/未接入 as text"}
CRS_TEXT = {"type": "string", "pattern": rf"^(?:\s*(?:{_words(service.CRS_ALIASES)})\s*)?$",
            "description": "coordinate system of lon/lat: wgs84 (also WGS-84, EPSG:4326, CGCS2000) or gcj02 (GCJ-02); "
                           "empty: wgs84"}
CRS_OR_NULL = {**CRS_TEXT, "type": ["string", "null"], "description": CRS_TEXT["description"] + "; null: wgs84"}
NOTE = {"type": ["string", "null"],
        "pattern": _text(service.NOTE_MAX, forbidden=r"\x00-\x08\x0b-\x1f", required=False),
        "description": f"why: trimmed, at most {service.NOTE_MAX} characters, no control characters but tabs and "
                       "newlines; empty or null: none"}


def coordinate(name: str, limit: int) -> dict:
    """Degrees of lon or lat: a number, or numeric text (as in CSV files); it must lie in a station."""
    return {"anyOf": [{**NUMBER, "minimum": -limit, "maximum": limit}, {"type": "string", "pattern": FLOAT_TEXT}],
            "description": f"{name} in degrees, in the given coordinate system; the position must lie in a station"}


LON, LAT = coordinate("longitude", 180), coordinate("latitude", 90)
# Any JSON value: a member the server reads only in some cases (and then as its text).
ANY_JSON = {"type": ["string", "number", "boolean", "null", "array", "object"], "items": {}, "additionalProperties": {}}
TRUE_FLAG_WORDS = ("1", "true", "yes", "on")


def flag(value) -> bool:
    """A query or form switch: 1, true, yes or on (any case, trimmed); anything else is off."""
    return isinstance(value, str) and value.strip().lower() in TRUE_FLAG_WORDS


def flag_query(name: str, description: str) -> dict:
    """An optional on/off query parameter read by flag()."""
    return query(name, STRING, f"{description}: 1, true, yes or on (any other value: off)")


def _refuse_unknown(payload: dict, schema: dict) -> None:
    unknown = sorted(set(payload) - set(schema["properties"]))
    if unknown:
        raise ValidationError("unknown_fields", "Unknown fields: %(fields)s", fields=", ".join(unknown)[:200])


# --- GET /api/v1/cameras -------------------------------------------------------------------------

RETIRED_QUERY = query("retired", STRING, "all: retired cameras too, with their retired_at (any other value: cameras "
                                         "in service only)")


def parse_include_retired(args) -> bool:
    """Whether the map collection includes retired cameras (?retired=all)."""
    return args.get("retired") == "all"


# --- POST /api/v1/cameras ------------------------------------------------------------------------

NEW_CAMERA = obj({
    "device_id": DEVICE_ID_TEXT, "name": NAME, "kind": KIND, "lon": LON, "lat": LAT,
    "police_linked": {**POLICE_LINKED, "description": POLICE_LINKED["description"] + " (default true)"},
    "status": {**STATUS, "description": "default online"}, "crs": CRS_OR_NULL, "note": NOTE,
}, required=["device_id", "name", "kind", "lon", "lat"], closed=True)


@dataclass(frozen=True)
class NewCamera:
    """A camera to register, as sent (defaults filled in); gridsvc.cameras.service.create_camera checks it."""

    device_id: object
    name: object
    kind: object
    lon: object
    lat: object
    police_linked: object
    status: object
    crs: object
    note: object


def parse_new_camera(payload: dict) -> NewCamera:
    """The new camera's fields from the JSON object; unknown members are refused."""
    _refuse_unknown(payload, NEW_CAMERA)
    return NewCamera(device_id=payload.get("device_id"), name=payload.get("name"), kind=payload.get("kind"),
                     lon=payload.get("lon"), lat=payload.get("lat"), police_linked=payload.get("police_linked", True),
                     status=payload.get("status", "online"), crs=payload.get("crs", "wgs84"),
                     note=payload.get("note"))


# --- PATCH /api/v1/cameras/<device_id> -----------------------------------------------------------

_CHANGEABLE = ("name", "kind", "police_linked", "status", "lon", "lat")
CAMERA_CHANGE = {
    **obj({"name": NAME, "kind": KIND, "police_linked": POLICE_LINKED, "status": STATUS,
           "lon": {**LON, "description": LON["description"] + "; with lat: the camera moves (its station follows)"},
           "lat": {**LAT, "description": LAT["description"] + "; with lon"},
           "crs": {**ANY_JSON, "description": "with lon and lat: " + CRS_OR_NULL["description"] + "; else not read"},
           "note": NOTE}, closed=True,
          description="the fields to change; one history row per field that really changes"),
    "dependentRequired": {"lon": ["lat"], "lat": ["lon"]},
    "dependentSchemas": {"lon": {"properties": {"crs": CRS_OR_NULL}}},
}


@dataclass(frozen=True)
class CameraChange:
    """The fields a PATCH names (only those), the system of a new position, and the note for the history."""

    changes: dict
    crs: object
    note: object


def parse_camera_change(payload: dict) -> CameraChange:
    """The change from the JSON object; unknown members are refused."""
    _refuse_unknown(payload, CAMERA_CHANGE)
    return CameraChange(changes={key: payload[key] for key in _CHANGEABLE if key in payload},
                        crs=payload.get("crs", "wgs84"), note=payload.get("note"))


# --- POST /api/v1/cameras/<device_id>/retire -----------------------------------------------------

RETIREMENT = {"anyOf": [
    obj({"reason": {**NOTE, "description": "why it is retired (kept in its history)"}}),
    {"type": ["array", "string", "number", "boolean", "null"], "items": {}, "description": "not read"},
]}


def parse_retirement(payload) -> object:
    """The reason of a retirement: the body's reason when the body is a JSON object, else none."""
    return payload.get("reason") if isinstance(payload, dict) else None


# --- the camera ----------------------------------------------------------------------------------

HISTORY_ENTRY = obj({
    "field": {"type": "string", "enum": list(HISTORY_FIELDS)},
    "old": {**nullable(STRING), "description": "null when the camera was registered (or retired)"},
    "new": {**nullable(STRING), "description": "true/false, a status or kind, the name, 'lon,lat' to 7 decimals, or the "
                                               "retirement time"},
    "changed_at": DATE_TIME,
    "actor": {**nullable(STRING), "description": "user:<name>, token:<name>#<id> or cli:<os user>"},
    "note": {**nullable(STRING), "description": "a reason, or the import row it came from"},
}, required=["field", "old", "new", "changed_at", "actor", "note"])


def history_json(change: CameraStatusChange) -> dict:
    """One history row."""
    return {"field": change.field, "old": change.old_value, "new": change.new_value,
            "changed_at": change.changed_at.isoformat(), "actor": change.actor, "note": change.note}


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


_CAMERA_PROPERTIES = {
    "device_id": service.DEVICE_ID, "name": STRING, "kind": KIND, "police_linked": BOOLEAN, "status": STATUS,
    "lon": {**NUMBER, "description": "WGS-84 longitude to 7 decimals"},
    "lat": {**NUMBER, "description": "WGS-84 latitude to 7 decimals"},
    "source_crs": {"type": "string", "enum": list(CRS_CODES), "description": "the system the position was given in"},
    "source_lon": {**nullable(NUMBER), "description": "the longitude as given"},
    "source_lat": {**nullable(NUMBER), "description": "the latitude as given"},
    "station_code": {**STRING, "description": "the station the position lies in"}, "station_name": STRING,
    "retired_at": nullable(DATE_TIME), "created_at": nullable(DATE_TIME), "updated_at": nullable(DATE_TIME),
    "id_parts": ID_PARTS,
    "history": array(HISTORY_ENTRY, description="newest first"),
}
CAMERA = obj(_CAMERA_PROPERTIES, required=list(_CAMERA_PROPERTIES))


def camera_json(camera: Camera, *, position: tuple[float, float], history: list[CameraStatusChange]) -> dict:
    """A camera as the API answers it: fields, WGS-84 position, position as given, station, id parts, history."""
    lon, lat = position
    return {
        "device_id": camera.device_id,
        "name": camera.name,
        "kind": camera.kind,
        "police_linked": camera.police_linked,
        "status": camera.status,
        "lon": round(lon, 7),
        "lat": round(lat, 7),
        "source_crs": camera.source_crs,
        "source_lon": camera.source_lon,
        "source_lat": camera.source_lat,
        "station_code": camera.station.code,
        "station_name": camera.station.name,
        "retired_at": _iso(camera.retired_at),
        "created_at": _iso(camera.created_at),
        "updated_at": _iso(camera.updated_at),
        "id_parts": parse_device_id(camera.device_id).parts(),
        "history": [history_json(change) for change in history],
    }


CHANGED_CAMERA = obj({**_CAMERA_PROPERTIES, "changed": array(
    {"type": "string", "enum": ["police_linked", "status", "name", "kind", "location"]},
    description="the fields that really changed (a history row each)")}, required=[*_CAMERA_PROPERTIES, "changed"])


def changed_camera_json(camera: Camera, *, position, history, changed: list[str]) -> dict:
    """The camera after a PATCH, with the fields that really changed."""
    return {**camera_json(camera, position=position, history=history), "changed": changed}


# --- POST /api/v1/cameras/import -----------------------------------------------------------------

FORMAT_TEXT = {"type": "string", "pattern": rf"^(?:{_words(['csv', 'geojson', 'json'])})?$",
               "description": "csv or geojson (json), any case; empty or absent: from the file's name (.csv, .geojson, "
                              ".json), else from its first character"}
_BLANK = {"const": "", "description": "as if absent"}
IMPORT_ROW = obj({
    "device_id": DEVICE_ID_TEXT, "name": NAME, "kind": KIND, "lon": LON, "lat": LAT,
    "police_linked": {"anyOf": [POLICE_LINKED, _BLANK, {"type": "null"}],
                      "description": "absent, empty or null: not compared for a registered camera, true for a new one"},
    "status": {"anyOf": [STATUS, _BLANK, {"type": "null"}],
               "description": "absent, empty or null: not compared for a registered camera, online for a new one"},
    "crs": {**CRS_OR_NULL, "description": "the row's coordinate system, over the import's"},
}, required=["device_id", "name", "kind", "lon", "lat"],
    description="one camera; a row that breaks a rule is reported in errors (and nothing is written unless partial)")
_IMPORT_FEATURE = obj({
    "type": {"const": "Feature"},
    "id": {**STRING, "description": "the device id, when the properties have none"},
    "properties": obj({key: IMPORT_ROW["properties"][key]
                       for key in ("device_id", "name", "kind", "police_linked", "status", "crs")},
                      required=["name", "kind"]),
    "geometry": obj({"type": {"const": "Point"}, "coordinates": array(ANY_JSON, minItems=2, maxItems=3,
                                                                     description="lon, lat (as in rows) and an "
                                                                                 "altitude that is not read")},
                    required=["type", "coordinates"]),
}, required=["type", "properties", "geometry"])
_FEATURE_IMPORT = obj({
    "type": {"const": "FeatureCollection"},
    "features": array(_IMPORT_FEATURE, maxItems=transfer.MAX_IMPORT_ROWS),
}, required=["type", "features"], description="a GeoJSON FeatureCollection of Points (no other member is read)")
_ROWS_IMPORT = obj({
    "rows": array(IMPORT_ROW, maxItems=transfer.MAX_IMPORT_ROWS),
    "crs": {**CRS_TEXT, "description": "over the query's crs: " + CRS_TEXT["description"]},
    "partial": {**ANY_JSON, "description": "over the query's: true (or 1, yes, on) writes the good rows of a file "
                                           "with bad ones"},
    "update": {**ANY_JSON, "description": "over the query's: true (or 1, yes, on) changes registered cameras whose row "
                                          "differs"},
}, required=["rows"], description="rows as JSON objects")
IMPORT_JSON = {"anyOf": [_FEATURE_IMPORT, _ROWS_IMPORT]}
_CSV_TEXT = {"type": "string", "description": "CSV (UTF-8 or GB18030) with a header row: device_id, name, kind, lon, lat "
                                              "and optional police_linked, status, crs"}
IMPORT_FORM = obj({
    "file": {"type": "string", "format": "binary", "description": "a CSV or GeoJSON file (a name is required)"},
    "crs": {**CRS_TEXT, "description": "over the query's: " + CRS_TEXT["description"]},
    "format": {**FORMAT_TEXT, "description": "over the query's: " + FORMAT_TEXT["description"]},
    "partial": {**STRING, "description": "over the query's: 1, true, yes or on writes the good rows"},
    "update": {**STRING, "description": "over the query's: 1, true, yes or on changes registered cameras"},
}, required=["file"])
IMPORT_CONTENT = {"multipart/form-data": {"schema": IMPORT_FORM}, "text/csv": {"schema": _CSV_TEXT},
                  "text/plain": {"schema": _CSV_TEXT}}
CSV_MEDIA_TYPES = ("text/csv", "text/plain")
IMPORT_QUERY = [
    query("crs", CRS_TEXT, "the file's coordinate system (a row's crs column overrides it)"),
    flag_query("partial", "write the good rows even when some rows are bad (default: all or nothing)"),
    flag_query("update", "change registered cameras whose row differs (default: an error)"),
    query("format", FORMAT_TEXT, "the uploaded file's format (multipart only)"),
]


@dataclass(frozen=True)
class ImportRequest:
    """What to import and how: the records read, the file's system, all-or-nothing or partial, update or not."""

    records: list
    crs: object
    partial: bool
    update: bool
    source_name: str | None = None


def _import_request(records: list, options, source_name: str | None = None) -> ImportRequest:
    return ImportRequest(records=records, crs=options.get("crs") or "wgs84", partial=flag(options.get("partial")),
                         update=flag(options.get("update")), source_name=source_name)


def parse_import_upload(args, form, upload) -> ImportRequest:
    """A multipart upload: the file field (a CSV or GeoJSON file), options from the form over the query."""
    options = {**args.to_dict(), **form.to_dict()}
    if upload is None or not upload.filename:
        raise ValidationError("import_file_missing", "Choose a CSV or GeoJSON file to import")
    records = transfer.read_file(upload.read(), file_format=options.get("format"), filename=upload.filename)
    return _import_request(records, options, upload.filename)


def parse_import_csv(args, data: bytes) -> ImportRequest:
    """A CSV body (text/csv or text/plain), options from the query."""
    return _import_request(transfer.read_csv(data), args.to_dict())


def parse_import_json(args, payload: dict) -> ImportRequest:
    """A GeoJSON FeatureCollection, or {rows: [...]} with crs, partial and update over the query's."""
    import json

    options = args.to_dict()
    if payload.get("type") == "FeatureCollection":
        return _import_request(transfer.read_geojson(payload), options)
    rows = payload.get("rows")
    if not isinstance(rows, list):
        raise ValidationError("import_json_shape", "Send a GeoJSON FeatureCollection or {\"rows\": [...]}")
    if len(rows) > transfer.MAX_IMPORT_ROWS:
        raise ValidationError("import_too_many_rows", "A file may hold at most %(max)s rows",
                              max=transfer.MAX_IMPORT_ROWS)
    records = [transfer.Record(row=n, values=row if isinstance(row, dict) else {},
                               error=None if isinstance(row, dict) else ValidationError(
                                   "import_row_object", "Each row must be a JSON object"))
               for n, row in enumerate(rows, start=1)]
    for key in ("crs", "partial", "update"):
        if key in payload:
            options[key] = payload[key] if isinstance(payload[key], str) else json.dumps(payload[key])
    return _import_request(records, options)


IMPORTED = obj({
    "report": {**transfer.IMPORT_REPORT, "description": "committed: true"},
    "message": {**STRING, "description": "the summary, translated"},
}, required=["report", "message"])
IMPORT_REJECTED = obj({
    "report": {**transfer.IMPORT_REPORT, "description": "committed: false; errors lists every bad row"},
    "message": STRING,
    "error": obj({"code": {"const": "import_rejected"}, "message": STRING,
                  "params": obj({"failed": {"type": "integer", "minimum": 1}, "rows": {"type": "integer", "minimum": 1}},
                                required=["failed", "rows"])},
                 required=["code", "message", "params"]),
}, required=["report", "message", "error"], description="all or nothing met bad rows: nothing was written")
IMPORT_REFUSED = {"anyOf": [IMPORT_REJECTED, ref("Error")],
                  "description": "bad rows without partial (the report), or a file, format or option refused as a "
                                 "whole (the Error): nothing was written"}


def summary_message(report: transfer.ImportReport, translate) -> str:
    """What the import did, in the caller's language (translate: gettext)."""
    if not report.committed:
        return rejected_message(report, translate)
    return translate(N_("Imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged, "
                        "%(failed)s failed."),
                     created=report.created, updated=report.updated, unchanged=report.unchanged,
                     failed=len(report.errors))


def rejected_message(report: transfer.ImportReport, translate) -> str:
    """Why an all-or-nothing import wrote nothing."""
    return translate(N_("%(failed)s of %(rows)s rows are bad: nothing was written"), failed=len(report.errors),
                     rows=report.rows)


def import_answer(report: transfer.ImportReport, translate) -> tuple[dict, int]:
    """The answer and its status: 200 with the report, or 422 with it when all-or-nothing met bad rows."""
    body = {"report": report.to_dict(translate), "message": summary_message(report, translate)}
    if report.committed:
        return body, 200
    body["error"] = {"code": "import_rejected", "message": rejected_message(report, translate),
                     "params": {"failed": len(report.errors), "rows": report.rows}}
    return body, 422


# --- the exports ---------------------------------------------------------------------------------

EXPORT_QUERY = [
    query("crs", CRS_TEXT, "the coordinate system of the positions written"),
    flag_query("include_retired", "retired cameras too, with their retired_at"),
]


@dataclass(frozen=True)
class ExportRequest:
    """An export's coordinate system (wgs84 or gcj02) and whether retired cameras are included."""

    crs: str
    include_retired: bool


def parse_export(args) -> ExportRequest:
    """The export's options from the query; a coordinate system that is neither is refused."""
    return ExportRequest(crs=service.normalise_crs(args.get("crs") or "wgs84"),
                         include_retired=flag(args.get("include_retired")))


# --- the coverage --------------------------------------------------------------------------------

COVERAGE_QUERY = [
    query("radius_m", {**NUMBER, "exclusiveMinimum": 0, "maximum": MAX_RADIUS_M},
          f"metres, above 0 and at most {MAX_RADIUS_M:g} (default CAMERA_COVERAGE_RADIUS_M)"),
    flag_query("online_only", "count only cameras that are online"),
]


@dataclass(frozen=True)
class CoverageRequest:
    """The coverage's radius in metres and whether only online cameras count (the period is read apart)."""

    radius_m: float
    only_online: bool


def parse_coverage(args, *, default_radius_m: float) -> CoverageRequest:
    """The coverage options from the query; a radius outside (0, 5000] is refused."""
    return CoverageRequest(radius_m=check_radius(args.get("radius_m", default_radius_m)),
                           only_online=flag(args.get("online_only")))
