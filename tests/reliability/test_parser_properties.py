"""Property tests: every parser answers any input with a result or a clear ValidationError, never
another exception. (GPX and GeoJSON tracks are covered in tests/patrols/test_tracks.py.)"""
from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridsvc.cameras.gbt28181 import CAMERA_TYPES, DEVICE_TYPES, NETWORKS, parse_device_id
from gridsvc.errors import ValidationError
from gridsvc.geo.shapes import parse_multipolygon
from gridsvc.patrols.intake import normalise_uuid
from gridsvc.periods import parse_period
from tests.reliability.conftest import scaled

EXAMPLES = scaled(300, 3000)
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


def accepted_or_refused(parser, *args, **kwargs):
    """The parser's result, or None when it refused with a ValidationError that has a code and message."""
    try:
        return parser(*args, **kwargs)
    except ValidationError as refusal:
        assert refusal.code and refusal.message
        assert refusal.to_dict()["message"]  # the params fill the message without a KeyError
        return None


# --- GB/T 28181 device ids -------------------------------------------------------------------

digit_strings = st.text(alphabet="0123456789", min_size=18, max_size=22)
near_ids = digit_strings | st.text(max_size=25) | st.from_regex(r"\s*[0-9\uff10-\uff19\u0660-\u0669]{20}\s*", fullmatch=True)


@PROPERTY
@given(value=near_ids | json_values, cameras_only=st.booleans(), region=st.none() | st.sampled_from(["350600", "3506"]))
def test_device_id_parser_accepts_or_refuses_clearly(value, cameras_only, region):
    device = accepted_or_refused(parse_device_id, value, cameras_only=cameras_only, region_prefix=region)
    if device is not None:
        assert len(device.value) == 20 and device.value.isascii() and device.value.isdigit()
        assert device.network in NETWORKS and device.type in DEVICE_TYPES
        assert not cameras_only or device.type in CAMERA_TYPES
        assert not region or device.centre.startswith(region)
        assert "".join([device.centre, device.industry, device.type, device.network, device.serial]) == device.value


@PROPERTY
@given(centre=st.text(alphabet="0123456789", min_size=8, max_size=8), industry=st.sampled_from(["00", "01", "99"]),
       kind=st.sampled_from(sorted(DEVICE_TYPES)), network=st.sampled_from(sorted(NETWORKS)),
       serial=st.text(alphabet="0123456789", min_size=6, max_size=6))
def test_every_well_formed_device_id_round_trips(centre, industry, kind, network, serial):
    value = centre + industry + kind + network + serial
    device = parse_device_id(f" {value} ")
    assert device.value == value and device.parts()["serial"] == serial


# --- coordinates and polygons ----------------------------------------------------------------

coordinates = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-200, 200) | st.integers(-1000, 1000)
positions = st.lists(coordinates, min_size=0, max_size=4)
rings = st.lists(positions, max_size=8)
polygon_like = st.fixed_dictionaries({
    "type": st.sampled_from(["Polygon", "MultiPolygon", "Point", "LineString", "GeometryCollection", "polygon", ""]),
    "coordinates": st.lists(rings, max_size=3) | st.lists(st.lists(rings, max_size=2), max_size=2) | json_values,
})


def _closed_ring(points):
    return [list(p) for p in points] + [list(points[0])]


@PROPERTY
@given(geometry=polygon_like | json_values)
def test_polygon_parser_accepts_or_refuses_clearly(geometry):
    polygon = accepted_or_refused(parse_multipolygon, geometry)
    if polygon is not None:
        assert polygon.geom_type == "MultiPolygon" and polygon.is_valid and not polygon.is_empty
        min_lon, min_lat, max_lon, max_lat = polygon.bounds
        assert all(math.isfinite(v) for v in polygon.bounds)
        assert -180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90


@PROPERTY
@given(lon=st.floats(-179, 179), lat=st.floats(-89, 89), size=st.floats(1e-6, 0.5),
       bad=st.sampled_from([math.nan, math.inf, -math.inf, 181.0, -91.0, 1e308]))
def test_a_non_finite_or_out_of_range_corner_is_refused(lon, lat, size, bad):
    square = [(lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size)]
    assert parse_multipolygon({"type": "Polygon", "coordinates": [_closed_ring(square)]}).is_valid
    broken = list(square)
    broken[2] = (bad, lat + size) if bad != -91.0 else (lon + size, bad)
    with pytest.raises(ValidationError):
        parse_multipolygon({"type": "Polygon", "coordinates": [_closed_ring(broken)]})


# --- periods ----------------------------------------------------------------------------------

period_texts = (st.from_regex(r"-?\d{1,5}(-?[Qq]\d|-\d{1,3})?", fullmatch=True) | st.text(max_size=12))
date_texts = st.none() | st.dates().map(dt.date.isoformat) | st.text(max_size=12)


@PROPERTY
@given(text=st.none() | period_texts, date_from=date_texts, date_to=date_texts)
def test_period_parser_accepts_or_refuses_clearly(text, date_from, date_to):
    period = accepted_or_refused(parse_period, text, date_from=date_from, date_to=date_to)
    if period is not None:
        assert period.days >= 1
        start, end = period.utc_bounds()
        assert start < end


@PROPERTY
@given(day=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2999, 12, 31)))
def test_every_month_and_quarter_of_a_real_year_parses(day):
    month = parse_period(f"{day.year:04d}-{day.month:02d}")
    quarter = parse_period(f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}")
    assert month.start <= day < month.end and quarter.start <= day < quarter.end
    assert parse_period(date_from=day.isoformat(), date_to=day.isoformat()).days == 1


# --- client uuids -----------------------------------------------------------------------------

@PROPERTY
@given(value=st.uuids().map(str) | st.uuids().map(lambda u: "{" + str(u).upper() + "}") | json_values)
def test_client_uuid_parser_accepts_or_refuses_clearly(value):
    canonical = accepted_or_refused(normalise_uuid, value)
    if canonical is not None:
        assert len(canonical) == 36 and canonical == canonical.lower()
        assert normalise_uuid(canonical) == canonical
