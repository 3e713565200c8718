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
            "operationId": "completion", "summary": "Completion by kind and by station", "tags": ["reports"],
            "parameters": [
                *_PERIOD_PARAMETERS,
                {"name": "basis", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["claimed", "verified"]}},
                _LANG_PARAMETER,
            ],
            "responses": {
                "200": _json({"type": "object", "required": ["period", "by_kind"],
                              "properties": {"period": {}, "volunteers": {"type": "integer"},
                                             "quota_hours": {}, "target_hours": {},
                                             "by_kind": {"type": "object"}, "by_station": {}}}, "Completion"),
                **_error_responses(401, 403, 422),
            },
        }
    },
}

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
