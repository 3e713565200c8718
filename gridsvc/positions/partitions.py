"""PostGIS: the positions table partitioned by month (fix time, UTC), partitions made ahead, old ones dropped.

A point whose month has no partition yet lands in the default partition; making that month's
partition later moves such points into it. Several servers may call ensure_partitions at once: a
transaction-scoped advisory lock serialises them. On SQLite (one file, one node) nothing is
partitioned and these functions do nothing.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

PARENT = "positions"
DEFAULT_PARTITION = "positions_default"
# Any 64-bit number of our own; the lock only serialises partition maintenance between servers.
_ADVISORY_LOCK = 0x67726964_70617274  # "gridpart"
LOCK_TIMEOUT_MS = 2000


def month_start(moment: dt.date | dt.datetime) -> dt.date:
    """The first day of the month holding `moment` (UTC for datetimes)."""
    if isinstance(moment, dt.datetime):
        moment = moment.astimezone(dt.timezone.utc) if moment.tzinfo else moment
        moment = moment.date()
    return moment.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    """The first day of the month after `month`."""
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def months_after(day: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after `day`'s."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(month: dt.date) -> str:
    """positions_pYYYYMM."""
    return f"{PARENT}_p{month.year:04d}{month.month:02d}"


def is_partitioned(connection: Connection) -> bool:
    """True on a database whose positions table is partitioned (PostgreSQL after revision 0009)."""
    if connection.dialect.name != "postgresql":
        return False
    return bool(connection.execute(sa.text(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = :name"),
        {"name": PARENT}).scalar())


def month_partitions(connection: Connection) -> dict[dt.date, str]:
    """The month partitions attached now: month -> table name."""
    rows = connection.execute(sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :parent"), {"parent": PARENT}).scalars()
    found = {}
    for name in rows:
        if name.startswith(f"{PARENT}_p") and name[len(PARENT) + 2:].isdigit():
            digits = name[len(PARENT) + 2:]
            found[dt.date(int(digits[:4]), int(digits[4:]), 1)] = name
    return found


def ensure_partitions(connection: Connection, *, first: dt.date, last: dt.date) -> list[str]:
    """Make the month partitions from `first`'s month through `last`'s; returns the names made.

    Points already in the default partition for a month being made move into it.
    """
    if not is_partitioned(connection):
        return []
    wanted = []
    month, last_month = month_start(first), month_start(last)
    while month <= last_month:
        wanted.append(month)
        month = next_month(month)
    if set(wanted) <= set(month_partitions(connection)):
        return []  # the usual case: nothing to make, no lock taken
    # Making a partition locks the whole table for a moment; queued behind a long transaction it
    # would hold up every point behind it, so it gives up (LockNotAvailable) and is tried later.
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
    if not _try_maintenance_lock(connection):
        return []  # another server is making them right now
    existing = month_partitions(connection)
    made = []
    for month in wanted:
        if month not in existing:
            _make_partition(connection, month)
            made.append(partition_name(month))
    return made


def _make_partition(connection: Connection, month: dt.date) -> None:
    name, low, high = partition_name(month), month.isoformat(), next_month(month).isoformat()
    bounds = {"low": low, "high": high}
    waiting = connection.execute(sa.text(
        f"SELECT count(*) FROM {DEFAULT_PARTITION} WHERE fixed_at >= :low AND fixed_at < :high"), bounds).scalar()
    if not waiting:
        connection.exec_driver_sql(
            f"CREATE TABLE {name} PARTITION OF {PARENT} FOR VALUES FROM ('{low}') TO ('{high}')")
        return
    # The default partition holds points of this month: a partition cannot be created over them,
    # so build it beside, move them, then attach it (checked against the emptied default).
    connection.exec_driver_sql(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    connection.execute(sa.text(
        f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE fixed_at >= :low AND fixed_at < :high RETURNING *) "
        f"INSERT INTO {name} SELECT * FROM moved"), bounds)
    connection.exec_driver_sql(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ('{low}') TO ('{high}')")


def drop_partitions_before(connection: Connection, *, cutoff: dt.datetime, keep) -> tuple[list[str], int]:
    """Drop whole month partitions ending at or before `cutoff` that `keep(low, high)` does not hold.

    Returns the names dropped and how many points went with them. Detaching locks the whole table,
    so the caller commits at once (a short transaction of its own); a month whose lock is not had
    within LOCK_TIMEOUT_MS is left to the batch deletes.
    """
    if not is_partitioned(connection):
        return [], 0
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
    if not _try_maintenance_lock(connection):
        return [], 0
    cutoff_naive = cutoff.astimezone(dt.timezone.utc).replace(tzinfo=None)
    dropped, points = [], 0
    for month, name in sorted(month_partitions(connection).items()):
        high = dt.datetime.combine(next_month(month), dt.time())
        if high > cutoff_naive or keep(dt.datetime.combine(month, dt.time(), dt.timezone.utc),
                                       high.replace(tzinfo=dt.timezone.utc)):
            continue
        try:
            with connection.begin_nested():  # a busy table (lock_timeout) leaves this month to the batches
                count = connection.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar()
                connection.exec_driver_sql(f"ALTER TABLE {PARENT} DETACH PARTITION {name}")
                connection.exec_driver_sql(f"DROP TABLE {name}")
        except sa.exc.OperationalError:
            continue
        points += count
        dropped.append(name)
    return dropped, points


def _try_maintenance_lock(connection: Connection) -> bool:
    return bool(connection.execute(sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK}).scalar())
