"""flask --app gridsvc positions purge | partitions: retention and, on PostGIS, the month partitions."""
from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import AppGroup

from gridsvc.db import session_scope, utcnow
from gridsvc.positions import limits
from gridsvc.positions.partitions import drop_partitions_before, ensure_partitions, is_partitioned, months_after
from gridsvc.positions.service import delete_position_batch, holds_overlap

positions_group = AppGroup("positions", help="Tracker positions (personal data: kept on duty, for a while).")


def retention_holds(session, *, cutoff: dt.datetime) -> list:
    """The windows whose points stay past the cutoff, from every domain that keeps sessions."""
    return [hold for provider in current_app.extensions.get("gridsvc_position_holds", ())
            for hold in provider(session, cutoff=cutoff)]


@positions_group.command("purge")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Keep this many days (default: POSITION_RETENTION_DAYS).")
def purge_command(days: int | None) -> None:
    """Delete points kept past the retention (counted from their session's end); the figures derived from them stay."""
    days = days or int(current_app.config["POSITION_RETENTION_DAYS"])
    now = utcnow()
    cutoff = now - dt.timedelta(days=days)
    sessions, engine = current_app.extensions["gridsvc"].sessions, current_app.extensions["gridsvc"].engine
    with session_scope(sessions) as session:
        holds = retention_holds(session, cutoff=cutoff)
    # Short transactions: a month partition detached (a moment's lock of the table), then batches,
    # each committed, so tracker points keep landing meanwhile.
    removed = 0
    if engine.dialect.name == "postgresql":  # only PostGIS partitions positions
        with engine.begin() as connection:
            _dropped, removed = drop_partitions_before(connection, cutoff=cutoff, keep=holds_overlap(holds))
    while True:
        with session_scope(sessions) as session:
            batch = delete_position_batch(session, older_than=cutoff, holds=holds)
        if not batch:
            break
        removed += batch
    with session_scope(sessions) as session:
        idle = limits.forget_idle_addresses(session, now=now)
    click.echo(f"{removed} points older than {days} days removed; {idle} idle address limits cleared")


@positions_group.command("partitions")
@click.option("--months-ahead", type=click.IntRange(min=0, max=120), default=None,
              help="Make partitions this many months ahead (default: POSITION_PARTITION_MONTHS_AHEAD).")
def partitions_command(months_ahead: int | None) -> None:
    """On PostGIS, make the month partitions of positions from this month on (the app also does it by itself)."""
    ahead = int(current_app.config["POSITION_PARTITION_MONTHS_AHEAD"]) if months_ahead is None else months_ahead
    with current_app.extensions["gridsvc"].engine.begin() as connection:
        if not is_partitioned(connection):
            click.echo("positions is not partitioned on this database (SQLite): nothing to do")
            return
        made = ensure_partitions(connection, first=utcnow().date(), last=months_after(utcnow().date(), ahead))
    click.echo(f"{len(made)} partitions made: {', '.join(made) or '-'}")

