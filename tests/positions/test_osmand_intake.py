"""The OsmAnd / Traccar Client 9 intake: same fix, same point; replays store nothing; revoked keys stop."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import to_shape

from gridsvc.audit.models import AuditEntry
from gridsvc.geo.geodesy import geodesic_distance_m
from gridsvc.positions.models import Device, Position
from maps.gcj02 import wgs84_to_gcj02

URL = "/api/v1/positions/osmand"
# 2026-11-30 04:00:00 UTC = 12:00:00 in Asia/Shanghai = epoch 1796011200 s.
INSTANT = dt.datetime(2026, 11, 30, 4, 0, 0, tzinfo=dt.timezone.utc)
LAT, LON = "23.8812347", "117.3012349"  # distinctive digits, looked for in the audit trail


@pytest.fixture(autouse=True)
def _old_fixes_are_not_too_old(app):
    previous = app.config["POSITION_MAX_AGE_DAYS"]
    app.config["POSITION_MAX_AGE_DAYS"] = 36500  # the fixed instant above must not age into "too_old"
    yield
    app.config["POSITION_MAX_AGE_DAYS"] = previous


@pytest.fixture(autouse=True)
def _volunteer1_on_duty_at_the_instant(app, session):
    """Points are stored only on duty (tests/positions/test_duty_and_retention.py): volunteer1 switched on before the fix."""
    from gridsvc.auth.models import User
    from gridsvc.positions.models import DutySwitch

    patroller_id = session.scalar(sa.select(User.patroller_id).where(User.username == "volunteer1"))
    session.merge(DutySwitch(patroller_id=patroller_id, on_since=INSTANT - dt.timedelta(hours=1)))
    session.commit()
    previous = app.config["DUTY_MAX_HOURS"]
    app.config["DUTY_MAX_HOURS"] = 24 * 36500
    yield
    app.config["DUTY_MAX_HOURS"] = previous


def _register(client_as, **fields) -> tuple[int, str]:
    body = client_as("volunteer1").post("/api/v1/devices", json={"name": "phone", **fields}).get_json()
    return body["id"], body["key"]


def _points(session, device_id) -> list[Position]:
    session.expire_all()
    return list(session.scalars(sa.select(Position).where(Position.device_id == device_id).order_by(Position.id)))


def _same_fix(point: Position) -> None:
    shape = to_shape(point.geom)
    assert point.fixed_at == INSTANT
    assert shape.y == pytest.approx(23.8812347, abs=1e-9) and shape.x == pytest.approx(117.3012349, abs=1e-9)
    assert point.speed_mps == pytest.approx(5.144444, abs=1e-5)  # 10 knots
    assert point.accuracy_m == 5.0 and point.heading_deg == 90.0 and point.altitude_m == 12.0
    assert point.flags == []


def test_the_same_fix_by_query_form_local_time_and_json_stores_the_same_point(app, client_as, session):
    anonymous = app.test_client()  # no cookie, and CSRF checks on: a tracker has neither
    ids = []
    device_id, key = _register(client_as)
    ids.append(device_id)
    response = anonymous.get(f"{URL}?id={key}&lat={LAT}&lon={LON}&timestamp=1796011200&speed=10&accuracy=5"
                             "&bearing=90&altitude=12&batt=64")
    assert response.status_code == 200 and response.get_data() == b""
    device_id, key = _register(client_as)
    ids.append(device_id)
    response = anonymous.post(URL, data={"deviceid": key, "lat": LAT, "lon": LON, "timestamp": "1796011200000",
                                         "speed": "10", "accuracy": "5", "heading": "90", "altitude": "12"})
    assert response.status_code == 200
    device_id, key = _register(client_as)
    ids.append(device_id)
    response = anonymous.post(URL, data={"id": key, "location": f"{LAT},{LON}", "timestamp": "2026-11-30 12:00:00",
                                         "speed": "10", "accuracy": "5", "bearing": "90", "altitude": "12"})
    assert response.status_code == 200
    device_id, key = _register(client_as)
    ids.append(device_id)
    response = anonymous.post(URL, json={"device_id": key, "location": {
        "timestamp": "2026-11-30T12:00:00+08:00", "battery": {"level": 0.64},
        "coords": {"latitude": 23.8812347, "longitude": 117.3012349, "accuracy": 5, "speed": 5.144444,
                   "heading": 90, "altitude": 12}}})
    assert response.status_code == 200, response.get_data()
    sources = []
    for device_id in ids:
        points = _points(session, device_id)
        assert len(points) == 1
        _same_fix(points[0])
        sources.append(points[0].source)
    assert sources == ["osmand", "osmand", "osmand", "traccar_json"]
    device = session.get(Device, ids[0])
    assert device.battery_percent == 64.0 and device.last_seen_at is not None


def test_a_replay_stores_nothing_and_a_conflicting_fix_is_flagged(app, client_as, session):
    device_id, key = _register(client_as)
    anonymous = app.test_client()
    query = f"{URL}?id={key}&lat={LAT}&lon={LON}&timestamp=1796011200"
    assert anonymous.get(query).status_code == 200
    assert anonymous.get(query).status_code == 200  # the same fix again
    assert anonymous.post(URL, data={"id": key, "lat": LAT, "lon": LON, "timestamp": "1796011200"}).status_code == 200
    assert len(_points(session, device_id)) == 1
    assert anonymous.get(f"{URL}?id={key}&lat=23.8813&lon={LON}&timestamp=1796011200").status_code == 200
    points = _points(session, device_id)
    assert [point.flags for point in points] == [[], ["conflicting_fix"]]


def test_unknown_and_revoked_devices_get_traccars_answer_and_nothing_is_stored(app, client_as, session):
    anonymous = app.test_client()
    unknown = anonymous.get(f"{URL}?id=not-a-device&lat={LAT}&lon={LON}")
    assert unknown.status_code == 400 and b"not-a-device" not in unknown.get_data()
    as_json = anonymous.post(URL, json={"device_id": "not-a-device", "location": {
        "timestamp": "2026-11-30T04:00:00Z", "coords": {"latitude": 23.88, "longitude": 117.30}}})
    assert as_json.status_code == 404 and b"not-a-device" not in as_json.get_data()

    device_id, key = _register(client_as)
    assert client_as("volunteer1").post(f"/api/v1/devices/{device_id}/revoke").status_code == 200
    refused = anonymous.get(f"{URL}?id={key}&lat={LAT}&lon={LON}&timestamp=1796011200")
    assert refused.status_code == 400 and key.encode() not in refused.get_data()
    assert _points(session, device_id) == []


def test_a_rotated_key_replaces_the_old_one(app, client_as, session):
    device_id, old_key = _register(client_as)
    new_key = client_as("volunteer1").post(f"/api/v1/devices/{device_id}/key").get_json()["key"]
    anonymous = app.test_client()
    assert anonymous.get(f"{URL}?id={old_key}&lat={LAT}&lon={LON}&timestamp=1796011200").status_code == 400
    assert anonymous.get(f"{URL}?id={new_key}&lat={LAT}&lon={LON}&timestamp=1796011200").status_code == 200
    assert len(_points(session, device_id)) == 1


def test_the_audit_trail_holds_neither_coordinates_nor_keys(app, client_as, session):
    device_id, key = _register(client_as)
    anonymous = app.test_client()
    assert anonymous.get(f"{URL}?id={key}&lat={LAT}&lon={LON}&timestamp=1796011200&batt=50").status_code == 200
    assert anonymous.get(f"{URL}?id={key}&lat={LAT}&lon={LON}&timestamp=1796011260&batt=49").status_code == 200
    assert len(_points(session, device_id)) == 2
    rows = session.execute(sa.select(AuditEntry.table_name, sa.cast(AuditEntry.before, sa.Text),
                                     sa.cast(AuditEntry.after, sa.Text))).all()
    text = " ".join(str(part) for row in rows for part in row)
    assert "devices" in {row[0] for row in rows}
    assert "positions" not in {row[0] for row in rows}
    assert "23.881234" not in text and "117.301234" not in text and key not in text


def test_a_gcj02_device_is_stored_in_wgs84(app, client_as, session):
    device_id, key = _register(client_as, datum="gcj02")
    assert app.test_client().get(f"{URL}?id={key}&lat={LAT}&lon={LON}&timestamp=1796011200").status_code == 200
    shape = to_shape(_points(session, device_id)[0].geom)
    # The stored point is the WGS-84 one whose GCJ-02 form is what the phone sent, a few hundred metres away.
    assert wgs84_to_gcj02(shape.x, shape.y) == pytest.approx((117.3012349, 23.8812347), abs=1e-6)
    assert 200 < geodesic_distance_m(shape.x, shape.y, 117.3012349, 23.8812347) < 1000


def test_a_message_without_coordinates_reuses_the_last_position_and_is_flagged(app, client_as, session):
    device_id, key = _register(client_as)
    anonymous = app.test_client()
    assert anonymous.get(f"{URL}?id={key}&lat={LAT}&lon={LON}&timestamp=1796011200").status_code == 200
    assert anonymous.get(f"{URL}?id={key}&timestamp=1796011260").status_code == 200
    points = _points(session, device_id)
    assert points[1].flags == ["reused_position"]
    assert to_shape(points[1].geom).y == pytest.approx(23.8812347, abs=1e-9)


def test_no_log_line_holds_the_key_and_head_stores_nothing(app, client_as, session, caplog):
    import logging

    device_id, key = _register(client_as)
    anonymous = app.test_client()
    with caplog.at_level(logging.DEBUG):
        assert anonymous.head(f"{URL}?id={key}&lat={LAT}&lon={LON}&timestamp=1796011200").status_code == 200
        assert _points(session, device_id) == []
        assert anonymous.get(f"{URL}?id={key}&lat={LAT}&lon={LON}&timestamp=1796011200").status_code == 200
        assert anonymous.get(f"{URL}?id={key}&lat=999&lon={LON}").status_code == 400
        assert anonymous.post(URL, json={"device_id": key, "location": {"timestamp": "x"}}).status_code == 400
        client_as("volunteer1").post(f"/api/v1/devices/{device_id}/revoke")
        assert anonymous.get(f"{URL}?id={key}&lat={LAT}&lon={LON}&timestamp=1796011300").status_code == 400
    assert key not in caplog.text
    assert len(_points(session, device_id)) == 1


def test_a_signed_in_browser_cookie_is_not_read_by_the_intake(app, client_as, session):
    device_id, key = _register(client_as)
    browser = client_as("volunteer1")  # a session cookie the intake must ignore
    response = browser.get(f"{URL}?id={key}&lat={LAT}&lon={LON}&timestamp=1796011200")
    assert response.status_code == 200
    # not answered as a signed-in request (those get no-store): the account was never looked up
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert len(_points(session, device_id)) == 1
