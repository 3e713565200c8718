"""The phone recorder where phones meet it (issue 20): an https origin that is not localhost, with the server
down after one visit; a plain-http origin; a refused location permission, in Chinese and in English.
"""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from gridsvc.db import make_engine
from gridsvc.patrols.models import PatrolSession
from gridsvc.positions.models import Position
from tests.maps.browser import offline_browser_page
from tests.maps.tls_proxy import TlsProxy, self_signed_certificate
from tests.patrols.recorder_journeys import PHONE, WALKER_NAME, controlled, sign_in, wait

pytestmark = pytest.mark.browser

ORIGIN_NAME = "gridsvc.test"
OFFLINE_FIXES = 15


def _walk_stored(url: str, patroller_id: int):
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            count = connection.execute(sa.select(sa.func.count()).select_from(Position)
                                       .where(Position.patroller_id == patroller_id)).scalar_one()
            sessions = connection.execute(sa.select(PatrolSession.duration_seconds, PatrolSession.status)
                                          .where(PatrolSession.patroller_id == patroller_id)).all()
    finally:
        engine.dispose()
    return count, sessions


def test_on_an_https_name_after_one_visit_the_recorder_opens_and_records_with_the_server_down(walker, tmp_path):
    server, password, world = walker
    cert, key, spki = self_signed_certificate(ORIGIN_NAME, tmp_path)
    proxy = TlsProxy(server.port, cert, key)
    base = f"https://{ORIGIN_NAME}:{proxy.port}"
    lon, lat = world.point
    try:
        with offline_browser_page(viewport=PHONE, local_names=[ORIGIN_NAME],
                                  extra_args=[f"--ignore-certificate-errors-spki-list={spki}"],
                                  geolocation={"latitude": lat, "longitude": lon, "accuracy": 6},
                                  permissions=["geolocation"], locale="zh-CN") as (page, log):
            sign_in(page, base, password)
            page.goto(f"{base}/patrols/record")
            assert page.evaluate("window.isSecureContext") is True
            assert page.is_hidden("[data-testid=needs-https]")
            controlled(page)
            # The recorder registers its own device key on this first, online visit.
            wait(page, "window.gridsvcRecorder && window.gridsvcRecorder.queue.device(window.gridsvcRecorder.patroller)"
                       ".then((d) => Boolean(d && d.key))")
            # A second tab of the recorder does not record: one walk is numbered by one page.
            second_tab = page.context.new_page()
            second_tab.goto(f"{base}/patrols/record")
            wait(second_tab, "document.body.dataset.recorderState === 'other-tab'", 15)
            assert second_tab.is_visible("[data-testid=other-tab]")
            second_tab.close()
            server.stop()
            context = page.context
            page.close()
            offline = context.new_page()
            offline.goto(f"{base}/patrols/record")  # a new open, not a reload, with the server gone
            assert WALKER_NAME in offline.inner_text("[data-testid=me]")
            wait(offline, "!document.querySelector('[data-testid=patrol-start]').disabled", 15)
            offline.click("[data-testid=patrol-start]")
            began = time.monotonic()
            for second in range(1, OFFLINE_FIXES + 1):
                time.sleep(max(0.0, began + second - time.monotonic()))
                offline.context.set_geolocation({"latitude": lat + second * 0.00001, "longitude": lon, "accuracy": 6})
            wait(offline, f"Number(document.querySelector('[data-testid=stat-points]').textContent) >= {OFFLINE_FIXES}", 5)
            offline.click("[data-testid=patrol-stop]")
            offline.click("[data-testid=stop-now]")
            wait(offline, "document.querySelector('[data-testid=sync-state]').dataset.state === 'offline' && "
                          f"Number(document.querySelector('[data-testid=sync-state]').dataset.waiting) >= {OFFLINE_FIXES}", 30)
            waiting = int(offline.get_attribute("[data-testid=sync-state]", "data-waiting"))
            assert waiting >= OFFLINE_FIXES
            assert "上传后" in offline.inner_text("[data-testid=result-text]")
            server.start()
            wait(offline, "document.querySelector('[data-testid=recorder-result]').dataset.claimedSeconds", 90)
            walk = offline.evaluate("window.gridsvcRecorder.queue.walks(window.gridsvcRecorder.patroller)"
                                    ".then((walks) => walks.at(-1))")
            claimed = int(offline.get_attribute("[data-testid=recorder-result]", "data-claimed-seconds"))
            assert offline.get_attribute("[data-testid=sync-state]", "data-state") == "synced"
            # Signing out with nothing waiting clears the recorder's queue and caches.
            offline.locator("form[data-signout] button").click()
            offline.wait_for_url("**/login**")
            left = offline.evaluate("""async () => ({
                databases: (await indexedDB.databases()).map((db) => db.name),
                caches: await caches.keys(),
            })""")
            assert log.blocked_requests == [] and log.page_errors == [], log.problems()
    finally:
        proxy.close()
    count, sessions = _walk_stored(server.database_url, world.patroller_ids[0])
    assert count == walk["seq"] == waiting
    assert [(s.duration_seconds, s.status) for s in sessions] == [(claimed, "logged")]
    assert "gridsvc-recorder" not in left["databases"] and left["caches"] == []


def test_on_plain_http_with_a_name_the_recorder_says_it_needs_https(walker):
    server, password, world = walker
    base = f"http://{ORIGIN_NAME}:{server.port}"
    with offline_browser_page(viewport=PHONE, local_names=[ORIGIN_NAME], permissions=["geolocation"],
                              locale="zh-CN") as (page, log):
        sign_in(page, base, password)
        page.goto(f"{base}/patrols/record")
        assert page.evaluate("window.isSecureContext") is False
        wait(page, "document.body.dataset.recorderState === 'insecure'", 10)
        notice = page.inner_text("[data-testid=needs-https]")
        assert "需要 https" in notice and "docs/DEPLOY.md" in notice
        assert page.is_hidden("[data-testid=patrol-start]")
        assert log.page_errors == [], log.problems()


@pytest.mark.parametrize("lang, refused, fallback", [
    ("zh", "定位权限被拒绝", "改为手动填写巡逻时间（以 {name} 的身份）"),
    ("en", "Location access was refused", "Log the patrol by typing its times instead (as {name})"),
])
def test_a_refused_location_permission_says_so_and_offers_the_typed_form_as_the_patroller(walker, lang, refused,
                                                                                         fallback):
    server, password, world = walker
    base = f"http://127.0.0.1:{server.port}"
    with offline_browser_page(viewport=PHONE) as (page, log):  # no geolocation permission granted
        sign_in(page, base, password, lang=lang)
        page.goto(f"{base}/patrols/record")
        wait(page, "!document.querySelector('[data-testid=geo-problem]').hidden", 20)
        assert refused in page.inner_text("[data-testid=geo-message]")
        link = page.locator("[data-testid=typed-fallback]")
        assert link.inner_text() == fallback.format(name=WALKER_NAME)
        assert page.is_disabled("[data-testid=patrol-start]")
        link.click()
        page.wait_for_load_state()
        assert WALKER_NAME in page.inner_text("[data-testid=me]")
        assert log.page_errors == [], log.problems()
