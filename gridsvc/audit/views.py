"""The audit trail browser (admin only): a filtered, paginated page and the same as JSON. Read-only."""
from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, render_template, request

from gridsvc.audit import service
from gridsvc.access import require_roles
from gridsvc.errors import ValidationError
from gridsvc.web import db

blueprint = Blueprint("audit", __name__)

FILTERS = ("actor", "table", "row_id", "action", "from", "to")


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name)
    if value in (None, ""):
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > 9:  # ids and pages fit 32 bits
        raise ValidationError("audit_number", "%(name)s must be a whole number", name=name)
    return int(value)


def _search(default_page_size: int) -> dict:
    args = request.args
    user_id = args.get("actor_user_id")
    return service.search(
        db(), actor=args.get("actor") or None, table=args.get("table") or None, row_id=args.get("row_id") or None,
        action=args.get("action") or None, date_from=args.get("from") or None, date_to=args.get("to") or None,
        actor_user_id=_int_arg("actor_user_id", 0) if user_id else None,
        tz=current_app.config["DISPLAY_TIMEZONE"],
        page=_int_arg("page", 1), page_size=_int_arg("page_size", default_page_size),
    )


@blueprint.get("/api/v1/audit")
@require_roles("admin")
def audit_api():
    """Audit entries, newest first: ?actor= &table= &row_id= &action= &from= &to= &page= &page_size=."""
    result = _search(100)
    return jsonify({**result, "entries": [entry.to_dict() for entry in result["entries"]]})


@blueprint.get("/audit")
@require_roles("admin")
def audit_page():
    """The audit trail page with its filters."""
    from zoneinfo import ZoneInfo

    result = _search(50)
    filters = {name: request.args.get(name, "") for name in FILTERS}
    pages = (result["total"] + result["page_size"] - 1) // result["page_size"]
    return render_template(
        "audit/index.html", result=result, filters=filters, pages=pages, tables=service.tables(db()),
        zone=ZoneInfo(current_app.config["DISPLAY_TIMEZONE"]),
        show=lambda values: "" if values is None else json.dumps(values, ensure_ascii=False, indent=1, sort_keys=True),
    )
