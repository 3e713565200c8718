"""OpenAPI 3.1 description of the camera registry's /api/ routes (merged into gridsvc.api.openapi).

Self-contained (no import of gridsvc.api) so the API document can include it without a cycle;
schemas it refers to (#/components/schemas/Error, FeatureCollection) are the API document's.
"""
from __future__ import annotations

_LANG = {"name": "lang", "in": "query", "required": False, "description": "message language",
         "schema": {"type": "string", "enum": ["zh", "en"]}}
_DEVICE_ID = {"name": "device_id", "in": "path", "required": True, "description": "GB/T 28181 device id (20 digits)",
              "schema": {"type": "string"}}
_CRS = {"type": "string", "enum": ["wgs84", "gcj02"], "description": "coordinate system of lon/lat (default wgs84)"}
_ERROR_DESCRIPTIONS = {
    400: "Malformed request", 401: "Not signed in", 403: "Not allowed for this role, or CSRF token missing",
    404: "Not found", 409: "Conflict with stored data", 413: "Request body too large",
    415: "Unsupported media type", 422: "Validation error; nothing was written",
}


def _errors(*statuses: int) -> dict:
    return {
        str(status): {"description": _ERROR_DESCRIPTIONS[status],
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for status in statuses
    }


def _json(schema: dict, description: str, media_type: str = "application/json") -> dict:
    return {"description": description, "content": {media_type: {"schema": schema}}}


_CAMERA = {
    "type": "object",
    "required": ["device_id", "name", "kind", "police_linked", "status", "lon", "lat", "station_code", "id_parts"],
    "properties": {
        "device_id": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string"},
        "police_linked": {"type": "boolean"}, "status": {"type": "string"},
        "lon": {"type": "number"}, "lat": {"type": "number"}, "source_crs": {"type": "string"},
        "source_lon": {"type": ["number", "null"]}, "source_lat": {"type": ["number", "null"]},
        "station_code": {"type": "string"}, "station_name": {"type": "string"},
        "retired_at": {"type": ["string", "null"]}, "id_parts": {"type": "object"},
        "history": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "old": {"type": ["string", "null"]}, "new": {"type": ["string", "null"]},
            "changed_at": {"type": "string"}, "actor": {"type": ["string", "null"]}, "note": {"type": ["string", "null"]},
        }}},
    },
}
_NAME = {"type": "string", "minLength": 1, "maxLength": 200}
_KIND = {"type": "string", "enum": ["security", "grid"]}
_STATUS = {"type": "string", "enum": ["online", "offline", "fault"]}
_NOTE = {"type": ["string", "null"], "maxLength": 500}
_IMPORT_REPORT = {
    "type": "object",
    "required": ["report"],
    "properties": {
        "message": {"type": "string"},
        "report": {"type": "object", "required": ["rows", "created", "updated", "unchanged", "failed", "committed",
                                                  "errors"],
                   "properties": {
                       "rows": {"type": "integer"}, "valid": {"type": "integer"}, "created": {"type": "integer"},
                       "updated": {"type": "integer"}, "unchanged": {"type": "integer"}, "failed": {"type": "integer"},
                       "converted_from_gcj02": {"type": "integer"}, "committed": {"type": "boolean"},
                       "mode": {"type": "string", "enum": ["all_or_nothing", "partial"]}, "update": {"type": "boolean"},
                       "crs": {"type": "string"},
                       "errors": {"type": "array", "items": {"type": "object", "required": ["row", "code", "message"],
                                                             "properties": {"row": {"type": "integer"},
                                                                            "device_id": {"type": ["string", "null"]},
                                                                            "code": {"type": "string"},
                                                                            "message": {"type": "string"},
                                                                            "params": {"type": "object"}}}},
                   }},
        "error": {"type": "object"},
    },
}
_FIGURES = {"type": "object"}
_EXPORT_PARAMETERS = [
    {"name": "crs", "in": "query", "required": False, "schema": _CRS},
    {"name": "include_retired", "in": "query", "required": False, "schema": {"type": "string", "enum": ["0", "1"]}},
    _LANG,
]
_COVERAGE_PARAMETERS = [
    {"name": "radius_m", "in": "query", "required": False,
     "description": "metres, above 0 and at most 5000 (default CAMERA_COVERAGE_RADIUS_M)",
     "schema": {"type": "number", "exclusiveMinimum": 0, "maximum": 5000}},
    {"name": "online_only", "in": "query", "required": False, "schema": {"type": "string", "enum": ["0", "1"]}},
    {"name": "period", "in": "query", "required": False, "description": "patrol tracks of 2020, 2020-Q1 or 2020-03",
     "schema": {"type": "string"}},
    _LANG,
]

CAMERA_PATHS: dict = {
    "/api/v1/cameras": {
        "get": {
            "operationId": "listCameras", "summary": "Cameras in service as GeoJSON (retired=all adds retired ones)",
            "tags": ["cameras"],
            "parameters": [{"name": "retired", "in": "query", "required": False,
                            "schema": {"type": "string", "enum": ["no", "all"]}}, _LANG],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/FeatureCollection"}, "RFC 7946 FeatureCollection",
                             "application/geo+json"),
                **_errors(401, 403, 422),
            },
        },
        "post": {
            "operationId": "createCamera", "tags": ["cameras"],
            "summary": "Register a camera (GB/T 28181 id of a camera type in the configured region, unique; "
                       "position in a station; GCJ-02 converted)",
            "parameters": [_LANG],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["device_id", "name", "kind", "lon", "lat"],
                "properties": {
                    "device_id": {"type": "string", "pattern": "^[0-9]{20}$"}, "name": _NAME, "kind": _KIND,
                    "lon": {"type": "number"}, "lat": {"type": "number"}, "police_linked": {"type": "boolean"},
                    "status": _STATUS, "crs": _CRS, "note": _NOTE,
                },
                "additionalProperties": False,
            }}}},
            "responses": {"201": _json(_CAMERA, "Registered"), **_errors(400, 401, 403, 409, 413, 415, 422)},
        },
    },
    "/api/v1/cameras/{device_id}": {
        "get": {
            "operationId": "getCamera", "summary": "One camera with its id parts and history", "tags": ["cameras"],
            "parameters": [_DEVICE_ID, _LANG],
            "responses": {"200": _json(_CAMERA, "The camera"), **_errors(401, 403, 404)},
        },
        "patch": {
            "operationId": "updateCamera", "tags": ["cameras"],
            "summary": "Change name, kind, police link, status or position (lon and lat together); history kept",
            "parameters": [_DEVICE_ID, _LANG],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"name": _NAME, "kind": _KIND, "police_linked": {"type": "boolean"}, "status": _STATUS,
                               "lon": {"type": "number"}, "lat": {"type": "number"}, "crs": _CRS, "note": _NOTE},
                "additionalProperties": False,
            }}}},
            "responses": {"200": _json(_CAMERA, "The camera after the change"),
                          **_errors(400, 401, 403, 404, 409, 413, 415, 422)},
        },
    },
    "/api/v1/cameras/{device_id}/retire": {
        "post": {
            "operationId": "retireCamera", "tags": ["cameras"],
            "summary": "Retire a camera: kept with its history and id, left out of maps, shares and coverage",
            "parameters": [_DEVICE_ID, _LANG],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"reason": _NOTE}}}}},
            "responses": {"200": _json(_CAMERA, "The retired camera"), **_errors(400, 401, 403, 404, 409, 422)},
        }
    },
    "/api/v1/cameras/import": {
        "post": {
            "operationId": "importCameras", "tags": ["cameras"],
            "summary": "Import CSV or GeoJSON (multipart file, text/csv body, GeoJSON or {rows}); all-or-nothing "
                       "unless partial; identical rows are unchanged, differing ones errors unless update",
            "parameters": [
                {"name": "crs", "in": "query", "required": False, "schema": _CRS},
                {"name": "partial", "in": "query", "required": False, "schema": {"type": "string", "enum": ["0", "1"]}},
                {"name": "update", "in": "query", "required": False, "schema": {"type": "string", "enum": ["0", "1"]}},
                _LANG,
            ],
            "requestBody": {"required": True, "content": {
                "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                    "file": {"type": "string", "format": "binary"}, "crs": _CRS,
                    "format": {"type": "string", "enum": ["csv", "geojson"]},
                    "partial": {"type": "string", "enum": ["0", "1"]}, "update": {"type": "string", "enum": ["0", "1"]},
                }}},
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object", "description": "a GeoJSON FeatureCollection, or "
                                                "{rows: [{device_id, name, kind, lon, lat, ...}], crs, partial, update}"}},
            }},
            "responses": {
                "200": _json(_IMPORT_REPORT, "Imported (report: created, updated, unchanged, per-row errors)"),
                "422": _json(_IMPORT_REPORT, "Bad file, or bad rows with all-or-nothing: nothing was written"),
                **_errors(400, 401, 403, 413, 415),
            },
        }
    },
    "/api/v1/cameras/export.csv": {
        "get": {
            "operationId": "exportCamerasCsv", "tags": ["cameras"],
            "summary": "Cameras as CSV (UTF-8 with BOM) that the import reads back unchanged",
            "parameters": _EXPORT_PARAMETERS,
            "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                          **_errors(401, 403, 422)},
        }
    },
    "/api/v1/cameras/export.geojson": {
        "get": {
            "operationId": "exportCamerasGeojson", "tags": ["cameras"],
            "summary": "Cameras as a GeoJSON FeatureCollection that the import reads back unchanged",
            "parameters": _EXPORT_PARAMETERS,
            "responses": {"200": _json({"$ref": "#/components/schemas/FeatureCollection"}, "FeatureCollection",
                                       "application/geo+json"), **_errors(401, 403, 422)},
        }
    },
    "/api/v1/cameras/stats": {
        "get": {
            "operationId": "cameraStats", "tags": ["cameras"],
            "summary": "Police-linked and online cameras (counts, % rounded half-up), overall and per station",
            "parameters": [_LANG],
            "responses": {"200": _json({"type": "object", "required": ["overall", "by_station"],
                                        "properties": {"overall": _FIGURES, "by_station": {"type": "array"}}},
                                       "Shares"), **_errors(401, 403)},
        }
    },
    "/api/v1/cameras/coverage": {
        "get": {
            "operationId": "cameraCoverage", "tags": ["cameras"],
            "summary": "Per station: cameras per km², share of area within the radius of a camera, patrol track "
                       "length outside every radius",
            "parameters": _COVERAGE_PARAMETERS,
            "responses": {"200": _json({"type": "object", "required": ["radius_m", "overall", "by_station"],
                                        "properties": {"radius_m": {"type": "number"}, "only_online": {"type": "boolean"},
                                                       "period": {"type": ["string", "null"]}, "overall": _FIGURES,
                                                       "by_station": {"type": "array"}}}, "Coverage"),
                          **_errors(401, 403, 422)},
        }
    },
    "/api/v1/cameras/coverage.geojson": {
        "get": {
            "operationId": "cameraCoverageLayer", "tags": ["cameras"],
            "summary": "The coverage map layer: covered areas (layer=covered) and uncovered patrol tracks "
                       "(layer=track_outside) per station",
            "parameters": _COVERAGE_PARAMETERS,
            "responses": {"200": _json({"$ref": "#/components/schemas/FeatureCollection"}, "FeatureCollection",
                                       "application/geo+json"), **_errors(401, 403, 422)},
        }
    },
}
