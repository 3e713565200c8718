"""Completion API, exports, the managers' dashboard, targets and the home page. Thin: completion() computes."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from gridsvc.errors import ValidationError
from gridsvc.grids.service import grids_geojson, list_grids
from gridsvc.reports import exports, targets
from gridsvc.reports.charts import trend_svg
from gridsvc.periods import parse_period
from gridsvc.reports.service import TABLES, api_view, completion, report_station, report_tables
from gridsvc.web import db, json_object, period_from_request

from gridsvc.access import can_see_station, require_roles, visible_station_ids

blueprint = Blueprint("reports", __name__)
# Who reads the figures (admin is always allowed): the zone-wide roles every station's, station
# managers their own station's alone (report_station scopes every request of theirs). Grid workers
# and volunteers read their own patrols elsewhere, not the station's figures.
READERS = ("centre_viewer", "manager", "station_manager")

# Query parameters that select a report; export links and sort links carry them along.
FILTER_ARGS = ("period", "from", "to", "station", "kind", "basis")
VOLUNTEERS_SHOWN = 100


def completion_from_request(*, tables=TABLES) -> dict:
    """completion() of what the request asks for: ?period= (or ?from=&to=), station=, kind=, basis=.

    A station manager's report is always their own station's (see report_station).
    """
    kind = request.args.get("kind") or None
    station_code = report_station(db(), current_user, request.args.get("station") or None)
    return completion(db(), period=period_from_request(), quota_hours_per_year=current_app.config["QUOTA_HOURS_PER_YEAR"],
                      basis=request.args.get("basis") or "claimed", station_code=station_code,
                      kinds=kind.split(",") if kind else None, tables=tables)


def _filters() -> dict:
    return {name: request.args[name] for name in FILTER_ARGS if request.args.get(name)}


def _filename(report: dict, suffix: str) -> str:
    station = f"-{report['station']}" if report["station"] else ""
    return f"completion-{report['period'].replace('..', '_')}{station}{suffix}"


@blueprint.get("/api/v1/completion")
@require_roles(*READERS)
def completion_api():
    """Completion for ?period= (or ?from=&to=), [station=, kind=, basis=], group_by=kind|station|volunteer|month."""
    group_by = request.args.get("group_by") or "station"
    # Only the table the answer carries is computed: group_by=kind needs the totals alone.
    return jsonify(api_view(completion_from_request(tables=report_tables(group_by)), group_by=group_by))


@blueprint.get("/api/v1/completion.<fmt>")
@require_roles(*READERS)
def completion_export(fmt: str):
    """The same figures as CSV (?table=kind|station|volunteer|month), XLSX (a sheet per table) or GeoJSON (stations)."""
    if fmt not in ("csv", "xlsx", "geojson"):
        raise ValidationError("export_format", "Export format must be csv, xlsx or geojson; got %(format)s",
                              format=fmt[:20])
    table = request.args.get("table") or "station"
    if fmt == "csv" and table not in exports.TABLES:
        raise ValidationError("export_table", "table must be one of kind, station, volunteer, month; got %(table)s",
                              table=table[:20])
    report = completion_from_request(tables=TABLES if fmt == "xlsx" or table == "volunteer" else ("station", "month"))
    if fmt == "csv":
        body, mimetype, name = exports.write_csv(report, table=table, translate=gettext), "text/csv", \
            _filename(report, f"-{table}.csv")
    elif fmt == "xlsx":
        body, mimetype, name = exports.write_xlsx(report, translate=gettext), \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _filename(report, ".xlsx")
    else:
        body = current_app.json.dumps(exports.station_features(report, grids_geojson(db(), level="station")))
        mimetype, name = "application/geo+json", _filename(report, ".geojson")
    response = Response(body, mimetype=mimetype)
    if fmt == "csv":
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@blueprint.get("/dashboard")
@require_roles(*READERS)
def dashboard():
    """Completion dashboard: totals, trend, sortable stations, volunteers furthest behind (a station manager: theirs)."""
    report = completion_from_request()
    filters = _filters()
    if report["station"]:
        filters["station"] = report["station"]  # a station manager's links name their station
    sort = request.args.get("sort") or "code"
    descending = request.args.get("dir") == "desc"
    query = request.args.get("q", "")
    volunteers = exports.search_volunteers(report["by_volunteer"], query=query)
    kind_labels = {kind: gettext(exports.KIND_LABELS[kind]) for kind in report["kinds"]}
    return render_template(
        "reports/dashboard.html",
        report=report,
        filters=filters,
        zone_wide=visible_station_ids(current_user) is None,
        station_name=report["by_station"][0]["station_name"] if report["station"] and report["by_station"] else None,
        no_patrols=not any(report["claimed"][kind]["sessions"] or report["grid_workers"][kind]["seconds"]
                           for kind in report["kinds"]),
        sort=sort if sort in exports.STATION_SORT_KEYS else "code",
        descending=descending,
        stations=exports.sort_stations(report["by_station"], key=sort, descending=descending),
        all_stations=[(grid.code, grid.name) for grid in list_grids(db(), level="station")
                      if can_see_station(current_user, grid.id)],
        query=query,
        volunteers=volunteers[:VOLUNTEERS_SHOWN],
        volunteers_matching=len(volunteers),
        kind_labels=kind_labels,
        trend=trend_svg(report["by_month"], kinds=report["kinds"], kind_labels=kind_labels,
                        target_label=gettext("Target"), axis_label=gettext("Hours"),
                        title=gettext("Monthly patrol hours and target, %(period)s", period=report["period"])),
        tables=exports.TABLES,
        sheet_titles={table: gettext(title) for table, title in exports.SHEET_TITLES.items()},
        url_with=lambda **changes: url_for("reports.dashboard", **{**filters, **changes}),
    )


@blueprint.get("/api/v1/targets")
@require_roles(*READERS)
def list_targets_api():
    """Stored targets, optionally those overlapping ?period= (or ?from=&to=) and applying to ?station=.

    A station manager gets those applying to their own station (zone-wide rows and their station's).
    """
    period = period_from_request(optional=True)
    station_code = report_station(db(), current_user, request.args.get("station") or None)
    rows = targets.list_targets(db(), period=period, station_code=station_code)
    return jsonify({"targets": [targets.target_as_dict(row) for row in rows],
                    "default_quota_hours_per_year": current_app.config["QUOTA_HOURS_PER_YEAR"]})


@blueprint.post("/api/v1/targets")
@require_roles("manager")
def create_target_api():
    """Create a target from JSON {period | from+to, quota_hours, station_code?, note?}; 201."""
    payload = json_object()
    for field in ("period", "from", "to", "station_code", "note"):
        if payload.get(field) is not None and not isinstance(payload[field], str):
            raise ValidationError("field_not_text", "%(field)s must be text", field=field)
    if isinstance(payload.get("quota_hours"), bool) or not isinstance(payload.get("quota_hours", 0), (int, float, str)):
        raise ValidationError("target_quota", "The quota must be a number of hours like 6 or 1.5")
    if not (payload.get("period") or payload.get("from") or payload.get("to")):
        raise ValidationError("target_period_required", "A target needs a period, or from and to dates")
    period = parse_period(str(payload.get("period") or ""), date_from=payload.get("from"), date_to=payload.get("to"),
                          tz=current_app.config["DISPLAY_TIMEZONE"])
    if payload.get("quota_hours") is None:
        raise ValidationError("target_quota_required", "A target needs quota_hours")
    target = targets.create_target(db(), period=period, quota_hours=payload["quota_hours"],
                                   station_code=payload.get("station_code") or None, note=payload.get("note"))
    return jsonify(targets.target_as_dict(target)), 201


@blueprint.delete("/api/v1/targets/<int:target_id>")
@require_roles("manager")
def delete_target_api(target_id: int):
    """Delete a target; 204."""
    targets.delete_target(db(), target_id=target_id)
    return "", 204

