"""The intake as the one validator of a patrol, and log_many (the batch endpoint and the CSV import)."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from gridsvc.errors import ValidationError
from gridsvc.patrols.intake import PatrolIntake, check_start_point, start_point_from_text
from gridsvc.patrols.models import PatrolSession
from gridsvc.patrols.track import TrackError, TrackPoint, track_from_points
from gridsvc.people.models import Patroller

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2021, 6, 1, 12, tzinfo=dt.timezone.utc)
ZONE_BBOX = (117.20, 23.78, 117.40, 23.98)


@pytest.mark.parametrize("lon, lat, expected", [
    ("", "", None),
    (None, None, None),
    ("117.3", " 23.88 ", (117.3, 23.88)),
])
def test_start_point_from_text_reads_two_numbers(lon, lat, expected):
    assert start_point_from_text(lon, lat) == expected


@pytest.mark.parametrize("lon, lat", [("x", "23.88"), ("", "23.88"), ("nan", "23.88"), ("117.3", "inf"), (None, "1")])
def test_start_point_from_text_refuses_what_is_not_a_number(lon, lat):
    with pytest.raises(ValidationError) as refusal:
        start_point_from_text(lon, lat)
    assert refusal.value.code == "start_point_format"


def test_a_swapped_start_point_is_named_before_its_range():
    with pytest.raises(TrackError) as swapped:
        check_start_point((23.88, 117.3), ZONE_BBOX)
    with pytest.raises(ValidationError) as out_of_range:
        check_start_point((200.0, 23.88), ZONE_BBOX)
    check_start_point((117.3, 23.88), ZONE_BBOX)
    check_start_point((117.3, 23.88), None)
    assert (swapped.value.code, out_of_range.value.code) == ("swapped_coordinates", "start_point_format")


def test_a_track_file_patrol_checks_its_kind_and_takes_the_track_times():
    start = dt.datetime(2021, 5, 1, 9, tzinfo=dt.timezone.utc)
    later = start + dt.timedelta(minutes=5)
    track = track_from_points([TrackPoint(117.3, 23.88, start), TrackPoint(117.301, 23.88, later)], now=NOW)
    intake = PatrolIntake(None)
    client_uuid = str(uuid.uuid4())

    patrol = intake.file_patrol(client_uuid=client_uuid.upper(), kind="individual", patroller_id=1, task_id=None,
                                track=track)
    with pytest.raises(ValidationError) as refusal:
        intake.file_patrol(client_uuid=client_uuid, kind="walk", patroller_id=1, task_id=None, track=track)

    assert (patrol.client_uuid, patrol.started_at, patrol.ended_at) == (client_uuid, track.start, track.end)
    assert refusal.value.code == "patrol_kind"


def _two_volunteers(session) -> tuple[Patroller, Patroller]:
    """Two seed volunteers, the higher patroller id first."""
    found = session.scalars(sa.select(Patroller).where(Patroller.app_account_id.in_(["XLXQ000001", "XLXQ000002"]))
                            .order_by(Patroller.id.desc())).all()
    return found[0], found[1]


def _body(volunteer: Patroller, client_uuid: str, day: int) -> dict:
    start = dt.datetime(2021, 5, day, 9, tzinfo=SHANGHAI)
    return {"client_uuid": client_uuid, "kind": "individual", "volunteer": volunteer.app_account_id,
            "start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()}


def test_log_many_gives_one_outcome_per_item_in_the_items_order(session):
    higher, lower = _two_volunteers(session)
    items = [_body(higher, str(uuid.uuid4()), 4), {"kind": "individual"}, _body(lower, str(uuid.uuid4()), 4), "x"]
    counted = []

    outcomes = PatrolIntake(session, now=NOW).log_many(items, source="api", progress=counted.append)

    assert [outcome.index for outcome in outcomes] == [0, 1, 2, 3]
    assert [outcome.error.code if outcome.error else "created" for outcome in outcomes] == [
        "created", "client_uuid_required", "created", "json_object_required"]
    assert [outcome.patrol.patroller_id for outcome in outcomes if outcome.patrol] == [higher.id, lower.id]
    assert sum(counted) == len(items)


def test_log_many_locks_by_patroller_unless_told_to_keep_the_given_order(session):
    higher, lower = _two_volunteers(session)
    shared = str(uuid.uuid4())
    items = [_body(higher, shared, 5), _body(lower, shared, 6)]

    savepoint = session.begin_nested()
    by_patroller = PatrolIntake(session, now=NOW).log_many(items, source="api")
    savepoint.rollback()
    as_given = PatrolIntake(session, now=NOW).log_many(items, source="import", in_given_order=True)

    # The same uuid for two people: whichever is logged first is stored, the other is refused.
    assert [o.error.code if o.error else "created" for o in by_patroller] == ["client_uuid_reused", "created"]
    assert [o.error.code if o.error else "created" for o in as_given] == ["created", "client_uuid_reused"]
    assert session.scalar(sa.select(PatrolSession.patroller_id).where(PatrolSession.client_uuid == shared)) == higher.id
