"""Concurrent submissions against a real threaded HTTP server with real commits, on both databases.

The `app` fixture's rolled-back outer transaction is one connection; here every request of the
server gets its own connection from the pool, as in production.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import urllib.error
import urllib.request
import uuid

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from gridsvc.db import session_scope
from gridsvc.grids.service import create_grid
from gridsvc.patrols.models import PatrolSession, TaskSignup
from gridsvc.people.service import create_patroller
from tests.conftest import REGION_CODE
from tests.patrols.helpers import GRIDS_GEOJSON

THREADS = 8
VOLUNTEERS = ("XLXQ000028", "XLXQ000034")


def _seed_minimum(app) -> tuple[str, str]:
    """The zone centre, station S08, two volunteers there, and an admin API token; returns (station code, token)."""
    features = {f["properties"]["key"]: f for f in json.loads(GRIDS_GEOJSON.read_text(encoding="utf-8"))["features"]}
    with session_scope(app.extensions["gridsvc"].sessions) as session:
        centre = create_grid(session, name="centre", level="centre", geometry=features["centre"]["geometry"],
                             region_code=REGION_CODE)
        station = create_grid(session, name="S08", level="station", geometry=features["S08"]["geometry"],
                              region_code=REGION_CODE, parent_code=centre.code)
        for account in VOLUNTEERS:
            create_patroller(session, role="volunteer", name=account, station_code=station.code,
                             active_from=dt.date(2020, 1, 1), app_account_id=account)
        token = _admin_token(session)
        return station.code, token


def _admin_token(session) -> str | None:
    """A bearer token of a new admin account (the API needs a signed-in caller)."""
    try:
        from gridsvc.auth import service as auth_service
    except ImportError:  # pragma: no cover - before access control existed
        return None
    user = auth_service.create_user(session, username="concurrency-admin", password=secrets.token_urlsafe(24),
                                    role="admin")
    return auth_service.issue_token(session, user=user, name="concurrency test")[1]


@pytest.fixture
def live_server(empty_app):
    """A threaded werkzeug server on a fresh database with the minimum data; yields (base url, token, app)."""
    _station, token = _seed_minimum(empty_app)
    server = make_server("127.0.0.1", 0, empty_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", token, empty_app
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _post(base: str, token: str | None, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(base + path + "?lang=en", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _fire(base, token, bodies) -> list[tuple[int, dict]]:
    """POST every body from its own thread, all released at the same moment."""
    barrier = threading.Barrier(len(bodies))
    results: list = [None] * len(bodies)

    def worker(index, body):
        barrier.wait()
        results[index] = _post(base, token, "/api/v1/patrols", body)

    threads = [threading.Thread(target=worker, args=(i, body)) for i, body in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _rows(app, *where) -> int:
    with session_scope(app.extensions["gridsvc"].sessions) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(PatrolSession).where(*where))


def _body(**changes) -> dict:
    body = {"client_uuid": str(uuid.uuid4()), "kind": "individual", "volunteer": VOLUNTEERS[0],
            "start": "2021-03-01T19:00:00+08:00", "end": "2021-03-01T21:00:00+08:00"}
    body.update(changes)
    return body


def test_the_same_submission_fired_concurrently_is_stored_once(live_server):
    base, token, app = live_server
    body = _body()

    results = _fire(base, token, [body] * THREADS)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * (THREADS - 1) + [201], results
    assert len({answer["id"] for _, answer in results}) == 1
    assert _rows(app, PatrolSession.client_uuid == body["client_uuid"]) == 1
    assert _rows(app) == 1


def test_one_uuid_with_different_bodies_concurrently_keeps_exactly_one(live_server):
    base, token, app = live_server
    client_uuid = str(uuid.uuid4())
    bodies = [_body(client_uuid=client_uuid, volunteer=VOLUNTEERS[i % 2],
                    end=f"2021-03-01T2{i % 3}:30:00+08:00") for i in range(THREADS)]

    results = _fire(base, token, bodies)

    statuses = [status for status, _ in results]
    assert statuses.count(201) == 1, results
    stored = bodies[statuses.index(201)]
    stored_id = results[statuses.index(201)][1]["id"]
    for (status, answer), body in zip(results, bodies):
        if body is stored:
            continue
        if (body["volunteer"], body["end"]) == (stored["volunteer"], stored["end"]):
            assert (status, answer["id"]) == (200, stored_id)
        else:
            assert (status, answer["error"]["code"]) == (409, "client_uuid_reused")
    assert _rows(app) == 1


def test_overlapping_sessions_of_one_volunteer_concurrently_keep_exactly_one(live_server):
    base, token, app = live_server
    bodies = [_body(start=f"2021-03-02T19:{i:02d}:00+08:00", end=f"2021-03-02T21:{i:02d}:00+08:00")
              for i in range(THREADS)]

    results = _fire(base, token, bodies)

    assert sorted(status for status, _ in results) == [201] + [409] * (THREADS - 1), results
    winner = next(answer["id"] for status, answer in results if status == 201)
    for status, answer in results:
        if status == 409:
            assert answer["error"]["code"] == "overlapping_session"
            assert answer["error"]["params"]["other"] == winner
    assert _rows(app) == 1


def test_concurrent_batches_store_each_session_once(live_server):
    base, token, app = live_server
    items = [_body(volunteer=VOLUNTEERS[i % 2], start=f"2021-04-{i // 2 + 1:02d}T19:00:00+08:00",
                   end=f"2021-04-{i // 2 + 1:02d}T20:00:00+08:00") for i in range(40)]
    barrier = threading.Barrier(4)
    answers = []

    def worker(order):
        barrier.wait()
        answers.append(_post(base, token, "/api/v1/patrols/batch", {"sessions": order}))

    orders = [items, list(reversed(items)), items[::2] + items[1::2], items[1::2] + items[::2]]
    threads = [threading.Thread(target=worker, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert [status for status, _ in answers] == [200] * 4, answers
    assert sum(answer["created"] for _, answer in answers) == 40
    assert all(answer["failed"] == 0 for _, answer in answers)
    assert _rows(app) == 40


def test_concurrent_sign_ups_never_exceed_the_headcount(live_server):
    base, token, app = live_server
    with session_scope(app.extensions["gridsvc"].sessions) as session:
        from gridsvc.grids.service import get_grid
        from gridsvc.patrols.service import create_task

        now = dt.datetime.now(dt.timezone.utc)
        task = create_task(session, title="t", station_id=get_grid(session, code=f"{REGION_CODE}001001").id,
                           starts_at=now + dt.timedelta(days=1), ends_at=now + dt.timedelta(days=1, hours=2),
                           headcount=1)
        task_id = task.id
    barrier = threading.Barrier(len(VOLUNTEERS))
    answers = []

    def worker(volunteer):
        barrier.wait()
        answers.append(_post(base, token, f"/api/v1/patrol-tasks/{task_id}/signups", {"volunteer": volunteer}))

    threads = [threading.Thread(target=worker, args=(v,)) for v in VOLUNTEERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(status for status, _ in answers) == [201, 409], answers
    with session_scope(app.extensions["gridsvc"].sessions) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(TaskSignup)) == 1
