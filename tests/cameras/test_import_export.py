"""Import and export: per-row errors, all-or-nothing, GCJ-02, re-import changes nothing, round trips."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from gridsvc.cameras.models import Camera, CameraStatusChange
from gridsvc.cameras.transfer import export_rows, import_cameras, read_csv, read_file, read_geojson, to_csv, to_geojson
from gridsvc.errors import ValidationError
from gridsvc.geo.geodesy import geodesic_distance_m
from gridsvc.grids.service import station_at
from maps.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02
from tests.cameras.conftest import COLUMNS, counts, csv_bytes, geojson_document, seed_camera_rows

REGION = "350600"


def new_rows() -> list[dict]:
    """252 cameras that are not registered yet: the seed's rows with serials 9xxxxx (same places)."""
    rows = []
    for row in seed_camera_rows():
        rows.append({**row, "device_id": row["device_id"][:14] + "9" + row["device_id"][15:],
                     "name": row["name"].replace("监控", "新监控")})
    return rows


def mixed_rows() -> tuple[list[dict], dict[int, str]]:
    """252 rows, 11 of them bad; returns the rows and {row index: expected error code}."""
    rows = new_rows()
    seed = seed_camera_rows()
    expected = {}

    def put(index, code, **changes):
        rows[index] = {**rows[index], **changes}
        if code:
            expected[index] = code

    put(0, "device_id_format", device_id="3506000100132590000")  # 19 digits
    put(1, "device_id_not_camera", device_id="35060001001185900002")  # 118: an NVR
    put(2, "device_id_region", device_id="11010001001325900003")  # Beijing, not 350600
    put(3, "camera_duplicate_differs", **{**seed[0], "name": "改名的探头"})  # registered, different name
    put(11, "import_duplicate_in_file", device_id=rows[10]["device_id"])  # the same id as row index 10
    put(5, "outside_zone", lon="118.9", lat="25.1")
    put(6, "swapped_coordinates", lon=rows[6]["lat"], lat=rows[6]["lon"])
    gcj_lon, gcj_lat = wgs84_to_gcj02(float(seed[4]["lon"]), float(seed[4]["lat"]))
    put(7, "crs_mismatch", **{**seed[4], "lon": f"{gcj_lon:.7f}", "lat": f"{gcj_lat:.7f}"})  # GCJ-02 as WGS-84
    edge_lon, edge_lat = wgs84_to_gcj02(117.3575, 23.90)  # inside the zone; its GCJ-02 form is not
    put(8, "crs_suspected", lon=f"{edge_lon:.7f}", lat=f"{edge_lat:.7f}")
    good_lon, good_lat = wgs84_to_gcj02(float(rows[9]["lon"]), float(rows[9]["lat"]))
    put(9, None, lon=f"{good_lon:.7f}", lat=f"{good_lat:.7f}", crs="gcj02")  # declared GCJ-02: converted
    put(12, "camera_kind", kind="camera")
    put(13, "camera_coordinate", lon="abc")
    return rows, expected


def _records(rows, file_format):
    if file_format == "csv":
        return read_csv(csv_bytes(rows, COLUMNS + ("crs",))), 2  # data row i is line i + 2
    return read_geojson(json.dumps(geojson_document(rows)).encode()), 1  # feature i is number i + 1


def _stored(session, device_id):
    return session.execute(sa.select(Camera, sa.func.ST_X(Camera.geom), sa.func.ST_Y(Camera.geom))
                           .where(Camera.device_id == device_id)).one()


def test_reimporting_the_seed_file_changes_nothing(session):
    before = counts(session)
    report = import_cameras(session, records=read_csv(csv_bytes(seed_camera_rows())), region_prefix=REGION)
    assert (report.rows, report.unchanged, report.created, report.updated, report.errors) == (252, 252, 0, 0, [])
    assert report.committed
    assert counts(session) == before


def test_a_good_252_row_file_imports_exactly_and_again_changes_nothing(session):
    rows = new_rows()
    cameras, history = counts(session)
    report = import_cameras(session, records=read_csv(csv_bytes(rows)), region_prefix=REGION, source_name="good.csv")
    assert (report.created, report.unchanged, report.errors, report.committed) == (252, 0, [], True)
    assert counts(session) == (cameras + 252, history + 2 * 252)
    for row in rows[:: 25]:
        camera, lon, lat = _stored(session, row["device_id"])
        assert (lon, lat) == (float(row["lon"]), float(row["lat"]))
        assert (camera.name, camera.kind, camera.status, camera.police_linked) == (row["name"], row["kind"],
                                                                                  row["status"], True)
        assert camera.station_id == station_at(session, lon=lon, lat=lat).id
        assert camera.source_crs == "wgs84"
    notes = set(session.scalars(sa.select(CameraStatusChange.note).where(CameraStatusChange.note.like("import good.csv%"))))
    assert "import good.csv row 2" in notes and len(notes) == 252
    again = import_cameras(session, records=read_csv(csv_bytes(rows)), region_prefix=REGION)
    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 252, [])
    assert counts(session) == (cameras + 252, history + 2 * 252)


@pytest.mark.parametrize("file_format", ["csv", "geojson"])
def test_a_mixed_file_reports_every_bad_row_and_writes_nothing(session, file_format):
    rows, expected = mixed_rows()
    records, first = _records(rows, file_format)
    before = counts(session)
    report = import_cameras(session, records=records, region_prefix=REGION)
    found = {row: error.code for row, _device, error in report.errors}
    assert found == {index + first: code for index, code in expected.items()}
    assert (report.rows, report.valid, report.committed, report.created) == (252, 241, False, 0)
    assert counts(session) == before
    # The duplicate names the row where the id first appears.
    duplicate = next(error for row, _d, error in report.errors if error.code == "import_duplicate_in_file")
    assert duplicate.params["first_row"] == 10 + first
    suspected = next(error for row, _d, error in report.errors if error.code == "crs_suspected")
    assert suspected.params["other"] == "gcj02"


@pytest.mark.parametrize("file_format", ["csv", "geojson"])
def test_partial_writes_the_good_rows_and_converts_gcj02(session, file_format):
    rows, expected = mixed_rows()
    records, _first = _records(rows, file_format)
    cameras, history = counts(session)
    report = import_cameras(session, records=records, region_prefix=REGION, partial=True)
    assert (report.created, len(report.errors), report.converted, report.committed) == (241, 11, 1, True)
    assert counts(session) == (cameras + 241, history + 482)
    camera, lon, lat = _stored(session, rows[9]["device_id"])
    given = (float(rows[9]["lon"]), float(rows[9]["lat"]))
    assert (lon, lat) == pytest.approx(gcj02_to_wgs84(*given), abs=1e-9)
    assert (camera.source_crs, camera.source_lon, camera.source_lat) == ("gcj02", *given)
    assert 550 < geodesic_distance_m(lon, lat, *given) < 600  # the GCJ-02 offset near the zone
    assert geodesic_distance_m(lon, lat, float(new_rows()[9]["lon"]), float(new_rows()[9]["lat"])) < 0.02
    # Bad rows stayed out; the first of two rows with one id went in.
    assert session.scalar(sa.select(Camera.id).where(Camera.device_id == rows[10]["device_id"])) is not None
    for index in (5, 6, 8, 12, 13):  # bad rows with well-formed new ids
        assert session.scalar(sa.select(Camera.id).where(Camera.device_id == rows[index]["device_id"])) is None


def test_update_applies_a_differing_row_with_history(session):
    rows = seed_camera_rows()
    rows[0] = {**rows[0], "status": "fault", "police_linked": "0", "name": "东门探头"}
    before_cameras, before_history = counts(session)
    refused = import_cameras(session, records=read_csv(csv_bytes(rows)), region_prefix=REGION)
    assert [(row, error.code) for row, _d, error in refused.errors] == [(2, "camera_duplicate_differs")]
    assert refused.errors[0][2].params["fields"] == "name, police_linked, status"
    report = import_cameras(session, records=read_csv(csv_bytes(rows)), region_prefix=REGION, update=True,
                            source_name="fix.csv", actor="tester")
    assert (report.updated, report.unchanged, report.errors) == (1, 251, [])
    assert counts(session) == (before_cameras, before_history + 3)
    camera, _lon, _lat = _stored(session, rows[0]["device_id"])
    assert (camera.status, camera.police_linked, camera.name) == ("fault", False, "东门探头")
    changes = session.scalars(sa.select(CameraStatusChange).where(CameraStatusChange.camera_id == camera.id,
                                                                  CameraStatusChange.note == "import fix.csv row 2"))
    assert {(c.field, c.old_value, c.new_value, c.actor) for c in changes} == {
        ("status", "online", "fault", "tester"), ("police_linked", "true", "false", "tester"),
        ("name", "治安监控001", "东门探头", "tester")}
    assert import_cameras(session, records=read_csv(csv_bytes(rows)), region_prefix=REGION).unchanged == 252


def test_moving_with_update_rederives_the_station(session):
    rows = seed_camera_rows()[:1]
    rows[0] = {**rows[0], "lon": "117.3505", "lat": "23.9105"}
    report = import_cameras(session, records=read_csv(csv_bytes(rows)), region_prefix=REGION, update=True)
    assert report.updated == 1
    camera, lon, lat = _stored(session, rows[0]["device_id"])
    assert camera.station.code == station_at(session, lon=117.3505, lat=23.9105).code != "350600001001"
    change = session.scalar(sa.select(CameraStatusChange).where(CameraStatusChange.camera_id == camera.id,
                                                                CameraStatusChange.field == "location"))
    assert change.new_value == "117.3505000,23.9105000"


def test_missing_optional_columns_are_not_compared(session):
    rows = [{key: row[key] for key in ("device_id", "name", "kind", "lon", "lat")} for row in seed_camera_rows()]
    from gridsvc.cameras.service import update_camera

    update_camera(session, device_id=rows[0]["device_id"], status="offline")
    report = import_cameras(session, records=read_csv(csv_bytes(rows, ("device_id", "name", "kind", "lon", "lat"))),
                            region_prefix=REGION)
    assert (report.unchanged, report.errors) == (252, [])


def test_a_retired_camera_is_unchanged_by_its_old_row_and_refuses_a_new_one(session):
    from gridsvc.cameras.service import retire_camera

    rows = seed_camera_rows()
    retire_camera(session, device_id=rows[0]["device_id"])
    assert import_cameras(session, records=read_csv(csv_bytes(rows)), region_prefix=REGION).unchanged == 252
    rows[0] = {**rows[0], "status": "offline"}
    report = import_cameras(session, records=read_csv(csv_bytes(rows)), region_prefix=REGION, update=True)
    assert [(row, error.code) for row, _d, error in report.errors] == [(2, "camera_retired")]


@pytest.mark.parametrize("crs", ["wgs84", "gcj02"])
@pytest.mark.parametrize("file_format", ["csv", "geojson"])
def test_an_export_imports_back_unchanged(session, crs, file_format):
    rows = export_rows(session, crs=crs)
    assert len(rows) == 252
    data = to_csv(rows) if file_format == "csv" else json.dumps(to_geojson(rows)).encode()
    before = counts(session)
    report = import_cameras(session, records=read_file(data, filename=f"cameras.{file_format}"), region_prefix=REGION)
    assert (report.unchanged, report.errors) == (252, [])
    assert counts(session) == before


def test_a_gcj02_export_is_576_m_off_and_says_so(session):
    wgs = {row["device_id"]: row for row in export_rows(session)}
    for row in export_rows(session, crs="gcj02")[:5]:
        original = wgs[row["device_id"]]
        assert row["crs"] == "gcj02"
        assert 550 < geodesic_distance_m(original["lon"], original["lat"], row["lon"], row["lat"]) < 600


def test_export_escapes_names_that_spreadsheets_would_run(session):
    from gridsvc.cameras.service import update_camera

    device_id = seed_camera_rows()[0]["device_id"]
    update_camera(session, device_id=device_id, name="=HYPERLINK(\"x\")")
    data = to_csv(export_rows(session))
    assert "'=HYPERLINK" in data.decode("utf-8-sig")
    assert data.startswith("\ufeff".encode())
    assert import_cameras(session, records=read_csv(data), region_prefix=REGION).unchanged == 252


@pytest.mark.parametrize("data, code", [
    (b"", "import_empty"),
    (b"device_id,name,kind\n1,2,3\n", "import_columns"),
    (b"device_id,name,kind,lon,lat,name\n", "import_columns_repeated"),
    (b"device_id,name,kind,lon,lat\n\x00\n", "import_not_text"),
    (b"\xff\xfe\x00\x81", "import_encoding"),
])
def test_files_that_cannot_be_read_are_refused_whole(data, code):
    with pytest.raises(ValidationError) as error:
        read_csv(data)
    assert error.value.code == code


@pytest.mark.parametrize("document, code", [
    (b"{not json", "import_json"),
    (b'{"type": "Feature"}', "import_geojson"),
    (b"[]", "import_geojson"),
])
def test_geojson_that_is_not_a_feature_collection_is_refused(document, code):
    with pytest.raises(ValidationError) as error:
        read_geojson(document)
    assert error.value.code == code


def test_row_shape_errors_are_per_row(session):
    data = ("device_id,name,kind,lon,lat\n"
            "35060001001325900001,a,security,117.2405\n"
            "35060001001325900002,b,security,117.2405,23.8405\n"
            ",c,security,117.2405,23.8405\n").encode()
    report = import_cameras(session, records=read_csv(data), region_prefix=REGION)
    assert [(row, error.code) for row, _d, error in report.errors] == [(2, "import_row_cells"),
                                                                       (4, "import_value_missing")]
    document = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"device_id": "35060001001325900001", "name": "a", "kind": "grid"},
         "geometry": {"type": "LineString", "coordinates": [[117.24, 23.84], [117.25, 23.85]]}},
        "not a feature",
        {"type": "Feature", "properties": None, "geometry": {"type": "Point", "coordinates": [117.24, 23.84]}},
    ]}
    report = import_cameras(session, records=read_geojson(document), region_prefix=REGION)
    assert [(row, error.code) for row, _d, error in report.errors] == [
        (1, "import_point"), (2, "import_feature"), (3, "import_value_missing")]


def test_gb18030_csv_from_a_chinese_spreadsheet_is_read():
    data = "device_id,name,kind,lon,lat\n35060001001325900001,东门,security,117.2405,23.8405\n".encode("gb18030")
    assert read_csv(data)[0].values["name"] == "东门"


def test_import_api_multipart_all_or_nothing_then_partial(client, session):
    rows, expected = mixed_rows()
    data = csv_bytes(rows, COLUMNS + ("crs",))
    before = counts(session)
    import io

    response = client.post("/api/v1/cameras/import?lang=en",
                           data={"file": (io.BytesIO(data), "cameras.csv")}, content_type="multipart/form-data")
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"]["code"] == "import_rejected"
    assert body["report"]["committed"] is False and body["report"]["failed"] == 11
    assert {e["row"]: e["code"] for e in body["report"]["errors"]} == {i + 2: c for i, c in expected.items()}
    assert "nothing was written" in body["error"]["message"]
    assert counts(session) == before
    response = client.post("/api/v1/cameras/import", data={"file": (io.BytesIO(data), "cameras.csv"), "partial": "1"},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert response.get_json()["report"]["created"] == 241
    assert counts(session)[0] == before[0] + 241


def test_import_api_json_and_csv_bodies(client, session):
    document = geojson_document(new_rows()[:3])
    response = client.post("/api/v1/cameras/import", json=document)
    assert response.status_code == 200 and response.get_json()["report"]["created"] == 3
    response = client.post("/api/v1/cameras/import", json={"rows": new_rows()[:4], "update": False})
    assert response.get_json()["report"]["created"] == 1 and response.get_json()["report"]["unchanged"] == 3
    response = client.post("/api/v1/cameras/import", data=csv_bytes(new_rows()[:5]), content_type="text/csv")
    assert response.get_json()["report"]["unchanged"] == 4
    assert client.post("/api/v1/cameras/import", json={"something": 1}).status_code == 422
    assert client.post("/api/v1/cameras/import", data=b"device_id\n1\n", content_type="text/csv").status_code == 422


def test_export_api(client):
    response = client.get("/api/v1/cameras/export.csv?crs=gcj02")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = response.get_data().decode("utf-8-sig").splitlines()
    assert lines[0] == "device_id,name,kind,police_linked,status,lon,lat,crs,station_code"
    assert len(lines) == 253 and lines[1].endswith(",gcj02,350600001001")
    geojson = client.get("/api/v1/cameras/export.geojson").get_json()
    assert len(geojson["features"]) == 252
    assert client.get("/api/v1/cameras/export.csv?crs=bd09").status_code == 422


def test_cli_import_and_export(app, session, tmp_path):
    runner = app.test_cli_runner()
    rows, expected = mixed_rows()
    path = tmp_path / "mixed.csv"
    path.write_bytes(csv_bytes(rows, COLUMNS + ("crs",)))
    before = counts(session)
    result = runner.invoke(args=["cameras", "import", str(path), "--quiet"])
    assert result.exit_code == 1
    assert "nothing was written" in result.output
    assert f"row 8: {rows[6]['device_id']}: swapped_coordinates" in result.output
    assert counts(session) == before
    result = runner.invoke(args=["cameras", "import", str(path), "--partial"])
    assert result.exit_code == 0, result.output
    assert "252 rows: 241 created, 0 updated, 0 unchanged, 11 failed, 1 converted from GCJ-02" in result.output
    out = tmp_path / "all.geojson"
    result = runner.invoke(args=["cameras", "export", "--format", "geojson", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(json.loads(out.read_text())["features"]) == 252 + 241
    result = runner.invoke(args=["cameras", "import", str(out), "--quiet"])
    assert "493 rows: 0 created, 0 updated, 493 unchanged, 0 failed" in result.output
    result = runner.invoke(args=["cameras", "stats"])
    assert result.exit_code == 0 and "overall" in result.output
    result = runner.invoke(args=["cameras", "coverage", "--radius", "50", "--format", "json"])
    assert json.loads(result.output)["radius_m"] == 50
