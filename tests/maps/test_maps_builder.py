import copy
import json
import math
import time

import pytest

from maps import LABELS_EN, build_overview_map, render_map_html
from maps.builder import completion_class, effort_breaks
from maps.elements import GridsvcDataLayer, GridsvcSetup
from maps.gcj02 import wgs84_to_gcj02
from maps.labels import LABELS_ZH
from maps.sample_data import sample_cameras, sample_effort, sample_grids, sample_tracks

XSS = "<img src=x onerror=alert(1)>"
TEMPLATE_INJECTION = "{{ 7*7 }}{% if true %}x{% endif %}"


def layer_data(m):
    """{layer name: (factory, data, options)} exactly as they are written into the page."""
    return {
        child.layer_name: (child.factory, json.loads(child.data_json), json.loads(child.options_json))
        for child in m._children.values()
        if isinstance(child, GridsvcDataLayer)
    }


def setup_options(m):
    (setup,) = [child for child in m._children.values() if isinstance(child, GridsvcSetup)]
    return json.loads(setup.options_json)


def camera_positions(camera_data):
    origin_lon, origin_lat = camera_data["coordOrigin"]
    coords = camera_data["coords"]
    return [((origin_lon + coords[i]) / 1e6, (origin_lat + coords[i + 1]) / 1e6) for i in range(0, len(coords), 2)]


def test_layers_hold_every_sample_feature():
    m = build_overview_map(grids=sample_grids(), cameras=sample_cameras(252), tracks=sample_tracks(6), effort=sample_effort())
    layers = layer_data(m)
    zh = LABELS_ZH
    assert len(layers[zh["layer_centre"]][1]) == 1
    assert len(layers[zh["layer_stations"]][1]) == 15
    assert zh["layer_cells"] not in layers  # no cell-level grids in the sample
    assert len(layers[zh["layer_cameras"]][1]["flags"]) == 252
    assert len(layers[zh["layer_tracks"]][1]) == 6
    assert len(layers[zh["layer_effort"]][1]) == len(sample_effort()["features"])
    assert setup_options(m)["expectedReports"] == 5  # centre, stations, cameras, tracks, effort
    assert setup_options(m)["skipped"] == {}


def test_camera_columns_round_trip_positions_ids_and_flags():
    cameras = sample_cameras(50)
    m = build_overview_map(grids=sample_grids(), cameras=cameras)
    data = layer_data(m)[LABELS_ZH["layer_cameras"]][1]
    for (lon, lat), feature in zip(camera_positions(data), cameras["features"]):
        want_lon, want_lat = feature["geometry"]["coordinates"]
        assert lon == pytest.approx(want_lon, abs=1.01e-6) and lat == pytest.approx(want_lat, abs=1.01e-6)
    for index, feature in enumerate(cameras["features"]):
        props = feature["properties"]
        assert data["deviceIdPrefix"] + data["deviceIds"][index] == props["device_id"]
        flags = data["flags"][index]
        assert flags & 3 == ("security", "grid").index(props["kind"])
        assert (flags >> 2) & 3 == ("online", "offline", "fault").index(props["status"])
        assert bool(flags & 16) == (not props["police_linked"])
        assert bool(flags & 32) == (props["status"] != "online" or not props["police_linked"])
        assert data["stationCodes"][data["stations"][index]] == props["station_code"]
    names = {f["properties"]["code"]: f["properties"]["name"] for f in sample_grids()["features"]}
    assert data["stationNames"] == [names[code] for code in data["stationCodes"]]
    assert data["idParts"] == {}  # the sample's parts are the standard slices: not repeated


def test_non_standard_id_parts_are_shipped_for_the_popup():
    cameras = sample_cameras(3)
    cameras["features"][1]["properties"]["id_parts"]["serial"] = "XYZ"
    data = layer_data(build_overview_map(grids=sample_grids(), cameras=cameras))[LABELS_ZH["layer_cameras"]][1]
    assert list(data["idParts"]) == ["1"] and data["idParts"]["1"][4] == "XYZ"


@pytest.mark.parametrize(
    "percent, expected",
    [
        ("0", 0), ("0.00", 0), ("59.99", 0), ("60", 1), ("60.00", 1), ("79.99", 1), ("80.00", 2),
        ("99.99", 2), ("100", 3), ("100.00", 3), ("149.99", 3), ("150.00", 4), ("182.09", 4),
        ("194.37", 4), (None, None), ("", None), ("abc", None), ("NaN", None), (True, None),
    ],
)
def test_completion_class_edges(percent, expected):
    assert completion_class(percent) == expected


def test_station_fill_class_and_tooltip_values_come_from_properties():
    m = build_overview_map(grids=sample_grids(), cameras=sample_cameras(0))
    stations = layer_data(m)[LABELS_ZH["layer_stations"]][1]
    by_code = {feature["properties"]["code"]: feature["properties"] for feature in stations}
    source = {f["properties"]["code"]: f["properties"] for f in sample_grids()["features"]}
    for code, shown in by_code.items():
        assert shown["styleClass"] == completion_class(source[code]["percent"])
        assert shown["percent"] == source[code]["percent"]
        assert shown["volunteers"] == str(source[code]["volunteers"])
        assert shown["hours"] == source[code]["hours"]
        assert shown["cameraCount"] == str(source[code]["camera_count"])
        assert shown["name"] == source[code]["name"]


def test_effort_breaks_are_equal_width_up_to_the_maximum():
    from decimal import Decimal

    assert effort_breaks([Decimal("10"), Decimal("50")]) == [Decimal(10), Decimal(20), Decimal(30), Decimal(40), Decimal(50)]
    assert effort_breaks([]) == [Decimal(0)] * 5


def test_user_text_is_never_markup_in_the_page():
    grids = sample_grids()
    grids["features"][3]["properties"]["name"] = XSS
    cameras = sample_cameras(5)
    cameras["features"][0]["properties"]["name"] = XSS
    cameras["features"][1]["properties"]["name"] = TEMPLATE_INJECTION
    cameras["features"][2]["properties"]["station_code"] = "</script><script>alert(2)</script>"
    tracks = sample_tracks(2)
    tracks["features"][0]["properties"]["patroller"] = XSS
    m = build_overview_map(grids=grids, cameras=cameras, tracks=tracks, title=XSS)
    for inline in (False, True):
        html = render_map_html(m, inline=inline)
        assert XSS not in html
        assert "<script>alert(2)" not in html
        assert html.count("\\u003cimg src=x onerror=alert(1)\\u003e") == 4  # grid, camera, track, title: JSON-escaped
        assert "<title>&lt;img src=x onerror=alert(1)&gt;</title>" in html
        # branca would compile this as Jinja ("49x"); gridsvc's data never goes through Jinja.
        assert json.dumps(TEMPLATE_INJECTION, ensure_ascii=False) in html
        assert '"49x"' not in html


def test_labels_default_to_chinese_and_can_be_english():
    zh_html = render_map_html(build_overview_map(grids=sample_grids(), cameras=sample_cameras(3)))
    assert LABELS_ZH["layer_cameras"] in zh_html and LABELS_ZH["completion"] in zh_html
    en_html = render_map_html(build_overview_map(grids=sample_grids(), cameras=sample_cameras(3), labels=LABELS_EN))
    assert LABELS_EN["layer_cameras"] in en_html and LABELS_EN["completion"] in en_html
    assert LABELS_ZH["completion"] not in en_html


def test_partial_labels_override_and_typos_are_rejected():
    m = build_overview_map(grids=sample_grids(), cameras=sample_cameras(1), labels={"layer_cameras": "Cams & <more>"})
    assert "Cams &amp; &lt;more&gt;" in layer_data(m)  # layer names are HTML in Leaflet's control
    with pytest.raises(ValueError, match="layer_camera"):
        build_overview_map(grids=sample_grids(), cameras=sample_cameras(1), labels={"layer_camera": "typo"})


def test_invalid_features_are_skipped_and_counted_not_fatal():
    cameras = sample_cameras(6)
    cameras["features"][0]["geometry"] = None
    cameras["features"][1]["geometry"]["coordinates"] = [float("nan"), 23.9]
    cameras["features"][2]["geometry"] = {"type": "LineString", "coordinates": [[117.3, 23.9], [117.31, 23.9]]}
    cameras["features"][3]["geometry"]["coordinates"] = ["117.3", 23.9]
    cameras["features"][4] = "not a feature"
    grids = sample_grids()
    grids["features"][5]["properties"]["level"] = "province"
    grids["features"].append(None)
    tracks = sample_tracks(2)
    tracks["features"][0]["geometry"]["coordinates"] = []
    effort = sample_effort()
    effort["features"][0]["properties"]["hours"] = "-1"
    m = build_overview_map(grids=grids, cameras=cameras, tracks=tracks, effort=effort)
    assert setup_options(m)["skipped"] == {"cameras": 5, "grids": 2, "tracks": 1, "effort": 1}
    assert len(layer_data(m)[LABELS_ZH["layer_cameras"]][1]["flags"]) == 1
    assert len(layer_data(m)[LABELS_ZH["layer_stations"]][1]) == 14
    render_map_html(m)  # still renders


def test_not_a_feature_collection_is_an_error():
    with pytest.raises(ValueError, match="cameras"):
        build_overview_map(grids=sample_grids(), cameras={"type": "Feature"})


def test_empty_inputs_still_give_a_working_map():
    empty = {"type": "FeatureCollection", "features": []}
    m = build_overview_map(grids=empty, cameras=empty)
    options = setup_options(m)
    assert options["bounds"] is None and options["expectedReports"] == 3
    assert '"maxZoom": 18' in render_map_html(m)


def _first_grid_position(layers):
    # The unfilled centre is drawn as its rings (MultiLineString): ring 0, position 0.
    return layers[LABELS_ZH["layer_centre"]][1][0]["geometry"]["coordinates"][0][0]


@pytest.mark.parametrize(
    "base_map, shifted",
    [
        (None, False),
        ({"kind": "none"}, False),
        ({"kind": "xyz", "url": "/tiles/{z}/{x}/{y}.png", "attribution": "local"}, False),
        ({"kind": "tianditu", "key": "k"}, False),
        ({"kind": "gaode"}, True),
    ],
)
def test_gcj02_shift_is_applied_to_every_data_layer_only_for_gaode(base_map, shifted):
    grids, cameras, tracks, effort = sample_grids(), sample_cameras(20), sample_tracks(2), sample_effort()
    originals = copy.deepcopy((grids, cameras, tracks, effort))
    layers = layer_data(build_overview_map(grids=grids, cameras=cameras, tracks=tracks, effort=effort, base_map=base_map))
    assert (grids, cameras, tracks, effort) == originals  # inputs (storage) untouched

    def expected(lon, lat):
        return wgs84_to_gcj02(lon, lat) if shifted else (lon, lat)

    pairs = [
        (_first_grid_position(layers), grids["features"][0]["geometry"]["coordinates"][0][0][0]),
        (camera_positions(layers[LABELS_ZH["layer_cameras"]][1])[7], cameras["features"][7]["geometry"]["coordinates"]),
        (layers[LABELS_ZH["layer_tracks"]][1][1]["geometry"]["coordinates"][3], tracks["features"][1]["geometry"]["coordinates"][3]),
        (layers[LABELS_ZH["layer_effort"]][1][2]["geometry"]["coordinates"][0][1], effort["features"][2]["geometry"]["coordinates"][0][1]),
    ]
    for shown, stored in pairs:
        want = expected(*stored)
        assert shown[0] == pytest.approx(want[0], abs=1.01e-6) and shown[1] == pytest.approx(want[1], abs=1.01e-6)
        moved_m = math.hypot((shown[0] - stored[0]) * 101_900, (shown[1] - stored[1]) * 110_700)
        assert (moved_m > 500) if shifted else (moved_m < 0.2)


def test_hundred_thousand_cameras_render_fast_and_compact():
    grids, cameras = sample_grids(), sample_cameras(100_000)
    started = time.perf_counter()
    m = build_overview_map(grids=grids, cameras=cameras)
    built = time.perf_counter()
    served = render_map_html(m)
    rendered = time.perf_counter()
    inline = render_map_html(m, inline=True)
    inlined = time.perf_counter()
    print(
        f"\n100k cameras: build {built - started:.2f} s, served render {rendered - built:.2f} s "
        f"({len(served) / 1e6:.1f} MB), inline render {inlined - rendered:.2f} s ({len(inline) / 1e6:.1f} MB)"
    )
    assert built - started < 15 and inlined - built < 10  # measured ~1 s and ~0.1 s; generous for slow CI
    assert len(served.encode()) < 60 * 100_000  # columnar data: ~45 bytes per camera
    assert served.count("L.marker(") == 0 and served.count("circleMarker") == 0  # no per-camera JS objects in the page
