"""`flask --app gridsvc cameras import | export | stats | coverage`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from gridsvc.db import session_scope
from gridsvc.errors import DomainError

cameras_group = AppGroup("cameras", help="Camera registry: import, export, shares, coverage.")


def _sessions():
    return current_app.extensions["gridsvc"].sessions


def _acting():
    """The CLI's actor for history rows (cli:<os user>), through gridsvc.audit when present."""
    try:
        from gridsvc.audit.context import acting_as, os_user
    except ImportError:  # pragma: no cover - the audit package is optional for the registry
        import contextlib

        return contextlib.nullcontext()
    return acting_as(f"cli:{os_user()}")


@cameras_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--crs", type=click.Choice(["wgs84", "gcj02"]), default="wgs84", show_default=True,
              help="Coordinate system of the file's positions (a row's crs column overrides it).")
@click.option("--format", "file_format", type=click.Choice(["csv", "geojson"]), default=None,
              help="File format (default: from the file name, .csv or .geojson/.json).")
@click.option("--partial", is_flag=True, help="Write the good rows even when some rows are bad.")
@click.option("--update", is_flag=True, help="Change registered cameras whose row differs (default: an error).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def import_command(file: Path, crs: str, file_format: str | None, partial: bool, update: bool, quiet: bool) -> None:
    """Import cameras from a CSV or GeoJSON FILE; all-or-nothing unless --partial."""
    from gridsvc.cameras.transfer import import_cameras, read_file
    from gridsvc.progress import stage_progress

    try:
        records = read_file(file.read_bytes(), file_format=file_format, filename=file.name)
        with stage_progress(quiet=quiet) as progress, _acting(), session_scope(_sessions()) as session:
            report = import_cameras(session, records=records, crs=crs, partial=partial, update=update,
                                    region_prefix=current_app.config["REGION_CODE"], source_name=file.name,
                                    progress=progress)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    summary = report.to_dict()
    for error in summary["errors"]:
        click.echo(f"row {error['row']}: {error['device_id'] or '-'}: {error['code']}: {error['message']}", err=True)
    click.echo(
        f"{summary['rows']} rows: {summary['created']} created, {summary['updated']} updated, "
        f"{summary['unchanged']} unchanged, {summary['failed']} failed"
        + (f", {summary['converted_from_gcj02']} converted from GCJ-02" if summary["converted_from_gcj02"] else "")
    )
    if not report.committed:
        raise click.ClickException(f"{summary['failed']} bad rows: nothing was written (use --partial to write the "
                                   "good rows)")


@cameras_group.command("export")
@click.option("--format", "file_format", type=click.Choice(["csv", "geojson"]), default="csv", show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File to write ('-' for standard output).")
@click.option("--crs", type=click.Choice(["wgs84", "gcj02"]), default="wgs84", show_default=True)
@click.option("--include-retired", is_flag=True, help="Also retired cameras (with their retired_at).")
def export_command(file_format: str, out_path: Path, crs: str, include_retired: bool) -> None:
    """Write the cameras as CSV or GeoJSON that `cameras import` reads back unchanged."""
    from gridsvc.cameras.transfer import export_rows, to_csv, to_geojson

    with session_scope(_sessions()) as session:
        rows = export_rows(session, crs=crs, include_retired=include_retired)
    if file_format == "csv":
        data = to_csv(rows, include_retired=include_retired)
    else:
        data = json.dumps(to_geojson(rows, include_retired=include_retired), ensure_ascii=False, indent=1).encode()
    if str(out_path) == "-":
        sys.stdout.buffer.write(data)
    else:
        out_path.write_bytes(data)
        click.echo(f"{len(rows)} cameras written to {out_path}", err=True)


@cameras_group.command("stats")
@click.option("--format", "output_format", type=click.Choice(["json", "table"]), default="table", show_default=True)
def stats_command(output_format: str) -> None:
    """Cameras in service, police-linked and online, overall and per station."""
    from gridsvc.cameras.service import camera_stats

    with session_scope(_sessions()) as session:
        result = camera_stats(session)
    if output_format == "json":
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return

    def shown(value):
        return "-" if value is None else f"{value:.2f}"

    click.echo(f"{'station':<14} {'cameras':>8} {'linked':>7} {'linked %':>9} {'online':>7} {'online %':>9} "
               f"{'offline':>8} {'fault':>6}")
    for row in [*result["by_station"], {"station_code": "overall", **result["overall"]}]:
        click.echo(f"{row['station_code']:<14} {row['cameras']:>8} {row['linked']:>7} {shown(row['linked_percent']):>9} "
                   f"{row['online']:>7} {shown(row['online_percent']):>9} {row['offline']:>8} {row['fault']:>6}")


@cameras_group.command("coverage")
@click.option("--radius", "radius_m", type=float, default=None, help="Metres (default: CAMERA_COVERAGE_RADIUS_M).")
@click.option("--online-only", is_flag=True, help="Count only cameras that are online.")
@click.option("--period", default=None, help="Patrol tracks of this period only (2020, 2020-Q1, 2020-03).")
@click.option("--format", "output_format", type=click.Choice(["json", "table"]), default="table", show_default=True)
def coverage_command(radius_m: float | None, online_only: bool, period: str | None, output_format: str) -> None:
    """Per station: cameras per km², share of area within the radius, patrol track length outside it."""
    from gridsvc.cameras.coverage import camera_coverage
    from gridsvc.periods import parse_period

    try:
        parsed = parse_period(period, tz=current_app.config["DISPLAY_TIMEZONE"]) if period else None
        with session_scope(_sessions()) as session:
            result = camera_coverage(session, radius_m=radius_m or current_app.config["CAMERA_COVERAGE_RADIUS_M"],
                                     only_online=online_only, period=parsed)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    if output_format == "json":
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return

    def shown(value, digits=2):
        return "-" if value is None else f"{value:.{digits}f}"

    click.echo(f"radius {result['radius_m']:g} m{', online cameras only' if online_only else ''}"
               f"{', tracks of ' + result['period'] if result['period'] else ''}")
    click.echo(f"{'station':<14} {'km²':>9} {'cameras':>8} {'per km²':>8} {'covered m²':>12} {'covered %':>10} "
               f"{'track m':>10} {'outside m':>10} {'outside %':>10}")
    for row in [*result["by_station"], {"station_code": "overall", **result["overall"]}]:
        click.echo(f"{row['station_code']:<14} {row['area_km2']:>9.4f} {row['cameras']:>8} "
                   f"{shown(row['cameras_per_km2']):>8} {row['covered_m2']:>12.1f} {shown(row['covered_percent']):>10} "
                   f"{row['track_m']:>10.1f} {row['track_outside_m']:>10.1f} {shown(row['track_outside_percent']):>10}")
