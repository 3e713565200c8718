"""The standalone map in a real (headless) Chromium with the network cut off."""

import os
import time

import pytest

from maps import build_overview_map, render_map_html
from maps.sample_data import sample_cameras, sample_effort, sample_grids, sample_tracks
from tests.maps.browser import chromium_executable, offline_browser_page

XSS = "<img src=x onerror=alert(1)>"

pytestmark = pytest.mark.browser


def _require_chromium():
    if chromium_executable() is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true" or os.environ.get("GRIDSVC_REQUIRE_BROWSER") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module")
def standalone_map(tmp_path_factory):
    _require_chromium()
    grids = sample_grids()
    grids["features"][4]["properties"]["name"] = XSS  # features[0] is the centre: station index 3
    cameras = sample_cameras(252)
    cameras["features"][0]["properties"]["name"] = XSS
    m = build_overview_map(
        grids=grids, cameras=cameras, tracks=sample_tracks(), effort=sample_effort(), title="网格总览 " + XSS
    )
    path = tmp_path_factory.mktemp("map") / "overview.html"
    path.write_text(render_map_html(m, inline=True), encoding="utf-8")
    return {"path": path, "map_name": m.get_name(), "cameras": cameras, "grids": grids}


def _open(page, path):
    started = time.perf_counter()
    page.goto(path.as_uri())
    page.wait_for_function("window.gridsvcMap && window.gridsvcMap.ready === true", timeout=60_000)
    return time.perf_counter() - started


def test_standalone_file_loads_offline_with_all_features(standalone_map):
    with offline_browser_page() as (page, log):
        seconds = _open(page, standalone_map["path"])
        stats = page.evaluate("window.gridsvcMap")
        screenshot = standalone_map["path"].with_suffix(".png")
        page.screenshot(path=str(screenshot))
        print(f"\nloaded in {seconds:.2f} s, screenshot {screenshot}")
        assert stats["gridCount"] == 16
        assert stats["cameraCount"] == 252
        assert stats["trackCount"] == 6
        assert stats["effortCellCount"] == len(sample_effort()["features"])
        assert stats["skipped"] == {}
        # Nothing on the page points off the machine: no link, image or script URL.
        external = page.evaluate(
            """() => Array.from(document.querySelectorAll('[href],[src]'))
                 .map(e => e.getAttribute('href') || e.getAttribute('src'))
                 .filter(u => !/^(#|data:|blob:|file:)/.test(u))"""
        )
        assert external == []
        assert page.inner_text(".leaflet-control-attribution").strip() == "Leaflet"
        assert page.inner_text(".gridsvc-title") == "网格总览 " + XSS
        assert page.locator(".gridsvc-legend").count() == 1
        assert page.locator(".leaflet-control-scale").count() == 1
        assert page.locator(".leaflet-control-layers").count() == 1
        assert page.get_attribute(".gridsvc-fullscreen a", "title") == "全屏"
        page.click(".gridsvc-fullscreen a")
        page.wait_for_function("document.fullscreenElement && document.fullscreenElement.classList.contains('folium-map')")
        # The title follows the fullscreenchange event, which may fire after fullscreenElement is set.
        page.wait_for_selector('.gridsvc-fullscreen a[title="退出全屏"]', timeout=5000)
        page.click(".gridsvc-fullscreen a")
        page.wait_for_function("document.fullscreenElement === null")
        page.wait_for_selector('.gridsvc-fullscreen a[title="全屏"]', timeout=5000)
        assert log.problems() == {}


def test_tooltip_and_popup_show_hostile_names_as_text(standalone_map):
    map_name = standalone_map["map_name"]
    with offline_browser_page() as (page, log):
        _open(page, standalone_map["path"])

        # Camera 0 is named XSS: zoom in until it stands alone, then click it like a user.
        page.evaluate(
            f"""() => {{
                 const map = window['{map_name}'];
                 map.eachLayer(l => {{ if (l instanceof L.MarkerClusterGroup) window.cameraCluster = l; }});
                 window.targetCamera = window.cameraCluster.getLayers().find(m => m.options.gridsvcIndex === 0);
                 map.setView(window.targetCamera.getLatLng(), map.getMaxZoom(), {{ animate: false }});
               }}"""
        )
        # A marker shown on its own (not inside a cluster) is on the map itself. (getVisibleParent
        # looks for a DOM icon, which canvas CircleMarkers don't have.)
        page.wait_for_function(f"window['{map_name}'].hasLayer(window.targetCamera)", timeout=10_000)
        point = page.evaluate(f"() => window['{map_name}'].latLngToContainerPoint(window.targetCamera.getLatLng())")
        page.mouse.click(point["x"], point["y"])
        popup = page.wait_for_selector(".leaflet-popup-content", timeout=5_000)
        text = popup.inner_text()
        device_id = standalone_map["cameras"]["features"][0]["properties"]["device_id"]
        assert XSS in text and device_id in text
        station_code = standalone_map["cameras"]["features"][0]["properties"]["station_code"]
        station_name = next(f["properties"]["name"] for f in standalone_map["grids"]["features"] if f["properties"]["code"] == station_code)
        assert f"{station_name} ({station_code})" in text
        for part in (device_id[:8], device_id[8:10], device_id[10:13], device_id[13:14], device_id[14:]):
            assert part in text
        assert popup.query_selector("img") is None
        page.screenshot(path=str(standalone_map["path"].with_name("camera-popup.png")))

        # Back to the whole zone, cameras hidden (as the layer control would) to hover a station.
        station = standalone_map["grids"]["features"][4]["geometry"]["coordinates"][0][0]
        west, south = station[0]
        east, north = station[2]
        point = page.evaluate(
            f"""() => {{
                 const map = window['{map_name}'];
                 map.closePopup();
                 map.removeLayer(window.cameraCluster);
                 map.setView([{(south + north) / 2}, {(west + east) / 2}], 14, {{ animate: false }});
                 return map.latLngToContainerPoint([{(south + north) / 2}, {(west + east) / 2}]);
               }}"""
        )
        page.mouse.move(point["x"] + 3, point["y"] + 3)
        page.mouse.move(point["x"], point["y"])
        tooltip = page.wait_for_selector(".leaflet-tooltip", timeout=5_000)
        assert XSS in tooltip.inner_text()
        assert "80.00%" in tooltip.inner_text()  # that station's own stats, not the centre's
        assert tooltip.query_selector("img") is None
        page.screenshot(path=str(standalone_map["path"].with_name("station-tooltip.png")))

        assert page.evaluate("document.querySelectorAll('img').length") == 0
        assert log.problems() == {}  # no alert dialog, no request for "x", no error


def test_plain_folium_markers_work_in_a_standalone_file(tmp_path):
    """render_map_html(inline=True) also serves maps the app builds with plain folium."""
    import folium
    import folium.plugins

    _require_chromium()
    m = folium.Map(location=[23.88, 117.30], zoom_start=13, tiles=None, **{"maxZoom": 18})
    cluster = folium.plugins.MarkerCluster().add_to(m)
    for index in range(5):
        folium.Marker([23.88 + index * 0.002, 117.30], tooltip=f"marker {index}").add_to(cluster)
    folium.Marker([23.87, 117.29]).add_to(m)
    path = tmp_path / "plain.html"
    path.write_text(render_map_html(m, inline=True), encoding="utf-8")
    with offline_browser_page() as (page, log):
        page.goto(path.as_uri())
        page.wait_for_selector(".leaflet-marker-icon")
        icon_sources = page.evaluate(
            "Array.from(document.querySelectorAll('img.leaflet-marker-icon')).map(i => i.getAttribute('src'))"
        )
        assert icon_sources and all(src.startswith("data:image/png;base64,") for src in icon_sources)
        assert page.evaluate(
            "Array.from(document.querySelectorAll('img.leaflet-marker-icon')).every(i => i.complete && i.naturalWidth > 0)"
        )
        assert log.problems() == {}


def test_empty_map_still_reports_ready(tmp_path):
    _require_chromium()
    empty = {"type": "FeatureCollection", "features": []}
    path = tmp_path / "empty.html"
    path.write_text(render_map_html(build_overview_map(grids=empty, cameras=empty), inline=True), encoding="utf-8")
    with offline_browser_page() as (page, log):
        _open(page, path)
        stats = page.evaluate("window.gridsvcMap")
        assert (stats["gridCount"], stats["cameraCount"], stats["trackCount"], stats["effortCellCount"]) == (0, 0, 0, 0)
        assert log.problems() == {}
