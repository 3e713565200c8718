"""Privacy by design (issue 17, point 4): points are stored only on duty and kept only as long as configured."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from gridsvc.auth.models import User
from gridsvc.patrols.models import PatrolSession
from gridsvc.positions.models import DutySwitch, Position

URL = "/api/v1/positions/osmand"
LAT, LON = "23.8812345", "117.3012345"


def _device(client_as) -> tuple[int, str]:
    body = client_as("volunteer1").post("/api/v1/devices", json={"name": "phone"}).get_json()
    return body["id"], body["key"]


def _send(app, key: str, at: dt.datetime):
    return app.test_client().get(URL, query_string={"id": key, "lat": LAT, "lon": LON,
                                                    "timestamp": str(int(at.timestamp())), "accuracy": "5"})


def _stored(session, device_id: int) -> int:
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(Position).where(Position.device_id == device_id))


def _patroller_id(session, username: str) -> int:
    return session.scalar(sa.select(User.patroller_id).where(User.username == username))


def test_an_off_duty_point_is_answered_and_not_stored(app, client_as, session):
    device_id, key = _device(client_as)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    answer = _send(app, key, now)
    assert answer.status_code == 200  # the app must not retry it
    assert _stored(session, device_id) == 0


def test_the_own_duty_switch_stores_points_until_it_is_off_or_expires(app, client_as, session):
    volunteer = client_as("volunteer1")
    device_id, key = _device(client_as)
    assert volunteer.get("/api/v1/me/duty").get_json()["on_duty"] is False
    switched = volunteer.put("/api/v1/me/duty", json={"on_duty": True})
    assert switched.status_code == 200 and switched.get_json()["on_duty"] is True
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    assert _send(app, key, now).status_code == 200
    assert _stored(session, device_id) == 1
    assert volunteer.put("/api/v1/me/duty", json={"on_duty": False}).get_json()["on_duty"] is False
    assert _send(app, key, now + dt.timedelta(seconds=10)).status_code == 200
    assert _stored(session, device_id) == 1
    # Left on, the switch turns itself off after DUTY_MAX_HOURS.
    session.merge(DutySwitch(patroller_id=_patroller_id(session, "volunteer1"),
                             on_since=now - dt.timedelta(hours=app.config["DUTY_MAX_HOURS"] + 1)))
    session.commit()
    assert volunteer.get("/api/v1/me/duty").get_json()["on_duty"] is False
    assert _send(app, key, now + dt.timedelta(seconds=20)).status_code == 200
    assert _stored(session, device_id) == 1
    bad = volunteer.put("/api/v1/me/duty?lang=en", json={"on_duty": "yes"})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "duty_format"
    assert client_as("station1").put("/api/v1/me/duty", json={"on_duty": True}).status_code == 404  # not a patroller


def test_a_signed_up_task_under_way_is_duty(app, client_as, session):
    station = client_as("station1")
    device_id, key = _device(client_as)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    task = station.post("/api/v1/patrol-tasks", json={
        "title": "夜巡", "start": (now - dt.timedelta(hours=1)).isoformat(),
        "end": (now + dt.timedelta(hours=2)).isoformat(), "headcount": 5}).get_json()
    assert _send(app, key, now).status_code == 200
    assert _stored(session, device_id) == 0  # not signed up yet: off duty
    assert client_as("volunteer1").post(f"/api/v1/patrol-tasks/{task['id']}/signups", json={}).status_code == 201
    assert _send(app, key, now + dt.timedelta(seconds=10)).status_code == 200
    assert _stored(session, device_id) == 1
    assert _send(app, key, now + dt.timedelta(hours=3)).status_code == 200  # after the task (and its allowance)
    assert _stored(session, device_id) == 1


def test_points_past_the_retention_are_purged_and_the_figures_stay(app, client_as, session):
    device_id, key = _device(client_as)
    patroller_id = _patroller_id(session, "volunteer1")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    days = app.config["POSITION_RETENTION_DAYS"]
    session.merge(DutySwitch(patroller_id=patroller_id, on_since=now - dt.timedelta(days=days + 2)))
    session.commit()
    previous = app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"]
    app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"] = 24 * (days + 3), days + 3
    try:
        assert _send(app, key, now - dt.timedelta(days=days + 1)).status_code == 200
        assert _send(app, key, now - dt.timedelta(days=1)).status_code == 200
    finally:
        app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"] = previous
    assert _stored(session, device_id) == 2
    figures = session.execute(sa.select(sa.func.count(), sa.func.sum(PatrolSession.duration_seconds),
                                        sa.func.sum(PatrolSession.verified_seconds))).one()
    result = app.test_cli_runner().invoke(args=["positions", "purge"])
    assert result.exit_code == 0, result.output
    assert "1 points older than" in result.output
    assert _stored(session, device_id) == 1
    left = session.scalar(sa.select(Position.fixed_at).where(Position.device_id == device_id))
    assert left == now - dt.timedelta(days=1)
    assert session.execute(sa.select(sa.func.count(), sa.func.sum(PatrolSession.duration_seconds),
                                     sa.func.sum(PatrolSession.verified_seconds))).one() == figures


def test_a_sessions_points_are_kept_the_retention_after_the_session_ended(app, client_as, session):
    from gridsvc.people.models import Patroller

    device_id, key = _device(client_as)
    patroller_id = _patroller_id(session, "volunteer1")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    days = app.config["POSITION_RETENTION_DAYS"]
    started = now - dt.timedelta(days=days, hours=2)   # before the cutoff ...
    ended = now - dt.timedelta(days=days) + dt.timedelta(hours=1)  # ... and final only after it
    session.merge(DutySwitch(patroller_id=patroller_id, on_since=started - dt.timedelta(minutes=20)))
    session.commit()
    saved = app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"]
    app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"] = 24 * (days + 3), days + 3
    try:
        assert _send(app, key, started + dt.timedelta(minutes=30)).status_code == 200  # inside the session
        assert _send(app, key, started - dt.timedelta(minutes=10)).status_code == 200  # before it
    finally:
        app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"] = saved
    patroller = session.get(Patroller, patroller_id)
    session.add(PatrolSession(client_uuid="7c1d7f0e-5a8b-4c39-9a57-3f2b9d1e0a11", payload_digest="0" * 64,
                              kind="individual", patroller_id=patroller_id, station_id=patroller.station_id,
                              started_at=started, ended_at=ended, duration_seconds=int((ended - started).total_seconds()),
                              source="api"))
    session.commit()
    result = app.test_cli_runner().invoke(args=["positions", "purge"])
    assert result.exit_code == 0, result.output
    assert "1 points older than" in result.output
    session.expire_all()
    left = session.scalars(sa.select(Position.fixed_at).where(Position.device_id == device_id)).all()
    assert left == [started + dt.timedelta(minutes=30)]  # kept: its session ended after the cutoff
