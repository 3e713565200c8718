"""POST /api/v1/patrols and the batch endpoint: idempotency, tracks, every rejection, on both databases."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridsvc.patrols.models import PatrolSession
from tests.patrols.gpx_helpers import load_gpx_bytes, points_to_gpx_bytes
from tests.patrols.helpers import (
    STATION_S08,
    STATION_S14,
    VOLUNTEER_S08,
    VOLUNTEER_S14,
    count,
    counts,
    local,
    new_uuid,
    patrol_body,
    post_gpx,
    post_json,
    reference_figures,
    station_ring,
    zone_gpx,
)

CENTRE = (117.30, 23.88)  # inside station S08
WALK_START = (117.292, 23.878)  # near S08's west edge: a 1.8 km walk east stays inside S08


def geojson_track(points, start: datetime, step_seconds: int = 60) -> dict:
    """A GeoJSON Feature LineString with one ISO time per position."""
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [list(p) for p in points]},
        "properties": {"times": [(start + timedelta(seconds=i * step_seconds)).isoformat() for i in range(len(points))]},
    }


def walk(n: int = 31, *, lon: float = WALK_START[0], lat: float = WALK_START[1], metres_per_step: float = 60.0):
    """n positions going east about metres_per_step apart (3.6 km/h at one per minute)."""
    step = metres_per_step / 101_800  # degrees of longitude per metre near 23.9° N, roughly
    return [(lon + i * step, lat) for i in range(n)]


# ---------------------------------------------------------------------------------------------
# Idempotency
# ---------------------------------------------------------------------------------------------


def test_new_then_retry_then_changed_body(app, client):
    body = patrol_body()

    first = post_json(client, "/api/v1/patrols", body)
    retry = post_json(client, "/api/v1/patrols", body)
    changed = post_json(client, "/api/v1/patrols", {**body, "end": local("2021-03-01 22:00")})

    assert first.status_code == 201, first.get_json()
    assert first.headers["Location"].endswith(f"/api/v1/patrols/{first.get_json()['id']}")
    assert (retry.status_code, retry.get_json()["id"]) == (200, first.get_json()["id"])
    assert changed.status_code == 409
    error = changed.get_json()["error"]
    assert error["code"] == "client_uuid_reused"
    assert body["client_uuid"] in error["message"] and str(first.get_json()["id"]) in error["message"]
    stored = client.get(f"/api/v1/patrols/{first.get_json()['id']}").get_json()
    assert stored["end"] == local("2021-03-01 21:00") and stored["claimed_seconds"] == 7200
    assert count(app, PatrolSession, PatrolSession.client_uuid == body["client_uuid"]) == 1


def test_retry_with_the_uuid_in_upper_case_is_the_same_submission(client):
    body = patrol_body()
    first = post_json(client, "/api/v1/patrols", body)
    again = post_json(client, "/api/v1/patrols", {**body, "client_uuid": body["client_uuid"].upper()})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]


def test_the_same_track_as_gpx_and_as_geojson_is_the_same_submission(client):
    start = datetime(2021, 3, 2, 11, tzinfo=UTC)
    feature = geojson_track(walk(), start)
    gpx = points_to_gpx_bytes([[(lon, lat, start + timedelta(minutes=i)) for i, (lon, lat) in enumerate(walk())]])
    client_uuid = new_uuid()

    as_gpx = post_gpx(client, gpx, client_uuid=client_uuid)
    as_geojson = post_json(client, "/api/v1/patrols", {"client_uuid": client_uuid, "kind": "individual",
                                                       "volunteer": VOLUNTEER_S08, "track": feature})

    assert as_gpx.status_code == 201, as_gpx.get_json()
    assert (as_geojson.status_code, as_geojson.get_json()["id"]) == (200, as_gpx.get_json()["id"])


# ---------------------------------------------------------------------------------------------
# Tracks
# ---------------------------------------------------------------------------------------------


def test_geojson_track_gives_station_verified_time_and_time_per_grid(client):
    start = datetime(2021, 3, 3, 11, tzinfo=UTC)
    body = patrol_body(start=None, end=None, track=geojson_track(walk(31), start))
    del body["start"], body["end"]

    response = post_json(client, "/api/v1/patrols", body)

    assert response.status_code == 201, response.get_json()
    patrol = response.get_json()
    assert patrol["station_code"] == STATION_S08
    assert patrol["claimed_seconds"] == patrol["verified_seconds"] == 1800
    assert patrol["verification"]["reasons"] == []
    assert patrol["grid_seconds"][STATION_S08] == 1800
    assert patrol["track_length_m"] == pytest.approx(30 * 60, rel=0.01)
    assert patrol["start"] == "2021-03-03T19:00:00+08:00"


def test_claimed_time_longer_than_the_track_counts_the_rest_as_untracked(client):
    start = datetime(2021, 3, 4, 11, tzinfo=UTC)
    body = patrol_body(start=(start - timedelta(minutes=10)).isoformat(), end=(start + timedelta(minutes=60)).isoformat(),
                       track=geojson_track(walk(31), start))

    patrol = post_json(client, "/api/v1/patrols", body).get_json()

    assert patrol["claimed_seconds"] == 4200
    assert patrol["verified_seconds"] == 1800
    assert {r["code"]: r["seconds"] for r in patrol["verification"]["reasons"]} == {"untracked": 2400}


def test_track_beyond_the_claimed_time_is_cut_to_it(client):
    start = datetime(2021, 3, 5, 11, tzinfo=UTC)
    body = patrol_body(start=(start + timedelta(minutes=10)).isoformat(), end=(start + timedelta(minutes=20)).isoformat(),
                       track=geojson_track(walk(31), start))

    patrol = post_json(client, "/api/v1/patrols", body).get_json()

    assert patrol["claimed_seconds"] == patrol["verified_seconds"] == 600
    assert patrol["verification"]["track"]["seconds_outside_claimed_time"] == 1200
    assert patrol["grid_seconds"][STATION_S08] == 600


def test_time_outside_the_volunteers_station_is_not_verified(client):
    """The S14 volunteer walks in S08: moving time, but outside their station."""
    start = datetime(2021, 3, 6, 11, tzinfo=UTC)
    body = patrol_body(volunteer=VOLUNTEER_S14, track=geojson_track(walk(31), start))
    del body["start"], body["end"]

    patrol = post_json(client, "/api/v1/patrols", body).get_json()

    assert patrol["station_code"] == STATION_S08  # where it happened
    assert patrol["verified_seconds"] == 0
    assert patrol["verification"]["reasons"] == [{"code": "outside_area", "seconds": 1800}]
    assert patrol["verification"]["moving_seconds"] == 1800
    assert patrol["verification"]["area"] == {"kind": "station", "code": STATION_S14}


def test_several_segments_and_duplicate_points(client):
    start = datetime(2021, 3, 7, 11, tzinfo=UTC)
    points = [(lon, lat, start + timedelta(minutes=i)) for i, (lon, lat) in enumerate(walk(21))]
    data = points_to_gpx_bytes([points[10:], points[:11], points[5:7]])  # out of order, overlapping

    patrol = post_gpx(client, data).get_json()

    assert patrol["claimed_seconds"] == 1200
    assert patrol["verification"]["track"]["segments"] == 3
    assert patrol["verification"]["track"]["points"] == 21
    assert patrol["verification"]["track"]["dropped_duplicates"] == 3


PARSEABLE = ["around-visnjan-with-car.gpx", "cerknicko-jezero.gpx", "korita-zbevnica.gpx",
             "track-with-empty-segment.gpx"]


@pytest.mark.parametrize("name", PARSEABLE)
def test_real_gpx_file_in_the_zone_matches_an_independent_computation(app, client, name):
    data = zone_gpx(name)
    expected = reference_figures(data, ring=station_ring("S08"))

    response = post_gpx(client, data)

    assert response.status_code == 201, response.get_json()
    patrol = response.get_json()
    assert patrol["claimed_seconds"] == round(expected["duration"])
    assert patrol["track_length_m"] == pytest.approx(expected["length"], rel=1e-5, abs=0.06)  # shown to 0.1 m
    assert patrol["verified_seconds"] == pytest.approx(expected["verified"], abs=2)
    reasons = {r["code"]: r["seconds"] for r in patrol["verification"]["reasons"]}
    assert reasons.get("too_fast", 0) == pytest.approx(expected["fast"], abs=1)
    assert reasons.get("gap", 0) == pytest.approx(expected["gap"], abs=1)
    assert reasons.get("outside_area", 0) == pytest.approx(expected["outside"], abs=2)
    assert patrol["verified_seconds"] + sum(reasons.values()) == patrol["claimed_seconds"]
    # Every verified second lies in S08, the volunteer's station; moving time elsewhere is in other grids.
    assert patrol["grid_seconds"].get(STATION_S08, 0) >= patrol["verified_seconds"]
    assert patrol["source"] == "gpx"


def test_driven_stretch_near_visnjan_is_not_foot_patrol(client):
    data = zone_gpx("around-visnjan-with-car.gpx")
    expected = reference_figures(data)

    patrol = post_gpx(client, data).get_json()

    reasons = {r["code"]: r["seconds"] for r in patrol["verification"]["reasons"]}
    assert expected["fast"] > 150
    assert reasons["too_fast"] == pytest.approx(expected["fast"], abs=1)
    assert patrol["verified_seconds"] < patrol["claimed_seconds"] - 150


def test_speed_limit_is_configurable(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "VERIFY_MAX_SPEED_KMH", 120.0)
    patrol = post_gpx(client, zone_gpx("around-visnjan-with-car.gpx")).get_json()
    assert "too_fast" not in {r["code"] for r in patrol["verification"]["reasons"]}


def test_gap_limit_is_configurable(app, client, monkeypatch):
    data = zone_gpx("cerknicko-jezero.gpx")
    default = post_gpx(client, data, volunteer=VOLUNTEER_S08).get_json()
    monkeypatch.setitem(app.config, "VERIFY_MAX_GAP_SECONDS", 100_000)
    relaxed = post_gpx(client, data, volunteer="XLXQ000034").get_json()
    assert {r["code"] for r in default["verification"]["reasons"]} >= {"gap"}
    assert "gap" not in {r["code"] for r in relaxed["verification"]["reasons"]}
    assert relaxed["verification"]["moving_seconds"] > default["verification"]["moving_seconds"]


def test_hours_in_a_grid_can_be_asked_directly(client):
    data = zone_gpx("korita-zbevnica.gpx", starting=datetime(2021, 4, 3, 1, tzinfo=UTC))
    patrol = post_gpx(client, data).get_json()

    answer = client.get(f"/api/v1/patrol-time?grid={STATION_S08}&period=2021-04").get_json()

    figures = answer["by_role"]["volunteer"]["individual"]
    assert figures["tracked_seconds"] == patrol["grid_seconds"][STATION_S08]
    assert figures["claimed_seconds"] == patrol["claimed_seconds"]
    assert answer["by_role"]["volunteer"]["group"]["tracked_seconds"] == 0


# ---------------------------------------------------------------------------------------------
# Rejections: clear message, nothing written
# ---------------------------------------------------------------------------------------------

REAL_FILES_REFUSED = {
    "Mojstrovka.gpx": ("impossible_times", "1901-12-13T20:45:52"),
    "cerknicko-without-times.gpx": ("missing_times", "291 of 296"),
    "gpx_with_garmin_extension.gpx": ("no_points", "no track or route points"),
    "route.gpx": ("no_times", "no times"),
    "unicode_with_bom.gpx": ("no_points", "no track or route points"),
}


@pytest.mark.parametrize("name", sorted(REAL_FILES_REFUSED))
def test_real_gpx_files_without_usable_times_are_refused(app, client, name):
    code, words = REAL_FILES_REFUSED[name]
    before = counts(app)

    response = post_gpx(client, load_gpx_bytes(name))

    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == code
    assert words in response.get_json()["error"]["message"]
    assert counts(app) == before


def test_real_gpx_file_outside_the_zone_is_refused(app, client):
    before = counts(app)
    response = post_gpx(client, load_gpx_bytes("around-visnjan-with-car.gpx"))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "track_outside_zone"
    assert "104 of 104 track points lie outside the zone" in error["message"]
    assert counts(app) == before


def _swapped_geojson():
    start = datetime(2021, 3, 8, 11, tzinfo=UTC)
    return geojson_track([(lat, lon) for lon, lat in walk(5)], start)


def _gpx_with_entities() -> bytes:
    return (b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<gpx version="1.1" creator="x" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>&b;</name>'
            b'<trkseg><trkpt lat="23.88" lon="117.30"><time>2021-03-01T11:00:00Z</time></trkpt></trkseg></trk></gpx>')


def _gpx_with_external_entity() -> bytes:
    return (b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<gpx version="1.1" creator="x" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>&x;</name>'
            b'</trk></gpx>')


def _gpx_points(times) -> bytes:
    lon, lat = CENTRE
    return points_to_gpx_bytes([[(lon + i * 0.0005, lat, moment) for i, moment in enumerate(times)]])


JSON_REJECTIONS = [
    # (case, body changes, status, code, words in the English message)
    ("end before start", {"end": local("2021-03-01 18:00")}, 422, "end_before_start", "after the start"),
    ("end equals start", {"end": local("2021-03-01 19:00")}, 422, "end_before_start", "after the start"),
    ("in the future", {"start": local("2099-01-01 08:00"), "end": local("2099-01-01 09:00")}, 422, "in_future",
     "future"),
    ("longer than 24 h", {"end": local("2021-03-02 19:00:01")}, 422, "too_long", "at most 24 hours"),
    ("no time zone", {"start": "2021-03-01T19:00:00"}, 422, "time_zone_required", "start time needs a time zone"),
    ("unreadable time", {"end": "yesterday evening"}, 422, "time_format", "ISO-8601"),
    ("no times at all", {"start": None, "end": None}, 422, "times_required", "start and an end"),
    ("bad kind", {"kind": "walk"}, 422, "patrol_kind", "group or individual"),
    ("not a uuid", {"client_uuid": "123"}, 422, "client_uuid_format", "UUID"),
    ("missing uuid", {"client_uuid": None}, 422, "client_uuid_required", "client_uuid is required"),
    ("unknown volunteer", {"volunteer": "XLXQ999999"}, 404, "patroller_not_found", "XLXQ999999"),
    ("group without task", {"kind": "group"}, 422, "group_needs_task", "group-patrol task"),
    ("individual with task", {"task_id": 1}, 422, "task_needs_group_kind", "Only a group patrol"),
    ("unknown task", {"kind": "group", "task_id": 999999}, 404, "task_not_found", "999999"),
    ("swapped start point", {"start_point": [23.88, 117.30]}, 422, "swapped_coordinates", "swapped"),
    ("start point outside the zone", {"start_point": [116.0, 24.5]}, 422, "start_outside_zone", "outside every station"),
    ("start point out of range", {"start_point": [200, 23.88]}, 422, "start_point_format", "longitude and a latitude"),
    ("swapped track", {"start": None, "end": None, "track": "SWAPPED"}, 422, "swapped_coordinates", "swapped"),
    ("track without times", {"track": {"type": "LineString", "coordinates": [[117.3, 23.88], [117.301, 23.88]]}},
     422, "no_times", "no times"),
    ("track of a point", {"track": {"type": "Point", "coordinates": [117.3, 23.88]}}, 422, "not_linestring",
     "LineString"),
    ("track outside the claimed time", {"track": "EARLIER"}, 422, "track_outside_claimed_time", "does not overlap"),
]


@pytest.mark.parametrize("case,changes,status,code,words", JSON_REJECTIONS, ids=[r[0] for r in JSON_REJECTIONS])
def test_json_rejections(app, client, case, changes, status, code, words):
    body = patrol_body(**changes)
    if body.get("track") == "SWAPPED":
        body["track"] = _swapped_geojson()
    if body.get("track") == "EARLIER":
        body["track"] = geojson_track(walk(5), datetime(2021, 2, 1, 11, tzinfo=UTC))
    body = {key: value for key, value in body.items() if value is not None}
    before = counts(app)

    response = post_json(client, "/api/v1/patrols", body)

    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code
    assert words in error["message"]
    assert counts(app) == before


def test_overlapping_session_is_refused_naming_the_other(app, client):
    first = post_json(client, "/api/v1/patrols", patrol_body()).get_json()
    before = counts(app)

    response = post_json(client, "/api/v1/patrols", patrol_body(start=local("2021-03-01 20:00"),
                                                                end=local("2021-03-01 22:00")))

    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "overlapping_session"
    assert error["params"]["other"] == first["id"]
    # The message names the other patrol by its times (its id is in params, never in words people read).
    assert "another patrol of the same person (2021-03-01T19:00:00+08:00 to 2021-03-01T21:00:00+08:00)" in error["message"]
    assert str(first["id"]) not in error["message"]
    assert counts(app) == before
    # Back to back is fine.
    assert post_json(client, "/api/v1/patrols", patrol_body(start=local("2021-03-01 21:00"),
                                                            end=local("2021-03-01 22:00"))).status_code == 201


GPX_REJECTIONS = [
    ("entity expansion", _gpx_with_entities, 422, "gpx_entities_forbidden", "DOCTYPE or ENTITY"),
    ("external entity", _gpx_with_external_entity, 422, "gpx_entities_forbidden", "DOCTYPE or ENTITY"),
    ("not xml", lambda: b"\x89PNG\r\n\x1a\n not a gpx", 422, "gpx_not_xml", "not a readable XML"),
    ("times from 1970", lambda: _gpx_points([datetime(1970, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, 0, 5, tzinfo=UTC)]),
     422, "impossible_times", "1970-01-01T00:00:00Z is impossible"),
    ("times in the future", lambda: _gpx_points([datetime(2099, 1, 1, tzinfo=UTC), datetime(2099, 1, 1, 0, 5, tzinfo=UTC)]),
     422, "impossible_times", "2099-01-01T00:00:00Z is impossible"),
    ("one point", lambda: _gpx_points([datetime(2021, 3, 1, 11, tzinfo=UTC)]), 422, "too_few_points",
     "at least 2 distinct timed points"),
    ("swapped coordinates",
     lambda: points_to_gpx_bytes([[(23.88, 117.30 + i * 0.001, datetime(2021, 3, 1, 11, i, tzinfo=UTC)) for i in range(5)]]),
     422, "swapped_coordinates", "swapped"),
]


@pytest.mark.parametrize("case,make,status,code,words", GPX_REJECTIONS, ids=[r[0] for r in GPX_REJECTIONS])
def test_gpx_rejections(app, client, case, make, status, code, words):
    before = counts(app)

    response = post_gpx(client, make())

    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code
    assert words in error["message"]
    assert counts(app) == before


def test_byte_cap_is_413(app, client, monkeypatch):
    data = zone_gpx("track-with-empty-segment.gpx")
    monkeypatch.setitem(app.config, "MAX_TRACK_BYTES", len(data) - 1)
    before = counts(app)

    response = post_gpx(client, data)

    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "track_too_large"
    assert f"The track file is {len(data)} bytes; at most {len(data) - 1} bytes are accepted." == error["message"]
    assert counts(app) == before
    monkeypatch.setitem(app.config, "MAX_TRACK_BYTES", len(data))
    assert post_gpx(client, data).status_code == 201


def test_json_body_byte_cap_is_413(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_TRACK_BYTES", 1000)
    body = patrol_body(track=geojson_track(walk(3000, metres_per_step=0.5), datetime(2021, 3, 1, 11, tzinfo=UTC), 1))
    response = post_json(client, "/api/v1/patrols", body)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "track_too_large"


@pytest.mark.parametrize("upload", ["gpx", "geojson"])
def test_point_cap_is_422(app, client, monkeypatch, upload):
    monkeypatch.setitem(app.config, "MAX_TRACK_POINTS", 30)
    start = datetime(2021, 3, 9, 11, tzinfo=UTC)
    before = counts(app)
    if upload == "gpx":
        response = post_gpx(client, _gpx_points([start + timedelta(minutes=i) for i in range(31)]))
    else:
        body = patrol_body(track=geojson_track(walk(31), start))
        del body["start"], body["end"]
        response = post_json(client, "/api/v1/patrols", body)

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "too_many_points"
    assert "more than 30 points" in error["message"]
    assert counts(app) == before


def test_messages_are_chinese_by_default(client):
    response = post_json(client, "/api/v1/patrols", patrol_body(end=local("2021-03-01 18:00")), lang="zh")
    message = response.get_json()["error"]["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message


def test_not_json_is_refused(client):
    response = client.post("/api/v1/patrols?lang=en", data="kind=individual", content_type="text/plain")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "json_object_required"


# ---------------------------------------------------------------------------------------------
# Batch
# ---------------------------------------------------------------------------------------------


def test_batch_answers_per_item(app, client):
    existing = post_json(client, "/api/v1/patrols", patrol_body()).get_json()
    replay = patrol_body()
    replay["client_uuid"] = existing["client_uuid"]
    items = [
        patrol_body(start=local("2021-05-01 08:00"), end=local("2021-05-01 09:00")),  # new
        replay,  # the stored one again
        {**replay, "end": local("2021-03-01 21:30")},  # same uuid, different body
        patrol_body(start=local("2021-05-01 08:30"), end=local("2021-05-01 10:00")),  # overlaps item 0
        patrol_body(end=local("2021-03-01 18:00")),  # invalid
        "not an object",
        patrol_body(volunteer=VOLUNTEER_S14, start=local("2021-05-01 08:00"), end=local("2021-05-01 09:00")),  # new
    ]
    before = count(app)

    response = post_json(client, "/api/v1/patrols/batch", {"sessions": items})

    assert response.status_code == 200
    body = response.get_json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == [201, 200, 409, 409, 422, 422, 201]
    assert [r["index"] for r in body["results"]] == list(range(len(items)))
    assert (body["created"], body["replayed"], body["failed"]) == (2, 1, 4)
    assert body["results"][1]["id"] == existing["id"]
    assert body["results"][2]["error"]["code"] == "client_uuid_reused"
    assert body["results"][3]["error"]["params"]["other"] == body["results"][0]["id"]
    assert body["results"][4]["error"]["code"] == "end_before_start"
    assert count(app) == before + 2
    assert client.get(f"/api/v1/patrols/{existing['id']}").get_json()["end"] == local("2021-03-01 21:00")


def test_batch_of_1000_is_taken_and_1001_refused(app, client):
    items = []
    for number in range(1000):
        volunteer = f"XLXQ{number % 100 + 1:06d}"
        day = number // 100 + 1
        items.append(patrol_body(volunteer=volunteer, start=local(f"2021-06-{day:02d} 19:00"),
                                 end=local(f"2021-06-{day:02d} 20:00")))
    before = count(app)

    too_many = post_json(client, "/api/v1/patrols/batch", {"sessions": items + [patrol_body()]})
    taken = post_json(client, "/api/v1/patrols/batch", {"sessions": items})

    assert too_many.status_code == 413
    assert too_many.get_json()["error"]["code"] == "batch_too_large"
    assert "at most 1000 sessions; this one has 1001" in too_many.get_json()["error"]["message"]
    assert taken.status_code == 200
    assert taken.get_json()["created"] == 1000
    assert count(app) == before + 1000


def test_empty_or_malformed_batch_is_refused(client):
    assert post_json(client, "/api/v1/patrols/batch", {"sessions": []}).get_json()["error"]["code"] == "batch_empty"
    assert post_json(client, "/api/v1/patrols/batch", {"items": 3}).get_json()["error"]["code"] == "batch_format"
