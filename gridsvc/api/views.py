"""Serves the OpenAPI document."""
from flask import Blueprint, jsonify

from gridsvc.api.openapi import openapi_document

from gridsvc.access import public

blueprint = Blueprint("api", __name__)


@blueprint.get("/api/v1/openapi.json")
@public
def openapi_json():
    """The OpenAPI 3.1 description of the whole API (public: it describes no data)."""
    return jsonify(openapi_document())
