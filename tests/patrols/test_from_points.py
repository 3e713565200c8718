"""Patrols built from points (issue 19): a real walk sent point by point over OsmAnd while on duty becomes
proposed trips; confirmed they count, unconfirmed they don't; reverify applies a changed limit.

The expected figures are this file's own arithmetic on the points it sent (a haversine of its own,
pair by pair), never a call into gridsvc.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from shapely.geometry import Point, shape

from gridsvc.audit.models import AuditEntry
from gridsvc.auth.models import User
from gridsvc.grids.models import Grid
from gridsvc.patrols.gpx import parse_gpx
from gridsvc.patrols.models import PatrolSession, TaskSignup
from gridsvc.patrols.track import Track
from gridsvc.positions.models import DutySwitch, Position
from tests.patrols.gpx_helpers import load_gpx_bytes, translate_track

OSMAND = "/api/v1/positions/osmand"
STATION = "350600001001"  # volunteer1's
# The walk: the second segment of korita-zbevnica.gpx (a real hike, 176 points over 76 minutes),
# from its third point: its first two stand 12 minutes within a few metres (a stop, no patrol yet).
WALK_FILE, WALK_FIRST_POINT = "korita-zbevnica.gpx", 2
SILENCE = dt.timedelta(minutes=20)
JUMP_EAST_M = 5000.0
EARTH_RADIUS_M = 6_371_008.8


def _haversine_m(a, b) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def _verified(points, *, max_speed_kmh: float, max_gap_s: float) -> int:
    """Seconds of the pairs neither longer than the gap limit nor faster than the speed limit."""
    total = 0
    for a, b in zip(points, points[1:]):
        seconds = (b[2] - a[2]).total_seconds()
        if seconds <= max_gap_s and _haversine_m(a, b) / seconds * 3.6 <= max_speed_kmh:
            total += seconds
    return int(total)


@pytest.fixture
def walk(app, session, client_as):
    """volunteer1 on duty with a phone; the walk moved into their station and shifted to end 30 minutes ago."""
    features = json.loads((Path(__file__).resolve().parents[2] / "seed" / "data" / "grids.geojson").read_text())
    station_area = next(shape(f["geometry"]) for f in features["features"]
                        if f["properties"].get("name") == "第01社区(村)网格服务站")
    track = parse_gpx(load_gpx_bytes(WALK_FILE))
    points = list(track.points)
    # The hike's second segment: 176 points from 09:36:30 to 10:52:22 UTC (the file's own times).
    start = next(i for i, p in enumerate(points) if p.time == dt.datetime(2010, 10, 3, 9, 36, 30, tzinfo=dt.timezone.utc))
    segment = points[start:start + 176]
    assert segment[-1].time == dt.datetime(2010, 10, 3, 10, 52, 22, tzinfo=dt.timezone.utc)
    segment = segment[WALK_FIRST_POINT:]
    centre = station_area.representative_point()
    moved = translate_track(Track(points=tuple(segment)), to_lon=centre.x, to_lat=centre.y)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    shift = (now - dt.timedelta(minutes=30)) - moved.points[-1].time
    walk_points = [(p.lon, p.lat, p.time + shift) for p in moved.points]
    assert all(station_area.contains(Point(lon, lat)) for lon, lat, _t in walk_points)
    # The silence: the phone sends nothing for 20 minutes in the middle of the walk.
    middle = walk_points[0][2] + (walk_points[-1][2] - walk_points[0][2]) / 2
    before = [p for p in walk_points if p[2] < middle - SILENCE / 2]
    after = [p for p in walk_points if p[2] >= middle + SILENCE / 2]
    assert (after[0][2] - before[-1][2]) >= SILENCE
    # Nowhere in either part does the walker stay 10 minutes within 50 m, and no pair is 10
    # minutes apart: each part is one trip from its first point to its last.
    for part in (before, after):
        for i, a in enumerate(part):
            for b in part[i + 1:]:
                if (b[2] - a[2]).total_seconds() >= 600:
                    assert _haversine_m(a, b) > 50
                    break
        assert max((b[2] - a[2]).total_seconds() for a, b in zip(part, part[1:])) <= 600
    # The jump: one point 5 km east, between the 20th and 21st points of the first part.
    a, b = before[19], before[20]
    jump_time = a[2] + (b[2] - a[2]) / 2
    jump = (a[0] + JUMP_EAST_M / (111_320 * math.cos(math.radians(a[1]))), a[1], jump_time)
    sent = before[:20] + [jump] + before[20:] + after

    patroller_id = session.scalar(sa.select(User.patroller_id).where(User.username == "volunteer1"))
    session.merge(DutySwitch(patroller_id=patroller_id, on_since=sent[0][2] - dt.timedelta(minutes=5)))
    session.commit()
    key = client_as("volunteer1").post("/api/v1/devices", json={"name": "phone"}).get_json()["key"]
    tracker = app.test_client()
    for lon, lat, time in sent:
        response = tracker.get(f"{OSMAND}?id={key}&lat={lat:.7f}&lon={lon:.7f}&timestamp={int(time.timestamp())}"
                               "&accuracy=5")
        assert response.status_code == 200, response.get_data(as_text=True)
    # Sent rounded to 7 decimals, as a phone would: the arithmetic uses what was sent.
    rounded = lambda part: [(round(lon, 7), round(lat, 7), t) for lon, lat, t in part]  # noqa: E731
    return {"before": rounded(before), "after": rounded(after), "jump_time": jump_time, "patroller_id": patroller_id,
            "now": now}


def _station_claimed(client, year: str) -> dict:
    body = client.get(f"/api/v1/completion?period={year}&station={STATION}&group_by=station").get_json()
    return body["claimed"]["individual"]


def test_a_walk_sent_over_osmand_becomes_proposed_trips_that_count_once_confirmed(app, session, client_as, walk):
    jump = session.scalar(sa.select(Position).where(Position.patroller_id == walk["patroller_id"],
                                                    Position.fixed_at == walk["jump_time"]))
    assert jump.flags == ["jump"]
    stored = session.scalars(sa.select(Position).where(Position.patroller_id == walk["patroller_id"])).all()
    assert len(stored) == len(walk["before"]) + len(walk["after"]) + 1
    assert [p.flags for p in stored if p.fixed_at != walk["jump_time"]] == [[]] * (len(stored) - 1)

    volunteer = client_as("volunteer1")
    year = str(walk["before"][0][2].astimezone(ZoneInfo("Asia/Shanghai")).year)
    counted_before = _station_claimed(client_as("manager"), year)
    listing = volunteer.get("/api/v1/patrols?status=proposed").get_json()
    proposals = sorted(listing["patrols"], key=lambda p: p["start"])
    assert len(proposals) == 2
    for proposal, part in zip(proposals, (walk["before"], walk["after"])):
        claimed = int((part[-1][2] - part[0][2]).total_seconds())
        assert proposal["status"] == "proposed" and proposal["source"] == "trip" and proposal["kind"] == "individual"
        assert dt.datetime.fromisoformat(proposal["start"]) == part[0][2]
        assert dt.datetime.fromisoformat(proposal["end"]) == part[-1][2]
        assert proposal["claimed_seconds"] == claimed
        assert proposal["verified_seconds"] == _verified(part, max_speed_kmh=25, max_gap_s=600) == claimed
        assert proposal["station_code"] == STATION
    # The jump lies in the first trip and is excluded; the silence split the walk.
    assert proposals[0]["verification"]["points"] == {"stored": len(walk["before"]) + 1, "kept": len(walk["before"]),
                                                      "excluded": 1}
    # Asking again proposes nothing new; unconfirmed, they count nowhere.
    assert len(volunteer.get("/api/v1/patrols?status=proposed").get_json()["patrols"]) == 2
    assert _station_claimed(client_as("manager"), year) == counted_before

    confirmed = volunteer.post(f"/api/v1/patrols/{proposals[0]['id']}/confirm").get_json()
    assert confirmed["status"] == "logged"
    rejected = volunteer.post(f"/api/v1/patrols/{proposals[1]['id']}/reject").get_json()
    assert rejected["status"] == "rejected"
    counted = _station_claimed(client_as("manager"), year)
    first_claimed = proposals[0]["claimed_seconds"]
    assert counted["seconds"] == counted_before["seconds"] + first_claimed
    assert counted["sessions"] == counted_before["sessions"] + 1
    # The patrol's page shows its track on a map, to the patroller and to their station.
    for reader in ("volunteer1", "station1"):
        page = client_as(reader).get(f"/patrols/{proposals[0]['id']}").get_data(as_text=True)
        assert 'data-testid="patrol-track-map"' in page and '"LineString"' in page
    # The rejected walk is never proposed again.
    assert volunteer.get("/api/v1/patrols?status=proposed").get_json()["patrols"] == []
    assert [p["id"] for p in volunteer.get(f"/api/v1/patrols?period={year}").get_json()["patrols"]][:1] == [
        proposals[0]["id"]]


def test_reverify_applies_a_new_speed_limit_and_the_audit_trail_shows_old_and_new(app, session, client_as, walk):
    volunteer = client_as("volunteer1")
    proposals = sorted(volunteer.get("/api/v1/patrols?status=proposed").get_json()["patrols"], key=lambda p: p["start"])
    patrol_id = proposals[0]["id"]
    volunteer.post(f"/api/v1/patrols/{patrol_id}/confirm")
    part = walk["before"]
    old = _verified(part, max_speed_kmh=25, max_gap_s=600)
    # A speed limit that some of the walk's pairs exceed (the hike's fastest pairs are near 5.9 km/h).
    speeds = sorted(_haversine_m(a, b) / (b[2] - a[2]).total_seconds() * 3.6 for a, b in zip(part, part[1:]))
    limit = round(speeds[len(speeds) // 2], 2)
    new = _verified(part, max_speed_kmh=limit, max_gap_s=600)
    assert 0 < new < old
    year = str(part[0][2].astimezone(ZoneInfo("Asia/Shanghai")).year)
    previous = app.config["VERIFY_MAX_SPEED_KMH"]
    app.config["VERIFY_MAX_SPEED_KMH"] = limit
    try:
        result = app.test_cli_runner().invoke(args=["patrols", "reverify", "--period", year, "--quiet"])
    finally:
        app.config["VERIFY_MAX_SPEED_KMH"] = previous
    assert result.exit_code == 0, result.output
    assert f"session {patrol_id}: verified {old} s -> {new} s" in result.output
    session.expire_all()
    patrol = session.get(PatrolSession, patrol_id)
    assert patrol.verified_seconds == new
    assert {"code": "too_fast", "seconds": old - new} in patrol.verification["reasons"]
    entry = session.scalars(sa.select(AuditEntry).where(AuditEntry.table_name == "patrol_sessions",
                                                        AuditEntry.row_id == str(patrol_id),
                                                        AuditEntry.action == "update")
                            .order_by(AuditEntry.id.desc())).first()
    assert entry.before["verified_seconds"] == old and entry.after["verified_seconds"] == new
    assert entry.actor.startswith("cli:")
    # No coordinate of the walk in the trail: the track shows only as redacted.
    trail = json.dumps([entry.before, entry.after])
    assert f"{part[0][0]:.7f}"[:8] not in trail and f"{part[0][1]:.7f}"[:7] not in trail


def test_an_explicit_session_takes_the_points_between_its_start_and_stop(app, session, client_as):
    from gridsvc.patrols import from_points
    from gridsvc.patrols.zone import load_zone

    patroller_id = session.scalar(sa.select(User.patroller_id).where(User.username == "volunteer1"))
    key = client_as("volunteer1").post("/api/v1/devices", json={"name": "phone"}).get_json()["key"]
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=2)
    patrol, created = from_points.start_session(session, client_uuid=str(uuid.uuid4()), kind="individual",
                                                patroller_id=patroller_id, now=start)
    session.commit()
    assert created and patrol.status == "open"
    centre = session.scalar(sa.select(sa.func.ST_AsText(sa.func.ST_PointOnSurface(Grid.geom))).where(Grid.code == STATION))
    lon0, lat0 = (float(v) for v in centre.removeprefix("POINT(").rstrip(")").split())
    # Not switched on duty: the open session alone makes the points on duty. A walk 225 m east and
    # back at 0.25 m/s, a point every 10 s for 30 minutes, starting 2 minutes after the start; and
    # one point a minute before the start.
    tracker = app.test_client()
    sent = []
    for second in [-60, *range(120, 120 + 1800 + 1, 10)]:
        walked_m = 0.25 * min(max(second - 120, 0), 1800 - max(second - 120, 0))
        lon = lon0 + walked_m / (111_320 * math.cos(math.radians(lat0)))
        time = start + dt.timedelta(seconds=second)
        response = tracker.get(f"{OSMAND}?id={key}&lat={lat0:.7f}&lon={lon:.7f}&timestamp={int(time.timestamp())}")
        assert response.status_code == 200
        sent.append((round(lon, 7), lat0, time))
    stored = session.scalar(sa.select(sa.func.count()).select_from(Position).where(Position.patroller_id == patroller_id))
    assert stored == len(sent) - 1  # the point before the start was off duty: not stored
    stop = start + dt.timedelta(minutes=40)
    patrol = from_points.stop_session(session, patrol=session.get(PatrolSession, patrol.id), zone=load_zone(session),
                                      rules=from_points.PointRules.from_config(app.config), now=stop)
    session.commit()
    walked = sent[1:]
    assert patrol.status == "logged" and patrol.duration_seconds == 2400
    assert patrol.verified_seconds == _verified(walked, max_speed_kmh=25, max_gap_s=600) == 1800
    reasons = {reason["code"]: reason["seconds"] for reason in patrol.verification["reasons"]}
    assert reasons == {"untracked": 600}  # 2 minutes before the first point, 8 after the last


def test_start_and_stop_are_idempotent_and_one_patrol_runs_at_a_time(client_as):
    volunteer = client_as("volunteer1")
    body = {"client_uuid": str(uuid.uuid4()), "kind": "individual"}
    first = volunteer.post("/api/v1/patrols/start", json=body)
    assert first.status_code == 201 and first.get_json()["status"] == "open" and first.get_json()["end"] is None
    again = volunteer.post("/api/v1/patrols/start", json=body)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    other = volunteer.post("/api/v1/patrols/start", json={"client_uuid": str(uuid.uuid4()), "kind": "individual"})
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "session_already_open"
    assert "已" in other.get_json()["error"]["message"]  # Chinese by default
    patrol_id = first.get_json()["id"]
    stopped = volunteer.post(f"/api/v1/patrols/{patrol_id}/stop")
    assert stopped.status_code == 200 and stopped.get_json()["status"] == "logged"
    assert stopped.get_json()["claimed_seconds"] >= 1
    assert volunteer.post(f"/api/v1/patrols/{patrol_id}/stop").get_json() == stopped.get_json()
    # station2 cannot stop or see station1's volunteer's patrol.
    assert client_as("station2").post(f"/api/v1/patrols/{patrol_id}/stop").status_code == 404


def _signed_up_task(session, walk, *, title: str, ends_at: dt.datetime):
    """A group task of volunteer1's station from 5 minutes before the walk to `ends_at`, volunteer1 signed up an hour before."""
    from gridsvc.patrols import service

    first = walk["before"][0][2]
    station_id = session.scalar(sa.select(Grid.id).where(Grid.code == STATION))
    task = service.create_task(session, title=title, station_id=station_id, headcount=3,
                               starts_at=first - dt.timedelta(minutes=5), ends_at=ends_at)
    service.sign_up(session, task_id=task.id, patroller_id=walk["patroller_id"], now=first - dt.timedelta(hours=1))
    session.commit()
    return task


def test_a_trip_within_a_signed_up_group_task_is_offered_to_the_station_as_attendance(app, session, client_as, walk):
    before = walk["before"]
    task = _signed_up_task(session, walk, title="evening 群防", ends_at=before[-1][2] + dt.timedelta(minutes=5))
    summary_before = client_as("station1").get(f"/api/v1/patrol-tasks/{task.id}").get_json()
    page = client_as("station1").get(f"/patrols/tasks/{task.id}").get_data(as_text=True)
    assert 'data-testid="tracked-trip"' in page
    proposals = sorted(client_as("volunteer1").get("/api/v1/patrols?status=proposed").get_json()["patrols"],
                       key=lambda p: p["start"])
    assert [(p["kind"], p["task_id"]) for p in proposals] == [("group", task.id), ("individual", None)]
    # Proposed, the trip is not the task's person-hours yet.
    assert summary_before["person_seconds"] == 0
    answer = client_as("station1").post(f"/api/v1/patrol-tasks/{task.id}/attendance",
                                        json={"attendance": [{"volunteer": walk["patroller_id"], "attended": True}]})
    assert answer.status_code == 200, answer.get_json()
    claimed = int((before[-1][2] - before[0][2]).total_seconds())
    summary = client_as("station1").get(f"/api/v1/patrol-tasks/{task.id}").get_json()
    assert summary["person_seconds"] == claimed
    assert summary["verified_person_seconds"] == _verified(before, max_speed_kmh=25, max_gap_s=600)
    trip = session.get(PatrolSession, proposals[0]["id"])
    session.refresh(trip)
    assert trip.status == "logged"
    signup = trip.task.signups[0]
    assert signup.status == "attended" and signup.session_id == trip.id and signup.confirmed_at is not None


def test_detect_trips_stops_a_patrol_left_running_at_the_session_limit(app, session):
    from gridsvc.patrols import from_points

    patroller_id = session.scalar(sa.select(User.patroller_id).where(User.username == "volunteer1"))
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=30)
    patrol, _created = from_points.start_session(session, client_uuid=str(uuid.uuid4()), kind="individual",
                                                 patroller_id=patroller_id, now=started)
    session.commit()
    # Open, but past MAX_SESSION_HOURS (24): its points are no longer on duty.
    assert not from_points.on_explicit_session(session, patroller_id=patroller_id,
                                               at=started + dt.timedelta(hours=25), max_hours=24)
    result = app.test_cli_runner().invoke(args=["patrols", "detect-trips", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "1 patrols left running over 24 h stopped at their last point" in result.output
    session.expire_all()
    stopped = session.get(PatrolSession, patrol.id)
    # Not a single point supports it: a second, not 24 claimed hours.
    assert stopped.status == "logged" and stopped.duration_seconds == 1 and stopped.verified_seconds is None


def test_the_recorder_starts_and_stops_by_its_device_key_with_the_phones_times(app, session, client_as):
    """No sign-in: the key in the body. The start opens the session, so its points are on duty; the stop computes it."""
    key = client_as("volunteer1").post("/api/v1/devices", json={"name": "recorder"}).get_json()["key"]
    phone = app.test_client()  # no cookie, no CSRF token
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=1)
    body = {"device_id": key, "client_uuid": str(uuid.uuid4()), "kind": "individual", "start": started.isoformat()}
    opened = phone.post("/api/v1/patrols/recorder", json=body)
    assert opened.status_code == 200 and opened.get_json()["status"] == "open"
    assert phone.post("/api/v1/patrols/recorder", json=body).get_json()["id"] == opened.get_json()["id"]
    centre = session.scalar(sa.select(sa.func.ST_AsText(sa.func.ST_PointOnSurface(Grid.geom))).where(Grid.code == STATION))
    lon0, lat0 = (float(v) for v in centre.removeprefix("POINT(").rstrip(")").split())
    points = [{"timestamp": (started + dt.timedelta(seconds=s)).isoformat(),
               "coords": {"latitude": lat0, "longitude": lon0 + 0.5 * s / (111_320 * math.cos(math.radians(lat0))),
                          "accuracy": 5}} for s in range(0, 601, 5)]
    counts = phone.post("/api/v1/positions/recorder", json={"device_id": key, "location": points}).get_json()
    assert counts["stored"] == len(points) and counts["off_duty"] == 0
    stopped = phone.post("/api/v1/patrols/recorder", json={**body, "end": (started + dt.timedelta(seconds=600)).isoformat()})
    answer = stopped.get_json()
    assert answer["status"] == "logged" and answer["claimed_seconds"] == 600 and answer["verified_seconds"] == 600
    # A stopped session stays as it was stopped; an unknown key is refused without naming it.
    again = phone.post("/api/v1/patrols/recorder", json={**body, "end": (started + dt.timedelta(seconds=900)).isoformat()})
    assert again.get_json()["claimed_seconds"] == 600
    unknown = phone.post("/api/v1/patrols/recorder", json={**body, "device_id": "not-a-key"})
    assert unknown.status_code == 404 and "not-a-key" not in unknown.get_data(as_text=True)


def test_trips_within_one_task_are_one_attendance_and_a_withdrawn_volunteer_cannot_confirm_it(app, session, client_as,
                                                                                            walk):
    from gridsvc.patrols import service

    before, after = walk["before"], walk["after"]
    task = _signed_up_task(session, walk, title="night 群防", ends_at=after[-1][2] + dt.timedelta(minutes=5))
    volunteer = client_as("volunteer1")
    [proposal] = volunteer.get("/api/v1/patrols?status=proposed").get_json()["patrols"]
    # Walking, the 20 minutes without points, walking on: one proposal for the task, start to end.
    assert proposal["task_id"] == task.id
    assert dt.datetime.fromisoformat(proposal["start"]) == before[0][2]
    assert dt.datetime.fromisoformat(proposal["end"]) == after[-1][2]
    assert proposal["claimed_seconds"] == int((after[-1][2] - before[0][2]).total_seconds())
    silence = int((after[0][2] - before[-1][2]).total_seconds())
    assert {r["code"]: r["seconds"] for r in proposal["verification"]["reasons"]} == {"gap": silence}
    assert proposal["verified_seconds"] == (_verified(before, max_speed_kmh=25, max_gap_s=600)
                                            + _verified(after, max_speed_kmh=25, max_gap_s=600))
    # Withdrawn (before the task, say), the volunteer cannot make it their attendance; the station still may.
    service.cancel_signup(session, task_id=task.id, patroller_id=walk["patroller_id"], now=before[0][2])
    session.commit()
    refused = volunteer.post(f"/api/v1/patrols/{proposal['id']}/confirm")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "signup_not_active"
    confirmed = client_as("station1").post(f"/api/v1/patrols/{proposal['id']}/confirm")
    assert confirmed.status_code == 200 and confirmed.get_json()["status"] == "logged"


def test_while_a_group_patrol_runs_the_walk_to_the_meeting_point_cannot_become_the_attendance(app, session, client_as,
                                                                                               walk):
    """The walk to the meeting point is a trip within the task; the running patrol is the task's, and its stop records it."""
    from gridsvc.patrols import from_points
    from gridsvc.patrols.zone import load_zone

    task = _signed_up_task(session, walk, title="群防", ends_at=walk["now"] + dt.timedelta(hours=1))
    trip = next(p for p in client_as("volunteer1").get("/api/v1/patrols?status=proposed").get_json()["patrols"]
                if p["task_id"] == task.id)
    running, _created = from_points.start_session(session, client_uuid=str(uuid.uuid4()), kind="group",
                                                  patroller_id=walk["patroller_id"], task_id=task.id,
                                                  now=walk["now"] - dt.timedelta(minutes=1))
    session.commit()
    # The open patrol is the task's now: confirming the trip as its attendance is refused ...
    station1 = client_as("station1")
    assert station1.post(f"/api/v1/patrols/{trip['id']}/confirm").get_json()["error"]["code"] == "task_already_logged"
    stopped = from_points.stop_session(session, patrol=session.get(PatrolSession, running.id), zone=load_zone(session),
                                       rules=from_points.PointRules.from_config(app.config), now=walk["now"])
    session.commit()
    assert stopped.status == "logged" and stopped.task_id == task.id and stopped.kind == "group"
    signup = session.scalars(sa.select(TaskSignup).where(TaskSignup.task_id == task.id)).one()
    assert signup.session_id == stopped.id and signup.status == "attended"
