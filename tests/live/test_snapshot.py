"""Who is out patrolling now (issue 21): the snapshot's patrollers, positions, states and scope.

The expected distance is this file's own haversine over the points it sent.
"""
from __future__ import annotations

import datetime as dt
import math
import uuid

import sqlalchemy as sa

from gridsvc.auth.models import User
from gridsvc.grids.models import Grid
from gridsvc.live import service

OSMAND = "/api/v1/positions/osmand"
STATION = "350600001001"  # volunteer1's
EARTH_RADIUS_M = 6_371_008.8


def _haversine_m(a, b) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def _out_patrolling(app, session, client_as, *, last_age_s: int = 30):
    """volunteer1 starts a patrol 20 minutes ago (by the recorder) and sends points, the last `last_age_s` old."""
    volunteer = client_as("volunteer1")
    key = volunteer.post("/api/v1/devices", json={"name": "phone"}).get_json()["key"]
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    started = now - dt.timedelta(minutes=20)
    phone = app.test_client()
    body = {"device_id": key, "client_uuid": str(uuid.uuid4()), "kind": "individual", "start": started.isoformat()}
    assert phone.post("/api/v1/patrols/recorder", json=body).status_code == 200
    centre = session.scalar(sa.select(sa.func.ST_AsText(sa.func.ST_PointOnSurface(Grid.geom))).where(Grid.code == STATION))
    lon0, lat0 = (float(v) for v in centre.removeprefix("POINT(").rstrip(")").split())
    last = now - dt.timedelta(seconds=last_age_s)
    times = [started + dt.timedelta(minutes=1) + i * (last - started - dt.timedelta(minutes=1)) / 9 for i in range(10)]
    sent = [(round(lon0, 7), round(lat0 + i * 0.0004, 7), t.replace(microsecond=0)) for i, t in enumerate(times)]
    for lon, lat, time in sent:
        response = phone.get(f"{OSMAND}?id={key}&lat={lat:.7f}&lon={lon:.7f}&timestamp={int(time.timestamp())}"
                             "&accuracy=6&speed=1.2&batt=57")
        assert response.status_code == 200
    return sent, started, now


def test_the_snapshot_shows_a_running_patrol_with_its_last_fix_distance_and_state(app, session, client_as):
    sent, started, now = _out_patrolling(app, session, client_as)
    snapshot = client_as("manager").get("/api/v1/live")
    assert snapshot.status_code == 200 and snapshot.headers["Cache-Control"] == "no-store"
    body = snapshot.get_json()
    [out] = [p for p in body["patrollers"] if p["volunteer"]["app_account_id"] == "XLXQ000018"]
    assert out["state"] == "online"
    assert (out["position"]["lon"], out["position"]["lat"]) == sent[-1][:2]
    # OsmAnd's speed is in knots, as Traccar reads it.
    assert out["position"]["accuracy_m"] == 6 and math.isclose(out["position"]["speed_mps"], 1.2 * 1852 / 3600)
    assert out["position"]["battery_percent"] == 57
    assert 30 <= out["position"]["age_seconds"] <= 60
    assert out["session"]["kind"] == "individual" and out["session"]["station"]["code"] == STATION
    assert out["session"]["points"] == len(sent)
    expected = sum(_haversine_m(a, b) for a, b in zip(sent, sent[1:]))
    assert abs(out["session"]["distance_m"] - expected) <= 0.1
    assert 1200 <= out["session"]["elapsed_seconds"] <= 1230
    assert body["counts"]["online"] >= 1 and body["by_station"][STATION] >= 1
    # Stopped, the patroller is no longer out.
    patrol_id = out["session"]["id"]
    assert client_as("volunteer1").post(f"/api/v1/patrols/{patrol_id}/stop").status_code == 200
    after = client_as("manager").get("/api/v1/live").get_json()
    assert patrol_id not in [p["session"]["id"] for p in after["patrollers"]]


def test_the_state_goes_stale_then_offline_at_the_configured_thresholds(app, session, client_as):
    sent, started, now = _out_patrolling(app, session, client_as, last_age_s=0)
    rules = service.LiveRules.from_config(app.config)
    last = sent[-1][2]
    patroller_id = session.scalar(sa.select(User.patroller_id).where(User.username == "volunteer1"))

    def state_at(moment):
        [out] = [p for p in service.snapshot(session, station_ids=None, now=moment, rules=rules)
                 if p.patrol.patroller_id == patroller_id]
        return out.state

    stale, offline = rules.stale_after, rules.offline_after
    assert (stale, offline) == (dt.timedelta(seconds=120), dt.timedelta(seconds=600))
    assert state_at(last + stale) == "online"
    assert state_at(last + stale + dt.timedelta(seconds=1)) == "stale"
    assert state_at(last + offline) == "stale"
    assert state_at(last + offline + dt.timedelta(seconds=1)) == "offline"


def test_a_station_sees_only_its_own_patrollers_and_a_volunteer_none(app, session, client_as):
    _out_patrolling(app, session, client_as)
    own = client_as("station1").get("/api/v1/live").get_json()
    other = client_as("station2").get("/api/v1/live").get_json()
    assert "XLXQ000018" in [p["volunteer"]["app_account_id"] for p in own["patrollers"]]
    assert all(p["session"]["station"]["code"] == STATION for p in own["patrollers"])
    assert "XLXQ000018" not in [p["volunteer"]["app_account_id"] for p in other["patrollers"]]
    assert STATION not in other["by_station"]
    assert client_as("volunteer1").get("/api/v1/live").status_code == 403
    assert app.test_client().get("/api/v1/live").status_code == 401


def test_a_patrol_with_no_position_yet_is_offline_without_one(app, session, client_as):
    volunteer = client_as("volunteer1")
    started = volunteer.post("/api/v1/patrols/start", json={"client_uuid": str(uuid.uuid4()), "kind": "individual"})
    assert started.status_code == 201
    [out] = [p for p in client_as("manager").get("/api/v1/live").get_json()["patrollers"]
             if p["session"]["id"] == started.get_json()["id"]]
    assert out["state"] == "offline" and out["position"] is None and out["session"]["distance_m"] == 0


def test_the_live_page_lists_the_callers_stations_and_explains_an_empty_zone(client_as):
    page = client_as("viewer").get("/live")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('data-station="') == 15 and "live-page.js" in html
    assert "现在没有人在巡逻" in html
    station = client_as("station2").get("/live").get_data(as_text=True)
    assert station.count('data-station="') == 1
    assert client_as("volunteer1").get("/live").status_code == 403


def test_the_process_state_kept_up_to_date_point_by_point_equals_a_snapshot_read_in_full(app, session, client_as):
    """The stream's in-memory state: new points added one by one, a late older point, a stop; always equal to a full read."""
    sent, started, now = _out_patrolling(app, session, client_as, last_age_s=60)
    rules = service.LiveRules.from_config(app.config)
    state = service.LiveState()

    def same(moment):
        full = service.snapshot(session, station_ids=None, now=moment, rules=rules)
        kept = state.snapshot(station_ids=None, now=moment, rules=rules)
        assert [(p.patrol.id, p.last, p.distance_m, p.points, p.state) for p in kept] == \
               [(p.patrol.id, p.last, p.distance_m, p.points, p.state) for p in full]
        return kept

    assert state.refresh(session, now=now, rules=rules) is True
    same(now)
    assert state.refresh(session, now=now, rules=rules) is False  # nothing new
    key = client_as("volunteer1").post("/api/v1/devices", json={"name": "second phone"}).get_json()["key"]
    phone = app.test_client()
    lon, lat, last_time = sent[-1]
    for step, moment in ((1, last_time + dt.timedelta(seconds=20)), (2, last_time + dt.timedelta(seconds=40)),
                         (3, last_time - dt.timedelta(seconds=90))):  # the third: a buffered, older point
        response = phone.get(f"{OSMAND}?id={key}&lat={lat + step * 0.0003:.7f}&lon={lon:.7f}"
                             f"&timestamp={int(moment.timestamp())}&accuracy=6")
        assert response.status_code == 200
        assert state.refresh(session, now=now, rules=rules) is True
        [out] = same(now)
    assert out.points == len(sent) + 3
    stopped = client_as("volunteer1").post(f"/api/v1/patrols/{out.patrol.id}/stop")
    assert stopped.status_code == 200
    assert state.refresh(session, now=now, rules=rules) is True
    assert same(now) == []
