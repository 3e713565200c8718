"""Every reports answer conforms to the OpenAPI document's schema for its status, and the target body's schema
is exactly as strict as the server.

The answers come from the routes themselves (the seeded data, the `client` fixture: admin); each is
validated with jsonschema against the document's response schema for that status and media type,
the document's components inlined so that #/components/schemas/... references resolve.
"""
from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from gridsvc.api.openapi import openapi_document
from gridsvc.apidoc import loose_schemas
from gridsvc.errors import ValidationError
from gridsvc.reports import schemas
from gridsvc.reports.targets import quota_seconds_from_hours

PATHS = ("/api/v1/completion", "/api/v1/completion.{fmt}", "/api/v1/targets", "/api/v1/targets/{target_id}")
STATION = "350600001001"


@pytest.fixture(scope="module")
def document():
    return openapi_document()


def _validator(document: dict, schema: dict) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": document["components"]}, format_checker=FormatChecker())


def conforms(document: dict, path: str, method: str, response) -> dict | None:
    """The answer's JSON body, after checking it against the document's schema for its status and media type."""
    described = document["paths"][path][method]["responses"]
    assert str(response.status_code) in described, (response.status_code, response.get_data(as_text=True)[:300])
    content = described[str(response.status_code)].get("content")
    if content is None:
        assert response.get_data() == b""
        return None
    assert response.mimetype in content, (response.mimetype, sorted(content))
    if response.mimetype == "text/csv" or response.mimetype.endswith("sheet"):
        return None
    body = response.get_json(force=True)
    errors = sorted(_validator(document, content[response.mimetype]["schema"]).iter_errors(body), key=str)
    assert not errors, [f"{list(error.absolute_path)}: {error.message}"[:300] for error in errors[:5]]
    return body


def test_no_loose_schema_in_the_reports_paths(document):
    assert [problem for problem in loose_schemas(document) if problem.split(" ")[1] in PATHS] == []


@pytest.mark.parametrize("query", ["period=2020", "period=2020&basis=verified", "period=2020-Q1&kind=group",
                                   f"period=2020&station={STATION}&basis=verified",
                                   "from=2020-01-20&to=2020-02-10&kind=individual,group", "period=2010"])
def test_completion_answers_conform_for_every_group_by(client, document, query):
    for group_by in ("", "kind", "station", "volunteer", "month"):
        body = conforms(document, "/api/v1/completion", "get",
                        client.get(f"/api/v1/completion?{query}&group_by={group_by}"))
        tables = {key for key in body if key.startswith("by_") and key != "by_kind"}
        assert tables == (set() if group_by == "kind" else {f"by_{group_by or 'station'}"})


def test_the_seeded_figures_in_the_conforming_answer(client, document):
    body = conforms(document, "/api/v1/completion", "get", client.get("/api/v1/completion?period=2020&group_by=kind"))
    assert (body["claimed"]["group"]["hours"], body["claimed"]["group"]["percent"]) == (7068.88, 182.09)


@pytest.mark.parametrize("query, status", [
    ("period=2020&group_by=person", 422), ("period=2020&basis=both", 422), ("period=2020&kind=patrol", 422),
    ("period=2020-13", 422), ("from=2020-02-01&to=2020-01-01", 422), ("period=2020&station=nope", 404),
])
def test_completion_refusals_conform(client, document, query, status):
    response = client.get(f"/api/v1/completion?{query}")
    assert response.status_code == status
    assert "error" in conforms(document, "/api/v1/completion", "get", response)


def test_completion_signed_out_and_wrong_role_conform(app, client_as, document):
    assert app.test_client().get("/api/v1/completion").status_code == 401
    conforms(document, "/api/v1/completion", "get", app.test_client().get("/api/v1/completion"))
    response = client_as("volunteer1").get("/api/v1/completion")
    assert response.status_code == 403
    conforms(document, "/api/v1/completion", "get", response)


@pytest.mark.parametrize("query", ["period=2020", f"period=2020-Q1&station={STATION}&kind=individual"])
def test_exports_conform(client, document, query):
    for fmt, table in (("geojson", ""), ("csv", "volunteer"), ("csv", "kind"), ("xlsx", "")):
        response = client.get(f"/api/v1/completion.{fmt}?{query}&table={table}")
        assert response.status_code == 200
        body = conforms(document, "/api/v1/completion.{fmt}", "get", response)
        if fmt == "geojson":
            assert body["features"] and all(feature["properties"]["period"] for feature in body["features"])


@pytest.mark.parametrize("url, status", [("/api/v1/completion.pdf", 422), ("/api/v1/completion.csv?table=person", 422),
                                         ("/api/v1/completion.xlsx?basis=both", 422),
                                         ("/api/v1/completion.geojson?station=nope", 404)])
def test_export_refusals_conform(client, document, url, status):
    response = client.get(url)
    assert response.status_code == status
    conforms(document, "/api/v1/completion.{fmt}", "get", response)


def test_targets_list_create_delete_conform(client, document):
    body = conforms(document, "/api/v1/targets", "get", client.get("/api/v1/targets"))
    assert isinstance(body["targets"], list)
    created = client.post("/api/v1/targets", json={"period": "2021", "quota_hours": "7.5", "note": " n "})
    assert created.status_code == 201
    target = conforms(document, "/api/v1/targets", "post", created)
    assert (target["quota_seconds"], target["note"], target["station_code"]) == (27000, "n", None)
    own = client.post("/api/v1/targets", json={"from": "2021-02-01", "to": "2021-02-28", "quota_hours": 1,
                                               "station_code": STATION})
    assert conforms(document, "/api/v1/targets", "post", own)["station_code"] == STATION
    listed = conforms(document, "/api/v1/targets", "get", client.get(f"/api/v1/targets?period=2021&station={STATION}"))
    assert [row["id"] for row in listed["targets"]] == [target["id"], own.get_json()["id"]]
    report = conforms(document, "/api/v1/completion", "get", client.get("/api/v1/completion?period=2021"))
    assert [row["id"] for row in report["targets"]] == [target["id"], own.get_json()["id"]]
    overlap = client.post("/api/v1/targets", json={"period": "2021-Q2", "quota_hours": 2})
    assert overlap.status_code == 409
    conforms(document, "/api/v1/targets", "post", overlap)
    deleted = client.delete(f"/api/v1/targets/{target['id']}")
    assert deleted.status_code == 204
    conforms(document, "/api/v1/targets/{target_id}", "delete", deleted)
    again = client.delete(f"/api/v1/targets/{target['id']}")
    assert again.status_code == 404
    conforms(document, "/api/v1/targets/{target_id}", "delete", again)


@pytest.mark.parametrize("body, status", [
    ({"period": "2021", "quota_hours": 1.005}, 422), ({"period": "2021"}, 422), ({"quota_hours": 3}, 422),
    ({"period": "2022", "quota_hours": 1, "station_code": "nope"}, 404), ("[]", 422),
])
def test_target_refusals_conform(client, document, body, status):
    response = (client.post("/api/v1/targets", data=body, content_type="application/json") if isinstance(body, str)
                else client.post("/api/v1/targets", json=body))
    assert response.status_code == status
    conforms(document, "/api/v1/targets", "post", response)


def test_target_reads_refused_conform(client, client_as, document):
    for url, status in (("/api/v1/targets?station=nope", 404), ("/api/v1/targets?period=2020-Q5", 422)):
        response = client.get(url)
        assert response.status_code == status
        conforms(document, "/api/v1/targets", "get", response)
    response = client_as("viewer").post("/api/v1/targets", json={"period": "2030", "quota_hours": 1})
    assert response.status_code == 403
    conforms(document, "/api/v1/targets", "post", response)


def _server_accepts(body: dict) -> bool:
    """What the route checks before it looks at stored data (station, overlap)."""
    try:
        new = schemas.parse_new_target(body, tz="Asia/Shanghai")
        quota_seconds_from_hours(new.quota_hours)
    except ValidationError:
        return False
    return True


BODIES = [
    {"period": "2021", "quota_hours": 6}, {"period": " 2021-q3 ", "quota_hours": "1.5"}, {"period": "2021Q1", "quota_hours": 0},
    {"period": "2021-03", "quota_hours": 10000}, {"period": "2021-13", "quota_hours": 1}, {"period": "21", "quota_hours": 1},
    {"period": "0000", "quota_hours": 1}, {"period": "0001", "quota_hours": 1}, {"period": "0001-Q2", "quota_hours": 1},
    {"period": "0001-01", "quota_hours": 1}, {"period": "0001-02", "quota_hours": 1}, {"period": "9999", "quota_hours": 1},
    {"period": "9999-11", "quota_hours": 1}, {"period": "9999-12", "quota_hours": 1}, {"period": "9999-Q4", "quota_hours": 1},
    {"period": "", "quota_hours": 1}, {"period": None, "quota_hours": 1}, {"quota_hours": 1}, {"period": 2021, "quota_hours": 1},
    {"from": "2021-01-01", "to": "2021-06-30", "quota_hours": 2}, {"from": "20210101", "to": "2021-W26-3", "quota_hours": 2},
    {"from": "2021-01-01", "quota_hours": 2}, {"from": "2021-01-01", "to": "", "quota_hours": 2},
    {"from": "", "to": "", "period": "2021", "quota_hours": 2}, {"from": None, "period": "2021", "quota_hours": 2},
    {"from": "2021-1-1", "to": "2021-02-01", "quota_hours": 2}, {"from": "2021-01-01", "to": "2021-13-01", "quota_hours": 2},
    {"from": "2021-01-01", "to": "2021-02-01", "period": "nonsense", "quota_hours": 2},
    {"period": "2021", "quota_hours": None}, {"period": "2021", "quota_hours": True}, {"period": "2021", "quota_hours": [1]},
    {"period": "2021", "quota_hours": -1}, {"period": "2021", "quota_hours": 10000.01}, {"period": "2021", "quota_hours": 0.25},
    {"period": "2021", "quota_hours": 1.005}, {"period": "2021", "quota_hours": "abc"}, {"period": "2021", "quota_hours": " 6 "},
    {"period": "2021", "quota_hours": ".5"}, {"period": "2021", "quota_hours": "6."}, {"period": "2021", "quota_hours": "-0"},
    {"period": "2021", "quota_hours": "-1"}, {"period": "2021", "quota_hours": "1.505"}, {"period": "2021", "quota_hours": "1.500"},
    {"period": "2021", "quota_hours": "10000.00"}, {"period": "2021", "quota_hours": "10000.5"}, {"period": "2021", "quota_hours": "NaN"},
    {"period": "2021", "quota_hours": 1, "note": None, "station_code": None}, {"period": "2021", "quota_hours": 1, "note": "x" * 300},
    {"period": "2021", "quota_hours": 1, "note": 5}, {"period": "2021", "quota_hours": 1, "station_code": 5},
    {"period": "2021", "quota_hours": 1, "station_code": ""}, {"period": "2021", "quota_hours": 1, "extra": [1]},
]


@pytest.mark.parametrize("body", BODIES, ids=[str(index) for index in range(len(BODIES))])
def test_the_target_body_schema_is_exactly_as_strict_as_the_server(document, body):
    validator = _validator(document, schemas.NEW_TARGET)
    assert validator.is_valid(body) == _server_accepts(body), body
