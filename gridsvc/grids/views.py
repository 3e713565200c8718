"""Grid API."""
from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user

from gridsvc.access import ensure_visible, require_roles, signed_in, visible_station_ids
from gridsvc.grids import schemas, service
from gridsvc.web import db, json_object

blueprint = Blueprint("grids", __name__)


def _visible_features(collection: dict) -> dict:
    """Station users see the centre and their own station with its cells (codes extend the station's)."""
    visible = visible_station_ids(current_user)
    if visible is None:
        return collection
    codes = {grid.code for grid in service.list_grids(db(), level="station") if grid.id in visible}
    collection["features"] = [
        feature for feature in collection["features"]
        if feature["properties"]["level"] == "centre" or any(feature["properties"]["code"].startswith(c) for c in codes)
    ]
    return collection


@blueprint.get("/api/v1/grids")
@signed_in
def list_grids():
    """All grids as GeoJSON (optionally ?level=station); station users get their own station's."""
    return current_app.response_class(
        current_app.json.dumps(_visible_features(service.grids_geojson(db(), level=schemas.parse_level(request.args)))),
        mimetype="application/geo+json",
    )


@blueprint.get("/api/v1/grids/<code>/coverage")
@require_roles("centre_viewer", "manager")
def grid_coverage(code: str):
    """How much of a centre its stations cover, and any overlaps."""
    return jsonify(service.coverage(db(), centre_code=code))


@blueprint.post("/api/v1/grids")
@require_roles("station_manager")
def create_grid():
    """Create a grid from JSON {name, level, parent_code, geometry[, code]}; 201 with its code.

    Admins create any grid; a station manager only cells inside their own station.
    """
    new = schemas.parse_new_grid(json_object())
    if current_user.role != "admin":
        if new.level != "cell":
            from werkzeug.exceptions import Forbidden

            raise Forbidden()
        parent = service.get_grid(db(), code=str(new.parent_code or ""))
        ensure_visible(current_user, parent.id, missing=service.grid_not_found(parent.code))
    grid = service.create_grid(
        db(),
        name=new.name,
        level=new.level,
        geometry=new.geometry,
        parent_code=new.parent_code,
        code=new.code,
        region_code=current_app.config["REGION_CODE"],
        code_digits=current_app.config["STATION_CODE_DIGITS"],
    )
    return jsonify(schemas.created_grid_json(grid)), 201
