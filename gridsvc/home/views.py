"""GET /: the period's completion figures (zone-wide roles), or a welcome page (station roles)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from gridsvc.access import signed_in, visible_station_ids
from gridsvc.reports.views import completion_from_request

blueprint = Blueprint("home", __name__)


@blueprint.get("/")
@signed_in
def home():
    """The overview page: the period's completion figures (zone-wide: station roles get a welcome page)."""
    if visible_station_ids(current_user) is not None:
        return render_template("auth/welcome.html")
    return render_template("home.html", report=completion_from_request(tables=("station", "month")))
