"""The grids, cameras, audit and accounts routes answer what the served OpenAPI document says.

Each route is called through the test client (its happy path and a typical refusal) and the JSON is
validated with jsonschema against the document's response schema for that status and media type
($ref inlined from #/components/schemas).
"""
from __future__ import annotations

import io

import jsonschema
import pytest
import sqlalchemy as sa

from gridsvc.apidoc import loose_schemas

from tests.openapi_checks import inline_refs
from tests.conftest import DEMO_PASSWORD

PREFIXES = ("/api/v1/grids", "/api/v1/cameras", "/api/v1/audit", "/api/v1/auth", "/api/v1/users")
NEW_CAMERA = {"device_id": "35060001001325999001", "name": "东门探头", "kind": "grid", "lon": 117.2405, "lat": 23.8405}
SEEDED_CAMERA = "35060001001325000001"
STATION_1 = "350600001001"
STRONG_PASSWORD = "quiet harbour lantern 42 moss"


@pytest.fixture
def document(app):
    """The served document."""
    return app.test_client().get("/api/v1/openapi.json").get_json()


def conforms(document: dict, method: str, template: str, response, status: int | None = None) -> dict | None:
    """Assert the response's status is described and its body fits that status's schema; return the JSON."""
    if status is not None:
        assert response.status_code == status, response.get_data(as_text=True)[:500]
    described = document["paths"][template][method.lower()]["responses"]
    assert str(response.status_code) in described, f"{method} {template} does not describe {response.status_code}"
    content = described[str(response.status_code)].get("content", {})
    assert response.mimetype in content, f"{response.mimetype} not among {sorted(content)}"
    schema = content[response.mimetype]["schema"]
    if response.mimetype in ("text/csv", "text/plain"):
        return None
    body = response.get_json(force=True)
    jsonschema.Draft202012Validator(inline_refs(schema, document["components"]["schemas"])).validate(body)
    return body


def _square(west, south, east, north) -> dict:
    return {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north],
                                                [west, south]]]}


def test_these_routes_have_no_loose_schema(document):
    assert [problem for problem in loose_schemas(document) if problem.split(" ", 2)[1].startswith(PREFIXES)] == []


# --- grids ---------------------------------------------------------------------------------------

def test_grids_list_create_and_coverage(app, client, client_as, document):
    listed = conforms(document, "GET", "/api/v1/grids", client.get("/api/v1/grids"), 200)
    assert {feature["properties"]["level"] for feature in listed["features"]} == {"centre", "station"}
    conforms(document, "GET", "/api/v1/grids", client.get("/api/v1/grids?level=nothing"), 200)
    conforms(document, "GET", "/api/v1/grids", app.test_client().get("/api/v1/grids"), 401)

    created = conforms(document, "POST", "/api/v1/grids", client.post("/api/v1/grids", json={
        "name": "测试中心", "level": "centre", "geometry": _square(118.0, 24.5, 118.02, 24.52)}), 201)
    assert created["level"] == "centre"
    conforms(document, "POST", "/api/v1/grids", client.post("/api/v1/grids", json={
        "name": "测试中心", "level": "centre", "geometry": _square(119.0, 24.5, 119.02, 24.52)}), 409)
    refused = conforms(document, "POST", "/api/v1/grids", client.post("/api/v1/grids", json={
        "name": "x" * 201, "level": "centre", "geometry": _square(119.0, 24.5, 119.02, 24.52)}), 422)
    assert refused["error"]["code"] == "grid_name_length"  # a 500 on PostgreSQL before
    conforms(document, "POST", "/api/v1/grids", client.post("/api/v1/grids", json={"level": "centre"}), 422)
    conforms(document, "POST", "/api/v1/grids", client_as("station1").post("/api/v1/grids", json={
        "name": "x", "level": "station", "geometry": _square(119.0, 24.5, 119.02, 24.52)}), 403)

    coverage = conforms(document, "GET", "/api/v1/grids/{code}/coverage",
                        client.get("/api/v1/grids/350600001/coverage"), 200)
    assert coverage["stations"] == 15
    conforms(document, "GET", "/api/v1/grids/{code}/coverage", client.get("/api/v1/grids/999/coverage"), 404)
    conforms(document, "GET", "/api/v1/grids/{code}/coverage", client.get("/api/v1/grids/9%009/coverage"), 404)
    conforms(document, "GET", "/api/v1/grids/{code}/coverage",
             client_as("station1").get("/api/v1/grids/350600001/coverage"), 403)


# --- cameras -------------------------------------------------------------------------------------

def test_camera_list_create_show_change_retire(client, client_as, document):
    conforms(document, "GET", "/api/v1/cameras", client.get("/api/v1/cameras"), 200)
    conforms(document, "GET", "/api/v1/cameras", client_as("volunteer1").get("/api/v1/cameras"), 403)

    created = conforms(document, "POST", "/api/v1/cameras", client.post("/api/v1/cameras", json=NEW_CAMERA), 201)
    assert [entry["field"] for entry in created["history"]] and created["id_parts"]["type_name"] == "ip_camera"
    conforms(document, "POST", "/api/v1/cameras", client.post("/api/v1/cameras", json=NEW_CAMERA), 409)
    unknown = conforms(document, "POST", "/api/v1/cameras",
                       client.post("/api/v1/cameras", json={**NEW_CAMERA, "colour": "red"}), 422)
    assert unknown["error"]["code"] == "unknown_fields"
    conforms(document, "POST", "/api/v1/cameras", client.post("/api/v1/cameras", json={**NEW_CAMERA, "lon": "east"}),
             422)

    path = f"/api/v1/cameras/{NEW_CAMERA['device_id']}"
    conforms(document, "GET", "/api/v1/cameras/{device_id}", client.get(path), 200)
    conforms(document, "GET", "/api/v1/cameras/{device_id}", client.get("/api/v1/cameras/123"), 404)
    changed = conforms(document, "PATCH", "/api/v1/cameras/{device_id}",
                       client.patch(path, json={"status": "fault", "crs": 5, "note": "雷击"}), 200)
    assert changed["changed"] == ["status"]  # crs is read only with a new position
    conforms(document, "PATCH", "/api/v1/cameras/{device_id}", client.patch(path, json={"lon": 117.2406}), 422)

    retired = conforms(document, "POST", "/api/v1/cameras/{device_id}/retire",
                       client.post(path + "/retire", json={"reason": "拆除"}), 200)
    assert retired["retired_at"]
    conforms(document, "POST", "/api/v1/cameras/{device_id}/retire", client.post(path + "/retire"), 409)
    conforms(document, "PATCH", "/api/v1/cameras/{device_id}", client.patch(path, json={"name": "x"}), 409)
    with_retired = conforms(document, "GET", "/api/v1/cameras", client.get("/api/v1/cameras?retired=all"), 200)
    assert any(feature["properties"]["retired_at"] for feature in with_retired["features"])


def test_camera_import_answers_match_the_document(client, document):
    template = "/api/v1/cameras/import"
    imported = conforms(document, "POST", template, client.post(template, json={"rows": [NEW_CAMERA]}), 200)
    assert imported["report"]["created"] == 1
    unchanged = conforms(document, "POST", template, client.post(
        template, data=b"device_id,name,kind,lon,lat\n" + ",".join(
            str(NEW_CAMERA[key]) for key in ("device_id", "name", "kind", "lon", "lat")).encode() + b"\n",
        content_type="text/csv"), 200)
    assert unchanged["report"]["unchanged"] == 1
    uploaded = conforms(document, "POST", template, client.post(template, data={
        "file": (io.BytesIO(b'{"type": "FeatureCollection", "features": []}'), "cameras.geojson")},
        content_type="multipart/form-data"), 200)
    assert uploaded["report"]["rows"] == 0

    # The known defect: bad rows answer the report with an error, a bad file the plain Error; both are described.
    rejected = conforms(document, "POST", template, client.post(template, json={
        "rows": [{**NEW_CAMERA, "device_id": "35060001001325999002", "lon": 200}, "not a row"]}), 422)
    assert rejected["error"]["code"] == "import_rejected" and rejected["report"]["failed"] == 2
    bad_file = conforms(document, "POST", template, client.post(template, json={"cameras": []}), 422)
    assert bad_file == {"error": {**bad_file["error"], "code": "import_json_shape"}} and "report" not in bad_file
    conforms(document, "POST", template, client.post(template + "?crs=mercator", json={"rows": []}), 422)
    missing = conforms(document, "POST", template, client.post(template, data={},
                                                               content_type="multipart/form-data"), 422)
    assert missing["error"]["code"] == "import_file_missing"


def test_camera_exports_shares_and_coverage(client, client_as, document):
    response = client.get("/api/v1/cameras/export.csv?crs=gcj02")
    conforms(document, "GET", "/api/v1/cameras/export.csv", response, 200)
    assert response.data.startswith("\ufeffdevice_id".encode())
    exported = conforms(document, "GET", "/api/v1/cameras/export.geojson",
                        client.get("/api/v1/cameras/export.geojson?include_retired=1"), 200)
    assert exported["features"][0]["properties"]["crs"] == "wgs84"
    conforms(document, "GET", "/api/v1/cameras/export.geojson", client.get("/api/v1/cameras/export.geojson?crs=x"), 422)

    stats = conforms(document, "GET", "/api/v1/cameras/stats", client.get("/api/v1/cameras/stats"), 200)
    assert stats["overall"]["cameras"] == 252
    conforms(document, "GET", "/api/v1/cameras/stats", client_as("volunteer1").get("/api/v1/cameras/stats"), 403)

    station = client_as("station1")
    coverage = conforms(document, "GET", "/api/v1/cameras/coverage",
                        station.get("/api/v1/cameras/coverage?radius_m=50&period=2020"), 200)
    assert [row["station_code"] for row in coverage["by_station"]] == [STATION_1]
    conforms(document, "GET", "/api/v1/cameras/coverage", station.get("/api/v1/cameras/coverage?radius_m=0"), 422)
    layer = conforms(document, "GET", "/api/v1/cameras/coverage.geojson",
                     station.get("/api/v1/cameras/coverage.geojson?online_only=1"), 200)
    assert [feature["properties"]["layer"] for feature in layer["features"]] == ["covered", "track_outside"]
    conforms(document, "GET", "/api/v1/cameras/coverage.geojson",
             station.get("/api/v1/cameras/coverage.geojson?period=2020-13"), 422)


# --- audit ---------------------------------------------------------------------------------------

def test_audit_page_and_its_refusals(client, client_as, document):
    client.post("/api/v1/cameras", json=NEW_CAMERA)
    page = conforms(document, "GET", "/api/v1/audit", client.get("/api/v1/audit?table=cameras&page_size=5"), 200)
    assert page["entries"] and page["entries"][0]["action"] == "insert"
    nothing = conforms(document, "GET", "/api/v1/audit", client.get("/api/v1/audit?actor=a%00b"), 200)
    assert nothing["total"] == 0  # a NUL matches nothing (and is no 500 on PostgreSQL)
    for query in ("page=0", "page_size=501", "actor_user_id=x", "from=20200131", "to=2020-02-30"):
        conforms(document, "GET", "/api/v1/audit", client.get(f"/api/v1/audit?{query}"), 422)
    conforms(document, "GET", "/api/v1/audit", client_as("manager").get("/api/v1/audit"), 403)


# --- accounts ------------------------------------------------------------------------------------

def test_me_and_the_token_routes(app, client, document):
    me = conforms(document, "GET", "/api/v1/auth/me", client.get("/api/v1/auth/me"), 200)
    assert me["auth"] == "session"
    conforms(document, "GET", "/api/v1/auth/me", app.test_client().get("/api/v1/auth/me"), 401)

    anonymous = app.test_client()
    conforms(document, "POST", "/api/v1/auth/tokens", anonymous.post("/api/v1/auth/tokens", json={
        "username": "admin", "password": "wrong password"}), 401)
    conforms(document, "POST", "/api/v1/auth/tokens", anonymous.post("/api/v1/auth/tokens", json={
        "username": "ad\x00min" + "n" * 300, "password": "x"}), 401)  # counted, no 500 on PostgreSQL
    conforms(document, "POST", "/api/v1/auth/tokens", anonymous.post("/api/v1/auth/tokens", json=[1]), 422)
    issued = conforms(document, "POST", "/api/v1/auth/tokens", anonymous.post("/api/v1/auth/tokens", json={
        "username": "admin", "password": DEMO_PASSWORD, "name": "phone\x00"}), 201)
    bearer = {"Authorization": f"Bearer {issued['token']}"}
    assert conforms(document, "GET", "/api/v1/auth/me", anonymous.get("/api/v1/auth/me", headers=bearer),
                    200)["auth"] == "token"

    listed = conforms(document, "GET", "/api/v1/auth/tokens", client.get("/api/v1/auth/tokens"), 200)
    assert issued["id"] in {token["id"] for token in listed["tokens"]}
    conforms(document, "DELETE", "/api/v1/auth/tokens/current", client.delete("/api/v1/auth/tokens/current"), 422)
    conforms(document, "DELETE", "/api/v1/auth/tokens/{token_id}", client.delete("/api/v1/auth/tokens/999999"), 404)
    revoked = conforms(document, "DELETE", "/api/v1/auth/tokens/current",
                       anonymous.delete("/api/v1/auth/tokens/current", headers=bearer), 200)
    assert revoked["revoked_at"]
    again = conforms(document, "DELETE", "/api/v1/auth/tokens/{token_id}",
                     client.delete(f"/api/v1/auth/tokens/{issued['id']}"), 200)
    assert again["revoked_at"] == revoked["revoked_at"]


def test_accounts_list_create_and_import(app, client, client_as, session, document):
    from gridsvc.auth.models import User
    from gridsvc.grids.models import Grid
    from gridsvc.people.models import Patroller

    users = conforms(document, "GET", "/api/v1/users", client.get("/api/v1/users"), 200)
    assert "admin" in {user["username"] for user in users["users"]}
    conforms(document, "GET", "/api/v1/users", client_as("manager").get("/api/v1/users"), 403)

    new = {"username": "Viewer2", "password": STRONG_PASSWORD, "role": "centre_viewer", "display_name": " 二号 "}
    created = conforms(document, "POST", "/api/v1/users", client.post("/api/v1/users", json=new), 201)
    assert (created["username"], created["display_name"], created["station_code"]) == ("viewer2", "二号", None)
    conforms(document, "POST", "/api/v1/users", client.post("/api/v1/users", json=new), 409)
    for refused, code in (({"station_code": 5, "role": "grid_worker"}, "field_not_text"),
                          ({"patroller_id": "7"}, "field_not_whole_number"),
                          ({"display_name": "a\x00b"}, "display_name_characters"),
                          ({"display_name": "x" * 201}, "display_name_too_long")):
        body = conforms(document, "POST", "/api/v1/users", client.post("/api/v1/users", json={
            **new, "username": "viewer3", **refused}), 422)
        assert body["error"]["code"] == code
    conforms(document, "POST", "/api/v1/users", client.post("/api/v1/users", json={
        **new, "username": "worker9", "role": "grid_worker", "station_code": "3506\x00"}), 404)

    has_account = sa.select(User.patroller_id).where(User.patroller_id.is_not(None))
    volunteer = session.scalar(
        sa.select(Patroller).join(Grid, Patroller.station_id == Grid.id)
        .where(Grid.code == STATION_1, Patroller.role == "volunteer", Patroller.app_account_id.is_not(None),
               Patroller.id.not_in(has_account)).order_by(Patroller.id).limit(1))
    station = client_as("station1")
    text = f"account,username,display_name\n{volunteer.app_account_id},,\n".encode()
    imported = conforms(document, "POST", "/api/v1/users/import",
                        station.post("/api/v1/users/import", data=text, content_type="text/csv"), 201)
    assert [entry["account"] for entry in imported["created"]] == [volunteer.app_account_id]
    again = conforms(document, "POST", "/api/v1/users/import", station.post("/api/v1/users/import", data={
        "file": (io.BytesIO(text), "accounts.csv")}, content_type="multipart/form-data"), 200)
    assert len(again["unchanged"]) == 1
    refused = conforms(document, "POST", "/api/v1/users/import", station.post(
        "/api/v1/users/import", data=b"account\nXLXQ999999\n", content_type="text/csv"), 422)
    assert refused["error"]["code"] == "import_refused" and refused["errors"][0]["row"] == 2
    no_file = conforms(document, "POST", "/api/v1/users/import", station.post(
        "/api/v1/users/import", data={}, content_type="multipart/form-data"), 422)
    assert no_file["error"]["code"] == "import_file_required"
    conforms(document, "POST", "/api/v1/users/import", client_as("worker1").post(
        "/api/v1/users/import", data=text, content_type="text/csv"), 403)
