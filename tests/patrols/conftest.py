"""Fixtures of the patrol tests."""
from __future__ import annotations

import secrets

import pytest

from tests.maps.browser import require_chromium
from tests.reliability.live_server import LiveServer


@pytest.fixture
def walker(empty_app, tmp_path):
    """A committed world (the seed's grids, a volunteer with a sign-in) and a real server on it."""
    from gridsvc.auth import service as auth_service
    from gridsvc.db import session_scope
    from gridsvc.people.models import Patroller
    from tests.reliability.conftest import build_live_world

    require_chromium()
    sessions = empty_app.extensions["gridsvc"].sessions
    world = build_live_world(sessions)
    password = secrets.token_urlsafe(16)
    with session_scope(sessions) as session:
        patroller = session.get(Patroller, world.patroller_ids[0])
        auth_service.create_user(session, username="walker", password=password, role="volunteer",
                                 station_code=patroller.station.code, patroller_id=patroller.id)
    server = LiveServer(empty_app.config["DATABASE_URL"], log_path=tmp_path / "server.log")
    server.start()
    yield server, password, world
    server.stop()
