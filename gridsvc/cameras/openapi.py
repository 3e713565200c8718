"""OpenAPI 3.1 description of the camera registry's routes (merged by gridsvc.api.openapi.openapi_document).

Every body is the schema beside the function that parses or shapes it: gridsvc.cameras.schemas for
what the views read and the camera itself; gridsvc.cameras.service (map collection, shares),
gridsvc.cameras.transfer (import report, export) and gridsvc.cameras.coverage for what they compute.
Station roles see (and edit) only their station's cameras; another station's answers 404.
"""
from __future__ import annotations

import functools

from gridsvc.apidoc import (PERIOD_PARAMETERS, error_responses, json_body, json_response, operation, path_parameters)
from gridsvc.cameras import schemas
from gridsvc.cameras.coverage import COVERAGE, COVERAGE_LAYER
from gridsvc.cameras.service import CAMERA_COLLECTION, STATS
from gridsvc.cameras.transfer import EXPORT_COLLECTION

_DEVICE_ID = path_parameters("/{device_id}", descriptions={"device_id": "GB/T 28181 device id (20 digits)"})
_GEOJSON = "application/geo+json"
_WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 422, 503)
# The coverage's period is optional: without one, every patrol's track counts.
_TRACK_PERIOD = [{**PERIOD_PARAMETERS[0], "description": "tracks of patrols started in 2020, 2020-Q1 or 2020-03 "
                                                         "(default: every patrol)"}, *PERIOD_PARAMETERS[1:]]


_operation = functools.partial(operation, tag="cameras")


PATHS: dict = {
    "/api/v1/cameras": {
        "get": _operation(
            "listCameras", "Cameras in service as GeoJSON (retired=all adds retired ones); station roles their "
                           "station's",
            {"200": json_response(CAMERA_COLLECTION, "RFC 7946 FeatureCollection", _GEOJSON), **error_responses(401, 403)},
            parameters=[schemas.RETIRED_QUERY]),
        "post": _operation(
            "createCamera", "Register a camera (GB/T 28181 id of a camera type in the configured region, unique; "
                            "position in a station; GCJ-02 converted); its status and link start its history",
            {"201": {**json_response(schemas.CAMERA, "Registered"),
                     "headers": {"Location": {"description": "the camera's URL", "schema": {"type": "string"}}}},
             **error_responses(400, 401, 403, 409, 413, 415, 422, 503)},
            body=json_body(schemas.NEW_CAMERA)),
    },
    "/api/v1/cameras/{device_id}": {
        "get": _operation("getCamera", "One camera (retired ones too) with its id parts and history",
                          {"200": json_response(schemas.CAMERA, "The camera"), **error_responses(401, 403, 404)},
                          parameters=_DEVICE_ID),
        "patch": _operation(
            "updateCamera", "Change name, kind, police link, status or position (lon and lat together); one history "
                            "row per field that really changes; a retired camera answers 409; a station manager may "
                            "not move a camera into another station (422)",
            {"200": json_response(schemas.CHANGED_CAMERA, "The camera after the change"),
             **error_responses(*_WRITE_ERRORS)},
            parameters=_DEVICE_ID, body=json_body(schemas.CAMERA_CHANGE)),
    },
    "/api/v1/cameras/{device_id}/retire": {
        "post": _operation(
            "retireCamera", "Retire a camera: kept with its history and id, left out of maps, shares and coverage; "
                            "retiring twice answers 409",
            {"200": json_response(schemas.CAMERA, "The retired camera"), **error_responses(*_WRITE_ERRORS)},
            parameters=_DEVICE_ID, body=json_body(schemas.RETIREMENT, required=False)),
    },
    "/api/v1/cameras/import": {
        "post": _operation(
            "importCameras", "Import CSV or GeoJSON (multipart file, a text/csv body, GeoJSON or {rows}); all or "
                             "nothing unless partial; identical rows are unchanged, differing ones errors unless update",
            {"200": json_response(schemas.IMPORTED, "Imported (report: created, updated, unchanged, per-row errors)"),
             **error_responses(400, 401, 403, 413, 415, 503),
             "422": json_response(schemas.IMPORT_REFUSED, "Nothing was written: bad rows without partial (with the "
                                                           "report), or the file or an option refused")},
            parameters=schemas.IMPORT_QUERY,
            body=json_body(schemas.IMPORT_JSON, extra_content=schemas.IMPORT_CONTENT)),
    },
    "/api/v1/cameras/export.csv": {
        "get": _operation(
            "exportCamerasCsv", "Cameras as CSV (UTF-8 with BOM) that the import reads back unchanged",
            {"200": {"description": "CSV: device_id, name, kind, police_linked, status, lon, lat, crs, station_code "
                                    "(and retired_at)",
                     "content": {"text/csv": {"schema": {"type": "string"}}}},
             **error_responses(401, 403, 422)},
            parameters=schemas.EXPORT_QUERY),
    },
    "/api/v1/cameras/export.geojson": {
        "get": _operation(
            "exportCamerasGeojson", "Cameras as a GeoJSON FeatureCollection that the import reads back unchanged",
            {"200": json_response(EXPORT_COLLECTION, "FeatureCollection", _GEOJSON), **error_responses(401, 403, 422)},
            parameters=schemas.EXPORT_QUERY),
    },
    "/api/v1/cameras/stats": {
        "get": _operation(
            "cameraStats", "Police-linked and online cameras in service (counts, % rounded half-up), overall and per "
                           "station",
            {"200": json_response(STATS, "Shares"), **error_responses(401, 403)}),
    },
    "/api/v1/cameras/coverage": {
        "get": _operation(
            "cameraCoverage", "Per station: cameras per km², share of area within the radius of a camera, patrol "
                              "track length outside every radius (tracks of patrols started in the period, else all)",
            {"200": json_response(COVERAGE, "Coverage"), **error_responses(401, 403, 422)},
            parameters=[*schemas.COVERAGE_QUERY, *_TRACK_PERIOD]),
    },
    "/api/v1/cameras/coverage.geojson": {
        "get": _operation(
            "cameraCoverageLayer", "The coverage map layer: covered areas (layer=covered) and uncovered patrol tracks "
                                   "(layer=track_outside) per station",
            {"200": json_response(COVERAGE_LAYER, "FeatureCollection", _GEOJSON), **error_responses(401, 403, 422)},
            parameters=[*schemas.COVERAGE_QUERY, *_TRACK_PERIOD]),
    },
}
