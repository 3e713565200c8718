import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maps.gcj02 import gcj02_to_wgs84, is_outside_china, wgs84_to_gcj02

EARTH_RADIUS_M = 6371008.8


def haversine_m(lon1, lat1, lon2, lat2):
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def test_offset_near_the_zone_is_about_576_metres():
    lon, lat = wgs84_to_gcj02(117.30, 23.88)
    offset = haversine_m(117.30, 23.88, lon, lat)
    assert 570 <= offset <= 580, offset


def test_forward_matches_a_published_reference_value():
    # Reference from another independent implementation's test suite (WGS84 [123, 45] -> GCJ02).
    lon, lat = wgs84_to_gcj02(123.0, 45.0)
    assert lon == pytest.approx(123.00607541, abs=1e-8)  # the reference is given to 8 decimals
    assert lat == pytest.approx(45.00197815, abs=1e-8)  # the reference is given to 8 decimals


@settings(max_examples=300, deadline=None)
@given(
    lon=st.floats(min_value=73.0, max_value=135.0, allow_nan=False),
    lat=st.floats(min_value=3.9, max_value=53.5, allow_nan=False),
)
def test_round_trip_error_below_a_millionth_of_a_degree(lon, lat):
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert abs(back_lon - lon) < 1e-6
    assert abs(back_lat - lat) < 1e-6


def test_inverse_is_much_tighter_than_required_at_the_zone():
    gcj = wgs84_to_gcj02(117.30, 23.88)
    back = gcj02_to_wgs84(*gcj)
    assert haversine_m(117.30, 23.88, *back) < 0.001  # under a millimetre


@pytest.mark.parametrize(
    "lon, lat",
    [(2.3522, 48.8566), (-74.006, 40.7128), (139.6917, 35.6895), (151.2093, -33.8688), (183.0, 45.0), (100.0, 0.5)],
)
def test_points_outside_china_are_unchanged_both_ways(lon, lat):
    assert is_outside_china(lon, lat)
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_inside_china_is_not_unchanged():
    assert not is_outside_china(117.30, 23.88)
    assert wgs84_to_gcj02(116.404, 39.915) != (116.404, 39.915)
