"""Property tests of the file importers: camera CSV/GeoJSON (gridsvc.cameras.transfer) and patrol CSV
(gridsvc.patrols.importer). Any file answers with well-formed rows or a clear refusal (the module's own
error, or a per-row error with a code and a message that formats), never another exception; a refused
import writes nothing; an export reads back as the rows it was made from."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from gridsvc.cameras import service as camera_service
from gridsvc.cameras.gbt28181 import CAMERA_TYPES, NETWORKS
from gridsvc.cameras.models import KINDS, STATUSES
from gridsvc.cameras.transfer import (
    EXPORT_COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, Record, _check_record, import_cameras, read_csv, read_file,
    read_geojson, to_csv, to_geojson,
)
from gridsvc.errors import DomainError
from gridsvc.patrols import importer
from gridsvc.patrols.intake import PatrolIntake, normalise_uuid, parse_start_point, parse_task_id, parse_time
from gridsvc.patrols.models import PatrolSession
from tests.cameras.conftest import counts as camera_counts
from tests.reliability.conftest import scaled, table_row_counts
from tests.reliability.test_parser_properties import accepted_or_refused, json_values

REGION = "350600"
SHANGHAI = ZoneInfo("Asia/Shanghai")  # PatrolIntake reads naive CSV times in this zone
PURE = settings(max_examples=scaled(200, 2000), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])
# The database properties run per backend on the seeded data; each example costs a few queries and
# works inside its own savepoint, rolled back at its end, so the function-scoped session is safe to share.
WITH_DB = settings(max_examples=scaled(20, 150), deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                          HealthCheck.data_too_large, HealthCheck.filter_too_much])


def formats_clearly(error) -> None:
    """A refusal the user can read: a code and a message whose params fill it without a KeyError."""
    assert isinstance(error, DomainError), error
    assert error.code and error.message and error.to_dict()["message"]


# --- cells, headers, files --------------------------------------------------------------------

ODD_NUMBERS = ["nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1e400", "1e-400", "１１７.６", "２４．５", "117,6",
               "0x75", "1_17.6", " 117.6 ", "117.6°", "+24.5", "-0", "", " ", "None", "null", "true", "²", "٣"]
device_ids = st.builds(lambda centre, kind, network, serial: f"{REGION}{centre}00{kind}{network}{serial}",
                       st.sampled_from(["01", "02", "14"]), st.sampled_from(sorted(CAMERA_TYPES)),
                       st.sampled_from(sorted(NETWORKS)), st.text(alphabet="0123456789", min_size=6, max_size=6))
near_device_ids = device_ids | st.from_regex(r"[0-9\uff10-\uff19]{18,21}", fullmatch=True) | st.text(max_size=22)
# the seeded zone is 117.24-117.36 E, 23.84-23.92 N: most of these positions lie in a station
zone_lons = st.floats(117.24, 117.36).map(lambda v: f"{v:.6f}")
zone_lats = st.floats(23.84, 23.92).map(lambda v: f"{v:.6f}")
numbers = (zone_lons | zone_lats | st.sampled_from(ODD_NUMBERS) | st.floats().map(repr)
           | st.integers(-10**400, 10**400).map(str))
huge_field = st.integers(131_000, 140_000).map(lambda n: "9" * n)  # beyond the csv module's field limit
common_cells = (st.text(max_size=20) | numbers | near_device_ids
                | st.sampled_from(KINDS + STATUSES + ("1", "0", "是", "gcj02", "WGS-84", "=1+1", "'=SUM(A1)")))
cells = st.integers(0, 19).flatmap(lambda n: huge_field if n == 0 else common_cells)
camera_columns = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
header_names = (st.sampled_from(camera_columns)
                | st.sampled_from(camera_columns).map(lambda name: f" {name.upper()} ")
                | st.text(max_size=8))

names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30).map(str.strip).filter(bool)


@st.composite
def camera_rows(draw):
    """Near-valid camera rows: ids, names, kinds and positions in the seeded zone, some cells replaced by odd ones."""
    row = {"device_id": draw(device_ids), "name": draw(names | st.text(min_size=1, max_size=12)),
           "kind": draw(st.sampled_from(KINDS)), "lon": draw(zone_lons), "lat": draw(zone_lats),
           "police_linked": draw(st.sampled_from(["1", "0", "是", "否", ""])),
           "status": draw(st.sampled_from(STATUSES + ("",))), "crs": draw(st.sampled_from(["", "wgs84", "GCJ-02"]))}
    if draw(st.integers(0, 4)) == 0:
        row["lon"], row["lat"] = row["lat"], row["lon"]  # swapped
    for column in draw(st.lists(st.sampled_from(camera_columns), max_size=draw(st.sampled_from([0, 0, 1, 3])))):
        row[column] = draw(cells)
    return row


def encode(text: str, encoding: str) -> bytes:
    """Text as a file in one of the encodings people send (GBK loses what it cannot hold)."""
    if encoding == "gbk":
        return text.encode("gbk", errors="replace")
    return text.encode(encoding, errors="surrogatepass")


encodings = st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])


@st.composite
def csv_files(draw, header_strategy, row_strategy, columns, clean=False):
    """CSV bytes: a random or proper header, rows with missing or extra cells, maybe NUL bytes or raw garbage.

    `clean`: always the proper header, readable text and whole rows (their cells may still be odd)."""
    if not clean and draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    header = list(columns) + draw(st.lists(header_strategy, max_size=2))
    if not clean and draw(st.integers(0, 3)) == 0:
        header = draw(st.lists(header_strategy, max_size=10))
    if draw(st.booleans()):
        header = draw(st.permutations(header))
    lines = [header]
    for row in draw(st.lists(row_strategy, max_size=6)):
        cells_of_row = [row.get(name.strip().lower(), "") for name in header]
        if not clean and draw(st.integers(0, 4)) == 0:
            cells_of_row = draw(st.lists(cells, max_size=len(header) + 2))  # missing or extra cells
        lines.append(cells_of_row)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\r\n", "\n", "\r"])))
    writer.writerows(lines)
    text = buffer.getvalue()
    if not clean and draw(st.integers(0, 9)) == 0:
        text = text.replace(",", draw(st.sampled_from(["\x00", '"', ";", "\t"])), 1)
    return encode(text, draw(st.sampled_from(["utf-8", "utf-8-sig", "gbk"]) if clean else encodings))


camera_csv_files = csv_files(header_names, camera_rows(), REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
clean_camera_csv_files = csv_files(header_names, camera_rows(), REQUIRED_COLUMNS + OPTIONAL_COLUMNS, clean=True)

# --- GeoJSON ----------------------------------------------------------------------------------

coordinate_values = (st.floats(117.24, 117.36) | st.floats(23.84, 23.92) | st.floats() | st.integers(-10**400, 10**400)
                     | st.sampled_from(ODD_NUMBERS) | st.booleans() | st.none())


@st.composite
def features(draw):
    """GeoJSON-like features: mostly camera Points, with odd properties, geometries and coordinates."""
    row = draw(camera_rows())
    properties = {key: value for key, value in row.items() if key not in ("lon", "lat") and value != ""}
    if draw(st.booleans()):
        properties.update(draw(st.dictionaries(st.sampled_from(camera_columns), json_values, max_size=3)))
    coordinates = draw(st.lists(coordinate_values, min_size=0, max_size=4)) if draw(st.booleans()) \
        else [float(row["lon"]) if _is_number(row["lon"]) else row["lon"],
              float(row["lat"]) if _is_number(row["lat"]) else row["lat"]]
    geometry = {"type": draw(st.sampled_from(["Point", "Point", "LineString", "point"])), "coordinates": coordinates}
    feature = {"type": draw(st.sampled_from(["Feature", "Feature", "feature"])),
               "properties": properties if draw(st.integers(0, 9)) else draw(json_values),
               "geometry": geometry if draw(st.integers(0, 9)) else draw(json_values)}
    if draw(st.booleans()):
        feature["id"] = properties.pop("device_id", None)
    return feature if draw(st.integers(0, 19)) else draw(json_values)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


collections = st.fixed_dictionaries({"type": st.just("FeatureCollection"),
                                     "features": st.lists(features(), max_size=6)})
geojson_documents = collections | json_values


def geojson_bytes(document, encoding: str) -> bytes:
    return encode(json.dumps(document, ensure_ascii=False), encoding)


# --- camera files: reading and checking rows (no database) -------------------------------------

def assert_well_formed_records(records) -> None:
    """Every record has a row number, text keys, and no error or a clear one."""
    assert isinstance(records, list)
    for record in records:
        assert isinstance(record, Record) and isinstance(record.row, int) and record.row >= 1
        assert isinstance(record.values, dict) and all(isinstance(key, str) for key in record.values)
        if record.error is not None:
            formats_clearly(record.error)


def assert_checked_fields(fields) -> None:
    """A row accepted by the checks: a 20-digit camera id of the region, finite numbers, known words."""
    assert len(fields.device_id) == 20 and fields.device_id.isascii() and fields.device_id.isdigit()
    assert fields.device_id.startswith(REGION)
    assert math.isfinite(fields.source_lon) and math.isfinite(fields.source_lat)
    assert fields.name and fields.name == fields.name.strip() and len(fields.name) <= camera_service.NAME_MAX
    assert fields.kind in KINDS and fields.status in STATUSES and isinstance(fields.police_linked, bool)
    assert fields.source_crs in ("wgs84", "gcj02")


def check_records(records, crs: str) -> None:
    assert_well_formed_records(records)
    for record in records:
        if record.error is None:
            fields = accepted_or_refused(_check_record, record, crs=crs, region_prefix=REGION)
            if fields is not None:
                assert_checked_fields(fields[0])


CRS_CHOICES = st.sampled_from(["wgs84", "gcj02"])


@PURE
@given(data=camera_csv_files, crs=CRS_CHOICES)
@example(data=b"device_id,name,kind,lon,lat\r\n35060001001320000001,a,grid," + b"9" * 140_000 + b",24\r\n", crs="wgs84")
@example(data="device_id,name,kind,lon,lat\n35060001001320000001,探头,grid,117.3,23.9\n".encode("gbk"), crs="gcj02")
def test_camera_csv_reader_gives_rows_or_a_clear_refusal(data, crs):
    records = accepted_or_refused(read_csv, data)
    if records is not None:
        check_records(records, crs)
        assert all(record.row >= 2 for record in records)  # the header is line 1


# an integer coordinate beyond float range: check_coordinate raised OverflowError
@PURE
@given(document=geojson_documents, as_text=st.booleans(), encoding=encodings, crs=CRS_CHOICES)
@example(document={"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"device_id": "35060001001320000001", "name": "a", "kind": "grid"},
     "geometry": {"type": "Point", "coordinates": [10**400, 24]}}]}, as_text=True, encoding="utf-8", crs="wgs84")
@example(document={"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"device_id": "35060001001320000001", "name": "a", "kind": "grid"},
     "geometry": {"type": "Point", "coordinates": [-10**400, 24]}}]}, as_text=False, encoding="utf-8", crs="wgs84")
def test_camera_geojson_reader_gives_rows_or_a_clear_refusal(document, as_text, encoding, crs):
    # the API hands read_geojson a parsed JSON object; anything else arrives as a file
    data = document if isinstance(document, dict) and not as_text else geojson_bytes(document, encoding)
    records = accepted_or_refused(read_geojson, data)
    if records is not None:
        check_records(records, crs)


@PURE
@given(data=camera_csv_files | geojson_documents.map(lambda d: geojson_bytes(d, "utf-8")) | st.binary(max_size=200),
       file_format=st.none() | st.sampled_from(["csv", "geojson", "json", "CSV", "xlsx", ""]),
       filename=st.none() | st.sampled_from(["cameras.csv", "cameras.GEOJSON", "c.json", "c.txt", ""]))
def test_camera_file_reader_picks_a_format_and_gives_rows_or_a_clear_refusal(data, file_format, filename):
    records = accepted_or_refused(read_file, data, file_format=file_format, filename=filename)
    if records is not None:
        check_records(records, "wgs84")


# --- camera export round trip (no database) ----------------------------------------------------

export_rows_strategy = st.lists(st.fixed_dictionaries({
    "device_id": device_ids,
    "name": names | st.sampled_from(["=1+1", "'=1", "''+x", "-5", "@SUM(A1)", "'", "监控,\"甲\""]),
    "kind": st.sampled_from(KINDS), "police_linked": st.booleans(), "status": st.sampled_from(STATUSES),
    "lon": st.floats(-180, 180).map(lambda v: round(v, 7)), "lat": st.floats(-90, 90).map(lambda v: round(v, 7)),
    "crs": CRS_CHOICES, "station_code": st.text(alphabet="0123456789", min_size=12, max_size=12),
    "retired_at": st.none(),
}), max_size=8, unique_by=lambda row: row["device_id"])


def _as_read_back(row: dict) -> tuple:
    return (row["device_id"], row["name"], row["kind"], row["police_linked"], row["status"], row["crs"],
            row["lon"], row["lat"])


# a name starting with ' and a formula character was exported as it is and read back without the '
@PURE
@given(rows=export_rows_strategy, file_format=st.sampled_from(["csv", "geojson"]))
@example(rows=[{"device_id": "35060001001320000001", "name": "'=1", "kind": "grid", "police_linked": True,
                "status": "online", "lon": 117.3, "lat": 23.9, "crs": "wgs84", "station_code": "350600000001",
                "retired_at": None}], file_format="csv")
def test_an_export_reads_back_as_the_same_rows(rows, file_format):
    if file_format == "csv":
        data = to_csv(rows)
        assert read_file(data) == read_csv(data)  # no hint needed
    else:
        data = json.dumps(to_geojson(rows), ensure_ascii=False).encode("utf-8")
    records = read_file(data, file_format=file_format)
    assert [record.row for record in records] == ([n + 2 for n in range(len(rows))] if file_format == "csv"
                                                  else [n + 1 for n in range(len(rows))])
    read_back = []
    for record in records:
        assert record.error is None
        fields, given = _check_record(record, crs="wgs84", region_prefix=REGION)
        assert given == set(OPTIONAL_COLUMNS)
        read_back.append((fields.device_id, fields.name, fields.kind, fields.police_linked, fields.status,
                          fields.source_crs, fields.source_lon, fields.source_lat))
    assert read_back == [_as_read_back(row) for row in rows]
    assert all(set(record.values) <= set(EXPORT_COLUMNS) for record in records)


# --- camera import on the database ------------------------------------------------------------

@WITH_DB
@given(data=clean_camera_csv_files | camera_csv_files | collections.map(lambda d: geojson_bytes(d, "utf-8")),
       crs=CRS_CHOICES, partial=st.booleans(), update=st.booleans())
def test_a_camera_import_reports_every_row_and_a_refused_one_writes_nothing(app, session, data, crs, partial, update):
    from flask_babel import gettext

    records = accepted_or_refused(read_file, data)
    if records is None:
        event("cameras: file refused")
        return
    savepoint = session.begin_nested()
    try:
        tables_before, before = table_row_counts(session.connection()), camera_counts(session)
        report = accepted_or_refused(import_cameras, session, records=records, crs=crs, partial=partial,
                                     update=update, region_prefix=REGION)
        assert report is not None  # the crs is valid: the import itself never refuses, it reports rows
        cameras, history = camera_counts(session)
        assert report.valid + len(report.errors) == report.rows == len(records)
        for _row, _device_id, error in report.errors:
            formats_clearly(error)
            event("camera row error " + error.code)
        with app.test_request_context("/?lang=zh"):
            assert len(report.to_dict(gettext)["errors"]) == len(report.errors)  # the translations format too
        event(f"cameras: {'committed' if report.committed else 'refused'}, created {min(report.created, 3)}+")
        if report.committed:
            assert cameras == before[0] + report.created and history >= before[1] + report.created
        else:
            assert report.errors and not partial
            assert table_row_counts(session.connection()) == tables_before  # nothing written at all
    finally:
        savepoint.rollback()


# --- patrol CSV import ------------------------------------------------------------------------

PATROL_COLUMNS = ("client_uuid", "kind", "volunteer", "app_account_id", "start", "started_at", "end", "ended_at",
                  "task_id", "start_lon", "start_lat", "task")
odd_times = (st.sampled_from(["2020-05-01T08:30:00+08:00", "2020-05-01 09:30", "0001-01-01T00:00",
                              "9999-12-31T23:59:59", "2020-02-30T00:00", "２０２０-05-01T08:30", "now", ""])
             | st.text(max_size=70))
patrol_starts = st.datetimes(min_value=dt.datetime(2019, 12, 1), max_value=dt.datetime(2020, 12, 31))
patrol_lengths = st.timedeltas(min_value=dt.timedelta(minutes=-10), max_value=dt.timedelta(hours=30))


@st.composite
def patrol_rows(draw):
    """Near-valid patrol rows, some cells replaced by odd ones."""
    start = draw(patrol_starts)
    row = {"client_uuid": draw(st.just("") | st.uuids().map(str)),
           "kind": draw(st.sampled_from(["individual", "individual", "group", "Individual"])),
           "volunteer": draw(st.integers(1, 40).map(lambda n: f"XLXQ{n:06d}")
                             | st.sampled_from(["1", "１", "²", "999999999", "nobody", ""])),
           "start": start.isoformat(timespec=draw(st.sampled_from(["seconds", "minutes"]))),
           "end": (start + draw(patrol_lengths)).isoformat(timespec="seconds"),
           "task_id": draw(st.sampled_from(["", "", "", "", "1", "²", "١", "99999999999", "-1", "x"])),
           "start_lon": "", "start_lat": ""}
    if draw(st.booleans()):
        row["start_lon"], row["start_lat"] = draw(zone_lons), draw(zone_lats)
    for column in draw(st.lists(st.sampled_from(sorted(row)), max_size=draw(st.sampled_from([0, 0, 1, 3])))):
        row[column] = draw(odd_times | cells) if column in ("start", "end") else draw(cells)
    return row


patrol_header_names = (st.sampled_from(PATROL_COLUMNS) | st.sampled_from(PATROL_COLUMNS).map(lambda n: f" {n.upper()}")
                       | st.text(max_size=8))
PATROL_HEADER = importer.REQUIRED_COLUMNS + ("client_uuid", "task_id", "start_lon", "start_lat")
patrol_csv_files = csv_files(patrol_header_names, patrol_rows(), PATROL_HEADER)
clean_patrol_csv_files = csv_files(patrol_header_names, patrol_rows(), PATROL_HEADER, clean=True)


def read_patrol_csv(data: bytes):
    """importer.read_csv of the bytes (it reads a path): (rows, ignored), or None when refused clearly."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "patrols.csv"
        path.write_bytes(data)
        try:
            return importer.read_csv(path)
        except importer.ImportFormatError as refusal:
            assert str(refusal)
            return None


@PURE
@given(data=patrol_csv_files)
# a field beyond the csv module's limit: csv.Error escaped importer.read_csv
@example(data=b"kind,volunteer,start,end\r\nindividual,XLXQ000001," + b"9" * 140_000 + b",x\r\n")
# task_id '²' is isdigit() but not int(): parse_task_id raised ValueError
@example(data=b"kind,volunteer,start,end,task_id\r\n"
              b"individual,XLXQ000001,2020-05-01T08:30,2020-05-01T09:30,\xc2\xb2\r\n")
def test_patrol_csv_reader_gives_rows_or_a_clear_refusal(data):
    read = read_patrol_csv(data)
    if read is None:
        return
    rows, ignored = read
    assert all(isinstance(name, str) for name in ignored)
    for row in rows:
        assert set(row) <= set(importer.CSV_COLUMNS) | {"__extra__"}
        assert all(value and value == value.strip() for key, value in row.items() if key != "__extra__")
        payload = accepted_or_refused(importer.row_payload, row)
        if payload is None:
            continue
        if "client_uuid" not in row:  # derived from the row's content
            assert normalise_uuid(payload["client_uuid"]) == payload["client_uuid"]
        # the checks PatrolIntake.patrol applies to the payload before it looks anything up
        accepted_or_refused(normalise_uuid, payload["client_uuid"])
        for which in ("start", "end"):
            moment = accepted_or_refused(parse_time, payload[which], which=which, local_tz=SHANGHAI)
            assert moment is None or moment.utcoffset().total_seconds() == 0
        task_id = accepted_or_refused(parse_task_id, payload["task_id"])
        assert task_id is None or 0 < task_id < 2**31
        point = accepted_or_refused(parse_start_point, payload.get("start_point"))
        assert point is None or all(math.isfinite(value) for value in point)


@WITH_DB
@given(data=clean_patrol_csv_files | patrol_csv_files)
# volunteer '²' is isdigit() but not int(): resolve_patroller raised ValueError
@example(data=b"kind,volunteer,start,end\r\nindividual,\xc2\xb2,2020-05-01T08:30,2020-05-01T09:30\r\n")
def test_a_patrol_import_reports_every_row_and_a_refused_row_writes_nothing(session, data):
    read = read_patrol_csv(data)
    if read is None:
        event("patrol file refused")
        return
    rows, _ignored = read
    savepoint = session.begin_nested()
    try:
        tables_before = table_row_counts(session.connection())
        before = session.scalar(sa.select(sa.func.count()).select_from(PatrolSession))
        results = importer.import_rows(PatrolIntake(session), rows)
        after = session.scalar(sa.select(sa.func.count()).select_from(PatrolSession))
        assert [result.number for result in results] == list(range(1, len(rows) + 1))
        for result in results:
            assert result.status in ("created", "existing", "error")
            if result.status == "error":
                event("patrol row error " + result.code)
                assert result.code and result.message and result.session_id is None
            else:
                assert result.session_id is not None and result.client_uuid
        assert after - before == sum(result.status == "created" for result in results)
        if all(result.status == "error" for result in results):
            assert table_row_counts(session.connection()) == tables_before  # refused rows wrote nothing
        event(f"patrol rows created: {min(after - before, 2)}+ of {min(len(rows), 2)}+")
    finally:
        savepoint.rollback()

