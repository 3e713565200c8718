"""Camera registry pages and API: list, create, edit, retire, history, import/export, shares, coverage.

Views are thin: they read the request, call gridsvc.cameras.service / transfer / coverage, and
render; the request commits (gridsvc/web.py). Station roles see and edit only their station's
cameras; registering, retiring and importing are zone-wide (manager, admin).
"""
from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from gridsvc.access import ensure_visible, require_roles, visible_station_ids
from gridsvc.cameras import service, transfer
from gridsvc.cameras.coverage import camera_coverage, check_radius, coverage_geojson, coverage_with_layer
from gridsvc.cameras.gbt28181 import label_of
from gridsvc.cameras.models import KINDS, STATUSES
from gridsvc.errors import DomainError, ValidationError
from gridsvc.web import accepts_large_body, db, json_object, period_from_request

blueprint = Blueprint("cameras", __name__, static_folder="static", static_url_path="/static/cameras")

READERS = ("grid_worker", "station_manager", "centre_viewer", "manager")
PAGE_SIZE = 100
MAX_PAGE = 1_000_000  # 100 million cameras: far past any zone
_CREATE_FIELDS = {"device_id", "name", "kind", "lon", "lat", "police_linked", "status", "crs", "note"}
_UPDATE_FIELDS = {"name", "kind", "lon", "lat", "police_linked", "status", "crs", "note"}
_TRUE_WORDS = {"1", "true", "yes", "on"}


def _visible() -> set[int] | None:
    """Station ids the caller may see (None: all)."""
    return visible_station_ids(current_user)


def _visible_camera(device_id: str):
    camera = service.get_camera(db(), device_id=device_id)
    ensure_visible(current_user, camera.station_id, missing=service.camera_not_found(device_id))
    return camera


def _flag(value) -> bool:
    return isinstance(value, str) and value.strip().lower() in _TRUE_WORDS


def _local_time(iso: str | None) -> str:
    if not iso:
        return "—"
    import datetime as dt

    moment = dt.datetime.fromisoformat(iso).astimezone(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"]))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _unknown_fields(payload: dict, allowed: set[str]) -> None:
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise ValidationError("unknown_fields", "Unknown fields: %(fields)s", fields=", ".join(unknown)[:200])


def _filter_from(args) -> service.CameraFilter:
    return service.check_filter(
        station_ids=_visible(), station_code=args.get("station"), status=args.get("status"), kind=args.get("kind"),
        police_linked=args.get("police_linked"), retired=args.get("retired") or "no", search=args.get("q"),
    )


def _radius_from(args) -> float:
    return check_radius(args.get("radius_m", current_app.config["CAMERA_COVERAGE_RADIUS_M"]))


def _geojson_response(document: dict) -> Response:
    return current_app.response_class(current_app.json.dumps(document), mimetype="application/geo+json")


# --- API -------------------------------------------------------------------------------------------

@blueprint.get("/api/v1/cameras")
@require_roles(*READERS)
def list_cameras():
    """Cameras in service as GeoJSON (?retired=all adds retired ones); station users get their station's."""
    include_retired = request.args.get("retired") == "all"
    return _geojson_response(service.cameras_geojson(db(), include_retired=include_retired, station_ids=_visible()))


@blueprint.post("/api/v1/cameras")
@require_roles("manager")
def create_camera_api():
    """Register a camera from JSON {device_id, name, kind, lon, lat[, police_linked, status, crs, note]}; 201."""
    payload = json_object()
    _unknown_fields(payload, _CREATE_FIELDS)
    camera = service.create_camera(
        db(), device_id=payload.get("device_id"), name=payload.get("name"), kind=payload.get("kind"),
        lon=payload.get("lon"), lat=payload.get("lat"), police_linked=payload.get("police_linked", True),
        status=payload.get("status", "online"), crs=payload.get("crs", "wgs84"),
        region_prefix=current_app.config["REGION_CODE"], note=payload.get("note"),
    )
    response = jsonify(service.camera_dict(db(), camera, with_history=True))
    response.status_code = 201
    response.headers["Location"] = url_for("cameras.camera_api", device_id=camera.device_id)
    return response


@blueprint.get("/api/v1/cameras/<device_id>")
@require_roles(*READERS)
def camera_api(device_id: str):
    """One camera with its id parts and history (newest first)."""
    return jsonify(service.camera_dict(db(), _visible_camera(device_id), with_history=True))


@blueprint.patch("/api/v1/cameras/<device_id>")
@require_roles("station_manager", "manager")
def update_camera_api(device_id: str):
    """Change name, kind, police_linked, status, or the position (lon+lat[, crs]); answers the camera."""
    camera = _visible_camera(device_id)
    payload = json_object()
    _unknown_fields(payload, _UPDATE_FIELDS)
    changes = {key: payload[key] for key in ("name", "kind", "police_linked", "status", "lon", "lat") if key in payload}
    changed = service.update_camera(db(), device_id=camera.device_id, crs=payload.get("crs", "wgs84"),
                                    note=payload.get("note"), allowed_station_ids=_visible(), **changes)
    return jsonify({**service.camera_dict(db(), camera, with_history=True), "changed": changed})


@blueprint.post("/api/v1/cameras/<device_id>/retire")
@require_roles("manager")
def retire_camera_api(device_id: str):
    """Retire a camera (optional JSON {reason}); kept with its history, left out of maps and shares."""
    camera = _visible_camera(device_id)
    payload = request.get_json(silent=True) if request.content_length else None
    reason = payload.get("reason") if isinstance(payload, dict) else None
    service.retire_camera(db(), device_id=camera.device_id, reason=reason)
    return jsonify(service.camera_dict(db(), camera, with_history=True))


def _import_from_request() -> transfer.ImportReport:
    """Run an import from a multipart upload (file), a CSV body (text/csv) or JSON (GeoJSON or {rows: [...]})."""
    options = request.args.to_dict()
    if request.mimetype == "multipart/form-data":
        options.update(request.form.to_dict())
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ValidationError("import_file_missing", "Choose a CSV or GeoJSON file to import")
        records = transfer.read_file(upload.read(), file_format=options.get("format"), filename=upload.filename)
        source_name = upload.filename
    elif request.mimetype in ("text/csv", "text/plain"):
        records = transfer.read_csv(request.get_data())
        source_name = None
    else:
        payload = json_object()
        if payload.get("type") == "FeatureCollection":
            records = transfer.read_geojson(payload)
        elif isinstance(payload.get("rows"), list):
            rows = payload["rows"]
            if len(rows) > transfer.MAX_IMPORT_ROWS:
                raise ValidationError("import_too_many_rows", "A file may hold at most %(max)s rows",
                                      max=transfer.MAX_IMPORT_ROWS)
            records = [transfer.Record(row=n, values=row if isinstance(row, dict) else {},
                                       error=None if isinstance(row, dict) else ValidationError(
                                           "import_row_object", "Each row must be a JSON object"))
                       for n, row in enumerate(rows, start=1)]
            for key in ("crs", "partial", "update"):
                if key in payload:
                    options[key] = payload[key] if isinstance(payload[key], str) else json.dumps(payload[key])
        else:
            raise ValidationError("import_json_shape", "Send a GeoJSON FeatureCollection or {\"rows\": [...]}")
        source_name = None
    return transfer.import_cameras(
        db(), records=records, crs=options.get("crs") or "wgs84", partial=_flag(options.get("partial")),
        update=_flag(options.get("update")), region_prefix=current_app.config["REGION_CODE"], source_name=source_name,
    )


def _summary_message(report: transfer.ImportReport) -> str:
    if not report.committed:
        return _rejected_message(report)
    return gettext("Imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged, %(failed)s failed.",
                   created=report.created, updated=report.updated, unchanged=report.unchanged, failed=len(report.errors))


def _rejected_message(report: transfer.ImportReport) -> str:
    return gettext("%(failed)s of %(rows)s rows are bad: nothing was written", failed=len(report.errors),
                   rows=report.rows)


@blueprint.post("/api/v1/cameras/import")
@accepts_large_body
@require_roles("manager")
def import_cameras_api():
    """Import cameras; 200 with the report, or 422 with it when all-or-nothing met bad rows (nothing written)."""
    report = _import_from_request()
    body = {"report": report.to_dict(gettext), "message": _summary_message(report)}
    if not report.committed:
        body["error"] = {"code": "import_rejected", "message": _rejected_message(report),
                         "params": {"failed": len(report.errors), "rows": report.rows}}
        return jsonify(body), 422
    return jsonify(body)


def _export(file_format: str):
    crs = service.normalise_crs(request.args.get("crs") or "wgs84")
    include_retired = _flag(request.args.get("include_retired"))
    rows = transfer.export_rows(db(), crs=crs, include_retired=include_retired, station_ids=_visible())
    if file_format == "csv":
        response = Response(transfer.to_csv(rows, include_retired=include_retired), mimetype="text/csv")
        response.charset = "utf-8"
    else:
        response = _geojson_response(transfer.to_geojson(rows, include_retired=include_retired))
    response.headers["Content-Disposition"] = f"attachment; filename=cameras-{crs}.{file_format}"
    return response


@blueprint.get("/api/v1/cameras/export.csv")
@require_roles(*READERS)
def export_csv():
    """Cameras as CSV (UTF-8 with BOM) that the import reads back unchanged; ?crs=gcj02, ?include_retired=1."""
    return _export("csv")


@blueprint.get("/api/v1/cameras/export.geojson")
@require_roles(*READERS)
def export_geojson():
    """Cameras as a GeoJSON FeatureCollection that the import reads back unchanged."""
    return _export("geojson")


@blueprint.get("/api/v1/cameras/stats")
@require_roles(*READERS)
def stats_api():
    """Police-linked and online cameras, counts and shares, overall and per station."""
    return jsonify(service.camera_stats(db(), station_ids=_visible()))


@blueprint.get("/api/v1/cameras/coverage")
@require_roles(*READERS)
def coverage_api():
    """Per station: cameras per km², share within ?radius_m= of a camera, patrol track length outside it."""
    return jsonify(camera_coverage(db(), radius_m=_radius_from(request.args), station_ids=_visible(),
                                   only_online=_flag(request.args.get("online_only")),
                                   period=period_from_request(optional=True)))


@blueprint.get("/api/v1/cameras/coverage.geojson")
@require_roles(*READERS)
def coverage_geojson_api():
    """The coverage map layer: covered areas and uncovered patrol tracks per station."""
    return _geojson_response(coverage_geojson(db(), radius_m=_radius_from(request.args), station_ids=_visible(),
                                              only_online=_flag(request.args.get("online_only")),
                                              period=period_from_request(optional=True)))


# --- pages -----------------------------------------------------------------------------------------

def _stations_for_select():
    from gridsvc.grids.service import list_grids

    visible = _visible()
    return [grid for grid in list_grids(db(), level="station") if visible is None or grid.id in visible]


def _can(*roles: str) -> bool:
    role = getattr(current_user, "role", None)
    return role == "admin" or role in roles


@blueprint.app_context_processor
def _camera_template_helpers():
    return {"camera_label": label_of, "camera_local_time": _local_time}


@blueprint.get("/cameras")
@require_roles(*READERS)
def cameras_page():
    """The registry: filters, cameras, and the linked/online shares overall and per station."""
    error = None
    try:
        wanted = _filter_from(request.args)
    except ValidationError as exc:
        error, wanted = exc.to_dict(gettext)["message"], service.CameraFilter(station_ids=_visible())
    try:
        # Clamped: an OFFSET past SQLite's 64-bit integers was an OverflowError (a 500).
        page = min(max(1, int(request.args.get("page", "1"))), MAX_PAGE)
    except ValueError:
        page = 1
    cameras, total = service.list_cameras(db(), wanted=wanted, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template(
        "cameras/list.html", cameras=cameras, total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)),
        stats=service.camera_stats(db(), station_ids=_visible()), stations=_stations_for_select(),
        args=request.args, kinds=KINDS, statuses=STATUSES, error=error, can_write=_can("manager"),
    ), (422 if error else 200)


def _form_values(form) -> dict:
    return {key: (form.get(key) or "").strip() for key in ("device_id", "name", "kind", "lon", "lat", "status", "crs",
                                                             "note")}


@blueprint.route("/cameras/new", methods=["GET", "POST"])
@require_roles("manager")
def new_camera_page():
    """Form to register a camera."""
    values = {"kind": "security", "status": "online", "crs": "wgs84", "police_linked": True}
    if request.method == "POST":
        values = {**_form_values(request.form), "police_linked": bool(request.form.get("police_linked"))}
        try:
            camera = service.create_camera(
                db(), device_id=values["device_id"], name=values["name"], kind=values["kind"], lon=values["lon"],
                lat=values["lat"], police_linked=values["police_linked"], status=values["status"], crs=values["crs"],
                region_prefix=current_app.config["REGION_CODE"], note=values["note"],
            )
        except DomainError as exc:
            return render_template("cameras/new.html", values=values, error=exc.to_dict(gettext)["message"],
                                   kinds=KINDS, statuses=STATUSES), exc.http_status
        return redirect(url_for("cameras.camera_page", device_id=camera.device_id), 303)
    return render_template("cameras/new.html", values=values, error=None, kinds=KINDS, statuses=STATUSES)


def _detail(camera, *, error=None, status=200, values=None):
    data = service.camera_dict(db(), camera, with_history=True)
    return render_template(
        "cameras/detail.html", camera=data, error=error, values=values or {**data, "lon": None, "lat": None},
        kinds=KINDS, statuses=STATUSES,
        can_edit=_can("station_manager", "manager") and not data["retired_at"],
        can_retire=_can("manager") and not data["retired_at"],
    ), status


@blueprint.get("/cameras/<device_id>")
@require_roles(*READERS)
def camera_page(device_id: str):
    """One camera: its id parts, position, status, history, and the edit and retire forms."""
    return _detail(_visible_camera(device_id))


@blueprint.post("/cameras/<device_id>")
@require_roles("station_manager", "manager")
def edit_camera_page(device_id: str):
    """Save the edit form; only fields that changed get a history row."""
    camera = _visible_camera(device_id)
    values = {**_form_values(request.form), "police_linked": bool(request.form.get("police_linked"))}
    changes = {"name": values["name"], "kind": values["kind"], "status": values["status"],
               "police_linked": values["police_linked"]}
    if values["lon"] or values["lat"]:
        changes.update(lon=values["lon"], lat=values["lat"])
    try:
        service.update_camera(db(), device_id=camera.device_id, crs=values["crs"] or "wgs84", note=values["note"],
                              allowed_station_ids=_visible(), **changes)
    except DomainError as exc:
        return _detail(camera, error=exc.to_dict(gettext)["message"], status=exc.http_status, values=values)
    return redirect(url_for("cameras.camera_page", device_id=camera.device_id), 303)


@blueprint.post("/cameras/<device_id>/retire")
@require_roles("manager")
def retire_camera_page(device_id: str):
    """Retire from the detail page."""
    camera = _visible_camera(device_id)
    try:
        service.retire_camera(db(), device_id=camera.device_id, reason=request.form.get("reason"))
    except DomainError as exc:
        return _detail(camera, error=exc.to_dict(gettext)["message"], status=exc.http_status)
    return redirect(url_for("cameras.camera_page", device_id=camera.device_id), 303)


@blueprint.route("/cameras/import", methods=["GET", "POST"])
@accepts_large_body
@require_roles("manager")
def import_page():
    """Upload a CSV or GeoJSON file (with an upload progress bar); shows the per-row report."""
    if request.method != "POST":
        return render_template("cameras/import.html", report=None, message=None, error=None)
    try:
        report = _import_from_request()
    except DomainError as exc:
        return render_template("cameras/import.html", report=None, message=None,
                               error=exc.to_dict(gettext)["message"]), exc.http_status
    return render_template("cameras/import.html", report=report.to_dict(gettext), message=_summary_message(report),
                           error=None), (200 if report.committed else 422)


@blueprint.get("/cameras/coverage")
@require_roles(*READERS)
def coverage_page():
    """Coverage per station as a table and a drawing of stations, covered areas and uncovered tracks."""
    error = None
    try:
        radius = _radius_from(request.args)
        period = period_from_request(optional=True)
    except DomainError as exc:
        error = exc.to_dict(gettext)["message"]
        radius, period = current_app.config["CAMERA_COVERAGE_RADIUS_M"], None
    only_online = _flag(request.args.get("online_only"))
    result, layer = coverage_with_layer(db(), radius_m=radius, station_ids=_visible(), only_online=only_online,
                                        period=period)
    from gridsvc.cameras.drawing import coverage_svg

    svg = coverage_svg(db(), layer=layer, station_ids=_visible())
    return render_template("cameras/coverage.html", result=result, svg=svg, args=request.args, error=error), \
        (422 if error else 200)
