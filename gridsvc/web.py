"""Request plumbing: one database session and one transaction per request, error rendering."""
from __future__ import annotations

from flask import Flask, current_app, g, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException, UnsupportedMediaType
from werkzeug.routing import IntegerConverter

from gridsvc.errors import DomainError


def db() -> Session:
    """The request's database session (opened on first use)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["gridsvc"].sessions()
    return g.db_session


def wants_json() -> bool:
    """API paths answer JSON, pages answer HTML."""
    return request.path.startswith("/api/")


class NestingSafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, where a body nested too deeply for the decoder is invalid JSON (a 4xx), not a 500."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


class DatabaseIntegerConverter(IntegerConverter):
    """<int:...> ids fit a 32-bit INTEGER column: /x/2147483648 is a 404, not a PostgreSQL out-of-range 500."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Install the per-request transaction and the error handlers."""
    app.url_map.converters["int"] = DatabaseIntegerConverter  # before the blueprints add their rules
    json_provider = NestingSafeJSONProvider(app)
    json_provider.ensure_ascii, json_provider.sort_keys = app.json.ensure_ascii, app.json.sort_keys
    app.json = json_provider

    @app.before_request
    def _refuse_compressed_bodies():
        # Bodies are read as sent: a gzip/deflate body is refused with 415 rather than decompressed
        # (no decompression bombs) or misread as plain JSON.
        if request.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity"):
            raise UnsupportedMediaType("Content-Encoding is not supported; send the body uncompressed")


    @app.after_request
    def _finish_transaction(response):
        # Commit before the response leaves: a failed commit becomes a 500, never a false 2xx.
        session = g.pop("db_session", None)
        if session is not None:
            try:
                if response.status_code < 400:
                    session.commit()
                else:
                    session.rollback()
            finally:
                session.close()
        return response

    @app.teardown_request
    def _discard_on_error(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):
        body = {"error": error.to_dict(gettext)}
        if wants_json():
            return jsonify(body), error.http_status
        return render_template("error.html", status=error.http_status, message=body["error"]["message"]), error.http_status

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        message = gettext(error.name)
        if wants_json():
            return jsonify({"error": {"code": error.name.lower().replace(" ", "_"), "message": message}}), error.code
        return render_template("error.html", status=error.code, message=message), error.code

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        # Log the detail, show nothing of it: error pages must not leak internals.
        current_app.logger.exception("unhandled error")
        message = gettext("Internal error; the request was not saved.")
        if wants_json():
            return jsonify({"error": {"code": "internal_error", "message": message}}), 500
        return render_template("error.html", status=500, message=message), 500


def json_object() -> dict:
    """The request body as a JSON object, or a clear 422."""
    from gridsvc.errors import ValidationError

    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ValidationError("json_object_required", "The request body must be a JSON object")
    return payload
