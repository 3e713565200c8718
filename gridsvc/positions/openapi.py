"""OpenAPI 3.1 description of the positions routes (merged by gridsvc.api.openapi.openapi_document).

Every body is the schema beside the function that parses or shapes it: gridsvc.positions.schemas
for the devices, the duty switch and the answers, gridsvc.positions.protocols for what the tracker
apps send. The intake routes take no sign-in: the device key in the message is the credential.
"""
from __future__ import annotations

import functools

from gridsvc.apidoc import error_responses, json_body, json_response, obj, operation, path_parameters, query
from gridsvc.positions import schemas
from gridsvc.positions.protocols import OSMAND_FIELDS, OWNTRACKS_MESSAGE, TRACCAR_JSON

_RETRY_AFTER = {"Retry-After": {"description": "whole seconds to wait before sending again",
                                "schema": {"type": "integer", "minimum": 1}}}
_429 = ("The device sends more points than POSITION_DEVICE_PER_MINUTE (after a burst of POSITION_DEVICE_BURST), or "
        "this address sent too many refused tracker messages; nothing was stored: retry after Retry-After seconds")


def _errors(*statuses: int) -> dict:
    """The shared Error answers; a 429 (the intake's limits) and a 503 (database busy) say when to retry."""
    responses = error_responses(*statuses)
    for status in ("429", "503"):
        if status in responses:
            responses[status] = {**responses[status], "headers": _RETRY_AFTER}
    if "429" in responses:
        responses["429"]["description"] = _429
    return responses


_operation = functools.partial(operation, tag="positions")


_DEVICE_ID = path_parameters("/{device_id}", integers={"device_id"}, descriptions={"device_id": "the device's id"})
_OSMAND_QUERY = [query(name, schema) for name, schema in OSMAND_FIELDS.items()]
_OSMAND_FORM = obj(OSMAND_FIELDS, description="the OsmAnd fields as a form (over the query string's)")
_EMPTY_200 = {"description": "Stored, a replay of a stored fix, or a fix off duty (never stored): the tracker may "
                             "forget it", "content": {schemas.EMPTY_ANSWER_MEDIA_TYPE: {"schema": schemas.EMPTY_ANSWER}}}
_NO_SIGN_IN: list = []  # the device key in the message is the credential

PATHS: dict = {
    "/api/v1/me/duty": {
        "get": _operation("getDuty", "The signed-in patroller's on-duty switch", {
            "200": json_response(schemas.DUTY_STATE, "The switch"),
            **_errors(401, 403, 404),
        }),
        "put": _operation(
            "setDuty",
            "Switch one's own duty on or off ({on_duty}); tracker points are stored only on duty (this switch, for "
            "DUTY_MAX_HOURS at most, or a signed-up group task under way); 404 for an account that is no patroller",
            {"200": json_response(schemas.DUTY_STATE, "The switch now"), **_errors(400, 401, 403, 404, 413, 415, 422,
                                                                                 503)},
            body=json_body(schemas.DUTY_SWITCH)),
    },
    "/api/v1/devices": {
        "get": _operation("listDevices", "Tracker devices in the caller's scope (never their keys): a volunteer's "
                                         "own, a station's, every station's for zone roles", {
            "200": json_response(schemas.DEVICE_LIST, "The devices"),
            **_errors(401),
        }),
        "post": _operation(
            "registerDevice",
            "Register a tracker device for a volunteer or grid worker (default: the caller); 201 with its key, shown "
            "this once",
            {"201": json_response(schemas.DEVICE_WITH_KEY, "Registered, with its key"),
             **_errors(400, 401, 403, 404, 413, 415, 422, 503)},
            body=json_body(schemas.DEVICE_REGISTRATION)),
    },
    "/api/v1/devices/{device_id}/revoke": {
        "post": _operation("revokeDevice", "Revoke a device: its key stops working at once (revoking again keeps the "
                                           "first time)", {
            "200": json_response(schemas.DEVICE, "The revoked device"),
            **_errors(400, 401, 403, 404, 503),
        }, parameters=_DEVICE_ID),
    },
    "/api/v1/devices/{device_id}/key": {
        "post": _operation("rotateDeviceKey", "A new key for the device (the old one stops at once), shown this once; "
                                              "422 for a revoked device", {
            "200": json_response(schemas.DEVICE_WITH_KEY, "The device with its new key"),
            **_errors(400, 401, 403, 404, 422, 503),
        }, parameters=_DEVICE_ID),
    },
    "/api/v1/positions/osmand": {
        "get": _operation(
            "osmandPositionGet",
            "A tracker's fix in the OsmAnd protocol (Traccar Client, GPSLogger): the query string, the device key in "
            "id or deviceid; no sign-in. 200 empty once handled; 400 for an unknown or revoked device or an "
            "unreadable message",
            {"200": _EMPTY_200, **_errors(400, 429, 503)},
            parameters=_OSMAND_QUERY, security=_NO_SIGN_IN),
        "post": _operation(
            "osmandPositionPost",
            "A fix as an OsmAnd form or query string (400 for an unknown or revoked device), or Traccar Client 9 "
            "JSON with Content-Type application/json, the query string then unread (404 for an unknown or revoked "
            "device); no sign-in; 200 empty once handled, 400 for an unreadable message",
            {"200": _EMPTY_200, **_errors(400, 404, 413, 415, 429, 503)},
            parameters=_OSMAND_QUERY, security=_NO_SIGN_IN,
            body={"required": False, "content": {"application/x-www-form-urlencoded": {"schema": _OSMAND_FORM},
                                                 "application/json": {"schema": TRACCAR_JSON}}}),
    },
    "/api/v1/positions/owntracks": {
        "post": _operation(
            "owntracksPosition",
            "OwnTracks HTTP mode, the device key as the HTTP Basic password (any user name): 200 [] for every "
            "message once handled (only _type location is stored; an unreadable one is dropped); 401 for a "
            "missing, unknown or revoked key",
            {"200": json_response(schemas.OWNTRACKS_ANSWER, "Handled"), **_errors(401, 413, 415, 429, 503)},
            security=[{"deviceKey": []}],
            body={"required": False, "content": {"application/json": {"schema": OWNTRACKS_MESSAGE}}}),
    },
    "/api/v1/positions/recorder": {
        "post": _operation(
            "recorderPositions",
            "The phone recorder's batch: Traccar Client 9 JSON with location a list of at most "
            f"{schemas.MAX_RECORDER_POINTS} points, the recorder's device key as device_id (no sign-in): 200 "
            "{received, stored, replays, off_duty} once durable; 400 unreadable, 404 unknown or revoked device",
            {"200": json_response(schemas.INTAKE_COUNTS, "What became of the points"),
             **_errors(400, 404, 413, 415, 422, 429, 503)},
            security=_NO_SIGN_IN, body=json_body(schemas.RECORDER_BATCH)),
    },
    "/api/v1/patrols/{patrol_id}/points": {
        "get": _operation(
            "getPatrolPoints",
            "Every stored tracker point of the patrol's patroller between its start and end, by fix time, flagged "
            "ones included; visible as the patrol is; a read by anyone but the patroller is logged in the audit "
            "trail (action read, never a coordinate)",
            {"200": json_response(schemas.PATROL_POINTS, "The patrol's points"), **_errors(401, 404, 503)},
            parameters=path_parameters("/{patrol_id}", integers={"patrol_id"})),
    },
    "/api/v1/volunteers/{ref}/last-position": {
        "get": _operation(
            "getLastPosition",
            "A volunteer's (or grid worker's) latest stored point (points are stored only on duty), or null; "
            "station roles their station's, a volunteer their own; a read by anyone but the patroller is logged in "
            "the audit trail",
            {"200": json_response(schemas.LAST_POSITION, "The last position, or null"), **_errors(401, 404, 422, 503)},
            parameters=path_parameters("/{ref}", descriptions={"ref": "volunteer-app account or patroller id"})),
    },
}
