"""Fixtures of the completion tests: a tiny hand-made world whose figures are computed by hand.

The tiny world (year 2020 has 366 days; quota 6 h = 21600 s per volunteer per year):
- station A (350600001001): volunteer a1 active all year; a2 joined on 2020-12-31 (the last day);
  a3 left on 2020-03-31 (91 days of 2020); grid worker g1;
- station B (350600001002): volunteer b1 active all year, no patrols at all;
- station E (350600001003): no volunteers.
Patrols (local time, +08:00): a1 group 2020-01-15 09:00-12:00 (10800 s, 9000 s verified);
a1 individual 2020-02-01 00:30-01:30 (3600 s; 2020-01-31 16:30 UTC, so February locally);
a1 individual 2021-01-01 00:10-01:10 (2020-12-31 UTC, so 2021 locally); a2 individual
2020-12-31 20:00-21:00 (3600 s); a3 group 2020-03-10 19:00-21:00 (7200 s); g1 group 2020-05-01
08:00-08:30 (1800 s).
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid

import pytest
from shapely.geometry import MultiPolygon, box

from gridsvc import create_app
from gridsvc.db import session_scope
from tests.conftest import REGION_CODE, _drop_postgis_database, make_database, migrate, rolled_back

LOCAL = dt.timezone(dt.timedelta(hours=8))
CENTRE, STATION_A, STATION_B, STATION_E = "350600001", "350600001001", "350600001002", "350600001003"


def _grid(code, name, level, parent, bounds):
    from gridsvc.geo.shapes import to_db
    from gridsvc.grids.models import Grid

    return Grid(code=code, name=name, level=level, parent=parent, geom=to_db(MultiPolygon([box(*bounds)])))


def _patrol(person, kind, start, minutes, verified=None):
    from gridsvc.patrols.models import PatrolSession

    ended = start + dt.timedelta(minutes=minutes)
    return PatrolSession(client_uuid=str(uuid.uuid4()), payload_digest="0" * 64, kind=kind, patroller=person,
                         station=person.station, started_at=start, ended_at=ended, duration_seconds=minutes * 60,
                         verified_seconds=verified, source="import")


def build_tiny_world(session) -> None:
    """Insert the tiny world described in this module's docstring."""
    from gridsvc.people.models import Patroller

    centre = _grid(CENTRE, "Centre", "centre", None, (117.0, 23.0, 117.3, 23.2))
    stations = {
        code: _grid(code, name, "station", centre, bounds)
        for code, name, bounds in ((STATION_A, "Station A", (117.0, 23.0, 117.1, 23.2)),
                                   (STATION_B, "Station B", (117.1, 23.0, 117.2, 23.2)),
                                   (STATION_E, "Station E", (117.2, 23.0, 117.3, 23.2)))
    }
    session.add_all([centre, *stations.values()])

    def person(name, role, station, active_from, active_to=None):
        return Patroller(role=role, name=name, app_account_id=name if role == "volunteer" else None,
                         station=stations[station], active_from=active_from, active_to=active_to)

    a1 = person("a1", "volunteer", STATION_A, dt.date(2019, 1, 1))
    a2 = person("a2", "volunteer", STATION_A, dt.date(2020, 12, 31))
    a3 = person("a3", "volunteer", STATION_A, dt.date(2019, 6, 1), dt.date(2020, 3, 31))
    b1 = person("b1", "volunteer", STATION_B, dt.date(2019, 1, 1))
    g1 = person("g1", "grid_worker", STATION_A, dt.date(2019, 1, 1))
    session.add_all([a1, a2, a3, b1, g1])
    session.add_all([
        _patrol(a1, "group", dt.datetime(2020, 1, 15, 9, 0, tzinfo=LOCAL), 180, verified=9000),
        _patrol(a1, "individual", dt.datetime(2020, 2, 1, 0, 30, tzinfo=LOCAL), 60),
        _patrol(a1, "individual", dt.datetime(2021, 1, 1, 0, 10, tzinfo=LOCAL), 60),
        _patrol(a2, "individual", dt.datetime(2020, 12, 31, 20, 0, tzinfo=LOCAL), 60),
        _patrol(a3, "group", dt.datetime(2020, 3, 10, 19, 0, tzinfo=LOCAL), 120),
        _patrol(g1, "group", dt.datetime(2020, 5, 1, 8, 0, tzinfo=LOCAL), 30),
    ])
    session.flush()


@pytest.fixture(scope="module")
def tiny_world(backend, tmp_path_factory):
    """An app on its own migrated database holding only the tiny world (once per module and backend)."""
    url = make_database(backend, tmp_path_factory)
    # This app is the module's own: its JSON writes skip the CSRF token a browser page would send.
    application = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test", "REGION_CODE": REGION_CODE,
                              "WTF_CSRF_ENABLED": False})
    migrate(application)
    with session_scope(application.extensions["gridsvc"].sessions) as session:
        build_tiny_world(session)
    yield application
    application.extensions["gridsvc"].engine.dispose()
    if backend == "postgis":
        _drop_postgis_database(url)


@pytest.fixture
def tiny_app(tiny_world):
    """The tiny world's app with everything a test writes rolled back afterwards."""
    with rolled_back(tiny_world) as application:
        yield application


@pytest.fixture
def tiny_session(tiny_app):
    """A session on the tiny world, rolled back after the test."""
    db_session = tiny_app.extensions["gridsvc"].sessions()
    yield db_session
    db_session.close()


def sign_in_as_admin(app, test_client):
    """Sign a test client in as a new admin when accounts exist and it is not signed in yet."""
    if test_client.get("/api/v1/targets").status_code not in (401, 403):
        return test_client
    from gridsvc.auth import service as auth_service

    username, password = f"reports-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    with session_scope(app.extensions["gridsvc"].sessions) as session:
        auth_service.create_user(session, username=username, password=password, role="admin")
    page = test_client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page) or re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', page)
    response = test_client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": token[1] if token else ""})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return test_client


@pytest.fixture
def tiny_client(tiny_app):
    """A signed-in test client on the tiny world."""
    return sign_in_as_admin(tiny_app, tiny_app.test_client())
