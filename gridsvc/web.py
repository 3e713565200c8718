"""Request plumbing: one database session and one transaction per request, error rendering."""
from __future__ import annotations

import contextlib
from typing import Iterator

import sqlalchemy as sa
from flask import Flask, current_app, g, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.routing import IntegerConverter

from gridsvc.db import DEFERRED, IMMEDIATE_NOWAIT, begin_as, is_lock_contention
from gridsvc.errors import DomainError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_AFTER_SECONDS = 2


def db() -> Session:
    """The request's database session (opened on first use).

    GET, HEAD and OPTIONS read: their transaction begins deferred and never takes SQLite's write
    lock. Every other method's transaction takes the lock when it begins; by then the body has been
    received (receive_body, run by the sign-in hook), so no slow client holds the lock.
    """
    if "db_session" not in g:
        session = current_app.extensions["gridsvc"].sessions()
        if request.method in SAFE_METHODS and not (request.method == "GET" and _writes_on_get()):
            begin_as(session, DEFERRED)
            sa.event.listen(session, "before_flush", _refuse_write_on_safe_method)
        g.db_session = session
    return g.db_session


class SafeMethodWriteError(RuntimeError):
    """A GET, HEAD or OPTIONS request tried to write: a bug, refused before anything reaches the database."""


def _refuse_write_on_safe_method(session, _context, _instances):
    # HEAD runs a view's GET code; a view that wrote on a safe method would write without a CSRF
    # check (browsers send those cross-site freely). Such a write is refused and the request fails.
    raise SafeMethodWriteError(f"{request.method} {request.path} tried to write")


# Views marked with writes_on_get store what a GET sends (the OsmAnd protocol: tracker apps send
# positions as GET query strings). Only such views may write on a GET; HEAD still never writes.
WRITES_ON_GET_ATTRIBUTE = "writes_on_get"


def writes_on_get(view):
    """Mark a view whose GET writes (a tracker protocol); it must not rely on CSRF or a cookie."""
    setattr(view, WRITES_ON_GET_ATTRIBUTE, True)
    return view


def _writes_on_get() -> bool:
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return bool(getattr(view, WRITES_ON_GET_ATTRIBUTE, False))


@contextlib.contextmanager
def lookup_session() -> Iterator[Session]:
    """A short read-only transaction of its own (who is calling), ended before the view runs."""
    session = begin_as(current_app.extensions["gridsvc"].sessions(), DEFERRED)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def write_if_free(work) -> bool:
    """Run work(session) in a short write transaction of its own, skipped when the write lock is taken.

    For bookkeeping a read request may do (a token's last-use stamp): it must never make the read
    wait for, or fail on, another writer. Returns whether it was written.
    """
    session = current_app.extensions["gridsvc"].sessions()
    try:
        begin_as(session, IMMEDIATE_NOWAIT)
        work(session)
        session.commit()
        return True
    except sa.exc.OperationalError as error:
        session.rollback()
        if not is_lock_contention(error):
            raise
        return False
    finally:
        session.close()


# Views marked with accepts_large_body (file uploads) read bodies up to MAX_CONTENT_LENGTH; every
# other request body is capped at MAX_JSON_BODY_BYTES.
LARGE_BODY_ATTRIBUTE = "accepts_large_body"


def accepts_large_body(view):
    """Mark an upload view (GPX, CSV, tracks): its body may reach MAX_CONTENT_LENGTH, not MAX_JSON_BODY_BYTES."""
    setattr(view, LARGE_BODY_ATTRIBUTE, True)
    return view


def body_limit() -> int | None:
    """The most bytes this request's body may have: MAX_CONTENT_LENGTH for upload views, else MAX_JSON_BODY_BYTES."""
    overall = current_app.config.get("MAX_CONTENT_LENGTH")
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if getattr(view, LARGE_BODY_ATTRIBUTE, False):
        return overall
    limits = [limit for limit in (overall, current_app.config.get("MAX_JSON_BODY_BYTES")) if limit is not None]
    return min(limits) if limits else None


def receive_body() -> None:
    """Read the whole request body now, before any write transaction begins; 413 over the cap.

    The sign-in hook calls it once the caller is known (gridsvc.auth.web), so an anonymous caller's
    body is never read, and a view's write lock is never held while a slow client sends. Forms and
    multipart uploads are parsed (files stream to temporary files); any other body is cached.
    """
    if request.method in SAFE_METHODS:
        return
    ensure_body_within_cap()
    request.get_data(cache=True, parse_form_data=True)


def ensure_body_within_cap() -> None:
    """For a chunked body (no Content-Length) that is not multipart: read it now, 413 if over the cap.

    Werkzeug's capped stream ends quietly at the cap when read whole, so a too-long chunked JSON or
    CSV body would be read truncated (a misleading 422, or a silently shortened import). One more
    byte from the server's own (de-chunked) input tells a body of exactly the cap from a longer one.
    Multipart bodies are left to the form parser, which streams files and raises 413 at the cap itself.
    """
    limit = request.max_content_length
    if (limit is None or request.content_length is not None or request.mimetype == "multipart/form-data"
            or "chunked" not in request.headers.get("Transfer-Encoding", "").lower()):
        return
    data = request.get_data(cache=True)
    if len(data) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


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
    def _cap_request_body():
        # Registered before every other hook, so no body has been read yet. A 32 MiB polygon took
        # 6 s and 290 MiB to decode before being refused as too complex: bodies that are not file
        # uploads are held to MAX_JSON_BODY_BYTES. A declared Content-Length over the cap is refused
        # unread.
        # A chunked body is held to the same cap once the caller is known (ensure_body_within_cap).
        limit = body_limit()
        request.max_content_length = limit
        if limit is not None and request.content_length is not None and request.content_length > limit:
            raise RequestEntityTooLarge()

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
        body = {"error": error_dict(error)}
        if wants_json():
            response = current_app.make_response((jsonify(body), error.http_status))
        else:
            response = current_app.make_response(
                (render_template("error.html", status=error.http_status, message=body["error"]["message"]),
                 error.http_status))
        retry_after = getattr(error, "retry_after_seconds", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def _body_too_large(error: RequestEntityTooLarge):
        # Over the body cap: say which cap. (The same 413 also comes from a form field over
        # MAX_FORM_MEMORY_SIZE in a body under a declared Content-Length; that one keeps the generic
        # message. Without a Content-Length the two can't be told apart and the cap is named.)
        limit, declared = request.max_content_length, request.content_length
        if limit is None or (declared is not None and declared <= limit):
            return _http_error(error)
        message = gettext("The request body is larger than the %(max_bytes)s bytes accepted here.", max_bytes=limit)
        if wants_json():
            return jsonify({"error": {"code": "request_entity_too_large", "message": message,
                                      "params": {"max_bytes": limit}}}), 413
        return render_template("error.html", status=413, message=message), 413

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        message = gettext(error.name)
        if wants_json():
            return jsonify({"error": {"code": error.name.lower().replace(" ", "_"), "message": message}}), error.code
        return render_template("error.html", status=error.code, message=message), error.code

    @app.errorhandler(sa.exc.OperationalError)
    def _database_busy(error: sa.exc.OperationalError):
        # SQLite's write lock was not had within SQLITE_LOCK_WAIT_SECONDS: the transaction is rolled
        # back (status >= 400), nothing is written, and the client may simply send it again.
        if not is_lock_contention(error):
            return _unexpected(error)
        current_app.logger.warning("write lock busy: %s %s answered 503", request.method, request.path)
        message = gettext("The server is busy; nothing was saved. Try again in a few seconds.")
        if wants_json():
            response = jsonify({"error": {"code": "busy", "message": message}})
        else:
            response = current_app.make_response((render_template("error.html", status=503, message=message), 503))
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        # Log the detail, show nothing of it: error pages must not leak internals.
        current_app.logger.exception("unhandled error")
        message = gettext("Internal error; the request was not saved.")
        if wants_json():
            return jsonify({"error": {"code": "internal_error", "message": message}}), 500
        return render_template("error.html", status=500, message=message), 500


def period_from_request(*, optional: bool = False):
    """The period the request asks for: ?period= (or ?from=&to=) in DISPLAY_TIMEZONE, else DEFAULT_PERIOD.

    With optional=True a request that names no period gets None (every period).
    """
    from gridsvc.periods import parse_period

    args = request.args
    text, date_from, date_to = args.get("period"), args.get("from"), args.get("to")
    if optional and not (text or date_from or date_to):
        return None
    return parse_period(text or str(current_app.config["DEFAULT_PERIOD"]), date_from=date_from, date_to=date_to,
                        tz=current_app.config["DISPLAY_TIMEZONE"])


def error_dict(error: DomainError) -> dict:
    """A domain error as the caller reads it: in their language, times in DISPLAY_TIMEZONE."""
    return error.to_dict(gettext, tz=current_app.config["DISPLAY_TIMEZONE"])


def json_object() -> dict:
    """The request body as a JSON object, or a clear 422."""
    from gridsvc.errors import ValidationError

    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ValidationError("json_object_required", "The request body must be a JSON object")
    return payload
