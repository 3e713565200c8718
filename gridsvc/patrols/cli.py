"""`flask --app gridsvc patrols import-csv FILE` and `patrols import-gpx FOLDER --volunteer REF`."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from gridsvc.db import session_scope
from gridsvc.patrols.importer import ImportFormatError, import_gpx_files, import_rows, read_csv, write_report
from gridsvc.patrols.intake import IntakeSettings, PatrolIntake

patrols_group = AppGroup("patrols", help="Import patrol sessions.")


class _RollBack(Exception):
    """Raised inside the session scope to roll an import back after its rows were checked."""


def _run(work, *, keep_going: bool, report: str | None, quiet: bool, total: int, unit: str):
    """Run an import in one transaction, with a progress bar; print the per-row errors; exit 1 on any."""
    from tqdm import tqdm

    bar = tqdm(total=total, unit=unit, file=sys.stderr, disable=quiet)
    results = []
    try:
        with session_scope(current_app.extensions["gridsvc"].sessions) as session:
            intake = PatrolIntake(session, IntakeSettings.from_config(current_app.config))
            results = work(intake, bar.update)
            if any(r.status == "error" for r in results) and not keep_going:
                raise _RollBack
        committed = True
    except _RollBack:
        committed = False
    finally:
        bar.close()
    errors = [r for r in results if r.status == "error"]
    for result in errors:
        click.echo(f"{result.where}: {result.code}: {result.message}", err=True)
    if report:
        write_report(results, Path(report))
    created = sum(r.status == "created" for r in results)
    existing = sum(r.status == "existing" for r in results)
    if committed:
        click.echo(f"imported {created} new, {existing} already present, {len(errors)} refused")
    else:
        click.echo(f"nothing imported: {len(errors)} of {len(results)} {unit}s refused "
                   f"(fix them, or use --keep-going to import the others)")
    if errors:
        sys.exit(1)


_common = [
    click.option("--keep-going", is_flag=True, help="Import the good rows even if some are refused."),
    click.option("--report", type=click.Path(dir_okay=False), help="Write the per-row outcome to this CSV file."),
    click.option("--quiet", is_flag=True, help="No progress bar."),
]


def _with_common(function):
    for option in reversed(_common):
        function = option(function)
    return function


@patrols_group.command("import-csv")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_with_common
def import_csv(file: str, keep_going: bool, report: str | None, quiet: bool) -> None:
    """Import a CSV export of patrols (all or nothing unless --keep-going)."""
    try:
        rows, ignored = read_csv(Path(file))
    except ImportFormatError as error:
        raise click.ClickException(str(error)) from None
    if ignored:
        click.echo(f"ignored column(s): {', '.join(ignored)}", err=True)
    _run(lambda intake, progress: import_rows(intake, rows, progress=progress),
         keep_going=keep_going, report=report, quiet=quiet, total=len(rows), unit="row")


@patrols_group.command("import-gpx")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--volunteer", required=True, help="Volunteer-app account or patroller id of the person who patrolled.")
@click.option("--kind", type=click.Choice(["individual", "group"]), default="individual", show_default=True)
@click.option("--task-id", type=int, default=None, help="The group-patrol task (with --kind group).")
@_with_common
def import_gpx(folder: str, volunteer: str, kind: str, task_id: int | None, keep_going: bool, report: str | None,
               quiet: bool) -> None:
    """Import every *.gpx file of FOLDER as one patrol each (times from the track)."""
    from gridsvc.errors import DomainError

    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() == ".gpx" and p.is_file())
    if not paths:
        raise click.ClickException(f"no .gpx files in {folder}")

    def work(intake, progress):
        try:
            return import_gpx_files(intake, paths, volunteer=volunteer, kind=kind, task_id=task_id, progress=progress)
        except DomainError as error:
            raise click.ClickException(str(error)) from None

    _run(work, keep_going=keep_going, report=report, quiet=quiet, total=len(paths), unit="file")


@patrols_group.command("reverify")
@click.option("--period", required=True, help="Sessions that started in this period: 2020, 2020-Q3, 2020-07.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def reverify_command(period: str, quiet: bool) -> None:
    """Recompute verified time and time per grid from the stored points with the limits configured now."""
    from tqdm import tqdm

    from gridsvc.errors import DomainError
    from gridsvc.patrols.from_points import PointRules, ReverifyReport, reverify
    from gridsvc.patrols.zone import load_zone
    from gridsvc.periods import parse_period

    try:
        chosen = parse_period(period, tz=current_app.config["DISPLAY_TIMEZONE"])
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    start, end = chosen.utc_bounds()
    rules = PointRules.from_config(current_app.config)
    report, last_id = ReverifyReport(), 0
    # One short transaction per batch: the intake never waits long behind a re-verification.
    with tqdm(unit="session", file=sys.stderr, disable=quiet) as bar:
        while last_id is not None:
            checked = report.checked
            with session_scope(current_app.extensions["gridsvc"].sessions) as session:
                last_id = reverify(session, start=start, end=end, zone=load_zone(session), rules=rules,
                                   report=report, after_id=last_id)
            bar.update(report.checked - checked)
    for patrol_id, old, new in report.changes:
        click.echo(f"session {patrol_id}: verified {old} s -> {new} s")
    click.echo(f"{chosen.label}: {report.checked} sessions checked, {report.changed} changed, {report.unchanged} "
               f"unchanged, {report.without_points} left as they were (no stored points), {report.not_tracked} "
               f"without a track (typed, attendance or paper); limits: speed {rules.limits.max_speed_kmh} km/h, "
               f"gap {rules.limits.max_gap_seconds} s, jump {rules.max_jump_kmh} km/h")


@patrols_group.command("detect-trips")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def detect_trips_command(quiet: bool) -> None:
    """Stop patrols left running too long, then propose the trips in every patroller's recent on-duty points (a timer)."""
    import datetime as dt

    import sqlalchemy as sa
    from tqdm import tqdm

    from gridsvc.db import utcnow
    from gridsvc.errors import DomainError
    from gridsvc.patrols.from_points import PointRules, propose_trips, refresh_late_points, stop_abandoned
    from gridsvc.patrols.zone import load_zone
    from gridsvc.positions.models import Position

    rules = PointRules.from_config(current_app.config)
    sessions = current_app.extensions["gridsvc"].sessions
    now = utcnow()
    with session_scope(sessions) as session:
        stopped = stop_abandoned(session, zone=load_zone(session), rules=rules, now=now)
    if stopped:
        click.echo(f"{stopped} patrols left running over {rules.max_hours} h stopped at their last point")
    with session_scope(sessions) as session:
        refreshed = refresh_late_points(session, zone=load_zone(session), rules=rules, now=now)
    if refreshed:
        click.echo(f"{refreshed} patrols recomputed with points that came in after they were computed")
    with session_scope(sessions) as session:
        patroller_ids = list(session.scalars(sa.select(Position.patroller_id).distinct().where(
            Position.fixed_at >= now - dt.timedelta(hours=rules.lookback_hours))))
    proposed = 0
    # One short transaction per patroller: the intake never waits long behind detection.
    for patroller_id in tqdm(patroller_ids, unit="patroller", file=sys.stderr, disable=quiet):
        try:
            with session_scope(sessions) as session:
                proposed += len(propose_trips(session, patroller_id=patroller_id, zone=load_zone(session),
                                              rules=rules, now=now))
        except DomainError as error:  # one patroller's refusal stops nobody else's trips
            click.echo(f"patroller {patroller_id}: {error.code}", err=True)
    click.echo(f"{proposed} trips proposed from the points of {len(patroller_ids)} patrollers")
