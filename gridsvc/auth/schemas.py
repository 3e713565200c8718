"""The accounts API's bodies: what the views read and what they answer, each beside its JSON Schema.

One place per field: a parser or a shaper here, and next to it the schema gridsvc.auth.openapi puts
in the OpenAPI document; the CLI lists tokens through the same shaper. No Flask: the views hand in
the decoded body, the CSV's bytes or the upload, and gettext. No answer holds a password or a
token's hash; a token's secret only in the answer that made it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gridsvc.access import ROLES, STATION_ROLES, ZONE_ROLES
from gridsvc.apidoc import BOOLEAN, DATE_TIME, INTEGER, STRING, array, nullable, obj
from gridsvc.auth import onboarding, service
from gridsvc.auth.models import ApiToken, User
from gridsvc.errors import ValidationError
from gridsvc.i18n import N_

ROLE = {"type": "string", "enum": list(ROLES)}
# Any JSON value: the token exchange reads each member as its text (str()), and refuses none.
ANY_JSON = {"type": ["string", "number", "boolean", "null", "array", "object"], "items": {}, "additionalProperties": {}}


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --- GET /api/v1/auth/me -------------------------------------------------------------------------

ME = obj({
    "username": STRING,
    "display_name": {**STRING, "description": "the username when the account has no name"},
    "role": ROLE,
    "station_code": {**nullable(STRING), "description": "station roles' station; null for zone roles"},
    "patroller_id": {**nullable(INTEGER), "description": "the volunteer or grid worker the account is"},
    "auth": {"type": "string", "enum": ["session", "token"], "description": "how this request signed in"},
}, required=["username", "display_name", "role", "station_code", "patroller_id", "auth"])


def me_json(principal, *, station_code: str | None, auth: str) -> dict:
    """Who is calling."""
    return {"username": principal.username, "display_name": principal.display_name, "role": principal.role,
            "station_code": station_code, "patroller_id": principal.patroller_id, "auth": auth}


# --- tokens --------------------------------------------------------------------------------------

CREDENTIALS = obj({
    "username": {**ANY_JSON, "description": "the account's username (any case, trimmed); another JSON value is read as "
                                            "its text"},
    "password": {**ANY_JSON, "description": "its password; another JSON value is read as its text"},
    "name": {**ANY_JSON, "description": f"what the token is for (the phone's name): trimmed to {service.TOKEN_NAME_MAX} "
                                        "characters; empty or absent: api"},
}, description="wrong credentials, a disabled account or a locked one answer alike (401, 429 while locked)")


@dataclass(frozen=True)
class Credentials:
    """A token request: username and password as text, and the token's name."""

    username: str
    password: str
    name: str


def parse_credentials(payload: dict) -> Credentials:
    """The token request from the JSON object (every member read as text)."""
    return Credentials(username=str(payload.get("username") or ""), password=str(payload.get("password") or ""),
                       name=str(payload.get("name") or "api"))


_TOKEN_PROPERTIES = {
    "id": INTEGER,
    "name": STRING,
    "created_at": DATE_TIME,
    "last_used_at": {**nullable(DATE_TIME), "description": "to within five minutes"},
    "revoked_at": nullable(DATE_TIME),
}
TOKEN = obj(_TOKEN_PROPERTIES, required=list(_TOKEN_PROPERTIES), description="a token, never its secret")


def token_json(token: ApiToken) -> dict:
    """A token as the API and the CLI show it (never its secret)."""
    return {"id": token.id, "name": token.name, "created_at": token.created_at.isoformat(),
            "last_used_at": _iso(token.last_used_at), "revoked_at": _iso(token.revoked_at)}


ISSUED_TOKEN = obj({
    **_TOKEN_PROPERTIES,
    "token": {"type": "string", "pattern": "^gs_", "description": "the secret, shown this once"},
    "token_type": {"const": "Bearer", "description": "send it as Authorization: Bearer <token>"},
}, required=[*_TOKEN_PROPERTIES, "token", "token_type"])


def issued_token_json(token: ApiToken, secret: str) -> dict:
    """A new token with its secret (the only answer that holds it)."""
    return {**token_json(token), "token": secret, "token_type": "Bearer"}


TOKEN_LIST = obj({"tokens": array(TOKEN, description="newest first")}, required=["tokens"])


def token_list_json(tokens: list[ApiToken]) -> dict:
    """The caller's tokens."""
    return {"tokens": [token_json(token) for token in tokens]}


# --- accounts ------------------------------------------------------------------------------------

_USER_PROPERTIES = {
    "id": INTEGER,
    "username": STRING,
    "display_name": {**STRING, "description": "empty when not given"},
    "role": ROLE,
    "station_code": nullable(STRING),
    "patroller_id": nullable(INTEGER),
    "active": {**BOOLEAN, "description": "false: disabled, it cannot sign in"},
    "created_at": DATE_TIME,
}
USER = obj(_USER_PROPERTIES, required=list(_USER_PROPERTIES))


def user_json(user: User, station_codes: dict[int, str]) -> dict:
    """An account (never its password); station_codes: station id -> code."""
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role,
            "station_code": station_codes.get(user.station_id), "patroller_id": user.patroller_id,
            "active": user.active, "created_at": user.created_at.isoformat()}


USER_LIST = obj({"users": array(USER, description="by username")}, required=["users"])


def user_list_json(users: list[User], station_codes: dict[int, str]) -> dict:
    """Every account."""
    return {"users": [user_json(user, station_codes) for user in users]}


def _edge_trimmed(max_chars: int, *, required: bool) -> str:
    """A regex of text strip() leaves at most max_chars long (not empty if required), without control characters."""
    edge, inner = r"[^\s\x00-\x1f\x7f]", r"[^\x00-\x1f\x7f]"
    core = rf"{edge}(?:{inner}{{0,{max_chars - 2}}}{edge})?"
    return rf"^\s*{core}\s*$" if required else rf"^\s*(?:{core})?\s*$"


NEW_USER = obj({
    "username": {"type": "string", "pattern": rf"^\s*[\w.-]{{1,{service.USERNAME_MAX}}}\s*$",
                 "description": f"1 to {service.USERNAME_MAX} letters, digits, dots, dashes or underscores (trimmed, "
                                "kept in lower case); unique"},
    "password": {"type": "string", "minLength": service.MIN_PASSWORD_LENGTH, "maxLength": service.MAX_PASSWORD_LENGTH,
                 "description": "and not easy to guess (common, repetitive, or made of the site's or the account's "
                                "words)"},
    "role": ROLE,
    "station_code": {**nullable(STRING), "description": f"required for {', '.join(STATION_ROLES)}, none for "
                                                        f"{', '.join(ZONE_ROLES)}; empty or null: none"},
    "patroller_id": {**nullable(INTEGER), "description": "the volunteer or grid worker the account is: required for a "
                                                         "volunteer, of the account's station, without an account"},
    "display_name": {"type": ["string", "null"], "pattern": _edge_trimmed(service.DISPLAY_NAME_MAX, required=False),
                     "description": f"trimmed, at most {service.DISPLAY_NAME_MAX} characters, no control characters"},
}, required=["username", "password", "role"])


@dataclass(frozen=True)
class NewUser:
    """An account to create, as sent; gridsvc.auth.service.create_user checks it."""

    username: str
    password: str
    role: str
    station_code: str | None
    patroller_id: int | None
    display_name: str


def _text(payload: dict, name: str) -> str:
    value = payload.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError("field_not_text", "%(field)s must be text", field=name)
    return value


def _whole_number(payload: dict, name: str) -> int | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 3.0 is the JSON integer 3
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("field_not_whole_number", "%(name)s must be a whole number", name=name)
    return value


def parse_new_user(payload: dict) -> NewUser:
    """The new account's fields from the JSON object: text as text, the patroller's id a whole number."""
    return NewUser(username=_text(payload, "username"), password=_text(payload, "password"),
                   role=_text(payload, "role"), station_code=_text(payload, "station_code") or None,
                   patroller_id=_whole_number(payload, "patroller_id"),
                   display_name=_text(payload, "display_name"))


# --- POST /api/v1/users/import -------------------------------------------------------------------

CSV_MEDIA_TYPES = ("text/csv", "text/plain", "application/csv")
_ACCOUNTS_CSV = {"type": "string", "description": f"CSV (UTF-8 or GBK), at most {onboarding.MAX_IMPORT_ROWS} rows: "
                                                  "account (volunteer-app account number), optional username and "
                                                  "display_name, under a header row naming them (账号, 用户名, 姓名 "
                                                  "also) or in this order without one"}
IMPORT_CONTENT = {
    **{media_type: {"schema": _ACCOUNTS_CSV} for media_type in CSV_MEDIA_TYPES},
    "multipart/form-data": {"schema": obj({"file": {"type": "string", "format": "binary",
                                                    "description": "the CSV file (a name is required)"}},
                                          required=["file"])},
}


def parse_import_csv(data: bytes) -> list[onboarding.ImportRow]:
    """The import's rows from a CSV body."""
    return onboarding.parse_accounts_csv(data)


def parse_import_upload(upload) -> list[onboarding.ImportRow]:
    """The import's rows from the form's file field (a werkzeug FileStorage, or None)."""
    if upload is None or not upload.filename:
        raise ValidationError("import_file_required", "Choose a CSV file of volunteer-app account numbers")
    return onboarding.parse_accounts_csv(upload.read())


_ENTRY = obj({"row": {**INTEGER, "description": "the file's line (a header is line 1)"}, "account": STRING,
              "username": STRING, "display_name": STRING}, required=["row", "account", "username", "display_name"])
_ROW_ERROR = obj({
    "row": INTEGER, "code": {**STRING, "description": "stable machine-readable code"}, "message": STRING,
    "params": {"type": "object", "additionalProperties": {}, "description": "the values the message names"},
}, required=["row", "code", "message", "params"])
_RESULT_PROPERTIES = {
    "created": array(_ENTRY, description="accounts made (no usable password: the volunteer sets one by invitation)"),
    "unchanged": array(_ENTRY, description="volunteers whose account matches the row already"),
    "errors": array(_ROW_ERROR, description="the refused rows"),
}
IMPORTED_ACCOUNTS = obj({**_RESULT_PROPERTIES, "errors": {**array(_ROW_ERROR, maxItems=0), "description": "none"}},
                        required=list(_RESULT_PROPERTIES))
IMPORT_REFUSED = obj({
    "created": array(_ENTRY, maxItems=0), "unchanged": array(_ENTRY, maxItems=0),
    "errors": array(_ROW_ERROR, minItems=1, description="every refused row"),
    "error": obj({"code": {"const": "import_refused"}, "message": STRING,
                  "params": obj({"refused": {"type": "integer", "minimum": 1}}, required=["refused"])},
                 required=["code", "message", "params"]),
}, required=["created", "unchanged", "errors", "error"], description="rows refused: nothing was written")


def row_errors_json(result: onboarding.ImportResult, error_dict) -> list[dict]:
    """The refused rows, each with its error in the caller's language (error_dict: gridsvc.web.error_dict)."""
    return [{"row": row, **error_dict(error)} for row, error in result.errors]


def refused_message(result: onboarding.ImportResult, translate) -> str:
    """Why nothing was imported (translate: gettext)."""
    return translate(N_("Nothing was imported; rows refused: %(num)s. Correct them and import the whole file again."),
                     num=len(result.errors))


def import_answer(result: onboarding.ImportResult, *, error_dict, translate) -> tuple[dict, int]:
    """The answer and its status: 201 some created, 200 all unchanged, 422 rows refused (nothing written)."""
    body = {"created": result.created, "unchanged": result.unchanged, "errors": row_errors_json(result, error_dict)}
    if not result.ok:
        body["error"] = {"code": "import_refused", "message": refused_message(result, translate),
                         "params": {"refused": len(result.errors)}}
        return body, 422
    return body, 201 if result.created else 200
