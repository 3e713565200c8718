"""Camera registry pages and API: list, create, edit, retire, history, import/export, shares, coverage.

Views are thin: they read the request, call gridsvc.cameras.service / transfer / coverage, and
render; the request commits (gridsvc/web.py). Station roles see and edit only their station's
cameras; registering, retiring and importing are zone-wide (manager, admin).
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from gridsvc.access import ensure_visible, require_roles, visible_station_ids
from gridsvc.cameras import schemas, service, transfer
from gridsvc.cameras.coverage import camera_coverage, coverage_geojson, coverage_with_layer
from gridsvc.cameras.gbt28181 import label_of
from gridsvc.cameras.models import KINDS, STATUSES
from gridsvc.errors import DomainError, ValidationError
from gridsvc.web import accepts_large_body, db, json_object, period_from_request

blueprint = Blueprint("cameras", __name__, static_folder="static", static_url_path="/static/cameras")

READERS = ("grid_worker", "station_manager", "centre_viewer", "manager")
PAGE_SIZE = 100
MAX_PAGE = 1_000_000  # 100 million cameras: far past any zone


def _visible() -> set[int] | None:
    """Station ids the caller may see (None: all)."""
    return visible_station_ids(current_user)


def _visible_camera(device_id: str):
    camera = service.get_camera(db(), device_id=device_id)
    ensure_visible(current_user, camera.station_id, missing=service.camera_not_found(device_id))
    return camera


def _camera_json(camera) -> dict:
    return schemas.camera_json(camera, position=service.camera_lon_lat(db(), camera),
                               history=service.camera_history(db(), device_id=camera.device_id))


def _local_time(iso: str | None) -> str:
    if not iso:
        return "—"
    import datetime as dt

    moment = dt.datetime.fromisoformat(iso).astimezone(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"]))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _filter_from(args) -> service.CameraFilter:
    return service.check_filter(
        station_ids=_visible(), station_code=args.get("station"), status=args.get("status"), kind=args.get("kind"),
        police_linked=args.get("police_linked"), retired=args.get("retired") or "no", search=args.get("q"),
    )


def _coverage_from(args) -> schemas.CoverageRequest:
    return schemas.parse_coverage(args, default_radius_m=current_app.config["CAMERA_COVERAGE_RADIUS_M"])


def _geojson_response(document: dict) -> Response:
    return current_app.response_class(current_app.json.dumps(document), mimetype="application/geo+json")


# --- API -------------------------------------------------------------------------------------------

@blueprint.get("/api/v1/cameras")
@require_roles(*READERS)
def list_cameras():
    """Cameras in service as GeoJSON (?retired=all adds retired ones); station users get their station's."""
    include_retired = schemas.parse_include_retired(request.args)
    return _geojson_response(service.cameras_geojson(db(), include_retired=include_retired, station_ids=_visible()))


@blueprint.post("/api/v1/cameras")
@require_roles("manager")
def create_camera_api():
    """Register a camera from JSON {device_id, name, kind, lon, lat[, police_linked, status, crs, note]}; 201."""
    new = schemas.parse_new_camera(json_object())
    camera = service.create_camera(
        db(), device_id=new.device_id, name=new.name, kind=new.kind, lon=new.lon, lat=new.lat,
        police_linked=new.police_linked, status=new.status, crs=new.crs,
        region_prefix=current_app.config["REGION_CODE"], note=new.note,
    )
    response = jsonify(_camera_json(camera))
    response.status_code = 201
    response.headers["Location"] = url_for("cameras.camera_api", device_id=camera.device_id)
    return response


@blueprint.get("/api/v1/cameras/<device_id>")
@require_roles(*READERS)
def camera_api(device_id: str):
    """One camera with its id parts and history (newest first)."""
    return jsonify(_camera_json(_visible_camera(device_id)))


@blueprint.patch("/api/v1/cameras/<device_id>")
@require_roles("station_manager", "manager")
def update_camera_api(device_id: str):
    """Change name, kind, police_linked, status, or the position (lon+lat[, crs]); answers the camera."""
    camera = _visible_camera(device_id)
    change = schemas.parse_camera_change(json_object())
    changed = service.update_camera(db(), device_id=camera.device_id, crs=change.crs, note=change.note,
                                    allowed_station_ids=_visible(), **change.changes)
    return jsonify(schemas.changed_camera_json(camera, position=service.camera_lon_lat(db(), camera),
                                               history=service.camera_history(db(), device_id=camera.device_id),
                                               changed=changed))


@blueprint.post("/api/v1/cameras/<device_id>/retire")
@require_roles("manager")
def retire_camera_api(device_id: str):
    """Retire a camera (optional JSON {reason}); kept with its history, left out of maps and shares."""
    camera = _visible_camera(device_id)
    reason = schemas.parse_retirement(request.get_json(silent=True) if request.content_length else None)
    service.retire_camera(db(), device_id=camera.device_id, reason=reason)
    return jsonify(_camera_json(camera))


def _import_from_request() -> transfer.ImportReport:
    """Run an import from a multipart upload (file), a CSV body (text/csv) or JSON (GeoJSON or {rows: [...]})."""
    if request.mimetype == "multipart/form-data":
        wanted = schemas.parse_import_upload(request.args, request.form, request.files.get("file"))
    elif request.mimetype in schemas.CSV_MEDIA_TYPES:
        wanted = schemas.parse_import_csv(request.args, request.get_data())
    else:
        wanted = schemas.parse_import_json(request.args, json_object())
    return transfer.import_cameras(
        db(), records=wanted.records, crs=wanted.crs, partial=wanted.partial, update=wanted.update,
        region_prefix=current_app.config["REGION_CODE"], source_name=wanted.source_name,
    )


@blueprint.post("/api/v1/cameras/import")
@accepts_large_body
@require_roles("manager")
def import_cameras_api():
    """Import cameras; 200 with the report, or 422 with it when all-or-nothing met bad rows (nothing written)."""
    body, status = schemas.import_answer(_import_from_request(), gettext)
    return jsonify(body), status


def _export(file_format: str):
    wanted = schemas.parse_export(request.args)
    rows = transfer.export_rows(db(), crs=wanted.crs, include_retired=wanted.include_retired, station_ids=_visible())
    if file_format == "csv":
        response = Response(transfer.to_csv(rows, include_retired=wanted.include_retired), mimetype="text/csv")
        response.charset = "utf-8"
    else:
        response = _geojson_response(transfer.to_geojson(rows, include_retired=wanted.include_retired))
    response.headers["Content-Disposition"] = f"attachment; filename=cameras-{wanted.crs}.{file_format}"
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
    wanted = _coverage_from(request.args)
    return jsonify(camera_coverage(db(), radius_m=wanted.radius_m, station_ids=_visible(),
                                   only_online=wanted.only_online, period=period_from_request(optional=True)))


@blueprint.get("/api/v1/cameras/coverage.geojson")
@require_roles(*READERS)
def coverage_geojson_api():
    """The coverage map layer: covered areas and uncovered patrol tracks per station."""
    wanted = _coverage_from(request.args)
    return _geojson_response(coverage_geojson(db(), radius_m=wanted.radius_m, station_ids=_visible(),
                                              only_online=wanted.only_online,
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
    data = _camera_json(camera)
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
    return render_template("cameras/import.html", report=report.to_dict(gettext),
                           message=schemas.summary_message(report, gettext), error=None), (200 if report.committed else 422)


@blueprint.get("/cameras/coverage")
@require_roles(*READERS)
def coverage_page():
    """Coverage per station as a table and a drawing of stations, covered areas and uncovered tracks."""
    error = None
    try:
        radius = _coverage_from(request.args).radius_m
        period = period_from_request(optional=True)
    except DomainError as exc:
        error = exc.to_dict(gettext)["message"]
        radius, period = current_app.config["CAMERA_COVERAGE_RADIUS_M"], None
    only_online = schemas.flag(request.args.get("online_only"))
    result, layer = coverage_with_layer(db(), radius_m=radius, station_ids=_visible(), only_online=only_online,
                                        period=period)
    from gridsvc.cameras.drawing import coverage_svg

    svg = coverage_svg(db(), layer=layer, station_ids=_visible())
    return render_template("cameras/coverage.html", result=result, svg=svg, args=request.args, error=error), \
        (422 if error else 200)
