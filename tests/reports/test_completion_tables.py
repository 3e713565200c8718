"""The API computes only the table it answers with (completion(tables=...)); its figures stay the full report's.

Each group_by answer is compared, exactly, with api_view() of the report computed with every table:
through HTTP on the seeded 2020 data, and through completion() on the tiny world with filters,
bases, short periods and a volunteer who patrolled after leaving.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from gridsvc.errors import ValidationError
from gridsvc.periods import parse_period
from gridsvc.reports.schemas import GROUPINGS, TABLES, api_view, report_tables
from gridsvc.reports.service import completion
from tests.reports.conftest import LOCAL, STATION_A, STATION_B, STATION_E, _patrol

SEEDED_QUERIES = ["period=2020", "period=2020&basis=verified", "period=2020-Q1&kind=group",
                  "period=2020&station=350600001001", "from=2020-01-20&to=2020-02-10&kind=individual,group"]


def _as_json(app, value: dict) -> dict:
    """A dict as the API's JSON carries it back."""
    return json.loads(app.json.dumps(value))


@pytest.mark.parametrize("query", SEEDED_QUERIES)
def test_api_answers_equal_the_full_report(app, client, session, query):
    args = dict(part.split("=") for part in query.split("&"))
    kind = args.get("kind")
    full = completion(session, period=parse_period(args.get("period"), date_from=args.get("from"),
                                                   date_to=args.get("to"), tz=app.config["DISPLAY_TIMEZONE"]),
                      quota_hours_per_year=app.config["QUOTA_HOURS_PER_YEAR"], basis=args.get("basis", "claimed"),
                      station_code=args.get("station"), kinds=kind.split(",") if kind else None)
    assert {"by_station", "by_volunteer", "by_month"} <= set(full)
    for group_by in GROUPINGS:
        response = client.get(f"/api/v1/completion?{query}&group_by={group_by}")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        assert response.get_json() == _as_json(app, api_view(full, group_by=group_by)), group_by
    if query == "period=2020":
        totals = client.get("/api/v1/completion?period=2020&group_by=kind").get_json()
        assert totals["volunteers"] == 647 and totals["target_hours"] == 3882.0
        assert (totals["claimed"]["group"]["hours"], totals["claimed"]["group"]["percent"]) == (7068.88, 182.09)
        assert (totals["claimed"]["individual"]["hours"], totals["claimed"]["individual"]["percent"]) == (7545.34, 194.37)


@pytest.fixture
def left_and_patrolled(tiny_session):
    """a3 (left on 2020-03-31) logs a patrol in June: counted for a3 and station A, against a target of 0."""
    from gridsvc.people.models import Patroller

    a3 = tiny_session.scalars(sa.select(Patroller).where(Patroller.name == "a3")).one()
    tiny_session.add(_patrol(a3, "individual", dt.datetime(2020, 6, 1, 7, 0, tzinfo=LOCAL), 45, verified=1200))
    tiny_session.flush()
    return tiny_session


@pytest.mark.parametrize("options", [
    {}, {"basis": "verified"}, {"kinds": ["individual"]}, {"station_code": STATION_A}, {"station_code": STATION_B},
    {"station_code": STATION_E, "basis": "verified"}, {"period": "2020-06"}, {"period": "2020-Q2"},
    {"date_from": "2020-01-20", "date_to": "2020-02-10"}, {"date_from": "2019-12-15", "date_to": "2021-01-15"},
])
def test_each_table_alone_equals_the_full_report(left_and_patrolled, options):
    options = dict(options)
    dates = {"date_from": options.pop("date_from", None), "date_to": options.pop("date_to", None)}
    period = parse_period(None if dates["date_from"] else options.pop("period", "2020"), **dates)
    common = {"period": period, "quota_hours_per_year": 6, **options}
    full = completion(left_and_patrolled, **common)
    assert completion(left_and_patrolled, **common, tables=TABLES) == full
    for group_by in GROUPINGS:
        assert api_view(completion(left_and_patrolled, **common, tables=report_tables(group_by)),
                        group_by=group_by) == api_view(full, group_by=group_by), group_by
    totals_only = completion(left_and_patrolled, **common, tables=())
    assert not {"by_station", "by_volunteer", "by_month"} & set(totals_only)
    assert totals_only == {key: value for key, value in full.items()
                           if key not in ("by_station", "by_volunteer", "by_month")}


def test_a_volunteer_patrolling_after_leaving_counts_in_every_table(left_and_patrolled):
    full = completion(left_and_patrolled, period=parse_period("2020"), quota_hours_per_year=6)
    assert full["claimed"]["individual"]["seconds"] == 7200 + 2700
    station_a = next(row for row in full["by_station"] if row["station_code"] == STATION_A)
    assert station_a["claimed"]["individual"]["seconds"] == 7200 + 2700 and station_a["volunteers"] == 3
    june = next(row for row in full["by_month"] if row["month"] == "2020-06")
    assert (june["claimed"]["individual"]["seconds"], june["claimed"]["individual"]["sessions"]) == (2700, 1)
    assert june["verified"]["individual"]["seconds"] == 1200 and june["volunteers"] == 2  # a1 and b1
    a3 = next(row for row in full["by_volunteer"] if row["app_account_id"] == "a3")
    assert a3["claimed"]["individual"]["seconds"] == 2700


def test_unknown_group_by_or_table_is_refused(tiny_session):
    with pytest.raises(ValidationError):
        report_tables("person")
    with pytest.raises(ValueError):
        completion(tiny_session, period=parse_period("2020"), quota_hours_per_year=6, tables=("stations",))
