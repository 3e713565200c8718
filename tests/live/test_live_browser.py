"""The centre's live page in Debian's Chromium (issue 21): a patroller out now moves on the map, each point
within 2 s of its acknowledgement (the page's event stream), then goes stale and offline at the configured
thresholds (shortened here to seconds), without a reload; a sign-out in another tab ends the stream.
"""
from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from urllib.parse import urlencode

import pytest

from tests.maps.browser import offline_browser_page, require_chromium
from tests.patrols.recorder_journeys import wait
from tests.reliability.live_server import LiveServer

pytestmark = pytest.mark.browser

STALE_S, OFFLINE_S = 4, 8


@pytest.fixture
def watched(empty_app, tmp_path):
    """A committed world with a centre viewer and a volunteer's device, and a real server with short thresholds."""
    from gridsvc.auth import service as auth_service
    from gridsvc.db import session_scope
    from gridsvc.people.models import Patroller
    from gridsvc.positions import service as position_service
    from tests.reliability.conftest import build_live_world

    require_chromium()
    sessions = empty_app.extensions["gridsvc"].sessions
    world = build_live_world(sessions)
    password = secrets.token_urlsafe(16)
    with session_scope(sessions) as session:
        auth_service.create_user(session, username="duty", password=password, role="centre_viewer")
        _device, key = position_service.register_device(session, patroller=session.get(Patroller, world.patroller_ids[0]),
                                                        name="phone")
    server = LiveServer(empty_app.config["DATABASE_URL"], log_path=tmp_path / "server.log",
                        env={"GRIDSVC_LIVE_STALE_SECONDS": str(STALE_S), "GRIDSVC_LIVE_OFFLINE_SECONDS": str(OFFLINE_S),
                             "GRIDSVC_LIVE_STREAM_RECOMPUTE_SECONDS": "0.5"})
    server.start()
    yield server, password, world, key
    server.stop()


def test_the_live_map_moves_a_patroller_and_marks_them_stale_then_offline(watched):
    server, password, world, key = watched
    lon, lat = world.point
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(seconds=5)
    status, answer = server.request("POST", "/api/v1/patrols/recorder", {
        "device_id": key, "client_uuid": str(uuid.uuid4()), "kind": "individual", "start": started.isoformat()})
    assert status == 200, answer
    patroller_id = world.patroller_ids[0]
    base = f"http://127.0.0.1:{server.port}"
    with offline_browser_page(viewport=(1280, 800), locale="zh-CN") as (page, log):
        page.goto(f"{base}/login")
        page.fill("#username", "duty")
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{base}/live")
        item = f"[data-testid=live-list] li[data-patroller='{patroller_id}']"
        wait(page, f"document.querySelector(\"{item}\")?.dataset.state === 'offline'", 10)  # out, no position yet
        lags = []
        for step in range(5):
            at = (lon, lat + step * 0.0002)
            query = urlencode({"id": key, "lat": f"{at[1]:.7f}", "lon": f"{at[0]:.7f}",
                               "timestamp": int(time.time()), "accuracy": 5})
            status, _ = server.request("GET", f"/api/v1/positions/osmand?{query}")
            assert status == 200
            acknowledged = time.monotonic()
            wait(page, f"(() => {{ const m = window.gridsvcLive.markers.get({patroller_id}); if (!m) return false;"
                       f" const p = m.getLatLng(); return Math.abs(p.lat - {at[1]}) < 1e-7 && Math.abs(p.lng - {at[0]}) < 1e-7; }})()",
                 5)
            lags.append(time.monotonic() - acknowledged)
            assert page.get_attribute(item, "data-state") == "online"
            time.sleep(1)
        last_point = time.monotonic() - 1
        wait(page, f"document.querySelector(\"{item}\").dataset.state === 'stale'", STALE_S + 5)
        went_stale = time.monotonic() - last_point
        wait(page, f"document.querySelector(\"{item}\").dataset.state === 'offline'", OFFLINE_S + 5)
        went_offline = time.monotonic() - last_point
        assert "1 人正在巡逻" in page.inner_text("[data-testid=live-summary]")
        assert page.is_hidden("[data-testid=live-disconnected]")
        assert page.evaluate("window.gridsvcLive.source && window.gridsvcLive.source.readyState === 1")  # streaming
        # Signed out in another tab: this page's stream ends within 30 s and the page asks to sign in.
        other = page.context.new_page()
        other.goto(f"{base}/live")
        other.locator("form[data-signout] button").click()
        signed_out = time.monotonic()
        page.wait_for_url("**/login**", timeout=30000)
        ended_after = time.monotonic() - signed_out
        # The server goes away: a signed-in page says its feed is disconnected.
        page.fill("#username", "duty")
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{base}/live")
        wait(page, "document.body.dataset.liveFeed === 'connected'", 10)
        server.stop()
        wait(page, "!document.querySelector('[data-testid=live-disconnected]').hidden", 10)
        assert log.blocked_requests == [] and log.page_errors == [], log.problems()
    assert max(lags) < 2.0, lags
    assert ended_after < 30, ended_after
    assert STALE_S - 1 <= went_stale <= STALE_S + 3, went_stale
    assert OFFLINE_S - 1 <= went_offline <= OFFLINE_S + 3, went_offline
