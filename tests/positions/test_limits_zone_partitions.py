"""Intake limits shared through the database, the outside-zone flag, month partitions on PostGIS (issue 17)."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from gridsvc import create_app
from gridsvc.auth.models import User
from gridsvc.positions import limits
from gridsvc.positions.models import Device, DutySwitch, Position
from gridsvc.positions.partitions import ensure_partitions, months_after, partition_name
from gridsvc.positions.service import purge_positions

URL = "/api/v1/positions/osmand"
# Inside the seeded zone (117.24-117.36 E, 23.84-23.92 N).
LAT, LON = "23.8812345", "117.3012345"


@pytest.fixture
def now():
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _volunteer1_on_duty(app, session, now):
    patroller_id = session.scalar(sa.select(User.patroller_id).where(User.username == "volunteer1"))
    session.merge(DutySwitch(patroller_id=patroller_id, on_since=now - dt.timedelta(minutes=1)))
    session.commit()


def _register(client_as) -> tuple[int, str]:
    body = client_as("volunteer1").post("/api/v1/devices", json={"name": "phone"}).get_json()
    return body["id"], body["key"]


def _send(client, key, at, lat=LAT, lon=LON):
    return client.get(URL, query_string={"id": key, "lat": lat, "lon": lon, "timestamp": str(int(at.timestamp()))})


def _points(session, device_id) -> list[Position]:
    session.expire_all()
    return list(session.scalars(sa.select(Position).where(Position.device_id == device_id)
                                .order_by(Position.fixed_at)))


@pytest.fixture
def small_limits(app):
    saved = {name: app.config[name] for name in ("POSITION_DEVICE_BURST", "POSITION_DEVICE_PER_MINUTE",
                                                 "POSITION_ADDRESS_FAILURE_BURST",
                                                 "POSITION_ADDRESS_FAILURES_PER_MINUTE")}
    app.config.update(POSITION_DEVICE_BURST=5, POSITION_DEVICE_PER_MINUTE=6, POSITION_ADDRESS_FAILURE_BURST=3,
                      POSITION_ADDRESS_FAILURES_PER_MINUTE=2)
    yield
    app.config.update(saved)


def _second_server(app):
    """Another app (as another server process would be) on the same database and transaction."""
    other = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "TESTING": True, "SECRET_KEY": "test",
                        "REGION_CODE": app.config["REGION_CODE"]})
    other.extensions["gridsvc"].sessions = app.extensions["gridsvc"].sessions
    other.config.update({name: app.config[name] for name in app.config if name.startswith("POSITION_")})
    return other


def test_a_device_over_its_rate_waits_and_every_server_sees_the_same_bucket(app, client_as, session, now,
                                                                            small_limits):
    device_id, key = _register(client_as)
    tracker = app.test_client()
    for second in range(5):
        assert _send(tracker, key, now + dt.timedelta(seconds=second)).status_code == 200
    over = _send(tracker, key, now + dt.timedelta(seconds=5))
    assert over.status_code == 429
    assert 1 <= int(over.headers["Retry-After"]) <= 10  # one point back at 6 a minute
    assert over.get_json()["error"]["code"] == "device_rate_limited"
    other = _second_server(app)
    try:
        assert _send(other.test_client(), key, now + dt.timedelta(seconds=6)).status_code == 429
    finally:
        other.extensions["gridsvc"].engine.dispose()
    assert len(_points(session, device_id)) == 5  # the refused points were not stored (the app keeps them)


def test_the_default_bucket_takes_a_days_buffer_at_once():
    bucket = limits.Bucket(burst=10_000, per_minute=120)
    instant = dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc)
    tokens, at = None, None
    for _point in range(8640):  # a phone emptying a day's buffer (one point every 10 s) as fast as it can
        level = bucket.level(tokens, at, instant)
        assert level >= 1
        tokens, at = level - 1, instant
    assert tokens == 10_000 - 8640
    # The steady rate refills it: ten minutes later 1,200 points more.
    assert bucket.level(tokens, at, instant + dt.timedelta(minutes=10)) == 10_000 - 8640 + 1200


def test_failures_from_one_address_make_it_wait_and_good_phones_there_are_never_refused(app, client_as, session,
                                                                                        now, small_limits):
    device_id, key = _register(client_as)
    prober = app.test_client()
    for attempt in range(3):
        assert _send(prober, f"guess-{attempt}", now).status_code == 400
    waiting = _send(prober, "guess-3", now)
    assert waiting.status_code == 429 and int(waiting.headers["Retry-After"]) >= 1
    assert waiting.get_json()["error"]["code"] == "address_rate_limited"
    assert b"guess-3" not in waiting.get_data()
    other = _second_server(app)
    try:
        assert _send(other.test_client(), "guess-4", now).status_code == 429  # the count is in the database
    finally:
        other.extensions["gridsvc"].engine.dispose()
    # A phone behind the same address that names a live device is never held up by the prober.
    assert _send(prober, key, now).status_code == 200
    assert len(_points(session, device_id)) == 1


def test_a_point_far_outside_the_zone_is_flagged_and_a_near_one_is_not(app, client_as, session, now):
    device_id, key = _register(client_as)
    session.merge(DutySwitch(patroller_id=session.get(Device, device_id).patroller_id,
                             on_since=now - dt.timedelta(hours=3)))
    session.commit()
    tracker = app.test_client()
    now = now - dt.timedelta(hours=2)  # an hour between fixes: never a jump
    assert _send(tracker, key, now, lat="23.8812345", lon="117.3012345").status_code == 200  # inside
    # 0.001 deg = about 100 m east of the zone's eastern edge (117.36): within the 200 m tolerance.
    assert _send(tracker, key, now + dt.timedelta(hours=1), lat="23.88", lon="117.361").status_code == 200
    # 0.05 deg = about 5 km east of it.
    assert _send(tracker, key, now + dt.timedelta(hours=2), lat="23.88", lon="117.41").status_code == 200
    assert [point.flags for point in _points(session, device_id)] == [[], [], ["outside_zone"]]


def _partition_of(session, position_id: int) -> str:
    return session.execute(sa.text("SELECT tableoid::regclass::text FROM positions WHERE id = :id"),
                           {"id": position_id}).scalar()


def test_a_point_13_months_ahead_lands_in_a_partition_and_moves_to_its_month(app, client_as, session, backend, now):
    device_id, key = _register(client_as)
    ahead = now + dt.timedelta(days=396)  # 13 months
    session.merge(DutySwitch(patroller_id=session.get(Device, device_id).patroller_id,
                             on_since=ahead - dt.timedelta(minutes=1)))
    session.commit()
    assert _send(app.test_client(), key, ahead).status_code == 200
    [point] = _points(session, device_id)
    assert point.fixed_at == ahead and "future" in point.flags
    if backend == "spatialite":  # one file, one node: nothing is partitioned and nothing needs to be
        assert ensure_partitions(session.connection(), first=now.date(), last=ahead.date()) == []
        return
    assert _partition_of(session, point.id) == "positions_default"  # beyond the months made ahead

    month = ahead.date().replace(day=1)
    made = ensure_partitions(session.connection(), first=now.date(), last=ahead.date())
    assert partition_name(month) in made
    assert _partition_of(session, point.id) == partition_name(month)
    assert ensure_partitions(session.connection(), first=now.date(), last=ahead.date()) == []  # made once
    parent = session.execute(sa.text(
        "SELECT p.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE c.relname = :name"), {"name": partition_name(month)}).scalar()
    assert parent == "positions"


def test_old_month_partitions_are_dropped_whole_unless_a_recent_session_holds_them(app, client_as, session,
                                                                                  backend, now):
    device_id, key = _register(client_as)
    device = session.get(Device, device_id)
    old = (now - dt.timedelta(days=200)).replace(day=15, hour=12, minute=0, second=0)
    session.merge(DutySwitch(patroller_id=device.patroller_id, on_since=old - dt.timedelta(minutes=1)))
    session.commit()
    saved = app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"]
    app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"] = 24 * 400, 400
    try:
        assert _send(app.test_client(), key, old).status_code == 200
    finally:
        app.config["DUTY_MAX_HOURS"], app.config["POSITION_MAX_AGE_DAYS"] = saved
    [point] = _points(session, device_id)
    month = old.date().replace(day=1)
    ensure_partitions(session.connection(), first=month, last=month)
    if backend == "postgis":
        assert _partition_of(session, point.id) == partition_name(month)
    cutoff = now - dt.timedelta(days=90)

    held = [(device.patroller_id, old - dt.timedelta(hours=1), cutoff + dt.timedelta(days=1))]
    assert purge_positions(session, older_than=cutoff, holds=held) == 0  # a session final since the cutoff
    assert len(_points(session, device_id)) == 1
    assert purge_positions(session, older_than=cutoff) == 1
    assert _points(session, device_id) == []
    if backend == "postgis":
        exists = session.execute(sa.text("SELECT to_regclass(:name)"), {"name": partition_name(month)}).scalar()
        assert exists is None  # dropped whole; on SQLite deleted in batches
    assert months_after(dt.date(2026, 12, 2), 13) == dt.date(2028, 1, 1)
