"""GET /healthz: public, no data; 200 when the database answers and its schema is at head, else 503."""
from __future__ import annotations

import functools

from flask import Blueprint, jsonify
from sqlalchemy.exc import DBAPIError

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
    try:
        session = db()  # on a GET this connects at once: an unreachable database fails here
    except DBAPIError:
        status = {"ok": False, "database": "unreachable", "schema": "unknown"}
    else:
        status = service.check(session, head=_head())
    return jsonify(status), 200 if status["ok"] else 503
