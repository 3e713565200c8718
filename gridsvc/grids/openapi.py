"""OpenAPI 3.1 description of the grids routes (merged by gridsvc.api.openapi.openapi_document).

Every body is the schema beside the function that parses or shapes it: gridsvc.grids.schemas for
what the views read and the created grid, gridsvc.grids.service for the collection and the coverage.
"""
from __future__ import annotations

from gridsvc.apidoc import LANG_PARAMETER, error_responses, json_body, json_response, path_parameters
from gridsvc.grids import schemas
from gridsvc.grids.service import COVERAGE, GRID_COLLECTION

_TAGS = ["grids"]

PATHS: dict = {
    "/api/v1/grids": {
        "get": {
            "operationId": "listGrids", "tags": _TAGS,
            "summary": "All grids as GeoJSON (station roles: the centre, their station and its cells)",
            "parameters": [schemas.LEVEL_QUERY, LANG_PARAMETER],
            "responses": {
                "200": json_response(GRID_COLLECTION, "RFC 7946 FeatureCollection", "application/geo+json"),
                **error_responses(401),
            },
        },
        "post": {
            "operationId": "createGrid", "tags": _TAGS,
            "summary": "Create a grid (code, polygon validity, containment in its parent, sibling overlap and name "
                       "checked); admins any grid, a station manager cells of their own station",
            "parameters": [LANG_PARAMETER],
            "requestBody": json_body(schemas.NEW_GRID),
            "responses": {
                "201": json_response(schemas.CREATED_GRID, "Created"),
                **error_responses(400, 401, 403, 404, 409, 413, 415, 422, 503),
            },
        },
    },
    "/api/v1/grids/{code}/coverage": {
        "get": {
            "operationId": "gridCoverage", "tags": _TAGS,
            "summary": "How much of a centre its stations cover, and which stations overlap",
            "parameters": [*path_parameters("/{code}", descriptions={"code": "the centre's code"}), LANG_PARAMETER],
            "responses": {
                "200": json_response(COVERAGE, "Coverage"),
                **error_responses(401, 403, 404),
            },
        }
    },
}
