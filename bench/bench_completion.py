"""Item 2: the completion report over HTTP against the bare SQL aggregate on the same database."""
from __future__ import annotations

import datetime as dt
import time

from bench.database import SQLITE_TIME
from bench.report import Table, median_p95, ratio
from bench.server import BenchServer

PERIOD = "2020"
# The period's local (Asia/Shanghai) days as a UTC interval, as gridsvc.periods computes it.
START_UTC = dt.datetime(2019, 12, 31, 16, 0)
END_UTC = dt.datetime(2020, 12, 31, 16, 0)

_JOIN = ("FROM patrol_sessions s JOIN patrollers p ON p.id = s.patroller_id "
         "WHERE s.started_at >= {start} AND s.started_at < {end} ")
BARE_SQL = {
    # group_by=kind: seconds by role and kind (the volunteers' figures and the grid workers' beside).
    "by kind": "SELECT p.role, s.kind, SUM(s.duration_seconds) " + _JOIN + "GROUP BY p.role, s.kind",
    # The default answer (group_by=station): seconds by role, station and kind.
    "by station": "SELECT p.role, p.station_id, s.kind, SUM(s.duration_seconds) " + _JOIN
                  + "GROUP BY p.role, p.station_id, s.kind",
    "by volunteer": "SELECT s.patroller_id, s.kind, SUM(s.duration_seconds) " + _JOIN
                    + "AND p.role = 'volunteer' GROUP BY s.patroller_id, s.kind",
    "by month": "SELECT {month} AS month, s.kind, SUM(s.duration_seconds) " + _JOIN
                + "AND p.role = 'volunteer' GROUP BY 1, s.kind",
}
MONTH = {  # local month of a UTC start
    "sqlite": "strftime('%Y-%m', datetime(s.started_at, '+8 hours'))",
    "postgresql": "to_char(s.started_at + interval '8 hours', 'YYYY-MM')",
}
# One API call per report; each answer carries the totals by kind plus the table asked for.
API_CALLS = {
    "by kind": f"/api/v1/completion?period={PERIOD}&group_by=kind",
    "by station": f"/api/v1/completion?period={PERIOD}&group_by=station",
    "by volunteer": f"/api/v1/completion?period={PERIOD}&group_by=volunteer",
    "by month": f"/api/v1/completion?period={PERIOD}&group_by=month",
}


def _bare_connection(url: str):
    """A plain DB-API connection (no SQLAlchemy, no SpatiaLite: these aggregates need neither)."""
    if url.startswith("sqlite"):
        import pysqlite3.dbapi2 as sqlite

        return sqlite.connect(url.split("sqlite:///", 1)[1]), "sqlite"
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")), "postgresql"


# Each side of a measurement stops after `repeats` calls or once this many seconds are spent, with
# at least MIN_SAMPLES calls: at a million sessions one API call can take many seconds.
BUDGET_SECONDS = 60.0
MIN_SAMPLES = 3


def _enough(samples: list[float], repeats: int) -> bool:
    return len(samples) >= repeats or (len(samples) >= MIN_SAMPLES and sum(samples) >= BUDGET_SECONDS)


def _time_sql(url: str, sql_name: str, repeats: int) -> tuple[list[float], int]:
    connection, dialect = _bare_connection(url)
    try:
        if dialect == "sqlite":
            start, end = f"'{START_UTC.strftime(SQLITE_TIME)}'", f"'{END_UTC.strftime(SQLITE_TIME)}'"
        else:
            start, end = f"timestamp '{START_UTC}'", f"timestamp '{END_UTC}'"
        sql = BARE_SQL[sql_name].format(start=start, end=end, month=MONTH[dialect])
        samples, rows, warm = [], 0, False
        while not _enough(samples, repeats):
            started = time.perf_counter()
            cursor = connection.cursor()
            cursor.execute(sql)
            rows = len(cursor.fetchall())
            cursor.close()
            if warm:  # the first call warms the cache and is not counted
                samples.append(time.perf_counter() - started)
            warm = True
        return samples, rows
    finally:
        connection.close()


def _time_api(server: BenchServer, path: str, repeats: int) -> tuple[list[float], int, int]:
    samples, size, status, attempt = [], 0, 200, -1
    while not _enough(samples, repeats):
        attempt += 1
        started = time.perf_counter()
        status, body = server.request("GET", path)
        if status != 200:
            return [], 0, status
        size = len(body)
        if attempt:  # the first call warms the caches and is not counted
            samples.append(time.perf_counter() - started)
    return samples, size, status


def run(server: BenchServer, url: str, *, sessions: int, repeats: int, backend: str) -> Table:
    """Median/p95 latency of each completion report, API vs bare SQL, and their ratio."""
    table = Table(
        f"Completion report, {sessions:,} sessions, {backend}",
        ["report", "API median ms", "API p95 ms", "SQL median ms", "SQL p95 ms", "ratio (API / SQL)", "answer KB", "calls API/SQL"],
    )
    for name, path in API_CALLS.items():
        samples, size, status = _time_api(server, path, repeats)
        if not samples:
            table.note(f"{name}: the API answered {status}; skipped.")
            continue
        sql_samples, _rows = _time_sql(url, name, repeats)
        api_median, api_p95 = median_p95(samples)
        sql_median, sql_p95 = median_p95(sql_samples)
        table.add(name, api_median * 1000, api_p95 * 1000, sql_median * 1000, sql_p95 * 1000,
                  ratio(api_median, sql_median), size / 1024, f"{len(samples)}/{len(sql_samples)}")
    table.note(f"Up to {repeats} timed calls per side after one warm-up (fewer, at least {MIN_SAMPLES}, once "
               f"{BUDGET_SECONDS:.0f} s are spent); loopback HTTP, one server thread; "
               "SQL = the same aggregate through a bare DB-API connection.")
    return table
