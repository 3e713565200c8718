"""station1's evening and volunteer1's sign-up, in Debian's Chromium on a phone screen (issue 16's journey).

station1 publishes tonight's task with an area drawn on the map, signs up three of its volunteers,
enters yesterday's attendance from the paper sign-in sheet and downloads the station's XLSX;
volunteer1 then signs up for tonight's task and reads their patrols and this year's hours. Any
4xx/5xx page, a role code or an internal id on the way fails it.
"""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest

from tests.maps.browser import offline_browser_page

PHONE = (390, 844)
LOCAL = dt.timezone(dt.timedelta(hours=8))
ROLE_CODES = re.compile(r"\b(volunteer|grid_worker|station_manager|centre_viewer|manager|admin)\b")
# Internal ids as a message would show them: "#781", "任务 781", "id 781", "patroller 12".
INTERNAL_ID = re.compile(r"#\d+|(任务|记录|编号) ?\d+(?![\d-])|\bid ?\d+|(patroller|session) ?\d+", re.IGNORECASE)


class Journey:
    """A phone page that records every page answer and checks each page it lands on."""

    def __init__(self, page, base: str):
        self.page, self.base, self.bad_answers, self.findings = page, base, [], []
        self.display_name = ""
        page.on("response", self._answered)

    def _answered(self, response):
        if response.status >= 400:
            self.bad_answers.append(f"{response.status} {response.url}")

    def check(self, where: str) -> str:
        # A display name is free text an admin typed (the demo's are English); everything else is checked.
        text = self.page.inner_text("main").replace(self.display_name, "")
        for pattern in (ROLE_CODES, INTERNAL_ID):
            for match in pattern.finditer(text):
                self.findings.append(f"{where}: {match.group(0)!r}")
        return text

    def sign_in(self, username: str, password: str):
        self.page.goto(f"{self.base}/login")
        self.page.fill("#username", username)
        self.page.fill("#password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()
        self.display_name = self.page.inner_text(".topbar .who")
        self.check(f"{username} home")

    def sign_out(self):
        self.page.locator("form[action$='/logout'] button").first.click()
        self.page.wait_for_load_state()


def _account_number(app, username: str) -> str:
    import sqlalchemy as sa

    from gridsvc.auth.models import User
    from gridsvc.people.models import Patroller

    with app.extensions["gridsvc"].sessions() as session:
        return session.scalar(sa.select(Patroller.app_account_id).join(User, User.patroller_id == Patroller.id)
                              .where(User.username == username))


def _local_input(moment: dt.datetime) -> str:
    return moment.astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M")


def _publish(journey: Journey, *, title: str, start: dt.datetime, end: dt.datetime, draw: bool):
    page = journey.page
    page.goto(f"{journey.base}/patrols/tasks")
    journey.check("task list")
    page.click("[data-testid=publish-task]")
    page.wait_for_selector("[data-task-map][data-ready=true]")
    page.fill("#title", title)
    page.fill("#start", _local_input(start))
    page.fill("#end", _local_input(end))
    page.fill("#headcount", "5")
    if draw:
        page.locator("#task-map").scroll_into_view_if_needed()
        box = page.locator("#task-map").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        for dx, dy in ((-25, -25), (25, -25), (25, 25), (-25, 25)):
            page.mouse.click(cx + dx, cy + dy)
        assert page.get_attribute("#task-map", "data-vertices") == "4"
        assert '"Polygon"' in page.input_value("#area")
    journey.check("task form")
    page.click("[data-testid=task-submit]")
    page.wait_for_selector("[data-testid=task-map][data-ready=true]")
    assert page.locator("p.notice").count() == 1, journey.check("published task")
    journey.check("published task")
    return page.url


@pytest.mark.browser
def test_station_managers_evening_and_a_volunteer_signing_up(live_seeded_server, seeded_app, tmp_path):
    from openpyxl import load_workbook

    from tests.conftest import DEMO_PASSWORD

    volunteer1 = _account_number(seeded_app, "volunteer1")

    base = f"http://127.0.0.1:{live_seeded_server.port}"
    now = dt.datetime.now(LOCAL).replace(second=0, microsecond=0)
    tonight = now + dt.timedelta(hours=2)
    yesterday = now - dt.timedelta(days=1, hours=3)
    with offline_browser_page(viewport=PHONE) as (page, log):
        journey = Journey(page, base)
        journey.sign_in("station1", DEMO_PASSWORD)

        tonight_url = _publish(journey, title="今晚夜巡", start=tonight, end=tonight + dt.timedelta(hours=3), draw=True)
        assert "已在地图上划定" in journey.check("tonight's task")
        # The task page's map draws the area over the station's outline.
        assert page.get_attribute("[data-testid=task-map]", "data-area-shown") == "1"
        assert page.locator("[data-testid=task-map] .leaflet-overlay-pane path").count() >= 2
        # Sign up three of the station's volunteers with the searchable picker.
        picker = page.locator("[data-testid=signup-picker]")
        # Three others: volunteer1 signs up on their own later.
        names = [text.split("·")[0].strip() for text in picker.locator("li").all_inner_texts()
                 if volunteer1 not in text][:3]
        for name in names:
            page.fill("[data-testid=signup-picker-search]", name)
            row = picker.locator("li:not([hidden])").filter(has_text=name).first
            row.locator("input[type=checkbox]").check()
        page.fill("[data-testid=signup-picker-search]", "")
        page.click("[data-testid=sign-up-selected]")
        page.wait_for_load_state()
        notice = page.locator("p.notice").first.inner_text()
        assert all(name in notice for name in names), notice
        assert page.locator("li[data-status=signed_up]").count() == 3
        journey.check("tonight's sign-ups")

        # Yesterday's patrol ran on paper: publish it afterwards and enter who came.
        _publish(journey, title="昨晚夜巡（补录）", start=yesterday, end=yesterday + dt.timedelta(hours=2), draw=False)
        paper = page.locator("[data-testid=paper-picker]")
        for checkbox in paper.locator("input[type=checkbox]").all()[:4]:
            checkbox.check()  # yesterday's task: anyone of the station may have come
        page.click("[data-testid=paper-submit]")
        page.wait_for_load_state()
        assert "已补录 4 人" in page.locator("p.notice").first.inner_text()
        assert page.locator("span.badge.paper").count() == 4
        text = journey.check("paper sheet")
        assert "其中补录（未核验） 8.00 h" in text

        # The station's completion workbook.
        page.goto(f"{base}/dashboard?period={now.year}")
        journey.check("station dashboard")
        with page.expect_download() as download_info:
            page.click("a:text-is('XLSX')")
        saved = tmp_path / "station.xlsx"
        download_info.value.save_as(saved)
        # Chromium reports a navigation that turned into a download as aborted; that one is expected.
        log.failed_requests[:] = [entry for entry in log.failed_requests
                                  if not (entry.startswith(download_info.value.url) and "ERR_ABORTED" in entry)]
        workbook = load_workbook(io.BytesIO(saved.read_bytes()), read_only=True)
        cells = [str(value) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True)
                 for value in row if value is not None]
        assert any("第01社区" in cell for cell in cells) and not any("第02社区" in cell for cell in cells)
        journey.sign_out()

        # volunteer1 joins tonight's task and reads their own patrols.
        journey.sign_in("volunteer1", DEMO_PASSWORD)
        page.goto(f"{base}/patrols/tasks")
        assert page.locator("[data-testid=open-tasks] li", has_text="今晚夜巡").count() == 1
        journey.check("volunteer's tasks")
        page.locator("[data-testid=open-tasks] a", has_text="今晚夜巡").click()
        page.wait_for_load_state()
        page.click("[data-testid=sign-me-up]")
        page.wait_for_load_state()
        assert page.locator("[data-testid=my-signup]").count() == 1
        journey.check("volunteer signed up")
        assert page.url.split("?")[0] == tonight_url.split("?")[0]
        page.goto(f"{base}/patrols")
        text = journey.check("my patrols")
        assert volunteer1 in page.locator("[data-testid=me]").inner_text()
        assert f"本年度（{now.year}）" in page.locator("[data-testid=this-year]").inner_text()
        page.screenshot(path=str(tmp_path / "volunteer-patrols.png"))

        assert journey.bad_answers == []
        assert journey.findings == [], "\n".join(journey.findings)
        assert log.problems() == {}
