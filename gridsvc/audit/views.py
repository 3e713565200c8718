"""The audit trail browser (admin only): a filtered, paginated page and the same as JSON. Read-only."""
from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, render_template, request

from gridsvc.audit import schemas, service
from gridsvc.access import require_roles
from gridsvc.web import db

blueprint = Blueprint("audit", __name__)

FILTERS = ("actor", "table", "row_id", "action", "from", "to")


def _search(default_page_size: int) -> dict:
    wanted = schemas.parse_audit_query(request.args, default_page_size=default_page_size)
    return service.search(
        db(), actor=wanted.actor, table=wanted.table, row_id=wanted.row_id, action=wanted.action,
        date_from=wanted.date_from, date_to=wanted.date_to, actor_user_id=wanted.actor_user_id,
        tz=current_app.config["DISPLAY_TIMEZONE"], page=wanted.page, page_size=wanted.page_size,
    )


@blueprint.get("/api/v1/audit")
@require_roles("admin")
def audit_api():
    """Audit entries, newest first: ?actor= &table= &row_id= &action= &from= &to= &page= &page_size=."""
    return jsonify(schemas.audit_page_json(_search(100)))


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
