"""Identity is known (issue 16, point 3): the signed-in patroller is the default and sees their own account number."""
from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from gridsvc.auth.models import User
from gridsvc.people.models import Patroller


def _me(session, username: str) -> Patroller:
    return session.scalar(sa.select(Patroller).join(User, User.patroller_id == Patroller.id)
                          .where(User.username == username))


def test_a_volunteer_sees_who_they_are_and_types_no_id(client_as, session):
    volunteer = client_as("volunteer1")
    me = _me(session, "volunteer1")
    form = volunteer.get("/patrols/new?lang=en").get_data(as_text=True)
    assert f"<strong>{me.app_account_id}</strong>" in form and 'id="volunteer"' not in form
    assert f'<input type="hidden" name="volunteer" value="{me.app_account_id}">' in form
    mine = volunteer.get("/patrols?lang=en").get_data(as_text=True)
    assert f"<strong>{me.app_account_id}</strong>" in mine and 'id="volunteer"' not in mine
    year = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).year
    assert f"This year ({year})" in mine
    # Links carry the account number, never the internal patroller id.
    assert f"volunteer={me.app_account_id}" in mine and f"volunteer={me.id}&" not in mine + "&"


def test_a_grid_worker_logs_as_themselves_by_default_and_may_pick_their_station(client_as, session):
    worker = client_as("worker1")
    me = _me(session, "worker1")
    form = worker.get("/patrols/new?lang=en").get_data(as_text=True)
    assert re.search(rf'id="volunteer" name="volunteer" list="patrollers" value="{re.escape(me.app_account_id or str(me.id))}"', form)
    assert 'data-testid="me"' in form
    mine = worker.get("/patrols?lang=en").get_data(as_text=True)
    assert f'value="{me.app_account_id or me.id}"' in mine


def test_task_choices_name_tasks_by_title_not_internal_id(client_as):
    station = client_as("station1")
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)).replace(microsecond=0)
    task = station.post("/api/v1/patrol-tasks", json={"title": "标题可读", "start": start.isoformat(),
                                                      "end": (start + dt.timedelta(hours=2)).isoformat()}).get_json()
    form = station.get("/patrols/new").get_data(as_text=True)
    assert f'<option value="{task["id"]}" >标题可读 · ' in form and f'#{task["id"]}' not in form


def test_station_homes_lead_to_what_each_role_does(client_as, session):
    station, volunteer = client_as("station1"), client_as("volunteer1")
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)).replace(microsecond=0)
    before = station.get("/?lang=en").get_data(as_text=True)
    count = int(re.search(r"(\d+) open tasks?", before).group(1))
    station.post("/api/v1/patrol-tasks", json={"title": "今晚", "start": start.isoformat(),
                                               "end": (start + dt.timedelta(hours=2)).isoformat()})
    home = station.get("/?lang=en").get_data(as_text=True)
    assert f"{count + 1} open task" in home
    for endpoint in ("/patrols/tasks/new", "/dashboard", "/station/accounts"):
        assert f'href="{endpoint}"' in home
    mine = volunteer.get("/?lang=en").get_data(as_text=True)
    assert f"<strong>{_me(session, 'volunteer1').app_account_id}</strong>" in mine
    assert 'href="/patrols/tasks/new"' not in mine and 'href="/dashboard"' not in mine
    assert 'href="/station/accounts"' not in mine
