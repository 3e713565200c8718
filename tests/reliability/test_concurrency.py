"""Many clients at once against a real server process with real commits, on both backends.

ODK/Kobo's test: one submission posted concurrently is stored exactly once. Here N threads
(released together by a barrier) post (a) the same patrol, (b) overlapping patrols of one
volunteer under different client_uuids, (c) one client_uuid with different bodies. Documented
answers: (a) one 201 and the rest 200 replays of it; (b) one 201, the rest 409
overlapping_session; (c) one 201, the rest 409 client_uuid_reused.
"""
from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter

import sqlalchemy as sa

from gridsvc.db import make_engine
from tests.reliability.conftest import record_figure, scaled
from tests.reliability.live_server import LiveServer

THREADS = scaled(16, 32)
ROUNDS = scaled(3, 10)


def _post_all(server, token, bodies):
    barrier = threading.Barrier(len(bodies))
    answers: list = [None] * len(bodies)

    def submit(index):
        barrier.wait(timeout=30)
        try:
            answers[index] = server.request("POST", "/api/v1/patrols", bodies[index],
                                            headers={"Authorization": f"Bearer {token}"}, timeout=60)
        except OSError as error:
            answers[index] = (None, {"transport": repr(error)})

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def _patrol(volunteer, day, start_hour, end_hour, client_uuid=None):
    return {"client_uuid": client_uuid or str(uuid.uuid4()), "kind": "individual", "volunteer": volunteer,
            "start": f"2020-05-{day:02d}T{start_hour:02d}:00:00+08:00",
            "end": f"2020-05-{day:02d}T{end_hour:02d}:00:00+08:00"}


def test_concurrent_duplicates_and_overlaps_store_exactly_one(live_database, backend, tmp_path):
    url, token, volunteers, _point = live_database
    server = LiveServer(url, log_path=tmp_path / "server.log")
    server.start()
    engine = make_engine(url)
    submissions = duplicates_stored = 0
    try:
        for round_number in range(ROUNDS):
            day = round_number + 1
            # (a) the same patrol from every thread
            same = _patrol(volunteers[0], day, 8, 9)
            answers = _post_all(server, token, [dict(same) for _ in range(THREADS)])
            statuses = Counter(status for status, _ in answers)
            assert statuses == Counter({201: 1, 200: THREADS - 1}), answers
            assert len({body["id"] for _, body in answers}) == 1

            # (b) overlapping patrols of one volunteer, each with its own uuid
            overlapping = [_patrol(volunteers[1], day, 8, 10 + i % 3) for i in range(THREADS)]  # all share 08:00-10:00
            answers = _post_all(server, token, overlapping)
            statuses = Counter(status for status, _ in answers)
            assert statuses == Counter({201: 1, 409: THREADS - 1}), answers
            assert {body["error"]["code"] for status, body in answers if status == 409} == {"overlapping_session"}

            # (c) one uuid, different bodies (each its own volunteer, so none is a true replay of another)
            shared_uuid = str(uuid.uuid4())
            reused = [_patrol(volunteers[2 + i], day, 12, 13 + i % 5, client_uuid=shared_uuid) for i in range(THREADS)]
            answers = _post_all(server, token, reused)
            statuses = Counter(status for status, _ in answers)
            assert statuses == Counter({201: 1, 409: THREADS - 1}), answers
            assert {body["error"]["code"] for status, body in answers if status == 409} == {"client_uuid_reused"}
            submissions += 3 * THREADS

            with engine.connect() as connection:
                same_rows = connection.execute(sa.text(
                    "SELECT count(*) FROM patrol_sessions WHERE client_uuid = :u"), {"u": same["client_uuid"]}).scalar_one()
                overlap_rows = connection.execute(sa.text(
                    "SELECT count(*) FROM patrol_sessions WHERE patroller_id = :p AND started_at < :e AND ended_at > :s"),
                    {"p": volunteers[1], "s": dt.datetime(2020, 5, day) - dt.timedelta(hours=1),
                     "e": dt.datetime(2020, 5, day, 5)}).scalar_one()
                reused_rows = connection.execute(sa.text(
                    "SELECT count(*) FROM patrol_sessions WHERE client_uuid = :u"), {"u": shared_uuid}).scalar_one()
            assert (same_rows, overlap_rows, reused_rows) == (1, 1, 1)
            duplicates_stored += (same_rows - 1) + (overlap_rows - 1) + (reused_rows - 1)
    finally:
        server.stop()
        engine.dispose()
    record_figure(f"concurrency[{backend}] concurrent submissions", submissions)
    record_figure(f"concurrency[{backend}] threads per burst", THREADS)
    record_figure(f"concurrency[{backend}] duplicates stored", duplicates_stored)
