"""`flask patrols import-csv` and `flask patrols import-gpx`: all or nothing by default, per-row error report."""
from __future__ import annotations

import csv
import datetime as dt
import shutil

import sqlalchemy as sa

from gridsvc.patrols.models import PatrolSession
from gridsvc.patrols.service import create_task
from gridsvc.people.models import Patroller
from tests.patrols.gpx_helpers import GPX_DIR
from tests.patrols.helpers import SHANGHAI, STATION_S08, VOLUNTEER_S08, count, counts, new_uuid, zone_gpx


def _write_csv(path, rows, header=("client_uuid", "kind", "volunteer", "start", "end", "task_id", "start_lon",
                                   "start_lat")):
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:  # with a BOM, as Excel writes it
        writer = csv.DictWriter(handle, fieldnames=list(header))
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def _run(app, *args):
    return app.test_cli_runner().invoke(args=["patrols", *args, "--quiet"])


def _grid_worker_id(session) -> int:
    return session.scalar(sa.select(Patroller.id).where(Patroller.role == "grid_worker").order_by(Patroller.id))


def _task_id(session) -> int:
    from gridsvc.grids.service import get_grid

    task = create_task(session, title="import test", station_id=get_grid(session, code=STATION_S08).id,
                       starts_at=dt.datetime(2021, 8, 7, 19, tzinfo=SHANGHAI),
                       ends_at=dt.datetime(2021, 8, 7, 23, tzinfo=SHANGHAI), headcount=10)
    session.commit()
    return task.id


def _good_rows(session):
    return [
        {"client_uuid": new_uuid(), "kind": "individual", "volunteer": VOLUNTEER_S08,
         "start": "2021-08-01 19:00", "end": "2021-08-01 21:00"},
        {"client_uuid": "", "kind": "individual", "volunteer": "XLXQ000001",
         "start": "2021-08-02T19:00:00+08:00", "end": "2021-08-02T20:30:00+08:00",
         "start_lon": "117.30", "start_lat": "23.88"},
        {"client_uuid": new_uuid(), "kind": "group", "volunteer": VOLUNTEER_S08, "task_id": str(_task_id(session)),
         "start": "2021-08-07 19:00", "end": "2021-08-07 22:00"},
        {"client_uuid": new_uuid(), "kind": "individual", "volunteer": str(_grid_worker_id(session)),
         "start": "2021-08-03 09:00", "end": "2021-08-03 10:00"},
    ]


def test_csv_import_then_reimport_adds_nothing(app, session, tmp_path):
    path = _write_csv(tmp_path / "patrols.csv", _good_rows(session))
    before = count(app)

    first = _run(app, "import-csv", str(path))
    again = _run(app, "import-csv", str(path))

    assert first.exit_code == 0, first.output
    assert "imported 4 new, 0 already present, 0 refused" in first.output
    assert again.exit_code == 0, again.output
    assert "imported 0 new, 4 already present, 0 refused" in again.output
    assert count(app) == before + 4
    placed = session.scalar(sa.select(PatrolSession).where(PatrolSession.source == "import",
                                                           PatrolSession.start_point.isnot(None)))
    assert placed.station.code == STATION_S08  # from its start point, not the volunteer's station (S14)


def test_csv_import_is_all_or_nothing_with_a_per_row_report(app, session, tmp_path):
    rows = _good_rows(session) + [
        {"client_uuid": new_uuid(), "kind": "individual", "volunteer": VOLUNTEER_S08,
         "start": "2021-08-05 19:00", "end": "2021-08-05 18:00"},
        {"client_uuid": new_uuid(), "kind": "individual", "volunteer": "XLXQ999999",
         "start": "2021-08-06 19:00", "end": "2021-08-06 20:00"},
        {"client_uuid": new_uuid(), "kind": "individual", "volunteer": VOLUNTEER_S08,
         "start": "2021-08-01 20:00", "end": "2021-08-01 22:00"},  # overlaps the first row
    ]
    path = _write_csv(tmp_path / "patrols.csv", rows)
    report = tmp_path / "report.csv"
    before = counts(app)

    result = _run(app, "import-csv", str(path), "--report", str(report))

    assert result.exit_code == 1
    assert "nothing imported: 3 of 7 rows refused" in result.output
    assert "line 6: end_before_start: The end time must be after the start time" in result.output
    assert "line 7: patroller_not_found: No such volunteer or grid worker: XLXQ999999" in result.output
    assert "line 8: overlapping_session: This overlaps another patrol of the same person" in result.output
    assert counts(app) == before
    lines = list(csv.DictReader(open(report, encoding="utf-8")))
    assert [line["status"] for line in lines] == ["created"] * 4 + ["error"] * 3
    assert lines[4]["code"] == "end_before_start"

    kept = _run(app, "import-csv", str(path), "--keep-going")
    assert kept.exit_code == 1
    assert "imported 4 new, 0 already present, 3 refused" in kept.output
    assert counts(app)[0] == before[0] + 4


def test_csv_import_refuses_a_file_without_the_needed_columns(app, tmp_path):
    path = _write_csv(tmp_path / "bad.csv", [{"kind": "individual"}], header=("kind", "who"))
    result = _run(app, "import-csv", str(path))
    assert result.exit_code != 0
    assert "missing column(s) volunteer, start, end" in result.output


def test_csv_import_reads_gb18030_and_the_seed_export_names(app, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(("app_account_id,kind,started_at,ended_at,备注\n"
                      f"{VOLUNTEER_S08},individual,2021-08-09 19:00,2021-08-09 20:00,夜巡\n").encode("gb18030"))
    before = count(app)
    result = _run(app, "import-csv", str(path))
    assert result.exit_code == 0, result.output
    assert "ignored column(s): 备注" in result.output
    assert count(app) == before + 1


def _gpx_folder(tmp_path):
    folder = tmp_path / "tracks"
    folder.mkdir()
    (folder / "a.gpx").write_bytes(zone_gpx("korita-zbevnica.gpx", starting=dt.datetime(2021, 9, 4, 8, tzinfo=SHANGHAI)))
    (folder / "b.gpx").write_bytes(zone_gpx("around-visnjan-with-car.gpx",
                                            starting=dt.datetime(2021, 9, 5, 8, tzinfo=SHANGHAI)))
    return folder


def test_gpx_folder_import(app, tmp_path):
    folder = _gpx_folder(tmp_path)
    shutil.copy(GPX_DIR / "Mojstrovka.gpx", folder / "c.gpx")
    before = counts(app)

    refused = _run(app, "import-gpx", str(folder), "--volunteer", VOLUNTEER_S08)
    assert refused.exit_code == 1
    assert "c.gpx: impossible_times: The track time 1901-12-13T20:45:52Z is impossible" in refused.output
    assert "nothing imported: 1 of 3 files refused" in refused.output
    assert counts(app) == before

    kept = _run(app, "import-gpx", str(folder), "--volunteer", VOLUNTEER_S08, "--keep-going")
    assert "imported 2 new, 0 already present, 1 refused" in kept.output
    (folder / "c.gpx").unlink()
    again = _run(app, "import-gpx", str(folder), "--volunteer", VOLUNTEER_S08)
    assert again.exit_code == 0, again.output
    assert "imported 0 new, 2 already present, 0 refused" in again.output
    assert counts(app)[0] == before[0] + 2


def test_gpx_folder_import_needs_a_known_volunteer(app, tmp_path):
    result = _run(app, "import-gpx", str(_gpx_folder(tmp_path)), "--volunteer", "XLXQ999999")
    assert result.exit_code != 0
    assert "No such volunteer or grid worker: XLXQ999999" in result.output
