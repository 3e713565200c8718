"""Tests of gridsvc.positions.protocols: every way in gives the same fix; malformed input is refused.

Pure: no database, no app. Expected values are written out: 2026-11-30T12:00:00Z is Unix time
1796040000 (`date -u -d 2026-11-30T12:00:00Z +%s`), 20:00:00 in Asia/Shanghai (UTC+8); 5 knots is
5 * 1852 m / 3600 s = 2.572222... m/s = 9.26 km/h.
"""
from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridsvc.errors import DomainError
from gridsvc.positions.protocols import (
    Fix,
    Limits,
    ProtocolError,
    flag_reasons,
    parse_osmand,
    parse_owntracks,
    parse_traccar_json,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
KEY = "k3y-Zq9Rt2Vx8Lm4Np6Wb1Yc"  # a device key: must never appear in an error
INSTANT = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
LON, LAT = 117.3012345, 23.8812345
SPEED_MPS = 2.5722222  # 5 knots, to 7 decimals
RECEIVED = datetime(2026, 11, 30, 12, 0, 30, tzinfo=UTC)


def osmand(params: dict, **options) -> Fix:
    return parse_osmand(params, now=RECEIVED, local_tz=SHANGHAI, **options)


def assert_the_fix(fix: Fix, source: str) -> None:
    assert fix.device_key == KEY
    assert fix.time == INSTANT
    assert fix.time.utcoffset() == timedelta(0)
    assert fix.lon == LON
    assert fix.lat == LAT
    assert fix.speed_mps == pytest.approx(SPEED_MPS, abs=5e-8)
    assert fix.source == source


# --- the same fix, every way in ---------------------------------------------------------------

BASE = {"id": KEY, "lat": "23.8812345", "lon": "117.3012345", "speed": "5"}


@pytest.mark.parametrize("timestamp", [
    "1796040000",                     # epoch seconds
    "1796040000000",                  # epoch milliseconds
    "2026-11-30T12:00:00Z",           # ISO-8601, UTC
    "2026-11-30T12:00:00.000Z",       # ISO-8601 with milliseconds
    "2026-11-30T20:00:00+08:00",      # ISO-8601 with an offset
    "2026-11-30 20:00:00",            # Traccar's local yyyy-MM-dd HH:mm:ss, in Asia/Shanghai
])
def test_osmand_every_timestamp_form_is_the_same_instant(timestamp):
    assert_the_fix(osmand({**BASE, "timestamp": timestamp}), "osmand")


def test_the_local_form_is_read_in_the_zone_passed():
    fix = parse_osmand({**BASE, "timestamp": "2026-11-30 12:00:00"}, now=RECEIVED, local_tz=UTC)
    assert fix.time == INSTANT


@pytest.mark.parametrize("speed, unit", [
    ("5", "kn"),            # Traccar's default: knots
    ("9.26", "kmh"),
    ("2.5722222", "mps"),   # GPSLogger's %SPD
    ("5.7538972", "mph"),   # 5 kn = 9260 m / 1609.344 m = 5.7538972... mph
])
def test_osmand_speed_units(speed, unit):
    options = {} if unit == "kn" else {"speed_unit": unit}
    fix = osmand({**BASE, "speed": speed, "timestamp": "1796040000"}, **options)
    assert_the_fix(fix, "osmand")


def test_knots_are_converted_exactly():
    fix = osmand({**BASE, "speed": "1", "timestamp": "1796040000"})
    assert fix.speed_mps == 1852 / 3600


def test_query_string_form_body_and_location_field_agree():
    url = f"https://gridsvc.example/api/v1/positions/osmand?id={KEY}&lat=23.8812345&lon=117.3012345&timestamp=1796040000&speed=5"
    query = dict(parse_qsl(urlsplit(url).query))
    # A form body, as GPSLogger posts it: the local time with its space encoded as "+".
    form = dict(parse_qsl(f"deviceid={KEY}&location=23.8812345%2C117.3012345&timestamp=2026-11-30+20%3A00%3A00&speed=5"))
    assert form["timestamp"] == "2026-11-30 20:00:00"
    for params in (query, form):
        assert_the_fix(osmand(params), "osmand")


def test_osmand_all_fields():
    fix = osmand({**BASE, "timestamp": "1796040000", "bearing": "90.5", "altitude": "12.5", "accuracy": "8",
                  "hdop": "0.9", "batt": "57", "charge": "true", "valid": "1", "alarm": "sos",
                  "driverUniqueId": "x", "wifi": "secret-ssid"})
    assert_the_fix(fix, "osmand")
    assert (fix.heading_deg, fix.altitude_m, fix.accuracy_m, fix.hdop) == (90.5, 12.5, 8.0, 0.9)
    assert (fix.battery_percent, fix.charging, fix.valid, fix.alarm) == (57.0, True, True, "sos")
    assert fix.reused_position is False


def test_osmand_defaults():
    fix = osmand({"id": KEY, "lat": "23.8812345", "lon": "117.3012345"})
    assert fix.time == RECEIVED  # no timestamp: the receive time
    assert fix.valid is True
    assert (fix.speed_mps, fix.heading_deg, fix.altitude_m, fix.accuracy_m, fix.hdop) == (None,) * 5
    assert (fix.battery_percent, fix.charging, fix.alarm) == (None, None, None)


def test_heading_is_the_alias_of_bearing_and_minus_one_is_unknown():
    assert osmand({**BASE, "heading": "270"}).heading_deg == 270.0
    assert osmand({**BASE, "heading": "360"}).heading_deg == 0.0
    assert osmand({**BASE, "bearing": "-1", "speed": "-1", "accuracy": "-1"}).heading_deg is None
    assert osmand({**BASE, "speed": "-1"}).speed_mps is None


@pytest.mark.parametrize("value, valid", [("true", True), ("TRUE", True), ("1", True), ("false", False),
                                          ("0", False), ("no", False), ("", True)])
def test_valid_as_traccar_reads_it(value, valid):
    assert osmand({**BASE, "valid": value}).valid is valid


@pytest.mark.parametrize("value, charging", [("true", True), ("True", True), ("1", True), ("false", False),
                                             ("0", False), ("maybe", False), ("", None)])
def test_charge_as_traccar_reads_it(value, charging):
    assert osmand({**BASE, "charge": value}).charging is charging


def test_no_coordinates_reuses_the_last_known_location():
    fix = osmand({"id": KEY, "timestamp": "1796040000"}, last_position=(LON, LAT))
    assert (fix.lon, fix.lat, fix.time, fix.reused_position) == (LON, LAT, INSTANT, True)


def test_the_same_fix_over_traccar_client_9_json():
    text = json.dumps({"device_id": KEY, "location": {
        "timestamp": "2026-11-30T12:00:00.000Z", "is_moving": True, "odometer": 1520, "event": "motionchange",
        "mock": False, "activity": {"type": "on_foot"},
        "coords": {"latitude": 23.8812345, "longitude": 117.3012345, "accuracy": 8, "speed": 2.5722222,
                   "heading": 90, "altitude": 12},
        "battery": {"level": 0.57, "is_charging": False}, "extras": {"home": "somewhere"}}})
    fix = parse_traccar_json(json.loads(text))
    assert_the_fix(fix, "traccar_json")
    assert (fix.accuracy_m, fix.heading_deg, fix.altitude_m) == (8.0, 90.0, 12.0)
    assert (fix.battery_percent, fix.charging, fix.valid) == (57.0, False, True)
    assert (fix.moving, fix.mock, fix.event, fix.activity, fix.odometer_m) == (True, False, "motionchange", "on_foot", 1520.0)


def test_traccar_json_batch_gives_each_fix():
    location = {"timestamp": "2026-11-30T20:00:00+08:00",
                "coords": {"latitude": 23.8812345, "longitude": 117.3012345, "speed": 2.5722222}}
    later = {**location, "timestamp": "2026-11-30T12:00:10Z"}
    fixes = parse_traccar_json({"device_id": KEY, "location": [location, later]})
    assert [fix.time for fix in fixes] == [INSTANT, datetime(2026, 11, 30, 12, 0, 10, tzinfo=UTC)]
    assert_the_fix(fixes[0], "traccar_json")
    assert parse_traccar_json({"device_id": KEY, "location": []}) == []


def test_traccar_json_without_coords_reuses_the_last_location_and_is_not_valid():
    fix = parse_traccar_json({"device_id": KEY, "location": {"timestamp": "2026-11-30T12:00:00Z"}},
                             last_position=(LON, LAT))
    assert (fix.lon, fix.lat, fix.time, fix.reused_position, fix.valid) == (LON, LAT, INSTANT, True, False)


def test_traccar_json_unknowns_and_the_sos_alarm():
    coords = {"latitude": LAT, "longitude": LON, "speed": -1, "heading": -1, "accuracy": 5, "altitude": 5}
    fix = parse_traccar_json({"device_id": KEY, "location": {
        "timestamp": "2026-11-30T12:00:00Z", "coords": coords, "battery": {"level": -1, "is_charging": True},
        "extras": {"alarm": "sos", "note": "dropped"}}})
    assert (fix.speed_mps, fix.heading_deg, fix.battery_percent, fix.charging, fix.alarm) == (None, None, None, True, "sos")
    fix = parse_traccar_json({"device_id": KEY, "location": {
        "timestamp": "2026-11-30T12:00:00Z", "coords": coords, "alarm": "general", "extras": {"alarm": "sos"}}})
    assert fix.alarm == "general"


def test_the_same_fix_over_owntracks():
    body = json.loads('{"_type": "location", "tst": 1796040000, "lat": 23.8812345, "lon": 117.3012345,'
                      ' "acc": 8, "vel": 9.26, "cog": 90, "alt": 12, "batt": 57, "bs": 2, "tid": "p1"}')
    fix = parse_owntracks(body, device_key=KEY)
    assert_the_fix(fix, "owntracks")
    assert (fix.accuracy_m, fix.heading_deg, fix.altitude_m, fix.battery_percent, fix.charging) == (8.0, 90.0, 12.0, 57.0, True)


@pytest.mark.parametrize("status, charging", [(0, None), (1, False), (2, True), (3, True), (None, None)])
def test_owntracks_battery_status(status, charging):
    body = {"_type": "location", "tst": 1796040000, "lat": LAT, "lon": LON, "bs": status}
    assert parse_owntracks(body, device_key=KEY).charging is charging


@pytest.mark.parametrize("body", [{}, None, [], {"_type": "transition", "lat": LAT, "lon": LON, "tst": 1796040000},
                                  {"_type": "waypoint"}, {"_type": "lwt"}, {"_type": "card"}, {"_type": "status"},
                                  {"lat": LAT, "lon": LON, "tst": 1796040000}])
def test_owntracks_other_messages_are_none(body):
    assert parse_owntracks(body, device_key=KEY) is None


def test_a_fix_never_shows_its_key():
    fix = osmand(BASE)
    assert KEY not in repr(fix) and KEY not in str(fix)


# --- malformed input --------------------------------------------------------------------------

LONG_KEY = "k" * 201


@pytest.mark.parametrize("params, code", [
    ({}, "no_device"),
    ({"lat": "23.8812345", "lon": "117.3012345"}, "no_device"),
    ({"id": "  ", "lat": "23.8812345", "lon": "117.3012345"}, "no_device"),
    ({"id": LONG_KEY, "lat": "1", "lon": "1"}, "device_too_long"),
    ({**BASE, "deviceid": KEY + "x"}, "conflicting_devices"),
    ({"id": KEY}, "no_position"),
    ({"id": KEY, "lat": "23.8812345"}, "half_position"),
    ({**BASE, "lat": "north"}, "bad_number"),
    ({**BASE, "lat": "nan"}, "bad_number"),
    ({**BASE, "lat": "NaN"}, "bad_number"),
    ({**BASE, "lon": "inf"}, "bad_number"),
    ({**BASE, "lon": "-Infinity"}, "bad_number"),
    ({**BASE, "lon": "1e999"}, "bad_number"),
    ({**BASE, "lon": "1_117"}, "bad_number"),
    ({**BASE, "lon": "１１７"}, "bad_number"),        # full-width digits
    ({**BASE, "lat": "90.0001"}, "bad_latitude"),
    ({**BASE, "lat": "-91"}, "bad_latitude"),
    ({**BASE, "lon": "180.5"}, "bad_longitude"),
    ({"id": KEY, "location": "23.8812345"}, "bad_location"),
    ({"id": KEY, "location": "23.8812345,117.3012345,5"}, "bad_location"),
    ({"id": KEY, "location": "23.8812345,east"}, "bad_number"),
    ({**BASE, "timestamp": "yesterday"}, "bad_timestamp"),
    ({**BASE, "timestamp": "2026-13-01 00:00:00"}, "bad_timestamp"),
    ({**BASE, "timestamp": "2026-11-30T25:00:00Z"}, "bad_timestamp"),
    ({**BASE, "timestamp": "99999999999999999999"}, "bad_timestamp"),
    ({**BASE, "timestamp": "-99999999999999"}, "bad_timestamp"),
    ({**BASE, "timestamp": "1796040000.5"}, "bad_timestamp"),
    ({**BASE, "timestamp": "9" * 5000}, "bad_timestamp"),
    ({**BASE, "speed": "fast"}, "bad_number"),
    ({**BASE, "batt": "nan"}, "bad_number"),
    ({**BASE, "timestamp": "2026-11-30T20:00:00"}, "timestamp_without_offset"),
    ({**BASE, "alarm": "x" * 65}, "bad_text"),
])
def test_malformed_osmand_is_refused_with_a_stable_code(params, code):
    with pytest.raises(ProtocolError) as caught:
        osmand(params)
    assert caught.value.code == code
    assert caught.value.http_status == 400
    assert isinstance(caught.value, DomainError)
    shown = json.dumps(caught.value.to_dict())
    assert KEY not in shown and KEY not in str(caught.value) and LONG_KEY not in shown


GOOD_LOCATION = {"timestamp": "2026-11-30T12:00:00Z", "coords": {"latitude": LAT, "longitude": LON}}


@pytest.mark.parametrize("body, code", [
    ([], "bad_type"),
    ({"location": GOOD_LOCATION}, "no_device"),
    ({"device_id": True, "location": GOOD_LOCATION}, "bad_type"),
    ({"device_id": KEY}, "missing_field"),
    ({"device_id": KEY, "location": "here"}, "bad_type"),
    ({"device_id": KEY, "location": {"coords": GOOD_LOCATION["coords"]}}, "missing_field"),
    ({"device_id": KEY, "location": {**GOOD_LOCATION, "timestamp": "2026-11-30T12:00:00"}}, "timestamp_without_offset"),
    ({"device_id": KEY, "location": {**GOOD_LOCATION, "timestamp": 1796040000}}, "bad_timestamp"),
    ({"device_id": KEY, "location": {**GOOD_LOCATION, "timestamp": "noon"}}, "bad_timestamp"),
    ({"device_id": KEY, "location": {"timestamp": "2026-11-30T12:00:00Z"}}, "no_position"),
    ({"device_id": KEY, "location": {**GOOD_LOCATION, "coords": [LAT, LON]}}, "bad_type"),
    ({"device_id": KEY, "location": {**GOOD_LOCATION, "alarm": 7}}, "bad_text"),
    ({"device_id": KEY, "location": {**GOOD_LOCATION, "coords": {"latitude": "x", "longitude": LON}}}, "bad_number"),
    ({"device_id": KEY, "location": {**GOOD_LOCATION, "coords": {"latitude": float("nan"), "longitude": LON}}}, "bad_number"),
    ({"device_id": KEY, "location": {**GOOD_LOCATION, "coords": {"latitude": 95, "longitude": LON}}}, "bad_latitude"),
    ({"device_id": KEY, "location": {**GOOD_LOCATION, "coords": {"latitude": True, "longitude": LON}}}, "bad_number"),
    ({"device_id": KEY, "location": {**GOOD_LOCATION, "battery": {"level": 0.5, "is_charging": "yes"}}}, "bad_boolean"),
    ({"device_id": KEY, "location": [GOOD_LOCATION, {"timestamp": "x"}]}, "bad_timestamp"),
])
def test_malformed_traccar_json_is_refused(body, code):
    with pytest.raises(ProtocolError) as caught:
        parse_traccar_json(body)
    assert caught.value.code == code
    assert KEY not in json.dumps(caught.value.to_dict())


@pytest.mark.parametrize("body, key, code", [
    ({"_type": "location", "tst": 1796040000, "lat": LAT, "lon": LON}, "", "no_device"),
    ({"_type": "location", "tst": 1796040000, "lat": 100, "lon": LON}, KEY, "bad_latitude"),
    ({"_type": "location", "tst": 1796040000, "lon": LON}, KEY, "half_position"),
    ({"_type": "location", "lat": LAT, "lon": LON}, KEY, "missing_field"),
    ({"_type": "location", "tst": "soon", "lat": LAT, "lon": LON}, KEY, "bad_timestamp"),
    ({"_type": "location", "tst": 10**30, "lat": LAT, "lon": LON}, KEY, "bad_timestamp"),
    ({"_type": "location", "tst": 1796040000, "lat": LAT, "lon": LON, "vel": "fast"}, KEY, "bad_number"),
])
def test_malformed_owntracks_location_is_refused(body, key, code):
    with pytest.raises(ProtocolError) as caught:
        parse_owntracks(body, device_key=key)
    assert caught.value.code == code
    assert KEY not in json.dumps(caught.value.to_dict())


# --- fuzzing ----------------------------------------------------------------------------------

FIELDS = ["id", "deviceid", "lat", "lon", "location", "timestamp", "speed", "bearing", "heading", "altitude",
          "accuracy", "hdop", "batt", "charge", "valid", "alarm"]
TRICKY = ["", " ", "0", "-1", "1e308", "1e309", "nan", "inf", "2147483647", "2147483646", "9" * 30,
          "2026-11-30T12:00:00Z", "2026-11-30 20:00:00", "0001-01-01T00:00:00", "9999-12-31T23:59:59-23:59",
          "9999-12-31 23:59:59", "0001-01-01 00:00:00", "23.8,117.3", ",", "T", "true", "１"]
values = st.one_of(st.text(max_size=30), st.sampled_from(TRICKY),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), values, max_size=12))
def test_parse_osmand_raises_only_protocol_errors(params):
    try:
        fix = osmand(params)
    except ProtocolError as error:
        assert error.code and error.message
        return
    assert math.isfinite(fix.lat) and -90 <= fix.lat <= 90
    assert math.isfinite(fix.lon) and -180 <= fix.lon <= 180
    assert fix.time.utcoffset() == timedelta(0)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.sampled_from(TRICKY),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)


def _traccar_body():
    coords = st.fixed_dictionaries({}, optional={name: json_values for name in
                                                 ("latitude", "longitude", "accuracy", "speed", "heading", "altitude")})
    location = st.fixed_dictionaries({}, optional={"timestamp": json_values, "coords": coords | json_values,
                                                   "battery": json_values, "activity": json_values,
                                                   "is_moving": json_values, "mock": json_values, "event": json_values,
                                                   "odometer": json_values})
    return st.fixed_dictionaries({}, optional={"device_id": json_values,
                                               "location": location | st.lists(location, max_size=2) | json_values})


@settings(max_examples=300, deadline=None)
@given(_traccar_body())
def test_parse_traccar_json_raises_only_protocol_errors(body):
    try:
        parse_traccar_json(body)
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({"_type": st.just("location")}, optional={
    name: json_values for name in ("tst", "lat", "lon", "acc", "vel", "cog", "alt", "batt", "bs")}))
def test_parse_owntracks_raises_only_protocol_errors(body):
    try:
        parse_owntracks(body, device_key=KEY)
    except ProtocolError:
        pass


# --- flags ------------------------------------------------------------------------------------

LIMITS = Limits(max_accuracy_m=100, max_jump_kmh=150, max_future_seconds=300, max_age_days=7)
NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def fix_at(time=NOW, lon=LON, lat=LAT, **fields) -> Fix:
    return Fix(device_key=KEY, time=time, lon=lon, lat=lat, source="osmand", **fields)


def reasons(fix, previous=None, now=NOW):
    return flag_reasons(fix, previous=previous, now=now, limits=LIMITS)


def test_a_good_fix_has_no_reasons():
    assert reasons(fix_at(accuracy_m=8), previous=fix_at(NOW - timedelta(seconds=60))) == []


def test_invalid_and_zero_position():
    assert reasons(fix_at(valid=False)) == ["invalid"]
    assert reasons(fix_at(lon=0.0, lat=0.0)) == ["zero_position"]
    assert reasons(fix_at(lon=0.0, lat=0.5)) == []


def test_future_and_too_old():
    assert reasons(fix_at(NOW + timedelta(seconds=301))) == ["future"]
    assert reasons(fix_at(NOW + timedelta(seconds=299))) == []
    assert reasons(fix_at(NOW - timedelta(days=7, seconds=1))) == ["too_old"]
    assert reasons(fix_at(NOW - timedelta(days=6, hours=23))) == []


def test_poor_accuracy():
    assert reasons(fix_at(accuracy_m=100.5)) == ["poor_accuracy"]
    assert reasons(fix_at(accuracy_m=100)) == []
    assert reasons(fix_at(accuracy_m=None)) == []


def test_jump():
    previous = fix_at(NOW - timedelta(seconds=10))
    # 0.01 degrees of latitude here is about 1.11 km: 1.11 km in 10 s is about 400 km/h.
    assert reasons(fix_at(lat=LAT + 0.01), previous=previous) == ["jump"]
    # The same distance in 60 s is about 67 km/h; out of order (previous later) counts the same.
    assert reasons(fix_at(lat=LAT + 0.01), previous=fix_at(NOW - timedelta(seconds=60))) == []
    assert reasons(fix_at(NOW - timedelta(seconds=10), lat=LAT + 0.01), previous=fix_at(NOW)) == ["jump"]
    # The same instant is the store's conflicting fix, not a jump; a reused position never jumps.
    assert reasons(fix_at(lat=LAT + 0.01), previous=fix_at()) == []
    assert reasons(fix_at(lat=LAT + 0.01, reused_position=True), previous=previous) == []


def test_several_reasons_in_a_fixed_order():
    fix = fix_at(NOW + timedelta(hours=1), lon=0.0, lat=0.0, valid=False, accuracy_m=5000)
    assert reasons(fix, previous=fix_at(NOW)) == ["invalid", "zero_position", "future", "poor_accuracy", "jump"]


def test_a_fix_needs_an_aware_utc_time():
    with pytest.raises(ValueError):
        fix_at(datetime(2026, 11, 30, 12, 0))
    with pytest.raises(ValueError):
        fix_at(datetime(2026, 11, 30, 20, 0, tzinfo=SHANGHAI))
