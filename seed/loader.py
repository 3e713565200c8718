"""Load seed/data into the database through the services; re-running adds nothing twice."""
from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridsvc.audit.context import runs_as
from gridsvc.cameras.models import Camera
from gridsvc.cameras.service import create_camera
from gridsvc.grids.models import Grid
from gridsvc.grids.service import create_grid
from gridsvc.patrols.models import PatrolTask
from gridsvc.patrols.service import NewPatrol, create_task, log_patrol
from gridsvc.people.models import Patroller
from gridsvc.people.service import create_patroller

DATA_DIR = Path(__file__).resolve().parent / "data"


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@runs_as("seed")
def load_seed(
    session: Session,
    *,
    region_code: str,
    data_dir: Path = DATA_DIR,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Load grids, people, cameras, tasks and 2020 patrols; returns counts of what was added."""
    report = progress or (lambda stage, done, total: None)
    added = {"grids": 0, "volunteers": 0, "grid_workers": 0, "cameras": 0, "tasks": 0, "patrols": 0}

    # Grids: the file may be replaced by a surveyed one; stations refer to the centre by key.
    collection = json.loads((data_dir / "grids.geojson").read_text(encoding="utf-8"))
    code_of_key: dict[str, str] = {}
    for feature in sorted(collection["features"], key=lambda f: ("centre", "station", "cell").index(f["properties"]["level"])):
        props = feature["properties"]
        parent_code = code_of_key.get(props.get("parent")) if props.get("parent") else None
        parent_id = session.scalar(sa.select(Grid.id).where(Grid.code == parent_code)) if parent_code else None
        existing = session.scalar(sa.select(Grid).where(Grid.parent_id == parent_id, Grid.name == props["name"]))
        if existing is None:
            existing = create_grid(
                session, name=props["name"], level=props["level"], geometry=feature["geometry"],
                region_code=region_code, parent_code=parent_code, code=props.get("code") or None,
            )
            added["grids"] += 1
        code_of_key[props["key"]] = existing.code
    report("grids", len(collection["features"]), len(collection["features"]))

    known_accounts = set(session.scalars(sa.select(Patroller.app_account_id).where(Patroller.app_account_id.isnot(None))))
    volunteers = _rows(data_dir / "volunteers.csv")
    for n, row in enumerate(volunteers, start=1):
        if row["app_account_id"] not in known_accounts:
            create_patroller(
                session, role="volunteer", name=row["name"], station_code=code_of_key[row["station"]],
                app_account_id=row["app_account_id"], active_from=dt.date.fromisoformat(row["active_from"]),
                active_to=dt.date.fromisoformat(row["active_to"]) if row["active_to"] else None,
            )
            added["volunteers"] += 1
        report("volunteers", n, len(volunteers))

    known_workers = set(session.execute(
        sa.select(Patroller.name, Patroller.station_id).where(Patroller.role == "grid_worker")
    ).all())
    station_id_of_key = {key: session.scalar(sa.select(Grid.id).where(Grid.code == code)) for key, code in code_of_key.items()}
    for row in _rows(data_dir / "grid_workers.csv"):
        if (row["name"], station_id_of_key[row["station"]]) not in known_workers:
            create_patroller(session, role="grid_worker", name=row["name"], station_code=code_of_key[row["station"]],
                             active_from=dt.date.fromisoformat(row["active_from"]))
            added["grid_workers"] += 1

    known_devices = set(session.scalars(sa.select(Camera.device_id)))
    cameras = _rows(data_dir / "cameras.csv")
    for n, row in enumerate(cameras, start=1):
        device_id = row["device_id"].replace("{region}", region_code)
        if device_id not in known_devices:
            create_camera(
                session, device_id=device_id, name=row["name"], kind=row["kind"], lon=float(row["lon"]),
                lat=float(row["lat"]), police_linked=row["police_linked"] == "1", status=row["status"],
            )
            added["cameras"] += 1
        report("cameras", n, len(cameras))

    task_id_of_key = {}
    existing_tasks = {(t.station_id, t.title, t.starts_at): t.id for t in session.scalars(sa.select(PatrolTask))}
    for row in _rows(data_dir / "tasks.csv"):
        station_id = station_id_of_key[row["station"]]
        starts_at = dt.datetime.fromisoformat(row["starts_at"])
        task_id = existing_tasks.get((station_id, row["title"], starts_at.astimezone(dt.timezone.utc)))
        if task_id is None:
            task_id = create_task(session, title=row["title"], station_id=station_id, starts_at=starts_at,
                                  ends_at=dt.datetime.fromisoformat(row["ends_at"]), headcount=int(row["headcount"])).id
            added["tasks"] += 1
        task_id_of_key[row["key"]] = task_id

    patroller_id_of_account = dict(session.execute(
        sa.select(Patroller.app_account_id, Patroller.id).where(Patroller.app_account_id.isnot(None))
    ).all())
    patrols = _rows(data_dir / "patrols-2020.csv")
    for n, row in enumerate(patrols, start=1):
        _patrol, created = log_patrol(session, source="import", patrol=NewPatrol(
            client_uuid=row["client_uuid"], kind=row["kind"],
            patroller_id=patroller_id_of_account[row["app_account_id"]],
            started_at=dt.datetime.fromisoformat(row["started_at"]),
            ended_at=dt.datetime.fromisoformat(row["ended_at"]),
            task_id=task_id_of_key.get(row["task"]) if row["task"] else None,
        ))
        added["patrols"] += created
        if n % 250 == 0 or n == len(patrols):
            report("patrols", n, len(patrols))
    return added


@runs_as("seed:demo")
def load_demo_accounts(session: Session, *, password: str) -> list[str]:
    """The demo accounts, one per role (only when the demo is asked for); returns their usernames."""
    from gridsvc.auth.service import seed_demo_users

    return seed_demo_users(session, password=password)
