"""Scratch benchmark databases (SpatiaLite file in bench/out/, PostGIS database on 127.0.0.1) and bulk loads.

Bulk loads bypass the API on purpose: executemany on SQLite, COPY on PostgreSQL.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
import uuid
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa

from bench import generate

OUT_DIR = Path(__file__).resolve().parent / "out"
POSTGRES_ADMIN_URL = os.environ.get("GRIDSVC_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REGION_CODE = "350600"
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's own SQLite DateTime storage format
BULK_CACHE_KIB = -1_048_576  # PRAGMA cache_size in KiB (negative): 1 GiB for bulk loads


def postgis_available() -> str | None:
    """None when the PostgreSQL server answers, else the reason it does not."""
    engine = sa.create_engine(POSTGRES_ADMIN_URL)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "skip PostGIS"
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()


@contextlib.contextmanager
def scratch_database(backend: str) -> Iterator[str]:
    """A new empty database URL, removed afterwards (PostGIS: gridsvc_bench_<pid>_<hex>)."""
    tag = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    if backend == "spatialite":
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        path = OUT_DIR / f"gridsvc_bench_{tag}.sqlite"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"gridsvc_bench_{tag}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def migrated_app(url: str):
    """A gridsvc app on `url` with the schema at Alembic `heads`."""
    from alembic import command

    from gridsvc import create_app
    from gridsvc.cli import alembic_config

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "REGION_CODE": REGION_CODE})
    with app.app_context():
        command.upgrade(alembic_config(), "head")
    return app


def _sqlite_time(value: dt.datetime) -> str:
    return value.strftime(SQLITE_TIME)


def load_city(engine, city: generate.City, people: list[dict]) -> dict[int, int]:
    """Insert the centre, the stations and the patrollers; return station index -> grid id."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    sqlite = engine.dialect.name == "sqlite"
    geom = "ST_GeomFromText(:wkt, 4326)"
    with engine.begin() as connection:
        insert_grid = sa.text(
            "INSERT INTO grids (code, name, level, parent_id, geom, created_at, updated_at) "
            f"VALUES (:code, :name, :level, :parent_id, {geom}, :now, :now)"
        )
        stamp = _sqlite_time(now) if sqlite else now
        connection.execute(insert_grid, {"code": city.centre_code, "name": "City centre", "level": "centre",
                                         "parent_id": None, "wkt": city.centre_wkt(), "now": stamp})
        centre_id = connection.scalar(sa.text("SELECT id FROM grids WHERE code = :c"), {"c": city.centre_code})
        connection.execute(insert_grid, [
            {"code": s.code, "name": s.name, "level": "station", "parent_id": centre_id, "wkt": s.wkt(), "now": stamp}
            for s in city.stations
        ])
        ids = dict(connection.execute(sa.text("SELECT code, id FROM grids WHERE level = 'station'")).all())
        station_ids = {index: ids[s.code] for index, s in enumerate(city.stations)}
        connection.execute(
            sa.text("INSERT INTO patrollers (id, role, name, station_id, active_from, created_at) "
                    "VALUES (:id, :role, :name, :station_id, :active_from, :now)"),
            [{"id": p["id"], "role": p["role"], "name": p["name"], "station_id": station_ids[p["station_index"]],
              "active_from": p["active_from"].isoformat() if sqlite else p["active_from"], "now": stamp}
             for p in people],
        )
        if not sqlite:
            connection.exec_driver_sql("SELECT setval('patrollers_id_seq', (SELECT max(id) FROM patrollers))")
    return station_ids


SESSION_COLUMNS = ("client_uuid", "payload_digest", "kind", "patroller_id", "station_id", "started_at",
                   "ended_at", "duration_seconds", "source", "created_at")


def bulk_sessions(engine, rows, station_ids: dict[int, int]) -> tuple[int, float]:
    """Bulk-load track-less sessions (executemany / COPY); returns (rows, seconds)."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    started = time.perf_counter()
    count = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            stamp = _sqlite_time(now)
            # SQLite's default 2 MB page cache spills the random-order unique-uuid index to the WAL
            # again and again (tens of GB written for 1M rows, measured); give the load 1 GiB.
            cursor.execute(f"PRAGMA cache_size = {BULK_CACHE_KIB}")
            cursor.execute("BEGIN")
            batch = []
            placeholders = ",".join("?" * len(SESSION_COLUMNS))
            sql = f"INSERT INTO patrol_sessions ({','.join(SESSION_COLUMNS)}) VALUES ({placeholders})"
            for uid, digest, kind, person, station, start, end, seconds in rows:
                batch.append((uid, digest, kind, person, station_ids[station], _sqlite_time(start),
                              _sqlite_time(end), seconds, "import", stamp))
                if len(batch) == 50_000:
                    cursor.executemany(sql, batch)
                    count += len(batch)
                    batch.clear()
            cursor.executemany(sql, batch)
            count += len(batch)
            cursor.execute("COMMIT")
        else:
            with cursor.copy(f"COPY patrol_sessions ({','.join(SESSION_COLUMNS)}) FROM STDIN") as copy:
                for uid, digest, kind, person, station, start, end, seconds in rows:
                    copy.write_row((uid, digest, kind, person, station_ids[station], start, end, seconds,
                                    "import", now))
                    count += 1
            raw.commit()
            cursor.execute("ANALYZE patrol_sessions")
            raw.commit()
        cursor.close()
    finally:
        raw.close()
    return count, time.perf_counter() - started


def bulk_cameras(engine, rows: list[dict], station_ids: dict[int, int]) -> None:
    """Bulk-load cameras (executemany / COPY with EWKT points)."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    columns = "device_id, name, kind, police_linked, status, station_id, geom, created_at, updated_at"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            stamp = _sqlite_time(now)
            cursor.execute("BEGIN")
            cursor.executemany(
                f"INSERT INTO cameras ({columns}) VALUES (?, ?, ?, 1, 'online', ?, MakePoint(?, ?, 4326), ?, ?)",
                [(c["device_id"], c["name"], c["kind"], station_ids[c["station_index"]], c["lon"], c["lat"], stamp, stamp)
                 for c in rows],
            )
            cursor.execute("COMMIT")
        else:
            with cursor.copy(f"COPY cameras ({columns}) FROM STDIN") as copy:
                for c in rows:
                    copy.write_row((c["device_id"], c["name"], c["kind"], True, "online",
                                    station_ids[c["station_index"]], f"SRID=4326;POINT({c['lon']} {c['lat']})", now, now))
            raw.commit()
            cursor.execute("ANALYZE cameras")
            raw.commit()
        cursor.close()
    finally:
        raw.close()


def analyze(engine) -> None:
    """Refresh planner statistics after bulk loads (ANALYZE on both)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("ANALYZE")
        if engine.dialect.name != "sqlite":
            raw.commit()
        cursor.close()
    finally:
        raw.close()
