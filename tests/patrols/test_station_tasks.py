"""Station-run tasks (issue 16, point 1): edit, cancel, areas drawn or taken from a grid, withdrawal,
the paper sign-in sheet (补录), confirmations and browsing by period, by role through the API and the pages."""
from __future__ import annotations

import datetime as dt
import json
import re

import sqlalchemy as sa

from gridsvc.geo.shapes import from_db
from gridsvc.grids.models import Grid
from gridsvc.grids.service import create_grid
from gridsvc.patrols.models import PatrolSession, PatrolTask, TaskSignup
from gridsvc.people.models import Patroller

STATION_001, STATION_002 = "350600001001", "350600001002"
LOCAL = dt.timezone(dt.timedelta(hours=8))


def _volunteers(session, code: str, count: int = 3) -> list[Patroller]:
    return list(session.scalars(sa.select(Patroller).join(Grid, Patroller.station_id == Grid.id)
                                .where(Grid.code == code, Patroller.role == "volunteer").order_by(Patroller.id)
                                .limit(count)))


def _window(*, hours_from_now: float, length_hours: float = 3) -> tuple[str, str]:
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours_from_now)).replace(microsecond=0)
    return start.isoformat(), (start + dt.timedelta(hours=length_hours)).isoformat()


def _local_input(iso: str) -> str:
    return dt.datetime.fromisoformat(iso).astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M")


def _square_inside(session, code: str, half_side: float = 0.001) -> dict:
    """A small GeoJSON square around a point inside the station."""
    point = from_db(session.scalar(sa.select(Grid.geom).where(Grid.code == code))).representative_point()
    x, y = point.x, point.y
    ring = [[x - half_side, y - half_side], [x + half_side, y - half_side], [x + half_side, y + half_side],
            [x - half_side, y + half_side], [x - half_side, y - half_side]]
    return {"type": "Polygon", "coordinates": [ring]}


def _publish(client, **changes) -> dict:
    start, end = _window(hours_from_now=2)
    body = {"title": "今晚巡逻", "start": start, "end": end, "headcount": 5, **changes}
    response = client.post("/api/v1/patrol-tasks", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _notices(page: str) -> list[str]:
    return re.findall(r'<p class="notice" role="status">([^<]*)</p>', page)


def test_station_publishes_with_an_area_drawn_on_the_map_or_taken_from_a_grid(client_as, session):
    station = client_as("station1")
    square = _square_inside(session, STATION_001)
    start, end = _window(hours_from_now=2)
    form = {"title": "夜巡", "station": STATION_001, "start": _local_input(start), "end": _local_input(end),
            "headcount": "4", "area": json.dumps(square)}
    drawn = station.post("/patrols/tasks/new?lang=en", data=form)
    assert drawn.status_code == 303
    task_id = int(drawn.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert session.get(PatrolTask, task_id) is not None
    shown = station.get(f"/api/v1/patrol-tasks/{task_id}").get_json()
    assert shown["area"]["type"] == "Polygon"
    assert [list(c) for c in shown["area"]["coordinates"][0]] == square["coordinates"][0]
    assert "Task published: 夜巡." in _notices(station.get(drawn.headers["Location"] + "?lang=en").get_data(as_text=True))

    # The seed has stations only; each station divides itself into grids (cells) as it goes.
    cell = create_grid(session, name="市场网格", level="cell", parent_code=STATION_001, region_code="350600",
                       geometry=_square_inside(session, STATION_001, 0.0005))
    other_cell = create_grid(session, name="码头网格", level="cell", parent_code=STATION_002, region_code="350600",
                             geometry=_square_inside(session, STATION_002, 0.0005))
    session.commit()
    from_grid = station.post("/patrols/tasks/new", data={**form, "area": "", "area_grid": cell.code})
    assert from_grid.status_code == 303
    grid_task = station.get(f"/api/v1/patrol-tasks/{from_grid.headers['Location'].rsplit('/', 1)[1]}").get_json()
    assert from_db(session.scalar(sa.select(Grid.geom).where(Grid.id == cell.id))).equals(
        __import__("shapely.geometry", fromlist=["shape"]).shape(grid_task["area"]))

    before = session.scalar(sa.select(sa.func.count()).select_from(PatrolTask))
    foreign = station.post("/patrols/tasks/new?lang=en", data={**form, "area": "", "area_grid": other_cell.code})
    outside = station.post("/patrols/tasks/new?lang=en",
                           data={**form, "area": json.dumps(_square_inside(session, STATION_002))})
    assert foreign.status_code == 404 and outside.status_code == 422
    assert "lies outside station" in outside.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(PatrolTask)) == before
    page = station.get("/patrols/tasks/new").get_data(as_text=True)
    assert 'data-testid="task-map"' in page and other_cell.code not in page  # only its own grids offered


def test_station_roles_edit_their_tasks_within_the_rules(client_as, session):
    station, worker, volunteer, other = (client_as(name) for name in ("station1", "worker1", "volunteer1", "station2"))
    task = _publish(station, headcount=3)
    ours = _volunteers(session, STATION_001, 2)
    for person in ours:
        assert station.post(f"/api/v1/patrol-tasks/{task['id']}/signups",
                            json={"volunteer": person.app_account_id}).status_code == 201
    start, end = _window(hours_from_now=4, length_hours=2)
    edited = worker.patch(f"/api/v1/patrol-tasks/{task['id']}", json={"title": "改期巡逻", "start": start, "end": end,
                                                                      "headcount": 2})
    assert edited.status_code == 200, edited.get_json()
    assert (edited.get_json()["title"], edited.get_json()["headcount"]) == ("改期巡逻", 2)
    assert dt.datetime.fromisoformat(edited.get_json()["start"]) == dt.datetime.fromisoformat(start)
    too_few = station.patch(f"/api/v1/patrol-tasks/{task['id']}?lang=en", json={"headcount": 1})
    assert too_few.status_code == 409 and too_few.get_json()["error"]["code"] == "task_headcount_below_signups"
    assert "2 volunteers are already signed up" in too_few.get_json()["error"]["message"]
    assert volunteer.patch(f"/api/v1/patrol-tasks/{task['id']}", json={"title": "x"}).status_code == 403
    assert other.patch(f"/api/v1/patrol-tasks/{task['id']}", json={"title": "x"}).status_code == 404
    # The edit page saves with a confirmation; a bad change shows the form again and keeps the task.
    page = station.post(f"/patrols/tasks/{task['id']}/edit?lang=en", data={
        "title": "夜巡（改）", "start": _local_input(start), "end": _local_input(end), "headcount": "3", "area": ""})
    assert page.status_code == 303
    assert "Task saved." in _notices(station.get(page.headers["Location"] + "?lang=en").get_data(as_text=True))
    bad = station.post(f"/patrols/tasks/{task['id']}/edit?lang=en", data={
        "title": "", "start": _local_input(start), "end": _local_input(end), "headcount": "3", "area": ""})
    assert bad.status_code == 422 and "A task needs a title" in bad.get_data(as_text=True)
    session.expire_all()
    assert session.get(PatrolTask, task["id"]).title == "夜巡（改）"


def test_a_window_that_would_leave_a_recorded_patrol_outside_is_refused(client_as, session):
    station = client_as("station1")
    start, end = _window(hours_from_now=-5, length_hours=3)
    task = _publish(station, start=start, end=end)
    person = _volunteers(session, STATION_001, 1)[0]
    assert station.post(f"/api/v1/patrol-tasks/{task['id']}/attendance", json={"attendance": [
        {"volunteer": person.app_account_id, "attended": True}]}).status_code == 200
    later_start, later_end = _window(hours_from_now=-1, length_hours=1)
    moved = station.patch(f"/api/v1/patrol-tasks/{task['id']}?lang=en", json={"start": later_start, "end": later_end})
    assert moved.status_code == 409 and moved.get_json()["error"]["code"] == "task_window_excludes_patrols"
    cancel = station.post(f"/api/v1/patrol-tasks/{task['id']}/cancel?lang=en")
    assert cancel.status_code == 409 and cancel.get_json()["error"]["code"] == "task_has_patrols"


def test_cancelling_withdraws_the_sign_ups_and_closes_the_task(client_as, session):
    station, volunteer = client_as("station1"), client_as("volunteer1")
    task = _publish(station)
    assert volunteer.post(f"/api/v1/patrol-tasks/{task['id']}/signups", json={}).status_code == 201
    page = station.post(f"/patrols/tasks/{task['id']}/cancel?lang=en")
    assert page.status_code == 303
    shown = station.get(f"/api/v1/patrol-tasks/{task['id']}").get_json()
    assert shown["cancelled"] is True and shown["signed_up"] == 0
    assert {signup["status"] for signup in shown["signups"]} == {"cancelled"}
    again = volunteer.post(f"/api/v1/patrol-tasks/{task['id']}/signups?lang=en", json={})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "task_cancelled"
    assert "今晚巡逻" in again.get_json()["error"]["message"] and str(task["id"]) not in again.get_json()["error"]["message"]
    open_tasks = volunteer.get("/api/v1/patrol-tasks?open=1").get_json()["tasks"]
    assert task["id"] not in {t["id"] for t in open_tasks}
    listing = station.get("/patrols/tasks?lang=en").get_data(as_text=True)
    assert f'<li class="cancelled" data-task="{task["id"]}">' in listing


def test_a_volunteer_withdraws_their_own_sign_up_only(client_as, session):
    station, volunteer = client_as("station1"), client_as("volunteer1")
    task = _publish(station)
    someone = _volunteers(session, STATION_001, 3)[-1]
    assert station.post(f"/api/v1/patrol-tasks/{task['id']}/signups",
                        json={"volunteer": someone.app_account_id}).status_code == 201
    signed = volunteer.post(f"/patrols/tasks/{task['id']}/signups?lang=en", data={})
    assert signed.status_code == 303
    repeat = volunteer.post(f"/patrols/tasks/{task['id']}/signups?lang=en", data={})
    notices = _notices(volunteer.get(repeat.headers["Location"] + "?lang=en").get_data(as_text=True))
    assert any(notice.startswith("Already signed up:") for notice in notices)
    assert volunteer.post(f"/api/v1/patrol-tasks/{task['id']}/withdrawal",
                          json={"volunteer": someone.app_account_id}).status_code == 404
    withdrawn = volunteer.post(f"/patrols/tasks/{task['id']}/withdrawal?lang=en", data={})
    assert withdrawn.status_code == 303
    page = volunteer.get(withdrawn.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert any(notice.startswith("Sign-up withdrawn:") for notice in _notices(page))
    assert 'data-testid="sign-me-up"' in page
    statuses = {s["volunteer"]["app_account_id"]: s["status"]
                for s in station.get(f"/api/v1/patrol-tasks/{task['id']}").get_json()["signups"]}
    assert statuses[someone.app_account_id] == "signed_up"
    assert "cancelled" in statuses.values()
    twice = volunteer.post(f"/api/v1/patrol-tasks/{task['id']}/withdrawal?lang=en", json={})
    assert twice.status_code == 404 and twice.get_json()["error"]["code"] == "signup_not_found"


def test_yesterdays_patrol_entered_from_the_paper_sheet_is_claimed_never_verified(client_as, session):
    station, volunteer = client_as("station1"), client_as("volunteer1")
    start, end = _window(hours_from_now=-26, length_hours=3)
    task = _publish(station, start=start, end=end, headcount=2)
    late = volunteer.post(f"/api/v1/patrol-tasks/{task['id']}/signups?lang=en", json={})
    assert late.status_code == 422 and late.get_json()["error"]["code"] == "task_over"
    assert "paper sign-in sheet" in late.get_json()["error"]["message"]
    people = _volunteers(session, STATION_001, 3)  # three came, though the task asked for two
    entered = station.post(f"/patrols/tasks/{task['id']}/paper?lang=en", data={
        "volunteer": [p.app_account_id for p in people], "start": _local_input(start), "end": _local_input(end)})
    assert entered.status_code == 303
    page = station.get(entered.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert any("paper sheet (补录) for 3 people" in notice for notice in _notices(page))
    assert page.count('<span class="badge paper">') == 3
    shown = station.get(f"/api/v1/patrol-tasks/{task['id']}").get_json()
    assert shown["person_seconds"] == shown["paper_person_seconds"] == 3 * 3 * 3600
    assert shown["verified_person_seconds"] == 0
    sessions = list(session.scalars(sa.select(PatrolSession).where(PatrolSession.task_id == task["id"])))
    assert len(sessions) == 3 and all(s.from_paper and s.verified_seconds is None for s in sessions)
    assert {s.verification["method"] for s in sessions} == {"paper"}
    mine = station.get(f"/api/v1/patrols?volunteer={people[0].app_account_id}&from={start[:10]}&to={end[:10]}").get_json()
    assert mine["totals"]["group"]["paper_seconds"] >= 3 * 3600
    assert any(p["from_paper"] and p["verified_seconds"] is None for p in mine["patrols"])
    # Entering the same sheet again (a double tap, a retry) changes nothing and verifies nothing,
    # nor does confirming a paper entrant's attendance the usual way afterwards.
    again = station.post(f"/patrols/tasks/{task['id']}/paper?lang=en", data={
        "volunteer": [people[0].app_account_id, people[0].app_account_id], "start": _local_input(start),
        "end": _local_input(end)})
    assert again.status_code == 303
    confirmed = station.post(f"/api/v1/patrol-tasks/{task['id']}/attendance", json={"attendance": [
        {"volunteer": people[1].app_account_id, "attended": True}]})
    assert confirmed.status_code == 200, confirmed.get_json()
    session.expire_all()
    sessions = list(session.scalars(sa.select(PatrolSession).where(PatrolSession.task_id == task["id"])))
    assert len(sessions) == 3
    assert all(s.from_paper and s.verified_seconds is None and s.verification["method"] == "paper" for s in sessions)
    assert station.get(f"/api/v1/patrol-tasks/{task['id']}").get_json()["verified_person_seconds"] == 0


def test_a_paper_sheet_with_one_bad_row_writes_nothing(client_as, session):
    station = client_as("station1")
    start, end = _window(hours_from_now=-26, length_hours=3)
    task = _publish(station, start=start, end=end)
    ours, theirs = _volunteers(session, STATION_001, 2), _volunteers(session, STATION_002, 1)
    refused = station.post(f"/patrols/tasks/{task['id']}/paper?lang=en", data={
        "volunteer": [ours[0].app_account_id, theirs[0].app_account_id], "start": _local_input(start),
        "end": _local_input(end)})
    assert refused.status_code == 404
    assert session.scalar(sa.select(sa.func.count()).select_from(TaskSignup)
                          .where(TaskSignup.task_id == task["id"])) == 0
    nobody = station.post(f"/patrols/tasks/{task['id']}/paper?lang=en", data={"start": "", "end": ""})
    assert nobody.status_code == 422 and "Tick the people" in nobody.get_data(as_text=True)


def test_attendance_is_confirmed_with_a_saved_message(client_as, session):
    station = client_as("station1")
    start, end = _window(hours_from_now=-2, length_hours=3)  # under way: sign-ups and attendance both open
    task = _publish(station, start=start, end=end)
    people = _volunteers(session, STATION_001, 2)
    signed = station.post(f"/patrols/tasks/{task['id']}/signups?lang=en",
                          data={"volunteer": [p.app_account_id for p in people]})
    assert signed.status_code == 303
    signups = list(session.scalars(sa.select(TaskSignup).where(TaskSignup.task_id == task["id"])))
    assert len(signups) == 2
    nothing = station.post(f"/patrols/tasks/{task['id']}/attendance?lang=en", data={})
    assert nothing.status_code == 422
    saved = station.post(f"/patrols/tasks/{task['id']}/attendance?lang=en",
                         data={f"attended_{signups[0].id}": "yes", f"attended_{signups[1].id}": "no",
                               f"start_{signups[0].id}": _local_input(start),
                               f"end_{signups[0].id}": _local_input(_window(hours_from_now=-0.2)[0])})
    assert saved.status_code == 303
    page = station.get(saved.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert "Attendance saved for 2 people." in _notices(page)


def test_the_task_list_browses_by_period(client_as):
    station = client_as("station1")
    now = dt.datetime.now(LOCAL)
    last_year = now.replace(year=now.year - 1, month=3, day=10, hour=19, minute=0, second=0, microsecond=0)
    old = _publish(station, title="去年三月夜巡", start=last_year.isoformat(),
                   end=(last_year + dt.timedelta(hours=2)).isoformat())
    recent = _publish(station, title="今晚巡逻")
    march = station.get(f"/patrols/tasks?period={last_year:%Y-%m}").get_data(as_text=True)
    assert f'data-task="{old["id"]}"' in march and f'data-task="{recent["id"]}"' not in march
    default = station.get("/patrols/tasks").get_data(as_text=True)
    assert f'data-task="{recent["id"]}"' in default and f'data-task="{old["id"]}"' not in default
    api = station.get(f"/api/v1/patrol-tasks?period={last_year:%Y-%m}").get_json()
    assert [t["id"] for t in api["tasks"] if t["id"] in (old["id"], recent["id"])] == [old["id"]]
    empty = station.get("/patrols/tasks?period=2001-01&lang=en").get_data(as_text=True)
    assert "No tasks in 2001-01." in empty
    bad = station.get("/patrols/tasks?period=banana&lang=en")
    assert bad.status_code == 200 and 'class="alert"' in bad.get_data(as_text=True)


def test_a_volunteer_reads_a_task_with_their_own_sign_up_only(client_as, session):
    station, volunteer = client_as("station1"), client_as("volunteer1")
    task = _publish(station)
    neighbour = [p for p in _volunteers(session, STATION_001, 3)][-1]
    assert station.post(f"/api/v1/patrol-tasks/{task['id']}/signups",
                        json={"volunteer": neighbour.app_account_id}).status_code == 201
    assert volunteer.post(f"/api/v1/patrol-tasks/{task['id']}/signups", json={}).status_code == 201
    seen = volunteer.get(f"/api/v1/patrol-tasks/{task['id']}").get_json()
    me = volunteer.get("/api/v1/auth/me").get_json()["patroller_id"]
    assert [s["volunteer"]["id"] for s in seen["signups"]] == [me]
    assert seen["signed_up"] == 2  # the count stays: it is the task's, not a person's
    assert len(station.get(f"/api/v1/patrol-tasks/{task['id']}").get_json()["signups"]) == 2


def test_refusals_name_people_and_times_never_internal_ids(client_as, session):
    station = client_as("station1")
    start, end = _window(hours_from_now=-5, length_hours=3)
    task = _publish(station, start=start, end=end)
    person = _volunteers(session, STATION_001, 1)[0]
    assert station.post(f"/api/v1/patrol-tasks/{task['id']}/attendance", json={"attendance": [
        {"volunteer": person.app_account_id, "attended": True}]}).status_code == 200
    patrol_id = session.scalar(sa.select(PatrolSession.id).where(PatrolSession.task_id == task["id"]))
    later_start, later_end = _window(hours_from_now=-1, length_hours=1)
    answers = [
        station.patch(f"/api/v1/patrol-tasks/{task['id']}?lang=en", json={"start": later_start, "end": later_end}),
        station.post(f"/api/v1/patrol-tasks/{task['id']}/attendance?lang=en", json={"attendance": [
            {"volunteer": person.app_account_id, "attended": False}]}),
        station.post(f"/api/v1/patrol-tasks/{task['id']}/attendance?lang=en", json={"attendance": [
            {"volunteer": person.app_account_id, "attended": True, "start": start, "end": later_end}]}),
    ]
    for answer in answers:
        assert answer.status_code == 409, answer.get_json()
        message = answer.get_json()["error"]["message"]
        assert str(patrol_id) not in message and str(task["id"]) not in message, message
    assert person.name in answers[1].get_json()["error"]["message"]
    empty = station.post(f"/patrols/tasks/{task['id']}/signups?lang=en", data={})
    assert empty.status_code in (422,) and "Tick at least one person" in empty.get_data(as_text=True)
