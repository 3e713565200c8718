"""Who may log a patrol through the API: volunteers their own, station staff their station's."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _body(volunteer: str, day: int) -> dict:
    start = dt.datetime(2021, 3, day, 9, tzinfo=SHANGHAI)
    return {"client_uuid": str(uuid.uuid4()), "kind": "individual", "volunteer": volunteer,
            "start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()}


def _own_and_other_accounts(app):
    """The demo volunteer's own account and a volunteer account of another station."""
    import sqlalchemy as sa

    from gridsvc.auth.models import User
    from gridsvc.grids.models import Grid
    from gridsvc.people.models import Patroller

    with app.app_context():
        session = app.extensions["gridsvc"].sessions()
        own_id = session.scalar(sa.select(User.patroller_id).where(User.username == "volunteer1"))
        own = session.get(Patroller, own_id).app_account_id
        other = session.scalar(sa.select(Patroller.app_account_id).join(Grid, Patroller.station_id == Grid.id)
                               .where(Grid.code == "350600001002", Patroller.role == "volunteer").limit(1))
        session.close()
    return own, other


@pytest.mark.parametrize("username, own_ok, other_ok", [
    ("volunteer1", True, False),   # own patrols only
    ("worker1", True, False),      # station 001's volunteers, not station 002's
    ("station2", False, True),     # station 002's manager
    ("manager", True, True),
])
def test_patrol_api_writes_only_what_the_role_may(app, token_for, username, own_ok, other_ok):
    own, other = _own_and_other_accounts(app)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token_for(username)}"}
    for volunteer, allowed, day in ((own, own_ok, 2), (other, other_ok, 3)):
        response = client.post("/api/v1/patrols", json=_body(volunteer, day), headers=headers)
        assert response.status_code == (201 if allowed else 404), (username, volunteer, response.get_json())
    batch = client.post("/api/v1/patrols/batch", json={"sessions": [_body(own, 4), _body(other, 5)]}, headers=headers)
    assert batch.status_code == 200
    assert [item["status"] for item in batch.get_json()["results"]] == [201 if own_ok else 404, 201 if other_ok else 404]


def test_volunteer_uses_the_form_for_own_patrols_only(app, client_as, session):
    import sqlalchemy as sa

    from gridsvc.patrols.models import PatrolSession
    from gridsvc.people.models import Patroller

    own, other = _own_and_other_accounts(app)
    volunteer = client_as("volunteer1")
    page = volunteer.get("/patrols/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert own in html and other not in html  # the picker offers only oneself
    form = {"client_uuid": str(uuid.uuid4()), "kind": "individual", "volunteer": other,
            "start": "2021-03-06T09:00", "end": "2021-03-06T10:00"}
    assert volunteer.post("/patrols/new", data=form).status_code == 404
    form |= {"volunteer": own, "client_uuid": str(uuid.uuid4())}
    assert volunteer.post("/patrols/new", data=form).status_code == 303
    others_patrol = session.scalar(sa.select(PatrolSession.id).join(Patroller, PatrolSession.patroller_id == Patroller.id)
                                   .where(Patroller.app_account_id == other).limit(1))
    assert volunteer.get(f"/patrols/{others_patrol}").status_code == 404
    assert volunteer.get(f"/patrols?volunteer={other}").status_code == 404
