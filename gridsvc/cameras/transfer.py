"""Camera import and export: CSV and GeoJSON, WGS-84 or GCJ-02, all-or-nothing by default.

Import rules (also in README.md):
- every row is checked first (id, fields, coordinates, station, duplicates); with any error and
  without `partial`, nothing is written and the report lists each bad row;
- a row for a registered device id that matches the stored camera (position within 5 cm) is
  "unchanged": importing the same file again changes nothing. A row that differs is the error
  camera_duplicate, unless `update` is given, which applies the differences (with history);
- optional columns that are absent or empty (police_linked, status, crs) are not compared for
  registered cameras and default to linked / online / the file's system for new ones;
- positions are converted from GCJ-02 when the file (or a row's crs column) says so; the
  position as given is recorded with the camera.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridsvc.apidoc import BOOLEAN, COUNT, DATE_TIME, INTEGER, STRING, array, nullable, obj
from gridsvc.cameras import service
from gridsvc.cameras.models import CRS_CODES, Camera
from gridsvc.errors import ConflictError, DomainError, ValidationError
from gridsvc.grids.models import Grid
from gridsvc.spreadsheets import escape_formula, unescape_formula

REQUIRED_COLUMNS = ("device_id", "name", "kind", "lon", "lat")
OPTIONAL_COLUMNS = ("police_linked", "status", "crs")
EXPORT_COLUMNS = ("device_id", "name", "kind", "police_linked", "status", "lon", "lat", "crs", "station_code",
                  "retired_at")
MAX_IMPORT_ROWS = 100_000
FLUSH_EVERY = 500

Progress = Callable[[str, int, int], None]


@dataclass
class Record:
    """One row of an import file: its number (CSV line, or GeoJSON feature from 1) and raw values."""

    row: int
    values: dict
    error: DomainError | None = None


_ROW_ERROR = obj({
    "row": {**INTEGER, "description": "the CSV line (the header is line 1), or the GeoJSON feature or JSON row from 1"},
    "device_id": {**nullable(STRING), "description": "the row's device id, as given, when it is text"},
    "code": {**STRING, "description": "stable machine-readable code"},
    "message": STRING,
    "params": {"type": "object", "additionalProperties": {}, "description": "the values the message names"},
}, required=["row", "device_id", "code", "message", "params"])
IMPORT_REPORT = obj({
    "rows": {**COUNT, "description": "rows read"}, "valid": COUNT, "created": COUNT, "updated": COUNT,
    "unchanged": {**COUNT, "description": "registered cameras the row matches (position within 5 cm)"},
    "failed": {**COUNT, "description": "rows in errors"}, "converted_from_gcj02": COUNT,
    "committed": {**BOOLEAN, "description": "whether anything was written"},
    "mode": {"type": "string", "enum": ["all_or_nothing", "partial"]}, "update": BOOLEAN,
    "crs": {"type": "string", "enum": list(CRS_CODES)},
    "errors": array(_ROW_ERROR, description="by row"),
}, required=["rows", "valid", "created", "updated", "unchanged", "failed", "converted_from_gcj02", "committed",
             "mode", "update", "crs", "errors"])


@dataclass
class ImportReport:
    """What an import did, or would have done, row by row."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    converted: int = 0
    valid: int = 0
    committed: bool = False
    partial: bool = False
    update: bool = False
    crs: str = "wgs84"
    errors: list = field(default_factory=list)  # (row, device_id, DomainError)

    def to_dict(self, translate=None) -> dict:
        """JSON-ready form; translate is gettext (None: English)."""
        return {
            "rows": self.rows, "valid": self.valid, "created": self.created, "updated": self.updated,
            "unchanged": self.unchanged, "failed": len(self.errors), "converted_from_gcj02": self.converted,
            "committed": self.committed, "mode": "partial" if self.partial else "all_or_nothing",
            "update": self.update, "crs": self.crs,
            "errors": [{"row": row, "device_id": device_id, **error.to_dict(translate)}
                       for row, device_id, error in self.errors],
        }


# --- reading files -----------------------------------------------------------------------------------

def decode_text(data: bytes) -> str:
    """File bytes as text: UTF-8 (with or without BOM), else GB18030 as Chinese spreadsheet programs save."""
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError("import_encoding", "The file is neither UTF-8 nor GB18030 text")


def read_csv(data: bytes | str) -> list[Record]:
    """Records of a CSV file with a header row: device_id,name,kind,lon,lat[,police_linked,status,crs]."""
    text = decode_text(data)
    if "\x00" in text:
        raise ValidationError("import_not_text", "The file is not a text file")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError("import_empty", "The file has no rows") from None
    except csv.Error as error:
        raise ValidationError("import_csv", "The CSV file cannot be read: %(reason)s", reason=str(error)) from None
    columns = [name.strip().lower() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise ValidationError("import_columns", "The CSV header lacks the columns %(columns)s",
                              columns=", ".join(missing))
    repeated = sorted({name for name in columns if name and columns.count(name) > 1})
    if repeated:
        raise ValidationError("import_columns_repeated", "The CSV header repeats the columns %(columns)s",
                              columns=", ".join(repeated))
    records = []
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, e.g. at the end of a spreadsheet export
            if len(records) >= MAX_IMPORT_ROWS:
                raise ValidationError("import_too_many_rows", "A file may hold at most %(max)s rows",
                                      max=MAX_IMPORT_ROWS)
            record = Record(row=reader.line_num, values={})
            if len(cells) != len(columns):
                record.error = ValidationError("import_row_cells", "The row has %(found)s cells, the header %(expected)s",
                                               found=len(cells), expected=len(columns))
            record.values = {name: cell.strip() for name, cell in zip(columns, cells) if name}
            if "name" in record.values:
                record.values["name"] = unescape_formula(record.values["name"])
            records.append(record)
    except csv.Error as error:
        raise ValidationError("import_csv", "The CSV file cannot be read: %(reason)s", reason=str(error)) from None
    return records


def read_geojson(data: bytes | str | dict) -> list[Record]:
    """Records of a GeoJSON FeatureCollection of Points with properties device_id, name, kind, ..."""
    if isinstance(data, dict):
        document = data
    else:
        try:
            document = json.loads(decode_text(data))
        except ValueError as error:
            raise ValidationError("import_json", "The file is not valid JSON: %(reason)s", reason=str(error)[:200]) \
                from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection" \
            or not isinstance(document.get("features"), list):
        raise ValidationError("import_geojson", "The file must be a GeoJSON FeatureCollection")
    features = document["features"]
    if len(features) > MAX_IMPORT_ROWS:
        raise ValidationError("import_too_many_rows", "A file may hold at most %(max)s rows", max=MAX_IMPORT_ROWS)
    records = []
    for number, feature in enumerate(features, start=1):
        record = Record(row=number, values={})
        records.append(record)
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            record.error = ValidationError("import_feature", "Feature %(row)s is not a GeoJSON Feature", row=number)
            continue
        properties = feature.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        record.values = {key: properties.get(key) for key in REQUIRED_COLUMNS[:3] + OPTIONAL_COLUMNS
                         if properties.get(key) is not None}
        if "device_id" not in record.values and isinstance(feature.get("id"), str):
            record.values["device_id"] = feature["id"]
        geometry = feature.get("geometry")
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if not isinstance(geometry, dict) or geometry.get("type") != "Point" or not isinstance(coordinates, list) \
                or len(coordinates) not in (2, 3):
            record.error = ValidationError("import_point", "A camera's geometry must be a GeoJSON Point")
            continue
        record.values["lon"], record.values["lat"] = coordinates[0], coordinates[1]
    return records


def read_file(data: bytes | str, *, file_format: str | None = None, filename: str | None = None) -> list[Record]:
    """Records of a CSV or GeoJSON file: the format given, else from the file name, else from the content."""
    chosen = (file_format or "").lower() or None
    if chosen is None and filename:
        lowered = filename.lower()
        if lowered.endswith(".csv"):
            chosen = "csv"
        elif lowered.endswith((".geojson", ".json")):
            chosen = "geojson"
    if chosen is None:
        head = decode_text(data[:4096] if isinstance(data, (bytes, str)) else b"").lstrip()
        chosen = "geojson" if head.startswith("{") else "csv"
    if chosen == "csv":
        return read_csv(data)
    if chosen in ("geojson", "json"):
        return read_geojson(data)
    raise ValidationError("import_format", "The file format must be csv or geojson; got %(format)s",
                          format=str(file_format)[:20])


# --- importing --------------------------------------------------------------------------------------

@dataclass
class _Plan:
    record: Record
    fields: service.CameraInput
    given: set  # optional fields the row really gave
    wgs: tuple = None
    station: Grid = None


def _check_record(record: Record, *, crs: str, region_prefix: str | None) -> tuple[service.CameraInput, set]:
    values = record.values
    given = {name for name in OPTIONAL_COLUMNS if values.get(name) not in (None, "")}
    for name in REQUIRED_COLUMNS:
        if values.get(name) in (None, ""):
            raise ValidationError("import_value_missing", "The row has no %(column)s", column=name)
    fields = service.check_camera_input(
        device_id=values["device_id"], name=values["name"], kind=values["kind"], lon=values["lon"], lat=values["lat"],
        police_linked=values["police_linked"] if "police_linked" in given else True,
        status=values["status"] if "status" in given else "online",
        crs=values["crs"] if "crs" in given else crs, region_prefix=region_prefix,
    )
    return fields, given


def _locate_all(session: Session, plans: list[_Plan]) -> None:
    """Station of every plan's position through assign_points (prepared station polygons, in process); a ValidationError when none."""
    from gridsvc.grids.service import assign_points

    positions = []
    for plan in plans:
        lon, lat = plan.fields.source_lon, plan.fields.source_lat
        plan.wgs = service.to_wgs84(lon, lat, plan.fields.source_crs) if service._in_range(lon, lat) else None
        positions.append(plan.wgs or (0.0, 0.0))
    codes = assign_points(session, points=positions) if positions else []
    stations = {grid.code: grid for grid in session.scalars(sa.select(Grid).where(Grid.level == "station"))}
    for plan, code in zip(plans, codes):
        if plan.wgs is not None and code is not None:
            plan.station = stations[code]


def _compare(plan: _Plan, camera: Camera, stored: tuple[float, float]) -> tuple[dict, bool]:
    """The fields of a row that differ from the stored camera, and whether its position does."""
    fields = plan.fields
    wanted = {"name": fields.name, "kind": fields.kind}
    if "police_linked" in plan.given:
        wanted["police_linked"] = fields.police_linked
    if "status" in plan.given:
        wanted["status"] = fields.status
    differing = {key: value for key, value in wanted.items() if getattr(camera, key) != value}
    moved = plan.wgs is None or not service.same_place(stored, plan.wgs)
    return differing, moved


def _crs_mismatch(plan: _Plan, stored: tuple[float, float]) -> ValidationError | None:
    """A row that matches the stored position only when read in the other coordinate system."""
    other = "wgs84" if plan.fields.source_crs == "gcj02" else "gcj02"
    lon, lat = plan.fields.source_lon, plan.fields.source_lat
    if not service._in_range(lon, lat):
        return None
    if service.same_place(stored, service.to_wgs84(lon, lat, other), service.CRS_MISMATCH_TOLERANCE_M):
        return ValidationError(
            "crs_mismatch",
            "Device id %(device_id)s is registered at this position read as %(other)s, not as %(crs)s: "
            "give the coordinate system as %(other)s",
            device_id=plan.fields.device_id, crs=plan.fields.source_crs, other=other,
        )
    return None


def import_cameras(
    session: Session,
    *,
    records: list[Record],
    crs: str = "wgs84",
    partial: bool = False,
    update: bool = False,
    region_prefix: str | None = None,
    actor: str | None = None,
    source_name: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Check every record, then (all valid, or `partial`) create new cameras and, with `update`, change
    registered ones. Returns the report; with errors and not partial nothing at all is written."""
    crs = service.normalise_crs(crs)
    report = ImportReport(rows=len(records), partial=partial, update=update, crs=crs)
    actor = service.actor_name(actor)
    note_prefix = f"import {source_name[:200]}" if source_name else "import"

    def fail(record: Record, error: DomainError, device_id=None) -> None:
        raw = record.values.get("device_id")
        report.errors.append((record.row, device_id or (raw if isinstance(raw, str) else None), error))

    plans: list[_Plan] = []
    first_row_of: dict[str, int] = {}
    for done, record in enumerate(records, start=1):
        if record.error is not None:
            fail(record, record.error)
        else:
            try:
                fields, given = _check_record(record, crs=crs, region_prefix=region_prefix)
            except DomainError as error:
                fail(record, error)
            else:
                if fields.device_id in first_row_of:
                    fail(record, ConflictError("import_duplicate_in_file",
                                               "Device id %(device_id)s appears again (first in row %(first_row)s)",
                                               device_id=fields.device_id, first_row=first_row_of[fields.device_id]),
                         fields.device_id)
                else:
                    first_row_of[fields.device_id] = record.row
                    plans.append(_Plan(record, fields, given))
        if progress and (done % 100 == 0 or done == len(records)):
            progress("check", done, len(records))

    existing = {}
    ids = [plan.fields.device_id for plan in plans]
    for offset in range(0, len(ids), 500):
        chunk = ids[offset:offset + 500]
        rows = session.execute(sa.select(Camera, sa.func.ST_X(Camera.geom), sa.func.ST_Y(Camera.geom))
                               .where(Camera.device_id.in_(chunk))).all()
        existing.update({camera.device_id: (camera, (float(lon), float(lat))) for camera, lon, lat in rows})

    _locate_all(session, plans)
    creates, changes = [], []
    for plan in plans:
        device_id = plan.fields.device_id
        if device_id in existing:
            camera, stored = existing[device_id]
            differing, moved = _compare(plan, camera, stored)
            if not differing and not moved:
                report.unchanged += 1
                report.valid += 1
                continue
            mismatch = _crs_mismatch(plan, stored) if moved else None
            if mismatch is not None:
                fail(plan.record, mismatch, device_id)
            elif camera.retired_at is not None:
                fail(plan.record, ConflictError("camera_retired", "Camera %(device_id)s is retired and cannot be changed",
                                                device_id=device_id), device_id)
            elif moved and plan.station is None:
                fail(plan.record, service.diagnose_unlocated(session, lon=plan.fields.source_lon,
                                                             lat=plan.fields.source_lat, crs=plan.fields.source_crs),
                     device_id)
            elif not update:
                fail(plan.record, ConflictError(
                    "camera_duplicate_differs",
                    "Device id %(device_id)s is already registered with other values (%(fields)s); "
                    "import with update to change them",
                    device_id=device_id, fields=", ".join(sorted(list(differing) + (["location"] if moved else []))),
                ), device_id)
            else:
                changes.append((plan, camera, differing, moved))
                report.valid += 1
            continue
        if plan.station is None:
            fail(plan.record, service.diagnose_unlocated(session, lon=plan.fields.source_lon,
                                                         lat=plan.fields.source_lat, crs=plan.fields.source_crs),
                 device_id)
            continue
        creates.append(plan)
        report.valid += 1

    report.errors.sort(key=lambda item: item[0])
    if report.errors and not partial:
        return report

    to_write = len(creates) + len(changes)
    written = 0
    for plan in creates:
        service.insert_camera(session, fields=plan.fields, lon=plan.wgs[0], lat=plan.wgs[1], station=plan.station,
                              actor=actor, note=f"{note_prefix} row {plan.record.row}", flush=False)
        report.created += 1
        report.converted += plan.fields.source_crs == "gcj02"
        written += 1
        if written % FLUSH_EVERY == 0:
            session.flush()
        if progress and (written % 100 == 0 or written == to_write):
            progress("write", written, to_write)
    for plan, camera, differing, moved in changes:
        location = None
        if moved:
            location = (plan.wgs[0], plan.wgs[1], plan.station, plan.fields.source_crs,
                        (plan.fields.source_lon, plan.fields.source_lat))
            report.converted += plan.fields.source_crs == "gcj02"
        service.apply_changes(session, camera, wanted=differing, location=location, actor=actor,
                              note=f"{note_prefix} row {plan.record.row}", flush=False)
        report.updated += 1
        written += 1
        if progress and (written % 100 == 0 or written == to_write):
            progress("write", written, to_write)
    session.flush()
    report.committed = True
    return report


# --- exporting -------------------------------------------------------------------------------------

def export_rows(session: Session, *, crs: str = "wgs84", include_retired: bool = False, station_ids=None) -> list[dict]:
    """Cameras as flat rows (device id order), positions in `crs` rounded to 7 decimals (about 1 cm)."""
    crs = service.normalise_crs(crs)
    query = (sa.select(Camera, Grid.code, sa.func.ST_X(Camera.geom), sa.func.ST_Y(Camera.geom))
             .join(Grid, Camera.station_id == Grid.id).order_by(Camera.device_id))
    if not include_retired:
        query = query.where(Camera.retired_at.is_(None))
    if station_ids is not None:
        query = query.where(Camera.station_id.in_(sorted(station_ids)))
    rows = []
    for camera, station_code, lon, lat in session.execute(query):
        out_lon, out_lat = service.from_wgs84(float(lon), float(lat), crs)
        rows.append({
            "device_id": camera.device_id, "name": camera.name, "kind": camera.kind,
            "police_linked": camera.police_linked, "status": camera.status,
            "lon": round(out_lon, 7), "lat": round(out_lat, 7), "crs": crs, "station_code": station_code,
            "retired_at": camera.retired_at.isoformat() if camera.retired_at else None,
        })
    return rows


def _csv_cell(column: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.7f}"
    text = str(value)
    return escape_formula(text) if column == "name" else text


def to_csv(rows: list[dict], *, include_retired: bool = False) -> bytes:
    """CSV bytes (UTF-8 with BOM so spreadsheet programs show Chinese) that import_cameras reads back."""
    columns = [c for c in EXPORT_COLUMNS if include_retired or c != "retired_at"]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(column, row[column]) for column in columns])
    return buffer.getvalue().encode("utf-8-sig")


EXPORT_COLLECTION = obj({
    "type": {"const": "FeatureCollection"},
    "features": array(obj({
        "type": {"const": "Feature"},
        "id": service.DEVICE_ID,
        "properties": obj({
            "device_id": service.DEVICE_ID, "name": STRING, "kind": service.KIND, "police_linked": BOOLEAN,
            "status": service.STATUS, "station_code": STRING,
            "crs": {"type": "string", "enum": list(CRS_CODES), "description": "the system of the coordinates"},
            "retired_at": {**nullable(DATE_TIME), "description": "only with include_retired"},
        }, required=["device_id", "name", "kind", "police_linked", "status", "station_code", "crs"]),
        "geometry": service.POINT,
    }, required=["type", "id", "properties", "geometry"])),
}, required=["type", "features"], description="what the import reads back unchanged")


def to_geojson(rows: list[dict], *, include_retired: bool = False) -> dict:
    """A FeatureCollection that import_cameras reads back; a GCJ-02 export says so in each feature's crs."""
    features = []
    for row in rows:
        properties = {key: row[key] for key in ("device_id", "name", "kind", "police_linked", "status", "station_code")}
        properties["crs"] = row["crs"]
        if include_retired:
            properties["retired_at"] = row["retired_at"]
        features.append({"type": "Feature", "id": row["device_id"], "properties": properties,
                         "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]}})
    return {"type": "FeatureCollection", "features": features}
