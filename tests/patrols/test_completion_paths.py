"""Every way in (form, API, GPX upload, CSV import, task attendance) reaches the completion figures
with the right kind, station and hours; grid workers' patrols land beside the volunteers'."""
from __future__ import annotations

import csv
import datetime as dt
import re

import pytest
import sqlalchemy as sa

from gridsvc.people.models import Patroller
from tests.patrols.helpers import (
    SHANGHAI,
    STATION_S08,
    VOLUNTEER_S08,
    new_uuid,
    post_gpx,
    post_json,
    reference_figures,
    station_ring,
    zone_gpx,
)

PERIOD = "2021-10"


def _completion(client, basis: str = "claimed") -> dict:
    response = client.get(f"/api/v1/completion?period={PERIOD}&basis={basis}")
    assert response.status_code == 200
    return response.get_json()


def _figures(body: dict) -> dict:
    """(kind totals, S08's kind totals, grid workers' totals) in seconds."""
    station = next(row for row in body["by_station"] if row["station_code"] == STATION_S08)
    return {
        "total": {kind: body["by_kind"][kind]["seconds"] for kind in ("group", "individual")},
        "S08": {kind: station["by_kind"][kind]["seconds"] for kind in ("group", "individual")},
        "workers": {kind: body["grid_workers"][kind]["seconds"] for kind in ("group", "individual")},
    }


def _difference(before: dict, after: dict) -> dict:
    return {part: {kind: after[part][kind] - before[part][kind] for kind in after[part]} for part in after}


def _by_form(client, app, tmp_path):
    html = client.get("/patrols/new").get_data(as_text=True)
    client_uuid = re.search(r'name="client_uuid" value="([0-9a-f-]{36})"', html).group(1)
    response = client.post("/patrols/new", data={"client_uuid": client_uuid, "kind": "individual",
                                                 "volunteer": VOLUNTEER_S08, "start": "2021-10-05T19:00",
                                                 "end": "2021-10-05T20:45"})
    assert response.status_code == 303
    return 6300, None


def _by_api(client, app, tmp_path):
    response = post_json(client, "/api/v1/patrols", {
        "client_uuid": new_uuid(), "kind": "individual", "volunteer": VOLUNTEER_S08,
        "start": "2021-10-06T08:00:00+08:00", "end": "2021-10-06T09:30:00+08:00"})
    assert response.status_code == 201
    return 5400, None


def _by_gpx_upload(client, app, tmp_path):
    data = zone_gpx("korita-zbevnica.gpx", starting=dt.datetime(2021, 10, 7, 8, tzinfo=SHANGHAI))
    expected = reference_figures(data, ring=station_ring("S08"))
    response = post_gpx(client, data)
    assert response.status_code == 201
    return round(expected["duration"]), expected["verified"]


def _by_csv_import(client, app, tmp_path):
    path = tmp_path / "export.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["client_uuid", "kind", "volunteer", "start", "end"])
        writer.writerow([new_uuid(), "individual", VOLUNTEER_S08, "2021-10-08 19:00", "2021-10-08 19:40"])
        writer.writerow([new_uuid(), "individual", VOLUNTEER_S08, "2021-10-09 19:00", "2021-10-09 20:00"])
    result = app.test_cli_runner().invoke(args=["patrols", "import-csv", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    return 2400 + 3600, None


PATHS = {"form": _by_form, "api": _by_api, "gpx upload": _by_gpx_upload, "csv import": _by_csv_import}


@pytest.mark.parametrize("way", sorted(PATHS))
def test_individual_patrol_reaches_completion(app, client, tmp_path, way):
    before, before_verified = _figures(_completion(client)), _figures(_completion(client, "verified"))

    claimed, verified = PATHS[way](client, app, tmp_path)

    change = _difference(before, _figures(_completion(client)))
    assert change["total"] == change["S08"] == {"group": 0, "individual": claimed}
    assert change["workers"] == {"group": 0, "individual": 0}
    verified_change = _difference(before_verified, _figures(_completion(client, "verified")))
    assert verified_change["S08"]["individual"] == pytest.approx(verified or 0, abs=2)


def test_group_attendance_reaches_completion_as_person_hours(app, client):
    task = post_json(client, "/api/v1/patrol-tasks", {
        "title": "十月群防", "station": STATION_S08, "start": "2021-10-16T19:00:00+08:00",
        "end": "2021-10-16T23:00:00+08:00", "headcount": 5}).get_json()
    before, before_verified = _figures(_completion(client)), _figures(_completion(client, "verified"))

    response = post_json(client, f"/api/v1/patrol-tasks/{task['id']}/attendance", {"attendance": [
        {"volunteer": VOLUNTEER_S08, "attended": True},
        {"volunteer": "XLXQ000034", "attended": True, "start": "2021-10-16T19:00:00+08:00",
         "end": "2021-10-16T21:00:00+08:00"},
    ]})

    assert response.status_code == 200, response.get_json()
    change = _difference(before, _figures(_completion(client)))
    assert change["S08"] == {"group": 4 * 3600 + 2 * 3600, "individual": 0}
    assert _difference(before_verified, _figures(_completion(client, "verified")))["S08"]["group"] == 6 * 3600


def test_grid_worker_patrol_is_reported_beside_the_volunteers(app, client, session):
    worker = session.scalar(sa.select(Patroller).where(Patroller.role == "grid_worker").order_by(Patroller.id))
    before = _figures(_completion(client))
    data = zone_gpx("track-with-empty-segment.gpx", starting=dt.datetime(2021, 10, 10, 9, tzinfo=SHANGHAI))

    response = post_gpx(client, data, volunteer=str(worker.id))

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["volunteer"]["role"] == "grid_worker"
    change = _difference(before, _figures(_completion(client)))
    assert change["workers"] == {"group": 0, "individual": 76}
    assert change["total"] == {"group": 0, "individual": 0}
    page = client.get(f"/patrols?volunteer={worker.id}&lang=en").get_data(as_text=True)
    assert "Grid-worker inspection" in page
