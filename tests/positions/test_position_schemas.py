"""Every positions route answers what the served OpenAPI document says, and its request schemas take what
the server takes (issue 18): each route called through the test client, on its happy path and a typical
refusal, each JSON answer validated with `jsonschema` against the document's schema for its status."""
from __future__ import annotations

import base64
import datetime as dt
import uuid

import jsonschema
import pytest
import sqlalchemy as sa

from gridsvc.apidoc import loose_schemas
from gridsvc.auth.models import User
from gridsvc.positions.models import DutySwitch

from tests.openapi_checks import inline_refs

UTC = dt.timezone.utc
OSMAND = "/api/v1/positions/osmand"
OWNTRACKS = "/api/v1/positions/owntracks"
RECORDER = "/api/v1/positions/recorder"
POSITION_PATHS = ("/api/v1/me/duty", "/api/v1/devices", "/api/v1/devices/{device_id}/revoke",
                  "/api/v1/devices/{device_id}/key", OSMAND, OWNTRACKS, RECORDER,
                  "/api/v1/patrols/{patrol_id}/points", "/api/v1/volunteers/{ref}/last-position")
# volunteer1's patrol 11:00-13:00 in Asia/Shanghai and a fix inside it, in station 350600001001.
PATROL_START, PATROL_END = "2026-11-30T11:00:00+08:00", "2026-11-30T13:00:00+08:00"
FIX_AT = dt.datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
LAT, LON = "23.8531742", "117.2533618"

FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    return not isinstance(value, str) or dt.datetime.fromisoformat(value).tzinfo is not None


@pytest.fixture(autouse=True)
def _volunteer1_on_duty(app, session):
    """volunteer1's own switch is on since before the fixes and stays on (points are stored only on duty)."""
    patroller_id = session.scalar(sa.select(User.patroller_id).where(User.username == "volunteer1"))
    session.merge(DutySwitch(patroller_id=patroller_id, on_since=FIX_AT - dt.timedelta(hours=2)))
    session.commit()
    saved = app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"]
    app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"] = 24 * 36500, 36500
    yield
    app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"] = saved


@pytest.fixture
def document(app) -> dict:
    """The OpenAPI document as the server serves it."""
    answer = app.test_client().get("/api/v1/openapi.json")
    assert answer.status_code == 200
    return answer.get_json()


def _validate(instance, schema) -> None:
    jsonschema.validate(instance, schema, cls=jsonschema.Draft202012Validator, format_checker=FORMATS)


def _valid(instance, schema) -> bool:
    return jsonschema.Draft202012Validator(schema, format_checker=FORMATS).is_valid(instance)


def conforms(document: dict, method: str, path: str, response, status: int):
    """Assert the answer has this status and matches the document's description of it (body, type, headers)."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    documented = document["paths"][path][method]["responses"].get(str(status))
    assert documented is not None, f"{method.upper()} {path}: {status} is not documented"
    content = documented["content"]
    assert response.mimetype in content, f"{method.upper()} {path} {status}: {response.mimetype} not documented"
    schema = inline_refs(content[response.mimetype]["schema"], document["components"]["schemas"])
    body = response.get_json() if response.is_json else response.get_data(as_text=True)
    _validate(body, schema)
    for name, header in documented.get("headers", {}).items():
        assert name in response.headers, f"{method.upper()} {path} {status}: no {name} header"
        _validate(int(response.headers[name]), header["schema"])
    return body


def request_schema(document: dict, method: str, path: str, media_type: str = "application/json") -> dict:
    """The document's schema of the operation's request body of this media type, references inlined."""
    content = document["paths"][path][method]["requestBody"]["content"]
    return inline_refs(content[media_type]["schema"], document["components"]["schemas"])


def _parameter(document: dict, method: str, path: str, name: str) -> dict:
    [parameter] = [p for p in document["paths"][path][method]["parameters"] if p["name"] == name]
    return parameter["schema"]


def _basic(key: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"volunteer1:{key}".encode()).decode()}


def _register(document, client, **fields) -> dict:
    body = {"name": "phone", **fields}
    assert _valid(body, request_schema(document, "post", "/api/v1/devices"))
    return conforms(document, "post", "/api/v1/devices", client.post("/api/v1/devices", json=body), 201)


def _traccar(key: str, at: dt.datetime = FIX_AT, lat: float = float(LAT), lon: float = float(LON)) -> dict:
    return {"device_id": key, "location": {
        "timestamp": at.isoformat(), "coords": {"latitude": lat, "longitude": lon, "accuracy": 5, "speed": 1.2,
                                                "heading": 90, "altitude": 12},
        "is_moving": True, "odometer": 100, "event": "motionchange", "mock": False, "activity": {"type": "walking"},
        "battery": {"level": 0.57, "is_charging": False}, "extras": {"model": "Redmi"}}}


# --- the document itself -------------------------------------------------------------------------


def test_every_positions_route_is_described_with_bodies_that_say_what_they_hold(document):
    for path in POSITION_PATHS:
        assert path in document["paths"], path
    assert [problem for problem in loose_schemas(document)
            if any(f" {path} " in problem for path in POSITION_PATHS)] == []
    # The old central descriptions are gone: every operation here is the positions domain's own.
    for path in POSITION_PATHS:
        for method, operation in document["paths"][path].items():
            assert operation["tags"] == ["positions"], (method, path)
            assert {"200", "201"} & set(operation["responses"]) and "default" not in operation["responses"]
    intake = document["paths"][OSMAND]["get"]
    assert intake["security"] == [] and "Retry-After" in intake["responses"]["429"]["headers"]
    assert {p["name"] for p in intake["parameters"]} >= {"id", "deviceid", "lat", "lon", "location", "timestamp",
                                                         "speed", "bearing", "accuracy", "batt", "alarm"}


# --- the on-duty switch -------------------------------------------------------------------------


def test_the_duty_switch_reads_and_switches(document, client_as):
    volunteer = client_as("volunteer1")
    state = conforms(document, "get", "/api/v1/me/duty", volunteer.get("/api/v1/me/duty"), 200)
    assert state["on_duty"] is True and state["since"].endswith("+08:00")

    schema = request_schema(document, "put", "/api/v1/me/duty")
    assert _valid({"on_duty": False}, schema)
    off = conforms(document, "put", "/api/v1/me/duty", volunteer.put("/api/v1/me/duty", json={"on_duty": False}), 200)
    assert off == {"on_duty": False, "since": None, "until": None, "max_hours": float(24 * 36500)}
    on = conforms(document, "put", "/api/v1/me/duty", volunteer.put("/api/v1/me/duty", json={"on_duty": True}), 200)
    assert on["on_duty"] is True and on["until"] is not None

    for wrong in ({"on_duty": "yes"}, {}, {"on_duty": None}):
        assert not _valid(wrong, schema)
        refused = conforms(document, "put", "/api/v1/me/duty", volunteer.put("/api/v1/me/duty", json=wrong), 422)
        assert refused["error"]["code"] == "duty_format"
    not_an_object = conforms(document, "put", "/api/v1/me/duty", volunteer.put("/api/v1/me/duty", json=[True]), 422)
    assert not _valid([True], schema) and not_an_object["error"]["code"] == "json_object_required"


def test_the_duty_switch_refuses_who_has_none(document, app, client_as):
    not_a_patroller = conforms(document, "get", "/api/v1/me/duty", client_as("manager").get("/api/v1/me/duty"), 404)
    assert not_a_patroller["error"]["code"] == "not_a_patroller"
    conforms(document, "get", "/api/v1/me/duty", client_as("viewer").get("/api/v1/me/duty"), 403)
    conforms(document, "get", "/api/v1/me/duty", app.test_client().get("/api/v1/me/duty"), 401)


# --- devices ------------------------------------------------------------------------------------


def test_devices_are_registered_listed_rekeyed_and_revoked_as_described(document, client_as):
    volunteer = client_as("volunteer1")
    created = _register(document, volunteer, platform="Android", datum=" GCJ02 ")
    assert created["datum"] == "gcj02" and created["active"] is True and created["last_seen_at"] is None

    listing = conforms(document, "get", "/api/v1/devices", volunteer.get("/api/v1/devices"), 200)
    assert [device["id"] for device in listing["devices"]] == [created["id"]]
    assert "key" not in listing["devices"][0]

    rotated = conforms(document, "post", "/api/v1/devices/{device_id}/key",
                       volunteer.post(f"/api/v1/devices/{created['id']}/key"), 200)
    assert rotated["key"] != created["key"]
    revoked = conforms(document, "post", "/api/v1/devices/{device_id}/revoke",
                       volunteer.post(f"/api/v1/devices/{created['id']}/revoke"), 200)
    assert revoked["active"] is False and revoked["revoked_at"] is not None and "key" not in revoked
    again = conforms(document, "post", "/api/v1/devices/{device_id}/key",
                     volunteer.post(f"/api/v1/devices/{created['id']}/key"), 422)
    assert again["error"]["code"] == "device_revoked"


def test_device_refusals_are_described(document, app, client_as):
    volunteer = client_as("volunteer1")
    for path in ("/api/v1/devices/{device_id}/revoke", "/api/v1/devices/{device_id}/key"):
        missing = conforms(document, "post", path, volunteer.post(path.format(device_id=999999)), 404)
        assert missing["error"]["code"] == "device_not_found"
    conforms(document, "get", "/api/v1/devices", app.test_client().get("/api/v1/devices"), 401)
    conforms(document, "post", "/api/v1/devices", client_as("viewer").post("/api/v1/devices", json={"name": "x"}), 403)
    other = conforms(document, "post", "/api/v1/devices",
                     volunteer.post("/api/v1/devices", json={"name": "x", "volunteer": "no-such-account"}), 404)
    assert other["error"]["code"] == "patroller_not_found"


@pytest.mark.parametrize(("body", "code"), [
    ({"name": " "}, "device_name_required"),
    ({}, "device_name_required"),
    ({"name": "a" * 101}, "device_field_too_long"),
    ({"name": 7}, "device_field_text"),
    ({"name": "a\x00b"}, "device_field_text"),
    ({"name": "phone", "platform": "p" * 65}, "device_field_too_long"),
    ({"name": "phone", "datum": "bd09"}, "device_datum"),
    ({"name": "phone", "volunteer": " "}, "volunteer_required"),
    ({"name": "phone", "volunteer": 1.5}, "volunteer_required"),
])
def test_a_registration_the_schema_refuses_the_server_refuses(document, client_as, body, code):
    assert not _valid(body, request_schema(document, "post", "/api/v1/devices"))
    refused = conforms(document, "post", "/api/v1/devices", client_as("volunteer1").post("/api/v1/devices", json=body),
                       422)
    assert refused["error"]["code"] == code


@pytest.mark.parametrize("fields", [
    {"name": "  " + "a" * 100 + "  "},  # at most 100 characters once trimmed
    {"name": "phone", "platform": None, "datum": None, "volunteer": None},
    {"name": "phone", "platform": "   ", "datum": "WGS84", "volunteer": ""},
    {"name": "phone", "volunteer": 0, "unknown": "ignored"},
])
def test_a_registration_the_schema_takes_the_server_takes(document, client_as, fields):
    _register(document, client_as("volunteer1"), **fields)


# --- the intake ---------------------------------------------------------------------------------


def test_osmand_over_get_and_post_answers_an_empty_200(document, app, client_as):
    key = _register(document, client_as("volunteer1"))["key"]
    tracker = app.test_client()
    fix = {"id": key, "lat": LAT, "lon": LON, "timestamp": str(int(FIX_AT.timestamp())), "speed": "1",
           "accuracy": "5", "batt": "80", "valid": "true"}
    for name, value in fix.items():
        assert _valid(value, _parameter(document, "get", OSMAND, name)), name
    answer = tracker.get(OSMAND, query_string=fix)
    assert conforms(document, "get", OSMAND, answer, 200) == "" and answer.mimetype == "text/html"

    form = {**fix, "timestamp": str(int(FIX_AT.timestamp()) + 10)}
    assert _valid(form, request_schema(document, "post", OSMAND, "application/x-www-form-urlencoded"))
    conforms(document, "post", OSMAND, tracker.post(OSMAND, data=form), 200)
    traccar = _traccar(key, at=FIX_AT + dt.timedelta(seconds=20))
    assert _valid(traccar, request_schema(document, "post", OSMAND))
    conforms(document, "post", OSMAND, tracker.post(OSMAND, json=traccar), 200)
    batch = {"device_id": key, "location": [_traccar(key, at=FIX_AT + dt.timedelta(seconds=s))["location"]
                                            for s in (30, 40)]}
    assert _valid(batch, request_schema(document, "post", OSMAND))
    conforms(document, "post", OSMAND, tracker.post(OSMAND, json=batch), 200)


def test_osmand_refusals_are_described(document, app):
    tracker = app.test_client()
    unknown = conforms(document, "get", OSMAND, tracker.get(OSMAND, query_string={"id": "nobody", "lat": LAT,
                                                                                  "lon": LON}), 400)
    assert unknown["error"]["code"] == "unknown_device"
    unreadable = conforms(document, "get", OSMAND, tracker.get(OSMAND, query_string={"id": "x", "lat": "north",
                                                                                     "lon": LON}), 400)
    assert unreadable["error"]["code"] == "bad_number"
    assert not _valid("north", _parameter(document, "get", OSMAND, "lat"))
    assert not _valid("k" * 201, _parameter(document, "get", OSMAND, "id"))
    json_unknown = conforms(document, "post", OSMAND, tracker.post(OSMAND, json=_traccar("nobody")), 404)
    assert json_unknown["error"]["code"] == "unknown_device"
    no_time = {"device_id": "nobody", "location": {"coords": {"latitude": 23.85, "longitude": 117.25}}}
    assert not _valid(no_time, request_schema(document, "post", OSMAND))
    refused = conforms(document, "post", OSMAND, tracker.post(OSMAND, json=no_time), 400)
    assert refused["error"]["code"] == "missing_field"


def test_a_device_over_its_rate_is_told_when_to_retry(document, app, client_as):
    key = _register(document, client_as("volunteer1"))["key"]
    saved = app.config["POSITION_DEVICE_BURST"], app.config["POSITION_DEVICE_PER_MINUTE"]
    app.config["POSITION_DEVICE_BURST"], app.config["POSITION_DEVICE_PER_MINUTE"] = 1, 6
    try:
        tracker = app.test_client()
        fix = {"id": key, "lat": LAT, "lon": LON}
        conforms(document, "get", OSMAND, tracker.get(OSMAND, query_string=fix), 200)
        over = conforms(document, "get", OSMAND, tracker.get(OSMAND, query_string={**fix, "lat": "23.8532"}), 429)
        assert over["error"]["code"] == "device_rate_limited"
        recorder = conforms(document, "post", RECORDER, tracker.post(RECORDER, json={
            "device_id": key, "location": [_traccar(key)["location"]]}), 429)
        assert recorder["error"]["code"] == "device_rate_limited"
    finally:
        app.config["POSITION_DEVICE_BURST"], app.config["POSITION_DEVICE_PER_MINUTE"] = saved


def test_owntracks_answers_an_empty_array_or_401(document, app, client_as):
    key = _register(document, client_as("volunteer1"))["key"]
    tracker = app.test_client()
    location = {"_type": "location", "tst": int(FIX_AT.timestamp()), "lat": float(LAT), "lon": float(LON),
                "acc": 8, "alt": 12, "vel": 18, "cog": 270, "batt": 64, "bs": 2, "tid": "v1"}
    assert _valid(location, request_schema(document, "post", OWNTRACKS))
    assert conforms(document, "post", OWNTRACKS, tracker.post(OWNTRACKS, json=location, headers=_basic(key)),
                    200) == []
    assert conforms(document, "post", OWNTRACKS, tracker.post(OWNTRACKS, data=b"", headers=_basic(key)), 200) == []
    refused = conforms(document, "post", OWNTRACKS, tracker.post(OWNTRACKS, json=location, headers=_basic("wrong")),
                       401)
    assert refused["error"]["code"] == "unknown_device"


def test_the_recorder_answers_its_counts(document, app, client_as):
    key = _register(document, client_as("volunteer1"))["key"]
    recorder = app.test_client()
    batch = {"device_id": key, "location": [_traccar(key, at=FIX_AT + dt.timedelta(seconds=s))["location"]
                                            for s in (0, 10)]}
    schema = request_schema(document, "post", RECORDER)
    assert _valid(batch, schema)
    counts = conforms(document, "post", RECORDER, recorder.post(RECORDER, json=batch), 200)
    assert counts == {"received": 2, "stored": 2, "replays": 0, "off_duty": 0}
    assert conforms(document, "post", RECORDER, recorder.post(RECORDER, json=batch), 200)["replays"] == 2

    too_long = {"device_id": key, "location": batch["location"][:1] * 1001}
    assert not _valid(too_long, schema)
    refused = conforms(document, "post", RECORDER, recorder.post(RECORDER, json=too_long), 422)
    assert refused["error"]["code"] == "recorder_batch_too_long"
    not_a_list = {"device_id": key, "location": batch["location"][0]}
    assert not _valid(not_a_list, schema)
    assert conforms(document, "post", RECORDER, recorder.post(RECORDER, json=not_a_list),
                    422)["error"]["code"] == "recorder_batch_format"
    unknown = conforms(document, "post", RECORDER, recorder.post(RECORDER, json={**batch, "device_id": "nobody"}), 404)
    assert unknown["error"]["code"] == "unknown_device"


# --- the read side ------------------------------------------------------------------------------


def test_a_patrols_points_and_the_last_position_are_described(document, app, client_as, session):
    volunteer = client_as("volunteer1")
    device = _register(document, volunteer)
    answer = app.test_client().get(OSMAND, query_string={"id": device["key"], "lat": LAT, "lon": LON,
                                                         "timestamp": str(int(FIX_AT.timestamp())),
                                                         "accuracy": "500"})
    assert answer.status_code == 200
    patroller = session.scalar(sa.select(User).where(User.username == "volunteer1")).patroller_id
    created = volunteer.post("/api/v1/patrols", json={"client_uuid": str(uuid.uuid4()), "kind": "individual",
                                                      "volunteer": patroller, "start": PATROL_START,
                                                      "end": PATROL_END})
    assert created.status_code == 201, created.get_json()
    patrol_id = created.get_json()["id"]

    station = client_as("station1")
    points = conforms(document, "get", "/api/v1/patrols/{patrol_id}/points",
                      station.get(f"/api/v1/patrols/{patrol_id}/points"), 200)
    assert points["count"] == 1 and points["flagged_count"] == 1
    assert points["points"][0]["flags"] == ["poor_accuracy"] and points["points"][0]["device_id"] == device["id"]
    last = conforms(document, "get", "/api/v1/volunteers/{ref}/last-position",
                    station.get(f"/api/v1/volunteers/{patroller}/last-position"), 200)
    assert last["position"]["id"] == points["points"][0]["id"] and last["volunteer"]["id"] == patroller

    worker = session.scalar(sa.select(User).where(User.username == "worker1")).patroller_id
    nothing = conforms(document, "get", "/api/v1/volunteers/{ref}/last-position",
                       station.get(f"/api/v1/volunteers/{worker}/last-position"), 200)
    assert nothing["position"] is None

    other = client_as("station2")
    assert conforms(document, "get", "/api/v1/patrols/{patrol_id}/points",
                    other.get(f"/api/v1/patrols/{patrol_id}/points"), 404)["error"]["code"] == "patrol_not_found"
    assert conforms(document, "get", "/api/v1/volunteers/{ref}/last-position",
                    other.get(f"/api/v1/volunteers/{patroller}/last-position"),
                    404)["error"]["code"] == "patroller_not_found"
    blank = conforms(document, "get", "/api/v1/volunteers/{ref}/last-position",
                     station.get("/api/v1/volunteers/%20/last-position"), 422)
    assert blank["error"]["code"] == "volunteer_required"
    conforms(document, "get", "/api/v1/patrols/{patrol_id}/points",
             app.test_client().get(f"/api/v1/patrols/{patrol_id}/points"), 401)
