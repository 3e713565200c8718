"""Group-patrol tasks (群防任务): publish, sign up, log or confirm attendance; group hours are person-hours."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from gridsvc.patrols.models import PatrolSession, TaskSignup
from tests.patrols.helpers import STATION_S08, VOLUNTEER_S08, count, counts, new_uuid, post_json

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _task(client, *, start: dt.datetime, hours: float = 4, headcount: int = 3, **extra) -> dict:
    response = post_json(client, "/api/v1/patrol-tasks", {
        "title": "周六群防巡逻", "station": STATION_S08, "start": start.isoformat(),
        "end": (start + dt.timedelta(hours=hours)).isoformat(), "headcount": headcount, **extra,
    })
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_seed_group_sessions_are_the_attendance_of_their_tasks(session):
    attended = session.scalar(sa.select(sa.func.count()).select_from(TaskSignup).where(TaskSignup.status == "attended"))
    group = session.scalar(sa.select(sa.func.count()).select_from(PatrolSession).where(PatrolSession.kind == "group"))
    assert attended == group == 2803


def test_publish_and_sign_up(client):
    task = _task(client, start=NOW + dt.timedelta(days=1), headcount=2)

    first = post_json(client, f"/api/v1/patrol-tasks/{task['id']}/signups", {"volunteer": VOLUNTEER_S08})
    again = post_json(client, f"/api/v1/patrol-tasks/{task['id']}/signups", {"volunteer": VOLUNTEER_S08})
    second = post_json(client, f"/api/v1/patrol-tasks/{task['id']}/signups", {"volunteer": "XLXQ000034"})
    full = post_json(client, f"/api/v1/patrol-tasks/{task['id']}/signups", {"volunteer": "XLXQ000070"})

    assert (first.status_code, again.status_code, second.status_code) == (201, 200, 201)
    assert full.status_code == 409
    assert full.get_json()["error"]["code"] == "task_full"
    assert "already has its 2 volunteers" in full.get_json()["error"]["message"]
    listed = client.get(f"/api/v1/patrol-tasks/{task['id']}").get_json()
    assert listed["signed_up"] == 2 and listed["station_code"] == STATION_S08


def test_task_rules(app, client):
    before = counts(app)
    cases = [
        ({"title": ""}, 422, "task_title_required"),
        ({"end": (NOW - dt.timedelta(days=1)).isoformat()}, 422, "end_before_start"),
        ({"headcount": 0}, 422, "task_headcount"),
        ({"station": "nope"}, 404, "grid_not_found"),
        ({"start": "2021-01-01T19:00:00"}, 422, "time_zone_required"),
        ({"area": {"type": "Point", "coordinates": [117.3, 23.88]}}, 422, "task_area_invalid"),
        ({"area": {"type": "Polygon", "coordinates": [[[117.24, 23.91], [117.25, 23.91], [117.25, 23.92],
                                                      [117.24, 23.91]]]}}, 422, "task_area_outside_station"),
    ]
    for change, status, code in cases:
        body = {"title": "t", "station": STATION_S08, "start": NOW.isoformat(),
                "end": (NOW + dt.timedelta(hours=2)).isoformat(), "headcount": 3, **change}
        response = post_json(client, "/api/v1/patrol-tasks", body)
        assert (response.status_code, response.get_json()["error"]["code"]) == (status, code), change
    assert counts(app) == before


def test_signing_up_for_a_finished_task_is_refused(client):
    task = _task(client, start=NOW - dt.timedelta(days=2))
    response = post_json(client, f"/api/v1/patrol-tasks/{task['id']}/signups", {"volunteer": VOLUNTEER_S08})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "task_over"


def test_confirmed_attendance_makes_verified_person_hours(app, client):
    task = _task(client, start=NOW - dt.timedelta(days=3), hours=4, headcount=5)
    entries = [
        {"volunteer": VOLUNTEER_S08, "attended": True},  # the whole window
        {"volunteer": "XLXQ000034", "attended": True, "start": task["start"],
         "end": (dt.datetime.fromisoformat(task["start"]) + dt.timedelta(hours=1, minutes=30)).isoformat()},
    ]

    response = post_json(client, f"/api/v1/patrol-tasks/{task['id']}/attendance", {"attendance": entries})
    replay = post_json(client, f"/api/v1/patrol-tasks/{task['id']}/attendance", {"attendance": entries})

    assert response.status_code == 200, response.get_json()
    assert replay.status_code == 200
    detail = client.get(f"/api/v1/patrol-tasks/{task['id']}").get_json()
    assert detail["person_seconds"] == 4 * 3600 + 5400  # person-hours, not task hours
    assert detail["verified_person_seconds"] == detail["person_seconds"]
    assert {s["status"] for s in detail["signups"]} == {"attended"}
    assert count(app, PatrolSession, PatrolSession.task_id == task["id"]) == 2


def test_a_volunteer_logs_their_own_group_patrol_and_the_station_confirms_it(app, client):
    task = _task(client, start=NOW - dt.timedelta(days=4), hours=4)
    body = {"client_uuid": new_uuid(), "kind": "group", "volunteer": VOLUNTEER_S08, "task_id": task["id"],
            "start": task["start"], "end": (dt.datetime.fromisoformat(task["start"]) + dt.timedelta(hours=2)).isoformat()}

    logged = post_json(client, "/api/v1/patrols", body)
    before_confirm = client.get(f"/api/v1/patrol-tasks/{task['id']}").get_json()
    confirmed = post_json(client, f"/api/v1/patrol-tasks/{task['id']}/attendance",
                          {"attendance": [{"volunteer": VOLUNTEER_S08, "attended": True}]})
    after = client.get(f"/api/v1/patrol-tasks/{task['id']}").get_json()

    assert logged.status_code == 201, logged.get_json()
    assert before_confirm["signups"][0]["status"] == "attended" and not before_confirm["signups"][0]["confirmed"]
    assert before_confirm["verified_person_seconds"] == 0
    assert confirmed.status_code == 200
    assert after["signups"][0]["confirmed"] and after["signups"][0]["session_id"] == logged.get_json()["id"]
    assert after["person_seconds"] == after["verified_person_seconds"] == 7200


def test_group_patrol_rules(app, client):
    task = _task(client, start=NOW - dt.timedelta(days=5), hours=4)
    start = dt.datetime.fromisoformat(task["start"])
    first = post_json(client, "/api/v1/patrols", {
        "client_uuid": new_uuid(), "kind": "group", "volunteer": VOLUNTEER_S08, "task_id": task["id"],
        "start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()})
    assert first.status_code == 201
    before = counts(app)
    cases = [
        # outside the window (beyond the 10-minute allowance)
        ("XLXQ000034", start - dt.timedelta(minutes=30), start + dt.timedelta(hours=1), 422, "outside_task_window"),
        # a second session of the same person for the same task
        (VOLUNTEER_S08, start + dt.timedelta(hours=2), start + dt.timedelta(hours=3), 409, "task_already_logged"),
    ]
    for volunteer, begins, ends, status, code in cases:
        response = post_json(client, "/api/v1/patrols", {
            "client_uuid": new_uuid(), "kind": "group", "volunteer": volunteer, "task_id": task["id"],
            "start": begins.isoformat(), "end": ends.isoformat()})
        assert (response.status_code, response.get_json()["error"]["code"]) == (status, code)
        assert task["title"] in response.get_json()["error"]["message"]  # the task by its title, never its internal id
    assert counts(app) == before
    # Within the allowance is accepted.
    late = post_json(client, "/api/v1/patrols", {
        "client_uuid": new_uuid(), "kind": "group", "volunteer": "XLXQ000034", "task_id": task["id"],
        "start": (start - dt.timedelta(minutes=5)).isoformat(), "end": (start + dt.timedelta(hours=4, minutes=5)).isoformat()})
    assert late.status_code == 201, late.get_json()


def test_absence_and_attendance_conflicts(app, client):
    task = _task(client, start=NOW - dt.timedelta(days=6), hours=2)
    path = f"/api/v1/patrol-tasks/{task['id']}/attendance"
    not_signed = post_json(client, path, {"attendance": [{"volunteer": VOLUNTEER_S08, "attended": False}]})
    assert (not_signed.status_code, not_signed.get_json()["error"]["code"]) == (404, "signup_not_found")

    post_json(client, path, {"attendance": [{"volunteer": VOLUNTEER_S08, "attended": True}]})
    before = counts(app)
    absent = post_json(client, path, {"attendance": [{"volunteer": VOLUNTEER_S08, "attended": False}]})
    differs = post_json(client, path, {"attendance": [{"volunteer": VOLUNTEER_S08, "attended": True,
                                                       "start": task["start"], "end": task["start"][:11] + "23:59:00+08:00"}]})
    assert (absent.status_code, absent.get_json()["error"]["code"]) == (409, "signup_has_session")
    assert (differs.status_code, differs.get_json()["error"]["code"]) == (409, "attendance_differs")
    assert counts(app) == before


def test_attendance_is_all_or_nothing(app, client):
    task = _task(client, start=NOW - dt.timedelta(days=7), hours=2)
    before = counts(app)
    response = post_json(client, f"/api/v1/patrol-tasks/{task['id']}/attendance", {"attendance": [
        {"volunteer": VOLUNTEER_S08, "attended": True},
        {"volunteer": "XLXQ999999", "attended": True},
    ]})
    assert response.status_code == 404
    assert counts(app) == before


def test_task_area_decides_what_is_inside(client):
    """A route task: the walk along the route is verified, the same walk for a task without area too (same station)."""
    start = NOW - dt.timedelta(days=8)
    route = {"type": "LineString", "coordinates": [[117.292, 23.878], [117.309, 23.878]]}
    task = _task(client, start=start, hours=2, area=route)
    times = [(start + dt.timedelta(minutes=i)).isoformat() for i in range(11)]
    on_route = [[117.292 + i * 0.0006, 23.878] for i in range(11)]
    off_route = [[117.292 + i * 0.0006, 23.884] for i in range(11)]  # about 660 m north of the route

    results = []
    for volunteer, coordinates in ((VOLUNTEER_S08, on_route), ("XLXQ000034", off_route)):
        response = post_json(client, "/api/v1/patrols", {
            "client_uuid": new_uuid(), "kind": "group", "volunteer": volunteer, "task_id": task["id"],
            "track": {"type": "Feature", "geometry": {"type": "LineString", "coordinates": coordinates},
                      "properties": {"times": times}}})
        assert response.status_code == 201, response.get_json()
        results.append(response.get_json())

    assert results[0]["verified_seconds"] == 600
    assert results[0]["verification"]["area"]["kind"] == "task_route"
    assert results[1]["verified_seconds"] == 0
    assert results[1]["verification"]["reasons"] == [{"code": "outside_area", "seconds": 600}]


def test_tasks_list_by_station_and_period(client):
    listed = client.get(f"/api/v1/patrol-tasks?station={STATION_S08}&period=2020-03").get_json()
    assert [t["station_code"] for t in listed["tasks"]] == [STATION_S08] * 4  # the Saturdays of March 2020
    assert sum(t["person_seconds"] for t in listed["tasks"]) > 0
