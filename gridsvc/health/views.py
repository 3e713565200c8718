"""GET /healthz: public, no data; 200 when the database answers and its schema is at head, else 503."""
from __future__ import annotations

import functools

from flask import Blueprint, jsonify

from gridsvc.access import public
from gridsvc.health import service
from gridsvc.web import db

blueprint = Blueprint("health", __name__)


@functools.cache
def _head() -> str:
    return service.head_revision()


@blueprint.get("/healthz")
@public
def healthz():
    """Database reachable and schema at head: 200 {"ok": true, ...}; otherwise 503 with what is wrong."""
    status = service.check(db(), head=_head())
    return jsonify(status), 200 if status["ok"] else 503
