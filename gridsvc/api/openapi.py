"""The OpenAPI 3.1 document of every /api/ route: each domain's own part, merged by one function.

Each domain describes its routes in its `openapi.py`, from the field schemas of its `schemas.py`;
this module adds the document's own route and the shared components (`gridsvc.apidoc`).
tests/api/test_openapi.py fails when a route of app.url_map is missing here or described twice,
or when a request or response body says nothing of its members; the schemathesis run
(tests/reliability/test_api_fuzz.py) checks every answer against the document.
"""
from __future__ import annotations

import copy
import re

from gridsvc.apidoc import COMPONENT_SCHEMAS, json_response, merge_paths
from gridsvc.audit import openapi as audit_openapi
from gridsvc.auth import openapi as auth_openapi
from gridsvc.cameras import openapi as cameras_openapi
from gridsvc.grids import openapi as grids_openapi
from gridsvc.live import openapi as live_openapi
from gridsvc.patrols import openapi as patrols_openapi
from gridsvc.positions import openapi as positions_openapi
from gridsvc.reports import openapi as reports_openapi

OPENAPI_VERSION = "3.1.0"

_FREE_FORM_MAP = {"type": "object", "additionalProperties": {}}
_DOCUMENT = {
    "type": "object",
    "required": ["openapi", "info", "paths", "components"],
    "properties": {
        "openapi": {"type": "string", "pattern": r"^3\.1\."},
        "info": {"type": "object", "required": ["title", "version"], "properties": {
            "title": {"type": "string"}, "version": {"type": "string"}, "description": {"type": "string"}}},
        "servers": {"type": "array", "items": {"type": "object", "required": ["url"], "properties": {
            "url": {"type": "string"}}}},
        "paths": {"type": "object", "additionalProperties": _FREE_FORM_MAP,
                  "description": "operations by path template and method (an OpenAPI Path Item each)"},
        "components": {"type": "object", "properties": {"schemas": _FREE_FORM_MAP, "securitySchemes": _FREE_FORM_MAP}},
        "security": {"type": "array", "items": _FREE_FORM_MAP},
    },
}

PATHS: dict = {
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "openapi", "summary": "This document", "tags": ["api"],
            "responses": {"200": json_response(_DOCUMENT, "OpenAPI 3.1 document")},
        }
    },
}

COMPONENTS = {
    "schemas": COMPONENT_SCHEMAS,
    "securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "description": "API token (flask --app gridsvc users token)"},
        "session": {"type": "apiKey", "in": "cookie", "name": "session",
                    "description": "signed-in browser session; writes also need the X-CSRFToken header"},
        "deviceKey": {"type": "http", "scheme": "basic",
                      "description": "a tracker device's key as the HTTP Basic password (OwnTracks; any user name)"},
    },
}


DOMAIN_PARTS = (auth_openapi.PATHS, audit_openapi.PATHS, grids_openapi.PATHS, cameras_openapi.PATHS,
                patrols_openapi.PATHS, positions_openapi.PATHS, reports_openapi.PATHS, live_openapi.PATHS)


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
        "paths": copy.deepcopy(merge_paths(PATHS, *DOMAIN_PARTS)),
        "components": copy.deepcopy(COMPONENTS),
        "security": [{"bearer": []}, {"session": []}, {}],
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def flask_rule_to_openapi(rule: str) -> str:
    """/api/v1/grids/<code>/coverage -> /api/v1/grids/{code}/coverage (converters dropped)."""
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
