"""Every patrols route answers what the served OpenAPI document says, and its request schemas take what the
server takes (issue 18): each route called through the test client on its happy path and a typical refusal,
each JSON answer validated with `jsonschema` against the document's schema for its status."""
from __future__ import annotations

import datetime as dt
import io
import json

import jsonschema
import pytest

from gridsvc.apidoc import loose_schemas
from tests.openapi_checks import inline_refs
from tests.patrols.gpx_helpers import points_to_gpx_bytes
from tests.patrols.helpers import STATION_S08, VOLUNTEER_S08, VOLUNTEER_S14, local, new_uuid, patrol_body

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)
OTHER_S08 = "XLXQ000034"  # another volunteer of station S08
WALK_START = (117.292, 23.878)  # near S08's west edge: a walk east stays inside S08

FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    return not isinstance(value, str) or dt.datetime.fromisoformat(value).tzinfo is not None


@pytest.fixture
def document(app) -> dict:
    """The OpenAPI document as the server serves it."""
    answer = app.test_client().get("/api/v1/openapi.json")
    assert answer.status_code == 200
    return answer.get_json()


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
    body = response.get_json()
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator, format_checker=FORMATS)
    for name in documented.get("headers", {}):
        assert name in response.headers, f"{method.upper()} {path} {status}: no {name} header"
    return body


def request_schema(document: dict, method: str, path: str, media_type: str = "application/json") -> dict:
    """The document's schema of the operation's request body of this media type, references inlined."""
    content = document["paths"][path][method]["requestBody"]["content"]
    return inline_refs(content[media_type]["schema"], document["components"]["schemas"])


def send(document, client, method: str, path: str, template: str, body=None, *, valid: bool | None = True):
    """Send a JSON body (first checking the document's request schema takes it, or refuses it) to path."""
    if body is not None and valid is not None:
        assert _valid(body, request_schema(document, method, template)) is valid, body
    call = getattr(client, method)
    if body is None:
        return call(f"{path}?lang=en")
    return call(f"{path}?lang=en", data=json.dumps(body), content_type="application/json")


def walk_feature(start: dt.datetime, n: int = 31) -> dict:
    """A GeoJSON Feature: n positions east from WALK_START about 60 m apart, one a minute."""
    step = 60 / 101_800
    return {"type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[WALK_START[0] + i * step, WALK_START[1]]
                                                               for i in range(n)]},
            "properties": {"times": [(start + dt.timedelta(minutes=i)).isoformat() for i in range(n)]}}


def _task(document, client, *, start: dt.datetime, hours: float = 3, headcount: int = 3, **extra) -> dict:
    body = {"title": "周六群防巡逻", "station": STATION_S08, "start": start.isoformat(),
            "end": (start + dt.timedelta(hours=hours)).isoformat(), "headcount": headcount, **extra}
    return conforms(document, "post", "/api/v1/patrol-tasks",
                    send(document, client, "post", "/api/v1/patrol-tasks", "/api/v1/patrol-tasks", body), 201)


# ---------------------------------------------------------------------------------------------
# Patrol sessions
# ---------------------------------------------------------------------------------------------

PATROLS = "/api/v1/patrols"


def test_logging_a_patrol_as_json_answers_the_documented_patrol(document, client):
    body = patrol_body(start_point=[117.30, 23.88])

    created = conforms(document, "post", PATROLS, send(document, client, "post", PATROLS, PATROLS, body), 201)
    replay = conforms(document, "post", PATROLS, send(document, client, "post", PATROLS, PATROLS, body), 200)
    reused = send(document, client, "post", PATROLS, PATROLS, {**body, "end": local("2021-03-01 22:00")})

    assert replay["id"] == created["id"] and created["verification"]["method"] == "none"
    assert conforms(document, "post", PATROLS, reused, 409)["error"]["code"] == "client_uuid_reused"


def test_a_geojson_track_answers_its_verification(document, client):
    body = {"client_uuid": new_uuid(), "kind": "individual", "volunteer": VOLUNTEER_S14,
            "track": walk_feature(dt.datetime(2021, 3, 6, 11, tzinfo=UTC))}

    patrol = conforms(document, "post", PATROLS, send(document, client, "post", PATROLS, PATROLS, body), 201)

    assert patrol["verification"]["method"] == "track"
    assert patrol["verification"]["area"] == {"kind": "station", "code": "350600001014"}
    stored = conforms(document, "get", "/api/v1/patrols/{patrol_id}", client.get(f"{PATROLS}/{patrol['id']}"), 200)
    assert stored["track"]["type"] == "LineString"


def test_a_gpx_form_answers_the_documented_patrol(document, client):
    start = dt.datetime(2021, 3, 7, 11, tzinfo=UTC)
    step = 60 / 101_800
    gpx = points_to_gpx_bytes([[(WALK_START[0] + i * step, WALK_START[1], start + dt.timedelta(minutes=i))
                                for i in range(21)]])
    fields = {"client_uuid": new_uuid(), "kind": "individual", "volunteer": VOLUNTEER_S08, "start": "", "end": "",
              "task_id": "", "start_lon": "", "start_lat": ""}
    assert _valid({**fields, "track": "…"}, request_schema(document, "post", PATROLS, "multipart/form-data"))

    answer = client.post(f"{PATROLS}?lang=en", content_type="multipart/form-data",
                         data={**fields, "track": (io.BytesIO(gpx), "walk.gpx")})

    assert conforms(document, "post", PATROLS, answer, 201)["source"] == "gpx"


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"start": None, "end": None}, 422, "times_required"),
    ({"kind": "walk"}, 422, "patrol_kind"),
    ({"client_uuid": "not-a-uuid"}, 422, "client_uuid_format"),
    ({"start": "2021-03-01T19:00:00"}, 422, "time_zone_required"),
    ({"start_point": [200, 23.88]}, 422, "start_point_format"),
    ({"task_id": 0}, 422, "task_id_format"),
])
def test_a_refused_patrol_breaks_the_request_schema_and_answers_an_error(document, client, change, status, code):
    body = {**patrol_body(), **change}
    schema_takes_it = change == {"start": None, "end": None}  # needs a track: said in words, not in the schema

    answer = send(document, client, "post", PATROLS, PATROLS, body, valid=schema_takes_it)

    assert conforms(document, "post", PATROLS, answer, status)["error"]["code"] == code


def test_a_patrol_for_an_unknown_volunteer_is_a_404(document, client):
    answer = send(document, client, "post", PATROLS, PATROLS, patrol_body(volunteer="XLXQ999999"))
    assert conforms(document, "post", PATROLS, answer, 404)["error"]["code"] == "patroller_not_found"


def test_the_batch_answers_one_documented_result_per_item(document, client):
    first = patrol_body(start=local("2021-03-02 19:00"), end=local("2021-03-02 21:00"))
    body = {"sessions": [first, first, patrol_body(start=local("2021-03-02 20:00"), end=local("2021-03-02 22:00")),
                         patrol_body(kind="walk")]}
    assert not _valid(body, request_schema(document, "post", f"{PATROLS}/batch"))  # the last item breaks the rules
    answer = send(document, client, "post", f"{PATROLS}/batch", f"{PATROLS}/batch", body, valid=None)

    result = conforms(document, "post", f"{PATROLS}/batch", answer, 200)

    assert [item["status"] for item in result["results"]] == [201, 200, 409, 422]
    assert (result["created"], result["replayed"], result["failed"]) == (1, 1, 2)


def test_an_empty_or_too_long_batch_is_refused_as_documented(document, client, app):
    path = f"{PATROLS}/batch"
    empty = send(document, client, "post", path, path, {"sessions": []}, valid=False)
    too_long = send(document, client, "post", path, path, [patrol_body()] * (app.config["MAX_BATCH_SIZE"] + 1),
                    valid=False)

    assert conforms(document, "post", path, empty, 422)["error"]["code"] == "batch_empty"
    assert conforms(document, "post", path, too_long, 413)["error"]["code"] == "batch_too_large"


def test_one_patrol_without_a_track_and_a_missing_one(document, client):
    patrol = send(document, client, "post", PATROLS, PATROLS, patrol_body()).get_json()
    path = "/api/v1/patrols/{patrol_id}"

    stored = conforms(document, "get", path, client.get(f"{PATROLS}/{patrol['id']}"), 200)
    missing = conforms(document, "get", path, client.get(f"{PATROLS}/2147483000?lang=en"), 404)

    assert stored["track"] is None and missing["error"]["code"] == "patrol_not_found"


def test_the_patrol_list_and_its_refusals(document, client, client_as):
    listing = conforms(document, "get", PATROLS, client.get(f"{PATROLS}?volunteer={VOLUNTEER_S08}&period=2020"), 200)
    own = conforms(document, "get", PATROLS, client_as("volunteer1").get(f"{PATROLS}?period=2020"), 200)
    unknown = conforms(document, "get", PATROLS, client.get(f"{PATROLS}?volunteer=XLXQ999999&lang=en"), 404)
    bad_period = conforms(document, "get", PATROLS, client.get(f"{PATROLS}?volunteer={VOLUNTEER_S08}&period=x"), 422)
    no_patroller = conforms(document, "get", PATROLS, client.get(f"{PATROLS}?lang=en"), 422)

    assert listing["patrols"] and listing["totals"]["group"]["sessions"] > 0
    assert own["volunteer"]["id"] != listing["volunteer"]["id"]
    assert (unknown["error"]["code"], bad_period["error"]["code"]) == ("patroller_not_found", "period_format")
    assert no_patroller["error"]["code"] == "volunteer_required"


def test_anonymous_callers_get_the_documented_401(document, app):
    answer = app.test_client().get(f"{PATROLS}?lang=en")
    assert conforms(document, "get", PATROLS, answer, 401)["error"]["code"] == "unauthorized"


def test_patrol_time_per_grid_and_its_refusals(document, client, client_as):
    path = "/api/v1/patrol-time"

    figures = conforms(document, "get", path, client.get(f"{path}?grid={STATION_S08}&period=2020"), 200)
    missing = conforms(document, "get", path, client.get(f"{path}?lang=en"), 422)
    unknown = conforms(document, "get", path, client.get(f"{path}?grid=nope&lang=en"), 404)
    conforms(document, "get", path, client_as("volunteer1").get(f"{path}?grid={STATION_S08}"), 403)

    assert figures["by_role"]["volunteer"]["group"]["claimed_seconds"] > 0
    assert (missing["error"]["code"], unknown["error"]["code"]) == ("grid_required", "grid_not_found")


# ---------------------------------------------------------------------------------------------
# Group-patrol tasks
# ---------------------------------------------------------------------------------------------

TASKS = "/api/v1/patrol-tasks"
TASK = "/api/v1/patrol-tasks/{task_id}"


def test_the_task_list_and_its_refusals(document, client, client_as):
    listing = conforms(document, "get", TASKS, client.get(f"{TASKS}?period=2020-03&station={STATION_S08}"), 200)
    own = conforms(document, "get", TASKS, client_as("volunteer1").get(f"{TASKS}?period=2020-06&open=0"), 200)
    unknown = conforms(document, "get", TASKS, client.get(f"{TASKS}?station=nope&lang=en"), 404)

    assert listing["tasks"] and own["tasks"] and unknown["error"]["code"] == "grid_not_found"


def test_publishing_a_task_and_its_refusals(document, client):
    task = _task(document, client, start=NOW + dt.timedelta(days=2),
                 area={"type": "LineString", "coordinates": [[117.295, 23.878], [117.305, 23.878]]})
    body = {"title": "t", "station": STATION_S08, "start": NOW.isoformat(), "end": (NOW + dt.timedelta(hours=2)).isoformat()}

    blank = send(document, client, "post", TASKS, TASKS, {**body, "title": " "}, valid=False)
    too_many = send(document, client, "post", TASKS, TASKS, {**body, "headcount": "10001"}, valid=False)
    superscript = send(document, client, "post", TASKS, TASKS, {**body, "headcount": "²"}, valid=False)
    unknown = send(document, client, "post", TASKS, TASKS, {**body, "station": "nope"})

    assert task["area"]["type"] == "LineString" and task["headcount"] == 3
    assert conforms(document, "post", TASKS, blank, 422)["error"]["code"] == "task_title_required"
    assert conforms(document, "post", TASKS, too_many, 422)["error"]["code"] == "task_headcount"
    # '²' is a digit to str.isdigit but not to int(): refused, never a server error.
    assert conforms(document, "post", TASKS, superscript, 422)["error"]["code"] == "task_headcount"
    assert conforms(document, "post", TASKS, unknown, 404)["error"]["code"] == "grid_not_found"


def test_sign_ups_withdrawal_and_changes_of_a_task(document, client):
    task = _task(document, client, start=NOW + dt.timedelta(days=3), headcount=2)
    path = f"{TASKS}/{task['id']}"

    first = send(document, client, "post", f"{path}/signups", f"{TASK}/signups", {"volunteer": VOLUNTEER_S08})
    again = send(document, client, "post", f"{path}/signups", f"{TASK}/signups", {"volunteer": VOLUNTEER_S08})
    second = send(document, client, "post", f"{path}/signups", f"{TASK}/signups", {"volunteer": OTHER_S08})
    full = send(document, client, "post", f"{path}/signups", f"{TASK}/signups", {"volunteer": "XLXQ000070"})
    assert conforms(document, "post", f"{TASK}/signups", first, 201)["already_signed_up"] is False
    assert conforms(document, "post", f"{TASK}/signups", again, 200)["already_signed_up"] is True
    conforms(document, "post", f"{TASK}/signups", second, 201)
    assert conforms(document, "post", f"{TASK}/signups", full, 409)["error"]["code"] == "task_full"

    lower = send(document, client, "patch", path, TASK, {"headcount": 1})
    changed = send(document, client, "patch", path, TASK, {"title": "新的标题", "headcount": "4", "area": None})
    broken = send(document, client, "patch", path, TASK, {"start": None}, valid=False)
    assert conforms(document, "patch", TASK, lower, 409)["error"]["code"] == "task_headcount_below_signups"
    assert conforms(document, "patch", TASK, changed, 200)["headcount"] == 4
    assert conforms(document, "patch", TASK, broken, 422)["error"]["code"] == "task_times_required"

    withdrawn = send(document, client, "post", f"{path}/withdrawal", f"{TASK}/withdrawal", {"volunteer": OTHER_S08})
    not_signed = send(document, client, "post", f"{path}/withdrawal", f"{TASK}/withdrawal", {"volunteer": OTHER_S08})
    assert conforms(document, "post", f"{TASK}/withdrawal", withdrawn, 200)["status"] == "cancelled"
    assert conforms(document, "post", f"{TASK}/withdrawal", not_signed, 404)["error"]["code"] == "signup_not_found"

    shown = conforms(document, "get", TASK, client.get(path), 200)
    cancelled = conforms(document, "post", f"{TASK}/cancel", client.post(f"{path}/cancel?lang=en"), 200)
    missing = conforms(document, "get", TASK, client.get(f"{TASKS}/2147483000?lang=en"), 404)
    assert len(shown["signups"]) == 2 and cancelled["cancelled"] is True
    assert missing["error"]["code"] == "task_not_found"


def test_attendance_paper_entries_and_group_patrols_of_a_task(document, client):
    start = (NOW - dt.timedelta(days=2)).replace(hour=11, minute=0, second=0)
    task = _task(document, client, start=start, hours=4, headcount=5, area_grid=STATION_S08)
    path = f"{TASKS}/{task['id']}"
    group = {"client_uuid": new_uuid(), "kind": "group", "volunteer": "XLXQ000070", "task_id": str(task["id"]),
             "track": walk_feature(start + dt.timedelta(minutes=30))}
    patrol = conforms(document, "post", PATROLS, send(document, client, "post", PATROLS, PATROLS, group), 201)
    assert patrol["verification"]["area"] == {"kind": "task_area", "task": task["id"]}

    body = {"attendance": [{"volunteer": VOLUNTEER_S08, "attended": True},
                           {"volunteer": OTHER_S08, "attended": True, "paper": True,
                            "start": (start + dt.timedelta(hours=1)).isoformat(), "end": None}]}
    answer = send(document, client, "post", f"{path}/attendance", f"{TASK}/attendance", body)
    refused = send(document, client, "post", f"{path}/attendance", f"{TASK}/attendance",
                   {"attendance": [{"volunteer": VOLUNTEER_S08, "attended": "yes"}]}, valid=False)
    cancel = client.post(f"{path}/cancel?lang=en")

    result = conforms(document, "post", f"{TASK}/attendance", answer, 200)
    assert [entry["status"] for entry in result["results"]] == ["attended", "attended"]
    assert result["task"]["paper_person_seconds"] == 3 * 3600
    assert conforms(document, "post", f"{TASK}/attendance", refused, 422)["error"]["code"] == "attendance_entry_format"
    assert conforms(document, "post", f"{TASK}/cancel", cancel, 409)["error"]["code"] == "task_has_patrols"
    assert len(conforms(document, "get", TASK, client.get(path), 200)["signups"]) == 3


def test_a_volunteer_sees_their_own_sign_up_only_and_may_not_run_a_task(document, client, client_as, session):
    import sqlalchemy as sa

    from gridsvc.auth.models import User
    from gridsvc.grids.models import Grid
    from gridsvc.people.models import Patroller

    own = session.scalar(sa.select(User.patroller_id).where(User.username == "volunteer1"))
    neighbour = session.scalar(sa.select(Patroller.id).join(Grid, Patroller.station_id == Grid.id).where(
        Grid.code == "350600001001", Patroller.role == "volunteer", Patroller.id != own).limit(1))
    volunteer = client_as("volunteer1")
    task = _task(document, client, start=NOW + dt.timedelta(days=4), headcount=3, station="350600001001")
    path = f"{TASKS}/{task['id']}"
    conforms(document, "post", f"{TASK}/signups",
             send(document, client, "post", f"{path}/signups", f"{TASK}/signups", {"volunteer": neighbour}), 201)

    mine = send(document, volunteer, "post", f"{path}/signups", f"{TASK}/signups", {"volunteer": ""})
    shown = conforms(document, "get", TASK, volunteer.get(path), 200)
    refused = send(document, volunteer, "post", f"{path}/attendance", f"{TASK}/attendance",
                   {"attendance": [{"volunteer": neighbour, "attended": True}]})

    assert conforms(document, "post", f"{TASK}/signups", mine, 201)["volunteer"]["id"] == own
    assert [signup["volunteer"]["id"] for signup in shown["signups"]] == [own] and shown["signed_up"] == 2
    conforms(document, "post", f"{TASK}/attendance", refused, 403)


def test_the_request_schemas_take_what_the_server_takes():
    from gridsvc.patrols import schemas

    def valid(instance, schema) -> bool:
        return jsonschema.Draft202012Validator(schema).is_valid(instance)

    assert valid("  Saturday patrol ", schemas.TITLE) and valid("x" * 200, schemas.TITLE)
    assert not any(valid(title, schemas.TITLE) for title in ("", "   ", "x" * 201, "a\tb", "line\n"))
    assert all(valid(count, schemas.HEADCOUNT) for count in (1, 10_000, "7", " 010000 "))
    assert not any(valid(count, schemas.HEADCOUNT) for count in (0, 10_001, "0", "10001", "1234567", True, None))
    assert all(valid(ref, schemas.TASK_ID) for ref in (1, "12", " 7 ", None, ""))
    assert not any(valid(ref, schemas.TASK_ID) for ref in (0, "0", "1234567890", 2**31, True, " "))
    assert all(valid(text, schemas.UUID_TEXT) for text in (new_uuid(), new_uuid().upper(), "{" + new_uuid() + "}",
                                                           "urn:uuid:" + new_uuid(), new_uuid().replace("-", "")))
    assert not valid("1234", schemas.UUID_TEXT)


def test_nothing_patrols_describes_is_loose(document):
    assert [problem for problem in loose_schemas(document) if "/api/v1/patrol" in problem] == []
