"""Camera API."""
from flask import Blueprint, current_app

from gridsvc.cameras import service
from gridsvc.web import db

blueprint = Blueprint("cameras", __name__)


@blueprint.get("/api/v1/cameras")
def list_cameras():
    """All cameras as GeoJSON."""
    return current_app.response_class(
        current_app.json.dumps(service.cameras_geojson(db())), mimetype="application/geo+json"
    )
