"""The "My patrols" page shows this year's target and completion exactly as the completion report gives them."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

SHANGHAI = ZoneInfo("Asia/Shanghai")
KINDS = ("group", "individual")


def _volunteer1(app) -> tuple[int, str, str]:
    """volunteer1's patroller id, account number and station code."""
    from gridsvc.auth.models import User
    from gridsvc.grids.models import Grid
    from gridsvc.people.models import Patroller

    session = app.extensions["gridsvc"].sessions()
    try:
        return tuple(session.execute(
            sa.select(Patroller.id, Patroller.app_account_id, Grid.code)
            .join(User, User.patroller_id == Patroller.id).join(Grid, Patroller.station_id == Grid.id)
            .where(User.username == "volunteer1")).one())
    finally:
        session.close()


def _this_year() -> int:
    return dt.datetime.now(SHANGHAI).year


def _log_this_year(client, account: str, *, hours: float) -> None:
    """An individual patrol of `hours` (less when the year is younger), ended ten minutes ago, in this year."""
    end = dt.datetime.now(SHANGHAI).replace(second=0, microsecond=0) - dt.timedelta(minutes=10)
    start = max(end - dt.timedelta(hours=hours), dt.datetime(end.year, 1, 1, 0, 1, tzinfo=SHANGHAI))
    if end - start < dt.timedelta(minutes=30):
        pytest.skip("the year is too young for a patrol in it")
    response = client.post("/api/v1/patrols", json={
        "client_uuid": str(uuid.uuid4()), "kind": "individual", "volunteer": account,
        "start": start.isoformat(), "end": end.isoformat()})
    assert response.status_code == 201, response.get_json()


def _report_row(client, patroller_id: int, *, station: str | None = None) -> dict:
    """The volunteer's by_volunteer row of GET /api/v1/completion for this year (zone-wide or one station)."""
    query = f"/api/v1/completion?period={_this_year()}&group_by=volunteer" + (f"&station={station}" if station else "")
    response = client.get(query)
    assert response.status_code == 200, response.get_json()
    return next(row for row in response.get_json()["by_volunteer"] if row["volunteer_id"] == patroller_id)


def _page_target(client, ref: str = "", lang: str = "zh") -> tuple[str, dict[str, str]]:
    """The this-year line of /patrols: its text and the figures it marks (target_hours, <kind>_percent, ...)."""
    page = client.get(f"/patrols?lang={lang}" + (f"&volunteer={ref}" if ref else ""))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    line = re.search(r'<p class="this-year" data-testid="this-year">(.*?)</p>', html, re.S).group(1)
    assert 'data-testid="year-target"' in line
    figures = dict(re.findall(r'data-field="(\w+)">([\d.]+)', line))
    return re.sub(r"<[^>]+>", "", line), figures


def _assert_same_as_report(figures: dict[str, str], row: dict) -> None:
    assert figures["target_hours"] == "%.2f" % row["target_hours"]
    for kind in KINDS:
        assert figures[f"{kind}_percent"] == "%.2f" % row["claimed"][kind]["percent"]
        assert figures[f"{kind}_verified_percent"] == "%.2f" % row["verified"][kind]["percent"]


def test_own_page_shows_the_reports_target_and_completion_and_follows_a_station_target(app, client_as):
    patroller_id, account, station = _volunteer1(app)
    volunteer = client_as("volunteer1")
    viewer = client_as("viewer")
    _log_this_year(volunteer, account, hours=2)

    row = _report_row(viewer, patroller_id)
    assert row == _report_row(viewer, patroller_id, station=station)  # the zone's report and the station's agree
    assert row["target_hours"] > 0 and row["claimed"]["individual"]["seconds"] > 0
    text, figures = _page_target(volunteer)
    _assert_same_as_report(figures, row)
    assert "目标" in text and "完成" in text
    assert float(figures["individual_percent"]) > 0

    # A target row for volunteer1's station this year: the page's target and completion follow the report's.
    created = client_as("manager").post("/api/v1/targets", json={
        "period": str(_this_year()), "station_code": station, "quota_hours": "9.5"})
    assert created.status_code == 201, created.get_json()
    changed = _report_row(viewer, patroller_id)
    assert changed["target_seconds"] != row["target_seconds"]
    assert changed["target_seconds"] == created.get_json()["quota_seconds"]  # active the whole year: the whole quota
    _text, figures = _page_target(volunteer)
    _assert_same_as_report(figures, changed)
    assert figures["target_hours"] == "9.50"

    # A centre viewer picking volunteer1 sees the same figures.
    _text, viewer_figures = _page_target(viewer, account, lang="en")
    assert viewer_figures == figures


def test_no_target_gives_a_plain_line_not_an_error(app, client_as):
    patroller_id, account, station = _volunteer1(app)
    created = client_as("manager").post("/api/v1/targets", json={
        "period": str(_this_year()), "station_code": station, "quota_hours": 0})
    assert created.status_code == 201, created.get_json()
    assert _report_row(client_as("viewer"), patroller_id)["claimed"]["individual"]["percent"] is None

    text, figures = _page_target(client_as("volunteer1"))
    assert "本年度没有巡逻目标" in text and "target_hours" not in figures
    text, _figures = _page_target(client_as("viewer"), account, lang="en")
    assert "No patrol target for this year" in text

    # A grid worker has no volunteer target in the reports: their own page says so too.
    text, figures = _page_target(client_as("worker1"), lang="en")
    assert "No patrol target for this year" in text and "target_hours" not in figures
