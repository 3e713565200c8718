"""OpenAPI 3.1 description of the reports routes (merged by gridsvc.api.openapi.openapi_document).

Every body is the schema beside the function that parses or shapes it in gridsvc.reports.schemas:
the completion report and its tables, the exports, the targets.
"""
from __future__ import annotations

import functools

from gridsvc.apidoc import (PERIOD_PARAMETERS, error_responses, json_body, json_response, operation, path_parameters,
                            query)
from gridsvc.reports import schemas

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_SELECTION = [
    *PERIOD_PARAMETERS,
    query("station", schemas.STATION_QUERY),
    query("kind", schemas.KIND_QUERY),
    query("basis", schemas.BASIS_QUERY),
]
_FORMAT = {"name": "fmt", "in": "path", "required": True, "schema": schemas.FORMAT_PATH,
           "description": "csv, xlsx or geojson (another: 422)"}
# 401 signed out; 403 a role that does not read reports; 404 a station the caller can't see or no
# station has; 422 a period, basis, kind, group_by or table refused.
_READ_ERRORS = (401, 403, 404, 422)
# Writes also answer 400 (a missing CSRF token) and 503 (SQLite's write lock not had in time).
_WRITE_ERRORS = (400, 401, 403, 404, 503)


_operation = functools.partial(operation, tag="reports")


PATHS: dict = {
    "/api/v1/completion": {
        "get": _operation(
            "completion", "Completion by kind, claimed and verified side by side, plus one table (group_by)",
            {"200": json_response(schemas.COMPLETION_ANSWER, "Completion"), **error_responses(*_READ_ERRORS)},
            parameters=[*_SELECTION, query("group_by", schemas.GROUP_BY_QUERY)]),
    },
    "/api/v1/completion.{fmt}": {
        "get": _operation(
            "completionExport",
            "The completion tables as CSV (one table, UTF-8 with BOM), XLSX (a sheet per table) or GeoJSON "
            "(stations with their figures)",
            {"200": {"description": "The file, as an attachment (Content-Disposition)", "content": {
                "text/csv": {"schema": {"type": "string", "description": "one table, UTF-8 with a BOM"}},
                _XLSX: {"schema": {"type": "string", "format": "binary", "description": "a sheet per table"}},
                "application/geo+json": {"schema": schemas.STATION_FEATURES},
            }}, **error_responses(*_READ_ERRORS)},
            parameters=[_FORMAT, query("table", schemas.TABLE_QUERY), *_SELECTION]),
    },
    "/api/v1/targets": {
        "get": _operation(
            "listTargets", "Completion targets (optionally overlapping a period, applying to a station)",
            {"200": json_response(schemas.TARGET_LIST, "Targets"), **error_responses(401, 403, 404, 422)},
            parameters=[*PERIOD_PARAMETERS, query("station", schemas.STATION_QUERY)]),
        "post": _operation(
            "createTarget",
            "Set a target: quota hours each volunteer owes over the whole period, zone-wide or for a station "
            "(409 when one of the same stations overlaps it)",
            {"201": json_response(schemas.TARGET, "Created"),
             **error_responses(400, 401, 403, 404, 409, 413, 415, 422, 503)},
            body=json_body(schemas.NEW_TARGET)),
    },
    "/api/v1/targets/{target_id}": {
        "delete": _operation(
            "deleteTarget", "Remove a target; its days fall back to the next rule",
            {"204": {"description": "Deleted"}, **error_responses(*_WRITE_ERRORS)},
            parameters=path_parameters("/api/v1/targets/{target_id}", integers={"target_id"},
                                       descriptions={"target_id": "the target's id"})),
    },
}
