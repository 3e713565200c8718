"""Bulk imports of patrols: a CSV export, or a folder of GPX files. No Flask, no click.

Each row (or file) is checked and logged inside its own savepoint, so one bad row neither stops
the others from being checked nor leaves anything half-written; the caller decides whether the
transaction commits (all-or-nothing by default, or only the good rows).
The CSV format is documented in README.md ("Patrol CSV import").
"""
from __future__ import annotations

import csv
import hashlib
import io
import uuid as uuid_module
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from gridsvc.errors import DomainError, ValidationError
from gridsvc.patrols.intake import PatrolIntake, start_point_from_text
from gridsvc.patrols.track import TrackError
from gridsvc.people.service import resolve_patroller

# Column names, and the other names accepted for them (the seed's export uses app_account_id etc.).
CSV_COLUMNS = {
    "client_uuid": (),
    "kind": (),
    "volunteer": ("app_account_id", "patroller_id"),
    "start": ("started_at",),
    "end": ("ended_at",),
    "task_id": (),
    "start_lon": (),
    "start_lat": (),
}
REQUIRED_COLUMNS = ("kind", "volunteer", "start", "end")
# Rows without a client_uuid get one derived from their content: importing a file twice adds nothing.
IMPORT_NAMESPACE = uuid_module.UUID("0c6e2f5a-7d1b-4f3e-8a2c-9b4d1e6f3a70")
MAX_CSV_BYTES = 200 * 1024 * 1024


@dataclass
class ImportResult:
    """The outcome of one CSV row or GPX file."""

    number: int  # data row (1 = first row after the header) or file number
    where: str  # "line 2" or the file name
    status: str  # created | existing | error
    client_uuid: str | None = None
    session_id: int | None = None
    code: str | None = None
    message: str | None = None


class ImportFormatError(ValueError):
    """The file as a whole cannot be read (encoding, header)."""


def _message(error: DomainError, intake) -> str:
    """The refusal in English, times in the display zone (DISPLAY_TIMEZONE) as people read them."""
    return error.to_dict(tz=intake.settings.local_timezone)["message"]


def read_csv(path: Path) -> tuple[list[dict], list[str]]:
    """(rows keyed by canonical column name, ignored column names) of a CSV export.

    UTF-8 with or without BOM, or GB18030 (Chinese spreadsheet exports).
    """
    data = Path(path).read_bytes()
    if len(data) > MAX_CSV_BYTES:
        raise ImportFormatError(f"{path} is larger than {MAX_CSV_BYTES} bytes")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ImportFormatError(f"{path} is neither UTF-8 nor GB18030 text")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _read_rows(reader, path)
    except csv.Error as error:  # e.g. a field beyond the csv module's size limit
        raise ImportFormatError(f"{path}: the CSV cannot be read: {error}") from None


def _read_rows(reader: csv.DictReader, path: Path) -> tuple[list[dict], list[str]]:
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    canonical = {}
    for name in header:
        for column, aliases in CSV_COLUMNS.items():
            if name == column or name in aliases:
                canonical[name] = column
    ignored = [name for name in header if name not in canonical]
    missing = [column for column in REQUIRED_COLUMNS if column not in canonical.values()]
    if missing:
        raise ImportFormatError(f"{path}: missing column(s) {', '.join(missing)}; the header is {', '.join(header)}")
    rows = []
    for raw in reader:
        row = {}
        for name, value in raw.items():
            if name is None:  # more cells than header columns
                row["__extra__"] = value
                continue
            column = canonical.get(name.strip().lower())
            if column and (value or "").strip():
                row[column] = value.strip()
        rows.append(row)
    return rows, ignored


def row_payload(row: dict) -> dict:
    """A CSV row as an intake payload; a missing client_uuid is derived from the row's content."""
    if row.get("__extra__"):
        raise ValidationError("csv_extra_cells", "The row has more cells than the header has columns")
    payload = {key: row.get(key) for key in ("kind", "volunteer", "start", "end", "task_id")}
    if row.get("start_lon") or row.get("start_lat"):
        payload["start_point"] = start_point_from_text(row.get("start_lon", ""), row.get("start_lat", ""))
    canonical = "|".join(f"{key}={row.get(key, '')}" for key in sorted(CSV_COLUMNS) if key != "client_uuid")
    payload["client_uuid"] = row.get("client_uuid") or str(uuid_module.uuid5(IMPORT_NAMESPACE, canonical))
    return payload


def import_rows(
    intake: PatrolIntake, rows: Iterable[dict], *, progress: Callable[[int], None] | None = None
) -> list[ImportResult]:
    """Log each CSV row in its own savepoint, in the file's order; returns one result per row."""
    rows = list(rows)
    results = []
    for outcome in intake.log_many(rows, source="import", read=row_payload, naive_times_local=True,
                                   in_given_order=True, progress=progress):
        number, where = outcome.index + 1, f"line {outcome.index + 2}"
        if outcome.error is not None:
            read = outcome.payload if outcome.payload is not None else rows[outcome.index]
            results.append(ImportResult(number, where, "error", read.get("client_uuid"), code=outcome.error.code,
                                        message=_message(outcome.error, intake)))
        else:
            results.append(ImportResult(number, where, "created" if outcome.created else "existing",
                                        outcome.patrol.client_uuid, session_id=outcome.patrol.id))
    return results


def gpx_client_uuid(data: bytes, *, patroller_id: int, kind: str, task_id: int | None) -> str:
    """The same file for the same person and kind always gets the same id, so re-imports add nothing."""
    content = hashlib.sha256(data).hexdigest()
    return str(uuid_module.uuid5(IMPORT_NAMESPACE, f"gpx:{content}:{patroller_id}:{kind}:{task_id}"))


def import_gpx_files(
    intake: PatrolIntake,
    paths: Iterable[Path],
    *,
    volunteer,
    kind: str = "individual",
    task_id: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[ImportResult]:
    """Log one session per GPX file (times from the track) for one patroller; one result per file."""
    patroller = resolve_patroller(intake.session, volunteer)
    results = []
    for number, path in enumerate(paths, start=1):
        client_uuid = None
        try:
            size = Path(path).stat().st_size
            if size > intake.settings.max_track_bytes:  # refuse before reading a huge file into memory
                raise TrackError("track_too_large", size=size, max_bytes=intake.settings.max_track_bytes)
            data = Path(path).read_bytes()
            client_uuid = gpx_client_uuid(data, patroller_id=patroller.id, kind=kind, task_id=task_id)
            checked = intake.file_patrol(client_uuid=client_uuid, kind=kind, patroller_id=patroller.id,
                                         task_id=task_id, track=intake.gpx_track(data))
            with intake.session.begin_nested():
                patrol, created = intake.log(checked, source="gpx")
        except DomainError as error:
            results.append(ImportResult(number, Path(path).name, "error", client_uuid, code=error.code,
                                        message=_message(error, intake)))
        else:
            results.append(ImportResult(number, Path(path).name, "created" if created else "existing",
                                        patrol.client_uuid, session_id=patrol.id))
        if progress:
            progress(1)
    return results


def write_report(results: list[ImportResult], path: Path) -> None:
    """The per-row outcome as CSV (number, where, status, client_uuid, session_id, code, message)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["number", "where", "status", "client_uuid", "session_id", "code", "message"])
        for result in results:
            writer.writerow([result.number, result.where, result.status, result.client_uuid or "",
                             result.session_id or "", result.code or "", result.message or ""])
