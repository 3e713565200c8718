"""The patrol pages: the phone form (idempotent by its hidden client_uuid), one's own patrols, group tasks."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest

from gridsvc.patrols.models import PatrolSession, TaskSignup
from tests.patrols.helpers import SHANGHAI, STATION_S08, VOLUNTEER_S08, count, counts, zone_gpx


def _form_uuid(html: str) -> str:
    match = re.search(r'name="client_uuid" value="([0-9a-f-]{36})"', html)
    assert match, "the form has no hidden client_uuid"
    return match.group(1)


def _form(client_uuid: str, **changes) -> dict:
    form = {"client_uuid": client_uuid, "kind": "individual", "volunteer": VOLUNTEER_S08,
            "task_id": "", "start": "2021-07-01T19:00", "end": "2021-07-01T21:30"}
    form.update(changes)
    return form


def test_form_renders_in_chinese_with_a_fresh_client_uuid_and_no_outside_urls(client):
    first = client.get("/patrols/new")
    second = client.get("/patrols/new")

    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert _form_uuid(html) != _form_uuid(second.get_data(as_text=True))
    assert 'lang="zh-CN"' in html
    assert 'type="datetime-local"' in html and 'type="file"' in html and 'enctype="multipart/form-data"' in html
    assert 'name="viewport"' in html
    assert not re.search(r'(src|href)="(https?:)?//', html), "the page must not load anything from another host"
    assert "patrols.css" in html


def test_form_submission_stores_one_session_and_a_double_submit_stores_no_second(app, client):
    client_uuid = _form_uuid(client.get("/patrols/new").get_data(as_text=True))
    before = count(app)

    first = client.post("/patrols/new", data=_form(client_uuid))
    second = client.post("/patrols/new", data=_form(client_uuid))

    assert first.status_code == 303 and second.status_code == 303
    assert first.headers["Location"].split("?")[0] == second.headers["Location"].split("?")[0]
    assert "saved=new" in first.headers["Location"] and "saved=again" in second.headers["Location"]
    assert count(app) == before + 1
    page = client.get(second.headers["Location"] + "&lang=en").get_data(as_text=True)
    assert "already saved" in page
    assert "2.50" in page  # 2 h 30 min claimed
    patrol_id = int(re.search(r"/patrols/(\d+)", first.headers["Location"]).group(1))
    stored = client.get(f"/api/v1/patrols/{patrol_id}").get_json()
    assert stored["start"] == "2021-07-01T19:00:00+08:00"  # form times are local (Asia/Shanghai)
    assert (stored["source"], stored["kind"], stored["station_code"]) == ("web", "individual", STATION_S08)


def test_form_refusal_shows_the_reason_keeps_the_input_and_writes_nothing(app, client):
    client_uuid = _form_uuid(client.get("/patrols/new").get_data(as_text=True))
    before = counts(app)

    response = client.post("/patrols/new?lang=en", data=_form(client_uuid, end="2021-07-01T18:00"))

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The end time must be after the start time" in html
    assert f'value="{client_uuid}"' in html and 'value="2021-07-01T18:00"' in html
    assert counts(app) == before


def test_form_with_a_gpx_file_takes_the_times_from_the_track(app, client):
    client_uuid = _form_uuid(client.get("/patrols/new").get_data(as_text=True))
    data = zone_gpx("korita-zbevnica.gpx", starting=dt.datetime(2021, 7, 3, 8, tzinfo=SHANGHAI))
    form = _form(client_uuid, start="", end="", track=(io.BytesIO(data), "walk.gpx"))

    response = client.post("/patrols/new", data=form, content_type="multipart/form-data")

    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    patrol_id = int(re.search(r"/patrols/(\d+)", response.headers["Location"]).group(1))
    stored = client.get(f"/api/v1/patrols/{patrol_id}").get_json()
    assert stored["start"] == "2021-07-03T08:00:00+08:00"
    assert stored["claimed_seconds"] == 13381  # 09:36:30 to 13:19:31 in the original file
    assert stored["verification"]["method"] == "track"
    page = client.get(f"/patrols/{patrol_id}?lang=en").get_data(as_text=True)
    assert "no GPS point for too long" in page  # the korita file has a long gap
    assert "Moving time per grid" in page


def test_form_refuses_a_bad_gpx_file_clearly(app, client):
    client_uuid = _form_uuid(client.get("/patrols/new").get_data(as_text=True))
    before = counts(app)
    bad = b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "x">]><gpx version="1.1"></gpx>'

    response = client.post("/patrols/new?lang=en", data=_form(client_uuid, track=(io.BytesIO(bad), "x.gpx")),
                           content_type="multipart/form-data")

    assert response.status_code == 422
    assert "DOCTYPE or ENTITY declarations are refused" in response.get_data(as_text=True)
    assert counts(app) == before


def test_own_patrols_page_lists_hours(client):
    client_uuid = _form_uuid(client.get("/patrols/new").get_data(as_text=True))
    client.post("/patrols/new", data=_form(client_uuid))

    page = client.get(f"/patrols?volunteer={VOLUNTEER_S08}&period=2021&lang=en")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "平安志愿者028" in html
    assert "2.50" in html
    assert "1 sessions" in html


def test_own_patrols_page_for_an_unknown_person_says_so(client):
    page = client.get("/patrols?volunteer=nobody&lang=en")
    assert page.status_code == 404
    assert "No such volunteer or grid worker: nobody" in page.get_data(as_text=True)


def _local_input(moment: dt.datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def test_group_task_published_signed_up_and_attendance_confirmed_through_the_pages(app, client):
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    published = client.post("/patrols/tasks/new", data={
        "title": "夜间群防巡逻", "station": STATION_S08, "start": _local_input(now - dt.timedelta(hours=3)),
        "end": _local_input(now + dt.timedelta(hours=1)), "headcount": "2",
    })
    assert published.status_code == 303
    task_url = published.headers["Location"]
    task_id = int(task_url.rstrip("/").rsplit("/", 1)[1])

    for volunteer in (VOLUNTEER_S08, "XLXQ000034"):
        assert client.post(f"/patrols/tasks/{task_id}/signups", data={"volunteer": volunteer}).status_code == 303
    full = client.post(f"/patrols/tasks/{task_id}/signups?lang=en", data={"volunteer": "XLXQ000070"})
    assert full.status_code == 409
    assert "already has its 2 volunteers" in full.get_data(as_text=True)
    assert f"Task {task_id} " not in full.get_data(as_text=True)  # named by its title, not its internal id

    page = client.get(task_url).get_data(as_text=True)
    signup_ids = re.findall(r'data-signup="(\d+)"', page)
    assert len(signup_ids) == 2
    attended, absent = signup_ids
    before = count(app)
    confirmed = client.post(f"/patrols/tasks/{task_id}/attendance", data={
        f"attended_{attended}": "yes",
        f"start_{attended}": _local_input(now - dt.timedelta(hours=3)),
        f"end_{attended}": _local_input(now - dt.timedelta(hours=1)),
        f"attended_{absent}": "no",
    })

    assert confirmed.status_code == 303
    assert count(app) == before + 1
    task = client.get(f"/api/v1/patrol-tasks/{task_id}").get_json()
    assert task["person_seconds"] == task["verified_person_seconds"] == 7200
    assert {s["status"] for s in task["signups"]} == {"attended", "absent"}
    assert all(s["confirmed"] for s in task["signups"])
    assert count(app, TaskSignup, TaskSignup.task_id == task_id) == 2
    assert count(app, PatrolSession, PatrolSession.task_id == task_id, PatrolSession.kind == "group") == 1


def test_attendance_in_the_future_is_refused_and_nothing_written(app, client):
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    task = client.post("/api/v1/patrol-tasks", json={
        "title": "patrol", "station": STATION_S08, "start": (now - dt.timedelta(hours=1)).isoformat(),
        "end": (now + dt.timedelta(hours=2)).isoformat(), "headcount": 5,
    }).get_json()
    client.post(f"/api/v1/patrol-tasks/{task['id']}/signups", json={"volunteer": VOLUNTEER_S08})
    signup_id = re.search(r'data-signup="(\d+)"', client.get(f"/patrols/tasks/{task['id']}").get_data(as_text=True)).group(1)
    before = counts(app)

    response = client.post(f"/patrols/tasks/{task['id']}/attendance?lang=en", data={f"attended_{signup_id}": "yes"})

    assert response.status_code == 422
    assert "The patrol ends in the future" in response.get_data(as_text=True)
    assert counts(app) == before


@pytest.mark.parametrize("path", ["/patrols", "/patrols/tasks", "/patrols/tasks/new", "/patrols/tasks/1"])
def test_pages_render(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "<form" in response.get_data(as_text=True)
