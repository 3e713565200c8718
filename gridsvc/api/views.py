"""Serves the OpenAPI document."""
from flask import Blueprint, jsonify

from gridsvc.api.openapi import openapi_document

try:
    from gridsvc.auth.access import public
except ModuleNotFoundError:  # before accounts existed every route was open
    def public(view):
        """No-op stand-in when gridsvc.auth is absent."""
        return view

blueprint = Blueprint("api", __name__)


@blueprint.get("/api/v1/openapi.json")
@public
def openapi_json():
    """The OpenAPI 3.1 description of the whole API (public: it describes no data)."""
    return jsonify(openapi_document())
