"""The phone recorder in Debian's Chromium (issue 20): start, walk, stop, with the server down in the middle.

"Offline" is the app server stopped: the browser's offline switch would not cover the service
worker's requests. Outside hosts are blocked below the page (Chromium's --host-resolver-rules),
so the service worker is covered too. The walk runs in real time, compressed: a fix a second for
three minutes, the server stopped for the middle minute, the page reloaded once while it is down.
The expected figures are this file's own arithmetic on the points the server stored.
"""
from __future__ import annotations

import datetime as dt
import math
import os
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from gridsvc.db import make_engine
from gridsvc.patrols.models import PatrolSession
from gridsvc.positions.models import Position
from tests.maps.browser import offline_browser_page
from tests.patrols.recorder_journeys import PHONE, controlled, sign_in, wait

pytestmark = pytest.mark.browser

EARTH_RADIUS_M = 6_371_008.8
WALK_SECONDS = 180
DOWN_FROM, DOWN_UNTIL, RELOAD_AT = 60, 120, 90
SCREENSHOT_AT = 40
STEP_DEG = 0.000011  # ~1.2 m north a second: walking


def _haversine_m(a, b) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def _verified(points, *, max_speed_kmh: float, max_gap_s: float) -> int:
    """Whole seconds of the pairs neither longer than the gap limit nor faster than the speed limit.

    As the issue's rule says a figure is apportioned: each part's exact microseconds, whole seconds
    summing to the first-to-last time rounded half up, the leftover seconds to the largest remainders.
    """
    parts = {"verified": 0, "gap": 0, "too_fast": 0}
    for a, b in zip(points, points[1:]):
        micros = (b[2] - a[2]) // dt.timedelta(microseconds=1)
        if micros > max_gap_s * 1_000_000:
            parts["gap"] += micros
        elif _haversine_m(a, b) / (micros / 1_000_000) * 3.6 > max_speed_kmh:
            parts["too_fast"] += micros
        else:
            parts["verified"] += micros
    total_micros = (points[-1][2] - points[0][2]) // dt.timedelta(microseconds=1)
    total = (total_micros + 500_000) // 1_000_000
    seconds = {key: value // 1_000_000 for key, value in parts.items()}
    for key in sorted(parts, key=lambda key: parts[key] % 1_000_000, reverse=True)[:total - sum(seconds.values())]:
        seconds[key] += 1
    return seconds["verified"]


def _stored(url: str, patroller_id: int):
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            points = [(row.lon, row.lat, row.fixed_at.replace(tzinfo=dt.timezone.utc)) for row in connection.execute(
                sa.select(sa.func.ST_X(Position.geom).label("lon"), sa.func.ST_Y(Position.geom).label("lat"),
                          Position.fixed_at).where(Position.patroller_id == patroller_id).order_by(Position.fixed_at))]
            sessions = connection.execute(sa.select(PatrolSession.id, PatrolSession.started_at, PatrolSession.ended_at,
                                                    PatrolSession.duration_seconds, PatrolSession.verified_seconds,
                                                    PatrolSession.status, PatrolSession.source)
                                          .where(PatrolSession.patroller_id == patroller_id)).all()
    finally:
        engine.dispose()
    return points, sessions


def test_a_walk_with_the_server_down_for_a_minute_and_a_reload_loses_nothing_and_stores_nothing_twice(walker):
    server, password, world = walker
    base = f"http://127.0.0.1:{server.port}"
    lon, lat = world.point
    with offline_browser_page(viewport=PHONE, geolocation={"latitude": lat, "longitude": lon, "accuracy": 5},
                              permissions=["geolocation"], locale="zh-CN") as (page, log):
        sign_in(page, base, password)
        page.goto(f"{base}/patrols/record")
        controlled(page)
        start = page.locator("[data-testid=patrol-start]")
        start.wait_for(state="visible")
        wait(page, "!document.querySelector('[data-testid=patrol-start]').disabled", 15)
        assert "正在等待" not in page.inner_text("[data-testid=fix-state]")
        start.click()
        wait(page, "document.body.dataset.recorderState === 'recording'")
        sent = []
        restarting = []
        began = time.monotonic()
        states_while_down = set()
        for second in range(1, WALK_SECONDS + 1):
            time.sleep(max(0.0, began + second - time.monotonic()))
            position = (lon, lat + second * STEP_DEG)
            page.context.set_geolocation({"latitude": position[1], "longitude": position[0], "accuracy": 5})
            sent.append(position)
            if second == SCREENSHOT_AT and os.environ.get("GRIDSVC_SCREENSHOTS"):
                # The README's picture: GRIDSVC_SCREENSHOTS=docs make e2e PYTEST_ARGS="-k walk_with_the_server"
                page.screenshot(path=str(Path(os.environ["GRIDSVC_SCREENSHOTS"]) / "recorder.png"), full_page=True)
            if second == DOWN_FROM:
                stopper = threading.Thread(target=server.stop)
                stopper.start()
                restarting.append(stopper)
            elif second == RELOAD_AT:
                # The page reloads with the server gone: the service worker opens it from its cache,
                # and the walk that was running goes on recording.
                page.reload()
                wait(page, "document.body.dataset.recorderState === 'recording'", 15)
                assert page.inner_text("[data-testid=me]").count("可靠性测试0") == 1
            elif second == DOWN_UNTIL - 5:
                states_while_down.add(page.get_attribute("[data-testid=sync-state]", "data-state"))
            elif second == DOWN_UNTIL:
                restarting[0].join()
                starter = threading.Thread(target=server.start)
                starter.start()
                restarting.append(starter)
        restarting[1].join()
        recorded = int(page.inner_text("[data-testid=stat-points]"))
        page.click("[data-testid=patrol-stop]")
        page.click("[data-testid=stop-now]")
        wait(page, "document.querySelector('[data-testid=recorder-result]').dataset.claimedSeconds", 90)
        result = page.locator("[data-testid=recorder-result]")
        shown_claimed = int(result.get_attribute("data-claimed-seconds"))
        shown_verified = int(result.get_attribute("data-verified-seconds"))
        assert page.get_attribute("[data-testid=sync-state]", "data-state") == "synced"
        walk = page.evaluate("""async () => {
            const walks = await window.gridsvcRecorder.queue.walks(window.gridsvcRecorder.patroller);
            return walks.at(-1);
        }""")
        # Syncing again adds nothing.
        page.evaluate("window.gridsvcRecorder.sync()")
        page.wait_for_timeout(1500)
        assert log.blocked_requests == [] and log.page_errors == [], log.problems()

    assert states_while_down == {"offline"}
    points, sessions = _stored(server.database_url, world.patroller_ids[0])
    # Every recorded fix is on the server, once; the reload costs at most a few seconds of fixes.
    assert len(points) == walk["seq"], (len(points), walk["seq"])
    assert walk["seq"] - 1 <= recorded <= walk["seq"]  # the page's count, read a moment before Stop
    assert len({p[2] for p in points}) == len(points)
    assert recorded >= WALK_SECONDS - 10
    sent_lats = {round(p[1], 9) for p in sent} | {round(lat, 9)}
    assert all(round(p[1], 9) in sent_lats for p in points)
    assert len(sessions) == 1
    patrol = sessions[0]
    assert (patrol.status, patrol.source) == ("logged", "points")
    start_at = dt.datetime.fromisoformat(walk["start"].replace("Z", "+00:00"))
    end_at = dt.datetime.fromisoformat(walk["end"].replace("Z", "+00:00"))
    claimed = int((end_at - start_at).total_seconds())
    assert WALK_SECONDS <= claimed <= WALK_SECONDS + 30
    assert patrol.duration_seconds == shown_claimed == claimed
    assert patrol.verified_seconds == shown_verified == _verified(points, max_speed_kmh=25.0, max_gap_s=600)
    assert patrol.verified_seconds >= WALK_SECONDS - 15
    # Nothing more arrived with the second sync.
    assert len(_stored(server.database_url, world.patroller_ids[0])[0]) == len(points)
