"""The audit trail API's query and answer, each beside its JSON Schema.

One place per field: the parser of the filters and the page's shaper here, the entry's own shape in
gridsvc.audit.models (AuditEntry.to_dict and AUDIT_ENTRY beside it). No Flask: the views hand in
the query arguments.
"""
from __future__ import annotations

from dataclasses import dataclass

from gridsvc.apidoc import COUNT, DATE, STRING, array, obj, query
from gridsvc.audit.models import AUDIT_ENTRY
from gridsvc.audit.service import MAX_PAGE, MAX_PAGE_SIZE
from gridsvc.errors import ValidationError

# Page numbers and ids are whole numbers of at most 9 digits (32-bit); empty is absent.
_MAX_DIGITS = 9
_EMPTY = {"type": "string", "maxLength": 0, "description": "as if absent"}


def _whole_number(minimum: int, maximum: int) -> dict:
    return {"anyOf": [{"type": "integer", "minimum": minimum, "maximum": maximum}, _EMPTY]}


AUDIT_QUERY = [
    query("actor", STRING, "part of the actor's description: admin finds user:admin and token:admin#3"),
    query("actor_user_id", _whole_number(0, 10 ** _MAX_DIGITS - 1), "the acting account's id"),
    query("table", STRING, "the table's name, exactly"),
    query("row_id", STRING, "the row's id, exactly (with table)"),
    query("action", STRING, "insert, update, delete or read (another value matches nothing)"),
    query("from", {"anyOf": [DATE, _EMPTY]}, "first local day (DISPLAY_TIMEZONE), inclusive: 2020-01-31"),
    query("to", {"anyOf": [DATE, _EMPTY]}, "last local day, inclusive"),
    query("page", _whole_number(1, MAX_PAGE), "from 1 (default 1)"),
    query("page_size", _whole_number(1, MAX_PAGE_SIZE), f"1 to {MAX_PAGE_SIZE} entries (default 100)"),
]


@dataclass(frozen=True)
class AuditQuery:
    """The filters (None: not filtered), the page and its size; gridsvc.audit.service.search checks the rest."""

    actor: str | None
    actor_user_id: int | None
    table: str | None
    row_id: str | None
    action: str | None
    date_from: str | None
    date_to: str | None
    page: int
    page_size: int


def _whole(args, name: str, default: int) -> int:
    value = args.get(name)
    if value in (None, ""):
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > _MAX_DIGITS:
        raise ValidationError("audit_number", "%(name)s must be a whole number", name=name)
    return int(value)


def parse_audit_query(args, *, default_page_size: int) -> AuditQuery:
    """The filters of the API and the page from the query; empty values filter nothing."""
    return AuditQuery(
        actor=args.get("actor") or None, table=args.get("table") or None, row_id=args.get("row_id") or None,
        action=args.get("action") or None, date_from=args.get("from") or None, date_to=args.get("to") or None,
        actor_user_id=_whole(args, "actor_user_id", 0) if args.get("actor_user_id") else None,
        page=_whole(args, "page", 1), page_size=_whole(args, "page_size", default_page_size),
    )


AUDIT_PAGE = obj({
    "total": {**COUNT, "description": "entries matching every filter"},
    "page": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
    "page_size": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
    "entries": array(AUDIT_ENTRY, description="newest first"),
}, required=["total", "page", "page_size", "entries"])


def audit_page_json(result: dict) -> dict:
    """One page of the search (gridsvc.audit.service.search) as the API answers it."""
    return {"total": result["total"], "page": result["page"], "page_size": result["page_size"],
            "entries": [entry.to_dict() for entry in result["entries"]]}
