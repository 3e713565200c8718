"""Command line: `flask --app gridsvc db upgrade | seed | report completion`."""
from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from config import PROJECT_ROOT
from gridsvc.auth.cli import users_group
from gridsvc.backups.cli import backup_command, restore_command
from gridsvc.cameras.cli import cameras_group
from gridsvc.db import session_scope
from gridsvc.maps_web.cli import export_map
from gridsvc.patrols.cli import patrols_group
from gridsvc.positions.cli import positions_group
from gridsvc.reports.cli import report_completion, report_group  # noqa: F401 (the report group lives with its domain)


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
@click.option("--revision", default="head", show_default=True)
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
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A folder holding the seed's files (default: seed/data), e.g. with a surveyed grids.geojson.")
@click.option("--demo", is_flag=True,
              help="Also make one demo account per role, with a new random password printed here "
                   "(or GRIDSVC_DEMO_PASSWORD, which must pass the password check). Never on a real deployment.")
def seed_command(quiet: bool, data_dir: Path | None, demo: bool) -> None:
    """Load the 2020 report's dataset (re-runnable: adds only what is missing)."""
    from gridsvc.auth.service import demo_password
    from gridsvc.errors import DomainError
    from gridsvc.progress import stage_progress
    from seed.loader import DATA_DIR, load_demo_accounts, load_seed

    try:
        with stage_progress(quiet=quiet) as progress, session_scope(sessions()) as session:
            added = load_seed(session, region_code=current_app.config["REGION_CODE"], progress=progress,
                              data_dir=data_dir or DATA_DIR)
            if demo:
                password, chosen = demo_password()
                accounts = load_demo_accounts(session, password=password)
    except DomainError as error:
        raise click.ClickException(f"nothing was seeded: {error}") from None
    click.echo("seed loaded: " + ", ".join(f"{name} +{count}" for name, count in added.items()))
    if demo and accounts:
        shown = "(GRIDSVC_DEMO_PASSWORD)" if chosen else password
        click.echo(f"demo accounts {', '.join(accounts)}; password {shown}")
    elif demo:
        click.echo("demo accounts exist already, their passwords unchanged "
                   "(flask --app gridsvc users reset-password NAME sets a new one)")


def register_cli(app: Flask) -> None:
    """Attach the command groups to the app's `flask` CLI."""
    app.cli.add_command(db_group)
    app.cli.add_command(seed_command)
    app.cli.add_command(report_group)
    app.cli.add_command(cameras_group)
    app.cli.add_command(users_group)
    app.cli.add_command(patrols_group)
    app.cli.add_command(positions_group)
    app.cli.add_command(export_map)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
