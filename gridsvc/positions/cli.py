"""flask --app gridsvc positions purge: drop stored points past their retention."""
from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import AppGroup

from gridsvc.db import session_scope, utcnow
from gridsvc.positions.service import purge_positions

positions_group = AppGroup("positions", help="Tracker positions (personal data: kept on duty, for a while).")


@positions_group.command("purge")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Keep this many days (default: POSITION_RETENTION_DAYS).")
def purge_command(days: int | None) -> None:
    """Delete points whose fix time is older than the retention, in batches; the figures derived from them stay."""
    days = days or int(current_app.config["POSITION_RETENTION_DAYS"])
    cutoff = utcnow() - dt.timedelta(days=days)
    with session_scope(current_app.extensions["gridsvc"].sessions) as session:
        removed = purge_positions(session, older_than=cutoff)
    click.echo(f"{removed} points older than {days} days removed")
