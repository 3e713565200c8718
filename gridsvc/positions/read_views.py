"""The read side of positions that belongs to no patrol: a patroller's last position on duty.

A blueprint of its own (gridsvc/positions/views.py holds the devices and the intake). Thin: the
reading and the record of who read it are gridsvc.positions.reading's, the answer's shape
gridsvc.positions.schemas'.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user

from gridsvc.access import require_roles
from gridsvc.db import utcnow
from gridsvc.people.service import visible_patroller
from gridsvc.positions import reading, schemas
from gridsvc.web import db, writes_on_get

blueprint = Blueprint("position_reads", __name__)

# Who reads a patroller's whereabouts, each within their scope (people.service.visible_patroller):
# a volunteer only their own, station roles their station's, the centre viewer and managers anyone's.
POSITION_READERS = ("volunteer", "grid_worker", "station_manager", "centre_viewer", "manager")


@blueprint.get("/api/v1/volunteers/<ref>/last-position")
@require_roles(*POSITION_READERS)
@writes_on_get  # the read is logged in the same transaction: no point leaves without its record
def last_position_api(ref: str):
    """The patroller's latest stored point (stored only on duty), or null; `ref`: app account or patroller id.

    Someone else's read is logged; a HEAD shows no point and logs nothing.
    """
    patroller = visible_patroller(db(), user=current_user, ref=ref)
    position = reading.last_position_on_duty(db(), patroller_id=patroller.id, now=utcnow(),
                                             future_seconds=float(current_app.config["POSITION_MAX_FUTURE_SECONDS"]))
    if request.method == "GET":
        reading.record_read(db(), reader_user_id=current_user.id, reader_patroller_id=current_user.patroller_id,
                            patroller_id=patroller.id, what="last_position")
    return jsonify(schemas.last_position_json(patroller, position,
                                              zone=ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])))
