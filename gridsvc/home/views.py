"""GET /: the period's completion figures (zone-wide roles), or a welcome page (station roles)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from gridsvc.access import signed_in, visible_station_ids
from gridsvc.reports.views import completion_from_request

blueprint = Blueprint("home", __name__)


def _station_welcome() -> dict:
    """What a station role's home shows: their station, who they are, how many of its tasks are open."""
    from gridsvc.grids.models import Grid
    from gridsvc.patrols.service import list_tasks
    from gridsvc.people.models import Patroller
    from gridsvc.web import db

    session = db()
    station = session.get(Grid, current_user.station_id) if current_user.station_id is not None else None
    me = session.get(Patroller, current_user.patroller_id) if current_user.patroller_id is not None else None
    open_tasks = None
    if station is not None:
        open_tasks = len(list_tasks(session, station_id=station.id, open_only=True, limit=1000))
    return {"station": station, "me": me, "open_tasks": open_tasks}


@blueprint.get("/")
@signed_in
def home():
    """The overview page: the period's completion figures (zone-wide: station roles get a welcome page)."""
    if visible_station_ids(current_user) is not None:
        return render_template("auth/welcome.html", **_station_welcome())
    return render_template("home.html", report=completion_from_request(tables=("station", "month")))
