"""Command line: `flask --app gridsvc db upgrade | seed | report completion`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from config import PROJECT_ROOT
from gridsvc.auth.cli import users_group
from gridsvc.cameras.cli import cameras_group
from gridsvc.db import session_scope
from gridsvc.patrols.cli import patrols_group


def sessions():
    """The app's session factory, for one CLI transaction via session_scope."""
    return current_app.extensions["gridsvc"].sessions


def alembic_config():
    """Alembic configuration pointing at this app's database."""
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["engine"] = current_app.extensions["gridsvc"].engine
    return config


db_group = AppGroup("db", help="Create or upgrade the database schema.")


@db_group.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create the database or bring it to the newest schema."""
    from alembic import command

    command.upgrade(alembic_config(), revision)
    click.echo(f"database at {revision}: {current_app.config['DATABASE_URL'].split('@')[-1]}")


@db_group.command("current")
def db_current() -> None:
    """Show the schema revision of the database."""
    from alembic import command

    command.current(alembic_config())


@click.command("seed")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def seed_command(quiet: bool) -> None:
    """Load the 2020 report's dataset (re-runnable: adds only what is missing)."""
    from tqdm import tqdm

    from seed.loader import load_seed

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if quiet:
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="row", file=sys.stderr, leave=True)
        bar.update(done - bar.n)

    with session_scope(sessions()) as session:
        added = load_seed(session, region_code=current_app.config["REGION_CODE"], progress=progress)
    for bar in bars.values():
        bar.close()
    click.echo("seed loaded: " + ", ".join(f"{name} +{count}" for name, count in added.items()))


report_group = AppGroup("report", help="Reports on stored data.")


@report_group.command("completion")
@click.option("--period", default=None, help="2020, 2020-Q1 or 2020-03 (default: DEFAULT_PERIOD).")
@click.option("--from", "date_from", default=None, help="First day, e.g. 2020-01-01 (with --to).")
@click.option("--to", "date_to", default=None, help="Last day, e.g. 2020-06-30 (with --from).")
@click.option("--basis", type=click.Choice(["claimed", "verified"]), default="claimed", show_default=True)
@click.option("--format", "output_format", type=click.Choice(["json", "table"]), default="table", show_default=True)
def report_completion(period, date_from, date_to, basis, output_format) -> None:
    """Volunteer completion by kind and by station."""
    from gridsvc.errors import DomainError
    from gridsvc.reports.periods import parse_period
    from gridsvc.reports.service import completion

    try:
        parsed = parse_period(period or current_app.config["DEFAULT_PERIOD"], date_from=date_from, date_to=date_to,
                              tz=current_app.config["DISPLAY_TIMEZONE"])
        with session_scope(sessions()) as session:
            result = completion(session, period=parsed, quota_hours_per_year=current_app.config["QUOTA_HOURS_PER_YEAR"],
                                basis=basis)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    if output_format == "json":
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"period {result['period']} ({result['from']} .. {result['to']}), basis {result['basis']}")
    click.echo(f"volunteers {result['volunteers']} x quota {result['quota_hours']:.2f} h = target {result['target_hours']:.2f} h")
    for kind in ("group", "individual"):
        figure = result["by_kind"][kind]
        shown = "-" if figure["percent"] is None else f"{figure['percent']:.2f} %"
        click.echo(f"{kind:<10} {figure['hours']:>12.2f} h  {shown:>10}")
    click.echo("")
    click.echo(f"{'station':<12} {'volunteers':>10} {'target h':>10} {'group h':>10} {'group %':>9} {'indiv. h':>10} {'indiv. %':>9}")
    for row in result["by_station"]:
        cells = []
        for kind in ("group", "individual"):
            figure = row["by_kind"][kind]
            cells += [f"{figure['hours']:>10.2f}", f"{figure['percent']:>9.2f}" if figure["percent"] is not None else f"{'-':>9}"]
        click.echo(f"{row['station_code']:<12} {row['volunteers']:>10} {row['target_hours']:>10.2f} " + " ".join(cells))


def register_cli(app: Flask) -> None:
    """Attach the command groups to the app's `flask` CLI."""
    app.cli.add_command(db_group)
    app.cli.add_command(seed_command)
    app.cli.add_command(report_group)
    app.cli.add_command(cameras_group)
    app.cli.add_command(users_group)
    app.cli.add_command(patrols_group)
