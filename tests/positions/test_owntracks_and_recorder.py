"""OwnTracks HTTP mode and the phone recorder's batches go through the same intake as OsmAnd (issue 17, point 2)."""
from __future__ import annotations

import base64
import datetime as dt

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import to_shape

from gridsvc.auth.models import User
from gridsvc.positions.models import DutySwitch, Position

OWNTRACKS = "/api/v1/positions/owntracks"
RECORDER = "/api/v1/positions/recorder"
# epoch 1796040000 s = 2026-11-30 12:00:00 UTC (20:00 in Asia/Shanghai).
INSTANT = dt.datetime(2026, 11, 30, 12, 0, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def _volunteer1_on_duty(app, session):
    patroller_id = session.scalar(sa.select(User.patroller_id).where(User.username == "volunteer1"))
    session.merge(DutySwitch(patroller_id=patroller_id, on_since=INSTANT - dt.timedelta(hours=1)))
    session.commit()
    saved = app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"]
    app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"] = 3, 36500
    yield
    app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"] = saved


def _register(client_as) -> tuple[int, str]:
    body = client_as("volunteer1").post("/api/v1/devices", json={"name": "phone", "platform": "OwnTracks"}).get_json()
    return body["id"], body["key"]


def _points(session, device_id) -> list[Position]:
    session.expire_all()
    return list(session.scalars(sa.select(Position).where(Position.device_id == device_id)
                                .order_by(Position.fixed_at, Position.id)))


def _basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_owntracks_stores_a_location_and_answers_an_empty_array_to_every_message(app, client_as, session):
    device_id, key = _register(client_as)
    tracker = app.test_client()
    location = {"_type": "location", "tst": 1796040000, "lat": 23.8812345, "lon": 117.3012345, "acc": 8,
                "alt": 12, "vel": 18, "cog": 270, "batt": 64, "bs": 2, "tid": "v1"}
    answer = tracker.post(OWNTRACKS, json=location, headers=_basic("volunteer1", key))
    assert answer.status_code == 200 and answer.get_json() == []
    [point] = _points(session, device_id)
    shape = to_shape(point.geom)
    assert point.fixed_at == INSTANT and point.source == "owntracks"
    assert (shape.y, shape.x) == pytest.approx((23.8812345, 117.3012345), abs=1e-9)
    assert point.speed_mps == pytest.approx(5.0, abs=1e-9)  # 18 km/h
    assert point.accuracy_m == 8.0 and point.heading_deg == 270.0 and point.altitude_m == 12.0
    assert point.battery_percent == 64.0 and point.flags == []

    # The app stops sending until it gets 200 and a JSON array: every message type gets one, only
    # locations are stored; the same location again is a replay.
    for body in ({"_type": "transition", "event": "enter", "tst": 1796040100}, {"_type": "waypoint"},
                 {"_type": "lwt", "tst": 1796040200}, {"_type": "card", "name": "v1"}, {}, location):
        again = tracker.post(OWNTRACKS, json=body, headers=_basic("volunteer1", key))
        assert again.status_code == 200 and again.get_json() == [], body
    empty = tracker.post(OWNTRACKS, data=b"", headers=_basic("volunteer1", key))
    assert empty.status_code == 200 and empty.get_json() == []
    assert len(_points(session, device_id)) == 1


def test_an_unreadable_owntracks_location_is_answered_and_dropped_so_the_queue_moves_on(app, client_as, session):
    device_id, key = _register(client_as)
    tracker = app.test_client()
    for broken in ({"_type": "location", "tst": "yesterday", "lat": 23.88, "lon": 117.30},
                   {"_type": "location", "tst": 1796040000, "lat": "north", "lon": 117.30}):
        answer = tracker.post(OWNTRACKS, json=broken, headers=_basic("volunteer1", key))
        assert answer.status_code == 200 and answer.get_json() == []
    assert _points(session, device_id) == []


def test_owntracks_without_a_live_key_is_401_and_stores_nothing(app, client_as, session):
    device_id, key = _register(client_as)
    tracker = app.test_client()
    location = {"_type": "location", "tst": 1796040000, "lat": 23.88, "lon": 117.30}
    assert tracker.post(OWNTRACKS, json=location).status_code == 401
    wrong = tracker.post(OWNTRACKS, json=location, headers=_basic("volunteer1", "not-the-key"))
    assert wrong.status_code == 401 and b"not-the-key" not in wrong.get_data()
    assert client_as("volunteer1").post(f"/api/v1/devices/{device_id}/revoke").status_code == 200
    assert tracker.post(OWNTRACKS, json=location, headers=_basic("volunteer1", key)).status_code == 401
    assert _points(session, device_id) == []


def _recorder_point(iso: str, lat: float, lon: float, accuracy: float = 6) -> dict:
    return {"timestamp": iso, "coords": {"latitude": lat, "longitude": lon, "accuracy": accuracy, "speed": 1.25,
                                         "heading": 45, "altitude": 20}}


def test_a_recorder_batch_is_stored_in_time_order_and_a_retry_stores_nothing(app, client_as, session):
    device_id, key = _register(client_as)
    recorder = app.test_client()
    batch = {"device_id": key, "location": [
        _recorder_point("2026-11-30T20:00:20+08:00", 23.8814, 117.3014),
        _recorder_point("2026-11-30T12:00:00Z", 23.8812, 117.3012),
        _recorder_point("2026-11-30T20:00:10+08:00", 23.8813, 117.3013, accuracy=150),
    ]}
    answer = recorder.post(RECORDER, json=batch)
    assert answer.status_code == 200
    assert answer.get_json() == {"received": 3, "stored": 3, "replays": 0, "off_duty": 0}
    points = _points(session, device_id)
    assert [point.fixed_at for point in points] == [INSTANT, INSTANT + dt.timedelta(seconds=10),
                                                    INSTANT + dt.timedelta(seconds=20)]
    assert [point.source for point in points] == ["recorder"] * 3
    assert [point.flags for point in points] == [[], ["poor_accuracy"], []]
    assert to_shape(points[2].geom).y == pytest.approx(23.8814, abs=1e-9)

    retry = recorder.post(RECORDER, json=batch)  # the phone did not hear the answer and sends again
    assert retry.get_json() == {"received": 3, "stored": 0, "replays": 3, "off_duty": 0}
    after_duty = recorder.post(RECORDER, json={"device_id": key, "location": [
        _recorder_point("2026-11-30T16:30:00Z", 23.8815, 117.3015)]})  # past DUTY_MAX_HOURS (3 h here)
    assert after_duty.get_json() == {"received": 1, "stored": 0, "replays": 0, "off_duty": 1}
    assert len(_points(session, device_id)) == 3


def test_a_bad_recorder_batch_is_refused_whole(app, client_as, session):
    device_id, key = _register(client_as)
    recorder = app.test_client()
    broken = recorder.post(f"{RECORDER}?lang=en", json={"device_id": key, "location": [
        _recorder_point("2026-11-30T12:00:00Z", 23.8812, 117.3012),
        {"timestamp": "2026-11-30T12:00:10Z", "coords": {"latitude": "north", "longitude": 117.3}}]})
    assert broken.status_code == 400 and "latitude" in broken.get_json()["error"]["message"]
    assert _points(session, device_id) == []  # nothing of a refused batch is kept
    too_long = recorder.post(f"{RECORDER}?lang=en", json={"device_id": key, "location": [
        _recorder_point("2026-11-30T12:00:00Z", 23.8812, 117.3012)] * 1001})
    assert too_long.status_code == 422 and too_long.get_json()["error"]["code"] == "recorder_batch_too_long"
    not_a_list = recorder.post(f"{RECORDER}?lang=en", json={"device_id": key, "location": {}})
    assert not_a_list.get_json()["error"]["code"] == "recorder_batch_format"
    unknown = recorder.post(RECORDER, json={"device_id": "nobody", "location": [
        _recorder_point("2026-11-30T12:00:00Z", 23.8812, 117.3012)]})
    assert unknown.status_code == 404
