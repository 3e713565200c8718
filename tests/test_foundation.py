"""The foundation's promises, end to end through the API, page and CLI, on both databases."""
from __future__ import annotations

import json

from shapely.geometry import Point, shape

from gridsvc.cli import report_completion


def test_completion_reproduces_the_2020_report(client):
    body = client.get("/api/v1/completion?period=2020").get_json()
    assert body["volunteers"] == 647
    assert body["target_hours"] == 3882.0
    assert body["by_kind"]["group"] == {"seconds": 25_447_968, "hours": 7068.88, "percent": 182.09}
    assert body["by_kind"]["individual"] == {"seconds": 27_163_224, "hours": 7545.34, "percent": 194.37}
    assert len(body["by_station"]) == 15
    assert sum(row["volunteers"] for row in body["by_station"]) == 647
    assert sum(row["by_kind"]["group"]["seconds"] for row in body["by_station"]) == 25_447_968


def test_grids_are_one_centre_and_fifteen_stations(client):
    response = client.get("/api/v1/grids")
    assert response.mimetype == "application/geo+json"
    features = response.get_json()["features"]
    assert len(features) == 16
    centres = [f for f in features if f["properties"]["level"] == "centre"]
    stations = [f for f in features if f["properties"]["level"] == "station"]
    assert len(centres) == 1 and len(stations) == 15
    centre_code = centres[0]["properties"]["code"]
    assert centre_code == "350600001"
    for station in stations:
        assert station["properties"]["parent_code"] == centre_code
        assert station["properties"]["code"].startswith(centre_code) and len(station["properties"]["code"]) == 12
        assert station["geometry"]["type"] == "MultiPolygon"


def test_stations_cover_the_centre_without_overlap(client):
    coverage = client.get("/api/v1/grids/350600001/coverage").get_json()
    assert coverage["stations"] == 15
    assert coverage["uncovered_m2"] == 0.0
    assert coverage["covered_percent"] == "100.00"
    assert coverage["overlaps"] == []
    assert coverage["centre_area_m2"] > 50_000_000  # about 12 km x 9 km


def test_every_camera_lies_in_its_station(client):
    cameras = client.get("/api/v1/cameras").get_json()["features"]
    assert len(cameras) == 252
    stations = {
        f["properties"]["code"]: shape(f["geometry"])
        for f in client.get("/api/v1/grids").get_json()["features"]
        if f["properties"]["level"] == "station"
    }
    for camera in cameras:
        props = camera["properties"]
        assert props["police_linked"] is True
        assert len(props["device_id"]) == 20 and props["id_parts"]["type"] in {"131", "132"}
        assert stations[props["station_code"]].contains(Point(camera["geometry"]["coordinates"]))


def test_home_page_shows_the_same_figures(client):
    page = client.get("/").get_data(as_text=True)
    assert "7068.88" in page and "182.09 %" in page
    assert "7545.34" in page and "194.37 %" in page
    assert "3882.00" in page
    assert "群防" in page  # Chinese by default


def test_home_page_in_english(client):
    page = client.get("/?lang=en").get_data(as_text=True)
    assert "Group patrol" in page and "182.09 %" in page


def test_cli_report_matches_the_api(app, client):
    api = client.get("/api/v1/completion?period=2020").get_json()
    runner = app.test_cli_runner()
    result = runner.invoke(report_completion, ["--period", "2020", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == api
    table = runner.invoke(report_completion, ["--period", "2020", "--format", "table"])
    assert "7068.88 h" in table.output and "182.09 %" in table.output
    assert "7545.34 h" in table.output and "194.37 %" in table.output


def test_bad_period_is_a_clear_error(client):
    response = client.get("/api/v1/completion?period=20x0&lang=en")
    assert response.status_code == 422
    assert "Period must look like 2020" in response.get_json()["error"]["message"]


def test_seed_is_rerunnable_without_duplicates(app, session):
    from seed.loader import load_seed

    added = load_seed(session, region_code="350600")
    assert added == {"grids": 0, "volunteers": 0, "grid_workers": 0, "cameras": 0, "tasks": 0, "patrols": 0}


def test_tests_run_on_the_expected_backend(app, session):
    assert session.get_bind().dialect.name == {"spatialite": "sqlite", "postgis": "postgresql"}[app.config["BACKEND"]]
