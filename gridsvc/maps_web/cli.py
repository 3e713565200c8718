"""`flask --app gridsvc export-map`: a standalone map that opens from the file system, offline."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from gridsvc.db import session_scope


@click.command("export-map")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("maps/overview.html"),
              show_default=True, help="HTML file to write.")
@click.option("--period", default=None, help="2020, 2020-Q1 or 2020-03 (default: DEFAULT_PERIOD).")
@click.option("--kind", type=click.Choice(["group", "individual"]), default="group", show_default=True)
@click.option("--station", default=None, help="Only this station's tracks (code).")
@click.option("--language", type=click.Choice(["zh", "en"]), default=None, help="Map labels (default: the UI default).")
@with_appcontext
def export_map(out_path: Path, period, kind, station, language) -> None:
    """Write the overview map as one self-contained HTML file (all JS/CSS inlined, no server, no Internet)."""
    from gridsvc.maps_web.views import overview_map_html
    from gridsvc.periods import parse_period

    parsed = parse_period(period or current_app.config["DEFAULT_PERIOD"], tz=current_app.config["DISPLAY_TIMEZONE"])
    with session_scope(current_app.extensions["gridsvc"].sessions) as session:
        html = overview_map_html(session, period=parsed, kind=kind, station=station, inline=True,
                                 language=language or current_app.config["BABEL_DEFAULT_LOCALE"])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(html, encoding="utf-8")
    click.echo(f"wrote {out_path} ({len(html.encode()):,} bytes)")
