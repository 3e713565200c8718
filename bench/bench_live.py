"""The live view under load (issue 21): devices sending through the OsmAnd intake while viewers hold the stream.

On the production server (`python -m gridsvc.server`, waitress) over loopback, in a scratch
database of its own: DEVICES patrollers, each on an open patrol session with its device, one
OsmAnd point every 10 s each (phases spread evenly); VIEWERS centre viewers hold
`/api/v1/live/stream` open. Measured: the latency from a point's acknowledgement (the intake's 200)
to its `position` event at each viewer (p50 / p95 / p99 over every viewer's every event), the
points that never arrived, the live page and the snapshot API answering meanwhile (sampled once a
second), the server's CPU and its workers' peak memory. Then the same with two servers on one
database: the points go to the first, the viewers watch the second.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
import time
import uuid

import sqlalchemy as sa

from bench.bench_tracker import (INTERVAL_SECONDS, Connection, Meter, _peak_kib, _point, _seed, osmand_request,
                                 server_tree)
from bench.database import migrated_app, scratch_database
from bench.report import Table
from bench.server import Credentials

DEVICES, VIEWERS = 2_000, 50
SENDERS = 32          # the devices' keep-alive connections
ARRIVAL_WAIT = 10.0   # after the last point, events are awaited this long


def _open_sessions(engine, device_ids, since: dt.datetime) -> None:
    """An open patrol session for every bench patroller (started `since`)."""
    from gridsvc.patrols.models import PatrolSession
    from gridsvc.people.models import Patroller

    with engine.begin() as connection:
        stations = dict(connection.execute(sa.select(Patroller.id, Patroller.station_id)).all())
        connection.execute(sa.insert(PatrolSession.__table__), [
            {"client_uuid": str(uuid.uuid4()), "payload_digest": "bench", "kind": "individual", "patroller_id": n,
             "station_id": stations[n], "started_at": since, "source": "points", "status": "open",
             "created_at": since, "from_paper": False} for n in device_ids])


def _viewer_token(app) -> str:
    from gridsvc.auth import service as auth
    from gridsvc.db import session_scope

    with app.app_context(), session_scope(app.extensions["gridsvc"].sessions) as session:
        user = auth.create_user(session, username="bench-duty", password=uuid.uuid4().hex + "Aa1!", role="centre_viewer")
        _row, secret = auth.issue_token(session, user=user, name="bench live")
    return secret


class Viewer:
    """One SSE client: the arrival time of every position event, by (patroller, fix epoch)."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.arrivals: dict[tuple[int, int], float] = {}
        self.snapshot_at: float | None = None
        self.task: asyncio.Task | None = None

    async def run(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=64 * 1024 * 1024)
        writer.write((f"GET /api/v1/live/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.token}\r\n"
                      "Accept: text/event-stream\r\n\r\n").encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if head[9:12] != b"200":
            raise RuntimeError(f"stream refused: {head[:40]!r}")
        chunked = b"transfer-encoding: chunked" in head.lower()
        buffer = b""
        loop = asyncio.get_running_loop()
        try:
            while True:
                if chunked:
                    size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                    if size == 0:
                        return
                    data = await reader.readexactly(size + 2)
                    buffer += data[:-2]
                else:
                    data = await reader.read(65536)
                    if not data:
                        return
                    buffer += data
                while b"\n\n" in buffer:
                    raw, buffer = buffer.split(b"\n\n", 1)
                    self._event(raw.decode(), loop.time())
        finally:
            writer.close()

    def _event(self, raw: str, at: float) -> None:
        fields = dict(line.split(": ", 1) for line in raw.split("\n") if ": " in line and not line.startswith(":"))
        name = fields.get("event")
        if name == "snapshot":
            self.snapshot_at = at
        elif name in ("position", "session_started") and "data" in fields:
            patroller = json.loads(fields["data"])
            if patroller.get("position"):
                epoch = int(dt.datetime.fromisoformat(patroller["position"]["time"]).timestamp())
                self.arrivals.setdefault((patroller["volunteer"]["id"], epoch), at)


async def _drive(device_port: int, viewer_port: int, seeded, token: str, *, seconds: float, devices: int,
                 viewers: int) -> dict:
    loop = asyncio.get_running_loop()
    watchers = [Viewer(viewer_port, token) for _ in range(viewers)]
    for watcher in watchers:
        watcher.task = asyncio.create_task(watcher.run())
    deadline = loop.time() + 60
    while any(w.snapshot_at is None for w in watchers):
        if loop.time() > deadline:
            raise RuntimeError(f"{sum(w.snapshot_at is None for w in watchers)} viewers got no snapshot in 60 s")
        if any(w.task.done() for w in watchers):
            for w in watchers:
                if w.task.done() and w.task.exception():
                    raise w.task.exception()
        await asyncio.sleep(0.1)
    acknowledged: dict[tuple[int, int], float] = {}
    statuses: dict[int, int] = {}
    queue: asyncio.Queue = asyncio.Queue()
    rounds = max(1, round(seconds / INTERVAL_SECONDS))
    start, wall_start = loop.time() + 0.2, time.time() + 0.2
    page_times: dict[str, list[float]] = {"/live": [], "/api/v1/live": []}

    async def dispatch():
        for step in range(rounds):
            for index in range(devices):
                due = start + step * INTERVAL_SECONDS + index * INTERVAL_SECONDS / devices
                if due > loop.time():
                    await asyncio.sleep(due - loop.time())
                point = _point(index + 1, step, int(wall_start + (due - start)), seeded.extent)
                queue.put_nowait(point)

    async def send(connection):
        while True:
            point = await queue.get()
            try:
                status, _ = await connection.call(osmand_request(seeded.keys[point.device_id], point))
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    acknowledged[(point.device_id, point.epoch)] = loop.time()
            finally:
                queue.task_done()

    async def pages():
        connection = Connection(device_port)
        while True:
            for path in page_times:
                began = loop.time()
                await connection.call((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}"
                                       "\r\n\r\n").encode())
                page_times[path].append(loop.time() - began)
            await asyncio.sleep(1.0)

    pool = [Connection(device_port) for _ in range(SENDERS)]
    senders = [asyncio.create_task(send(c)) for c in pool]
    sampler = asyncio.create_task(pages())
    await dispatch()
    await queue.join()
    await asyncio.sleep(ARRIVAL_WAIT)
    for task in [*senders, sampler, *(w.task for w in watchers)]:
        task.cancel()
    await asyncio.gather(*senders, sampler, *(w.task for w in watchers), return_exceptions=True)
    for connection in pool:
        connection.close()
    lags, missing = [], 0
    for watcher in watchers:
        for key, acked in acknowledged.items():
            arrived = watcher.arrivals.get(key)
            if arrived is None:
                missing += 1
            else:
                lags.append(arrived - acked)
    return {"acknowledged": len(acknowledged), "statuses": statuses, "lags": sorted(lags), "missing": missing,
            "pages": page_times, "offered": rounds * devices}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


def run(backend: str, *, seconds: float = 60.0, devices: int = DEVICES, viewers: int = VIEWERS) -> list[Table]:
    """The live tables of one backend: one server, then two servers on one database."""
    from bench.bench_concurrency import ServedBy

    os.environ["GRIDSVC_LIVE_MAX_STREAMS_PER_USER"] = str(viewers * 2)
    # Each open stream holds one of a process's waitress threads, and the streams may all land on one
    # process: the threads must outnumber them, or a viewer (and the intake) waits for a free one.
    os.environ["GRIDSVC_SERVER_THREADS"] = str(viewers + SENDERS + 16)
    tables = []
    with scratch_database(backend) as url:
        app = migrated_app(url)
        engine = app.extensions["gridsvc"].engine
        since = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=10)
        seeded = _seed(engine, devices=devices, on_since=since)
        _open_sessions(engine, range(1, devices + 1), since)
        token = _viewer_token(app)
        engine.dispose()
        database = sa.engine.make_url(url).database if backend == "postgis" else None
        command = [sys.executable, "-m", "gridsvc.server", "--host", "127.0.0.1"]
        table = Table(f"Live stream under load, {backend} ({devices:,} devices × 1 point / 10 s, {viewers} viewers, "
                      f"{seconds:.0f} s)", ["setup", "points acknowledged / offered", "latency p50 / p95 / p99 (ms)",
                                            "events missing", "/live p95 (ms)", "/api/v1/live p95 (ms)",
                                            "server CPU (s)", "peak worker RSS (MiB)"])
        with ServedBy(url, credentials=Credentials("", "", ""), command=command, label="live-a") as first:
            meter = Meter(first.pid, database)
            result, spent = asyncio.run(meter.measure(lambda: _drive(
                first.port, first.port, seeded, token, seconds=seconds, devices=devices, viewers=viewers)))
            peak = max((_peak_kib(pid) or 0) for pid in server_tree(first.pid)[1:]) / 1024
            table.add(*_row("one server", result, spent.server, peak))
            with ServedBy(url, credentials=Credentials("", "", ""), command=command, label="live-b") as second:
                meter = Meter(second.pid, database)
                result, spent = asyncio.run(meter.measure(lambda: _drive(
                    first.port, second.port, seeded, token, seconds=seconds, devices=devices, viewers=viewers)))
                peak = max((_peak_kib(pid) or 0) for pid in server_tree(second.pid)[1:]) / 1024
                table.add(*_row("two servers: points to A, viewers on B (B's CPU and memory)", result, spent.server,
                                peak))
        tables.append(table)
    return tables


def _row(label: str, result: dict, cpu: float, peak_mib: float) -> list:
    lags = result["lags"]
    pages = result["pages"]
    return [label, f"{result['acknowledged']:,} / {result['offered']:,}",
            " / ".join(f"{_pct(lags, q) * 1000:.0f}" for q in (0.5, 0.95, 0.99)),
            f"{result['missing']:,}", f"{_pct(sorted(pages['/live']), 0.95) * 1000:.0f}",
            f"{_pct(sorted(pages['/api/v1/live']), 0.95) * 1000:.0f}", f"{cpu:.1f}", f"{peak_mib:.0f}"]
