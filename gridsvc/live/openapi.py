"""OpenAPI 3.1 description of the live routes (merged by gridsvc.api.openapi.openapi_document)."""
from __future__ import annotations

import functools

from gridsvc.apidoc import error_responses, json_response, operation
from gridsvc.live import schemas

_operation = functools.partial(operation, tag="live")

PATHS: dict = {
    "/api/v1/live": {
        "get": _operation(
            "liveSnapshot",
            "Every patroller on an open session in the caller's scope (a station user: their station's patrollers and "
            "those on their station's tasks): the last kept position and its age, accuracy, speed and battery, the "
            "session (kind, task, station, elapsed, distance) and a state, online / stale / offline, from "
            "LIVE_STALE_SECONDS and LIVE_OFFLINE_SECONDS",
            {"200": json_response(schemas.LIVE_SNAPSHOT, "Who is out now"), **error_responses(401, 403)},
        ),
    },
    "/api/v1/live/stream": {
        "get": _operation(
            "liveStream",
            "Server-Sent Events that never end: `snapshot` (the body of GET /api/v1/live), then `session_started` and "
            "`position` (a patroller as in the snapshot), `state` ({session_id, volunteer_id, state}), `session_ended` "
            "({session_id, volunteer_id}) and `counts` ({counts, by_station, generated_at}) as they change; a comment "
            "line every LIVE_STREAM_HEARTBEAT_SECONDS; `end` ({reason}) within LIVE_STREAM_RECHECK_SECONDS of a "
            "sign-out, an expiry or a disabled account. Authenticated by the session cookie or a bearer header, never "
            "a token in the URL. A reconnect (Last-Event-ID) starts again with a snapshot. At most "
            "LIVE_MAX_STREAMS_PER_USER per account, across servers (429 beyond)",
            {"200": {"description": "The event stream",
                     "content": {"text/event-stream": {"schema": {"type": "string"}}}},
             **error_responses(401, 403, 429)},
        ),
    },
}
