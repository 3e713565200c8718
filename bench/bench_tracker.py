"""Tracker intake (issue 19): 10,000 devices, one OsmAnd point every 10 s each, against a raw bulk insert.

On the production server (`python -m gridsvc.server`, waitress) over loopback, in a scratch
database of its own (a centre, 6 stations, the patrollers, their devices and duty switches):

1. open loop: each device sends on its own schedule (phases spread evenly, 1,000 points/s in all)
   over a pool of keep-alive connections; latency runs from the scheduled send time, so queueing
   in the generator counts. Afterwards every acknowledged (200) point must be in the table;
2. the raw bulk insert of the same points (executemany on SpatiaLite, COPY on PostGIS);
3. batched intake: the same points through the recorder endpoint (one message per device), and
   60 devices × 1,000 points (a phone emptying its buffer), as fast as the server takes them,
   each against the raw bulk insert of the same points.

The generator is one asyncio process (this one); its own ceiling is measured once against a
trivial HTTP server in another process.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from bench import generate
from bench.database import SQLITE_TIME, load_city, migrated_app, scratch_database
from bench.report import Table
from bench.server import Credentials

DEVICES = 10_000
INTERVAL_SECONDS = 10.0
CONNECTIONS = 64                 # the generator's keep-alive pool for the open loop
WARM_DEVICES = CONNECTIONS       # one warm-up point per connection, on devices of their own
BUFFER_DEVICES, BUFFER_POINTS = 60, 1_000
BATCH_CONNECTIONS = 4            # closed loop: messages in flight at once
DRAIN_LIMIT_SECONDS = 30.0       # after the last scheduled send, answers are awaited this long at most
BATCH_LIMIT_SECONDS = 30.0       # a closed-loop batch run sends no new message after this
CEILING_SECONDS = 3.0
GOAL_RATE, GOAL_P95_MS, GOAL_BATCH_RATIO = 1_000, 200.0, 0.5
OSMAND_PATH = "/api/v1/positions/osmand"
RECORDER_PATH = "/api/v1/positions/recorder"
KNOTS = 1852 / 3600
TICK = os.sysconf("SC_CLK_TCK")


# --- the devices, their points and the scratch database ------------------------------------------


@dataclass(frozen=True)
class Point:
    """One fix of one device, as the benchmark sends it and as the raw insert stores it."""

    device_id: int
    epoch: int
    lon: float
    lat: float
    speed_mps: float = 1.0
    heading_deg: float = 90.0
    altitude_m: float = 12.0
    accuracy_m: float = 5.0
    battery_percent: float = 80.0


def _point(device_id: int, step: int, epoch: int, extent) -> Point:
    """A device walks a 100 m circle at about 1 m/s inside the zone (never flagged jump or outside)."""
    x0, y0, x1, y1 = extent
    column, row = (device_id - 1) % 100, (device_id - 1) // 100 % 100
    base_lon = x0 + 0.01 + column * (x1 - x0 - 0.02) / 100
    base_lat = y0 + 0.01 + row * (y1 - y0 - 0.02) / 100
    angle = 2 * math.pi * step / 60
    return Point(device_id, epoch, round(base_lon + 0.001 * math.cos(angle), 7),
                 round(base_lat + 0.001 * math.sin(angle), 7), heading_deg=float(round(step * 6 % 360)))


@dataclass
class Seeded:
    """What the scratch database holds: device keys by id, and the zone's extent."""

    keys: dict[int, str]
    extent: tuple[float, float, float, float]
    seconds: float


def _seed(engine, *, devices: int, on_since: dt.datetime) -> Seeded:
    """A centre with 6 stations, one patroller per device, its device (key known here) and its duty switch on."""
    from gridsvc.positions.models import Device, DutySwitch
    from gridsvc.positions.service import key_digest

    started = time.perf_counter()
    city = generate.make_city(generate.SCALES["tiny"])
    people = [{"id": n, "role": "volunteer", "name": f"tracker {n}", "station_index": (n - 1) % len(city.stations),
               "active_from": dt.date(2019, 1, 1)} for n in range(1, devices + 1)]
    load_city(engine, city, people)
    keys = {n: f"bench{n:05d}{secrets.token_urlsafe(18)}" for n in range(1, devices + 1)}
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    with engine.begin() as connection:
        connection.execute(sa.insert(Device.__table__), [
            {"id": n, "patroller_id": n, "name": f"phone {n}", "platform": "bench", "key_hash": key_digest(key),
             "created_at": now, "datum": "wgs84"} for n, key in keys.items()])
        connection.execute(sa.insert(DutySwitch.__table__),
                           [{"patroller_id": n, "on_since": on_since} for n in keys])
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT setval('devices_id_seq', (SELECT max(id) FROM devices))")
            connection.exec_driver_sql("ANALYZE")
    return Seeded(keys, generate.CITY_EXTENT, time.perf_counter() - started)


def _clear_positions(engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM positions" if engine.dialect.name == "sqlite" else "TRUNCATE positions")


def _stored(engine, device_ids: range) -> set[tuple[int, int]]:
    """(device id, fix time in epoch seconds) of every stored point of these devices."""
    from gridsvc.positions.models import Position

    with engine.connect() as connection:
        rows = connection.execute(sa.select(Position.device_id, Position.fixed_at)
                                  .where(Position.device_id.between(device_ids.start, device_ids.stop - 1)))
        return {(device, round(fixed.timestamp())) for device, fixed in rows}


def raw_insert(engine, points: list[Point]) -> float:
    """The points inserted into positions in one transaction (executemany / COPY); seconds, commit included."""
    from gridsvc.positions.intake import payload_digest
    from gridsvc.positions.protocols import Fix

    received = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    rows = []
    for p in points:  # the digests are worked out before the clock starts
        fixed = dt.datetime.fromtimestamp(p.epoch, dt.timezone.utc)
        digest = payload_digest(Fix(device_key="", time=fixed, lon=p.lon, lat=p.lat, source="osmand",
                                    accuracy_m=p.accuracy_m, speed_mps=p.speed_mps, heading_deg=p.heading_deg,
                                    altitude_m=p.altitude_m, battery_percent=p.battery_percent))
        rows.append((p.device_id, p.device_id, fixed.replace(tzinfo=None), p.lon, p.lat, p.accuracy_m, p.speed_mps,
                     p.heading_deg, p.altitude_m, p.battery_percent, digest))
    columns = ("device_id, patroller_id, fixed_at, received_at, geom, accuracy_m, speed_mps, heading_deg, "
               "altitude_m, battery_percent, source, flags, payload_digest")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        if engine.dialect.name == "sqlite":
            stamp = received.strftime(SQLITE_TIME)
            cursor.execute("BEGIN")
            cursor.executemany(
                f"INSERT INTO positions ({columns}) VALUES (?, ?, ?, ?, MakePoint(?, ?, 4326), ?, ?, ?, ?, ?, "
                "'osmand', '[]', ?)",
                [(d, pa, f.strftime(SQLITE_TIME), stamp, lon, lat, *rest) for d, pa, f, lon, lat, *rest in rows])
            cursor.execute("COMMIT")
        else:
            with cursor.copy(f"COPY positions ({columns}) FROM STDIN") as copy:
                for d, pa, f, lon, lat, acc, speed, heading, alt, batt, digest in rows:
                    copy.write_row((d, pa, f, received, f"SRID=4326;POINT({lon} {lat})", acc, speed, heading, alt,
                                    batt, "osmand", "[]", digest))
            raw.commit()
        seconds = time.perf_counter() - started
        cursor.close()
    finally:
        raw.close()
    return seconds


# --- what the server processes and PostgreSQL spend ----------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, utime + stime in ticks) of a process, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12])


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def server_tree(root: int) -> list[int]:
    """The server's supervisor and its worker processes."""
    return [root] + [pid for pid in _pids() if (stat := _stat(pid)) and stat[0] == root]


def _postgres_backends(database: str) -> list[int]:
    marker = f" {database} ".encode()
    found = []
    for pid in _pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if marker in handle.read():
                    found.append(pid)
        except OSError:
            continue
    return found


class CpuWatch:
    """CPU seconds of a changing set of processes, sampled now and then (one that ends loses an interval at most)."""

    def __init__(self, find_pids) -> None:
        self.find_pids = find_pids
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.sampled = False

    def sample(self) -> None:
        """Read the ticks of every process of the set now."""
        for pid in self.find_pids():
            stat = _stat(pid)
            if stat is None:
                continue
            if pid not in self.first:  # one first seen after the first sample started since
                self.first[pid] = 0 if self.sampled else stat[1]
            self.last[pid] = stat[1]
        self.sampled = True

    def seconds(self) -> float:
        """CPU seconds since the first sample."""
        return sum(self.last[pid] - self.first[pid] for pid in self.last) / TICK


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) ticks of all cores, from /proc/stat."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def _peak_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _connections_per_worker(workers: list[int], port: int) -> list[int]:
    """How many of the generator's connections each worker holds (sockets on the server port, by inode)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                next(handle)
                for line in handle:
                    parts = line.split()
                    if int(parts[1].rsplit(":", 1)[1], 16) == port and parts[3] == "01":  # ESTABLISHED
                        inodes.add(parts[9])
        except OSError:
            continue
    counts = []
    for pid in workers:
        held = 0
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    held += 1
        except OSError:
            pass
        counts.append(held)
    return counts


@dataclass
class Spent:
    """CPU and wall time of one phase."""

    wall: float = 0.0
    server: float = 0.0
    postgres: float = 0.0
    generator: float = 0.0
    machine_busy: float = 0.0  # fraction of all cores, every process on the machine


class Meter:
    """Samples the server tree and PostgreSQL's backends of the bench database while a phase runs."""

    def __init__(self, server_pid: int, database: str | None):
        self.server_pid, self.database = server_pid, database

    async def measure(self, work) -> tuple[object, Spent]:
        """Await work() with the CPU of everyone involved sampled every 0.5 s."""
        server = CpuWatch(lambda: server_tree(self.server_pid))
        postgres = CpuWatch(lambda: _postgres_backends(self.database)) if self.database else None
        watches = [w for w in (server, postgres) if w]
        for watch in watches:
            watch.sample()
        busy0, total0 = _machine_ticks()
        own0 = os.times()
        started = time.perf_counter()

        async def poll():
            while True:
                await asyncio.sleep(0.5)
                for watch in watches:
                    watch.sample()

        poller = asyncio.create_task(poll())
        try:
            result = await work()
        finally:
            poller.cancel()
        wall = time.perf_counter() - started
        for watch in watches:
            watch.sample()
        own1 = os.times()
        busy1, total1 = _machine_ticks()
        return result, Spent(wall=wall, server=server.seconds(), postgres=postgres.seconds() if postgres else 0.0,
                             generator=(own1.user + own1.system) - (own0.user + own0.system),
                             machine_busy=(busy1 - busy0) / max(1, total1 - total0))


# --- the load generator: raw HTTP/1.1 over keep-alive asyncio connections ---------------------


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1; reopened after a close or an error."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def call(self, request: bytes) -> tuple[int, bytes]:
        """Send one whole request; (status, body), status 0 when no answer came."""
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.writer.write(request)
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            at = lower.find(b"content-length:")
            length = int(lower[at + 15:lower.index(b"\r\n", at)]) if at >= 0 else 0
            body = await self.reader.readexactly(length) if length else b""
            if b"connection: close" in lower:
                self.close()
            return status, body
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.close()
            return 0, b""

    def close(self) -> None:
        """Drop the connection (the next call opens another)."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _post(path: str, body: bytes = b"", content_type: str | None = None) -> bytes:
    typed = f"Content-Type: {content_type}\r\n" if content_type else ""
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench-tracker\r\n{typed}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def osmand_request(key: str, p: Point) -> bytes:
    """Traccar Client's OsmAnd message: the fields in the query string of an empty POST."""
    query = (f"id={key}&timestamp={p.epoch}&lat={p.lat}&lon={p.lon}&speed={p.speed_mps / KNOTS:.4f}"
             f"&bearing={p.heading_deg}&altitude={p.altitude_m}&accuracy={p.accuracy_m}&batt={p.battery_percent}")
    return _post(f"{OSMAND_PATH}?{query}")


def recorder_request(key: str, points: list[Point]) -> bytes:
    """One recorder batch (Traccar Client 9 JSON, `location` a list) of one device's points."""
    body = {"device_id": key, "location": [{
        "timestamp": dt.datetime.fromtimestamp(p.epoch, dt.timezone.utc).isoformat(),
        "coords": {"latitude": p.lat, "longitude": p.lon, "accuracy": p.accuracy_m, "speed": p.speed_mps,
                   "heading": p.heading_deg, "altitude": p.altitude_m},
        "battery": {"level": p.battery_percent / 100, "is_charging": False}, "is_moving": True,
    } for p in points]}
    return _post(RECORDER_PATH, json.dumps(body).encode(), "application/json")


@dataclass
class OpenLoop:
    """What the open loop sent and got back."""

    offered: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)  # seconds, every answered request
    answered_at: list[float] = field(default_factory=list)  # seconds after the first scheduled send
    acknowledged: set[tuple[int, int]] = field(default_factory=set)
    points: list[Point] = field(default_factory=list)  # the acknowledged ones
    unsent: int = 0


async def open_loop(port: int, seeded: Seeded, *, seconds: float, devices: int, connections: int) -> OpenLoop:
    """Every device sends one point every INTERVAL_SECONDS on its own phase, whatever the answers take."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    result = OpenLoop()
    rounds = max(1, round(seconds / INTERVAL_SECONDS))
    start = loop.time() + 0.2
    wall_start = time.time() + 0.2

    async def dispatch():
        for step in range(rounds):
            for index in range(devices):
                due = start + step * INTERVAL_SECONDS + index * INTERVAL_SECONDS / devices
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                device_id = index + 1
                point = _point(device_id, step, int(wall_start + (due - start)), seeded.extent)
                queue.put_nowait((due, point))
                result.offered += 1

    async def send(connection: Connection):
        while True:
            due, point = await queue.get()
            try:
                status, _body = await connection.call(osmand_request(seeded.keys[point.device_id], point))
                done = loop.time()
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status:
                    result.latencies.append(done - due)
                    result.answered_at.append(done - start)
                if status == 200:
                    result.acknowledged.add((point.device_id, point.epoch))
                    result.points.append(point)
            finally:
                queue.task_done()

    pool = [Connection(port) for _ in range(connections)]
    senders = [asyncio.create_task(send(c)) for c in pool]
    await dispatch()
    try:
        await asyncio.wait_for(queue.join(), DRAIN_LIMIT_SECONDS)
    except asyncio.TimeoutError:
        result.unsent = queue.qsize()
    for task in senders:
        task.cancel()
    await asyncio.gather(*senders, return_exceptions=True)
    for connection in pool:
        connection.close()
    return result


async def warm_up(port: int, seeded: Seeded, device_ids: range, connections: list[Connection]) -> int:
    """One point per connection on warm-up devices (imports, caches, pools filled); how many got 200."""
    now = int(time.time())
    answers = await asyncio.gather(*[
        c.call(osmand_request(seeded.keys[d], _point(d, 0, now, seeded.extent)))
        for c, d in zip(connections, device_ids)])
    return sum(1 for status, _ in answers if status == 200)


@dataclass
class Batches:
    """What a closed-loop batch run sent and got back."""

    messages: int = 0
    points: int = 0
    stored: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    acknowledged: set[tuple[int, int]] = field(default_factory=set)


async def batches(port: int, messages: list[tuple[str, list[Point]]], *, connections: int,
                  limit_seconds: float = BATCH_LIMIT_SECONDS) -> Batches:
    """Send the recorder messages over `connections` keep-alive connections, each as soon as the last is answered.

    No new message goes after `limit_seconds` (the rest are left unsent).
    """
    loop = asyncio.get_running_loop()
    result = Batches()
    pending = iter(messages)
    deadline = loop.time() + limit_seconds

    async def send(connection: Connection):
        for key, points in pending:
            if loop.time() > deadline:
                break
            started = loop.time()
            status, body = await connection.call(recorder_request(key, points))
            result.latencies.append(loop.time() - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            result.messages += 1
            result.points += len(points)
            if status == 200:
                result.stored += json.loads(body)["stored"]
                result.acknowledged.update((p.device_id, p.epoch) for p in points)
        connection.close()

    await asyncio.gather(*[send(Connection(port)) for _ in range(connections)])
    return result


# --- the generator's own ceiling -------------------------------------------------------------------

_TRIVIAL_SERVER = """
import asyncio, sys
ANSWER = b"HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n"
async def serve(reader, writer):
    try:
        while True:
            await reader.readuntil(b"\\r\\n\\r\\n")
            writer.write(ANSWER)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"""

_ceiling: tuple[float, float, float] | None = None


def generator_ceiling(seeded: Seeded) -> tuple[float, float, float]:
    """(requests/s, generator's share of a core, trivial server's share): a closed loop on CONNECTIONS connections."""
    global _ceiling
    if _ceiling is not None:
        return _ceiling
    process = subprocess.Popen([sys.executable, "-c", _TRIVIAL_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline())

        async def hammer():
            count = 0
            deadline = asyncio.get_running_loop().time() + CEILING_SECONDS
            point = _point(1, 0, int(time.time()), seeded.extent)

            async def one(connection):
                nonlocal count
                while asyncio.get_running_loop().time() < deadline:
                    await connection.call(osmand_request(seeded.keys[1], point))
                    count += 1
                connection.close()

            await asyncio.gather(*[one(Connection(port)) for _ in range(CONNECTIONS)])
            return count

        server0, own0, started = _stat(process.pid)[1], os.times(), time.perf_counter()
        count = asyncio.run(hammer())
        wall = time.perf_counter() - started
        own1, server1 = os.times(), _stat(process.pid)[1]
        _ceiling = (count / wall, ((own1.user + own1.system) - (own0.user + own0.system)) / wall,
                    (server1 - server0) / TICK / wall)
    finally:
        process.kill()
        process.wait()
    return _ceiling


# --- the benchmark -----------------------------------------------------------------------------


def _percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))]


def _statuses(statuses: dict[int, int]) -> str:
    other = {s: n for s, n in sorted(statuses.items()) if s != 200}
    return ", ".join(f"{'no answer' if s == 0 else s}: {n:,}" for s, n in other.items()) or "none"


def _slowest_window(answered_at: list[float], seconds: float, window: float = 10.0) -> float:
    """The fewest answers per second over the whole windows of the run."""
    windows = [0] * max(1, int(seconds // window))
    for at in answered_at:
        slot = int(at // window)
        if slot < len(windows):
            windows[slot] += 1
    return min(windows) / window


def run(backend: str, *, seconds: float = 60.0, devices: int = DEVICES) -> list[Table]:
    """The tracker intake tables of one backend (its own scratch database; about 4 minutes at 60 s)."""
    from bench.bench_concurrency import ServedBy
    from config import load_config

    settings = load_config()
    cores = os.cpu_count() or 1
    processes = settings["SERVER_PROCESSES"] or cores
    warm_ids = range(devices + 1, devices + WARM_DEVICES + 1)
    buffer_ids = range(warm_ids.stop, warm_ids.stop + BUFFER_DEVICES)
    load_before = os.getloadavg()
    with scratch_database(backend) as url:
        app = migrated_app(url)
        engine = app.extensions["gridsvc"].engine
        on_since = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=4)
        seeded = _seed(engine, devices=buffer_ids.stop - 1, on_since=on_since)
        ceiling = generator_ceiling(seeded)
        database = sa.engine.make_url(url).database if backend == "postgis" else None
        command = [sys.executable, "-m", "gridsvc.server", "--host", "127.0.0.1"]
        with ServedBy(url, credentials=Credentials("", "", ""), command=command, label="tracker") as server:
            meter = Meter(server.pid, database)

            async def osmand_phase():
                pool = [Connection(server.port) for _ in range(CONNECTIONS)]
                warmed = await warm_up(server.port, seeded, warm_ids, pool)
                for connection in pool:
                    connection.close()
                return warmed, await meter.measure(lambda: open_loop(
                    server.port, seeded, seconds=seconds, devices=devices, connections=CONNECTIONS))

            async def osmand_with_spread():
                # The connection spread is read while the open loop runs (its connections close at the end).
                task = asyncio.create_task(osmand_phase())
                await asyncio.sleep(min(5.0, seconds / 2))
                spread = _connections_per_worker(server_tree(server.pid)[1:], server.port)
                return await task, spread

            (warmed, (loop_result, loop_spent)), spread = asyncio.run(osmand_with_spread())
            workers = server_tree(server.pid)[1:]
            peaks = [_peak_kib(pid) or 0 for pid in workers]
            stored = _stored(engine, range(1, devices + 1))
            missing = len(loop_result.acknowledged - stored)
            unexpected = len(stored - loop_result.acknowledged)

            _clear_positions(engine)
            raw_osmand = raw_insert(engine, loop_result.points)
            _clear_positions(engine)

            by_device: dict[int, list[Point]] = {}
            for point in sorted(loop_result.points, key=lambda p: (p.device_id, p.epoch)):
                by_device.setdefault(point.device_id, []).append(point)
            small = [(seeded.keys[d], pts) for d, pts in by_device.items()]
            small_result, small_spent = asyncio.run(meter.measure(
                lambda: batches(server.port, small, connections=BATCH_CONNECTIONS)))
            small_missing = len(small_result.acknowledged - _stored(engine, range(1, devices + 1)))
            _clear_positions(engine)

            first = int(time.time()) - BUFFER_POINTS * int(INTERVAL_SECONDS) - 60
            buffered = [(seeded.keys[d], [_point(d, k, first + k * int(INTERVAL_SECONDS), seeded.extent)
                                          for k in range(BUFFER_POINTS)]) for d in buffer_ids]
            big_result, big_spent = asyncio.run(meter.measure(
                lambda: batches(server.port, buffered, connections=BATCH_CONNECTIONS)))
            big_missing = len(big_result.acknowledged - _stored(engine, buffer_ids))
            _clear_positions(engine)
            raw_buffered = raw_insert(engine, [p for _key, pts in buffered for p in pts])
            peaks_after = [_peak_kib(pid) or 0 for pid in server_tree(server.pid)[1:]]
        engine.dispose()
    load = f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after"

    return [_open_loop_table(backend, seconds=seconds, devices=devices, processes=processes, settings=settings,
                             result=loop_result, spent=loop_spent, missing=missing, unexpected=unexpected,
                             peaks=peaks, spread=spread, warmed=warmed, ceiling=ceiling, seed_seconds=seeded.seconds,
                             load=load),
            _batch_table(backend, loop_result, loop_spent, missing, raw_osmand, small_result, small_spent,
                         small_missing, big_result, big_spent, big_missing, raw_buffered, peaks_after,
                         postgis=database is not None)]


def _mib(kib: int) -> float:
    return kib / 1024


def _open_loop_table(backend, *, seconds, devices, processes, settings, result: OpenLoop, spent: Spent, missing,
                     unexpected, peaks, spread, warmed, ceiling, seed_seconds, load) -> Table:
    cores = os.cpu_count() or 1
    acknowledged = result.statuses.get(200, 0)
    # A point never answered (not sent by the end of the drain, or no answer) counts as slower than any.
    ordered = sorted(result.latencies) + [math.inf] * (result.offered - len(result.latencies))
    ms = [_percentile(ordered, q) * 1000 for q in (0.5, 0.95, 0.99)] if ordered else [None] * 3
    window = spent.wall
    accepted = acknowledged / window
    slowest = _slowest_window(result.answered_at, seconds)
    table = Table(f"Tracker intake, OsmAnd open loop, {devices:,} devices x 1 point / {INTERVAL_SECONDS:.0f} s, "
                  f"{seconds:.0f} s, {backend}", ["measure", "value"])
    table.add("points offered (offered/s)", f"{result.offered:,} ({result.offered / seconds:,.0f}/s)")
    table.add("acknowledged (200)", acknowledged)
    table.add("other answers", _statuses(result.statuses))
    in_flight = result.offered - sum(result.statuses.values()) - result.unsent
    table.add("not sent / in flight when the drain ended", f"{result.unsent:,} / {in_flight:,}")
    table.add("accepted points/s (over the phase's wall time)", f"{accepted:,.0f} ({window:.1f} s)")
    table.add("accepted points/s, slowest 10 s window", f"{slowest:,.0f}")
    table.add("latency from the scheduled send, p50 / p95 / p99 ms",
              " / ".join("-" if v is None else "never answered" if v == math.inf else f"{v:,.1f}" for v in ms))
    answered = sorted(result.latencies)
    table.add("latency of the answered points only, p50 / p95 / p99 / max ms",
              " / ".join(f"{_percentile(answered, q) * 1000:,.0f}" for q in (0.5, 0.95, 0.99, 1.0))
              if answered else "-")
    table.add("acknowledged points missing afterwards", missing)
    table.add("stored, not acknowledged (in flight when the drain ended)", unexpected)
    table.add(f"server CPU s ({processes} processes x {settings['SERVER_THREADS']} threads)",
              f"{spent.server:.1f} ({spent.server / window / cores:.0%} of {cores} cores)")
    if backend == "postgis":
        table.add("PostgreSQL backends' CPU s",
                  f"{spent.postgres:.1f} ({spent.postgres / window / cores:.0%} of {cores} cores)")
    table.add("server CPU ms per point (+ PostgreSQL)",
              f"{spent.server / max(1, acknowledged) * 1000:.2f}"
              + (f" (+ {spent.postgres / max(1, acknowledged) * 1000:.2f})" if backend == "postgis" else ""))
    table.add("generator CPU s", f"{spent.generator:.1f} ({spent.generator / window:.0%} of one core)")
    table.add("machine busy (all processes)", f"{spent.machine_busy:.0%} of {cores} cores")
    others = spent.machine_busy - (spent.server + spent.postgres + spent.generator) / window / cores
    table.add("... of which not the server, PostgreSQL or the generator", f"{max(0.0, others):.0%} of {cores} cores")
    table.add("server peak RSS (VmHWM) per worker MiB", " / ".join(f"{_mib(k):.0f}" for k in peaks))
    table.add("generator connections per worker", " / ".join(str(n) for n in spread))
    goal_met = slowest >= GOAL_RATE * 0.99 and ms[1] is not None and ms[1] < GOAL_P95_MS and missing == 0
    table.add(f"goal: {GOAL_RATE:,}/s sustained, p95 < {GOAL_P95_MS:.0f} ms, none missing",
              "met" if goal_met else "MISSED")
    rate, own, trivial = ceiling
    table.note(f"Generator: one asyncio process, {CONNECTIONS} keep-alive connections, raw HTTP/1.1; its ceiling "
               f"against a trivial asyncio server in another process is {rate:,.0f} requests/s "
               f"(generator {own:.0%} of a core, trivial server {trivial:.0%}).")
    table.note(f"Latency runs from each point's scheduled send time (open loop); a point not answered by the end "
               f"of the {DRAIN_LIMIT_SECONDS:.0f} s drain counts as slower than every answered one; "
               f"{warmed} of {WARM_DEVICES} warm-up points (devices of their own) were acknowledged before.")
    table.note(f"Seeded in {seed_seconds:.1f} s: a centre, 6 stations, {devices + WARM_DEVICES + BUFFER_DEVICES:,} "
               f"patrollers each with one device and the duty switch on. Load average (1 min): {load}.")
    return table


def _batch_table(backend, loop: OpenLoop, loop_spent: Spent, loop_missing, raw_osmand, small: Batches,
                 small_spent: Spent, small_missing, big: Batches, big_spent: Spent, big_missing, raw_buffered,
                 peaks_after, *, postgis: bool) -> Table:
    how = "COPY" if postgis else "executemany"
    acknowledged = loop.statuses.get(200, 0)
    table = Table(f"Tracker intake against a raw bulk insert of the same points, {backend}",
                  ["intake", "points stored", "points / message", "seconds", "points/s", "p95 ms / message",
                   "server CPU ms / point", "missing", "time ÷ raw", "points/s ÷ raw"])

    def add(label, stored, per_message, spent: Spent, latencies, missing, raw_rate):
        rate = stored / spent.wall if spent.wall else 0.0
        p95 = _percentile(sorted(latencies), 0.95) * 1000 if latencies else None
        if p95 == math.inf:
            p95 = "never answered"
        table.add(label, stored, per_message, spent.wall, rate, p95, spent.server / max(1, stored) * 1000, missing,
                  f"{raw_rate / rate:,.1f}x" if rate else None, f"{rate / raw_rate:.3f}x" if rate else None)

    raw_osmand_rate = acknowledged / raw_osmand
    raw_buffered_rate = BUFFER_DEVICES * BUFFER_POINTS / raw_buffered
    never_answered = [math.inf] * (loop.offered - len(loop.latencies))
    add("OsmAnd, open loop at the offered rate", acknowledged, 1, loop_spent, loop.latencies + never_answered,
        loop_missing, raw_osmand_rate)
    table.add(f"raw bulk insert ({how}) of those points", acknowledged, acknowledged, raw_osmand, raw_osmand_rate,
              None, None, None, "1x", "1x")
    for label, result, spent, missing, raw_rate in (
            (f"recorder, one message per device (its points above), {BATCH_CONNECTIONS} at a time", small,
             small_spent, small_missing, raw_osmand_rate),
            (f"recorder, {BUFFER_DEVICES} devices x one {BUFFER_POINTS:,}-point message, {BATCH_CONNECTIONS} at a time",
             big, big_spent, big_missing, raw_buffered_rate)):
        unanswered = "" if result.statuses.keys() == {200} else f" ({_statuses(result.statuses)})"
        add(label + unanswered, result.stored, round(result.points / max(1, result.messages), 1), spent,
            result.latencies, missing, raw_rate)
    table.add(f"raw bulk insert ({how}) of the {BUFFER_POINTS:,}-point messages' points",
              BUFFER_DEVICES * BUFFER_POINTS, BUFFER_DEVICES * BUFFER_POINTS, raw_buffered, raw_buffered_rate,
              None, None, None, "1x", "1x")
    table.note("time ÷ raw: gridsvc's time per point ÷ the raw insert's (above 1x slower); points/s ÷ raw: the "
               f"throughput ratio (goal for batched intake ≥ {GOAL_BATCH_RATIO}x). The open loop's throughput is "
               "capped by the offered rate; its p95 counts a point never answered as slowest. A batch run sends no "
               f"new message after {BATCH_LIMIT_SECONDS:.0f} s; its rate is of what it stored.")
    table.note("The raw insert: one transaction into the emptied positions table with every index (SpatiaLite: "
               "the R*Tree triggers too), from the benchmark process; the digests are made before the clock.")
    if postgis:
        table.note(f"PostgreSQL backends' CPU s: open loop {loop_spent.postgres:.1f}, recorder runs "
                   f"{small_spent.postgres:.1f} / {big_spent.postgres:.1f}.")
    table.note("Server peak RSS (VmHWM) per worker after every phase: "
               + " / ".join(f"{_mib(k):.0f}" for k in peaks_after) + " MiB.")
    return table


if __name__ == "__main__":
    sys.exit("run through `python -m bench --only tracker [--tracker-seconds 60]`")
