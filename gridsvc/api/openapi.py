"""The maintained OpenAPI 3.1 description of every /api/ route.

tests/api/test_openapi.py fails when a route of app.url_map is missing here, so a new endpoint
must be documented in the same change. Request schemas describe what the server accepts, so the
schemathesis run (tests/reliability) generates both valid bodies and bodies just outside the rules.
"""
from __future__ import annotations

import copy

OPENAPI_VERSION = "3.1.0"

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable machine-readable code"},
                "message": {"type": "string", "description": "Chinese by default, English with ?lang=en"},
                "params": {"type": "object"},
            },
        }
    },
}

_POSITION = {"type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "number"}}
_LINEAR_RING = {"type": "array", "minItems": 4, "items": {"$ref": "#/components/schemas/Position"}}
_POLYGON_GEOMETRY = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]},
        "coordinates": {"type": "array"},
    },
    "description": "GeoJSON Polygon or MultiPolygon in WGS-84 longitude/latitude (RFC 7946)",
}
_FEATURE_COLLECTION = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "features": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "properties", "geometry"],
                "properties": {
                    "type": {"const": "Feature"},
                    "properties": {"type": "object"},
                    "geometry": {"type": ["object", "null"]},
                },
            },
        },
    },
}


def _error_responses(*statuses: int) -> dict:
    descriptions = {
        400: "Malformed request",
        401: "Not signed in",
        403: "Not allowed for this role, or CSRF token missing",
        404: "Not found",
        405: "Method not allowed",
        409: "Conflict with stored data",
        413: "Request body too large",
        415: "Unsupported media type or content encoding",
        422: "Validation error; nothing was written",
    }
    return {
        str(status): {
            "description": descriptions[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for status in statuses
    }


def _json(schema: dict, description: str, media_type: str = "application/json") -> dict:
    return {"description": description, "content": {media_type: {"schema": schema}}}


_PERIOD_PARAMETERS = [
    {
        "name": "period", "in": "query", "required": False,
        "description": "2020, 2020-Q1 or 2020-03 (default: the configured period)",
        "schema": {"type": "string", "examples": ["2020", "2020-Q1", "2020-03"]},
    },
    {"name": "from", "in": "query", "required": False, "description": "first day, inclusive (with to)",
     "schema": {"type": "string", "format": "date"}},
    {"name": "to", "in": "query", "required": False, "description": "last day, inclusive (with from)",
     "schema": {"type": "string", "format": "date"}},
]
_COMPLETION_PARAMETERS = [
    *_PERIOD_PARAMETERS,
    {"name": "station", "in": "query", "required": False, "description": "only this station's volunteers (code)",
     "schema": {"type": "string"}},
    {"name": "kind", "in": "query", "required": False, "schema": {"type": "string", "enum": ["group", "individual"]}},
    {"name": "basis", "in": "query", "required": False, "description": "figures of by_kind; ranking of volunteers",
     "schema": {"type": "string", "enum": ["claimed", "verified"]}},
]
_LANG_PARAMETER = {
    "name": "lang", "in": "query", "required": False, "description": "message language",
    "schema": {"type": "string", "enum": ["zh", "en"]},
}

PATHS: dict = {
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "openapi", "summary": "This document", "tags": ["api"],
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")},
        }
    },
    "/api/v1/grids": {
        "get": {
            "operationId": "listGrids", "summary": "All grids as GeoJSON", "tags": ["grids"],
            "parameters": [
                {"name": "level", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["centre", "station", "cell"]}},
                _LANG_PARAMETER,
            ],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/FeatureCollection"}, "RFC 7946 FeatureCollection",
                             "application/geo+json"),
                **_error_responses(401, 403),
            },
        },
        "post": {
            "operationId": "createGrid", "summary": "Create a grid (polygon validity, containment, overlap checked)",
            "tags": ["grids"],
            "parameters": [_LANG_PARAMETER],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["name", "level", "geometry"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": 100},
                        "level": {"type": "string", "enum": ["centre", "station", "cell"]},
                        "parent_code": {"type": ["string", "null"]},
                        "code": {"type": ["string", "null"]},
                        "geometry": {"$ref": "#/components/schemas/PolygonGeometry"},
                    },
                }}},
            },
            "responses": {
                "201": _json({"type": "object", "required": ["code", "name", "level"],
                              "properties": {"code": {"type": "string"}, "name": {"type": "string"},
                                             "level": {"type": "string"}}}, "Created"),
                **_error_responses(400, 401, 403, 404, 409, 413, 415, 422),
            },
        },
    },
    "/api/v1/grids/{code}/coverage": {
        "get": {
            "operationId": "gridCoverage", "summary": "Share of a centre covered by its stations", "tags": ["grids"],
            "parameters": [
                {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}},
                _LANG_PARAMETER,
            ],
            "responses": {
                "200": _json({"type": "object", "required": ["centre_code", "covered_percent"],
                              "properties": {"centre_code": {"type": "string"}, "stations": {"type": "integer"},
                                             "centre_area_m2": {"type": "number"},
                                             "uncovered_m2": {"type": "number"},
                                             "covered_percent": {"type": "string"},
                                             "overlaps": {"type": "array"}}}, "Coverage"),
                **_error_responses(401, 403, 404),
            },
        }
    },
    "/api/v1/cameras": {
        "get": {
            "operationId": "listCameras", "summary": "All cameras as GeoJSON", "tags": ["cameras"],
            "parameters": [_LANG_PARAMETER],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/FeatureCollection"}, "RFC 7946 FeatureCollection",
                             "application/geo+json"),
                **_error_responses(401, 403),
            },
        }
    },
    "/api/v1/completion": {
        "get": {
            "operationId": "completion", "tags": ["reports"],
            "summary": "Completion by kind, claimed and verified side by side, plus one table (group_by)",
            "parameters": [*_COMPLETION_PARAMETERS,
                           {"name": "group_by", "in": "query", "required": False,
                            "description": "the table to include: by_station (default), by_volunteer (furthest "
                                           "behind first), by_month, or none (kind)",
                            "schema": {"type": "string", "enum": ["kind", "station", "volunteer", "month"]}},
                           _LANG_PARAMETER],
            "responses": {
                "200": _json({"type": "object", "required": ["period", "by_kind", "claimed", "verified"],
                              "properties": {"period": {}, "volunteers": {"type": "integer"},
                                             "quota_hours": {}, "target_hours": {}, "targets": {"type": "array"},
                                             "by_kind": {"type": "object"}, "claimed": {"type": "object"},
                                             "verified": {"type": "object"}, "group_by": {"type": "string"},
                                             "by_station": {"type": "array"}, "by_volunteer": {"type": "array"},
                                             "by_month": {"type": "array"}}}, "Completion"),
                **_error_responses(401, 403, 404, 422),
            },
        }
    },
    "/api/v1/completion.{fmt}": {
        "get": {
            "operationId": "completionExport", "tags": ["reports"],
            "summary": "The completion tables as CSV (one table, UTF-8 with BOM), XLSX (a sheet per table) "
                       "or GeoJSON (stations with their figures)",
            "parameters": [
                {"name": "fmt", "in": "path", "required": True,
                 "schema": {"type": "string", "enum": ["csv", "xlsx", "geojson"]}},
                {"name": "table", "in": "query", "required": False, "description": "CSV only; default station",
                 "schema": {"type": "string", "enum": ["kind", "station", "volunteer", "month"]}},
                *_COMPLETION_PARAMETERS, _LANG_PARAMETER,
            ],
            "responses": {
                "200": {"description": "The file", "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
                        {"schema": {"type": "string", "format": "binary"}},
                    "application/geo+json": {"schema": {"$ref": "#/components/schemas/FeatureCollection"}},
                }},
                **_error_responses(401, 403, 404, 422),
            },
        }
    },
    "/api/v1/targets": {
        "get": {
            "operationId": "listTargets", "summary": "Completion targets (optionally overlapping a period, for a station)",
            "tags": ["reports"],
            "parameters": [*_PERIOD_PARAMETERS,
                           {"name": "station", "in": "query", "required": False, "schema": {"type": "string"}},
                           _LANG_PARAMETER],
            "responses": {
                "200": _json({"type": "object", "required": ["targets"],
                              "properties": {"targets": {"type": "array"},
                                             "default_quota_hours_per_year": {"type": "number"}}}, "Targets"),
                **_error_responses(401, 403, 404, 422),
            },
        },
        "post": {
            "operationId": "createTarget", "tags": ["reports"],
            "summary": "Set a target: quota hours each volunteer owes over the whole period, zone-wide or for a station",
            "parameters": [_LANG_PARAMETER],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["quota_hours"],
                    "properties": {
                        "period": {"type": "string", "examples": ["2021", "2021-Q1", "2021-03"]},
                        "from": {"type": "string", "format": "date"},
                        "to": {"type": "string", "format": "date"},
                        "station_code": {"type": ["string", "null"]},
                        "quota_hours": {"type": "number", "minimum": 0, "maximum": 10000, "multipleOf": 0.01},
                        "note": {"type": ["string", "null"], "maxLength": 200},
                    },
                }}},
            },
            "responses": {
                "201": _json({"type": "object", "required": ["id", "from", "to", "quota_hours"]}, "Created"),
                **_error_responses(400, 401, 403, 404, 409, 413, 415, 422),
            },
        },
    },
    "/api/v1/targets/{target_id}": {
        "delete": {
            "operationId": "deleteTarget", "summary": "Remove a target", "tags": ["reports"],
            "parameters": [{"name": "target_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                           _LANG_PARAMETER],
            "responses": {"204": {"description": "Deleted"}, **_error_responses(401, 403, 404)},
        }
    },
}

# The camera registry documents its own routes (gridsvc/cameras/openapi.py).
from gridsvc.cameras.openapi import CAMERA_PATHS  # noqa: E402

PATHS.update(CAMERA_PATHS)


# The read side of positions (gridsvc.positions.reading): a stored point, its flags, who it belongs to.
_NULLABLE_NUMBER = {"type": ["number", "null"]}
_TRACKER_POINT = {
    "type": "object",
    "required": ["id", "time", "received_at", "lat", "lon", "accuracy_m", "speed_mps", "heading_deg", "altitude_m",
                 "battery_percent", "source", "device_id", "flags"],
    "properties": {
        "id": {"type": "integer"},
        "time": {"type": "string", "format": "date-time", "description": "fix time, in DISPLAY_TIMEZONE"},
        "received_at": {"type": "string", "format": "date-time", "description": "when it came in"},
        "lat": {"type": "number", "description": "WGS-84 latitude"},
        "lon": {"type": "number", "description": "WGS-84 longitude"},
        "accuracy_m": _NULLABLE_NUMBER, "speed_mps": _NULLABLE_NUMBER, "heading_deg": _NULLABLE_NUMBER,
        "altitude_m": _NULLABLE_NUMBER, "battery_percent": _NULLABLE_NUMBER,
        "source": {"type": "string", "description": "how it came in (osmand, traccar_json, ...)"},
        "device_id": {"type": "integer"},
        "flags": {"type": "array", "items": {"type": "string"},
                  "description": "named reasons it is flagged (invalid, poor_accuracy, jump, ...); empty when none"},
    },
}
_READ_VOLUNTEER = {
    "type": "object",
    "required": ["id", "app_account_id", "name", "role", "station_code"],
    "properties": {"id": {"type": "integer"}, "app_account_id": {"type": ["string", "null"]},
                   "name": {"type": "string"}, "role": {"type": "string", "enum": ["volunteer", "grid_worker"]},
                   "station_code": {"type": "string"}},
}
PATHS.update({
    "/api/v1/patrols/{patrol_id}/points": {
        "get": {
            "operationId": "getPatrolPoints", "tags": ["positions"],
            "summary": "Every stored tracker point of the patrol's patroller between its start and end, by fix "
                       "time, flagged ones included; visible as the patrol is; a read by anyone but the patroller "
                       "is logged in the audit trail (action read, never a coordinate)",
            "parameters": [{"name": "patrol_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1}}, _LANG_PARAMETER],
            "responses": {
                "200": _json({"type": "object", "required": ["patrol_id", "points", "count", "flagged_count"],
                              "properties": {"patrol_id": {"type": "integer"},
                                             "points": {"type": "array", "items": _TRACKER_POINT},
                                             "count": {"type": "integer", "minimum": 0},
                                             "flagged_count": {"type": "integer", "minimum": 0}}},
                             "The patrol's points"),
                **_error_responses(401, 403, 404),
            },
        }
    },
    "/api/v1/volunteers/{ref}/last-position": {
        "get": {
            "operationId": "getLastPosition", "tags": ["positions"],
            "summary": "A volunteer's (or grid worker's) latest stored point (points are stored only on duty), or "
                       "null; ref: volunteer-app account or patroller id; station roles their station's, a "
                       "volunteer their own; a read by anyone but the patroller is logged in the audit trail",
            "parameters": [{"name": "ref", "in": "path", "required": True, "schema": {"type": "string"}},
                           _LANG_PARAMETER],
            "responses": {
                "200": _json({"type": "object", "required": ["volunteer", "position"],
                              "properties": {"volunteer": _READ_VOLUNTEER,
                                             "position": {"oneOf": [_TRACKER_POINT, {"type": "null"}]}}},
                             "The last position, or null"),
                **_error_responses(401, 403, 404, 422),
            },
        }
    },
})


# Endpoints of the other domains, described by (method, path, operationId, summary, tag, body).
# body: None, "json" (a JSON object), "json_or_multipart" (JSON, or a form with a file field),
# "csv_or_multipart" (a text/csv body, or a form with a file field).
_OPERATIONS = [
    ("get", "/api/v1/auth/me", "me", "The signed-in account", "auth", None),
    ("post", "/api/v1/auth/tokens", "createToken", "Exchange username and password for a bearer token", "auth", "json"),
    ("get", "/api/v1/auth/tokens", "listTokens", "Tokens of the account (admins: all)", "auth", None),
    ("delete", "/api/v1/auth/tokens/current", "revokeCurrentToken", "Revoke the token of this request", "auth", None),
    ("delete", "/api/v1/auth/tokens/{token_id}", "revokeToken", "Revoke a token", "auth", None),
    ("get", "/api/v1/users", "listUsers", "Accounts", "auth", None),
    ("post", "/api/v1/users", "createUser", "Create an account", "auth", "json"),
    ("post", "/api/v1/users/import", "importUsers",
     "Volunteer accounts from a CSV (columns account, optional username, display_name), all or nothing: "
     "201 some created, 200 all unchanged, 422 with per-row errors and nothing written; "
     "a station manager imports only their station's volunteers", "auth", "csv_or_multipart"),
    ("get", "/api/v1/audit", "auditLog", "The audit log", "audit", None),
    # cameras are described in full by gridsvc/cameras/openapi.py (CAMERA_PATHS above).
    ("post", "/api/v1/patrols", "createPatrol",
     "Log one patrol (client_uuid idempotent: 201 new, 200 replay, 409 client_uuid_reused or overlapping_session)",
     "patrols", "json_or_multipart"),
    ("post", "/api/v1/patrols/batch", "createPatrolsBatch", "Log up to MAX_BATCH_SIZE patrols; one result per item",
     "patrols", "json"),
    ("get", "/api/v1/patrols/{patrol_id}", "getPatrol", "One patrol session", "patrols", None),
    ("get", "/api/v1/patrols", "listPatrols", "Patrol sessions of a period", "patrols", None),
    ("get", "/api/v1/patrol-time", "patrolTime", "Patrol time per grid", "patrols", None),
    ("get", "/api/v1/patrol-tasks", "listTasks", "Group-patrol tasks", "patrols", None),
    ("post", "/api/v1/patrol-tasks", "createTask", "Publish a group-patrol task", "patrols", "json"),
    ("get", "/api/v1/patrol-tasks/{task_id}", "getTask", "One task with its sign-ups", "patrols", None),
    ("post", "/api/v1/patrol-tasks/{task_id}/signups", "signUp", "Sign a volunteer up for a task", "patrols", "json"),
    ("post", "/api/v1/patrol-tasks/{task_id}/attendance", "attendance",
     "Confirm attendance; an entry with paper: true is entered from the paper sign-in sheet (补录): "
     "no sign-up needed, claimed hours only, never verified", "patrols", "json"),
    ("patch", "/api/v1/patrol-tasks/{task_id}", "updateTask",
     "Change a task's title, start, end, headcount or area (null: the whole station; area_grid: a grid's area)",
     "patrols", "json"),
    ("post", "/api/v1/patrol-tasks/{task_id}/cancel", "cancelTask",
     "Cancel a task without recorded patrols; its sign-ups are withdrawn", "patrols", None),
    ("post", "/api/v1/patrol-tasks/{task_id}/withdrawal", "withdraw",
     "Withdraw a sign-up (a volunteer: their own) before the task is over", "patrols", "json"),
    ("get", "/api/v1/me/duty", "getDuty", "The signed-in patroller's on-duty switch", "positions", None),
    ("put", "/api/v1/me/duty", "setDuty",
     "Switch one's own duty on or off ({on_duty}); tracker points are stored only on duty "
     "(this switch, for DUTY_MAX_HOURS at most, or a signed-up group task under way)", "positions", "json"),
    ("post", "/api/v1/devices", "registerDevice",
     "Register a tracker device for a volunteer (default: the caller); 201 with its key, shown this once",
     "positions", "json"),
    ("get", "/api/v1/devices", "listDevices", "Tracker devices in the caller's scope (never their keys)",
     "positions", None),
    ("post", "/api/v1/devices/{device_id}/revoke", "revokeDevice", "Revoke a device: its points stop at once",
     "positions", None),
    ("post", "/api/v1/devices/{device_id}/key", "rotateDeviceKey",
     "A new key for the device (the old one stops at once), shown this once", "positions", None),
    ("get", "/api/v1/positions/osmand", "osmandPositionGet",
     "A tracker's fix in the OsmAnd protocol (query string; the device key in id or deviceid; no sign-in): "
     "200 empty once stored or a replay, 400 unknown or revoked device or unreadable message", "positions", None),
    ("post", "/api/v1/positions/osmand", "osmandPositionPost",
     "A fix as an OsmAnd form or query string (400 unknown device), or Traccar Client 9 JSON with "
     "Content-Type application/json (404 unknown device); 200 empty once stored or a replay", "positions", "json"),
    ("post", "/api/v1/positions/owntracks", "owntracksPosition",
     "OwnTracks HTTP mode, the device key as the HTTP Basic password: 200 [] for every message once handled "
     "(only _type location is stored); 401 unknown or revoked key", "positions", "json"),
    ("post", "/api/v1/positions/recorder", "recorderPositions",
     "The phone recorder's batch (Traccar Client 9 JSON, location a list of up to 1000 points, the recorder's "
     "device key as device_id): 200 {received, stored, replays, off_duty} once durable", "positions", "json"),
    # reports (completion exports, targets) are described in full in PATHS above.
]
_INTEGER_PATH_PARAMETERS = {"token_id", "patrol_id", "task_id", "target_id", "device_id"}
_QUERY_PARAMETERS = {
    "listPatrols": [*_PERIOD_PARAMETERS, {"name": "volunteer", "in": "query", "required": False,
                                          "schema": {"type": "string"}}],
    "patrolTime": [*_PERIOD_PARAMETERS, {"name": "grid", "in": "query", "required": False, "schema": {"type": "string"}}],
    "listTasks": [*_PERIOD_PARAMETERS, {"name": "station", "in": "query", "required": False, "schema": {"type": "string"}},
                  {"name": "open", "in": "query", "required": False, "schema": {"type": "string", "enum": ["1", "true"]},
                   "description": "only tasks not over and not cancelled"}],
}


def _operation(operation_id: str, summary: str, tag: str, path: str, body: str | None) -> dict:
    import re

    parameters = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "integer", "minimum": 1} if name in _INTEGER_PATH_PARAMETERS else {"type": "string"}}
        for name in re.findall(r"{([^}]+)}", path)
    ]
    parameters += _QUERY_PARAMETERS.get(operation_id, []) + [_LANG_PARAMETER]
    operation = {
        "operationId": operation_id, "summary": summary, "tags": [tag], "parameters": parameters,
        "responses": {"200": _json({}, "Success"), "201": _json({}, "Created"),
                      **_error_responses(400, 401, 403, 404, 409, 413, 415, 422)},
    }
    if body == "csv_or_multipart":
        content = {"text/csv": {"schema": {"type": "string"}},
                   "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                       "file": {"type": "string", "format": "binary"}}}}}
        operation["requestBody"] = {"required": True, "content": content}
    elif body:
        content = {"application/json": {"schema": {"type": "object"}}}
        if body == "json_or_multipart":
            content["multipart/form-data"] = {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"}, "track": {"type": "string", "format": "binary"}}}}
        operation["requestBody"] = {"required": True, "content": content}
    return operation


for _method, _path, _operation_id, _summary, _tag, _body in _OPERATIONS:
    PATHS.setdefault(_path, {})[_method] = _operation(_operation_id, _summary, _tag, _path, _body)

COMPONENTS = {
    "schemas": {
        "Error": _ERROR,
        "Position": _POSITION,
        "LinearRing": _LINEAR_RING,
        "PolygonGeometry": _POLYGON_GEOMETRY,
        "FeatureCollection": _FEATURE_COLLECTION,
    },
    "securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "description": "API token (flask --app gridsvc users token)"},
        "session": {"type": "apiKey", "in": "cookie", "name": "session",
                    "description": "signed-in browser session; writes also need the X-CSRFToken header"},
    },
}


def openapi_document(*, server_url: str | None = None) -> dict:
    """The OpenAPI 3.1 document as a fresh dict (callers may change their copy)."""
    document = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "gridsvc API",
            "version": "1",
            "description": (
                "Grids, cameras, patrols and completion of the Changshan development zone's governance centre. "
                "Errors are JSON {error: {code, message, params}}; a refused request writes nothing."
            ),
        },
        "paths": copy.deepcopy(PATHS),
        "components": copy.deepcopy(COMPONENTS),
        "security": [{"bearer": []}, {"session": []}, {}],
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def flask_rule_to_openapi(rule: str) -> str:
    """/api/v1/grids/<code>/coverage -> /api/v1/grids/{code}/coverage (converters dropped)."""
    import re

    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def undocumented_routes(app) -> list[str]:
    """'METHOD /path' of every /api/ route of the app that the document does not describe."""
    paths = openapi_document()["paths"]
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = flask_rule_to_openapi(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method.lower() not in paths.get(path, {}):
                missing.append(f"{method} {path}")
    return missing
