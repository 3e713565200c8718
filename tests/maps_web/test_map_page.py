"""/map on the seeded database: offline assets, escaping, the standalone export, and real Chromium."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from gridsvc.cameras.service import create_camera
from gridsvc.maps_web.cli import export_map
from tests.maps.browser import chromium_executable, is_local_url, offline_browser_page

XSS = "<img src=x onerror=alert(1)>"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The README's screenshot is refreshed only on request (GRIDSVC_UPDATE_SCREENSHOT=1), so a test
# run leaves the work tree as it found it.
README_SCREENSHOT = PROJECT_ROOT / "docs" / "map.png"


def _require_chromium():
    if chromium_executable() is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _linked_urls(html: str) -> list[str]:
    return re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"', html)


def test_map_page_embeds_the_filtered_frame(client):
    page = client.get("/map?period=2020&kind=individual").get_data(as_text=True)
    assert 'src="/map/frame?period=2020&amp;kind=individual"' in page
    assert "第01社区(村)网格服务站" in page  # station filter


def test_frame_links_only_local_assets_and_all_are_served(client):
    response = client.get("/map/frame")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    urls = _linked_urls(html)
    assert any(url.endswith("leaflet.js") for url in urls)
    for url in urls:
        assert url.startswith("/static/"), url
        assert client.get(url).status_code == 200, url


def test_unknown_vendor_file_is_404(client):
    assert client.get("/static/vendor/../config.py").status_code == 404
    assert client.get("/static/vendor/nothing.js").status_code == 404


def test_camera_name_is_escaped_in_the_frame(client, session):
    create_camera(session, device_id="35060001001325999990", name=XSS, kind="security", lon=117.2405, lat=23.8405)
    session.commit()
    html = client.get("/map/frame").get_data(as_text=True)
    assert XSS not in html  # embedded as JSON with < and > escaped, shown as text by the page


def test_bad_kind_is_a_clear_error(client):
    response = client.get("/map/frame?kind=cars&lang=en")
    assert response.status_code == 422


def test_export_map_writes_a_self_contained_file(app, tmp_path):
    out = tmp_path / "overview.html"
    result = app.test_cli_runner().invoke(export_map, ["--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert not [url for url in _linked_urls(html) if not url.startswith("data:")]
    assert "<script src=" not in html


@pytest.fixture
def live_map_server(live_seeded_server):
    """The live server on a copy of the seeded database (tests/conftest.py)."""
    return live_seeded_server


def _sign_in(page, base: str):
    from tests.conftest import DEMO_PASSWORD

    page.goto(f"{base}/login?next=/map")
    page.fill("#username", "viewer")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/map")


@pytest.mark.browser
@pytest.mark.smoke
def test_map_in_chromium_shows_every_grid_and_camera_offline(live_map_server, tmp_path):
    base = f"http://127.0.0.1:{live_map_server.port}"
    with offline_browser_page(viewport=(1280, 860)) as (page, log):
        _sign_in(page, base)
        frame = page.frame_locator("#map-frame")
        frame.locator(".leaflet-container").wait_for(timeout=60_000)
        map_frame = next(f for f in page.frames if f.url.startswith(f"{base}/map/frame"))
        map_frame.wait_for_function("window.gridsvcMap && window.gridsvcMap.ready === true", timeout=60_000)
        stats = map_frame.evaluate("window.gridsvcMap")
        page.wait_for_timeout(500)
        screenshot = README_SCREENSHOT if os.environ.get("GRIDSVC_UPDATE_SCREENSHOT") == "1" else tmp_path / "map.png"
        page.screenshot(path=str(screenshot))
        assert screenshot.stat().st_size > 10_000
        assert stats["gridCount"] == 16
        assert stats["cameraCount"] == 252
        assert log.problems() == {}
        assert all(is_local_url(url) for url in map_frame.evaluate(
            "[...document.querySelectorAll('[src],[href]')].map(e => e.src || e.href).filter(Boolean)"))


@pytest.mark.browser
def test_exported_map_passes_the_same_check_from_a_file_url(app, tmp_path):
    _require_chromium()
    out = tmp_path / "overview.html"
    assert app.test_cli_runner().invoke(export_map, ["--out", str(out)]).exit_code == 0
    with offline_browser_page() as (page, log):
        page.goto(out.as_uri())
        page.wait_for_function("window.gridsvcMap && window.gridsvcMap.ready === true", timeout=60_000)
        stats = page.evaluate("window.gridsvcMap")
        assert stats["gridCount"] == 16
        assert stats["cameraCount"] == 252
        assert log.problems() == {}
