"""The OpenAPI document is served, well-formed, and describes exactly the app's /api/ routes."""
from __future__ import annotations

import schemathesis

from gridsvc.api.openapi import flask_rule_to_openapi, openapi_document, undocumented_routes


def test_flask_rules_become_openapi_templates():
    assert flask_rule_to_openapi("/api/v1/grids/<code>/coverage") == "/api/v1/grids/{code}/coverage"
    assert flask_rule_to_openapi("/api/v1/patrols/<int:patrol_id>") == "/api/v1/patrols/{patrol_id}"


def test_every_api_route_is_documented(app):
    # Fails when someone adds an /api/ endpoint without describing it in gridsvc/api/openapi.py.
    assert undocumented_routes(app) == []


def test_every_documented_operation_exists(app):
    routes = {}
    for rule in app.url_map.iter_rules():
        routes.setdefault(flask_rule_to_openapi(rule.rule), set()).update(m.lower() for m in rule.methods or ())
    stale = [
        f"{method.upper()} {path}"
        for path, operations in openapi_document()["paths"].items()
        for method in operations
        if method not in routes.get(path, set())
    ]
    assert stale == []


def test_document_is_served_and_loads_in_schemathesis(app):
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"GET /api/v1/grids", "POST /api/v1/grids", "GET /api/v1/completion"}


def test_operation_ids_are_unique():
    ids = [op["operationId"] for ops in openapi_document()["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
