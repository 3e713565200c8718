"""SIGKILL a real server at random moments during a stream of uploads; nothing acknowledged is lost.

Two client threads upload patrols (half with a GeoJSON track, which also writes per-grid time
rows) to a real `flask run` server. At a seeded random moment the server is killed with SIGKILL
and restarted; clients retry what was not answered, as phones do, under the same client_uuid.
Afterwards every upload answered 2xx is stored exactly once with its exact content, no session
is partial (a tracked session without its per-grid rows), and the database checks clean
(SQLite: PRAGMA integrity_check and foreign_key_check; PostGIS: consistency queries).

SQLite runs in WAL journal mode with synchronous=FULL (gridsvc/db.py): a transaction is durable
when COMMIT returns, and the response is only sent after the commit (gridsvc/web.py), so a 2xx
implies a durable row; a killed writer leaves at most an uncommitted WAL tail that the next open
discards. synchronous=NORMAL would be durable against a killed process too, but not against a
power cut, and the cost of FULL is one extra fsync per commit.
"""
from __future__ import annotations

import datetime as dt
import http.client
import queue
import random
import threading
import time
import uuid

import sqlalchemy as sa

from gridsvc.db import is_sqlite, make_engine
from tests.reliability.conftest import record_figure, scaled
from tests.reliability.live_server import LiveServer

KILLS = scaled(5, 50)
SEED = 20200601
CLIENT_THREADS = 2
BASE = dt.datetime(2020, 6, 1, 0, 0, tzinfo=dt.timezone.utc)


def upload_body(index: int, volunteers: list[int], point: tuple[float, float]) -> dict:
    """Upload `index`: a one-hour patrol in its own two-hour slot of its volunteer; even ones carry a track."""
    volunteer = volunteers[index % len(volunteers)]
    start = BASE + dt.timedelta(hours=2 * (index // len(volunteers)))
    end = start + dt.timedelta(hours=1)
    body = {"client_uuid": str(uuid.uuid4()), "kind": "individual", "volunteer": volunteer,
            "start": start.isoformat(), "end": end.isoformat()}
    if index % 2 == 0:
        lon, lat = point
        # A walk back and forth over 30 m every 30 s (3.6 km/h), inside the first station.
        times = [(start + dt.timedelta(seconds=30 * k)).isoformat() for k in range(121)]
        coordinates = [[round(lon + 0.0003 * (k % 2), 7), round(lat + 0.00001 * (k % 3), 7)] for k in range(len(times))]
        body["track"] = {"type": "Feature", "properties": {"times": times},
                         "geometry": {"type": "LineString", "coordinates": coordinates}}
    return body


class UploadStream:
    """Client side: new uploads plus retries of unanswered ones; remembers what was acknowledged."""

    def __init__(self, volunteers, point):
        self.volunteers, self.point = volunteers, point
        self.next_index = 0
        self.retries: queue.SimpleQueue = queue.SimpleQueue()
        self.acknowledged: dict[str, dict] = {}
        self.refused: list = []
        self.unanswered = 0
        self.lock = threading.Lock()

    def take(self) -> dict:
        try:
            return self.retries.get_nowait()
        except queue.Empty:
            with self.lock:
                self.next_index += 1
                return upload_body(self.next_index - 1, self.volunteers, self.point)

    def run(self, server: LiveServer, token: str, stop: threading.Event, deadline: float) -> None:
        """Upload until the server dies or `stop` is set; unanswered uploads go back to the retry queue."""
        while not stop.is_set() and time.monotonic() < deadline:
            body = self.take()
            try:
                status, answer = server.request("POST", "/api/v1/patrols", body,
                                                headers={"Authorization": f"Bearer {token}"}, timeout=20)
            except (OSError, http.client.HTTPException):  # no answer, or cut off mid-answer (IncompleteRead)
                with self.lock:
                    self.unanswered += 1
                self.retries.put(body)
                return
            if status in (200, 201):
                with self.lock:
                    self.acknowledged[body["client_uuid"]] = body
            else:
                self.refused.append((status, answer, body))


def _stored(engine) -> dict[str, dict]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT s.id, s.client_uuid, s.patroller_id, s.started_at, s.ended_at, s.duration_seconds, "
            "s.track IS NOT NULL AS has_track, "
            "(SELECT count(*) FROM patrol_grid_time g WHERE g.session_id = s.id) AS grid_rows, "
            "(SELECT coalesce(max(g.seconds), 0) FROM patrol_grid_time g WHERE g.session_id = s.id) AS grid_seconds "
            "FROM patrol_sessions s")).mappings().all()
    return {row["client_uuid"]: dict(row) for row in rows}


def _as_utc(value) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def _database_checks(engine) -> dict:
    with engine.connect() as connection:
        if is_sqlite(engine):
            return {
                "journal_mode": connection.exec_driver_sql("PRAGMA journal_mode").scalar_one(),
                "synchronous": connection.exec_driver_sql("PRAGMA synchronous").scalar_one(),
                "integrity_check": connection.exec_driver_sql("PRAGMA integrity_check").scalar_one(),
                "foreign_key_violations": len(connection.exec_driver_sql("PRAGMA foreign_key_check").all()),
            }
        return {
            "orphan_grid_time": connection.exec_driver_sql(
                "SELECT count(*) FROM patrol_grid_time g LEFT JOIN patrol_sessions s ON s.id = g.session_id "
                "WHERE s.id IS NULL").scalar_one(),
            "wrong_durations": connection.exec_driver_sql(
                "SELECT count(*) FROM patrol_sessions "
                "WHERE duration_seconds <> extract(epoch FROM ended_at - started_at)::int").scalar_one(),
            "invalid_tracks": connection.exec_driver_sql(
                "SELECT count(*) FROM patrol_sessions WHERE track IS NOT NULL AND NOT ST_IsValid(track)").scalar_one(),
            "duplicate_client_uuids": connection.exec_driver_sql(
                "SELECT count(*) FROM (SELECT client_uuid FROM patrol_sessions GROUP BY client_uuid "
                "HAVING count(*) > 1) d").scalar_one(),
        }


def test_sigkill_during_uploads_loses_nothing_acknowledged(live_database, backend, tmp_path):
    url, token, volunteers, point = live_database
    rng = random.Random(f"{SEED}-{backend}")
    stream = UploadStream(volunteers, point)
    server = LiveServer(url, log_path=tmp_path / "server.log")
    started = time.monotonic()
    kills = 0
    for _ in range(KILLS):
        server.start()
        stop = threading.Event()
        clients = [threading.Thread(target=stream.run, args=(server, token, stop, time.monotonic() + 30))
                   for _ in range(CLIENT_THREADS)]
        for client in clients:
            client.start()
        time.sleep(rng.uniform(0.05, 1.5))
        server.kill()
        kills += 1
        stop.set()
        for client in clients:
            client.join(timeout=60)

    # Restart once more and let the clients deliver everything still unanswered.
    server.start()
    try:
        pending = []
        while True:
            try:
                pending.append(stream.retries.get_nowait())
            except queue.Empty:
                break
        for body in pending:
            status, answer = server.request("POST", "/api/v1/patrols", body,
                                            headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert status in (200, 201), (status, answer)
            stream.acknowledged[body["client_uuid"]] = body
    finally:
        server.stop()

    engine = make_engine(url)
    try:
        stored = _stored(engine)
        checks = _database_checks(engine)
    finally:
        engine.dispose()

    assert stream.refused == []
    lost = [uid for uid in stream.acknowledged if uid not in stored]
    changed = []
    partial = []
    for uid, body in stream.acknowledged.items():
        row = stored.get(uid)
        if row is None:
            continue
        start, end = _as_utc(body["start"]), _as_utc(body["end"])
        if (row["patroller_id"], _as_utc(row["started_at"]), _as_utc(row["ended_at"]), row["duration_seconds"]) != (
                body["volunteer"], start, end, int((end - start).total_seconds())):
            changed.append(uid)
        if bool(row["has_track"]) != ("track" in body) or ("track" in body and row["grid_rows"] == 0) \
                or row["grid_seconds"] > row["duration_seconds"]:  # levels nest: each grid at most the duration
            partial.append(uid)
    unexpected = set(stored) - set(stream.acknowledged)

    record_figure(f"crash[{backend}] kills survived", kills)
    record_figure(f"crash[{backend}] uploads acknowledged", len(stream.acknowledged))
    record_figure(f"crash[{backend}] uploads unanswered at a kill (retried)", stream.unanswered)
    record_figure(f"crash[{backend}] uploads lost", len(lost))
    record_figure(f"crash[{backend}] stored differently", len(changed))
    record_figure(f"crash[{backend}] partial sessions", len(partial))
    record_figure(f"crash[{backend}] database checks", checks)
    record_figure(f"crash[{backend}] seconds", round(time.monotonic() - started, 1))
    assert lost == [] and changed == [] and partial == [] and unexpected == set()
    if is_sqlite(make_engine(url)):
        assert checks == {"journal_mode": "wal", "synchronous": 2, "integrity_check": "ok", "foreign_key_violations": 0}
    else:
        assert checks == {"orphan_grid_time": 0, "wrong_durations": 0, "invalid_tracks": 0, "duplicate_client_uuids": 0}
    assert len(stream.acknowledged) > kills  # the stream really ran between kills
