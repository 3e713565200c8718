"""OpenAPI 3.1 description of the accounts routes (merged by gridsvc.api.openapi.openapi_document).

Every body is the schema beside the function that parses or shapes it, in gridsvc.auth.schemas.
"""
from __future__ import annotations

import functools

from gridsvc.apidoc import error_responses, json_body, json_response, operation, path_parameters, ref
from gridsvc.auth import schemas



_operation = functools.partial(operation, tag="auth")


_NO_SIGN_IN: list = []  # the body carries the credentials

PATHS: dict = {
    "/api/v1/auth/me": {
        "get": _operation("me", "The signed-in account: username, role, station, linked patroller, how it signed in",
                          {"200": json_response(schemas.ME, "The caller"), **error_responses(401)}),
    },
    "/api/v1/auth/tokens": {
        "post": {
            **_operation("createToken", "Exchange username and password for a bearer token (201, its secret shown "
                                        "once); 401 wrong or disabled, 429 while the name or the address is locked "
                                        "out after too many failures",
                         {"201": json_response(schemas.ISSUED_TOKEN, "The new token"),
                          **error_responses(401, 413, 415, 422, 429, 503)},
                         body=json_body(schemas.CREDENTIALS)),
            "security": _NO_SIGN_IN,
        },
        "get": _operation("listTokens", "The caller's own tokens (never their secrets)",
                          {"200": json_response(schemas.TOKEN_LIST, "The tokens"), **error_responses(401)}),
    },
    "/api/v1/auth/tokens/current": {
        "delete": _operation("revokeCurrentToken", "Revoke the bearer token this request was made with (the phone's "
                                                   "sign-out); 422 for a request made without one",
                             {"200": json_response(schemas.TOKEN, "The revoked token"),
                              **error_responses(400, 401, 422, 503)}),
    },
    "/api/v1/auth/tokens/{token_id}": {
        "delete": _operation("revokeToken", "Revoke one of the caller's tokens (an admin: anyone's; another's id "
                                            "answers 404); revoking twice keeps the first time",
                             {"200": json_response(schemas.TOKEN, "The revoked token"),
                              **error_responses(400, 401, 404, 503)},
                             parameters=path_parameters("/{token_id}", integers={"token_id"})),
    },
    "/api/v1/users": {
        "get": _operation("listUsers", "Every account (administrators)",
                          {"200": json_response(schemas.USER_LIST, "The accounts"), **error_responses(401, 403)}),
        "post": _operation("createUser", "Create an account (administrators): station roles need a station, a "
                                         "volunteer the patroller it is",
                           {"201": json_response(schemas.USER, "Created"),
                            **error_responses(400, 401, 403, 404, 409, 413, 415, 422, 503)},
                           body=json_body(schemas.NEW_USER)),
    },
    "/api/v1/users/import": {
        "post": _operation(
            "importUsers",
            "Volunteer accounts from a CSV (columns account, optional username, display_name), all or nothing: 201 "
            "some created, 200 all unchanged, 422 with per-row errors and nothing written; a station manager imports "
            "only their station's volunteers",
            {"201": json_response(schemas.IMPORTED_ACCOUNTS, "Imported: some accounts created"),
             "200": json_response(schemas.IMPORTED_ACCOUNTS, "Every row's account exists already: nothing changed"),
             "422": json_response({"anyOf": [schemas.IMPORT_REFUSED, ref("Error")],
                                   "description": "rows refused (each with its error), or the file itself"},
                                  "Nothing was written"),
             **error_responses(400, 401, 403, 413, 415, 503)},
            body={"required": True, "content": schemas.IMPORT_CONTENT}),
    },
}
