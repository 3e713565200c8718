"""Coverage figures against geometry that can be worked out by hand, on both databases."""
from __future__ import annotations

import datetime as dt
import math
import uuid

import pytest
import sqlalchemy as sa
from shapely.geometry import LineString, Polygon

from gridsvc.cameras.coverage import (camera_coverage, circle_polygon, coverage_geojson, equal_area_m2,
                                      segment_lengths_m)
from gridsvc.cameras.service import create_camera, retire_camera, update_camera
from gridsvc.errors import ValidationError
from gridsvc.geo.geodesy import geodesic_distance_m
from gridsvc.geo.shapes import geodesic_area_m2, to_db
from tests.cameras.conftest import A_EAST, A_WEST, B_EAST, MID_LAT, NORTH, SOUTH, metres_east

R = 100.0
CIRCLE = math.pi * R * R


def _camera(session, serial: int, lon: float, lat: float, **kwargs):
    return create_camera(session, device_id=f"35060001001325{serial:06d}", name=f"测试{serial}", kind="security",
                         lon=lon, lat=lat, **kwargs)


def _rows(session, stations, **kwargs):
    result = camera_coverage(session, radius_m=R, station_ids=stations["ids"], **kwargs)
    return {row["station_code"]: row for row in result["by_station"]}, result


def _square_area(west, east):
    return geodesic_area_m2(Polygon([(west, SOUTH), (east, SOUTH), (east, NORTH), (west, NORTH)]))


# --- the geometry helpers, without a database -------------------------------------------------------------

def test_circle_polygon_has_the_circle_area_and_stays_within_6_mm_of_it():
    polygon = circle_polygon(118.005, MID_LAT, R)
    assert equal_area_m2(polygon) == pytest.approx(CIRCLE, rel=1e-6)
    distances = [geodesic_distance_m(118.005, MID_LAT, x, y) for x, y in polygon.exterior.coords]
    assert max(abs(d - R) for d in distances) < 0.006


def test_equal_area_matches_geographiclib_on_a_square():
    square = Polygon([(A_WEST, SOUTH), (A_EAST, SOUTH), (A_EAST, NORTH), (A_WEST, NORTH)])
    assert equal_area_m2(square) == pytest.approx(geodesic_area_m2(square), rel=2e-5)


@pytest.mark.parametrize("metres", [1, 10, 100, 1000])
def test_segment_lengths_match_geographiclib(metres):
    from geographiclib.geodesic import Geodesic

    end = metres_east(118.0, 24.5, metres * 0.6)
    coords = [(118.0, 24.5), (end, 24.5 + metres * 0.8 / 110_800)]
    expected = Geodesic.WGS84.Inverse(coords[0][1], coords[0][0], coords[1][1], coords[1][0])["s12"]
    assert segment_lengths_m(coords)[0] == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("radius", [0, -5, 5001, "abc", None, float("nan"), True])
def test_radius_must_be_positive_and_at_most_5_km(session, radius):
    with pytest.raises(ValidationError) as error:
        camera_coverage(session, radius_m=radius)
    assert error.value.code == "coverage_radius"


# --- hand-computable figures, on both databases -------------------------------------------------------------

def test_one_camera_in_the_middle_covers_pi_r_squared(session, test_stations):
    _camera(session, 900001, (A_WEST + A_EAST) / 2, MID_LAT)
    rows, result = _rows(session, test_stations)
    a = rows[test_stations["a"].code]
    area = _square_area(A_WEST, A_EAST)
    assert a["area_m2"] == pytest.approx(area, rel=2e-5)
    assert a["covered_m2"] == pytest.approx(CIRCLE, rel=1e-5)
    assert a["covered_percent"] == pytest.approx(CIRCLE / area * 100, abs=0.005)
    assert a["cameras"] == 1
    assert a["cameras_per_km2"] == pytest.approx(round(1 / (area / 1e6), 2), abs=0.01)
    b = rows[test_stations["b"].code]
    assert (b["cameras"], b["covered_m2"], b["cameras_per_km2"]) == (0, 0.0, 0.0)
    assert result["overall"]["covered_m2"] == pytest.approx(CIRCLE, rel=1e-5)


def test_a_camera_at_the_corner_covers_a_quarter_circle(session, test_stations):
    _camera(session, 900002, A_WEST, SOUTH)
    rows, _ = _rows(session, test_stations)
    assert rows[test_stations["a"].code]["covered_m2"] == pytest.approx(CIRCLE / 4, rel=1e-4)


def test_a_camera_50_m_beyond_the_border_covers_a_circular_segment_of_the_neighbour(session, test_stations):
    # In B, 50 m east of the A/B border: A gets the segment r²·acos(d/r) − d·√(r²−d²) with d = 50 m.
    _camera(session, 900003, metres_east(A_EAST, MID_LAT, 50), MID_LAT)
    d = 50.0
    segment = R * R * math.acos(d / R) - d * math.sqrt(R * R - d * d)  # 6141.85 m²
    rows, _ = _rows(session, test_stations)
    a, b = rows[test_stations["a"].code], rows[test_stations["b"].code]
    assert a["covered_m2"] == pytest.approx(segment, rel=1e-3)
    assert b["covered_m2"] == pytest.approx(CIRCLE - segment, rel=1e-3)
    assert (a["cameras"], b["cameras"]) == (0, 1)


def test_overlapping_cameras_are_counted_once(session, test_stations):
    # Two cameras r apart: union = 2πr² − lens, lens = 2r²·acos(d/2r) − (d/2)·√(4r² − d²).
    centre_lon = (A_WEST + A_EAST) / 2
    _camera(session, 900004, centre_lon, MID_LAT)
    _camera(session, 900005, metres_east(centre_lon, MID_LAT, R), MID_LAT)
    lens = 2 * R * R * math.acos(R / (2 * R)) - (R / 2) * math.sqrt(4 * R * R - R * R)
    rows, _ = _rows(session, test_stations)
    assert rows[test_stations["a"].code]["covered_m2"] == pytest.approx(2 * CIRCLE - lens, rel=1e-3)  # 50548.15 m²
    assert rows[test_stations["a"].code]["cameras"] == 2


def test_retired_cameras_and_offline_ones_with_online_only_do_not_count(session, test_stations):
    centre_lon = (A_WEST + A_EAST) / 2
    _camera(session, 900006, centre_lon, MID_LAT)
    offline = _camera(session, 900007, metres_east(centre_lon, MID_LAT, 300), MID_LAT)
    retired = _camera(session, 900008, metres_east(centre_lon, MID_LAT, -300), MID_LAT)
    update_camera(session, device_id=offline.device_id, status="offline")
    retire_camera(session, device_id=retired.device_id)
    rows, _ = _rows(session, test_stations)
    assert rows[test_stations["a"].code]["cameras"] == 2
    assert rows[test_stations["a"].code]["covered_m2"] == pytest.approx(2 * CIRCLE, rel=1e-5)
    rows, result = _rows(session, test_stations, only_online=True)
    assert rows[test_stations["a"].code]["covered_m2"] == pytest.approx(CIRCLE, rel=1e-5)
    assert result["only_online"] is True


def _patrol_with_track(session, station, coords, started_at):
    from gridsvc.patrols.models import PatrolSession
    from gridsvc.people.models import Patroller

    patroller_id = session.scalar(sa.select(Patroller.id).order_by(Patroller.id).limit(1))
    patrol = PatrolSession(
        client_uuid=str(uuid.uuid4()), payload_digest="0" * 64, kind="individual", patroller_id=patroller_id,
        station_id=station.id, started_at=started_at, ended_at=started_at + dt.timedelta(hours=1),
        duration_seconds=3600, track=to_db(LineString(coords)), source="api",
    )
    session.add(patrol)
    session.flush()
    return patrol


def test_track_length_outside_the_radius(session, test_stations):
    # A straight west-east track across A through a camera in its middle: outside = length − 2r.
    # A second track runs from the middle of A into B: only its part in each station counts there.
    centre_lon = (A_WEST + A_EAST) / 2
    _camera(session, 900009, centre_lon, MID_LAT)
    started = dt.datetime(2020, 5, 1, 8, tzinfo=dt.timezone.utc)
    _patrol_with_track(session, test_stations["a"], [(A_WEST, MID_LAT), (A_EAST, MID_LAT)], started)
    north_lat = MID_LAT + 0.003  # about 332 m north of the camera: outside its radius
    _patrol_with_track(session, test_stations["a"], [(centre_lon, north_lat), (B_EAST - 0.002, north_lat)], started)
    rows, result = _rows(session, test_stations)
    across = segment_lengths_m([(A_WEST, MID_LAT), (A_EAST, MID_LAT)])[0]
    in_a = segment_lengths_m([(centre_lon, north_lat), (A_EAST, north_lat)])[0]
    in_b = segment_lengths_m([(A_EAST, north_lat), (B_EAST - 0.002, north_lat)])[0]
    a, b = rows[test_stations["a"].code], rows[test_stations["b"].code]
    assert a["track_m"] == pytest.approx(across + in_a, abs=0.01)
    assert a["track_outside_m"] == pytest.approx(across - 2 * R + in_a, abs=0.02)
    assert b["track_m"] == pytest.approx(in_b, abs=0.01)
    assert b["track_outside_m"] == pytest.approx(in_b, abs=0.01)
    assert result["overall"]["track_outside_m"] == pytest.approx(across - 2 * R + in_a + in_b, abs=0.05)
    # across ≈ 1013.6 m at 24.505° N, so the share outside is (1013.6 − 200 + ...) / ...
    assert a["track_outside_percent"] == pytest.approx((across - 2 * R + in_a) / (across + in_a) * 100, abs=0.005)


def test_tracks_are_filtered_by_period(session, test_stations):
    from gridsvc.periods import parse_period

    _patrol_with_track(session, test_stations["a"], [(A_WEST, MID_LAT), (A_EAST, MID_LAT)],
                       dt.datetime(2020, 5, 1, 8, tzinfo=dt.timezone.utc))
    in_2020, _ = _rows(session, test_stations, period=parse_period("2020"))
    in_2019, result = _rows(session, test_stations, period=parse_period("2019"))
    assert in_2020[test_stations["a"].code]["track_m"] > 1000
    assert in_2019[test_stations["a"].code]["track_m"] == 0.0
    assert in_2019[test_stations["a"].code]["track_outside_percent"] is None
    assert result["period"] == "2019"


def test_the_map_layer_has_the_covered_area_and_the_uncovered_tracks(session, test_stations):
    _camera(session, 900010, A_WEST, SOUTH)
    _patrol_with_track(session, test_stations["a"], [(A_WEST, MID_LAT), (A_EAST, MID_LAT)],
                       dt.datetime(2020, 5, 1, 8, tzinfo=dt.timezone.utc))
    layer = coverage_geojson(session, radius_m=R, station_ids=test_stations["ids"])
    by_id = {feature["id"]: feature for feature in layer["features"]}
    covered = by_id[f"covered-{test_stations['a'].code}"]
    assert covered["geometry"]["type"] == "MultiPolygon"
    assert covered["properties"]["covered_m2"] == pytest.approx(CIRCLE / 4, rel=1e-4)
    from shapely.geometry import shape

    assert equal_area_m2(shape(covered["geometry"])) == pytest.approx(CIRCLE / 4, rel=1e-3)
    track = by_id[f"track-outside-{test_stations['a'].code}"]
    assert track["geometry"]["type"] == "MultiLineString"
    assert track["properties"]["track_outside_m"] == track["properties"]["track_m"]
    assert by_id[f"covered-{test_stations['b'].code}"]["geometry"]["coordinates"] == []


def test_the_seeded_zone_figures_are_consistent(session):
    result = camera_coverage(session, radius_m=R)
    overall = result["overall"]
    assert overall["stations"] == 15 and overall["cameras"] == 252
    assert overall["covered_m2"] == pytest.approx(sum(row["covered_m2"] for row in result["by_station"]), abs=1)
    # 252 discs of πr² would be 7.917 km² if none overlapped; some do.
    assert 0 < overall["covered_m2"] < 252 * CIRCLE


def test_coverage_api_and_page(client, session):
    response = client.get("/api/v1/cameras/coverage?radius_m=150")
    assert response.status_code == 200
    assert response.get_json()["radius_m"] == 150
    assert client.get("/api/v1/cameras/coverage?radius_m=0").status_code == 422
    layer = client.get("/api/v1/cameras/coverage.geojson")
    assert layer.status_code == 200 and layer.mimetype == "application/geo+json"
    page = client.get("/cameras/coverage?lang=en")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<svg" in text and 'class="covered"' in text
