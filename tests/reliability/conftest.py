"""Shared helpers of the reliability tests: row counts, figures printed at the end of the run.

Each test records its figures with `record_figure(name, value)`; pytest prints them all in a
"reliability figures" section of the terminal summary and writes them to
instance/reliability-figures.json, so the issue's note can quote measured numbers.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

FIGURES: dict[str, object] = {}
FIGURES_FILE = Path(__file__).resolve().parents[2] / "instance" / "reliability-figures.json"


def long_run() -> bool:
    """True under `make reliability` (GRIDSVC_RELIABILITY=long): more examples, more kills."""
    return os.environ.get("GRIDSVC_RELIABILITY") == "long"


def scaled(short: int, long: int) -> int:
    """`short` in `make test`, `long` under `make reliability`."""
    return long if long_run() else short


def record_figure(name: str, value) -> None:
    """Remember a measured figure for the end-of-run summary."""
    FIGURES[name] = value


def table_row_counts(connection) -> dict[str, int]:
    """Rows in every gridsvc table (the models' metadata; SpatiaLite's own tables are left out)."""
    import gridsvc.models  # noqa: F401  (registers every model's table)
    from gridsvc.db import Base

    return {
        table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        for table in Base.metadata.sorted_tables
    }


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name}: {value}")
    try:
        FIGURES_FILE.parent.mkdir(parents=True, exist_ok=True)
        FIGURES_FILE.write_text(json.dumps(FIGURES, indent=2, ensure_ascii=False, default=str))
    except OSError:
        pass


def admin_account(session_factory) -> tuple[str, str]:
    """A new admin account and a bearer token of it, committed through `session_factory`: (username, token)."""
    import secrets

    from gridsvc.auth import service as auth_service
    from gridsvc.db import session_scope

    username = f"reliability-{secrets.token_hex(4)}"
    with session_scope(session_factory) as session:
        user = auth_service.create_user(session, username=username, password=secrets.token_urlsafe(24), role="admin")
        _token, secret = auth_service.issue_token(session, user=user, name="reliability tests")
    return username, secret


def admin_token(session_factory) -> str:
    """A bearer token of a new admin account, committed through `session_factory`."""
    return admin_account(session_factory)[1]


@pytest.fixture
def api_headers(app) -> dict:
    """Headers of an admin API client (a bearer token inside the test's rolled-back transaction)."""
    secret = admin_token(app.extensions["gridsvc"].sessions)
    return {"Authorization": f"Bearer {secret}"} if secret else {}


LIVE_VOLUNTEERS = 40  # test_concurrency gives each of up to 32 threads its own volunteer


def build_live_world(sessions) -> SimpleNamespace:
    """Commit the seed's grids, LIVE_VOLUNTEERS volunteers of the first station and an admin with a token.

    Returns token, admin_username, patroller_ids and point (lon, lat inside the first station).
    """
    import datetime as dt

    from shapely.geometry import shape

    from gridsvc.db import session_scope
    from gridsvc.grids.service import create_grid, list_grids
    from gridsvc.people.service import create_patroller
    from seed.loader import DATA_DIR

    collection = json.loads((DATA_DIR / "grids.geojson").read_text(encoding="utf-8"))
    levels = ("centre", "station", "cell")
    code_of_key: dict[str, str] = {}
    with session_scope(sessions) as session:
        for feature in sorted(collection["features"], key=lambda f: levels.index(f["properties"]["level"])):
            props = feature["properties"]
            grid = create_grid(session, name=props["name"], level=props["level"], geometry=feature["geometry"],
                               region_code="350600", parent_code=code_of_key.get(props.get("parent")),
                               code=props.get("code") or None)
            code_of_key[props["key"]] = grid.code
        station = list_grids(session, level="station")[0]
        point = shape(next(f["geometry"] for f in collection["features"]
                           if code_of_key[f["properties"]["key"]] == station.code)).representative_point()
        patroller_ids = [
            create_patroller(session, role="volunteer", name=f"可靠性测试{n}", station_code=station.code,
                             active_from=dt.date(2020, 1, 1), app_account_id=f"reliability-{n}").id
            for n in range(LIVE_VOLUNTEERS)
        ]
    username, token = admin_account(sessions)
    return SimpleNamespace(token=token, admin_username=username, patroller_ids=patroller_ids, point=(point.x, point.y))


@pytest.fixture
def live_database(empty_app):
    """A committed database for a real server: the seed's grids, LIVE_VOLUNTEERS volunteers, an admin token.

    Yields (database_url, token, [patroller ids], first station's centroid lon/lat).
    """
    world = build_live_world(empty_app.extensions["gridsvc"].sessions)
    yield empty_app.config["DATABASE_URL"], world.token, world.patroller_ids, world.point
