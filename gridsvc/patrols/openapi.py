"""OpenAPI 3.1 description of the patrols routes (merged by gridsvc.api.openapi.openapi_document).

Every body is the schema beside the function that shapes it, or beside what the intake reads, in
gridsvc.patrols.schemas. GET /api/v1/patrols/{patrol_id}/points is the positions domain's.
"""
from __future__ import annotations

import functools

from gridsvc.apidoc import (
    PERIOD_PARAMETERS,
    error_responses,
    json_body,
    json_response,
    operation,
    path_parameters,
    query,
)
from gridsvc.patrols import schemas

_RETRY_AFTER = {"Retry-After": {"description": "whole seconds to wait before sending again",
                                "schema": {"type": "integer", "minimum": 1}}}
_LOCATION = {"Location": {"description": "the patrol session's URL", "schema": {"type": "string"}}}
# What every write may answer besides its own refusals: 400 CSRF token missing (a session cookie),
# 401, 403 (role or CSRF), 413 body too large, 415 a compressed body, 503 the database busy.
_WRITE_ERRORS = (400, 401, 403, 413, 415, 503)


def _errors(*statuses: int) -> dict:
    """The shared Error answers; a 503 (database busy) says when to retry."""
    responses = error_responses(*sorted(set(statuses)))
    if "503" in responses:
        responses["503"] = {**responses["503"], "headers": _RETRY_AFTER}
    return responses


_operation = functools.partial(operation, tag="patrols")


def _with_location(response: dict) -> dict:
    return {**response, "headers": _LOCATION}




def _id_parameter(name: str, description: str) -> list[dict]:
    """An id in the path: 1 to 2147483647 (a 32-bit INTEGER column; a larger one matches no route)."""
    [parameter] = path_parameters(f"/{{{name}}}", integers={name}, descriptions={name: description})
    return [{**parameter, "schema": {**parameter["schema"], "maximum": 2**31 - 1}}]


_PATROL_ID = _id_parameter("patrol_id", "the session's id")
_TASK_ID = _id_parameter("task_id", "the task's id")
# PATCH on a task id beyond 2147483647: no PATCH route matches, but the GET rule's path does (Werkzeug: 405).
_PATCH_405 = {"405": {**error_responses(405)["405"], "description": "a task id beyond 2147483647: no such route"}}
_TASK_404 = "404 for a task (or volunteer) that is not there or not the caller's station's"

PATHS: dict = {
    "/api/v1/patrols": {
        "post": _operation(
            "createPatrol",
            "Log one patrol: JSON (start and end, or a GeoJSON track with times; optionally a start point) or a "
            "multipart form with a GPX file in track. client_uuid makes it idempotent: 201 new, 200 a replay of "
            "the same body, 409 client_uuid_reused (another body) or overlapping_session; a volunteer logs their "
            "own, a station role its station's; 404 for a volunteer or task outside the caller's scope",
            {"201": _with_location(json_response(schemas.PATROL, "Stored")),
             "200": _with_location(json_response(schemas.PATROL, "Stored before: the same submission again")),
             **_errors(*_WRITE_ERRORS, 404, 409, 422)},
            body=json_body(schemas.PATROL_BODY, extra_content={
                "multipart/form-data": {"schema": schemas.PATROL_FORM}})),
        "get": _operation(
            "listPatrols",
            "One volunteer's (or grid worker's) patrols in a period, newest first, with claimed and verified "
            "totals by kind; ?volunteer= defaults to the caller's own patroller (an account that is none must "
            "name one: 422); someone outside the caller's scope answers 404, as a missing one",
            {"200": json_response(schemas.PATROL_LIST, "The patrols"), **_errors(401, 404, 422)},
            parameters=[query("volunteer", {"type": "string"}, "volunteer-app account or patroller id"),
                        query("status", {"type": "string", "enum": ["logged", "open", "proposed", "rejected"]},
                              "logged (default): the patrols that count; proposed: trips detected in the tracker "
                              "points, awaiting confirmation (detected anew on each call; every period unless one "
                              "is named); open: running; rejected"),
                        *PERIOD_PARAMETERS]),
    },
    "/api/v1/patrols/batch": {
        "post": _operation(
            "createPatrolsBatch",
            f"Log up to MAX_BATCH_SIZE ({schemas.MAX_BATCH_ITEMS}) patrols: 200 with one result per item (201, 200 "
            "or the item's own refusal), each item stored or refused alone; 413 for a longer batch, 422 for an "
            "empty one or a body that is no list",
            {"200": json_response(schemas.BATCH_RESULT, "One result per item"), **_errors(*_WRITE_ERRORS, 422)},
            body=json_body(schemas.PATROL_BATCH)),
    },
    "/api/v1/patrols/{patrol_id}": {
        "get": _operation(
            "getPatrol",
            "One patrol session with its verification, time per grid and track (a volunteer's own; a station "
            "role's station's; 404 otherwise)",
            {"200": json_response(schemas.PATROL_WITH_TRACK, "The patrol session"), **_errors(401, 404)},
            parameters=_PATROL_ID),
    },
    "/api/v1/patrols/start": {
        "post": _operation(
            "startPatrol",
            "Start a patrol now (the caller's own by default; a station role its station's): its points are the "
            "patroller's devices' from now until it stops, and they count as on duty meanwhile. 201 the open "
            "session, 200 the same client_uuid again; 409 session_already_open, overlapping_session or "
            "client_uuid_reused; the task rules of a group patrol apply at its start",
            {"201": _with_location(json_response(schemas.PATROL, "Started")),
             "200": _with_location(json_response(schemas.PATROL, "Started before: the same client_uuid again")),
             **_errors(*_WRITE_ERRORS, 404, 409, 422)},
            body=json_body(schemas.START_BODY)),
    },
    "/api/v1/patrols/recorder": {
        "post": _operation(
            "recorderSession",
            "The phone recorder's start and stop by its own device key (no sign-in, no CSRF token), with the "
            "phone's times: the session opens at start and, with end, stops there and is computed from its "
            "points; the same again answers the same session. 404 unknown or revoked device (or a task not of "
            "the patroller's station), 409 another patrol running or overlapping, 422 a start more than "
            "MAX_SESSION_HOURS ago",
            {"200": json_response(schemas.PATROL, "The session as it is now"),
             **_errors(400, 404, 409, 413, 415, 422, 429, 503)},
            security=[], body=json_body(schemas.RECORDER_SESSION_BODY)),
    },
    "/api/v1/patrols/{patrol_id}/stop": {
        "post": _operation(
            "stopPatrol",
            "Stop a running patrol (now, or at `end`): claimed time, verified time with reasons and seconds per "
            "grid from its stored points, flagged points excluded; stopping it again answers it as it is; 409 "
            "for a session that is not an explicit one",
            {"200": json_response(schemas.PATROL_WITH_TRACK, "The stopped patrol"),
             **_errors(*_WRITE_ERRORS, 404, 409, 422)},
            parameters=_PATROL_ID, body=json_body(schemas.STOP_BODY, required=False)),
    },
    "/api/v1/patrols/{patrol_id}/confirm": {
        "post": _operation(
            "confirmTrip",
            "Confirm a detected trip (status proposed) as a patrol: from then on it counts. The patroller or "
            "their station; a trip within a group task becomes that task's attendance (confirmed when the "
            "station confirms it). 409 when it is no trip or overlaps a logged session",
            {"200": json_response(schemas.PATROL, "The confirmed patrol"), **_errors(*_WRITE_ERRORS, 404, 409)},
            parameters=_PATROL_ID),
    },
    "/api/v1/patrols/{patrol_id}/reject": {
        "post": _operation(
            "rejectTrip",
            "Reject a detected trip (the walk to the market): kept as rejected, counted nowhere and never proposed "
            "again; 409 for one already confirmed",
            {"200": json_response(schemas.PATROL, "The rejected trip"), **_errors(*_WRITE_ERRORS, 404, 409)},
            parameters=_PATROL_ID),
    },
    "/api/v1/patrol-time": {
        "get": _operation(
            "patrolTime",
            "Seconds and hours patrolled in one grid in a period, by role and kind: tracked moving time in the "
            "grid, and the claimed and verified time of the sessions counted for it",
            {"200": json_response(schemas.PATROL_TIME, "Patrol time in the grid"), **_errors(401, 403, 404, 422)},
            parameters=[{**query("grid", {"type": "string", "minLength": 1}, "the grid's code (422 without)"),
                         "required": True},
                        *PERIOD_PARAMETERS]),
    },
    "/api/v1/patrol-tasks": {
        "get": _operation(
            "listTasks",
            "Group-patrol tasks overlapping a period, by start time, at most 1000; station roles and volunteers "
            "see their own station's only",
            {"200": json_response(schemas.TASK_LIST, "The tasks"), **_errors(401, 404, 422)},
            parameters=[query("station", {"type": "string"}, "only this station's (code; 404 when not visible)"),
                        query("open", {"type": "string"}, "1 or true: only tasks not over and not cancelled"),
                        *PERIOD_PARAMETERS]),
        "post": _operation(
            "createTask",
            "Publish a group-patrol task (a station role: for its own station); 201 with the task",
            {"201": json_response(schemas.TASK, "Published"), **_errors(*_WRITE_ERRORS, 404, 422)},
            body=json_body(schemas.TASK_BODY)),
    },
    "/api/v1/patrol-tasks/{task_id}": {
        "get": _operation(
            "getTask",
            "A task with its sign-ups and person-hours (a volunteer: their own sign-up only)",
            {"200": json_response(schemas.TASK_WITH_SIGNUPS, "The task"), **_errors(401, 404)},
            parameters=_TASK_ID),
        "patch": _operation(
            "updateTask",
            "Change a task's title, start, end, headcount or area (null: the whole station; area_grid: a grid's "
            "area); 409 when it is cancelled, a recorded patrol would fall outside the new time, or fewer places "
            "would remain than sign-ups",
            {"200": json_response(schemas.TASK_WITH_SIGNUPS, "The task as it is now"),
             **_errors(*_WRITE_ERRORS, 404, 409, 422), **_PATCH_405},
            parameters=_TASK_ID, body=json_body(schemas.TASK_CHANGES)),
    },
    "/api/v1/patrol-tasks/{task_id}/cancel": {
        "post": _operation(
            "cancelTask",
            "Cancel a task without recorded patrols (409 otherwise); its sign-ups are withdrawn; cancelling again "
            "changes nothing",
            {"200": json_response(schemas.TASK_WITH_SIGNUPS, "The cancelled task"),
             **_errors(*_WRITE_ERRORS, 404, 409)},
            parameters=_TASK_ID),
    },
    "/api/v1/patrol-tasks/{task_id}/signups": {
        "post": _operation(
            "signUp",
            "Sign a volunteer up for a task (a volunteer: themselves, the default): 201 new, 200 already signed "
            f"up; 409 full or cancelled, 422 over; {_TASK_404}",
            {"201": json_response(schemas.SIGNUP_RESULT, "Signed up"),
             "200": json_response(schemas.SIGNUP_RESULT, "Already signed up"),
             **_errors(*_WRITE_ERRORS, 404, 409, 422)},
            parameters=_TASK_ID, body=json_body(schemas.VOLUNTEER_CHOICE)),
    },
    "/api/v1/patrol-tasks/{task_id}/withdrawal": {
        "post": _operation(
            "withdraw",
            "Withdraw a sign-up (a volunteer: their own, the default) before the task is over (422 after); 409 "
            f"once attendance is recorded; 404 when not signed up; {_TASK_404}",
            {"200": json_response(schemas.SIGNUP, "The withdrawn sign-up"),
             **_errors(*_WRITE_ERRORS, 404, 409, 422)},
            parameters=_TASK_ID, body=json_body(schemas.VOLUNTEER_CHOICE)),
    },
    "/api/v1/patrol-tasks/{task_id}/attendance": {
        "post": _operation(
            "attendance",
            "Confirm attendance, all or nothing: attended (default: the whole task window, verified by this "
            "confirmation) or absent; an entry with paper: true is entered from the paper sign-in sheet (补录): no "
            f"sign-up needed, claimed hours only, never verified; 422 before the task starts; {_TASK_404}",
            {"200": json_response(schemas.ATTENDANCE_RESULT, "The task and each entry's sign-up"),
             **_errors(*_WRITE_ERRORS, 404, 409, 422)},
            parameters=_TASK_ID, body=json_body(schemas.ATTENDANCE_BODY)),
    },
}
