"""Tests of the patrol tracks (gridsvc.patrols.track, .gpx, .geojson_track, .verification) and gridsvc.geo.geodesy
against independent computations."""
from __future__ import annotations

import html
import math
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from gridsvc.errors import DomainError
from gridsvc.geo.geodesy import geodesic_distance_m, great_circle_distance_m, path_length_m
from gridsvc.patrols.geojson_track import parse_geojson_track
from gridsvc.patrols.gpx import parse_gpx
from gridsvc.patrols.track import TRACK_ERROR_MESSAGES, Track, TrackError, TrackPoint, detect_swapped, track_from_points
from gridsvc.patrols.verification import DEFAULT_MAX_GAP_SECONDS, DEFAULT_MAX_SPEED_KMH, inside_area, time_in_areas, verify
from tests.patrols.gpx_helpers import (
    GPX_DIR,
    ZONE_BBOX,
    ZONE_CENTRE,
    gpx_files,
    load_gpx_bytes,
    points_to_gpx_bytes,
    read_reference_segments,
    track_geojson,
    track_wkt,
    translate_track,
    zone_gpx_bytes,
    zone_track,
)

# ---------------------------------------------------------------------------------------------
# Independent reference computations (no code shared with the library)
# ---------------------------------------------------------------------------------------------

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
WGS84_E2 = WGS84_F * (2 - WGS84_F)


def haversine_m(lon1, lat1, lon2, lat2, radius=6371008.8):
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((phi2 - phi1) / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(h))


def local_ellipsoid_m(lon1, lat1, lon2, lat2):
    """Distance with the ellipsoid's meridian and prime-vertical radii at the mid-latitude.

    A different method from Vincenty: for the short lines between track points its relative
    error is of order (d / R)^2, about 1e-8 for 1 km.
    """
    phi = math.radians((lat1 + lat2) / 2)
    s2 = math.sin(phi) ** 2
    meridian = WGS84_A * (1 - WGS84_E2) / (1 - WGS84_E2 * s2) ** 1.5
    prime_vertical = WGS84_A / math.sqrt(1 - WGS84_E2 * s2)
    return math.hypot(meridian * math.radians(lat2 - lat1), prime_vertical * math.cos(phi) * math.radians(lon2 - lon1))


def reference_figures(data: bytes, max_speed_kmh=DEFAULT_MAX_SPEED_KMH, max_gap_seconds=DEFAULT_MAX_GAP_SECONDS):
    """Duration, lengths and excluded seconds of a GPX file, by plain ElementTree and arithmetic."""
    segments = [s for s in read_reference_segments(data) if all(p[2] is not None for p in s)]
    points = sorted((p for s in segments for p in s), key=lambda p: p[2])
    unique = []
    for p in points:
        if p not in unique[-5:]:  # duplicates share a time, so they sit next to each other
            unique.append(p)
    fast = gap = 0.0
    length = length_haversine = 0.0
    for (lon1, lat1, t1), (lon2, lat2, t2) in zip(unique, unique[1:]):
        dt = (t2 - t1).total_seconds()
        d = local_ellipsoid_m(lon1, lat1, lon2, lat2)
        length += d
        length_haversine += haversine_m(lon1, lat1, lon2, lat2)
        if dt > max_gap_seconds:
            gap += dt
        elif d > max_speed_kmh / 3.6 * dt:
            fast += dt
    return {
        "points": len(unique),
        "duplicates": len(points) - len(unique),
        "segments": len(segments),
        "duration": (unique[-1][2] - unique[0][2]).total_seconds(),
        "length": length,
        "length_haversine": length_haversine,
        "fast": fast,
        "gap": gap,
    }


# ---------------------------------------------------------------------------------------------
# Every real file
# ---------------------------------------------------------------------------------------------

PARSEABLE = {"around-visnjan-with-car.gpx", "cerknicko-jezero.gpx", "korita-zbevnica.gpx", "track-with-empty-segment.gpx"}
REFUSED = {
    "Mojstrovka.gpx": "impossible_times",  # every point at 1901-12-13T20:45:52, Unix time -2**31
    "cerknicko-without-times.gpx": "missing_times",  # 5 of 296 points kept their times
    "gpx_with_garmin_extension.gpx": "no_points",  # a single waypoint with a heart-rate extension
    "route.gpx": "no_times",  # a planned route: points without times
    "unicode_with_bom.gpx": "no_points",  # a single waypoint, after a UTF-8 BOM
}


def test_every_shared_gpx_file_is_classified():
    names = {path.name for path in gpx_files()}
    assert len(names) >= 9, f"real GPX files missing from {GPX_DIR}"
    assert names == PARSEABLE | set(REFUSED), "a new shared GPX file needs an expected outcome here"


@pytest.mark.parametrize("name", sorted(PARSEABLE))
def test_real_file_duration_and_length_match_independent_reading(name):
    data = load_gpx_bytes(name)
    expected = reference_figures(data)

    track = parse_gpx(data)

    assert len(track.points) == expected["points"]
    assert track.segments == expected["segments"]
    assert track.dropped_duplicates == expected["duplicates"]
    assert track.duration_seconds == round(expected["duration"])
    assert track.length_m == pytest.approx(expected["length"], rel=1e-6)
    # The sphere differs from the ellipsoid by well under 0.5 %.
    assert track.length_m == pytest.approx(expected["length_haversine"], rel=5e-3)
    assert track.start == min(p.time for p in track.points)
    assert track.start.tzinfo is not None and track.start.utcoffset() == timedelta(0)


@pytest.mark.parametrize("name", sorted(PARSEABLE))
def test_real_file_verified_time_matches_independent_classification(name):
    data = load_gpx_bytes(name)
    expected = reference_figures(data)

    result = verify(parse_gpx(data))

    assert result.fast_seconds == pytest.approx(expected["fast"], abs=1)
    assert result.gap_seconds == pytest.approx(expected["gap"], abs=1)
    assert result.verified_seconds == pytest.approx(expected["duration"] - expected["fast"] - expected["gap"], abs=1)
    assert result.verified_seconds + result.fast_seconds + result.gap_seconds == result.duration_seconds


@pytest.mark.parametrize("name,code", sorted(REFUSED.items()))
def test_real_file_is_refused_with_clear_code(name, code):
    with pytest.raises(TrackError) as caught:
        parse_gpx(load_gpx_bytes(name))

    assert caught.value.code == code
    assert caught.value.http_status == 422
    assert str(caught.value) == TRACK_ERROR_MESSAGES[code] % caught.value.params


def test_mojstrovka_times_really_are_1901():
    segments = read_reference_segments(load_gpx_bytes("Mojstrovka.gpx"))
    years = {p[2].year for s in segments for p in s}

    with pytest.raises(TrackError) as caught:
        parse_gpx(load_gpx_bytes("Mojstrovka.gpx"))

    assert years == {1901}
    assert caught.value.params["time"].startswith("1901-12-13T20:45:52")


def test_cerknicko_without_times_reports_the_missing_count():
    segments = read_reference_segments(load_gpx_bytes("cerknicko-without-times.gpx"))
    total = sum(len(s) for s in segments)
    missing = sum(1 for s in segments for p in s if p[2] is None)

    with pytest.raises(TrackError) as caught:
        parse_gpx(load_gpx_bytes("cerknicko-without-times.gpx"))

    assert caught.value.params == {"missing": missing, "total": total}
    assert (missing, total) == (291, 296)


def test_korita_drops_its_untimed_saved_copy_and_keeps_the_active_logs():
    data = load_gpx_bytes("korita-zbevnica.gpx")
    untimed = sum(len(s) for s in read_reference_segments(data) if all(p[2] is None for p in s))

    track = parse_gpx(data)

    assert untimed == 358
    assert track.dropped_untimed == untimed
    assert track.segments == 2
    assert track.start == datetime(2010, 10, 3, 9, 36, 30, tzinfo=UTC)
    assert track.end == datetime(2010, 10, 3, 13, 19, 31, tzinfo=UTC)


def test_the_bom_file_gets_past_xml_parsing():
    data = load_gpx_bytes("unicode_with_bom.gpx")
    assert data.startswith(b"\xef\xbb\xbf")

    with pytest.raises(TrackError) as caught:
        parse_gpx(data)

    assert caught.value.code == "no_points"  # not gpx_not_xml


def test_empty_segment_in_real_file_is_ignored():
    data = load_gpx_bytes("track-with-empty-segment.gpx")
    root = ET.fromstring(data)
    all_segments = root.findall(".//{http://www.topografix.com/GPX/1/1}trkseg")

    track = parse_gpx(data)

    assert len(all_segments) == 2
    assert track.segments == 1
    assert len(track.points) == 9


# ---------------------------------------------------------------------------------------------
# The driven stretch near Višnjan
# ---------------------------------------------------------------------------------------------


def test_car_stretch_is_not_counted_as_foot_patrol():
    data = load_gpx_bytes("around-visnjan-with-car.gpx")
    points = [p for s in read_reference_segments(data) for p in s]
    fast_pairs = [
        (t2 - t1).total_seconds()
        for (lon1, lat1, t1), (lon2, lat2, t2) in zip(points, points[1:])
        if haversine_m(lon1, lat1, lon2, lat2) / (t2 - t1).total_seconds() * 3.6 > 25
    ]

    track = parse_gpx(data)
    result = verify(track)

    assert track.duration_seconds == 514  # 06:15:50 to 06:24:24
    assert result.verified_seconds < track.duration_seconds
    assert dict(result.reasons)["too_fast"] == pytest.approx(sum(fast_pairs), abs=2)
    assert sum(fast_pairs) > 150  # a real drive, not GPS jitter
    assert result.moving_seconds == result.verified_seconds


def test_car_stretch_counts_when_the_speed_limit_allows_cars():
    result = verify(parse_gpx(load_gpx_bytes("around-visnjan-with-car.gpx")), max_speed_kmh=120)

    assert result.verified_seconds == result.duration_seconds
    assert result.reasons == []


# ---------------------------------------------------------------------------------------------
# Moving real files into the zone
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PARSEABLE))
def test_translated_real_file_keeps_times_and_size(name):
    original = parse_gpx(load_gpx_bytes(name))

    moved = zone_track(name)

    assert (moved.points[0].lon, moved.points[0].lat) == pytest.approx(ZONE_CENTRE)
    assert [p.time for p in moved.points] == [p.time for p in original.points]
    assert moved.duration_seconds == original.duration_seconds
    assert moved.length_m == pytest.approx(original.length_m, rel=1e-3)
    lons = [p.lon for p in moved.points]
    lats = [p.lat for p in moved.points]
    assert ZONE_BBOX[0] < min(lons) and max(lons) < ZONE_BBOX[2]
    assert ZONE_BBOX[1] < min(lats) and max(lats) < ZONE_BBOX[3]


@pytest.mark.parametrize("name", sorted(PARSEABLE))
def test_zone_gpx_bytes_parse_back_and_match_independent_reading(name):
    data = zone_gpx_bytes(name)
    expected = reference_figures(data)

    track = parse_gpx(data, zone_bbox=ZONE_BBOX)

    assert track.points == zone_track(name).points
    assert track.duration_seconds == round(expected["duration"])
    assert track.length_m == pytest.approx(expected["length"], rel=1e-6)
    assert verify(track).fast_seconds == pytest.approx(expected["fast"], abs=1)


def test_translated_car_stretch_is_still_excluded():
    original = verify(parse_gpx(load_gpx_bytes("around-visnjan-with-car.gpx")))

    moved = verify(zone_track("around-visnjan-with-car.gpx"))

    assert moved.fast_seconds == pytest.approx(original.fast_seconds, abs=5)
    assert moved.verified_seconds < moved.duration_seconds


def test_translate_refuses_bad_target():
    track = zone_track("track-with-empty-segment.gpx")

    with pytest.raises(TrackError) as caught:
        translate_track(track, to_lon=117.3, to_lat=91)

    assert caught.value.code == "bad_coordinates"


# ---------------------------------------------------------------------------------------------
# Geodesy
# ---------------------------------------------------------------------------------------------


def _dms(degrees, minutes, seconds):
    return math.copysign(abs(degrees) + minutes / 60 + seconds / 3600, degrees)


def test_geodesic_distance_matches_published_values():
    # Geoscience Australia's Vincenty example, GRS80: Flinders Peak to Buninyong, 54 972.271 m.
    grs80_f = 1 / 298.257222101
    flinders = (_dms(144, 25, 29.52440), _dms(-37, 57, 3.72030))
    buninyong = (_dms(143, 55, 35.38390), _dms(-37, 39, 10.15610))
    assert geodesic_distance_m(*flinders, *buninyong, f=grs80_f) == pytest.approx(54972.271, abs=0.001)
    # GeographicLib's GeodSolve example, WGS-84: JFK (40.6 N, 73.8 W) to LHR (51.6 N, 0.5 W).
    assert geodesic_distance_m(-73.8, 40.6, -0.5, 51.6) == pytest.approx(5551759.400, abs=0.001)
    # Vincenty (1975), test line (a) on the Bessel ellipsoid: 14 110 526.170 m.
    bessel = {"a": 6377397.155, "f": 1 / 299.1528128}
    assert geodesic_distance_m(0, 55.75, _dms(108, 13, 0), -_dms(33, 26, 0), **bessel) == pytest.approx(
        14110526.170, abs=0.001
    )
    # One degree of the equator is a * pi / 180.
    assert geodesic_distance_m(0, 0, 1, 0) == pytest.approx(WGS84_A * math.pi / 180, abs=1e-6)


def test_geodesic_distance_edge_cases():
    assert geodesic_distance_m(117.3, 23.88, 117.3, 23.88) == 0.0
    assert geodesic_distance_m(10, 90, -170, 90) == pytest.approx(0.0, abs=1e-6)  # the same pole
    assert geodesic_distance_m(179.9, 0, -179.9, 0) == pytest.approx(geodesic_distance_m(0, 0, 0.2, 0))
    # Antipodal points: Vincenty does not converge, the great-circle fallback is within 0.5 %.
    assert geodesic_distance_m(0, 0, 180, 0) == pytest.approx(20003931.459, rel=5e-3)
    assert great_circle_distance_m(0, 0, 90, 0) == pytest.approx(6371008.8 * math.pi / 2)


@given(
    lon=st.floats(-179.9, 179.9),
    lat=st.floats(-80, 80),
    d_lon=st.floats(-0.05, 0.05),
    d_lat=st.floats(-0.05, 0.05),
)
def test_geodesic_distance_agrees_with_local_ellipsoid_for_short_lines(lon, lat, d_lon, d_lat):
    expected = local_ellipsoid_m(lon, lat, lon + d_lon, lat + d_lat)

    # abs 10 µm: Vincenty stops iterating at a longitude change under 1e-12 rad (about 6 µm), which
    # decides sub-millimetre lines (a 0.6 mm line once came out 2 µm short: 0.3 %).
    assert geodesic_distance_m(lon, lat, lon + d_lon, lat + d_lat) == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_path_length_sums_pairs():
    line = [(117.30, 23.88), (117.31, 23.88), (117.31, 23.89)]
    expected = local_ellipsoid_m(117.30, 23.88, 117.31, 23.88) + local_ellipsoid_m(117.31, 23.88, 117.31, 23.89)

    assert path_length_m(line) == pytest.approx(expected, rel=1e-6)
    assert path_length_m([]) == 0.0


# ---------------------------------------------------------------------------------------------
# Hostile GPX
# ---------------------------------------------------------------------------------------------

MINIMAL_TRACK = (
    '<trk><trkseg><trkpt lat="23.88" lon="117.3"><time>2024-05-01T00:00:00Z</time></trkpt>'
    '<trkpt lat="23.881" lon="117.3"><time>2024-05-01T00:01:00Z</time></trkpt></trkseg></trk>'
)

XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    '<gpx version="1.1"><trk><name>&xxe;</name>' + MINIMAL_TRACK[5:] + "</gpx>"
).encode()

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE gpx [\n <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">\n' for i in range(1, 10))
    + ']>\n<gpx version="1.1"><trk><name>&lol9;</name></trk></gpx>'
).encode()

EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE gpx SYSTEM "http://127.0.0.1:9/gpx.dtd"><gpx version="1.1"/>'
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x"> %remote;]><gpx/>'
)
PLAIN_DOCTYPE = b'<?xml version="1.0"?><!DOCTYPE gpx><gpx version="1.1">' + MINIMAL_TRACK.encode() + b"</gpx>"


@pytest.mark.parametrize(
    "payload", [XXE, BILLION_LAUGHS, EXTERNAL_DTD, PARAMETER_ENTITY, PLAIN_DOCTYPE], ids=["xxe", "laughs", "dtd", "pe", "doctype"]
)
def test_dtd_and_entities_are_refused_fast(payload):
    started = time.perf_counter()

    with pytest.raises(TrackError) as caught:
        parse_gpx(payload)

    assert caught.value.code == "gpx_entities_forbidden"
    assert time.perf_counter() - started < 0.5


def test_quadratic_regex_input_for_gpxpy_is_refused_fast():
    # 400 kB of " xmlns" in a description: gpxpy's namespace regex would need minutes.
    payload = ('<gpx version="1.1"><desc>' + " xmlns" * 70_000 + "</desc>" + MINIMAL_TRACK + "</gpx>").encode()
    started = time.perf_counter()

    with pytest.raises(TrackError) as caught:
        parse_gpx(payload)

    assert caught.value.code == "gpx_invalid"
    assert time.perf_counter() - started < 1.0


def test_many_tiny_elements_are_refused_before_building_a_tree():
    payload = ("<gpx>" + "<x/>" * 2_000_000 + "</gpx>").encode()
    started = time.perf_counter()

    with pytest.raises(TrackError) as caught:
        parse_gpx(payload, max_points=1000)

    assert caught.value.code == "gpx_too_complex"
    assert time.perf_counter() - started < 1.0


def test_deep_nesting_is_refused():
    payload = ("<gpx>" + "<a>" * 100_000 + "</a>" * 100_000 + "</gpx>").encode()

    with pytest.raises(TrackError) as caught:
        parse_gpx(payload)

    assert caught.value.code == "gpx_too_complex"
    assert caught.value.params["max_depth"] == 32


def test_gpxpy_namespace_registrations_do_not_leak():
    namespace_map = ET._namespace_map
    before = dict(namespace_map)
    data = (
        '<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1" xmlns:leak="urn:gridsvc:leak">'
        + MINIMAL_TRACK
        + "</gpx>"
    ).encode()

    parse_gpx(data)

    assert dict(namespace_map) == before


@pytest.mark.parametrize(
    "payload,code",
    [
        (b"", "gpx_not_xml"),
        (b"not xml at all", "gpx_not_xml"),
        (b"<gpx><trk>", "gpx_not_xml"),
        (b"\xff\xfe\x00\xd8", "gpx_not_xml"),
        (b'<?xml version="1.0" encoding="no-such-codec"?><gpx/>', "gpx_not_xml"),
        (b'<?xml version="1.0" encoding="base64"?><gpx/>', "gpx_not_xml"),
        (b'<kml xmlns="http://www.opengis.net/kml/2.2"><Document/></kml>', "gpx_invalid"),
        (b'<gpx version="1.1"><trk><trkseg><trkpt lat="x" lon="1"/></trkseg></trk></gpx>', "gpx_invalid"),
        (b'<gpx version="1.1"><trk><trkseg><trkpt lat="1" lon="1"><time>2024-13-40T00:00:00Z</time></trkpt></trkseg></trk></gpx>', "bad_time"),
        (b'<gpx version="1.1"><trk><trkseg><trkpt lat="1" lon="1"><time>yesterday</time></trkpt></trkseg></trk></gpx>', "bad_time"),
        (b'<gpx version="1.1"/>', "no_points"),
        (b'<gpx version="1.1"><trk><trkseg/></trk></gpx>', "no_points"),
        (b'<gpx version="1.1"><trk><trkseg><trkpt lat="95" lon="1"><time>2024-05-01T00:00:00Z</time></trkpt><trkpt lat="1" lon="1"><time>2024-05-01T00:00:01Z</time></trkpt></trkseg></trk></gpx>', "bad_coordinates"),
        (b'<gpx version="1.1"><trk><trkseg><trkpt lat="nan" lon="1"><time>2024-05-01T00:00:00Z</time></trkpt><trkpt lat="1" lon="1"><time>2024-05-01T00:00:01Z</time></trkpt></trkseg></trk></gpx>', "bad_coordinates"),
        (b'<gpx version="1.1"><trk><trkseg><trkpt lat="1" lon="1"><time>2024-05-01T00:00:00Z</time></trkpt></trkseg></trk></gpx>', "too_few_points"),
    ],
)
def test_malformed_gpx_gives_clear_codes(payload, code):
    with pytest.raises(TrackError) as caught:
        parse_gpx(payload)

    assert caught.value.code == code


# ---------------------------------------------------------------------------------------------
# GPX edge cases
# ---------------------------------------------------------------------------------------------

T0 = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)


def _walk(n, *, start=T0, step_s=10, lon=117.30, lat=23.88, step_deg=0.0001):
    """n points walking north at about 11 m per step (4 km/h at 10 s per step)."""
    return [(lon, lat + i * step_deg, start + timedelta(seconds=i * step_s)) for i in range(n)]


def test_segments_of_several_tracks_are_concatenated_in_time_order():
    first, second = _walk(5), _walk(5, start=T0 + timedelta(minutes=5), lat=23.89)
    data = points_to_gpx_bytes([second, [], first])

    track = parse_gpx(data)

    assert [p.time for p in track.points] == sorted(p[2] for p in first + second)
    assert track.segments == 2
    assert track.duration_seconds == 5 * 60 + 40


def test_exact_duplicates_are_dropped_and_counted():
    walk = _walk(6)
    same_time_elsewhere = (117.31, 23.88, walk[2][2])
    data = points_to_gpx_bytes([walk, walk[1:3], [same_time_elsewhere]])

    track = parse_gpx(data)

    assert track.dropped_duplicates == 2
    assert len(track.points) == 7  # the point at the same time but elsewhere stays
    assert track.segments == 3


def test_bom_and_other_encodings_parse_like_plain_utf8():
    segments = [_walk(4)]
    plain = parse_gpx(points_to_gpx_bytes(segments))
    variants = [
        points_to_gpx_bytes(segments, bom=True),
        b"\xff\xfe" + points_to_gpx_bytes(segments, encoding="utf-16-le"),
        points_to_gpx_bytes(segments, encoding="gbk", name="巡逻"),
        points_to_gpx_bytes(segments, encoding="gb18030", name="巡逻"),
        points_to_gpx_bytes(segments, encoding="iso-8859-1", name="Višnjan".replace("š", "s")),
    ]

    for data in variants:
        assert parse_gpx(data).points == plain.points


def test_byte_cap_edges():
    data = points_to_gpx_bytes([_walk(3)])

    assert len(parse_gpx(data, max_bytes=len(data)).points) == 3
    with pytest.raises(TrackError) as caught:
        parse_gpx(data, max_bytes=len(data) - 1)

    assert caught.value.code == "track_too_large"
    assert caught.value.http_status == 413
    assert caught.value.params == {"size": len(data), "max_bytes": len(data) - 1}


def test_point_cap_edges():
    data = points_to_gpx_bytes([_walk(10)])

    assert len(parse_gpx(data, max_points=10).points) == 10
    with pytest.raises(TrackError) as caught:
        parse_gpx(data, max_points=9)

    assert caught.value.code == "too_many_points"
    assert caught.value.http_status == 422


def test_time_window_edges():
    walk = _walk(3)  # last point at T0 + 20 s
    data = points_to_gpx_bytes([walk])
    last = walk[-1][2]

    assert parse_gpx(data, now=last - timedelta(minutes=10)).end == last  # within the clock-skew allowance
    with pytest.raises(TrackError) as future:
        parse_gpx(data, now=last - timedelta(minutes=10, seconds=1))
    assert parse_gpx(data, earliest=T0).start == T0
    with pytest.raises(TrackError) as early:
        parse_gpx(data, earliest=T0 + timedelta(seconds=1))

    assert future.value.code == early.value.code == "impossible_times"


def test_partly_timed_segment_is_refused_but_untimed_segment_is_dropped():
    walk = _walk(4)
    untimed_copy = [(lon, lat, None) for lon, lat, _ in walk]
    partly = walk[:2] + [(117.3, 23.9, None)]

    assert parse_gpx(points_to_gpx_bytes([untimed_copy, walk])).dropped_untimed == 4
    with pytest.raises(TrackError) as caught:
        parse_gpx(points_to_gpx_bytes([partly]))
    with pytest.raises(TrackError) as none:
        parse_gpx(points_to_gpx_bytes([untimed_copy]))

    assert caught.value.code == "missing_times"
    assert caught.value.params == {"missing": 1, "total": 3}
    assert none.value.code == "no_times"


def test_bad_time_names_the_point_in_file_order():
    data = (
        '<gpx version="1.1"><trk><trkseg>'
        '<trkpt lat="23.88" lon="117.3"><time>2024-05-01T00:00:00Z</time></trkpt>'
        '<trkpt lat="23.881" lon="117.3"><time>2024-05-01T25:00:00Z</time></trkpt>'
        "</trkseg></trk></gpx>"
    ).encode()

    with pytest.raises(TrackError) as caught:
        parse_gpx(data)

    assert caught.value.params == {"number": 2, "value": "'2024-05-01T25:00:00Z'"}


def test_time_zone_offsets_are_converted_to_utc():
    data = (
        '<gpx version="1.1"><trk><trkseg>'
        '<trkpt lat="23.88" lon="117.3"><time>2024-05-01T08:00:00+08:00</time></trkpt>'
        '<trkpt lat="23.881" lon="117.3"><time>2024-05-01T00:10:00Z</time></trkpt>'
        "</trkseg></trk></gpx>"
    ).encode()

    track = parse_gpx(data)

    assert track.start == T0
    assert track.duration_seconds == 600


def test_swapped_coordinates_in_gpx():
    swapped = [(lat, lon, t) for lon, lat, t in _walk(4)]  # lon=23.88, lat=117.3: out of range
    data = points_to_gpx_bytes([[(lat, lon, t) for lat, lon, t in swapped]])

    with pytest.raises(TrackError) as with_zone:
        parse_gpx(data, zone_bbox=ZONE_BBOX)
    with pytest.raises(TrackError) as without_zone:
        parse_gpx(data)

    assert with_zone.value.code == "swapped_coordinates"
    assert without_zone.value.code == "bad_coordinates"


def test_routes_with_times_are_accepted():
    data = (
        '<gpx version="1.1"><rte>'
        '<rtept lat="23.88" lon="117.3"><time>2024-05-01T00:00:00Z</time></rtept>'
        '<rtept lat="23.881" lon="117.3"><time>2024-05-01T00:01:00Z</time></rtept>'
        "</rte></gpx>"
    ).encode()

    track = parse_gpx(data)

    assert track.duration_seconds == 60
    assert track.length_m == pytest.approx(local_ellipsoid_m(117.3, 23.88, 117.3, 23.881), rel=1e-6)


# ---------------------------------------------------------------------------------------------
# GeoJSON
# ---------------------------------------------------------------------------------------------


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def _feature(points, key="times"):
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[lon, lat, 12.5] for lon, lat, _ in points]},
        "properties": {key: [_iso(t) for _, _, t in points], "name": "patrol"},
    }


def test_geojson_feature_with_times_matches_gpx():
    walk = _walk(5)

    from_geojson = parse_geojson_track(_feature(walk))
    from_coord_times = parse_geojson_track(_feature(walk, key="coordTimes"))
    from_gpx = parse_gpx(points_to_gpx_bytes([walk]))

    assert from_geojson.points == from_gpx.points == from_coord_times.points
    assert from_geojson.length_m == pytest.approx(sum(local_ellipsoid_m(*a[:2], *b[:2]) for a, b in zip(walk, walk[1:])))


def test_geojson_bare_geometry_and_multilinestring():
    walk = _walk(6)
    bare = {"type": "LineString", "coordinates": [[lon, lat] for lon, lat, _ in walk], "coordTimes": [_iso(t) for *_, t in walk]}
    multi = {
        "type": "Feature",
        "geometry": {"type": "MultiLineString", "coordinates": [[[lon, lat] for lon, lat, _ in walk[:3]], [], [[lon, lat] for lon, lat, _ in walk[3:]]]},
        "properties": {"times": [[_iso(t) for *_, t in walk[:3]], [], [_iso(t) for *_, t in walk[3:]]]},
    }
    flat_multi = {**multi, "properties": {"times": [_iso(t) for *_, t in walk]}}

    assert parse_geojson_track(bare).points == parse_geojson_track(multi).points == parse_geojson_track(flat_multi).points
    assert parse_geojson_track(multi).segments == 2


def test_geojson_round_trip_and_wkt():
    track = zone_track("around-visnjan-with-car.gpx")

    again = parse_geojson_track(track_geojson(track))
    line = shapely.from_wkt(track_wkt(track))

    assert again == track
    assert line.geom_type == "LineString"
    assert list(line.coords) == [(p.lon, p.lat) for p in track.points]


def _set(obj, path, value):
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return obj


@pytest.mark.parametrize(
    "change,code",
    [
        (lambda f: [1, 2], "geojson_invalid"),
        (lambda f: "LineString", "geojson_invalid"),
        (lambda f: _set(f, ["geometry", "type"], "Point"), "not_linestring"),
        (lambda f: {"type": "FeatureCollection", "features": [f]}, "not_linestring"),
        (lambda f: _set(f, ["geometry"], None), "not_linestring"),
        (lambda f: _set(f, ["geometry", "coordinates"], "1,2"), "geojson_invalid"),
        (lambda f: _set(f, ["geometry", "coordinates"], []), "no_points"),
        (lambda f: _set(f, ["properties"], None), "no_times"),
        (lambda f: _set(f, ["properties"], [1]), "geojson_invalid"),
        (lambda f: _set(f, ["properties", "times"], "2024-05-01T00:00:00Z"), "geojson_invalid"),
        (lambda f: _set(f, ["properties", "times"], f["properties"]["times"][:-1]), "times_mismatch"),
        (lambda f: _set(f, ["properties", "times", 1], None), "missing_times"),
        (lambda f: _set(f, ["properties", "times", 1], "2024-05-01T00:00:10"), "bad_time"),
        (lambda f: _set(f, ["properties", "times", 1], 1714521610), "bad_time"),
        (lambda f: _set(f, ["properties", "times", 1], "not a time"), "bad_time"),
        (lambda f: _set(f, ["properties", "times", 1], "0001-01-01T00:00:00+01:00"), "bad_time"),
        (lambda f: _set(f, ["properties", "times", 1], "1901-12-13T20:45:52Z"), "impossible_times"),
        (lambda f: _set(f, ["geometry", "coordinates", 1], [True, 23.88]), "bad_coordinates"),
        (lambda f: _set(f, ["geometry", "coordinates", 1], ["117.3", 23.88]), "bad_coordinates"),
        (lambda f: _set(f, ["geometry", "coordinates", 1], [117.3]), "bad_coordinates"),
        (lambda f: _set(f, ["geometry", "coordinates", 1], [181, 23.88]), "bad_coordinates"),
        (lambda f: _set(f, ["geometry", "coordinates", 1], [117.3, float("inf")]), "bad_coordinates"),
        (lambda f: _set(f, ["geometry", "coordinates", 1], [10**400, 1]), "bad_coordinates"),
        (lambda f: _set(f, ["geometry", "coordinates", 1], {"lon": 1}), "bad_coordinates"),
    ],
)
def test_malformed_geojson_gives_clear_codes(change, code):
    obj = change(_feature(_walk(3)))

    with pytest.raises(TrackError) as caught:
        parse_geojson_track(obj)

    assert caught.value.code == code
    assert str(caught.value)  # the message formats with its params


def test_geojson_point_cap_edges():
    feature = _feature(_walk(10))

    assert len(parse_geojson_track(feature, max_points=10).points) == 10
    with pytest.raises(TrackError) as caught:
        parse_geojson_track(feature, max_points=9)

    assert caught.value.code == "too_many_points"
    assert caught.value.params["count"] == 10


def test_geojson_swapped_coordinates():
    feature = _feature(_walk(5))
    for position in feature["geometry"]["coordinates"]:
        position[0], position[1] = position[1], position[0]

    with pytest.raises(TrackError) as caught:
        parse_geojson_track(feature, zone_bbox=ZONE_BBOX)

    assert caught.value.code == "swapped_coordinates"


def test_detect_swapped():
    track = zone_track("track-with-empty-segment.gpx")
    swapped = [(p.lat, p.lon) for p in track.points]
    elsewhere = [(13.7, 45.2)] * 5

    assert detect_swapped(swapped, ZONE_BBOX)
    assert not detect_swapped(track, ZONE_BBOX)
    assert not detect_swapped(track.points, ZONE_BBOX)
    assert not detect_swapped(elsewhere, ZONE_BBOX)
    assert not detect_swapped([], ZONE_BBOX)
    assert not detect_swapped([None, "x", (1,), ("a", "b")], ZONE_BBOX)


# ---------------------------------------------------------------------------------------------
# Verification and areas
# ---------------------------------------------------------------------------------------------


def _track(points):
    return track_from_points(TrackPoint(lon, lat, t) for lon, lat, t in points)


def test_verify_classifies_gaps_fast_pairs_and_outside_station():
    walk = _walk(4)  # 30 s of walking
    gap_end = (117.30, 23.8804, walk[-1][2] + timedelta(seconds=601))  # gap, and slow
    drive_end = (117.30, 23.8904, gap_end[2] + timedelta(seconds=60))  # 1.1 km in 60 s: 67 km/h
    outside = [(117.30, 23.8904 + (i + 1) * 0.0001, drive_end[2] + timedelta(seconds=10 * (i + 1))) for i in range(3)]
    track = _track(walk + [gap_end, drive_end] + outside)

    result = verify(track, inside=lambda lon, lat: lat < 23.89)

    assert result.duration_seconds == 30 + 601 + 60 + 30
    assert result.gap_seconds == 601
    assert result.fast_seconds == 60
    assert result.outside_seconds == 30
    assert result.verified_seconds == 30
    assert result.moving_seconds == 60
    assert result.reasons == [("too_fast", 60), ("gap", 601), ("outside_station", 30)]


def test_verify_speed_limit_edge():
    # Two points 100 m apart (local ellipsoid) timed so the speed is just under / over 25 km/h.
    lat2 = 23.88 + 100 / local_ellipsoid_m(117.3, 23.88, 117.3, 23.89) * 0.01
    distance = local_ellipsoid_m(117.3, 23.88, 117.3, lat2)
    at_limit_s = distance / (25 / 3.6)
    slow = _track([(117.3, 23.88, T0), (117.3, lat2, T0 + timedelta(seconds=at_limit_s + 0.01))])
    fast = _track([(117.3, 23.88, T0), (117.3, lat2, T0 + timedelta(seconds=at_limit_s - 0.01))])

    assert verify(slow).fast_seconds == 0
    assert verify(fast).fast_seconds == round(at_limit_s)


def test_verify_gap_edge():
    exactly = _track([(117.3, 23.88, T0), (117.3, 23.88, T0 + timedelta(seconds=600))])
    longer = _track([(117.3, 23.88, T0), (117.3, 23.88, T0 + timedelta(seconds=600, microseconds=1))])

    assert verify(exactly).verified_seconds == 600
    assert verify(longer).gap_seconds == 600
    assert verify(longer).verified_seconds == 0


def test_verify_with_inside_area_of_a_real_track():
    track = zone_track("korita-zbevnica.gpx")
    lon0, lat0 = ZONE_CENTRE
    station = box(lon0 - 0.005, lat0 - 0.005, lon0 + 0.005, lat0 + 0.005)

    everywhere = verify(track)
    in_station = verify(track, inside=inside_area(station))

    assert in_station.moving_seconds == everywhere.moving_seconds
    assert in_station.outside_seconds > 0
    assert in_station.verified_seconds + in_station.outside_seconds == everywhere.verified_seconds


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.floats(-0.01, 0.01), st.floats(-0.01, 0.01), st.integers(0, 2000), st.integers(0, 999_999)),
        min_size=1,
        max_size=40,
    ),
    max_speed=st.floats(1, 200),
    max_gap=st.integers(1, 2000),
)
def test_verify_parts_always_add_up_to_the_duration(steps, max_speed, max_gap):
    points = [(117.3, 23.88, T0)]
    for d_lon, d_lat, seconds, micros in steps:
        lon, lat, moment = points[-1]
        points.append((lon + d_lon, lat + d_lat, moment + timedelta(seconds=seconds, microseconds=micros)))
    try:
        track = _track(points)
    except TrackError as error:
        assert error.code == "too_few_points"
        return

    result = verify(track, max_speed_kmh=max_speed, max_gap_seconds=max_gap, inside=lambda lon, lat: lon < 117.3)

    assert result.verified_seconds + result.fast_seconds + result.gap_seconds + result.outside_seconds == track.duration_seconds
    assert min(result.verified_seconds, result.fast_seconds, result.gap_seconds, result.outside_seconds) >= 0
    assert sum(seconds for _, seconds in result.reasons) + result.verified_seconds == track.duration_seconds


def test_time_in_areas_splits_a_walk_between_adjacent_grids():
    # 12 steps north of 10 s each; the grids' shared border passes through the 6th step's midpoint.
    track = _track(_walk(13))
    border = (track.points[5].lat + track.points[6].lat) / 2
    areas = {
        "south": box(117.29, 23.87, 117.31, border),
        "north": box(117.29, border, 117.31, 23.89),
        "far": box(118, 24, 118.1, 24.1),
    }

    seconds = time_in_areas(track, areas)

    assert seconds == {"south": 60, "north": 60, "far": 0}  # the border step goes to the first area
    assert time_in_areas(track, {}) == {}


def test_time_in_areas_leaves_out_driving_unless_asked():
    walk = _walk(3)
    drive = (117.30, 23.90, walk[-1][2] + timedelta(seconds=60))
    track = _track(walk + [drive])
    zone = {"zone": box(117.2, 23.8, 117.4, 24.0)}

    assert time_in_areas(track, zone) == {"zone": 20}
    assert time_in_areas(track, zone, moving_only=False) == {"zone": 80}


def test_time_in_areas_on_a_real_track_matches_verified_time():
    track = zone_track("cerknicko-jezero.gpx")
    lon0, lat0 = ZONE_CENTRE
    # Four quadrants around the start, overlapping nothing, covering the whole track.
    quadrants = {
        "sw": box(lon0 - 1, lat0 - 1, lon0, lat0),
        "se": box(lon0, lat0 - 1, lon0 + 1, lat0),
        "nw": box(lon0 - 1, lat0, lon0, lat0 + 1),
        "ne": box(lon0, lat0, lon0 + 1, lat0 + 1),
    }

    seconds = time_in_areas(track, quadrants)

    assert sum(seconds.values()) == pytest.approx(verify(track).verified_seconds, abs=len(quadrants))
    assert sum(1 for value in seconds.values() if value > 0) >= 2


# ---------------------------------------------------------------------------------------------
# Track invariants and errors
# ---------------------------------------------------------------------------------------------


def test_track_refuses_broken_invariants():
    a = TrackPoint(117.3, 23.88, T0)
    b = TrackPoint(117.3, 23.881, T0 + timedelta(seconds=10))

    with pytest.raises(TrackError):
        Track(points=(a,))
    with pytest.raises(ValueError):
        Track(points=(b, a))
    with pytest.raises(ValueError):
        Track(points=(a, TrackPoint(117.3, 23.881, datetime(2024, 5, 1, 0, 1))))
    with pytest.raises(TrackError) as caught:
        Track(points=(a, TrackPoint(117.3, 23.881)))
    assert caught.value.code == "no_times"


def test_track_error_contract():
    error = TrackError("track_too_large", size=20, max_bytes=10)

    assert isinstance(error, ValueError) and isinstance(error, DomainError)
    assert error.http_status == 413 and TrackError("too_many_points", max_points=1).http_status == 422
    assert error.message == "The track file is %(size)s bytes; at most %(max_bytes)s bytes are accepted."
    assert str(error) == "The track file is 20 bytes; at most 10 bytes are accepted."
    assert error.to_dict()["code"] == "track_too_large"


# ---------------------------------------------------------------------------------------------
# Never anything but a Track or a TrackError
# ---------------------------------------------------------------------------------------------

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _parse_gpx_outcome(data):
    try:
        return parse_gpx(data, now=NOW)
    except TrackError as error:
        assert error.code in TRACK_ERROR_MESSAGES
        assert str(error)
        return error


def _parse_geojson_outcome(obj):
    try:
        return parse_geojson_track(obj, now=NOW)
    except TrackError as error:
        assert error.code in TRACK_ERROR_MESSAGES
        assert str(error)
        return error


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_a_track_or_a_track_error(data):
    assert isinstance(_parse_gpx_outcome(data), (Track, TrackError))


_junk_text = st.text(alphabet=st.sampled_from(list("0123456789.-+:TZ eE abcnx<>&;'\"中\u00e9")), max_size=30)
_escaped_text = _junk_text.map(lambda text: html.escape(text, quote=True))
_plausible_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2025, 12, 31))
_gpx_junk_point = st.builds(
    lambda tag, lat, lon, t, extra: f'<{tag} lat="{lat}" lon="{lon}">{"<time>" + t + "</time>" if t is not None else ""}{extra}</{tag}>',
    st.sampled_from(["trkpt", "trkpt", "rtept", "wpt"]),
    st.one_of(st.floats(-90, 90).map(repr), st.floats().map(str), _escaped_text),
    st.one_of(st.floats(-180, 180).map(repr), st.floats().map(str), _escaped_text),
    st.one_of(_plausible_times.map(lambda d: d.isoformat() + "Z"), st.none(), _escaped_text, st.datetimes().map(str)),
    st.sampled_from(["", "<ele>1</ele>", "<extensions><x:hr xmlns:x='urn:x'>1</x:hr></extensions>"]),
)
_gpx_good_point = st.builds(
    lambda lat, lon, t: f'<trkpt lat="{lat!r}" lon="{lon!r}"><time>{t.isoformat()}Z</time></trkpt>',
    st.floats(23.8, 23.9),
    st.floats(117.2, 117.4),
    _plausible_times,
)
# Mostly well-formed points, so that whole tracks come out too, not only errors.
_gpx_point = st.one_of(_gpx_good_point, _gpx_good_point, _gpx_good_point, _gpx_junk_point)


@st.composite
def _gpx_documents(draw):
    pieces = draw(st.lists(st.tuples(st.sampled_from(["seg", "rte", "raw"]), st.lists(_gpx_point, max_size=5)), max_size=4))
    body = ""
    for kind, points in pieces:
        if kind == "seg":
            body += "<trk><trkseg>" + "".join(points) + "</trkseg></trk>"
        elif kind == "rte":
            body += "<rte>" + "".join(p.replace("trkpt", "rtept") for p in points) + "</rte>"
        else:
            body += "".join(points)
    if draw(st.integers(0, 9)) == 0:
        body += draw(_junk_text)  # sometimes not XML at all
    header = draw(st.sampled_from(['<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-8"?>', "", "\ufeff"]))
    version = draw(st.sampled_from(["1.0", "1.1", "x"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-16"]))
    return (header + f'<gpx version="{version}" xmlns="http://www.topografix.com/GPX/1/1">' + body + "</gpx>").encode(encoding, "surrogatepass")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_gpx_documents())
def test_gpx_like_documents_give_a_track_or_a_track_error(data):
    assert isinstance(_parse_gpx_outcome(data), (Track, TrackError))


_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30), st.sampled_from(["2024-05-01T00:00:00Z", "LineString", "Feature"])
)
_json_like = st.recursive(
    _json_scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(st.text(max_size=12), children, max_size=5)),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(_json_like)
def test_arbitrary_json_gives_a_track_or_a_track_error(obj):
    assert isinstance(_parse_geojson_outcome(obj), (Track, TrackError))


_times = st.one_of(
    _plausible_times.map(lambda d: d.isoformat() + "+08:00"),
    st.datetimes(timezones=st.sampled_from([UTC, None])).map(lambda d: d.isoformat()),
    st.sampled_from(["2024-05-01T00:00:00Z", "", "Z", None]),
    _json_like,
)
_good_positions = st.tuples(st.floats(-180, 180), st.floats(-90, 90)).map(list)
_positions = st.one_of(
    _good_positions,
    st.lists(st.one_of(st.floats(), st.integers(), _json_scalars), min_size=0, max_size=4),
    _json_like,
)


@st.composite
def _near_geojson(draw):
    n = draw(st.integers(0, 6))
    if draw(st.booleans()):  # well-formed, so that whole tracks come out too
        coordinates = draw(st.lists(_good_positions, min_size=n, max_size=n))
        times = draw(st.lists(_plausible_times.map(lambda d: d.isoformat() + "Z"), min_size=n, max_size=n))
    else:
        coordinates = draw(st.lists(_positions, min_size=n, max_size=n))
        times = draw(st.one_of(st.lists(_times, min_size=n, max_size=n), st.lists(_times, max_size=8), _json_like))
    kind = draw(st.sampled_from(["LineString", "MultiLineString", "Point", None]))
    if kind == "MultiLineString":
        coordinates = [coordinates, draw(st.lists(_positions, max_size=3))]
    geometry = {"type": kind, "coordinates": coordinates}
    key = draw(st.sampled_from(["times", "coordTimes", "other"]))
    if draw(st.booleans()):
        return {"type": "Feature", "geometry": geometry, "properties": {key: times}}
    return {**geometry, key: times}


@settings(max_examples=500, deadline=None)
@given(_near_geojson())
def test_near_geojson_gives_a_track_or_a_track_error(obj):
    assert isinstance(_parse_geojson_outcome(obj), (Track, TrackError))


def test_geojson_points_are_sorted_by_time_whatever_their_offsets():
    # The second time, 08:00:10 at UTC+8, is 00:00:10 UTC: eight hours before the first point.
    obj = {
        "type": "LineString",
        "coordinates": [[117.3, 23.88], [117.3, 23.881]],
        "times": ["2024-05-01T08:00:00Z", "2024-05-01T08:00:10+08:00"],
    }

    track = parse_geojson_track(obj)

    assert track.start == datetime(2024, 5, 1, 0, 0, 10, tzinfo=UTC)
    assert (track.points[0].lon, track.points[0].lat) == (117.3, 23.881)
    assert track.duration_seconds == 8 * 3600 - 10
