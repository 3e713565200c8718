"""Patrol pages (log a patrol, one's own patrols, group tasks) and the patrol API.

Views are thin: they read the request, call the services through PatrolIntake, and render. Each
view is a plain function so access control can wrap it with a decorator.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import uuid
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext

from flask_login import current_user

from gridsvc.access import (can_see_station, device_intake, ensure_own_record, ensure_visible, own_patroller_id,
                            public, require_roles)
from gridsvc.db import DEFERRED, IMMEDIATE_NOWAIT, begin_as, is_lock_contention, is_sqlite, utcnow
from gridsvc.errors import DomainError, NotFoundError, ValidationError
from gridsvc.geo.shapes import from_db
from gridsvc.grids.models import Grid
from gridsvc.grids.service import get_grid, list_grids
from gridsvc.patrols import from_points, schemas, service
from gridsvc.patrols.intake import (IntakeSettings, PatrolIntake, PayloadTooLarge, normalise_uuid, parse_kind,
                                    parse_task_id, parse_time, require_client_uuid, start_point_from_text)
from gridsvc.patrols.models import SESSION_STATUSES, PatrolTask
from gridsvc.patrols.track import TrackError
from gridsvc.patrols.verification import REASON_LABELS
from gridsvc.patrols.zone import load_zone
from gridsvc.people.service import patroller_not_found, resolve_patroller, visible_patroller
from gridsvc.positions import reading as position_reading
from gridsvc.positions import schemas as position_schemas
from gridsvc.positions.views import tracker_device, tracker_request
from gridsvc.figures import hours
from gridsvc.periods import parse_period
from gridsvc.web import accepts_large_body, db, error_dict, json_object, period_from_request, writes_on_get

blueprint = Blueprint("patrols", __name__)

# Room for the other fields of a single submission around its GeoJSON track.
JSON_ENVELOPE_BYTES = 64 * 1024


def _grid(code: str):
    """The grid with this code; text PostgreSQL could not even compare (NUL) is simply not found."""
    if "\x00" in code or len(code) > 64:
        raise NotFoundError("grid_not_found", "No grid has the code %(code)s", code=code[:64].replace("\x00", ""))
    return get_grid(db(), code=code)


def _settings() -> IntakeSettings:
    return IntakeSettings.from_config(current_app.config)


def _intake() -> PatrolIntake:
    """The request's intake: the app's caps, and the signed-in user, for whom each patrol must be theirs to log."""
    return PatrolIntake(db(), _settings(), caller=current_user)


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


# ---------------------------------------------------------------------------------------------
# JSON shapes (gridsvc.patrols.schemas)
# ---------------------------------------------------------------------------------------------


def _task_json(task: PatrolTask, *, with_signups: bool = False, only_patroller: int | None = None) -> dict:
    """schemas.task_json with the task's sign-up counts; `only_patroller`: of the sign-ups, that person's alone."""
    signups = None
    if with_signups:
        signups = [signup for signup in task.signups if only_patroller is None or signup.patroller_id == only_patroller]
    return schemas.task_json(task, summary=service.task_summary(db(), task), zone=_zone(), signups=signups)


# ---------------------------------------------------------------------------------------------
# API: patrol sessions
# ---------------------------------------------------------------------------------------------


# Who may log patrols through the API: volunteers their own, grid workers and station managers
# their station's, managers anyone's (checked per item by the intake, PatrolIntake.patrol).
PATROL_WRITERS = ("volunteer", "grid_worker", "station_manager", "manager")
# Everyone who patrols or oversees patrols reads them, each within their scope (access.ensure_own_record).
PATROL_READERS = ("centre_viewer", *PATROL_WRITERS)
# Group tasks: the station roles run their own station's, managers every station's; volunteers see
# their station's and sign themselves up.
TASK_RUNNERS = ("station_manager", "grid_worker", "manager")
TASK_SIGNERS = ("volunteer", *TASK_RUNNERS)  # the centre viewer reads tasks, never signs anyone up
TASK_READERS = ("centre_viewer", *TASK_SIGNERS)


def _own_patroller_ref():
    """The signed-in account's own patroller id, or None (accounts that are not a patroller)."""
    return current_user.patroller_id


def _visible_patroller(ref):
    """The patroller a reference names, if the caller may see their records; else "no such volunteer"."""
    return visible_patroller(db(), user=current_user, ref=ref)


def _visible_task(task_id: int) -> PatrolTask:
    """The task, if it belongs to the caller's stations; else "no such task", as for a missing one."""
    task = service.get_task(db(), task_id=task_id)
    ensure_visible(current_user, task.station_id, missing=service.task_not_found(task_id))
    return task


def _visible_station(code: str):
    """The station with this code, if the caller may see it; else "no such grid"."""
    from gridsvc.grids.service import grid_not_found

    station = _grid(code)
    ensure_visible(current_user, station.id, missing=grid_not_found(code))
    return station


def _visible_stations() -> list:
    return [grid for grid in list_grids(db(), level="station") if can_see_station(current_user, grid.id)]


@blueprint.post("/api/v1/patrols")
@accepts_large_body
@require_roles(*PATROL_WRITERS)
def create_patrol_api():
    """Log one patrol: JSON (optional GeoJSON track) or multipart with a GPX file in `track`. 201 new, 200 retry."""
    if request.mimetype == "multipart/form-data":
        intake = _intake()
        payload = {key: request.form.get(key) for key in ("client_uuid", "kind", "volunteer", "start", "end", "task_id")}
        upload = request.files.get("track")
        source = "api"
        if upload is not None and upload.filename:
            payload["track"] = intake.gpx_track(upload.read())
            source = "gpx"
        lon, lat = request.form.get("start_lon"), request.form.get("start_lat")
        if lon or lat:
            payload["start_point"] = start_point_from_text(lon, lat)
    else:
        # The request is read whole before the intake takes over: refused unread when too large.
        max_bytes = int(current_app.config["MAX_TRACK_BYTES"])
        if request.content_length is not None and request.content_length > max_bytes + JSON_ENVELOPE_BYTES:
            raise TrackError("track_too_large", size=request.content_length, max_bytes=max_bytes)
        payload, source = json_object(), "api"
        intake = _intake()
    return _stored_answer(*intake.submit(payload, source=source))


def _stored_answer(patrol, created: bool):
    """201 with the new session, or 200 with the one a retry names; its URL in Location."""
    response = jsonify(schemas.patrol_json(patrol, zone=_zone()))
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("patrols.get_patrol_api", patrol_id=patrol.id)
    return response


@blueprint.post("/api/v1/patrols/batch")
@accepts_large_body
@require_roles(*PATROL_WRITERS)
def create_patrols_batch_api():
    """Log up to MAX_BATCH_SIZE patrols; answers 200 with one result (status, id or error) per item."""
    payload = request.get_json(silent=True)
    items = payload.get("sessions") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        raise ValidationError("batch_format", "The body must be a JSON object with a list of sessions")
    maximum = int(current_app.config["MAX_BATCH_SIZE"])
    if len(items) > maximum:
        raise PayloadTooLarge("batch_too_large", "A batch holds at most %(max)s sessions; this one has %(count)s",
                              max=maximum, count=len(items))
    if not items:
        raise ValidationError("batch_empty", "The batch holds no sessions")
    results = [schemas.batch_success_json(outcome.index, outcome.patrol, created=outcome.created)
               if outcome.error is None else _item_error(outcome.index, items[outcome.index], outcome.error)
               for outcome in _intake().log_many(items, source="api")]
    return jsonify(schemas.batch_json(results))


def _item_error(index: int, item, error: DomainError) -> dict:
    return schemas.batch_failure_json(index, item, status=error.http_status, error=error_dict(error))


@blueprint.get("/api/v1/patrols/<int:patrol_id>")
@require_roles(*PATROL_READERS)
def get_patrol_api(patrol_id: int):
    """One patrol session with its verification, time per grid and track (a volunteer's own; a station's)."""
    return jsonify(schemas.patrol_json(_own_visible_patrol(patrol_id), zone=_zone(), with_track=True))


def _rules() -> from_points.PointRules:
    return from_points.PointRules.from_config(current_app.config)


def _own_visible_patrol(patrol_id: int):
    """The session, if it is the caller's own or their station's patroller's (404 otherwise)."""
    patrol = service.get_patrol(db(), patrol_id=patrol_id)
    ensure_own_record(current_user, station_id=patrol.patroller.station_id, patroller_id=patrol.patroller_id,
                      missing=service.patrol_not_found(patrol_id))
    return patrol


@blueprint.post("/api/v1/patrols/start")
@require_roles(*PATROL_WRITERS)
def start_patrol_api():
    """Start a patrol now (the caller's own by default); 201 the open session, 200 the same client_uuid again."""
    payload = json_object()
    client_uuid, kind, task_id = _start_fields(payload)
    patroller = _visible_patroller(payload.get("volunteer") or _own_patroller_ref())
    if task_id is not None:
        _visible_task(task_id)
    return _stored_answer(*from_points.start_session(db(), client_uuid=client_uuid, kind=kind,
                                                     patroller_id=patroller.id, task_id=task_id))


def _start_fields(payload) -> tuple[str, str, int | None]:
    """A start's client_uuid (canonical), kind and task id, each checked."""
    client_uuid = normalise_uuid(require_client_uuid(payload.get("client_uuid")))
    return client_uuid, parse_kind(payload.get("kind")), parse_task_id(payload.get("task_id"))


@blueprint.post("/api/v1/patrols/recorder")
@device_intake
def recorder_session_api():
    """The phone recorder's start and stop, by its own device key (never the sign-in), with the phone's times.

    `{device_id, client_uuid, kind, task_id?, start, end?}`: the session opens at `start` and, with
    `end`, stops there; the same again answers the same session. An expired sign-in or a new CSRF
    token loses nothing the recorder queued.
    """
    now = utcnow()
    with tracker_request(now):
        payload = json_object()
        key = payload.get("device_id")
        device = tracker_device(key if isinstance(key, str) else "", json_body=True)
        client_uuid, kind, task_id = _start_fields(payload)
        started_at = parse_time(payload.get("start"), which="start")
        if started_at is None:
            raise ValidationError("start_required", "The start time is required")
        ended_at = parse_time(payload.get("end"), which="end")
        trimmed_from = parse_time(payload.get("trimmed_from"), which="trimmed_from")
    if task_id is not None and service.get_task(db(), task_id=task_id).station_id != device.patroller.station_id:
        raise service.task_not_found(task_id)  # only the patroller's own station's tasks
    patrol = from_points.recorded_session(db(), client_uuid=client_uuid, kind=kind, patroller_id=device.patroller_id,
                                          task_id=task_id, started_at=started_at, ended_at=ended_at,
                                          trimmed_from=trimmed_from, zone=_intake().zone, rules=_rules(), now=now)
    return jsonify(schemas.patrol_json(patrol, zone=_zone()))


@blueprint.post("/api/v1/patrols/<int:patrol_id>/stop")
@require_roles(*PATROL_WRITERS)
def stop_patrol_api(patrol_id: int):
    """Stop a running patrol (now, or at `end`): its time and verification from the points; a stopped one as it is."""
    payload = request.get_json(silent=True) if request.content_length else None
    if payload is not None and not isinstance(payload, dict):
        raise ValidationError("json_object_required", "The request body must be a JSON object")
    ended_at = parse_time((payload or {}).get("end"), which="end", local_tz=None)
    patrol = from_points.stop_session(db(), patrol=_own_visible_patrol(patrol_id), zone=_intake().zone,
                                      rules=_rules(), ended_at=ended_at)
    return jsonify(schemas.patrol_json(patrol, zone=_zone(), with_track=True))


@blueprint.post("/api/v1/patrols/<int:patrol_id>/confirm")
@require_roles(*PATROL_WRITERS)
def confirm_patrol_api(patrol_id: int):
    """Confirm a detected trip as a patrol (the patroller, or their station: then also as task attendance)."""
    patrol = _own_visible_patrol(patrol_id)
    patrol = from_points.confirm_trip(db(), patrol=patrol, by_station=current_user.patroller_id != patrol.patroller_id)
    return jsonify(schemas.patrol_json(patrol, zone=_zone()))


@blueprint.post("/api/v1/patrols/<int:patrol_id>/reject")
@require_roles(*PATROL_WRITERS)
def reject_patrol_api(patrol_id: int):
    """Reject a detected trip: it was no patrol; it is kept as rejected and never proposed again."""
    patrol = from_points.reject_trip(db(), patrol=_own_visible_patrol(patrol_id))
    return jsonify(schemas.patrol_json(patrol, zone=_zone()))


@blueprint.get("/api/v1/patrols/<int:patrol_id>/points")
@require_roles(*PATROL_READERS)
@writes_on_get  # the read is logged in the same transaction: no point leaves without its record
def patrol_points_api(patrol_id: int):
    """Every stored tracker point of the patrol's patroller between its start and end, with its flags.

    Visible as the patrol itself is (404 otherwise). Who read them is logged (gridsvc.positions.reading),
    unless the patroller reads their own; a HEAD shows no point and logs nothing.
    """
    patrol = _own_visible_patrol(patrol_id)
    points = position_reading.points_between(db(), patroller_id=patrol.patroller_id, start=patrol.started_at,
                                             end=patrol.ended_at or utcnow())
    if request.method == "GET":
        position_reading.record_read(db(), reader_user_id=current_user.id,
                                     reader_patroller_id=current_user.patroller_id, patroller_id=patrol.patroller_id,
                                     what="patrol_points", patrol_id=patrol.id)
    return jsonify(position_schemas.patrol_points_json(patrol.id, points, zone=_zone()))


def _period_bounds():
    """The requested period (default the configured one) and its UTC bounds."""
    period = period_from_request()
    return period, *period.utc_bounds()


def _status_arg() -> str:
    status = request.args.get("status") or "logged"
    if status not in SESSION_STATUSES:
        raise ValidationError("status_unknown", "status must be one of %(statuses)s", statuses=", ".join(SESSION_STATUSES))
    return status


def _proposals_found(patroller) -> None:
    """Store the patroller's trips detected since the last look, so the proposals listed are current.

    The request itself only reads (a read never waits for a writer); new trips are written in a
    short transaction of their own that gives up at once when the database is busy (the timer's
    `patrols detect-trips` stores them then).
    """
    rules, now = _rules(), utcnow()
    if request.method != "GET" or not from_points.pending_trips(db(), patroller_id=patroller.id, rules=rules, now=now):
        return
    writer = begin_as(current_app.extensions["gridsvc"].sessions(), IMMEDIATE_NOWAIT)
    try:
        if not is_sqlite(writer):
            writer.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
        from_points.propose_trips(writer, patroller_id=patroller.id, zone=load_zone(writer), rules=rules, now=now)
        writer.commit()
    except sa.exc.OperationalError as error:
        writer.rollback()
        if not (is_lock_contention(error) or getattr(error.orig, "sqlstate", None) == "55P03"):
            raise
        current_app.logger.warning("database busy: trips of patroller %s left to the timer", patroller.id)
        return
    finally:
        writer.close()
    # The request's read began before that write: end it (it wrote nothing), and a new read sees the proposals.
    db().commit()
    begin_as(db(), DEFERRED)


@blueprint.get("/api/v1/patrols")
@require_roles(*PATROL_READERS)
def list_patrols_api():
    """One volunteer's (or grid worker's) patrols of one status in a period, with claimed and verified totals.

    ?volunteer= defaults to the signed-in patroller; station roles read their station's, a
    volunteer only their own; anyone else's answers as a volunteer that does not exist. ?status=
    proposed lists detected trips awaiting confirmation (of any period unless one is named).
    """
    patroller = _visible_patroller(request.args.get("volunteer") or _own_patroller_ref())
    status = _status_arg()
    if status == "logged" or period_from_request(optional=True) is not None:
        period, start, end = _period_bounds()
        label = period.label
    else:
        label, start, end = "all", None, None
    if status == "proposed":
        _proposals_found(patroller)
    listing = service.list_patrols(db(), patroller_id=patroller.id, start=start, end=end, status=status)
    return jsonify(schemas.patrol_list_json(patroller, period_label=label, listing=listing, zone=_zone()))


@blueprint.get("/api/v1/patrol-time")
@require_roles("centre_viewer", "manager")
def patrol_time_api():
    """Seconds and hours patrolled in one grid (?grid=CODE) in a period, by role and kind."""
    code = request.args.get("grid")
    if not code:
        raise ValidationError("grid_required", "Say which grid: ?grid=CODE")
    period, start, end = _period_bounds()
    result = service.time_in_grid(db(), grid_code=_grid(code).code, start=start, end=end)
    return jsonify(schemas.patrol_time_json(period_label=period.label, result=result))


# ---------------------------------------------------------------------------------------------
# API: group-patrol tasks
# ---------------------------------------------------------------------------------------------


@blueprint.get("/api/v1/patrol-tasks")
@require_roles(*TASK_READERS)
def list_tasks_api():
    """Group-patrol tasks of a period (?period= or ?from=&to=), optionally of one station (?station=CODE).

    Station roles and volunteers get their own station's tasks only.
    """
    station_id = _visible_station(request.args["station"]).id if request.args.get("station") else None
    period, start, end = _period_bounds()
    if station_id is None and current_user.station_id is not None:
        station_id = current_user.station_id  # scoped before the limit, so a busy zone hides none of them
    tasks = [task for task in service.list_tasks(db(), station_id=station_id, start=start, end=end, limit=1000,
                                                 open_only=request.args.get("open") in ("1", "true"))
             if can_see_station(current_user, task.station_id)]
    return jsonify(schemas.task_list_json(period_label=period.label, tasks=[_task_json(task) for task in tasks]))


@blueprint.post("/api/v1/patrol-tasks")
@require_roles(*TASK_RUNNERS)
def create_task_api():
    """Publish a group-patrol task: {title, station, start, end, headcount[, area]}; 201 with the task."""
    payload = json_object()
    task = _create_task(payload, local_times=False)
    return jsonify(_task_json(task)), 201


def _create_task(payload, *, local_times: bool) -> PatrolTask:
    station_code = payload.get("station")
    if (not isinstance(station_code, str) or not station_code) and current_user.station_id is not None:
        station_code = db().get(Grid, current_user.station_id).code  # a station role publishes for its own
    if not isinstance(station_code, str) or not station_code:
        raise ValidationError("station_required", "Say which station publishes the task")
    station = _visible_station(station_code)
    local_tz = _zone() if local_times else None
    starts_at = parse_time(payload.get("start"), which="start", local_tz=local_tz)
    ends_at = parse_time(payload.get("end"), which="end", local_tz=local_tz)
    if starts_at is None or ends_at is None:
        raise ValidationError("task_times_required", "A task needs a start and an end time")
    return service.create_task(db(), title=payload.get("title") if isinstance(payload.get("title"), str) else "",
                               station_id=station.id, starts_at=starts_at, ends_at=ends_at,
                               headcount=_headcount(payload.get("headcount", 1)), area=_task_area(payload, station))


def _headcount(value):
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) < 7:
        return int(value)
    return value


def _task_area(payload, station):
    """The task's area: GeoJSON `area`, or the area of the grid named by `area_grid` (a grid of the station)."""
    from gridsvc.grids.service import grid_not_found

    grid_code = payload.get("area_grid")
    if isinstance(grid_code, str) and grid_code.strip():
        grid = _grid(grid_code.strip())
        if grid.parent_id != station.id and grid.id != station.id:
            raise grid_not_found(grid_code.strip())
        return from_db(grid.geom)
    area = payload.get("area")
    if isinstance(area, str):  # the page's hidden field carries the drawn area as GeoJSON text
        import json

        try:
            area = json.loads(area) if area.strip() else None
        except ValueError:
            raise ValidationError("task_area_invalid",
                                  "The task area must be a GeoJSON Polygon, MultiPolygon or LineString") from None
    return service.parse_task_area(area)


def _task_changes(payload: dict, task: PatrolTask, *, local_times: bool) -> dict:
    """The update_task arguments a PATCH body (or the edit form) asks for."""
    local_tz = _zone() if local_times else None
    changes = {}
    if "title" in payload:
        changes["title"] = payload["title"]
    if "start" in payload:
        changes["starts_at"] = parse_time(payload["start"], which="start", local_tz=local_tz)
    if "end" in payload:
        changes["ends_at"] = parse_time(payload["end"], which="end", local_tz=local_tz)
    for key in ("starts_at", "ends_at"):
        if key in changes and changes[key] is None:
            raise ValidationError("task_times_required", "A task needs a start and an end time")
    if "headcount" in payload:
        changes["headcount"] = _headcount(payload["headcount"])
    if "area" in payload or payload.get("area_grid"):
        changes["area"] = _task_area(payload, task.station)
    return changes


@blueprint.get("/api/v1/patrol-tasks/<int:task_id>")
@require_roles(*TASK_READERS)
def get_task_api(task_id: int):
    """A task with its sign-ups and person-hours (a volunteer: their own sign-up only, not their neighbours')."""
    return jsonify(_task_json(_visible_task(task_id), with_signups=True, only_patroller=own_patroller_id(current_user)))


@blueprint.patch("/api/v1/patrol-tasks/<int:task_id>")
@require_roles(*TASK_RUNNERS)
def update_task_api(task_id: int):
    """Change a task: any of {title, start, end, headcount, area (null: the whole station), area_grid}."""
    payload = json_object()
    task = _visible_task(task_id)
    task = service.update_task(db(), task_id=task.id, **_task_changes(payload, task, local_times=False))
    return jsonify(_task_json(task, with_signups=True))


@blueprint.post("/api/v1/patrol-tasks/<int:task_id>/cancel")
@require_roles(*TASK_RUNNERS)
def cancel_task_api(task_id: int):
    """Cancel a task that has no recorded patrol; its sign-ups are withdrawn."""
    task = service.cancel_task(db(), task_id=_visible_task(task_id).id)
    return jsonify(_task_json(task, with_signups=True))


@blueprint.post("/api/v1/patrol-tasks/<int:task_id>/withdrawal")
@require_roles(*TASK_SIGNERS)
def withdraw_api(task_id: int):
    """Withdraw a sign-up: {volunteer} (a volunteer: themselves, the default) before the task is over."""
    payload = json_object()
    _visible_task(task_id)
    patroller = _visible_patroller(payload.get("volunteer") or _own_patroller_ref())
    signup = service.cancel_signup(db(), task_id=task_id, patroller_id=patroller.id)
    return jsonify(schemas.signup_json(signup))


@blueprint.post("/api/v1/patrol-tasks/<int:task_id>/signups")
@require_roles(*TASK_SIGNERS)
def sign_up_api(task_id: int):
    """Sign a volunteer up: {volunteer} (a volunteer: themselves, the default); 201 new, 200 when already signed up."""
    payload = json_object()
    _visible_task(task_id)
    patroller = _visible_patroller(payload.get("volunteer") or _own_patroller_ref())
    signup, created = service.sign_up(db(), task_id=task_id, patroller_id=patroller.id)
    return jsonify(schemas.sign_up_json(signup, created=created)), 201 if created else 200


@blueprint.post("/api/v1/patrol-tasks/<int:task_id>/attendance")
@require_roles(*TASK_RUNNERS)
def attendance_api(task_id: int):
    """Confirm attendance: {attendance: [{volunteer, attended, start?, end?, paper?}]}; all or nothing.

    `paper: true` enters a participant from the task's paper sign-in sheet (补录): no sign-up needed,
    claimed hours only, never verified.
    """
    payload = json_object()
    task = _visible_task(task_id)
    entries = payload.get("attendance")
    if not isinstance(entries, list) or not entries:
        raise ValidationError("attendance_format", "attendance must be a non-empty list")
    if len(entries) > max(task.headcount, 1) * 2 + 100:
        raise ValidationError("attendance_too_long", "At most %(max)s attendance entries at once",
                              max=max(task.headcount, 1) * 2 + 100)
    results = []
    for entry in entries:
        if (not isinstance(entry, dict) or not isinstance(entry.get("attended"), bool)
                or not isinstance(entry.get("paper", False), bool)):
            raise ValidationError("attendance_entry_format",
                                  "Each attendance entry is {volunteer, attended: true or false[, start, end, paper]}")
        patroller = _visible_patroller(entry.get("volunteer"))
        signup = service.confirm_attendance(
            db(), task_id=task.id, patroller_id=patroller.id, attended=entry["attended"],
            started_at=parse_time(entry.get("start"), which="start"), ended_at=parse_time(entry.get("end"), which="end"),
            source="api", from_paper=entry.get("paper", False), max_hours=int(current_app.config["MAX_SESSION_HOURS"]),
        )
        results.append(schemas.signup_json(signup))  # as it is now: an entry may name someone again
    return jsonify(schemas.attendance_json(_task_json(task), results))


# ---------------------------------------------------------------------------------------------
# Web pages
# ---------------------------------------------------------------------------------------------


def _local_input(moment: dt.datetime | None) -> str:
    """A datetime-local input value in the display zone."""
    return "" if moment is None else moment.astimezone(_zone()).strftime("%Y-%m-%dT%H:%M")


def _viewer_ref() -> str:
    """Whose patrols to show: ?volunteer=, else the signed-in account's own patroller."""
    chosen = (request.values.get("volunteer") or "").strip()
    if chosen:
        return chosen
    me = _own_patroller()
    return "" if me is None else (me.app_account_id or str(me.id))


def _recent_tasks(station_id: int | None = None) -> list[PatrolTask]:
    """Tasks of the last two weeks and the next month that the caller may see (their stations' only)."""
    now = dt.datetime.now(dt.timezone.utc)
    if station_id is None and current_user.station_id is not None:
        station_id = current_user.station_id  # scoped before the limit
    tasks = service.list_tasks(db(), station_id=station_id, start=now - dt.timedelta(days=14),
                               end=now + dt.timedelta(days=30), limit=200)
    return [task for task in tasks if can_see_station(current_user, task.station_id)]


def _visible_patrollers() -> list:
    """The people the caller may pick: all for zone-wide roles, their station's, or only themselves."""
    own = own_patroller_id(current_user)
    return [p for p in service.patroller_choices(db())
            if can_see_station(current_user, p.station_id) and (own is None or p.id == own)]


def _own_patroller():
    """The signed-in account's own patroller record (volunteer or grid worker), or None."""
    from gridsvc.people.models import Patroller

    return db().get(Patroller, current_user.patroller_id) if current_user.patroller_id is not None else None


def _form_context(**extra) -> dict:
    return {
        "me": _own_patroller(),
        "only_me": own_patroller_id(current_user) is not None,
        "patrollers": _visible_patrollers(),
        "tasks": _recent_tasks(),
        "reason_labels": REASON_LABELS,
        "local": _local_input,
        **extra,
    }


@blueprint.get("/patrols")
@require_roles("centre_viewer", *PATROL_WRITERS)
def my_patrols_page():
    """One's own patrols with claimed and verified hours (pick the volunteer with ?volunteer=)."""
    ref = _viewer_ref()
    context = {"volunteer_ref": ref, "patrollers": _visible_patrollers(), "listing": None, "me": _own_patroller(),
               "only_me": own_patroller_id(current_user) is not None,
               "period_text": request.args.get("period", ""), "local": _local_input}
    status = 200
    if ref:
        try:
            patroller = resolve_patroller(db(), ref)
            ensure_own_record(current_user, station_id=patroller.station_id, patroller_id=patroller.id,
                              missing=patroller_not_found(ref))
            period, start, end = _period_bounds() if request.args.get("period") else (None, None, None)
            listing = service.list_patrols(db(), patroller_id=patroller.id, start=start, end=end)
            this_year = parse_period(str(dt.datetime.now(_zone()).year), tz=current_app.config["DISPLAY_TIMEZONE"])
            year_start, year_end = this_year.utc_bounds()
            year = service.list_patrols(db(), patroller_id=patroller.id, start=year_start, end=year_end, limit=0)
            # The year's target and completion as the reports give them (a hook: reports is a higher layer).
            year_target = current_app.extensions.get("gridsvc_patroller_year_target")
            context["year_target"] = year_target and year_target(db(), patroller_id=patroller.id, period=this_year)
            _proposals_found(patroller)
            proposals = service.list_patrols(db(), patroller_id=patroller.id, status="proposed")["patrols"]
            context.update(patroller=patroller, period=period, listing=listing, this_year=this_year,
                           totals=schemas.totals_json(listing["totals"]), year_totals=schemas.totals_json(year["totals"]),
                           running=from_points.open_session_of(db(), patroller_id=patroller.id), proposals=proposals)
        except DomainError as error:
            context["error"] = error_dict(error)["message"]
            status = error.http_status
    return render_template("patrols/mine.html", **context), status


def _back_to_patrols(patroller, message: str | None = None, *, error: DomainError | None = None):
    """Back to the patroller's patrols page, saying what happened (or what was refused)."""
    if error is not None:
        db().rollback()
        message = error_dict(error)["message"]
    if message:
        flash(message)
    return redirect(url_for("patrols.my_patrols_page", volunteer=patroller.app_account_id or patroller.id), 303)


@blueprint.post("/patrols/start")
@require_roles(*PATROL_WRITERS)
def start_patrol_form():
    """Start an individual patrol now from the patrols page (a tracker app sends the points)."""
    patroller = _visible_patroller(request.form.get("volunteer") or _own_patroller_ref())
    try:
        from_points.start_session(db(), client_uuid=normalise_uuid(request.form.get("client_uuid") or str(uuid.uuid4())),
                                  kind="individual", patroller_id=patroller.id)
    except DomainError as error:
        return _back_to_patrols(patroller, error=error)
    return _back_to_patrols(patroller, gettext("Patrol started: your tracker's points from now on are this patrol."))


def _page_patrol(patrol_id: int, action):
    """Run a page's action on a patrol the caller may see, and go back to the patroller's page."""
    patrol = _own_visible_patrol(patrol_id)
    patroller = patrol.patroller
    try:
        message = action(patrol)
    except DomainError as error:
        return _back_to_patrols(patroller, error=error)
    return _back_to_patrols(patroller, message)


@blueprint.post("/patrols/<int:patrol_id>/stop")
@require_roles(*PATROL_WRITERS)
def stop_patrol_form(patrol_id: int):
    """Stop the running patrol from the patrols page."""
    def stop(patrol):
        stopped = from_points.stop_session(db(), patrol=patrol, zone=_intake().zone, rules=_rules())
        return gettext("Patrol stopped: %(claimed)s h, %(verified)s h verified from the points.",
                       claimed=hours(stopped.duration_seconds), verified=hours(stopped.verified_seconds or 0))
    return _page_patrol(patrol_id, stop)


@blueprint.post("/patrols/<int:patrol_id>/confirm")
@require_roles(*PATROL_WRITERS)
def confirm_patrol_form(patrol_id: int):
    """Confirm a detected trip from the patrols page."""
    def confirm(patrol):
        from_points.confirm_trip(db(), patrol=patrol, by_station=current_user.patroller_id != patrol.patroller_id)
        return gettext("Trip confirmed as a patrol.")
    return _page_patrol(patrol_id, confirm)


@blueprint.post("/patrols/<int:patrol_id>/reject")
@require_roles(*PATROL_WRITERS)
def reject_patrol_form(patrol_id: int):
    """Reject a detected trip from the patrols page."""
    def reject(patrol):
        from_points.reject_trip(db(), patrol=patrol)
        return gettext("Trip rejected: it is not counted and will not be proposed again.")
    return _page_patrol(patrol_id, reject)


@blueprint.get("/patrols/new")
@require_roles("centre_viewer", *PATROL_WRITERS)
def new_patrol_page():
    """The form to log a patrol; its hidden client_uuid makes a double submit store one session."""
    form = {
        "client_uuid": str(uuid.uuid4()),
        "kind": request.args.get("kind", "individual"),
        # The signed-in patroller logs their own patrol unless they pick someone else.
        "volunteer": request.args.get("volunteer") or (_own_patroller().app_account_id or str(_own_patroller().id)
                                                       if _own_patroller() is not None else ""),
        "task_id": request.args.get("task_id", ""),
        "start": "", "end": "", "start_lon": "", "start_lat": "",
    }
    return render_template("patrols/new.html", form=form, **_form_context())


@blueprint.post("/patrols/new")
@accepts_large_body
@require_roles(*PATROL_WRITERS)
def submit_patrol_form():
    """Store the form's patrol, then show it (303); on a refusal show the form again with the reason."""
    form = {key: (request.form.get(key) or "").strip()
            for key in ("client_uuid", "kind", "volunteer", "task_id", "start", "end", "start_lon", "start_lat")}
    intake = _intake()
    try:
        payload = dict(form)
        if form["kind"] != "group":
            payload["task_id"] = ""
        payload.pop("start_lon"), payload.pop("start_lat")
        if form["start_lon"] or form["start_lat"]:
            payload["start_point"] = start_point_from_text(form["start_lon"], form["start_lat"])
        upload = request.files.get("track")
        if upload is not None and upload.filename:
            payload["track"] = intake.gpx_track(upload.read())
        patrol, created = intake.submit(payload, source="web", naive_times_local=True)
    except DomainError as error:
        message = error_dict(error)["message"]
        return render_template("patrols/new.html", form=form, error=message, error_code=error.code,
                               **_form_context()), error.http_status
    return redirect(url_for("patrols.patrol_page", patrol_id=patrol.id, saved="new" if created else "again"), 303)


@blueprint.get("/patrols/<int:patrol_id>")
@require_roles("centre_viewer", *PATROL_WRITERS)
def patrol_page(patrol_id: int):
    """One patrol: claimed and verified hours, the reasons for any difference, time per grid."""
    patrol = _own_visible_patrol(patrol_id)
    track = from_db(patrol.track)
    return render_template("patrols/detail.html", patrol=patrol, saved=request.args.get("saved"),
                           reason_labels=REASON_LABELS, hours=hours, local=_local_input,
                           track_geojson=None if track is None else track.__geo_interface__,
                           station_outline=from_db(patrol.station.geom).__geo_interface__)


# What the phone recorder needs to open with no network, once visited (the service worker's shell).
RECORDER_STATIC = ("gridsvc.css", "patrols.css", "recorder/recorder.css", "recorder/geo.js", "recorder/queue.js",
                   "recorder/sync.js", "recorder/recorder.js", "recorder/record-page.js", "recorder/signout.js",
                   "npm/idb/index.js")


def _geojson(geometry) -> dict | None:
    shape = from_db(geometry)
    return None if shape is None else shape.__geo_interface__


@blueprint.get("/patrols/record")
@require_roles(*PATROL_WRITERS)
def record_page():
    """The phone recorder: start, walk, stop; the points go to the phone's queue first and up when there is a network."""
    me = _own_patroller()
    if me is None:
        return render_template("patrols/record.html", me=None,
                               error=gettext("The recorder records one's own patrols: this account is not a volunteer "
                                             "or grid worker.")), 200
    zone = _zone()
    tasks = service.tasks_to_record(db(), patroller_id=me.id, now=utcnow())
    config = current_app.config
    outline = _intake().zone.outline
    recorder = {
        # The queue's owner: the patroller's id, which no edit of an account number changes or repeats.
        "patroller": str(me.id),
        "station": {"code": me.station.code, "name": me.station.name, "area": _geojson(me.station.geom)},
        "zone": None if outline is None else outline.__geo_interface__,
        "tasks": [{"id": task.id, "title": task.title, "area": _geojson(task.area),
                   "start": schemas.local_iso(task.starts_at, zone), "end": schemas.local_iso(task.ends_at, zone)} for task in tasks],
        "idle": {"minutes": config["RECORDER_IDLE_MINUTES"], "radius_m": config["RECORDER_IDLE_RADIUS_M"],
                 "answer_minutes": config["RECORDER_IDLE_ANSWER_MINUTES"]},
        "service_worker": url_for("patrols.recorder_service_worker"),
        "scope": url_for("patrols.record_page"),
        "patrol_url": url_for("patrols.patrol_page", patrol_id=0),
    }
    return render_template("patrols/record.html", me=me, tasks=tasks, recorder=recorder, local=_local_input)


@functools.lru_cache(maxsize=4)
def _shell_version(static_folder: str) -> str:
    """A digest of the recorder's static files: a new release makes the service worker fetch them again."""
    digest = hashlib.sha256()
    for name in RECORDER_STATIC:
        path = os.path.join(static_folder, name)
        if os.path.exists(path):
            with open(path, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()[:16]


@blueprint.get("/patrols/record-sw.js")
@public  # fetched by the browser for updates, also signed out; it holds nothing of anyone's
def recorder_service_worker():
    """The recorder's service worker: the app shell cached for offline use."""
    shell = [url_for("patrols.record_page"), *(url_for("static", filename=name) for name in RECORDER_STATIC)]
    body = render_template("patrols/record-sw.js", shell=shell, version=_shell_version(current_app.static_folder),
                           page=url_for("patrols.record_page"))
    response = current_app.response_class(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


def _task_period():
    """The period the task list browses (?period=, or ?from=&to=), or None for the recent window."""
    if not (request.args.get("period") or request.args.get("from") or request.args.get("to")):
        return None
    return period_from_request()


@blueprint.get("/patrols/tasks")
@require_roles(*TASK_READERS)
def tasks_page():
    """Group-patrol tasks: a period (?period=2026-12), else the last two weeks and the next month; the caller's stations only.

    A volunteer sees first the open tasks they may still join.
    """
    station_code = request.args.get("station") or ""
    station = _visible_station(station_code) if station_code else None
    error, period = None, None
    try:
        period = _task_period()
    except DomainError as problem:
        error = error_dict(problem)["message"]
    if period is not None:
        start, end = period.utc_bounds()
        station_id = station.id if station else current_user.station_id
        tasks = [task for task in service.list_tasks(db(), station_id=station_id, start=start, end=end, limit=500)
                 if can_see_station(current_user, task.station_id)]
    else:
        tasks = _recent_tasks(station.id if station else None)
    now = dt.datetime.now(dt.timezone.utc)
    own = current_user.patroller_id
    mine = {signup.task_id for task in tasks for signup in task.signups
            if own is not None and signup.patroller_id == own and signup.status in service.ACTIVE_SIGNUP_STATUSES}
    open_tasks = [task for task in tasks if task.cancelled_at is None and task.ends_at > now]
    return render_template("patrols/tasks.html", tasks=tasks, open_tasks=open_tasks, mine=mine, now=now,
                           stations=_visible_stations(), station_code=station_code, local=_local_input,
                           period=period, period_text=request.args.get("period", ""), error=error,
                           summaries={task.id: service.task_summary(db(), task) for task in tasks})


def _station_grids(station_ids) -> list:
    """The cells of these stations (for "take the area from a grid"), by code."""
    return [grid for grid in list_grids(db(), level="cell") if grid.parent_id in station_ids]


def _task_form_context(form: dict, **extra) -> dict:
    """What the task form's map needs: the stations' outlines, their grids, and the area drawn so far."""
    import json

    stations = _visible_stations()
    codes = {station.id: station.code for station in stations}
    grids = _station_grids(codes)
    try:
        initial_area = json.loads(form.get("area") or "null")
    except ValueError:
        initial_area = None
    return {
        "form": form, "stations": stations, "grids": grids,
        "station_outlines": {station.code: from_db(station.geom).__geo_interface__ for station in stations},
        "grid_shapes": {grid.code: {"station": codes[grid.parent_id], "geometry": from_db(grid.geom).__geo_interface__}
                        for grid in grids},
        "initial_area": initial_area if isinstance(initial_area, dict) else None, **extra,
    }


@blueprint.get("/patrols/tasks/new")
@require_roles(*TASK_RUNNERS)
def new_task_page():
    """The form to publish a group-patrol task (a station role: for its own station), with its area on a map."""
    today = dt.datetime.now(_zone()).replace(hour=19, minute=0, second=0, microsecond=0)
    form = {"headcount": "10", "start": today.strftime("%Y-%m-%dT%H:%M"),
            "end": (today + dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"), "area": "", "area_grid": ""}
    return render_template("patrols/task_new.html", task=None, **_task_form_context(form))


TASK_FORM_FIELDS = ("title", "station", "start", "end", "headcount", "area", "area_grid")


@blueprint.post("/patrols/tasks/new")
@require_roles(*TASK_RUNNERS)
def submit_task_form():
    """Publish the task, then show it (303) with a confirmation."""
    form = {key: (request.form.get(key) or "").strip() for key in TASK_FORM_FIELDS}
    try:
        task = _create_task(form, local_times=True)
    except DomainError as error:
        db().rollback()
        return render_template("patrols/task_new.html", task=None, error=error_dict(error)["message"],
                               **_task_form_context(form)), error.http_status
    flash(gettext("Task published: %(title)s.", title=task.title))
    return redirect(url_for("patrols.task_page", task_id=task.id), 303)


@blueprint.get("/patrols/tasks/<int:task_id>/edit")
@require_roles(*TASK_RUNNERS)
def edit_task_page(task_id: int):
    """The form to change a task's title, time, headcount or area."""
    task = _visible_task(task_id)
    if task.cancelled_at is not None:
        return _render_task(task, error=error_dict(service.task_cancelled(task))["message"], status=409)
    area = from_db(task.area)
    form = {"title": task.title, "station": task.station.code, "start": _local_input(task.starts_at),
            "end": _local_input(task.ends_at), "headcount": str(task.headcount),
            "area": "" if area is None else current_app.json.dumps(area.__geo_interface__), "area_grid": ""}
    return render_template("patrols/task_new.html", task=task, **_task_form_context(form))


@blueprint.post("/patrols/tasks/<int:task_id>/edit")
@require_roles(*TASK_RUNNERS)
def submit_task_edit(task_id: int):
    """Save the task's changes, then show it (303) with a confirmation."""
    task = _visible_task(task_id)
    form = {key: (request.form.get(key) or "").strip() for key in TASK_FORM_FIELDS}
    changes = {key: form[key] for key in ("title", "start", "end", "headcount", "area", "area_grid")}
    try:
        service.update_task(db(), task_id=task.id, **_task_changes(changes, task, local_times=True))
    except DomainError as error:
        db().rollback()
        return render_template("patrols/task_new.html", task=_visible_task(task_id),
                               error=error_dict(error)["message"], **_task_form_context(form)), error.http_status
    flash(gettext("Task saved."))
    return redirect(url_for("patrols.task_page", task_id=task_id), 303)


@blueprint.post("/patrols/tasks/<int:task_id>/cancel")
@require_roles(*TASK_RUNNERS)
def cancel_task_form(task_id: int):
    """Cancel the task (the page asks to confirm first)."""
    task = _visible_task(task_id)
    try:
        service.cancel_task(db(), task_id=task.id)
    except DomainError as error:
        db().rollback()
        return _render_task(_visible_task(task_id), error=error_dict(error)["message"], status=error.http_status)
    flash(gettext("Task cancelled; its sign-ups were withdrawn."))
    return redirect(url_for("patrols.task_page", task_id=task_id), 303)


def _render_task(task: PatrolTask, *, error: str | None = None, status: int = 200):
    now = dt.datetime.now(dt.timezone.utc)
    own = current_user.patroller_id
    own_signup = next((signup for signup in task.signups if own is not None and signup.patroller_id == own), None)
    # Only the task's station's people: a picker of 647 names helps nobody.
    station_people = [p for p in _visible_patrollers() if p.station_id == task.station_id]
    taken = {signup.patroller_id for signup in task.signups if signup.status in service.ACTIVE_SIGNUP_STATUSES}
    area = from_db(task.area)
    return render_template(
        "patrols/task.html", task=task, summary=service.task_summary(db(), task), local=_local_input,
        patrollers=station_people, free_patrollers=[p for p in station_people if p.id not in taken],
        error=error, hours=hours, can_run=current_user.role in (*TASK_RUNNERS, "admin"),
        trips=from_points.proposed_for_task(db(), task_id=task.id),
        own_signup=own_signup, is_over=task.ends_at <= now, has_started=task.starts_at <= now,
        is_cancelled=task.cancelled_at is not None,
        area_geojson=None if area is None else area.__geo_interface__,
        station_outline=from_db(task.station.geom).__geo_interface__,
    ), status


@blueprint.get("/patrols/tasks/<int:task_id>")
@require_roles(*TASK_READERS)
def task_page(task_id: int):
    """A task: its area, sign-ups, a sign-up form, and for the station attendance and the paper sheet."""
    task = _visible_task(task_id)
    if current_user.role in (*TASK_RUNNERS, "admin") and task.starts_at <= utcnow():
        # The trips the participants' trackers recorded are offered as their attendance.
        for signup in task.signups:
            if signup.status in service.ACTIVE_SIGNUP_STATUSES and signup.session_id is None:
                _proposals_found(signup.patroller)
    return _render_task(task)


@blueprint.post("/patrols/tasks/<int:task_id>/signups")
@require_roles(*TASK_SIGNERS)
def sign_up_form(task_id: int):
    """Sign up the volunteers ticked on the task page (a volunteer signs themselves up); all or nothing."""
    task = _visible_task(task_id)
    refs = [ref.strip() for ref in request.form.getlist("volunteer") if ref.strip()]
    if not refs and current_user.patroller_id is not None and own_patroller_id(current_user) is not None:
        refs = [str(current_user.patroller_id)]  # a volunteer's "sign me up"
    created, already = [], []
    try:
        if not refs:
            raise ValidationError("signup_none_chosen", "Tick at least one person to sign up")
        for ref in refs:
            patroller = _visible_patroller(ref)
            _, new = service.sign_up(db(), task_id=task.id, patroller_id=patroller.id)
            (created if new else already).append(patroller.name)
    except DomainError as error:
        db().rollback()
        return _render_task(_visible_task(task_id), error=error_dict(error)["message"], status=error.http_status)
    if created:
        flash(gettext("Signed up: %(names)s.", names="、".join(created)))
    if already:
        flash(gettext("Already signed up: %(names)s.", names="、".join(already)))
    return redirect(url_for("patrols.task_page", task_id=task.id), 303)


@blueprint.post("/patrols/tasks/<int:task_id>/withdrawal")
@require_roles(*TASK_SIGNERS)
def withdraw_form(task_id: int):
    """Withdraw a sign-up (a volunteer their own; the station any of its people's)."""
    task = _visible_task(task_id)
    try:
        patroller = _visible_patroller(request.form.get("volunteer") or _own_patroller_ref())
        service.cancel_signup(db(), task_id=task.id, patroller_id=patroller.id)
    except DomainError as error:
        db().rollback()
        return _render_task(_visible_task(task_id), error=error_dict(error)["message"], status=error.http_status)
    flash(gettext("Sign-up withdrawn: %(name)s.", name=patroller.name))
    return redirect(url_for("patrols.task_page", task_id=task.id), 303)


@blueprint.post("/patrols/tasks/<int:task_id>/attendance")
@require_roles(*TASK_RUNNERS)
def attendance_form(task_id: int):
    """Confirm the attendance rows ticked on the task page; all or nothing."""
    task = _visible_task(task_id)
    local_tz = _zone()
    confirmed = 0
    try:
        for signup in list(task.signups):
            choice = request.form.get(f"attended_{signup.id}")
            if choice not in ("yes", "no"):
                continue
            ensure_own_record(current_user, station_id=signup.patroller.station_id, patroller_id=signup.patroller_id,
                              missing=patroller_not_found(signup.patroller.app_account_id or signup.patroller.name))
            service.confirm_attendance(
                db(), task_id=task.id, patroller_id=signup.patroller_id, attended=choice == "yes",
                started_at=parse_time(request.form.get(f"start_{signup.id}"), which="start", local_tz=local_tz),
                ended_at=parse_time(request.form.get(f"end_{signup.id}"), which="end", local_tz=local_tz),
                source="web", max_hours=int(current_app.config["MAX_SESSION_HOURS"]),
            )
            confirmed += 1
        if not confirmed:
            raise ValidationError("attendance_none_chosen", "Choose attended or absent for at least one person")
    except DomainError as error:
        db().rollback()
        return _render_task(_visible_task(task_id), error=error_dict(error)["message"],
                            status=error.http_status)
    flash(ngettext("Attendance saved for %(num)d person.", "Attendance saved for %(num)d people.", confirmed))
    return redirect(url_for("patrols.task_page", task_id=task.id), 303)


@blueprint.post("/patrols/tasks/<int:task_id>/paper")
@require_roles(*TASK_RUNNERS)
def paper_attendance_form(task_id: int):
    """Enter who came from the task's paper sign-in sheet (补录): the ticked people, one time span; all or nothing."""
    task = _visible_task(task_id)
    local_tz = _zone()
    refs = [ref.strip() for ref in request.form.getlist("volunteer") if ref.strip()]
    try:
        if not refs:
            raise ValidationError("paper_none_chosen", "Tick the people on the paper sign-in sheet")
        started_at = parse_time(request.form.get("start"), which="start", local_tz=local_tz)
        ended_at = parse_time(request.form.get("end"), which="end", local_tz=local_tz)
        for ref in refs:
            patroller = _visible_patroller(ref)
            service.confirm_attendance(
                db(), task_id=task.id, patroller_id=patroller.id, attended=True, started_at=started_at,
                ended_at=ended_at, source="web", from_paper=True,
                max_hours=int(current_app.config["MAX_SESSION_HOURS"]),
            )
    except DomainError as error:
        db().rollback()
        return _render_task(_visible_task(task_id), error=error_dict(error)["message"], status=error.http_status)
    flash(ngettext("Entered from the paper sheet (补录) for %(num)d person; not counted as verified.",
                   "Entered from the paper sheet (补录) for %(num)d people; not counted as verified.", len(refs)))
    return redirect(url_for("patrols.task_page", task_id=task.id), 303)


@blueprint.app_template_filter("patrol_hours")
def _hours_filter(seconds) -> str:
    return "—" if seconds is None else f"{hours(seconds):.2f}"

