"""Completion arithmetic: exact seconds, half-up rounding, pro-rata targets and their edges."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

from gridsvc.periods import parse_period
from gridsvc.figures import hours, percent
from gridsvc.reports.service import completion, volunteer_target_seconds


def test_report_figures_from_integer_seconds():
    assert hours(25_447_968) == Decimal("7068.88")
    assert hours(27_163_224) == Decimal("7545.34")
    assert percent(25_447_968, 647 * 6 * 3600) == Decimal("182.09")
    assert percent(27_163_224, 647 * 6 * 3600) == Decimal("194.37")


def test_rounding_is_half_up_not_bankers():
    assert hours(18) == Decimal("0.01")  # 0.005 h rounds up
    assert hours(17) == Decimal("0.00")
    assert percent(1, 200) == Decimal("0.50")
    assert percent(1, 40000) == Decimal("0.00")  # 0.0025 %
    assert percent(1, 20000) == Decimal("0.01")  # 0.005 % rounds up


def test_percent_is_not_capped_and_none_without_target():
    assert percent(3 * 3600, 3600) == Decimal("300.00")
    assert percent(3600, 0) is None


def test_a_full_year_is_the_whole_quota_even_in_a_leap_year():
    year = parse_period("2020")
    assert volunteer_target_seconds(dt.date(2019, 1, 1), None, year, Fraction(6)) == 6 * 3600


def test_joined_on_the_last_day_owes_one_day():
    year = parse_period("2020")
    assert volunteer_target_seconds(dt.date(2020, 12, 31), None, year, Fraction(6)) == Fraction(6 * 3600, 366)
    assert volunteer_target_seconds(dt.date(2021, 1, 1), None, year, Fraction(6)) == 0


def test_left_mid_period_counts_pro_rata():
    first_half = parse_period(None, date_from="2021-01-01", date_to="2021-12-31")
    target = volunteer_target_seconds(dt.date(2020, 1, 1), dt.date(2021, 1, 31), first_half, Fraction(6))
    assert target == Fraction(31 * 6 * 3600, 365)


def test_a_month_is_its_share_of_the_year():
    assert volunteer_target_seconds(dt.date(2019, 1, 1), None, parse_period("2020-02"), Fraction(6)) == \
        Fraction(29 * 6 * 3600, 366)


def test_period_with_no_volunteers_has_no_percent(session):
    result = completion(session, period=parse_period("2010"), quota_hours_per_year=6)
    assert result["volunteers"] == 0
    assert result["target_hours"] == 0.0
    assert result["by_kind"]["group"] == {"seconds": 0, "hours": 0.0, "percent": None}


def test_quarter_of_the_seed(session):
    result = completion(session, period=parse_period("2020-Q1"), quota_hours_per_year=6)
    assert result["volunteers"] == 647
    # Q1 2020 is 91 of 366 days.
    assert Fraction(result["target_seconds"]).limit_denominator(366) == Fraction(647 * 6 * 3600 * 91, 366)
