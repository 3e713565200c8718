"""The security probe's findings (issue 14), each with the request that showed it, on both databases."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid

import openpyxl
import pytest
import sqlalchemy as sa
from flask import redirect
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridsvc.auth.web import safe_next
from tests.auth.conftest import csrf_token_of, sign_in_form
from tests.reliability.conftest import table_row_counts

MISSING_ID = 2_147_483_000
NEVER_FOUND_DEVICE = "35060000001320999999"


# --- open redirect ---------------------------------------------------------------------------------------

def _location_is_on_site(location: str) -> bool:
    return location == "/" or (location.startswith("/") and location[1] not in "/\\")


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.one_of(st.text(), st.text().map(lambda rest: "/" + rest),
                        st.sampled_from(["/", "//", "/\\"]).flatmap(lambda head: st.text().map(lambda t: head + t))))
def test_the_redirect_after_sign_in_never_leaves_the_site(app, target):
    with app.test_request_context("/login"):
        location = redirect(safe_next(target)).headers["Location"]
    assert _location_is_on_site(location), (target, location)


@pytest.mark.parametrize("next_value", ["/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example",
                                        "/%0d%0aSet-Cookie:x=1", "/%e2%80%a8/evil.example", "/\\evil.example",
                                        "%09//evil.example", "/ /evil.example"])
def test_the_reported_next_values_sign_in_and_stay_on_the_site(app, browser, password, next_value):
    token = csrf_token_of(browser.get("/login").get_data(as_text=True))
    response = browser.post(f"/login?next={next_value}",
                            data={"username": "viewer", "password": password, "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


# --- HEAD never writes -----------------------------------------------------------------------------------

def _sample_path(rule) -> str:
    values = {name: ("1" if converter.__class__.__name__ == "DatabaseIntegerConverter" else "350600001001")
              for name, converter in rule._converters.items()}
    path = rule.rule
    for name, value in values.items():
        path = re.sub(rf"<[^>]*\b{name}>", value, path)
    return path


def test_head_never_writes_on_any_route(app, session, password):
    manager = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert sign_in_form(manager, "manager", password).status_code == 302
        camera_csv = "device_id,name,kind,lon,lat\n35060000001320000777,HEAD导入,security,117.30,23.88\n"
        before = table_row_counts(session.connection())
        answers = {}
        for rule in app.url_map.iter_rules():
            if "HEAD" not in rule.methods or rule.rule.startswith("/static"):
                continue
            path = _sample_path(rule)
            for body, mimetype in ((camera_csv, "text/csv"), ('{"title": "x"}', "application/json"),
                                   ("username=manager&password=" + password, "application/x-www-form-urlencoded")):
                answers[path] = manager.open(path, method="HEAD", data=body, content_type=mimetype).status_code
        after = table_row_counts(session.connection())
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert len(answers) >= 40
    assert not [path for path, status in answers.items() if status >= 500], answers
    changed = {name: (before[name], after[name]) for name in before
               if before[name] != after[name] and name not in ("login_throttles",)}
    assert changed == {}
    assert after["web_sessions"] == before["web_sessions"]


def test_head_on_the_login_form_with_credentials_signs_nobody_in(app, browser, password, session):
    from gridsvc.auth.models import WebSession

    open_sessions = session.scalar(sa.select(sa.func.count()).select_from(WebSession))
    response = browser.open("/login", method="HEAD", data={"username": "viewer", "password": password})
    assert response.status_code == 200
    assert session.scalar(sa.select(sa.func.count()).select_from(WebSession)) == open_sessions
    assert browser.get("/api/v1/auth/me").status_code == 401


# --- group tasks stay within the caller's stations ----------------------------------------------------------

@pytest.fixture
def other_station_task(client):
    """A group task of station 002 in the coming days (listed on the patrol form if it were visible)."""
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).replace(microsecond=0)
    response = client.post("/api/v1/patrol-tasks", json={
        "title": "二站专属任务", "station": "350600001002", "headcount": 5,
        "start": start.isoformat(), "end": (start + dt.timedelta(hours=3)).isoformat()})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _task_routes(app) -> list[tuple[str, str]]:
    """(method, rule) of every route whose URL names a task, from the URL map."""
    routes = []
    for rule in app.url_map.iter_rules():
        if "task_id" in rule.arguments:
            routes += [(method, rule.rule) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


def _answer(response):
    body = response.get_json(silent=True)
    if body is not None:
        return response.status_code, body
    # The CSRF token differs per page; the task id the caller sent is replaced by the caller.
    return response.status_code, re.sub(r'(name="csrf-token" content|name="csrf_token" value)="[^"]*"', r'\1=""',
                                        response.get_data(as_text=True))


@pytest.mark.parametrize("username", ["volunteer1", "worker1", "station1"])
def test_another_stations_task_answers_exactly_as_a_missing_one(app, client_as, session, other_station_task, username):
    from gridsvc.grids.models import Grid
    from gridsvc.people.models import Patroller

    station_client = client_as(username)
    me = station_client.get("/api/v1/auth/me").get_json()
    # Someone the caller may log for: themselves, or (a station manager) a volunteer of station 001.
    volunteer = me["patroller_id"] or session.scalar(
        sa.select(Patroller.id).join(Grid, Patroller.station_id == Grid.id).where(Grid.code == "350600001001").limit(1))
    documented = station_client.get("/api/v1/openapi.json").get_json()["paths"]
    routes = sorted(set(_task_routes(app)) | {(method.upper(), path) for path, operations in documented.items()
                                               if "{task_id}" in path for method in operations
                                               if method in ("get", "post", "put", "patch", "delete")})
    assert len(routes) >= 3
    start, end = other_station_task["start"], other_station_task["end"]
    for method, rule in routes:
        answers = []
        for task_id in (other_station_task["id"], MISSING_ID):
            path = rule.replace("<int:task_id>", str(task_id)).replace("{task_id}", str(task_id))
            body = {"volunteer": volunteer, "attendance": [{"volunteer": volunteer, "attended": True}]}
            answer = _answer(station_client.open(path, method=method, json=body))
            answers.append(json.loads(json.dumps(answer).replace(str(task_id), "ID")))
        assert answers[0] == answers[1], (method, rule, answers)

    # The patrol intake, API and batch, with the task id in the body.
    outcomes = {}
    for task_id in (other_station_task["id"], MISSING_ID):
        body = {"client_uuid": str(uuid.uuid4()), "kind": "group", "volunteer": volunteer, "task_id": task_id,
                "start": start, "end": end}
        single = station_client.post("/api/v1/patrols", json=body)
        batch = station_client.post("/api/v1/patrols/batch", json={"sessions": [body]})
        outcomes[task_id] = (single.status_code, single.get_json()["error"]["code"],
                             batch.get_json()["results"][0]["error"]["code"])
    assert outcomes[other_station_task["id"]] == outcomes[MISSING_ID]
    assert outcomes[MISSING_ID][1] == "task_not_found"


def test_the_patrol_form_lists_only_the_callers_stations_tasks(client_as, other_station_task):
    page = client_as("volunteer1").get("/patrols/new").get_data(as_text=True)
    assert "二站专属任务" not in page
    assert "二站专属任务" in client_as("manager").get("/patrols/new").get_data(as_text=True)


def test_a_volunteer_cannot_log_on_another_stations_task_and_learns_nothing_of_it(client_as, other_station_task):
    volunteer = client_as("volunteer1")
    me = volunteer.get("/api/v1/auth/me").get_json()
    body = {"client_uuid": str(uuid.uuid4()), "kind": "group", "volunteer": me["patroller_id"],
            "task_id": other_station_task["id"], "start": "2020-01-01T08:00:00+08:00", "end": "2020-01-01T09:00:00+08:00"}
    response = volunteer.post("/api/v1/patrols?lang=en", json=body)
    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["code"] == "task_not_found"
    assert other_station_task["start"][:10] not in error["message"]  # no window times of someone else's task


# --- one answer for "not yours" and "not there" ---------------------------------------------------------------

def test_another_stations_camera_answers_as_a_missing_one(client_as, session):
    from gridsvc.cameras.models import Camera
    from gridsvc.grids.models import Grid

    other = session.scalar(sa.select(Camera.device_id).join(Grid, Camera.station_id == Grid.id)
                           .where(Grid.code == "350600001002").limit(1))
    station1 = client_as("station1")
    for template in ("/api/v1/cameras/{}", "/cameras/{}"):
        mine, missing = station1.get(template.format(other)), station1.get(template.format(NEVER_FOUND_DEVICE))
        assert mine.status_code == missing.status_code == 404
        if template.startswith("/api"):
            assert mine.get_json()["error"]["code"] == missing.get_json()["error"]["code"] == "camera_not_found"
            assert mine.get_json()["error"]["message"].replace(other, "X") == \
                missing.get_json()["error"]["message"].replace(NEVER_FOUND_DEVICE, "X")


def test_another_stations_volunteer_answers_as_a_missing_one(client_as, session):
    from gridsvc.grids.models import Grid
    from gridsvc.people.models import Patroller

    other = session.scalar(sa.select(Patroller.app_account_id).join(Grid, Patroller.station_id == Grid.id)
                           .where(Grid.code == "350600001002", Patroller.role == "volunteer").limit(1))
    station1 = client_as("station1")
    answers = []
    for ref in (other, "XLXQ999999"):
        body = {"client_uuid": str(uuid.uuid4()), "kind": "individual", "volunteer": ref,
                "start": "2020-03-01T08:00:00+08:00", "end": "2020-03-01T09:00:00+08:00"}
        response = station1.post("/api/v1/patrols", json=body)
        answers.append((response.status_code, response.get_json()["error"]["code"],
                        response.get_json()["error"]["message"].replace(ref, "REF")))
    assert answers[0] == answers[1] and answers[0][:2] == (404, "patroller_not_found")


# --- page numbers ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/cameras?page=99999999999999999999", "/audit?page=99999999999999999999",
                                  "/api/v1/audit?page=99999999999999999999", "/api/v1/audit?page=²",
                                  "/api/v1/audit?actor_user_id=99999999999999999999", "/cameras?page=-5"])
def test_page_numbers_are_bounded_never_a_500(client, path):
    response = client.get(path)
    assert response.status_code in (200, 422), (path, response.status_code)


# --- coverage of a station user ----------------------------------------------------------------------------------

def test_a_station_users_coverage_uses_only_its_own_cameras(client_as, session):
    from gridsvc.cameras.service import create_camera
    from gridsvc.grids.models import Grid

    from gridsvc.geo.shapes import from_db

    station1 = session.scalar(sa.select(Grid).where(Grid.code == "350600001001"))
    station2 = session.scalar(sa.select(Grid).where(Grid.code == "350600001002"))
    inside = from_db(station1.geom).representative_point()
    # A camera of station 002 whose circle reaches into station 001 (as one near the boundary would):
    # station1 must not see it drawn.
    camera = create_camera(session, device_id="35060000001320888888", name="邻站探头", kind="security",
                           lon=inside.x, lat=inside.y)
    camera.station_id = station2.id
    session.commit()
    layer = client_as("station1").get("/api/v1/cameras/coverage.geojson").get_json()
    figures = client_as("station1").get("/api/v1/cameras/coverage").get_json()
    zone_layer = client_as("manager").get("/api/v1/cameras/coverage.geojson").get_json()
    from shapely.geometry import Point, shape

    def covers(collection) -> bool:
        return any(f["properties"]["layer"] == "covered" and f["properties"]["station_code"] == "350600001001"
                   and shape(f["geometry"]).buffer(1e-7).contains(Point(inside.x, inside.y))
                   for f in collection["features"] if f["geometry"]["coordinates"])

    assert {f["properties"]["station_code"] for f in layer["features"]} == {"350600001001"}
    assert [row["station_code"] for row in figures["by_station"]] == ["350600001001"]
    assert covers(zone_layer) and not covers(layer)


# --- exports escape formulas -------------------------------------------------------------------------------------

FORMULA_NAME = '=HYPERLINK("http://evil.example","点此")'


def test_completion_exports_never_write_a_live_formula(client, session):
    from gridsvc.people.models import Patroller

    volunteer = session.scalar(sa.select(Patroller).where(Patroller.app_account_id == "XLXQ000018"))
    volunteer.name = FORMULA_NAME
    session.commit()
    rows = list(csv.reader(io.StringIO(
        client.get("/api/v1/completion.csv?period=2020&table=volunteer").data.decode("utf-8-sig"))))
    names = [row[1] for row in rows[1:]]
    assert "'" + FORMULA_NAME in names and FORMULA_NAME not in names
    workbook = openpyxl.load_workbook(io.BytesIO(client.get("/api/v1/completion.xlsx?period=2020").data))
    sheet = workbook.worksheets[2]
    cells = [row[1] for row in sheet.iter_rows(min_row=2)]
    cell = next(c for c in cells if c.value == FORMULA_NAME)
    assert cell.data_type == "s"
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


# --- passwords ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("weak", ["aaaaaaaaaa", " " * 10, "gridsvc-demo-2020", "1234567890", "password123",
                                  "changshan2020", "zhangzhou-grid", "manager-manager"])
def test_guessable_passwords_are_refused(session, weak):
    from gridsvc.auth import service
    from gridsvc.errors import ValidationError

    with pytest.raises(ValidationError) as refused:
        service.create_user(session, username="weak-one", password=weak, role="manager")
    assert refused.value.code in ("password_too_weak", "password_too_short")


def test_a_password_made_of_the_username_is_refused_and_a_strong_one_taken(session):
    from gridsvc.auth import service
    from gridsvc.errors import ValidationError

    with pytest.raises(ValidationError):
        service.create_user(session, username="wangxiaoming", password="wangxiaoming1", role="manager")
    assert service.create_user(session, username="wangxiaoming", password="quiet orchid ladder 42",
                               role="manager").username == "wangxiaoming"


def _small_seed(folder):
    """The seed's grids and people with no cameras, tasks or patrols: enough for the demo accounts, and quick."""
    import shutil

    from seed.loader import DATA_DIR

    for name in ("grids.geojson", "volunteers.csv", "grid_workers.csv"):
        shutil.copy(DATA_DIR / name, folder / name)
    for name in ("cameras.csv", "tasks.csv", "patrols-2020.csv"):
        (folder / name).write_text((DATA_DIR / name).read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    return folder


def test_the_seed_makes_no_account_unless_the_demo_is_asked_for(empty_app, monkeypatch, tmp_path):
    from gridsvc.auth.models import User

    monkeypatch.delenv("GRIDSVC_DEMO_PASSWORD", raising=False)
    data = str(_small_seed(tmp_path))
    runner = empty_app.test_cli_runner()
    context = empty_app.app_context()  # the flask command pushes one for every command
    context.push()
    plain = runner.invoke(args=["seed", "--quiet", "--data", data])
    assert plain.exit_code == 0, plain.output
    with empty_app.extensions["gridsvc"].engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(User.__table__)).scalar_one() == 0
    demo = runner.invoke(args=["seed", "--quiet", "--data", data, "--demo"])
    assert demo.exit_code == 0, demo.output
    password = re.search(r"password (\S+)", demo.output)[1]
    assert password != "gridsvc-demo-2020" and len(password) >= 16
    with empty_app.extensions["gridsvc"].engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(User.__table__)).scalar_one() == 7
        hashes = dict(connection.execute(sa.select(User.username, User.password_hash)).all())
    # A second --demo run touches no existing account (a real admin named admin keeps its password).
    again = runner.invoke(args=["seed", "--quiet", "--data", data, "--demo"])
    assert again.exit_code == 0 and "exist already" in again.output
    with empty_app.extensions["gridsvc"].engine.connect() as connection:
        assert dict(connection.execute(sa.select(User.username, User.password_hash)).all()) == hashes
    monkeypatch.setenv("GRIDSVC_DEMO_PASSWORD", "gridsvc-demo-2020")
    refused = runner.invoke(args=["seed", "--quiet", "--data", data, "--demo"])
    context.pop()
    assert refused.exit_code != 0 and "too easy to guess" in refused.output
