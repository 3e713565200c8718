"""Targets: quota hours per volunteer for a whole period, zone-wide or per station, pro rata by days."""
from __future__ import annotations

import datetime as dt
from fractions import Fraction
from types import SimpleNamespace

import pytest

from gridsvc.errors import ConflictError, NotFoundError, ValidationError
from gridsvc.periods import parse_period
from gridsvc.reports.service import completion
from gridsvc.reports.targets import (create_target, delete_target, list_targets, quota_seconds_from_hours,
                                     rate_segments, target_of)
from tests.reports.conftest import STATION_A, STATION_B


def rule(first, last, hours, station_id=None, target_id=1):
    return SimpleNamespace(id=target_id, starts_on=dt.date.fromisoformat(first), ends_on=dt.date.fromisoformat(last),
                           quota_seconds=int(hours * 3600), station_id=station_id)


def test_quota_hours_become_whole_seconds():
    assert quota_seconds_from_hours(6) == 21600
    assert quota_seconds_from_hours("1.5") == 5400
    assert quota_seconds_from_hours(0.01) == 36
    for bad in ("six", "-1", "10000.01", "1.005", "NaN", "Infinity", True):
        with pytest.raises(ValidationError):
            quota_seconds_from_hours(bad)


def test_without_rows_the_yearly_quota_applies_and_segments_stop_at_months():
    segments = rate_segments(parse_period("2020"), quota_hours_per_year=6)
    assert len(segments) == 12
    assert {s.seconds_per_day for s in segments} == {Fraction(21600, 366)}
    assert target_of(segments, dt.date(2019, 1, 1), None) == 21600


def test_a_target_is_per_its_own_period_not_per_year():
    # 2020-Q1, 3 h: each of its 91 days weighs 3 h / 91
    q1 = rule("2020-01-01", "2020-03-31", 3)
    segments = rate_segments(parse_period("2020"), quota_hours_per_year=6, targets=[q1])
    assert target_of(segments, dt.date(2019, 1, 1), None) == 10800 + Fraction(21600 * 275, 366)
    # a volunteer active in Q1 only owes exactly the target
    assert target_of(segments, dt.date(2020, 1, 1), dt.date(2020, 3, 31)) == 10800
    # who joined on the target's last day owes one day: 10800 / 91 s
    assert target_of(segments, dt.date(2020, 3, 31), None) == Fraction(10800, 91) + Fraction(21600 * 275, 366)


def test_a_target_reaching_past_the_period_counts_only_the_days_inside():
    # 2020-12-01 .. 2021-01-31 is 62 days at 6.2 h: 0.1 h = 360 s a day; December has 31 of them
    winter = rule("2020-12-01", "2021-01-31", 6.2)
    segments = rate_segments(parse_period("2020-12"), quota_hours_per_year=6, targets=[winter])
    assert target_of(segments, dt.date(2019, 1, 1), None) == 31 * 360
    segments_2021 = rate_segments(parse_period("2021"), quota_hours_per_year=6, targets=[winter])
    assert target_of(segments_2021, dt.date(2019, 1, 1), None) == 31 * 360 + Fraction(21600 * 334, 365)


def test_a_station_target_beats_the_zone_target_only_for_that_station():
    zone = rule("2020-01-01", "2020-12-31", 12, target_id=1)
    own = rule("2020-07-01", "2020-12-31", 2, station_id=7, target_id=2)
    period = parse_period("2020")
    other = rate_segments(period, quota_hours_per_year=6, targets=[zone, own], station_id=8)
    mine = rate_segments(period, quota_hours_per_year=6, targets=[zone, own], station_id=7)
    assert target_of(other, dt.date(2019, 1, 1), None) == 12 * 3600
    # January-June (182 days) at 12 h / 366 days, then the station's 2 h for July-December
    assert target_of(mine, dt.date(2019, 1, 1), None) == Fraction(12 * 3600 * 182, 366) + 7200
    assert {s.target_id for s in mine} == {1, 2}


def test_a_zero_target_means_no_target():
    segments = rate_segments(parse_period("2020-02"), quota_hours_per_year=6,
                             targets=[rule("2020-02-01", "2020-02-29", 0)])
    assert target_of(segments, dt.date(2019, 1, 1), None) == 0


def test_a_zone_wide_6_hour_target_for_2020_reproduces_the_report(session):
    create_target(session, period=parse_period("2020"), quota_hours=6)
    result = completion(session, period=parse_period("2020"), quota_hours_per_year=99)
    assert result["target_hours"] == 3882.0
    assert result["by_kind"]["group"]["percent"] == 182.09
    assert result["by_kind"]["individual"]["percent"] == 194.37
    assert [t["period"] for t in result["targets"]] == ["2020"]


def test_station_override_on_the_tiny_world(tiny_session):
    # Station A owes 3 h in 2020-Q1: a1 = 3 h + 6 h × 275/366 = 27029.51 s; a3 (Q1 only) = 3 h;
    # a2 (31 December only) = one day of 6 h / 366; station B keeps the yearly quota.
    create_target(tiny_session, period=parse_period("2020-Q1"), quota_hours=3, station_code=STATION_A, note="winter")
    result = completion(tiny_session, period=parse_period("2020"), quota_hours_per_year=6)
    rows = {row["app_account_id"]: row for row in result["by_volunteer"]}
    assert rows["a1"]["target_hours"] == 7.51
    assert rows["a3"]["target_seconds"] == 10800 and rows["a3"]["claimed"]["group"]["percent"] == 66.67
    assert rows["a2"]["target_hours"] == 0.02
    assert rows["b1"]["target_seconds"] == 21600
    assert result["targets"][0]["station_code"] == STATION_A and result["targets"][0]["note"] == "winter"


def test_overlapping_targets_of_the_same_scope_are_refused(tiny_session):
    create_target(tiny_session, period=parse_period("2020"), quota_hours=6)
    with pytest.raises(ConflictError):
        create_target(tiny_session, period=parse_period("2020-06"), quota_hours=1)
    create_target(tiny_session, period=parse_period("2020-06"), quota_hours=1, station_code=STATION_B)
    with pytest.raises(ConflictError):
        create_target(tiny_session, period=parse_period(date_from="2020-06-30", date_to="2020-07-01"),
                      quota_hours=1, station_code=STATION_B)
    assert len(list_targets(tiny_session, period=parse_period("2020-06"))) == 2
    assert len(list_targets(tiny_session, period=parse_period("2020-06"), station_code=STATION_A)) == 1


def test_delete_and_unknown(tiny_session):
    target = create_target(tiny_session, period=parse_period("2021"), quota_hours=4)
    delete_target(tiny_session, target_id=target.id)
    assert list_targets(tiny_session) == []
    with pytest.raises(NotFoundError):
        delete_target(tiny_session, target_id=target.id)
    with pytest.raises(NotFoundError):
        create_target(tiny_session, period=parse_period("2021"), quota_hours=4, station_code="350600001999")


def test_targets_api(tiny_client):
    created = tiny_client.post("/api/v1/targets", json={"period": "2020-Q1", "quota_hours": 3,
                                                         "station_code": STATION_A})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["from"] == "2020-01-01" and body["to"] == "2020-03-31" and body["quota_hours"] == 3.0
    assert tiny_client.post("/api/v1/targets", json={"period": "2020-03", "quota_hours": 1,
                                                     "station_code": STATION_A}).status_code == 409
    for bad in ({"period": "2020"}, {"quota_hours": 2}, {"period": 2020, "quota_hours": 2},
                {"period": "2020", "quota_hours": [2]}, {"from": "2020-01-01", "quota_hours": 2}):
        assert tiny_client.post("/api/v1/targets", json=bad).status_code == 422, bad
    listed = tiny_client.get("/api/v1/targets?period=2020").get_json()
    assert [t["id"] for t in listed["targets"]] == [body["id"]]
    api = tiny_client.get("/api/v1/completion?period=2020&group_by=volunteer").get_json()
    assert {row["app_account_id"]: row["target_hours"] for row in api["by_volunteer"]}["a1"] == 7.51
    assert tiny_client.delete(f"/api/v1/targets/{body['id']}").status_code == 204
    assert tiny_client.delete(f"/api/v1/targets/{body['id']}").status_code == 404
