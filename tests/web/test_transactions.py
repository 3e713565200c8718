"""Transactions that match the work (SQLite): reads never wait on a writer, writes wait briefly then 503.

These run on their own SQLite file (not the rolled-back seeded app, whose outer transaction would
itself hold the write lock), with a second connection holding the write lock as another writer would.
"""
from __future__ import annotations

import contextlib
import json
import time

import pytest
import sqlalchemy as sa

from gridsvc import create_app
from gridsvc.db import session_scope
from tests.conftest import REGION_CODE, migrate, sign_in

LOCK_WAIT_SECONDS = 1.0
READ_BOUND_SECONDS = 1.0


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
    """A migrated SQLite database with the seed's grids, a few volunteers and an admin (no CSRF)."""
    from tests.reliability.conftest import build_live_world

    url = f"sqlite:///{tmp_path_factory.mktemp('locks') / 'gridsvc.sqlite'}"
    application = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test", "REGION_CODE": REGION_CODE,
                              "SQLITE_LOCK_WAIT_SECONDS": LOCK_WAIT_SECONDS, "WTF_CSRF_ENABLED": False})
    migrate(application)
    world = build_live_world(application.extensions["gridsvc"].sessions)
    yield application, world
    application.extensions["gridsvc"].engine.dispose()


@contextlib.contextmanager
def write_lock_held(url: str):
    """Another connection holds SQLite's write lock (BEGIN IMMEDIATE) until the block ends."""
    import pysqlite3.dbapi2 as sqlite

    holder = sqlite.connect(sa.engine.make_url(url).database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _argument_free_get_paths(application) -> list[str]:
    skip = {"/logout"}
    return sorted({rule.rule for rule in application.url_map.iter_rules()
                   if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith("/static")
                   and rule.rule not in skip})


def _counts(application) -> dict[str, int]:
    from tests.reliability.conftest import table_row_counts

    with application.extensions["gridsvc"].engine.connect() as connection:
        return table_row_counts(connection)


def test_reads_answer_at_once_while_another_writer_holds_the_lock(small_world):
    application, world = small_world
    client = sign_in(application, application.test_client(), world.admin_username)
    bearer = {"Authorization": f"Bearer {world.token}"}
    paths = _argument_free_get_paths(application)
    assert len(paths) >= 20
    expected = {path: client.get(path, headers=bearer if path.startswith("/api/") else {}).status_code
                for path in paths}
    assert expected["/api/v1/auth/me"] == 200 and expected["/dashboard"] == 200
    slow, changed = {}, {}
    with write_lock_held(application.config["DATABASE_URL"]):
        for path in paths:
            started = time.monotonic()
            status = client.get(path, headers=bearer if path.startswith("/api/") else {}).status_code
            elapsed = time.monotonic() - started
            if elapsed > READ_BOUND_SECONDS:
                slow[path] = round(elapsed, 2)
            if status != expected[path]:
                changed[path] = (expected[path], status)
    assert slow == {} and changed == {}
    assert sum(1 for status in expected.values() if status == 200) >= 15


def test_a_write_that_cannot_get_the_lock_is_a_503_and_writes_nothing(small_world):
    application, world = small_world
    client = sign_in(application, application.test_client(), world.admin_username)
    patrol = {"volunteer": world.patroller_ids[0], "kind": "individual", "client_uuid": "0b5e3f3e-1111-4aaa-8bbb-000000000001",
              "start": "2020-05-01T08:00:00+08:00", "end": "2020-05-01T09:00:00+08:00"}
    before = _counts(application)
    with write_lock_held(application.config["DATABASE_URL"]):
        started = time.monotonic()
        response = client.post("/api/v1/patrols", data=json.dumps(patrol), content_type="application/json")
        waited = time.monotonic() - started
        page = client.post("/patrols/new", data={"volunteer": str(world.patroller_ids[0])})
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "2"
    assert response.get_json()["error"]["code"] == "busy"
    assert "繁忙" in response.get_json()["error"]["message"]  # Chinese by default
    assert LOCK_WAIT_SECONDS * 0.9 <= waited < LOCK_WAIT_SECONDS * 10
    assert page.status_code == 503 and page.headers["Retry-After"] == "2"
    assert _counts(application) == before
    # Once the lock is free the same request goes through.
    assert client.post("/api/v1/patrols", data=json.dumps(patrol), content_type="application/json").status_code == 201


def test_a_tokens_last_use_stamp_never_makes_a_read_wait(small_world):
    from gridsvc.auth import service as auth_service
    from gridsvc.auth.models import ApiToken

    application, world = small_world
    sessions = application.extensions["gridsvc"].sessions
    with session_scope(sessions) as session:
        token, secret = auth_service.issue_token(
            session, user=auth_service.get_user(session, username=world.admin_username), name="stamp race")
        token_id = token.id
    client = application.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    with write_lock_held(application.config["DATABASE_URL"]):
        started = time.monotonic()
        response = client.get("/api/v1/auth/me", headers=headers)
        assert response.status_code == 200 and time.monotonic() - started < READ_BOUND_SECONDS
    with session_scope(sessions) as session:
        assert session.get(ApiToken, token_id).last_used_at is None  # skipped while the lock was taken
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    with session_scope(sessions) as session:
        assert session.get(ApiToken, token_id).last_used_at is not None  # written on the next use
