"""`flask --app gridsvc report completion | targets ...`: the same figures and files as the API."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from gridsvc.db import session_scope
from gridsvc.errors import DomainError
from gridsvc.patrols.models import KINDS
from gridsvc.reports.schemas import BASES, GROUPINGS

report_group = AppGroup("report", help="Reports on stored data.")


def _sessions():
    return current_app.extensions["gridsvc"].sessions


def _parse_period(period, date_from, date_to):
    from gridsvc.periods import parse_period

    return parse_period(period or current_app.config["DEFAULT_PERIOD"], date_from=date_from, date_to=date_to,
                        tz=current_app.config["DISPLAY_TIMEZONE"])


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _text_table(report: dict, table: str, translate) -> list[str]:
    from gridsvc.reports import exports

    headers, rows = exports.table_values(report, table, translate)
    cells = [headers] + [[_cell(value) for value in row] for row in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    return ["  ".join(_pad(text, width) for text, width in zip(row, widths)).rstrip() for row in cells]


def _width(text: str) -> int:
    return sum(2 if ord(char) > 0x2E80 else 1 for char in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


@report_group.command("completion")
@click.option("--period", default=None, help="2020, 2020-Q1 or 2020-03 (default: DEFAULT_PERIOD).")
@click.option("--from", "date_from", default=None, help="First day, e.g. 2020-01-01 (with --to).")
@click.option("--to", "date_to", default=None, help="Last day, e.g. 2020-06-30 (with --from).")
@click.option("--station", default=None, help="Only this station's volunteers (station code).")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only this kind of patrol.")
@click.option("--basis", type=click.Choice(BASES), default="claimed", show_default=True,
              help="Figures of by_kind in JSON, and the ranking of volunteers.")
@click.option("--group-by", "group_by", type=click.Choice(GROUPINGS), default="station", show_default=True,
              help="The table for json, table and csv (xlsx has all four, geojson the stations).")
@click.option("--format", "output_format", type=click.Choice(["json", "table", "csv", "xlsx", "geojson"]),
              default="table", show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output (required for xlsx).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of headers in table, csv and xlsx.")
def report_completion(period, date_from, date_to, station, kind, basis, group_by, output_format, out_path,
                      lang) -> None:
    """Volunteer completion by kind, station, volunteer or month: JSON as the API, or the export files."""
    from flask_babel import force_locale, gettext

    from gridsvc.grids.service import grids_geojson
    from gridsvc.reports import exports, schemas
    from gridsvc.reports.service import completion

    if output_format == "xlsx" and out_path is None:
        raise click.UsageError("--format xlsx needs --out FILE")
    try:
        parsed = _parse_period(period, date_from, date_to)
        with session_scope(_sessions()) as session:
            report = completion(session, period=parsed, quota_hours_per_year=current_app.config["QUOTA_HOURS_PER_YEAR"],
                                basis=basis, station_code=station, kinds=[kind] if kind else None)
            stations = grids_geojson(session, level="station") if output_format == "geojson" else None
    except DomainError as error:
        raise click.ClickException(str(error)) from None

    with force_locale(lang):
        if output_format == "json":
            body = json.dumps(schemas.api_view(report, group_by=group_by), ensure_ascii=False, indent=2).encode("utf-8")
        elif output_format == "geojson":
            body = json.dumps(schemas.station_features(report, stations), ensure_ascii=False).encode("utf-8")
        elif output_format == "csv":
            body = exports.write_csv(report, table=group_by, translate=gettext)
        elif output_format == "xlsx":
            body = exports.write_xlsx(report, translate=gettext)
        else:
            lines = [
                f"period {report['period']} ({report['from']} .. {report['to']}), basis {report['basis']}"
                + (f", station {report['station']}" if report["station"] else ""),
                f"volunteers {report['volunteers']}, target {report['target_hours']:.2f} h"
                f" (quota {report['quota_hours']:.2f} h per volunteer per year where no target is set)",
            ]
            for each in report["kinds"]:
                figure, verified = report["claimed"][each], report["verified"][each]
                shown = "-" if figure["percent"] is None else f"{figure['percent']:.2f} %"
                checked = (f"verified {verified['hours']:.2f} h ({verified['sessions_verified']}/{figure['sessions']} patrols)"
                           if verified["sessions_verified"] or not figure["sessions"] else "not verified")
                lines.append(f"{each:<10} {figure['hours']:>12.2f} h  {shown:>10}   {checked}")
            if group_by != "kind":
                lines += [""] + _text_table(report, group_by, gettext)
            body = ("\n".join(lines) + "\n").encode("utf-8")
    if out_path is None:
        click.echo(body.decode("utf-8"), nl=False)
        if output_format in ("json", "geojson"):
            click.echo("")
    else:
        out_path.write_bytes(body)
        click.echo(f"wrote {out_path} ({len(body)} bytes)", err=True)


targets_group = AppGroup("targets", help="Completion targets: quota hours per volunteer for a period.")
report_group.add_command(targets_group)


@targets_group.command("list")
def targets_list() -> None:
    """Every stored target."""
    from gridsvc.reports.schemas import target_json
    from gridsvc.reports.targets import list_targets

    with session_scope(_sessions()) as session:
        rows = [target_json(target) for target in list_targets(session)]
    for row in rows:
        click.echo(f"{row['id']:>4}  {row['period']:<24} {row['from']} .. {row['to']}  "
                   f"{row['station_code'] or 'all stations':<14} {row['quota_hours']:>8.2f} h  {row['note'] or ''}")
    if not rows:
        click.echo(f"no targets: {current_app.config['QUOTA_HOURS_PER_YEAR']} h per volunteer per year, pro rata")


@targets_group.command("add")
@click.option("--period", default=None, help="2020, 2020-Q1 or 2020-03.")
@click.option("--from", "date_from", default=None, help="First day (with --to).")
@click.option("--to", "date_to", default=None, help="Last day (with --from).")
@click.option("--station", default=None, help="Station code; omit for every station.")
@click.option("--quota-hours", required=True, help="Hours each volunteer active the whole period owes.")
@click.option("--note", default=None)
def targets_add(period, date_from, date_to, station, quota_hours, note) -> None:
    """Set a target: quota hours per volunteer over the whole period."""
    from gridsvc.reports.schemas import target_json
    from gridsvc.reports.targets import create_target

    if not (period or date_from or date_to):
        raise click.UsageError("give --period or --from and --to")
    try:
        parsed = _parse_period(period, date_from, date_to)
        with session_scope(_sessions()) as session:
            row = target_json(create_target(session, period=parsed, quota_hours=quota_hours,
                                               station_code=station, note=note))
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(row, ensure_ascii=False))


@targets_group.command("delete")
@click.argument("target_id", type=int)
def targets_delete(target_id: int) -> None:
    """Remove a target by id."""
    from gridsvc.reports.targets import delete_target

    try:
        with session_scope(_sessions()) as session:
            delete_target(session, target_id=target_id)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"deleted target {target_id}")
