"""The read side of positions (issue 17, point 5): a patrol's points, a patroller's last position on duty,
and "who read a patroller's points is logged" -- in the audit trail, without a coordinate."""
from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
import sqlalchemy as sa

from gridsvc.audit.models import AuditEntry
from gridsvc.auth.models import User
from gridsvc.people.models import Patroller
from gridsvc.positions.models import DutySwitch

URL = "/api/v1/positions/osmand"
UTC = dt.timezone.utc
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
# volunteer1's patrol: 2026-11-30 11:00-13:00 in Asia/Shanghai = 03:00-05:00 UTC.
PATROL_START, PATROL_END = "2026-11-30T11:00:00+08:00", "2026-11-30T13:00:00+08:00"
# Fixes of volunteer1's phone inside station 350600001001, with distinctive digits (looked for in the
# audit trail). (UTC fix time, lat, lon, accuracy m)
BEFORE = (dt.datetime(2026, 11, 30, 2, 50, tzinfo=UTC), "23.8521417", "117.2521863", "6")
FIRST = (dt.datetime(2026, 11, 30, 3, 10, tzinfo=UTC), "23.8531742", "117.2533618", "5")
POOR = (dt.datetime(2026, 11, 30, 3, 40, tzinfo=UTC), "23.8534265", "117.2537193", "500")  # poor_accuracy
THIRD = (dt.datetime(2026, 11, 30, 4, 20, tzinfo=UTC), "23.8538811", "117.2541127", "8")
AT_END = (dt.datetime(2026, 11, 30, 5, 0, tzinfo=UTC), "23.8542396", "117.2546952", "7")  # the end is included
AFTER = (dt.datetime(2026, 11, 30, 5, 20, tzinfo=UTC), "23.8547683", "117.2551374", "9")  # the latest fix
ALL_FIXES = (BEFORE, FIRST, POOR, THIRD, AT_END, AFTER)
SENDING_ORDER = (THIRD, FIRST, AFTER, POOR, BEFORE, AT_END)  # not in time order: the answer sorts


@pytest.fixture(autouse=True)
def _volunteer1_on_duty_at_the_fixes(app, session):
    """Points are stored only on duty: volunteer1's own switch was on from 02:00 UTC that day."""
    patroller_id = session.scalar(sa.select(User.patroller_id).where(User.username == "volunteer1"))
    session.merge(DutySwitch(patroller_id=patroller_id, on_since=dt.datetime(2026, 11, 30, 2, 0, tzinfo=UTC)))
    session.commit()
    previous = app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"]
    app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"] = 24 * 36500, 36500  # never too old
    yield
    app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"] = previous


def _user(session, username: str) -> User:
    return session.scalar(sa.select(User).where(User.username == username))


def _volunteer1(session) -> Patroller:
    return session.get(Patroller, _user(session, "volunteer1").patroller_id)


def _send_fixes(app, client_as) -> tuple[int, str]:
    """volunteer1's phone registered and every fix sent over OsmAnd; (device id, device key)."""
    device = client_as("volunteer1").post("/api/v1/devices", json={"name": "phone"}).get_json()
    tracker = app.test_client()
    for at, lat, lon, accuracy in SENDING_ORDER:
        answer = tracker.get(URL, query_string={"id": device["key"], "lat": lat, "lon": lon,
                                                "timestamp": str(int(at.timestamp())), "accuracy": accuracy,
                                                "speed": "1", "batt": "80"})
        assert answer.status_code == 200
    return device["id"], device["key"]


def _patrol(client_as, session, start: str = PATROL_START, end: str = PATROL_END) -> int:
    created = client_as("volunteer1").post("/api/v1/patrols", json={
        "client_uuid": str(uuid.uuid4()), "kind": "individual", "volunteer": _volunteer1(session).app_account_id,
        "start": start, "end": end})
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


def _reads(session, after_id: int) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(sa.select(AuditEntry).where(AuditEntry.id > after_id, AuditEntry.action == "read")
                                .order_by(AuditEntry.id)))


def _last_audit_id(session) -> int:
    return session.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0


def _assert_no_fix_detail(entry: AuditEntry, key: str) -> None:
    """The whole audit row, serialised, holds no coordinate digits, device key or fix time."""
    text = json.dumps(entry.to_dict(), ensure_ascii=False)
    for at, lat, lon, _accuracy in ALL_FIXES:
        assert lat[:7] not in text and lon[:8] not in text  # "23.8531", "117.2533": no coordinate
        rest = text.replace(entry.at.isoformat(), "")  # the read's own time
        for moment in (at, at.astimezone(SHANGHAI)):
            assert moment.strftime("%H:%M") not in rest and str(int(at.timestamp())) not in rest
    assert key not in text and "poor_accuracy" not in text and "osmand" not in text


def test_a_patrols_points_come_in_time_order_with_their_flags_and_only_within_its_window(app, client_as, session):
    device_id, _key = _send_fixes(app, client_as)
    patrol_id = _patrol(client_as, session)
    answer = client_as("station1").get(f"/api/v1/patrols/{patrol_id}/points")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["patrol_id"] == patrol_id and body["count"] == 4 and body["flagged_count"] == 1
    points = body["points"]
    assert [point["time"] for point in points] == [
        "2026-11-30T11:10:00+08:00", "2026-11-30T11:40:00+08:00", "2026-11-30T12:20:00+08:00",
        "2026-11-30T13:00:00+08:00"]
    assert [(point["lat"], point["lon"]) for point in points] == [
        pytest.approx((23.8531742, 117.2533618), abs=1e-9), pytest.approx((23.8534265, 117.2537193), abs=1e-9),
        pytest.approx((23.8538811, 117.2541127), abs=1e-9), pytest.approx((23.8542396, 117.2546952), abs=1e-9)]
    assert [point["flags"] for point in points] == [[], ["poor_accuracy"], [], []]
    assert [point["accuracy_m"] for point in points] == [5.0, 500.0, 8.0, 7.0]
    first = points[0]
    assert first["device_id"] == device_id and first["source"] == "osmand" and first["battery_percent"] == 80.0
    assert first["speed_mps"] == pytest.approx(0.514444, abs=1e-5)  # 1 knot
    assert first["heading_deg"] is None and first["altitude_m"] is None
    assert first["received_at"].endswith("+08:00")
    assert set(first) == {"id", "time", "received_at", "lat", "lon", "accuracy_m", "speed_mps", "heading_deg",
                          "altitude_m", "battery_percent", "source", "device_id", "flags"}
    assert len({point["id"] for point in points}) == 4


def test_a_patrol_without_points_answers_an_empty_list(client_as, session):
    patrol_id = _patrol(client_as, session, "2026-11-29T11:00:00+08:00", "2026-11-29T12:00:00+08:00")
    body = client_as("manager").get(f"/api/v1/patrols/{patrol_id}/points").get_json()
    assert body == {"patrol_id": patrol_id, "points": [], "count": 0, "flagged_count": 0}


def test_another_station_gets_404_for_the_patrol_points_and_the_last_position(app, client_as, session):
    _send_fixes(app, client_as)
    patrol_id = _patrol(client_as, session)
    account = _volunteer1(session).app_account_id
    before = _last_audit_id(session)
    other = client_as("station2")
    points = other.get(f"/api/v1/patrols/{patrol_id}/points?lang=en")
    assert points.status_code == 404 and points.get_json()["error"]["code"] == "patrol_not_found"
    # The very answer of a patrol that is not there.
    assert other.get(f"/api/v1/patrols/{patrol_id}?lang=en").get_json() == points.get_json()
    last = other.get(f"/api/v1/volunteers/{account}/last-position?lang=en")
    assert last.status_code == 404 and last.get_json()["error"]["code"] == "patroller_not_found"
    assert _reads(session, before) == []


def test_each_read_by_someone_else_is_logged_once_without_a_coordinate(app, client_as, session):
    _device_id, key = _send_fixes(app, client_as)
    patrol_id = _patrol(client_as, session)
    volunteer = _volunteer1(session)
    for username in ("station1", "worker1", "viewer", "manager"):
        reader = _user(session, username)
        before = _last_audit_id(session)
        assert client_as(username).get(f"/api/v1/patrols/{patrol_id}/points").get_json()["count"] == 4
        entries = _reads(session, before)
        assert len(entries) == 1, username
        entry = entries[0]
        assert entry.actor_user_id == reader.id and entry.actor == f"user:{username}"
        assert entry.table_name == "patrollers" and entry.row_id == str(volunteer.id) and entry.before is None
        assert entry.after == {"read": "positions", "what": "patrol_points", "patroller_id": volunteer.id,
                               "patrol_id": patrol_id}
        assert entry.ip == "127.0.0.1" and entry.request_id
        _assert_no_fix_detail(entry, key)

        before = _last_audit_id(session)
        last = client_as(username).get(f"/api/v1/volunteers/{volunteer.app_account_id}/last-position")
        assert last.status_code == 200 and last.get_json()["position"]["time"] == "2026-11-30T13:20:00+08:00"
        entries = _reads(session, before)
        assert len(entries) == 1, username
        assert entries[0].actor_user_id == reader.id and entries[0].row_id == str(volunteer.id)
        assert entries[0].after == {"read": "positions", "what": "last_position", "patroller_id": volunteer.id}
        _assert_no_fix_detail(entries[0], key)


def test_the_patroller_reads_their_own_points_unlogged(app, client_as, session):
    _send_fixes(app, client_as)
    patrol_id = _patrol(client_as, session)
    account = _volunteer1(session).app_account_id
    before = _last_audit_id(session)
    own = client_as("volunteer1")
    points = own.get(f"/api/v1/patrols/{patrol_id}/points")
    assert points.status_code == 200 and points.get_json()["count"] == 4
    last = own.get(f"/api/v1/volunteers/{account}/last-position")
    assert last.status_code == 200 and last.get_json()["position"]["lat"] == pytest.approx(23.8547683, abs=1e-9)
    assert _reads(session, before) == []


def test_the_last_position_is_the_latest_fix_and_null_without_one(app, client_as, session):
    device_id, _key = _send_fixes(app, client_as)
    volunteer = _volunteer1(session)
    body = client_as("station1").get(f"/api/v1/volunteers/{volunteer.app_account_id}/last-position").get_json()
    assert body["volunteer"] == {"id": volunteer.id, "app_account_id": volunteer.app_account_id,
                                 "name": volunteer.name, "role": "volunteer", "station_code": "350600001001"}
    position = body["position"]
    # The latest by fix time (05:20 UTC), though 05:00 was sent last.
    assert position["time"] == "2026-11-30T13:20:00+08:00"
    assert (position["lat"], position["lon"]) == pytest.approx((23.8547683, 117.2551374), abs=1e-9)
    assert position["accuracy_m"] == 9.0 and position["flags"] == [] and position["device_id"] == device_id
    # worker1's patroller has no stored point; the ref may be the patroller id.
    worker = _user(session, "worker1").patroller_id
    before = _last_audit_id(session)
    empty = client_as("station1").get(f"/api/v1/volunteers/{worker}/last-position")
    assert empty.status_code == 200
    assert empty.get_json()["position"] is None and empty.get_json()["volunteer"]["id"] == worker
    assert len(_reads(session, before)) == 1  # asking was a read all the same


def test_a_volunteer_reads_only_their_own_last_position(app, client_as, session):
    worker = _user(session, "worker1").patroller_id
    answer = client_as("volunteer1").get(f"/api/v1/volunteers/{worker}/last-position?lang=en")
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "patroller_not_found"
    own = client_as("volunteer1").get(f"/api/v1/volunteers/{_volunteer1(session).id}/last-position")
    assert own.status_code == 200 and own.get_json()["position"] is None


def test_a_head_request_shows_no_point_and_logs_nothing(app, client_as, session):
    _send_fixes(app, client_as)
    patrol_id = _patrol(client_as, session)
    before = _last_audit_id(session)
    station = client_as("station1")
    assert station.head(f"/api/v1/patrols/{patrol_id}/points").status_code == 200
    assert station.head(f"/api/v1/volunteers/{_volunteer1(session).id}/last-position").status_code == 200
    assert _reads(session, before) == []


def test_a_point_dated_in_the_future_never_hides_the_last_real_position(app, client_as, session):
    _device_id, key = _send_fixes(app, client_as)
    ahead = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(days=396)  # a phone's clock 13 months ahead
    assert app.test_client().get(URL, query_string={"id": key, "lat": "23.8550001", "lon": "117.2550001",
                                                    "timestamp": str(int(ahead.timestamp()))}).status_code == 200
    from gridsvc.positions.models import Position

    stored = session.scalar(sa.select(Position.flags).where(Position.fixed_at == ahead))
    assert stored is not None and "future" in stored  # kept and flagged, as every point
    last = client_as("station1").get(f"/api/v1/volunteers/{_volunteer1(session).app_account_id}/last-position")
    assert last.status_code == 200
    position = last.get_json()["position"]
    assert (position["lat"], position["lon"]) == (float(AFTER[1]), float(AFTER[2]))
    assert dt.datetime.fromisoformat(position["time"]) == AFTER[0]


def test_the_audit_page_lists_the_reads_of_a_patrollers_positions(app, client_as, session):
    volunteer = _volunteer1(session)
    assert client_as("station1").get(f"/api/v1/volunteers/{volunteer.app_account_id}/last-position").status_code == 200
    page = client_as("admin").get(f"/audit?action=read&table=patrollers&row_id={volunteer.id}&lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<option value="read" selected' in html
    assert "last_position" in html and "station1" in html
