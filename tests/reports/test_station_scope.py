"""Station figures for station managers (issue 16, point 5): the dashboard, the completion API, the exports
and the targets, always scoped to the manager's own station, never revealing another station.

On the seeded 2020 data and the demo accounts: station1 manages 350600001001, station2 350600001002.
"""
from __future__ import annotations

import csv
import io
import json
import re

import openpyxl
import pytest

OWN, OTHER, NOWHERE = "350600001001", "350600001002", "350600001099"
PERIOD = "period=2020"
GROUPINGS = ("station", "volunteer", "month", "kind")
# Every read the figures offer, with "{station}" where a station code may go.
READS = [
    "/dashboard?period=2020{station}",
    "/api/v1/completion?period=2020&group_by=volunteer{station}",
    "/api/v1/completion.csv?period=2020&table=volunteer{station}",
    "/api/v1/completion.xlsx?period=2020{station}",
    "/api/v1/completion.geojson?period=2020{station}",
    "/api/v1/targets?period=2020{station}",
]


def _read(path: str, station: str | None = None) -> str:
    return path.format(station=f"&station={station}" if station else "")


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def _sheets(response) -> dict[str, list[tuple]]:
    workbook = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
    return {sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)] for sheet in workbook.worksheets}


def _page(response) -> str:
    """A page without its per-session CSRF token."""
    return re.sub(r'(name="csrf-token" content|name="csrf_token" value)="[^"]*"', r'\1=""',
                  response.get_data(as_text=True))


@pytest.mark.parametrize("group_by", GROUPINGS)
def test_a_station_manager_gets_exactly_the_managers_figures_of_their_station(client_as, group_by):
    station1, manager = client_as("station1"), client_as("manager")
    theirs = manager.get(f"/api/v1/completion?{PERIOD}&group_by={group_by}&station={OWN}")
    assert theirs.status_code == 200
    for query in ("", f"&station={OWN}"):
        mine = station1.get(f"/api/v1/completion?{PERIOD}&group_by={group_by}{query}")
        assert mine.status_code == 200, mine.get_json()
        assert mine.get_json() == theirs.get_json()
        assert mine.get_json()["station"] == OWN


def test_no_zone_wide_table_leaks_to_a_station_manager(client_as, session):
    import sqlalchemy as sa

    from gridsvc.grids.models import Grid
    from gridsvc.people.models import Patroller

    station1 = client_as("station1")
    stations = station1.get(f"/api/v1/completion?{PERIOD}&group_by=station").get_json()
    assert [row["station_code"] for row in stations["by_station"]] == [OWN]
    own_volunteers = set(session.scalars(
        sa.select(Patroller.app_account_id).join(Grid, Patroller.station_id == Grid.id)
        .where(Grid.code == OWN, Patroller.role == "volunteer")))
    volunteers = station1.get(f"/api/v1/completion?{PERIOD}&group_by=volunteer").get_json()["by_volunteer"]
    assert volunteers and {row["station_code"] for row in volunteers} == {OWN}
    assert {row["app_account_id"] for row in volunteers} <= own_volunteers
    zone = client_as("manager").get(f"/api/v1/completion?{PERIOD}&group_by=kind").get_json()
    assert stations["volunteers"] == stations["by_station"][0]["volunteers"] < zone["volunteers"]
    assert stations["target_seconds"] == stations["by_station"][0]["target_seconds"] < zone["target_seconds"]
    for kind in stations["kinds"]:
        assert stations["claimed"][kind] == {**stations["by_station"][0]["claimed"][kind],
                                             "sessions": stations["claimed"][kind]["sessions"]}
        assert stations["claimed"][kind]["seconds"] <= zone["claimed"][kind]["seconds"]
    assert all(target["station_code"] in (None, OWN) for target in stations["targets"])
    # station2 gets its own station, not station1's.
    other = client_as("station2").get(f"/api/v1/completion?{PERIOD}&group_by=station").get_json()
    assert [row["station_code"] for row in other["by_station"]] == [OTHER]


def test_the_exports_are_the_managers_exports_of_the_station_and_agree_with_the_api(client_as):
    station1, manager = client_as("station1"), client_as("manager")
    api = {group_by: station1.get(f"/api/v1/completion?{PERIOD}&group_by={group_by}").get_json()
           for group_by in ("station", "volunteer", "month")}
    for table in ("kind", "station", "volunteer", "month"):
        mine = station1.get(f"/api/v1/completion.csv?{PERIOD}&table={table}")
        assert mine.status_code == 200
        assert f"-{OWN}-{table}.csv" in mine.headers["Content-Disposition"]
        assert mine.data == manager.get(f"/api/v1/completion.csv?{PERIOD}&table={table}&station={OWN}").data
    rows = _csv(station1.get(f"/api/v1/completion.csv?{PERIOD}&table=volunteer"))[1:]
    assert [row[0] for row in rows] == [row["app_account_id"] for row in api["volunteer"]["by_volunteer"]]
    assert {row[2] for row in rows} == {OWN}
    assert [float(row[6]) for row in rows] == [row["target_hours"] for row in api["volunteer"]["by_volunteer"]]
    station_rows = _csv(station1.get(f"/api/v1/completion.csv?{PERIOD}&table=station"))[1:]
    assert [row[0] for row in station_rows] == [OWN]
    assert float(station_rows[0][4]) == api["station"]["by_station"][0]["claimed"]["group"]["hours"]

    workbook = station1.get(f"/api/v1/completion.xlsx?{PERIOD}")
    assert workbook.status_code == 200 and f"-{OWN}.xlsx" in workbook.headers["Content-Disposition"]
    sheets = _sheets(workbook)
    assert sheets == _sheets(manager.get(f"/api/v1/completion.xlsx?{PERIOD}&station={OWN}"))
    by_station, by_volunteer, by_month = list(sheets.values())[1:4]
    assert [row[0] for row in by_station[1:]] == [OWN]
    assert by_station[1][4] == api["station"]["by_station"][0]["claimed"]["group"]["hours"]
    assert [row[0] for row in by_volunteer[1:]] == [row["app_account_id"] for row in api["volunteer"]["by_volunteer"]]
    assert [row[4] for row in by_month[1:]] == [row["target_hours"] for row in api["month"]["by_month"]]
    assert OWN in [value for row in list(sheets.values())[-1] for value in row]  # the About sheet names it

    features = station1.get(f"/api/v1/completion.geojson?{PERIOD}")
    assert features.status_code == 200 and f"-{OWN}.geojson" in features.headers["Content-Disposition"]
    assert [feature["id"] for feature in json.loads(features.data)["features"]] == [OWN]
    assert features.data == manager.get(f"/api/v1/completion.geojson?{PERIOD}&station={OWN}").data


@pytest.mark.parametrize("path", READS)
def test_another_stations_code_answers_exactly_as_a_code_no_station_has(client_as, path):
    station1 = client_as("station1")
    other, missing = station1.get(_read(path, OTHER) + "&lang=en"), station1.get(_read(path, NOWHERE) + "&lang=en")
    assert other.status_code == missing.status_code == 404
    if path.startswith("/api/"):
        assert other.get_json()["error"]["code"] == "grid_not_found"
        assert json.dumps(other.get_json()).replace(OTHER, "X") == json.dumps(missing.get_json()).replace(NOWHERE, "X")
    else:
        assert _page(other).replace(OTHER, "X") == _page(missing).replace(NOWHERE, "X")
    # A grid that is no station, even inside their own station's area, is no station either.
    assert station1.get(_read(path, OWN[:9])).status_code == 404


@pytest.mark.parametrize("username", ["worker1", "volunteer1"])
def test_grid_workers_and_volunteers_still_get_no_station_figures(client_as, username):
    other = client_as(username)
    for path in READS:
        for station in (None, OWN):
            assert other.get(_read(path, station)).status_code == 403, (username, path, station)
    assert 'href="/dashboard"' not in other.get("/").get_data(as_text=True)


def test_targets_read_scoped_and_written_only_by_managers(client_as):
    station1, manager = client_as("station1"), client_as("manager")
    zone = manager.post("/api/v1/targets", json={"period": "2031", "quota_hours": 6})
    elsewhere = manager.post("/api/v1/targets", json={"period": "2031", "quota_hours": 8, "station_code": OTHER})
    assert zone.status_code == elsewhere.status_code == 201
    listed = station1.get("/api/v1/targets?period=2031")
    assert listed.status_code == 200
    assert listed.get_json() == manager.get(f"/api/v1/targets?period=2031&station={OWN}").get_json()
    assert [target["station_code"] for target in listed.get_json()["targets"]] == [None]
    assert station1.post("/api/v1/targets", json={"period": "2032", "quota_hours": 6}).status_code == 403
    assert station1.delete(f"/api/v1/targets/{zone.get_json()['id']}").status_code == 403


def test_the_dashboard_shows_their_station_alone(client_as):
    station1 = client_as("station1")
    page = station1.get(f"/dashboard?{PERIOD}&lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    manager_api = client_as("manager").get(f"/api/v1/completion?{PERIOD}&station={OWN}").get_json()
    name = manager_api["by_station"][0]["station_name"]
    assert re.search(r"<h1>[^<]*· <span data-field=\"station\">" + re.escape(name), html)
    assert re.findall(r'data-station="([^"]+)"', html) == [OWN]
    assert re.findall(r'<option value="(3506[0-9]*)"', html) == [OWN]  # the picker offers their station alone
    assert '<option value="">' not in html.split('name="station"')[1].split("</select>")[0]
    assert OTHER not in html and "All stations</option>" not in html
    assert "other stations are not shown" in html
    # Export links name the station; the volunteers listed are the API's.
    assert f"/api/v1/completion.xlsx?period=2020&amp;station={OWN}" in html or \
        f"/api/v1/completion.xlsx?station={OWN}&amp;period=2020" in html
    shown = re.findall(r'<tr data-volunteer="(\d+)">', html)
    volunteers = client_as("manager").get(f"/api/v1/completion?{PERIOD}&station={OWN}&group_by=volunteer").get_json()
    assert shown == [str(row["volunteer_id"]) for row in volunteers["by_volunteer"]][:len(shown)]
    assert 'id="no-patrols"' not in html
    # Same page as the manager's for the station, but for the picker and the note.
    assert station1.get(f"/dashboard?{PERIOD}&station={OWN}&lang=en").status_code == 200


def test_the_navigation_offers_station_managers_their_figures(client_as):
    for path in ("/", "/dashboard?period=2020"):
        html = client_as("station1").get(path).get_data(as_text=True)
        assert 'href="/dashboard"' in html, path


def test_an_empty_period_says_so_helpfully(client_as):
    page = client_as("station1").get("/dashboard?period=2030-02&lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="no-patrols"' in html
    assert "No patrols of " in html and "2030-02-01 to 2030-02-28" in html
    assert OTHER not in html
    figures = client_as("station1").get("/api/v1/completion?period=2030-02&group_by=station").get_json()
    assert [row["station_code"] for row in figures["by_station"]] == [OWN]
    assert all(figures["claimed"][kind]["sessions"] == 0 for kind in figures["kinds"])
