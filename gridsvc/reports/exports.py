"""Completion tables as CSV and XLSX. Pure formatting of completion()'s figures: no queries, no Flask.

Every number written is the very value the API emits (hours and percent already rounded half-up
to 0.01 by the service), so the exports agree with the API by construction. Headers are English
msgids passed through `translate` (gettext; Chinese by default). The GeoJSON export is a JSON
body: gridsvc.reports.schemas.station_features shapes it, beside its schema.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Callable

from gridsvc.i18n import N_
from gridsvc.patrols.models import KINDS
from gridsvc.spreadsheets import escape_formula

TABLES = ("kind", "station", "volunteer", "month")
HOURS_FORMAT = "0.00"




KIND_LABELS = {"group": N_("Group patrol"), "individual": N_("Individual patrol")}
SHEET_TITLES = {"kind": N_("By kind"), "station": N_("By station"), "volunteer": N_("By volunteer"),
                "month": N_("By month")}
# Per-kind column headers, spelled out so each is one translatable message.
KIND_HEADERS = {
    "group": {
        "hours": N_("Group patrol (h)"),
        "percent": N_("Group patrol completion (%)"),
        "verified_hours": N_("Group patrol verified (h)"),
        "verified_percent": N_("Group patrol verified completion (%)"),
    },
    "individual": {
        "hours": N_("Individual patrol (h)"),
        "percent": N_("Individual patrol completion (%)"),
        "verified_hours": N_("Individual patrol verified (h)"),
        "verified_percent": N_("Individual patrol verified completion (%)"),
    },
}


@dataclass(frozen=True)
class Column:
    """One column: header msgid, how to read the value from a row, and its kind of value."""

    header: str
    value: Callable[[dict], object]
    kind: str  # "text", "int", "hours" (0.00 h) or "percent" (0.00, the number 182.09 for 182.09 %)


def _kind_columns(kinds) -> list[Column]:
    columns = []
    for kind in kinds:
        headers = KIND_HEADERS[kind]
        columns += [
            Column(headers["hours"], lambda row, k=kind: row["claimed"][k]["hours"], "hours"),
            Column(headers["percent"], lambda row, k=kind: row["claimed"][k]["percent"], "percent"),
            Column(headers["verified_hours"], lambda row, k=kind: row["verified"][k]["hours"], "hours"),
            Column(headers["verified_percent"], lambda row, k=kind: row["verified"][k]["percent"], "percent"),
        ]
    return columns


def columns(table: str, kinds=KINDS) -> list[Column]:
    """The columns of a table."""
    target = Column(N_("Target (hours)"), lambda row: row["target_hours"], "hours")
    volunteers = Column(N_("Number of volunteers"), lambda row: row["volunteers"], "int")
    if table == "kind":
        return [
            Column(N_("Kind"), lambda row: row["kind_label"], "text"),
            volunteers,
            target,
            Column(N_("Claimed (hours)"), lambda row: row["claimed"]["hours"], "hours"),
            Column(N_("Completion (%)"), lambda row: row["claimed"]["percent"], "percent"),
            Column(N_("Verified (hours)"), lambda row: row["verified"]["hours"], "hours"),
            Column(N_("Verified completion (%)"), lambda row: row["verified"]["percent"], "percent"),
            Column(N_("Number of patrols"), lambda row: row["claimed"]["sessions"], "int"),
            Column(N_("Verified patrols"), lambda row: row["verified"]["sessions_verified"], "int"),
        ]
    if table == "station":
        return [
            Column(N_("Station code"), lambda row: row["station_code"], "text"),
            Column(N_("Station"), lambda row: row["station_name"], "text"),
            volunteers, target, *_kind_columns(kinds),
        ]
    if table == "volunteer":
        return [
            Column(N_("Volunteer account"), lambda row: row["app_account_id"], "text"),
            Column(N_("Name"), lambda row: row["name"], "text"),
            Column(N_("Station code"), lambda row: row["station_code"], "text"),
            Column(N_("Station"), lambda row: row["station_name"], "text"),
            Column(N_("Active from"), lambda row: row["active_from"], "text"),
            Column(N_("Active to"), lambda row: row["active_to"], "text"),
            target, *_kind_columns(kinds),
        ]
    if table == "month":
        return [
            Column(N_("Month"), lambda row: row["month"], "text"),
            Column(N_("From"), lambda row: row["from"], "text"),
            Column(N_("To"), lambda row: row["to"], "text"),
            volunteers, target, *_kind_columns(kinds),
        ]
    raise ValueError(f"unknown table {table!r}")


def rows(report: dict, table: str, translate: Callable[[str], str] = str) -> list[dict]:
    """The report's rows of a table (the kind table is built from the totals)."""
    if table == "kind":
        return [
            {"kind": kind, "kind_label": translate(KIND_LABELS[kind]), "volunteers": report["volunteers"],
             "target_hours": report["target_hours"], "claimed": report["claimed"][kind],
             "verified": report["verified"][kind]}
            for kind in report["kinds"]
        ]
    return report[f"by_{table}"]


def table_values(report: dict, table: str, translate: Callable[[str], str] = str) -> tuple[list[str], list[list]]:
    """Translated headers and the values of each row, None where there is no figure."""
    cols = columns(table, report["kinds"])
    return [translate(c.header) for c in cols], [[c.value(row) for c in cols] for row in rows(report, table, translate)]


def _csv_cell(value, kind: str) -> str:
    if value is None:
        return ""
    if kind in ("hours", "percent"):
        return f"{value:.2f}"
    return escape_formula(str(value)) if kind == "text" else str(value)


def write_csv(report: dict, *, table: str, translate: Callable[[str], str] = str) -> bytes:
    """One table as CSV: UTF-8 with a BOM (so Excel reads the Chinese headers), numbers with two decimals."""
    cols = columns(table, report["kinds"])
    headers, values = table_values(report, table, translate)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    for row in values:
        writer.writerow([_csv_cell(value, column.kind) for value, column in zip(row, cols)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def write_xlsx(report: dict, *, translate: Callable[[str], str] = str) -> bytes:
    """All four tables as one workbook, a sheet per table, numbers as numeric cells (0.00 format)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    # Write-only mode streams rows: a few times faster for the 647-row volunteer sheet.
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)

    def header_row(sheet, headers):
        cells = []
        for text in headers:
            cell = WriteOnlyCell(sheet, value=text)
            cell.font = bold
            cells.append(cell)
        return cells

    for table in TABLES:
        sheet = workbook.create_sheet(translate(SHEET_TITLES[table])[:31])
        cols = columns(table, report["kinds"])
        headers, values = table_values(report, table, translate)
        for index, header in enumerate(headers, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = max(10, min(40, 2 * len(header) + 2))
        sheet.freeze_panes = "A2"
        sheet.append(header_row(sheet, headers))
        for row in values:
            cells = []
            for value, column in zip(row, cols):
                cell = WriteOnlyCell(sheet, value=value)
                if column.kind in ("hours", "percent"):
                    cell.number_format = HOURS_FORMAT
                elif column.kind == "text" and value is not None:
                    # openpyxl stores a text starting with "=" as a formula; a name is always a string
                    # cell, shown exactly as stored and never run.
                    cell.value, cell.data_type = str(value), "s"
                cells.append(cell)
            sheet.append(cells)
    about = workbook.create_sheet(translate(N_("About"))[:31])
    about.column_dimensions["A"].width = 48
    for label, value in (
        (N_("Period"), report["period"]), (N_("From"), report["from"]), (N_("To"), report["to"]),
        (N_("Station"), report["station"] or translate(N_("All stations"))),
        (N_("Number of volunteers"), report["volunteers"]), (N_("Target (hours)"), report["target_hours"]),
        (N_("Quota per volunteer per year when no target is set (hours)"), report["quota_hours"]),
        (N_("Number of patrols"), sum(report["claimed"][kind]["sessions"] for kind in report["kinds"])),
        (N_("Verified patrols"), sum(report["verified"][kind]["sessions_verified"] for kind in report["kinds"])),
    ):
        about.append([translate(label), value])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def _sort_value(row: dict, key: str):
    if key in ("code", "name"):
        return row[f"station_{key}"] or ""
    if key in ("volunteers", "target"):
        return row["volunteers"] if key == "volunteers" else row["target_seconds"]
    kind, _, measure = key.partition("_")
    block = row["verified" if measure.startswith("verified") else "claimed"].get(kind)
    if block is None:
        return None
    return block["percent" if measure.endswith("percent") else "seconds"]


STATION_SORT_KEYS = ("code", "name", "volunteers", "target") + tuple(
    f"{kind}_{measure}" for kind in KINDS for measure in ("hours", "percent", "verified_hours", "verified_percent")
)


def sort_stations(station_rows: list[dict], *, key: str = "code", descending: bool = False) -> list[dict]:
    """Station rows sorted by a column key (see STATION_SORT_KEYS); rows without a figure go last."""
    if key not in STATION_SORT_KEYS:
        key = "code"
    present = [row for row in station_rows if _sort_value(row, key) is not None]
    missing = [row for row in station_rows if _sort_value(row, key) is None]
    return sorted(present, key=lambda row: (_sort_value(row, key), row["station_code"]), reverse=descending) + missing


def search_volunteers(volunteer_rows: list[dict], *, query: str = "") -> list[dict]:
    """Volunteer rows whose name, account or station contains the query (case-insensitive), order kept."""
    needle = (query or "").strip().casefold()
    if not needle:
        return volunteer_rows
    return [row for row in volunteer_rows
            if any(needle in (row[field] or "").casefold()
                   for field in ("name", "app_account_id", "station_code", "station_name"))]
