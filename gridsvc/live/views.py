"""The live view's URLs: the snapshot API and the centre's live page. Thin: the service reads, the schemas shape."""
from __future__ import annotations

import datetime as dt
import secrets
import threading
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from flask import Blueprint, current_app, jsonify, render_template, request
from flask_login import current_user

from gridsvc.access import require_roles, visible_station_ids
from gridsvc.auth.service import still_signed_in
from gridsvc.db import DEFERRED, IMMEDIATE, IMMEDIATE_NOWAIT, begin_as, is_lock_contention, utcnow
from gridsvc.errors import DomainError
from gridsvc.geo.shapes import from_db
from gridsvc.grids.service import list_grids
from gridsvc.live import schemas, service, stream
from gridsvc.web import db

blueprint = Blueprint("live", __name__)

# Who watches the zone live: the centre and managers every station; station roles their own
# station's patrollers and those on their station's tasks. Volunteers see only their own patrols.
LIVE_READERS = ("grid_worker", "station_manager", "centre_viewer", "manager")


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


@blueprint.get("/api/v1/live")
@require_roles(*LIVE_READERS)
def live_snapshot_api():
    """Every patroller on an open session in the caller's scope: last position, session and online/stale/offline."""
    rules = service.LiveRules.from_config(current_app.config)
    now = utcnow()
    patrollers = service.snapshot(db(), station_ids=visible_station_ids(current_user), now=now, rules=rules)
    response = jsonify(schemas.snapshot_json(patrollers, now=now, zone=_zone(), stale_after=rules.stale_after,
                                             offline_after=rules.offline_after))
    response.headers["Cache-Control"] = "no-store"  # whereabouts: never kept by a proxy or the browser
    return response


class TooManyStreams(DomainError):
    """More live streams than LIVE_MAX_STREAMS_PER_USER for one account (across every server)."""

    http_status = 429


_watcher_lock = threading.Lock()


def _watcher(app) -> stream.ChangeWatcher:
    """The process's one change watcher (made on first use)."""
    with _watcher_lock:
        watcher = app.extensions.get("gridsvc_live_watcher")
        if watcher is None:
            watcher = stream.ChangeWatcher(app.extensions["gridsvc"].sessions,
                                           interval=float(app.config["LIVE_POLL_SECONDS"]),
                                           rules=service.LiveRules.from_config(app.config))
            app.extensions["gridsvc_live_watcher"] = watcher
        return watcher


_REFUSED = "refused"  # open_stream's answer over the limit, told apart from a write skipped for the lock


def _write(sessions, work, *, wait: bool = True):
    """work(session) in a short write transaction of its own; without `wait`, skipped while SQLite's lock is taken."""
    session = sessions()
    try:
        begin_as(session, IMMEDIATE if wait else IMMEDIATE_NOWAIT)  # SQLite's BEGIN runs here: inside the try
        result = work(session)
        session.commit()
        return result
    except sa.exc.OperationalError as error:
        session.rollback()
        if wait or not is_lock_contention(error):
            raise
        return None
    finally:
        session.close()


def _snapshot_json(watcher, scope, rules, zone) -> dict:
    now, patrollers = watcher.snapshot(station_ids=scope)
    return schemas.snapshot_json(patrollers, now=now, zone=zone, stale_after=rules.stale_after,
                                 offline_after=rules.offline_after)


def _shared_views(app) -> stream.SharedViews:
    """The process's cache of snapshots and their differences, shared by streams of one scope."""
    with _watcher_lock:
        shared = app.extensions.get("gridsvc_live_shared")
        if shared is None:
            shared = stream.SharedViews(lambda: _watcher(app).version,
                                        float(app.config["LIVE_STREAM_RECOMPUTE_SECONDS"]))
            app.extensions["gridsvc_live_shared"] = shared
        return shared


@blueprint.get("/api/v1/live/stream")
@require_roles(*LIVE_READERS)
def live_stream_api():
    """Server-Sent Events: the snapshot, then sessions started and ended, positions, states and counts as they change.

    Authenticated by the page's session cookie or a bearer header (never a token in the URL); it
    ends within LIVE_STREAM_RECHECK_SECONDS of a sign-out, an expiry or a disabled account.
    """
    app = current_app._get_current_object()
    config = app.config
    user_id, session_id, token_id = current_user.id, current_user.session_id, current_user.token_id
    scope = visible_station_ids(current_user)
    rules, zone = service.LiveRules.from_config(config), _zone()
    sessions = app.extensions["gridsvc"].sessions
    recheck_s = float(config["LIVE_STREAM_RECHECK_SECONDS"])
    limit = int(config["LIVE_MAX_STREAMS_PER_USER"])
    if request.method == "HEAD":  # the headers only: no stream, nothing registered
        return _stream_response(app, iter(()))

    def register():
        opened = _write(sessions, lambda session: service.open_stream(
            session, user_id=user_id, now=utcnow(), limit=limit, live_after=dt.timedelta(seconds=3 * recheck_s))
            or _REFUSED, wait=False)
        return opened

    # A GET never waits for SQLite's write lock: when another writer holds it, the stream is
    # registered at its first recheck instead (and ended then if the account is over its limit).
    registered = register()
    if registered == _REFUSED:
        raise TooManyStreams("too_many_streams", "At most %(limit)s live streams per account: close another live "
                             "page first", limit=limit)
    stream_id = registered

    def short(read):
        session = begin_as(sessions(), DEFERRED)
        try:
            return read(session)
        finally:
            session.rollback()
            session.close()

    watcher = _watcher(app)
    shared = _shared_views(app)
    scope_key = None if scope is None else frozenset(scope)

    def load() -> dict:
        return shared.snapshot(scope_key, lambda: _snapshot_json(watcher, scope, rules, zone))

    def still_allowed() -> bool:
        nonlocal stream_id
        if not short(lambda session: still_signed_in(session, session_id=session_id, token_id=token_id)):
            return False
        if stream_id is None:
            late = register()
            if late == _REFUSED:
                return False
            stream_id = late
            return True
        # Renewed while it runs; skipped when another writer holds SQLite's lock (the row lives 3 rechecks).
        _write(sessions, lambda session: service.renew_stream(session, stream_id=stream_id, now=utcnow()), wait=False)
        return True

    def events():
        try:
            yield from stream.live_events(
                load=load, still_allowed=still_allowed, watcher=watcher, stream_id=secrets.token_hex(4),
                diff=shared.changes,
                heartbeat_s=float(config["LIVE_STREAM_HEARTBEAT_SECONDS"]),
                recheck_s=recheck_s, recompute_s=float(config["LIVE_STREAM_RECOMPUTE_SECONDS"]))
        finally:
            if stream_id is not None:
                try:
                    _write(sessions, lambda session: service.close_stream(session, stream_id=stream_id))
                except sa.exc.SQLAlchemyError:  # the database is gone: the row expires by itself
                    app.logger.warning("live: stream %s not closed in the registry", stream_id)

    return _stream_response(app, events())


def _stream_response(app, body):
    response = app.response_class(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx passes each event on at once
    return response


@blueprint.get("/live")
@require_roles(*LIVE_READERS)
def live_page():
    """Who is out patrolling now: the map, the list and the counts per station, refreshed without reloading."""
    scope = visible_station_ids(current_user)
    stations = [grid for grid in list_grids(db(), level="station") if scope is None or grid.id in scope]
    outlines = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": grid.code, "name": grid.name},
         "geometry": from_db(grid.geom).__geo_interface__} for grid in stations]}
    config = {"snapshot": "/api/v1/live", "stream": "/api/v1/live/stream",
              "refresh_seconds": float(current_app.config["LIVE_PAGE_REFRESH_SECONDS"])}
    return render_template("live/live.html", stations=stations, outlines=outlines, config=config)
