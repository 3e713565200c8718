"""A phone emptying a day's buffer (8,640 points, one per 10 s) as fast as it can is never refused (issue 17).

`make reliability` sends the whole day; `make test` the first 600 points.

Through the production server over loopback, one keep-alive connection sending GET after GET as
Traccar Client does, on both databases; afterwards every acknowledged point is in the table, in
time order, each fix time once.
"""
from __future__ import annotations

import datetime as dt
import http.client
import time
from urllib.parse import urlencode

import sqlalchemy as sa

from gridsvc.db import make_engine, session_scope
from gridsvc.positions.models import Position
from tests.reliability.conftest import record_figure, scaled
from tests.reliability.live_server import LiveServer

# 24 h at one fix every 10 s under `make reliability`; a shorter buffer in `make test`.
BUFFERED_POINTS = scaled(600, 8640)


def _register_on_duty_device(url: str, patroller_id: int, since: dt.datetime) -> tuple[int, str]:
    from sqlalchemy.orm import sessionmaker

    from gridsvc.people.models import Patroller
    from gridsvc.positions import service

    engine = make_engine(url)
    try:
        with session_scope(sessionmaker(bind=engine, expire_on_commit=False)) as session:
            device, key = service.register_device(session, patroller=session.get(Patroller, patroller_id),
                                                  name="buffered phone")
            service.set_duty(session, patroller_id=patroller_id, on_duty=True, now=since)
            return device.id, key
    finally:
        engine.dispose()


def test_a_days_buffer_sent_as_fast_as_possible_is_all_accepted_and_stored(live_database, backend, tmp_path):
    url, _token, volunteers, (lon, lat) = live_database
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    first_fix = now - dt.timedelta(seconds=10 * BUFFERED_POINTS)
    device_id, key = _register_on_duty_device(url, volunteers[0], first_fix - dt.timedelta(minutes=1))
    # The switch is on for the whole day of buffered fixes; POSITION_MAX_AGE_DAYS keeps them unflagged.
    server = LiveServer(url, log_path=tmp_path / "server.log", env={"GRIDSVC_DUTY_MAX_HOURS": "30"})
    server.start()
    statuses: dict[int, int] = {}
    started = time.monotonic()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        for index in range(BUFFERED_POINTS):
            fix_time = first_fix + dt.timedelta(seconds=10 * index)
            query = urlencode({"id": key, "lat": f"{lat + index * 1e-6:.7f}", "lon": f"{lon:.7f}",
                               "timestamp": int(fix_time.timestamp()), "accuracy": 8, "speed": 2})
            connection.request("GET", f"/api/v1/positions/osmand?{query}")
            response = connection.getresponse()
            response.read()
            statuses[response.status] = statuses.get(response.status, 0) + 1
        connection.close()
    finally:
        elapsed = time.monotonic() - started
        server.stop()
    assert statuses == {200: BUFFERED_POINTS}, statuses
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            times = [row[0] for row in connection.execute(
                sa.select(Position.fixed_at).where(Position.device_id == device_id).order_by(Position.fixed_at))]
    finally:
        engine.dispose()
    assert len(times) == BUFFERED_POINTS and len(set(times)) == BUFFERED_POINTS
    assert times[0].replace(tzinfo=dt.timezone.utc) == first_fix
    record_figure(f"tracker buffer, {backend}", f"{BUFFERED_POINTS} buffered points in {elapsed:.1f} s "
                  f"({BUFFERED_POINTS / elapsed:.0f} points/s over one connection), none refused")
