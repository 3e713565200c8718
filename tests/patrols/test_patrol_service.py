"""Patrol sessions: time rules, idempotency by client_uuid and overlap, on both databases."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from gridsvc.errors import ConflictError, ValidationError
from gridsvc.patrols.models import PatrolSession
from gridsvc.patrols.intake import normalise_uuid
from gridsvc.patrols.service import NewPatrol, log_patrol
from gridsvc.people.models import Patroller

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2021, 6, 1, 12, tzinfo=dt.timezone.utc)


@pytest.fixture
def volunteer_id(session):
    return session.scalar(sa.select(Patroller.id).where(Patroller.app_account_id == "XLXQ000001"))


def _count(session):
    return session.scalar(sa.select(sa.func.count()).select_from(PatrolSession))


def _log(session, volunteer_id, start, end, client_uuid=None, kind="individual"):
    # The uuid as the intake hands it to the service: canonical, so a retry in capitals is the same submission.
    patrol = NewPatrol(client_uuid=normalise_uuid(client_uuid or str(uuid.uuid4())), kind=kind,
                       patroller_id=volunteer_id, started_at=start, ended_at=end)
    return log_patrol(session, patrol=patrol, source="api", now=NOW)


def test_end_before_start_is_refused_and_nothing_written(session, volunteer_id):
    before = _count(session)
    start = dt.datetime(2021, 5, 1, 9, tzinfo=SHANGHAI)
    with pytest.raises(ValidationError) as error:
        _log(session, volunteer_id, start, start - dt.timedelta(minutes=1))
    assert error.value.code == "end_before_start"
    assert _count(session) == before


@pytest.mark.parametrize("hours_after_now, length_hours, code", [
    (2, 1, "in_future"),
    (-30, 25, "too_long"),
])
def test_time_rules(session, volunteer_id, hours_after_now, length_hours, code):
    end = NOW + dt.timedelta(hours=hours_after_now)
    with pytest.raises(ValidationError) as error:
        _log(session, volunteer_id, end - dt.timedelta(hours=length_hours), end)
    assert error.value.code == code


def test_retry_returns_the_original_and_a_changed_body_conflicts(session, volunteer_id):
    start = dt.datetime(2021, 5, 2, 9, tzinfo=SHANGHAI)
    client_uuid = str(uuid.uuid4())
    first, created = _log(session, volunteer_id, start, start + dt.timedelta(hours=2), client_uuid)
    assert created
    again, created_again = _log(session, volunteer_id, start, start + dt.timedelta(hours=2), client_uuid.upper())
    assert (again.id, created_again) == (first.id, False)
    with pytest.raises(ConflictError) as error:
        _log(session, volunteer_id, start, start + dt.timedelta(hours=3), client_uuid)
    assert error.value.code == "client_uuid_reused"
    assert session.get(PatrolSession, first.id).duration_seconds == 7200


def test_overlapping_session_names_the_other(session, volunteer_id):
    start = dt.datetime(2021, 5, 3, 9, tzinfo=SHANGHAI)
    first, _ = _log(session, volunteer_id, start, start + dt.timedelta(hours=2))
    with pytest.raises(ConflictError) as error:
        _log(session, volunteer_id, start + dt.timedelta(hours=1), start + dt.timedelta(hours=3))
    assert error.value.code == "overlapping_session"
    assert error.value.params["other"] == first.id
    # Back to back is not an overlap.
    _log(session, volunteer_id, start + dt.timedelta(hours=2), start + dt.timedelta(hours=3))
