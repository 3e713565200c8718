"""The field roles run their own station (issue 16, first part): tasks, sign-ups, attendance, reading patrols."""
from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
import sqlalchemy as sa

from gridsvc.grids.models import Grid
from gridsvc.people.models import Patroller
from gridsvc.patrols.models import PatrolSession

STATION_001, STATION_002 = "350600001001", "350600001002"
MISSING_TASK, MISSING_PATROL = 2_147_483_000, 2_147_483_001


def _volunteers(session, code: str, count: int = 3) -> list[Patroller]:
    return list(session.scalars(sa.select(Patroller).join(Grid, Patroller.station_id == Grid.id)
                                .where(Grid.code == code, Patroller.role == "volunteer").order_by(Patroller.id)
                                .limit(count)))


def _tonight():
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)).replace(microsecond=0)
    return start.isoformat(), (start + dt.timedelta(hours=3)).isoformat()


@pytest.mark.parametrize("username", ["station1", "worker1"])
def test_a_station_role_publishes_for_its_own_station_only(client_as, username):
    station = client_as(username)
    start, end = _tonight()
    own = station.post("/api/v1/patrol-tasks", json={"title": "今晚巡逻", "start": start, "end": end, "headcount": 5})
    assert own.status_code == 201, own.get_json()
    assert own.get_json()["station_code"] == STATION_001
    other = station.post("/api/v1/patrol-tasks?lang=en", json={"title": "x", "station": STATION_002,
                                                               "start": start, "end": end, "headcount": 5})
    missing = station.post("/api/v1/patrol-tasks?lang=en", json={"title": "x", "station": "350600001099",
                                                                 "start": start, "end": end, "headcount": 5})
    assert other.status_code == missing.status_code == 404
    assert other.get_json()["error"]["code"] == missing.get_json()["error"]["code"] == "grid_not_found"


def test_station_manager_signs_up_its_volunteers_and_confirms_attendance(client_as, session):
    station = client_as("station1")
    started = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).replace(microsecond=0)
    start, end = started.isoformat(), (started + dt.timedelta(hours=3)).isoformat()  # under way: attendance open
    task = station.post("/api/v1/patrol-tasks", json={"title": "今晚巡逻", "start": start, "end": end,
                                                      "headcount": 5}).get_json()
    ours, theirs = _volunteers(session, STATION_001), _volunteers(session, STATION_002, 1)[0]
    first = station.post(f"/api/v1/patrol-tasks/{task['id']}/signups", json={"volunteer": ours[0].app_account_id})
    again = station.post(f"/api/v1/patrol-tasks/{task['id']}/signups", json={"volunteer": ours[0].app_account_id})
    assert (first.status_code, first.get_json()["already_signed_up"]) == (201, False)
    assert (again.status_code, again.get_json()["already_signed_up"]) == (200, True)
    refused = station.post(f"/api/v1/patrol-tasks/{task['id']}/signups?lang=en", json={"volunteer": theirs.app_account_id})
    assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "patroller_not_found"
    confirmed = station.post(f"/api/v1/patrol-tasks/{task['id']}/attendance",
                             json={"attendance": [{"volunteer": ours[0].app_account_id, "attended": True, "start": start,
                                                   "end": (started + dt.timedelta(minutes=30)).isoformat()}]})
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json()["results"][0]["status"] == "attended"
    listed = station.get("/api/v1/patrol-tasks?period=" + start[:4]).get_json()["tasks"]
    assert listed and {t["station_code"] for t in listed} == {STATION_001}


def test_a_volunteer_sees_their_stations_tasks_and_signs_themselves_up(client_as, session):
    start, end = _tonight()
    task = client_as("station1").post("/api/v1/patrol-tasks", json={
        "title": "今晚巡逻", "start": start, "end": end, "headcount": 5}).get_json()
    other_task = client_as("manager").post("/api/v1/patrol-tasks", json={
        "title": "二站", "station": STATION_002, "start": start, "end": end, "headcount": 5}).get_json()
    volunteer = client_as("volunteer1")
    listed = volunteer.get("/api/v1/patrol-tasks?period=" + start[:4]).get_json()["tasks"]
    assert task["id"] in {t["id"] for t in listed} and other_task["id"] not in {t["id"] for t in listed}
    mine = volunteer.post(f"/api/v1/patrol-tasks/{task['id']}/signups", json={})
    assert mine.status_code == 201, mine.get_json()
    me = volunteer.get("/api/v1/auth/me").get_json()
    assert mine.get_json()["volunteer"]["id"] == me["patroller_id"]
    someone_else = _volunteers(session, STATION_001, 3)[-1]
    assert volunteer.post(f"/api/v1/patrol-tasks/{task['id']}/signups",
                          json={"volunteer": someone_else.app_account_id}).status_code == 404
    assert volunteer.post(f"/api/v1/patrol-tasks/{task['id']}/attendance",
                          json={"attendance": [{"volunteer": me["patroller_id"], "attended": True}]}).status_code == 403
    hidden, missing = (volunteer.get(f"/api/v1/patrol-tasks/{i}?lang=en") for i in (other_task["id"], MISSING_TASK))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json()["error"]["code"] == missing.get_json()["error"]["code"] == "task_not_found"
    page = volunteer.get(f"/patrols/tasks/{task['id']}").get_data(as_text=True)
    # Signed up already: the page says so and offers to withdraw, not a second sign-up.
    assert 'data-testid="my-signup"' in page and 'data-testid="withdraw"' in page
    assert 'data-testid="sign-me-up"' not in page and "attendance_form" not in page


def _a_patrol_of(session, patroller_id: int) -> int:
    return session.scalar(sa.select(PatrolSession.id).where(PatrolSession.patroller_id == patroller_id).limit(1))


def test_everyone_reads_their_own_patrols_and_nobody_elses(client_as, session):
    volunteer = client_as("volunteer1")
    me = volunteer.get("/api/v1/auth/me").get_json()
    own = volunteer.get("/api/v1/patrols?period=2020")
    assert own.status_code == 200 and own.get_json()["volunteer"]["id"] == me["patroller_id"]
    account = own.get_json()["volunteer"]["app_account_id"]
    neighbour = _volunteers(session, STATION_001, 3)[-1]
    far = _volunteers(session, STATION_002, 1)[0]
    assert volunteer.get(f"/api/v1/patrols?volunteer={neighbour.app_account_id}").status_code == 404
    own_patrol = _a_patrol_of(session, me["patroller_id"])
    assert own_patrol is not None
    assert volunteer.get(f"/api/v1/patrols/{own_patrol}").status_code == 200
    hidden = volunteer.get(f"/api/v1/patrols/{_a_patrol_of(session, neighbour.id)}?lang=en")
    missing = volunteer.get(f"/api/v1/patrols/{MISSING_PATROL}?lang=en")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json()["error"]["code"] == missing.get_json()["error"]["code"] == "patrol_not_found"
    for username in ("station1", "worker1"):
        station = client_as(username)
        assert station.get(f"/api/v1/patrols?volunteer={neighbour.app_account_id}").status_code == 200
        assert station.get(f"/api/v1/patrols?volunteer={far.app_account_id}").status_code == 404
        assert station.get(f"/api/v1/patrols/{_a_patrol_of(session, neighbour.id)}").status_code == 200
    # "My patrols" opens on the signed-in volunteer's own patrols, their account shown.
    page = volunteer.get("/patrols").get_data(as_text=True)
    assert account in page


def test_the_centre_viewer_reads_tasks_but_signs_nobody_up(client_as, session):
    start, end = _tonight()
    task = client_as("station1").post("/api/v1/patrol-tasks", json={
        "title": "今晚巡逻", "start": start, "end": end, "headcount": 5}).get_json()
    viewer = client_as("viewer")
    assert viewer.get(f"/api/v1/patrol-tasks/{task['id']}").status_code == 200
    volunteer = _volunteers(session, STATION_001, 1)[0]
    assert viewer.post(f"/api/v1/patrol-tasks/{task['id']}/signups",
                       json={"volunteer": volunteer.app_account_id}).status_code == 403
    assert viewer.post(f"/patrols/tasks/{task['id']}/signups", data={"volunteer": volunteer.app_account_id}).status_code == 403
    assert 'data-testid="sign-me-up"' not in viewer.get(f"/patrols/tasks/{task['id']}").get_data(as_text=True)


def test_the_attendance_form_confirms_only_the_callers_stations_people(client_as, session):
    from gridsvc.patrols import service
    from gridsvc.patrols.models import TaskSignup

    started = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).replace(microsecond=0)
    task = client_as("manager").post("/api/v1/patrol-tasks", json={
        "title": "混合任务", "station": STATION_001, "start": started.isoformat(),
        "end": (started + dt.timedelta(hours=3)).isoformat(), "headcount": 5}).get_json()
    outsider = _volunteers(session, STATION_002, 1)[0]
    service.sign_up(session, task_id=task["id"], patroller_id=outsider.id)  # as a manager could
    session.commit()
    signup = session.scalar(sa.select(TaskSignup).where(TaskSignup.task_id == task["id"]))
    answer = client_as("worker1").post(f"/patrols/tasks/{task['id']}/attendance", data={
        f"attended_{signup.id}": "yes", f"start_{signup.id}": started.strftime("%Y-%m-%dT%H:%M"),
        f"end_{signup.id}": (started + dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")})
    assert answer.status_code == 404
    session.expire_all()
    assert session.get(TaskSignup, signup.id).status == "signed_up"


@pytest.mark.parametrize("username", ["volunteer1", "worker1", "station1", "viewer", "manager", "admin"])
def test_menus_offer_only_what_the_role_may_open(client_as, username):
    browser = client_as(username)
    html = browser.get("/patrols/new").get_data(as_text=True)
    links = set(re.findall(r'<a[^>]+href="(/[^"?#]*)"', html.split("<main")[0]))
    links |= set(re.findall(r'<nav class="subnav">(.*?)</nav>', html, re.S) and
                 re.findall(r'href="(/patrols[^"?#]*)"', re.findall(r'<nav class="subnav">(.*?)</nav>', html, re.S)[0]))
    assert links, html[:500]
    refused = {link: browser.get(link).status_code for link in links if browser.get(link).status_code >= 400}
    assert refused == {}
    if username == "volunteer1":
        assert "/dashboard" not in links and "/cameras" not in links and "/patrols/tasks" in links
