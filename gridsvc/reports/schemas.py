"""The reports' bodies: what the routes and the CLI read, and every figure they answer, each beside its JSON Schema.

One place per field: a parser or a shaper here, and next to it the schema gridsvc.reports.openapi
puts in the OpenAPI document. completion() shapes its report with report_json() once, so the page,
the API, the CLI and the exports show the very same figures. No Flask: the views hand in the query
arguments, the decoded body and the display zone.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from gridsvc.apidoc import COUNT, DATE, INTEGER, NUMBER, STRING, array, nullable, obj, ref
from gridsvc.errors import ValidationError
from gridsvc.figures import hours, percent
from gridsvc.patrols.models import KINDS
from gridsvc.periods import Period, parse_period
from gridsvc.reports.exports import TABLES as EXPORT_TABLES
from gridsvc.reports.models import Target
from gridsvc.reports.targets import MAX_QUOTA_HOURS
from gridsvc.reports.values import Completion, MonthFigures, StationFigures, Tally, VolunteerFigures

BASES = ("claimed", "verified")
GROUPINGS = ("kind", "station", "volunteer", "month")
# The tables completion() can compute beside the totals (by_station, by_volunteer, by_month).
TABLES = ("station", "volunteer", "month")
EXPORT_FORMATS = ("csv", "xlsx", "geojson")
CENT = Decimal("0.01")


def _number(value: Fraction) -> int | float:
    """An exact seconds value for JSON: an integer when whole, else the nearest float."""
    return value.numerator if value.denominator == 1 else float(value)


SECONDS = {"type": "integer", "minimum": 0, "description": "exact integer seconds"}
HOURS = {"type": "number", "minimum": 0, "description": "hours rounded half-up to 0.01"}
TARGET_SECONDS = {"type": "number", "minimum": 0,
                  "description": "exact seconds owed: an integer when whole, else the nearest float"}
_KIND = {"type": "string", "enum": list(KINDS)}


# --- what the routes read -----------------------------------------------------------------------
# The period itself (?period= or ?from=&to=) is read by gridsvc.web.period_from_request.

_EMPTY = "empty or absent: "
STATION_QUERY = {**STRING, "description": _EMPTY + "every station (a station role: their own); "
                                                   "else only this station's volunteers (code)"}
KIND_QUERY = {"type": "string", "pattern": "^(?:(?:{0})(?:,(?:{0}))*)?$".format("|".join(KINDS)),
              "description": _EMPTY + "both kinds; else one kind, or several separated by commas"}
BASIS_QUERY = {"type": "string", "enum": ["", *BASES],
               "description": "the figures of by_kind and the ranking of volunteers; " + _EMPTY + "claimed"}
GROUP_BY_QUERY = {"type": "string", "enum": ["", *GROUPINGS],
                  "description": "the table to include: by_station (" + _EMPTY + "station), by_volunteer (furthest "
                                 "behind first), by_month, or none (kind)"}
TABLE_QUERY = {"type": "string", "enum": ["", *EXPORT_TABLES],
               "description": "the CSV's table (" + _EMPTY + "station); the other formats ignore it"}
FORMAT_PATH = {"type": "string", "enum": list(EXPORT_FORMATS)}


@dataclass(frozen=True)
class CompletionQuery:
    """What a report request selects beside its period (checked by completion())."""

    station_code: str | None
    kinds: list[str] | None
    basis: str


def parse_station(args: Mapping[str, str]) -> str | None:
    """?station= (empty: absent), for report_station to scope."""
    return args.get("station") or None


def parse_completion_query(args: Mapping[str, str]) -> CompletionQuery:
    """?station=, ?kind= (comma-separated) and ?basis= as sent; an empty one is absent."""
    kind = args.get("kind") or None
    return CompletionQuery(station_code=parse_station(args), kinds=kind.split(",") if kind else None,
                           basis=args.get("basis") or "claimed")


def report_tables(group_by: str) -> tuple[str, ...]:
    """The tables completion() must compute for api_view(group_by=...): none for kind, else that one."""
    if group_by not in GROUPINGS:
        raise ValidationError("completion_group_by", "group_by must be one of kind, station, volunteer, month; "
                              "got %(group_by)s", group_by=str(group_by)[:20])
    return () if group_by == "kind" else (group_by,)


def parse_group_by(args: Mapping[str, str]) -> str:
    """?group_by= (empty: station), checked."""
    group_by = args.get("group_by") or "station"
    report_tables(group_by)
    return group_by


@dataclass(frozen=True)
class ExportRequest:
    """An export's format and, for CSV, its table."""

    fmt: str
    table: str

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables completion() computes for the file (the GeoJSON and the kind table need the stations)."""
        return TABLES if self.fmt == "xlsx" or self.table == "volunteer" else ("station", "month")


def parse_export(fmt: str, args: Mapping[str, str]) -> ExportRequest:
    """The format of /api/v1/completion.<fmt> and ?table= (empty: station; checked for CSV alone)."""
    if fmt not in EXPORT_FORMATS:
        raise ValidationError("export_format", "Export format must be csv, xlsx or geojson; got %(format)s",
                              format=fmt[:20])
    table = args.get("table") or "station"
    if fmt == "csv" and table not in EXPORT_TABLES:
        raise ValidationError("export_table", "table must be one of kind, station, volunteer, month; got %(table)s",
                              table=table[:20])
    return ExportRequest(fmt=fmt, table=table)


# --- the period object --------------------------------------------------------------------------

PERIOD_LABEL = {**STRING, "description": "as given: 2020, 2020-Q1, 2020-03 or 2020-01-01..2020-06-30"}
_SPAN_PROPERTIES = {"from": {**DATE, "description": "first day, inclusive"},
                    "to": {**DATE, "description": "last day, inclusive"}}
_PERIOD_PROPERTIES = {"period": PERIOD_LABEL, **_SPAN_PROPERTIES}
PERIOD = obj(_PERIOD_PROPERTIES, required=list(_PERIOD_PROPERTIES))


def span_json(first: dt.date, last: dt.date) -> dict:
    """Days first..last (inclusive) as from and to."""
    return {"from": first.isoformat(), "to": last.isoformat()}


def period_json(label: str, first: dt.date, last: dt.date) -> dict:
    """A period (a report's or a target's): its label and its first and last days."""
    return {"period": label, **span_json(first, last)}


# --- the figures --------------------------------------------------------------------------------

_FIGURE_PROPERTIES = {
    "seconds": SECONDS,
    "hours": HOURS,
    "percent": {**nullable({"type": "number", "minimum": 0}),
                "description": "of the target, rounded half-up to 0.01, not capped at 100; null without a target"},
}
FIGURE = obj(_FIGURE_PROPERTIES, required=list(_FIGURE_PROPERTIES))
CLAIMED_FIGURE = obj({**_FIGURE_PROPERTIES, "sessions": {**COUNT, "description": "patrols"}},
                     required=[*_FIGURE_PROPERTIES, "sessions"])
VERIFIED_FIGURE = obj({**_FIGURE_PROPERTIES, "sessions_verified": {
    **COUNT, "description": "patrols verified (one not verified yet counts 0 verified seconds)"}},
    required=[*_FIGURE_PROPERTIES, "sessions_verified"])


def _by_kind(figure: dict, description: str) -> dict:
    """A figure per kind of the report (its ?kind=)."""
    return obj({kind: figure for kind in KINDS}, closed=True, description=description)


_FIGURES_PROPERTIES = {
    "by_kind": _by_kind(FIGURE, "the figures of the basis, per kind"),
    "claimed": _by_kind(CLAIMED_FIGURE, "claimed seconds (duration_seconds), per kind"),
    "verified": _by_kind(VERIFIED_FIGURE, "verified seconds, per kind"),
}


def figure_json(seconds: int, target: Fraction) -> dict:
    """Seconds done, as hours and as a percent of the target."""
    done = percent(seconds, target)
    return {"seconds": seconds, "hours": float(hours(seconds)), "percent": None if done is None else float(done)}


def figures_json(tally: Tally, target: Fraction, kinds, basis: str) -> dict:
    """by_kind (on the basis, the original shape), claimed and verified, side by side."""
    claimed = {kind: figure_json(tally.claimed[kind], target) for kind in kinds}
    verified = {kind: figure_json(tally.verified[kind], target) for kind in kinds}
    return {
        "by_kind": claimed if basis == "claimed" else verified,  # computed once: a row per volunteer adds up
        "claimed": {kind: {**claimed[kind], "sessions": tally.sessions[kind]} for kind in kinds},
        "verified": {kind: {**verified[kind], "sessions_verified": tally.sessions_verified[kind]} for kind in kinds},
    }


_TARGET_PROPERTIES = {"target_seconds": TARGET_SECONDS, "target_hours": HOURS}


def _target_json(target: Fraction) -> dict:
    return {"target_seconds": _number(target), "target_hours": float(hours(target))}


# --- the tables ---------------------------------------------------------------------------------

_STATION_ROW_PROPERTIES = {
    "station_code": STRING,
    "station_name": STRING,
    "volunteers": {**COUNT, "description": "the station's volunteers active in the period"},
    **_TARGET_PROPERTIES,
    **_FIGURES_PROPERTIES,
}
STATION_ROW = obj(_STATION_ROW_PROPERTIES, required=list(_STATION_ROW_PROPERTIES))


def station_row_json(row: StationFigures, kinds, basis: str) -> dict:
    """One by_station row."""
    return {"station_code": row.code, "station_name": row.name, "volunteers": row.volunteers,
            **_target_json(row.target), **figures_json(row.sums, row.target, kinds, basis)}


_MONTH_ROW_PROPERTIES = {
    "month": {"type": "string", "pattern": r"^\d{4}-\d{2}$", "description": "YYYY-MM"},
    **_SPAN_PROPERTIES,
    "volunteers": {**COUNT, "description": "volunteers active on at least one day of the month"},
    **_TARGET_PROPERTIES,
    **_FIGURES_PROPERTIES,
}
MONTH_ROW = obj(_MONTH_ROW_PROPERTIES, required=list(_MONTH_ROW_PROPERTIES),
                description="a month of the period, clipped to it")


def month_row_json(row: MonthFigures, kinds, basis: str) -> dict:
    """One by_month row."""
    return {"month": f"{row.first.year:04d}-{row.first.month:02d}", **span_json(row.first, row.last),
            "volunteers": row.volunteers, **_target_json(row.target),
            **figures_json(row.sums, row.target, kinds, basis)}


_VOLUNTEER_ROW_PROPERTIES = {
    "volunteer_id": INTEGER,
    "app_account_id": nullable(STRING),
    "name": STRING,
    "station_code": nullable(STRING),
    "station_name": nullable(STRING),
    "active_from": DATE,
    "active_to": {**nullable(DATE), "description": "null: still active"},
    **_TARGET_PROPERTIES,
    **_FIGURES_PROPERTIES,
}
VOLUNTEER_ROW = obj(_VOLUNTEER_ROW_PROPERTIES, required=list(_VOLUNTEER_ROW_PROPERTIES),
                    description="a volunteer of the period, or one with patrols in it (target 0 when not active)")


def volunteer_row_json(row: VolunteerFigures, kinds, basis: str) -> dict:
    """One by_volunteer row."""
    return {
        "volunteer_id": row.volunteer_id,
        "app_account_id": row.app_account_id,
        "name": row.name,
        "station_code": row.station_code,
        "station_name": row.station_name,
        "active_from": row.active_from.isoformat(),
        "active_to": row.active_to.isoformat() if row.active_to else None,
        **_target_json(row.target),
        **figures_json(row.sums, row.target, kinds, basis),
    }


# --- targets ------------------------------------------------------------------------------------

_TARGET_ROW_PROPERTIES = {
    "id": INTEGER,
    **_PERIOD_PROPERTIES,
    "station_code": {**nullable(STRING), "description": "null: every station"},
    "quota_seconds": {**SECONDS, "description": "owed by a volunteer active on every day of the period"},
    "quota_hours": {"type": "number", "minimum": 0, "maximum": MAX_QUOTA_HOURS},
    "note": nullable(STRING),
}
TARGET = obj(_TARGET_ROW_PROPERTIES, required=list(_TARGET_ROW_PROPERTIES),
             description="quota hours per volunteer for a whole period, zone-wide or for one station")


def target_json(target: Target, station_codes: dict[int, str] | None = None) -> dict:
    """A stored target (its station's code from station_codes when given, else from the row)."""
    if station_codes is not None:
        station_code = station_codes.get(target.station_id) if target.station_id else None
    else:
        station_code = target.station.code if target.station_id else None
    return {
        "id": target.id,
        **period_json(target.label, target.starts_on, target.ends_on),
        "station_code": station_code,
        "quota_seconds": target.quota_seconds,
        "quota_hours": float(Decimal(target.quota_seconds) / 3600),
        "note": target.note,
    }


TARGET_LIST = obj({
    "targets": array(TARGET, description="ordered by start, zone-wide before a station's"),
    "default_quota_hours_per_year": {**NUMBER, "description": "QUOTA_HOURS_PER_YEAR: days no target covers"},
}, required=["targets", "default_quota_hours_per_year"])


def target_list_json(targets: list[Target], *, default_quota_hours_per_year) -> dict:
    """The stored targets and the yearly quota that applies where none does."""
    return {"targets": [target_json(target) for target in targets],
            "default_quota_hours_per_year": default_quota_hours_per_year}


# What create_target_api accepts, exactly as parse_new_target and targets.create_target check it.
# Not expressible here: from after to, a day outside the supported years (0001-01-02 .. 9999-12-30),
# a quota written with an exponent or underscores (1e2, 1_000: accepted as text), and the overlap (409).
_ABSENT = {"enum": ["", None], "description": "null, empty or absent"}
_ISO_DATE_PATTERN = (r"^(?!0000)[0-9]{4}(?:-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
                     r"|(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
                     r"|-W(?:0[1-9]|[1-4][0-9]|5[0-3])(?:-[1-7])?|W(?:0[1-9]|[1-4][0-9]|5[0-3])[1-7]?)$")
DATE_TEXT = {"type": "string", "pattern": _ISO_DATE_PATTERN,
             "description": "an ISO 8601 date: 2021-01-31, 20210131, 2021-W05 or 2021-W05-7"}
_PERIOD_PATTERN = (r"^\s*(?!0000)(?!0001(?:-?[Qq]1|-01)?\s*$)(?!9999(?:-?[Qq]4|-12)?\s*$)"
                   r"\d{4}(?:-?[Qq][1-4]|-(?:0[1-9]|1[0-2]))?\s*$")
PERIOD_TEXT = {"type": "string", "pattern": _PERIOD_PATTERN, "examples": ["2021", "2021-Q1", "2021-03"],
               "description": "a year, a quarter or a month"}
QUOTA_HOURS = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": MAX_QUOTA_HOURS, "multipleOf": 0.01},
        {"type": "string", "pattern": r"^\s*(?:\+?0*(?:\d{1,4}(?:\.\d{0,2}0*)?|\.\d{1,2}0*|10000(?:\.0*)?)"
                                      r"|-0*(?:0(?:\.0*)?|\.0+))\s*$"},
    ],
    "description": f"hours each volunteer active on every day of the period owes: 0 .. {MAX_QUOTA_HOURS}, "
                   "at most two decimals, a number or a text like \"1.5\"",
}
_TEXT_OR_NULL = {"type": ["string", "null"]}
NEW_TARGET = {
    **obj({
        "period": {**_TEXT_OR_NULL, "description": "2021, 2021-Q1 or 2021-03; ignored when from or to is given"},
        "from": {**_TEXT_OR_NULL, "description": "first day, inclusive (with to)"},
        "to": {**_TEXT_OR_NULL, "description": "last day, inclusive (with from)"},
        "station_code": {**_TEXT_OR_NULL, "description": "null or empty: every station"},
        "quota_hours": QUOTA_HOURS,
        "note": {**_TEXT_OR_NULL, "description": "trimmed; cut at 200 characters"},
    }, required=["quota_hours"]),
    "anyOf": [
        obj({"from": DATE_TEXT, "to": DATE_TEXT}, required=["from", "to"], description="from and to dates"),
        obj({"period": PERIOD_TEXT, "from": _ABSENT, "to": _ABSENT}, required=["period"], description="a period"),
    ],
}


@dataclass(frozen=True)
class NewTarget:
    """A target as asked for: its period, and the quota and station create_target checks."""

    period: Period
    quota_hours: object
    station_code: str | None
    note: str | None


def parse_new_target(payload: dict, *, tz: str) -> NewTarget:
    """The body of POST /api/v1/targets: {period | from+to, quota_hours, station_code?, note?}, periods in tz."""
    for field in ("period", "from", "to", "station_code", "note"):
        if payload.get(field) is not None and not isinstance(payload[field], str):
            raise ValidationError("field_not_text", "%(field)s must be text", field=field)
    if isinstance(payload.get("quota_hours"), bool) or not isinstance(payload.get("quota_hours", 0), (int, float, str)):
        raise ValidationError("target_quota", "The quota must be a number of hours like 6 or 1.5")
    if not (payload.get("period") or payload.get("from") or payload.get("to")):
        raise ValidationError("target_period_required", "A target needs a period, or from and to dates")
    period = parse_period(str(payload.get("period") or ""), date_from=payload.get("from"), date_to=payload.get("to"),
                          tz=tz)
    if payload.get("quota_hours") is None:
        raise ValidationError("target_quota_required", "A target needs quota_hours")
    return NewTarget(period=period, quota_hours=payload["quota_hours"],
                     station_code=payload.get("station_code") or None, note=payload.get("note"))


# --- the report ---------------------------------------------------------------------------------

_GRID_WORKERS = obj({kind: obj({"seconds": SECONDS, "hours": HOURS}, required=["seconds", "hours"])
                     for kind in KINDS}, closed=True,
                    description="the grid workers' claimed patrol per kind, beside (not inside) the volunteers'")
_REPORT_PROPERTIES = {
    **_PERIOD_PROPERTIES,
    "basis": {"type": "string", "enum": list(BASES), "description": "the figures of by_kind"},
    "station": {**nullable(STRING), "description": "the station reported on; null: every station"},
    "kinds": array(_KIND, minItems=1, uniqueItems=True),
    "volunteers": {**COUNT, "description": "volunteers active on at least one day of the period"},
    "quota_hours": {**NUMBER, "description": "QUOTA_HOURS_PER_YEAR: per volunteer per year where no target is set"},
    **_TARGET_PROPERTIES,
    "targets": array(TARGET, description="the stored targets that apply to the period"),
    **_FIGURES_PROPERTIES,
    "grid_workers": _GRID_WORKERS,
}
_TABLE_PROPERTIES = {
    "by_station": array(STATION_ROW, description="every station reported on, by code"),
    "by_volunteer": array(VOLUNTEER_ROW, description="furthest behind first"),
    "by_month": array(MONTH_ROW),
}


def report_json(report: Completion) -> dict:
    """completion()'s report: the totals, and the tables it computed (by_station, by_month, by_volunteer)."""
    period, kinds, basis = report.period, report.kinds, report.basis
    shaped = {
        **period_json(period.label, period.start, period.last_day),
        "basis": basis,
        "station": report.station_code or None,
        "kinds": list(kinds),
        "volunteers": report.volunteers,
        "quota_hours": float(Decimal(str(report.quota_hours_per_year)).quantize(CENT)),
        **_target_json(report.target),
        "targets": [target_json(target, report.station_codes) for target in report.targets],
        **figures_json(report.sums, report.target, kinds, basis),
    }
    if report.by_station is not None:
        shaped["by_station"] = [station_row_json(row, kinds, basis) for row in report.by_station]
    if report.by_month is not None:
        shaped["by_month"] = [month_row_json(row, kinds, basis) for row in report.by_month]
    workers = report.grid_workers
    shaped["grid_workers"] = {kind: {"seconds": workers.claimed[kind], "hours": float(hours(workers.claimed[kind]))}
                              for kind in kinds}
    if report.by_volunteer is not None:
        shaped["by_volunteer"] = [volunteer_row_json(row, kinds, basis) for row in report.by_volunteer]
    return shaped


COMPLETION_ANSWER = obj({
    **_REPORT_PROPERTIES,
    "group_by": {"type": "string", "enum": list(GROUPINGS)},
    **{name: {**schema, "description": f"{schema['description']}; only with group_by={name[3:]}"
              if "description" in schema else f"only with group_by={name[3:]}"}
       for name, schema in _TABLE_PROPERTIES.items()},
}, required=[*_REPORT_PROPERTIES, "group_by"])


def api_view(report: dict, *, group_by: str = "station") -> dict:
    """The report as the API answers it: the totals plus the one table asked for (station by default)."""
    tables = report_tables(group_by)
    view = {key: value for key, value in report.items() if key not in ("by_station", "by_volunteer", "by_month")}
    view["group_by"] = group_by
    for table in tables:
        view[f"by_{table}"] = report[f"by_{table}"]
    return view


# --- the stations as GeoJSON --------------------------------------------------------------------

_FEATURE_PROPERTIES = {
    "station_code": STRING,
    "station_name": STRING,
    **_PERIOD_PROPERTIES,
    "volunteers": COUNT,
    "target_hours": HOURS,
}
_KIND_FEATURE_PROPERTIES = {
    f"{kind}_{name}": schema
    for kind in KINDS
    for name, schema in (("hours", HOURS), ("percent", _FIGURE_PROPERTIES["percent"]), ("sessions", COUNT),
                         ("verified_hours", HOURS), ("verified_percent", _FIGURE_PROPERTIES["percent"]),
                         ("verified_sessions", COUNT))
}
STATION_FEATURES = obj({
    "type": {"const": "FeatureCollection"},
    "features": array(obj({
        "type": {"const": "Feature"},
        "id": {**STRING, "description": "the station's code"},
        "properties": obj({**_FEATURE_PROPERTIES, **_KIND_FEATURE_PROPERTIES}, required=list(_FEATURE_PROPERTIES),
                          description="the station's figures, flat; the <kind>_ ones for each kind of the report"),
        "geometry": ref("PolygonGeometry"),
    }, required=["type", "id", "properties", "geometry"])),
}, required=["type", "features"], description="RFC 7946: the stations with their completion figures")


def station_features(report: dict, stations_geojson: dict) -> dict:
    """The stations as an RFC 7946 FeatureCollection, each with its completion figures as flat properties."""
    by_code = {row["station_code"]: row for row in report["by_station"]}
    features = []
    for feature in stations_geojson["features"]:
        row = by_code.get(feature["properties"]["code"])
        if row is None:
            continue
        properties = {
            "station_code": row["station_code"],
            "station_name": row["station_name"],
            "period": report["period"],
            "from": report["from"],
            "to": report["to"],
            "volunteers": row["volunteers"],
            "target_hours": row["target_hours"],
        }
        for kind in report["kinds"]:
            properties.update({
                f"{kind}_hours": row["claimed"][kind]["hours"],
                f"{kind}_percent": row["claimed"][kind]["percent"],
                f"{kind}_sessions": row["claimed"][kind]["sessions"],
                f"{kind}_verified_hours": row["verified"][kind]["hours"],
                f"{kind}_verified_percent": row["verified"][kind]["percent"],
                f"{kind}_verified_sessions": row["verified"][kind]["sessions_verified"],
            })
        features.append({"type": "Feature", "id": row["station_code"], "properties": properties,
                         "geometry": feature["geometry"]})
    return {"type": "FeatureCollection", "features": features}
