"""Completion on the tiny world (tests/reports/conftest.py): every expectation below is computed by hand.

2020 has 366 days and the quota is 6 h = 21600 s per volunteer per year, so one day weighs
21600/366 s (59.016 s). Targets: a1 21600 s; a2 (joined on the last day) 59.016 s; a3 (left on
31 March: 31 + 29 + 31 = 91 days) 21600 × 91/366 = 5370.49 s; b1 21600 s. Station A: 21600 × 458/366
= 27029.51 s = 7.51 h; all: 48629.51 s = 13.51 h.
"""
from __future__ import annotations

from fractions import Fraction

import pytest

from gridsvc.periods import parse_period
from gridsvc.reports.service import completion
from tests.reports.conftest import STATION_A, STATION_B, STATION_E


def report(session, period="2020", **options):
    return completion(session, period=parse_period(period), quota_hours_per_year=6, **options)


def by_account(result):
    return {row["app_account_id"]: row for row in result["by_volunteer"]}


def by_code(result):
    return {row["station_code"]: row for row in result["by_station"]}


def test_totals_by_hand(tiny_session):
    result = report(tiny_session)
    assert result["volunteers"] == 4
    assert result["target_seconds"] == pytest.approx(21600 * (366 + 1 + 91 + 366) / 366)
    assert result["target_hours"] == 13.51
    # group: a1 10800 + a3 7200 = 18000 s = 5.00 h; 18000 / 48629.51 = 37.01 %
    assert result["claimed"]["group"] == {"seconds": 18000, "hours": 5.0, "percent": 37.01, "sessions": 2}
    # individual: a1 3600 (1 February locally) + a2 3600 = 7200 s; the 2021-01-01 00:10 one is 2021's
    assert result["claimed"]["individual"] == {"seconds": 7200, "hours": 2.0, "percent": 14.81, "sessions": 2}
    assert result["by_kind"]["group"] == {"seconds": 18000, "hours": 5.0, "percent": 37.01}
    # verified: only a1's group patrol, 9000 s = 2.50 h; 9000 / 48629.51 = 18.51 %
    assert result["verified"]["group"] == {"seconds": 9000, "hours": 2.5, "percent": 18.51, "sessions_verified": 1}
    assert result["verified"]["individual"] == {"seconds": 0, "hours": 0.0, "percent": 0.0, "sessions_verified": 0}
    # the grid worker's 30 minutes are beside the volunteers' figures, not inside them
    assert result["grid_workers"]["group"] == {"seconds": 1800, "hours": 0.5}


def test_volunteer_who_joined_on_the_last_day(tiny_session):
    a2 = by_account(report(tiny_session))["a2"]
    assert a2["target_seconds"] == pytest.approx(21600 / 366)  # one day's share, 59.016 s
    assert a2["target_hours"] == 0.02
    # one hour against one day's share: 3600 / (21600 / 366) = 61 times = 6100.00 %, not capped
    assert a2["claimed"]["individual"]["percent"] == 6100.0
    assert a2["claimed"]["group"]["percent"] == 0.0


def test_volunteer_who_left_mid_period(tiny_session):
    a3 = by_account(report(tiny_session))["a3"]
    assert a3["active_to"] == "2020-03-31"
    assert a3["target_hours"] == 1.49  # 5370.49 s
    assert a3["claimed"]["group"]["percent"] == 134.07  # 7200 / 5370.49


def test_volunteer_who_left_before_the_period_has_no_target(tiny_session):
    result = report(tiny_session, "2020-04")
    assert "a3" not in by_account(result)
    # April: a1 and b1, 30 days each: 60 × 21600 / 366 = 3540.98 s
    assert result["volunteers"] == 2
    assert result["target_hours"] == 0.98


def test_station_with_no_patrols_is_zero_percent_of_its_target(tiny_session):
    station_b = by_code(report(tiny_session))[STATION_B]
    assert station_b["volunteers"] == 1
    assert station_b["target_hours"] == 6.0
    for kind in ("group", "individual"):
        assert station_b["claimed"][kind] == {"seconds": 0, "hours": 0.0, "percent": 0.0, "sessions": 0}


def test_station_with_no_volunteers_has_no_percent(tiny_session):
    station_e = by_code(report(tiny_session))[STATION_E]
    assert station_e["volunteers"] == 0 and station_e["target_seconds"] == 0
    assert station_e["by_kind"]["group"] == {"seconds": 0, "hours": 0.0, "percent": None}


def test_station_a_by_hand(tiny_session):
    station_a = by_code(report(tiny_session))[STATION_A]
    assert station_a["volunteers"] == 3
    assert station_a["target_hours"] == 7.51
    assert station_a["claimed"]["group"]["percent"] == 66.59  # 18000 / 27029.51
    assert station_a["claimed"]["individual"]["percent"] == 26.64  # 7200 / 27029.51


def test_period_with_no_volunteers(tiny_session):
    result = report(tiny_session, "2018")
    assert result["volunteers"] == 0 and result["target_seconds"] == 0 and result["target_hours"] == 0.0
    assert result["by_volunteer"] == []
    for kind in ("group", "individual"):
        assert result["claimed"][kind]["percent"] is None and result["verified"][kind]["percent"] is None
    assert all(row["target_seconds"] == 0 and row["by_kind"]["group"]["percent"] is None
               for row in result["by_station"] + result["by_month"])


def test_months_by_hand_and_they_add_up(tiny_session):
    result = report(tiny_session)
    months = {row["month"]: row for row in result["by_month"]}
    assert len(months) == 12
    # January: a1, a3, b1 for 31 days: 93 × 21600 / 366 = 5488.52 s
    assert months["2020-01"]["volunteers"] == 3 and months["2020-01"]["target_hours"] == 1.52
    assert months["2020-01"]["claimed"]["group"]["seconds"] == 10800
    # the individual patrol at 00:30 on 1 February (16:30 UTC on 31 January) is February's
    assert months["2020-01"]["claimed"]["individual"]["seconds"] == 0
    assert months["2020-02"]["claimed"]["individual"]["seconds"] == 3600
    # December: a1 31 + a2 1 + b1 31 = 63 days: 3718.03 s
    assert months["2020-12"]["volunteers"] == 3 and months["2020-12"]["target_hours"] == 1.03
    assert sum(Fraction(row["target_seconds"]).limit_denominator(366) for row in result["by_month"]) == \
        Fraction(21600 * 824, 366)
    for kind in ("group", "individual"):
        assert sum(row["claimed"][kind]["seconds"] for row in result["by_month"]) == result["claimed"][kind]["seconds"]


def test_a_date_range_cuts_months(tiny_session):
    result = completion(tiny_session, period=parse_period(date_from="2020-01-20", date_to="2020-02-10"),
                        quota_hours_per_year=6)
    assert [(row["month"], row["from"], row["to"]) for row in result["by_month"]] == [
        ("2020-01", "2020-01-20", "2020-01-31"), ("2020-02", "2020-02-01", "2020-02-10")]
    assert result["claimed"]["group"]["seconds"] == 0  # 15 January is outside
    assert result["claimed"]["individual"]["seconds"] == 3600


def test_volunteers_sorted_furthest_behind_first(tiny_session):
    order = [row["app_account_id"] for row in report(tiny_session)["by_volunteer"]]
    # lowest completion in any kind first: b1 0 % and 0 %; a3 0 % individual, 134.07 % group;
    # a2 0 % group, 6100 % individual; a1 16.67 % individual
    assert order == ["b1", "a3", "a2", "a1"]
    only_group = [row["app_account_id"] for row in report(tiny_session, kinds=["group"])["by_volunteer"]]
    assert only_group == ["a2", "b1", "a1", "a3"]  # 0 %, 0 % (by account), 50 %, 134.07 %


def test_station_filter_equals_its_row(tiny_session):
    whole = by_code(report(tiny_session))[STATION_A]
    one = report(tiny_session, station_code=STATION_A)
    assert one["station"] == STATION_A and one["volunteers"] == 3
    assert one["target_seconds"] == whole["target_seconds"]
    assert one["claimed"] == whole["claimed"] and one["verified"] == whole["verified"]
    assert [row["station_code"] for row in one["by_station"]] == [STATION_A]
    assert {row["app_account_id"] for row in one["by_volunteer"]} == {"a1", "a2", "a3"}


def test_verified_basis(tiny_session):
    result = report(tiny_session, basis="verified")
    assert result["by_kind"]["group"] == {"seconds": 9000, "hours": 2.5, "percent": 18.51}
    assert result["claimed"]["group"]["seconds"] == 18000  # still side by side


def test_unknown_station_kind_basis_and_overlong_period_are_refused(tiny_session):
    from gridsvc.errors import NotFoundError, ValidationError

    with pytest.raises(NotFoundError):
        report(tiny_session, station_code="350600001999")
    with pytest.raises(ValidationError):
        report(tiny_session, kinds=["walking"])
    with pytest.raises(ValidationError):
        report(tiny_session, basis="guessed")
    with pytest.raises(ValidationError):
        completion(tiny_session, period=parse_period(date_from="1990-01-01", date_to="2020-12-31"),
                   quota_hours_per_year=6)
