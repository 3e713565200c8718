"""Grid API."""
from flask import Blueprint, current_app, jsonify, request

from gridsvc.grids import service
from gridsvc.web import db, json_object

blueprint = Blueprint("grids", __name__)


@blueprint.get("/api/v1/grids")
def list_grids():
    """All grids as GeoJSON (optionally ?level=station)."""
    return current_app.response_class(
        current_app.json.dumps(service.grids_geojson(db(), level=request.args.get("level"))),
        mimetype="application/geo+json",
    )


@blueprint.get("/api/v1/grids/<code>/coverage")
def grid_coverage(code: str):
    """How much of a centre its stations cover, and any overlaps."""
    return jsonify(service.coverage(db(), centre_code=code))


@blueprint.post("/api/v1/grids")
def create_grid():
    """Create a grid from JSON {name, level, parent_code, geometry[, code]}; 201 with its code."""
    payload = json_object()
    grid = service.create_grid(
        db(),
        name=payload.get("name"),
        level=payload.get("level"),
        geometry=payload.get("geometry"),
        parent_code=payload.get("parent_code"),
        code=payload.get("code"),
        region_code=current_app.config["REGION_CODE"],
        code_digits=current_app.config["STATION_CODE_DIGITS"],
    )
    return jsonify({"code": grid.code, "name": grid.name, "level": grid.level}), 201
