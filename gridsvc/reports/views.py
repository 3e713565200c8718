"""Completion API, exports, the managers' dashboard, targets and the home page. Thin: completion() computes."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from gridsvc.grids.service import grids_geojson, list_grids
from gridsvc.reports import exports, schemas, targets
from gridsvc.reports.charts import trend_svg
from gridsvc.reports.schemas import TABLES
from gridsvc.reports.service import completion, report_station
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
    query = schemas.parse_completion_query(request.args)
    station_code = report_station(db(), current_user, query.station_code)
    return completion(db(), period=period_from_request(), quota_hours_per_year=current_app.config["QUOTA_HOURS_PER_YEAR"],
                      basis=query.basis, station_code=station_code, kinds=query.kinds, tables=tables)


def _filters() -> dict:
    return {name: request.args[name] for name in FILTER_ARGS if request.args.get(name)}


def _filename(report: dict, suffix: str) -> str:
    station = f"-{report['station']}" if report["station"] else ""
    return f"completion-{report['period'].replace('..', '_')}{station}{suffix}"


@blueprint.get("/api/v1/completion")
@require_roles(*READERS)
def completion_api():
    """Completion for ?period= (or ?from=&to=), [station=, kind=, basis=], group_by=kind|station|volunteer|month."""
    group_by = schemas.parse_group_by(request.args)
    # Only the table the answer carries is computed: group_by=kind needs the totals alone.
    report = completion_from_request(tables=schemas.report_tables(group_by))
    return jsonify(schemas.api_view(report, group_by=group_by))


@blueprint.get("/api/v1/completion.<fmt>")
@require_roles(*READERS)
def completion_export(fmt: str):
    """The same figures as CSV (?table=kind|station|volunteer|month), XLSX (a sheet per table) or GeoJSON (stations)."""
    export = schemas.parse_export(fmt, request.args)
    report = completion_from_request(tables=export.tables)
    if fmt == "csv":
        body, mimetype, name = exports.write_csv(report, table=export.table, translate=gettext), "text/csv", \
            _filename(report, f"-{export.table}.csv")
    elif fmt == "xlsx":
        body, mimetype, name = exports.write_xlsx(report, translate=gettext), \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _filename(report, ".xlsx")
    else:
        body = current_app.json.dumps(schemas.station_features(report, grids_geojson(db(), level="station")))
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
    station_code = report_station(db(), current_user, schemas.parse_station(request.args))
    rows = targets.list_targets(db(), period=period, station_code=station_code)
    return jsonify(schemas.target_list_json(
        rows, default_quota_hours_per_year=current_app.config["QUOTA_HOURS_PER_YEAR"]))


@blueprint.post("/api/v1/targets")
@require_roles("manager")
def create_target_api():
    """Create a target from JSON {period | from+to, quota_hours, station_code?, note?}; 201."""
    new = schemas.parse_new_target(json_object(), tz=current_app.config["DISPLAY_TIMEZONE"])
    target = targets.create_target(db(), period=new.period, quota_hours=new.quota_hours,
                                   station_code=new.station_code, note=new.note)
    return jsonify(schemas.target_json(target)), 201


@blueprint.delete("/api/v1/targets/<int:target_id>")
@require_roles("manager")
def delete_target_api(target_id: int):
    """Delete a target; 204."""
    targets.delete_target(db(), target_id=target_id)
    return "", 204

