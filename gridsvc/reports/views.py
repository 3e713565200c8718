"""Completion API and the home page."""
from flask import Blueprint, current_app, jsonify, render_template, request

from gridsvc.reports.periods import parse_period
from gridsvc.reports.service import completion
from gridsvc.web import db

blueprint = Blueprint("reports", __name__)


def _completion_from_request() -> dict:
    period = parse_period(
        request.args.get("period") or str(current_app.config.get("DEFAULT_PERIOD", "2020")),
        date_from=request.args.get("from"), date_to=request.args.get("to"),
        tz=current_app.config["DISPLAY_TIMEZONE"],
    )
    return completion(db(), period=period, quota_hours_per_year=current_app.config["QUOTA_HOURS_PER_YEAR"],
                      basis=request.args.get("basis", "claimed"))


@blueprint.get("/api/v1/completion")
def completion_api():
    """Completion by kind and by station for ?period= (or ?from=&to=)."""
    return jsonify(_completion_from_request())


@blueprint.get("/")
def home():
    """The overview page: the period's completion figures."""
    return render_template("home.html", report=_completion_from_request())
