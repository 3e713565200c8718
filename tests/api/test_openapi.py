"""The OpenAPI document is served, well-formed, and describes exactly the app's /api/ routes."""
from __future__ import annotations

import schemathesis

from gridsvc.api.openapi import flask_rule_to_openapi, openapi_document, undocumented_routes
from gridsvc.apidoc import loose_schemas


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


def test_every_served_body_schema_describes_its_members(app):
    # Every request and response body says what it holds: objects their properties, arrays their items.
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert loose_schemas(document) == []


def test_the_walk_finds_a_loose_schema():
    document = {"paths": {"/x": {"post": {
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {"200": {"content": {"application/json": {"schema": {
            "type": "object", "properties": {"rows": {"type": "array"}, "period": {}}}}}}}}}}}
    assert loose_schemas(document) == [
        "POST /x request application/json: object without properties",
        "POST /x 200 application/json/properties/rows: array without items",
        "POST /x 200 application/json/properties/period: no type",
    ]


def test_an_operation_described_by_two_domains_is_refused():
    import pytest

    from gridsvc.apidoc import merge_paths

    merged = merge_paths({"/a": {"get": {"operationId": "a"}}}, {"/a": {"post": {"operationId": "b"}}})
    assert sorted(merged["/a"]) == ["get", "post"]
    with pytest.raises(ValueError, match="GET /a is described twice"):
        merge_paths({"/a": {"get": {}}}, {"/a": {"get": {}}})
