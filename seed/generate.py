"""Regenerate seed/data from the 2020 report's figures (deterministic; run once, commit the output).

The report gives counts and totals only; the geometry, names and the split of hours over
volunteers and dates are illustrative and can be replaced by real files of the same format.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import random
import uuid
from pathlib import Path

from shapely.geometry import Point, Polygon

DATA = Path(__file__).resolve().parent / "data"
SEED_NAMESPACE = uuid.UUID("7d9c3a52-2f64-4c1e-9d0b-20200000c0de")
SHANGHAI = dt.timezone(dt.timedelta(hours=8))

# Section 六.2 of the 2020 report.
VOLUNTEERS = 647
CAMERAS = 252
STATIONS = 15
GROUP_SECONDS = 25_447_968  # 7068.88 h
INDIVIDUAL_SECONDS = 27_163_224  # 7545.34 h

COLUMNS, ROWS = 5, 3
WEST, EAST, SOUTH, NORTH = 117.24, 117.36, 23.84, 23.92


def _mesh(rng: random.Random) -> list[list[tuple[float, float]]]:
    """Nodes of a perturbed (COLUMNS+1) x (ROWS+1) mesh; boundary nodes move only along the boundary."""
    dx, dy = (EAST - WEST) / COLUMNS, (NORTH - SOUTH) / ROWS
    nodes = []
    for j in range(ROWS + 1):
        row = []
        for i in range(COLUMNS + 1):
            x, y = WEST + i * dx, SOUTH + j * dy
            on_x_edge, on_y_edge = i in (0, COLUMNS), j in (0, ROWS)
            if not on_x_edge:
                x += rng.uniform(-0.2, 0.2) * dx
            if not on_y_edge:
                y += rng.uniform(-0.2, 0.2) * dy
            row.append((round(x, 6), round(y, 6)))
        nodes.append(row)
    return nodes


def _stations(nodes) -> list[Polygon]:
    cells = []
    for j in range(ROWS):
        for i in range(COLUMNS):
            ring = [nodes[j][i], nodes[j][i + 1], nodes[j + 1][i + 1], nodes[j + 1][i]]
            cells.append(Polygon(ring))
    return cells


def _centre(nodes) -> Polygon:
    ring = [nodes[0][i] for i in range(COLUMNS + 1)]
    ring += [nodes[j][COLUMNS] for j in range(1, ROWS + 1)]
    ring += [nodes[ROWS][i] for i in range(COLUMNS - 1, -1, -1)]
    ring += [nodes[j][0] for j in range(ROWS - 1, 0, -1)]
    return Polygon(ring)


def _point_inside(rng: random.Random, polygon: Polygon, margin: float = 0.002) -> tuple[float, float]:
    inner = polygon.buffer(-margin)
    min_x, min_y, max_x, max_y = inner.bounds
    while True:
        point = Point(round(rng.uniform(min_x, max_x), 6), round(rng.uniform(min_y, max_y), 6))
        if inner.contains(point):
            return point.x, point.y


def _split_exactly(rng: random.Random, total: int, low: int, high: int) -> list[int]:
    """Random durations in [low, high] seconds whose sum is exactly total."""
    parts = []
    remaining = total
    while remaining > high + low:
        part = rng.randint(low, high)
        parts.append(part)
        remaining -= part
    # remaining is now in (0, high + low]: finish with one or two parts inside the bounds.
    if remaining <= high:
        parts.append(remaining) if remaining >= low else parts.__setitem__(-1, parts[-1] + remaining)
    else:
        parts += [remaining - low, low]
    assert sum(parts) == total and all(0 < p <= high + low for p in parts)
    return parts


def generate() -> None:
    """Write grids.geojson, volunteers.csv, grid_workers.csv, cameras.csv, tasks.csv and patrols-2020.csv."""
    rng = random.Random(2020)
    DATA.mkdir(parents=True, exist_ok=True)
    nodes = _mesh(rng)
    stations = _stations(nodes)
    centre = _centre(nodes)

    features = [{
        "type": "Feature",
        "properties": {"code": None, "name": "常山开发区网格中心", "level": "centre", "parent": None, "key": "centre"},
        "geometry": {"type": "Polygon", "coordinates": [list(map(list, centre.exterior.coords))]},
    }]
    for n, polygon in enumerate(stations, start=1):
        features.append({
            "type": "Feature",
            "properties": {"name": f"第{n:02d}社区(村)网格服务站", "level": "station", "parent": "centre", "key": f"S{n:02d}"},
            "geometry": {"type": "Polygon", "coordinates": [list(map(list, polygon.exterior.coords))]},
        })
    (DATA / "grids.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False, indent=1), encoding="utf-8"
    )

    # Volunteers spread over the stations (uneven, as villages differ in size).
    weights = [rng.uniform(0.6, 1.4) for _ in stations]
    station_of = [rng.choices(range(STATIONS), weights)[0] for _ in range(VOLUNTEERS)]
    for s in range(STATIONS):  # every station has volunteers
        if s not in station_of:
            station_of[s] = s
    volunteers = []
    for n in range(VOLUNTEERS):
        volunteers.append({
            "app_account_id": f"XLXQ{n + 1:06d}",
            "name": f"平安志愿者{n + 1:03d}",
            "station": f"S{station_of[n] + 1:02d}",
            "active_from": "2019-06-01",
            "active_to": "",
        })
    _write_csv("volunteers.csv", volunteers)
    _write_csv("grid_workers.csv", [
        {"name": f"专职网格员{s + 1:02d}", "station": f"S{s + 1:02d}", "active_from": "2019-01-01"} for s in range(STATIONS)
    ])

    cameras = []
    for n in range(CAMERAS):
        s = n % STATIONS
        lon, lat = _point_inside(rng, stations[s])
        kind = "security" if n % 9 < 5 else "grid"
        industry = "00" if kind == "security" else "01"
        device_id = f"{{region}}{s + 1:02d}{industry}1325{n + 1:06d}"
        cameras.append({
            "device_id": device_id, "name": f"{'治安' if kind == 'security' else '网格'}监控{n + 1:03d}",
            "kind": kind, "police_linked": "1", "status": "online", "lon": lon, "lat": lat,
        })
    _write_csv("cameras.csv", cameras)

    # Group-patrol tasks: every station, every Saturday evening of 2020, 19:00-23:00 Shanghai.
    saturdays = [dt.date(2020, 1, 4) + dt.timedelta(weeks=w) for w in range(52)]
    tasks = []
    for s in range(STATIONS):
        for w, day in enumerate(saturdays):
            tasks.append({
                "key": f"S{s + 1:02d}-W{w + 1:02d}", "station": f"S{s + 1:02d}", "title": f"第{w + 1}周群防巡逻",
                "starts_at": dt.datetime.combine(day, dt.time(19), SHANGHAI).isoformat(),
                "ends_at": dt.datetime.combine(day, dt.time(23), SHANGHAI).isoformat(), "headcount": 30,
            })
    _write_csv("tasks.csv", tasks)

    patrols = []
    by_station = [[v for v in volunteers if v["station"] == f"S{s + 1:02d}"] for s in range(STATIONS)]
    used_weeks: dict[str, set[int]] = {v["app_account_id"]: set() for v in volunteers}
    for n, seconds in enumerate(_split_exactly(rng, GROUP_SECONDS, 3600, 4 * 3600)):
        volunteer = volunteers[rng.randrange(VOLUNTEERS)]
        weeks = used_weeks[volunteer["app_account_id"]]
        week = rng.choice([w for w in range(52) if w not in weeks])
        weeks.add(week)
        start = dt.datetime.combine(saturdays[week], dt.time(19), SHANGHAI) + dt.timedelta(
            seconds=rng.randint(0, 4 * 3600 - seconds) // 60 * 60 if seconds < 4 * 3600 else 0
        )
        patrols.append(_patrol("group", n, volunteer, start, seconds, f"{volunteer['station']}-W{week + 1:02d}"))
    used_days: dict[str, set[int]] = {v["app_account_id"]: set() for v in volunteers}
    for n, seconds in enumerate(_split_exactly(rng, INDIVIDUAL_SECONDS, 1800, 4 * 3600)):
        volunteer = volunteers[rng.randrange(VOLUNTEERS)]
        days = used_days[volunteer["app_account_id"]]
        day = rng.choice([d for d in range(366) if d not in days and dt.date(2020, 1, 1).toordinal() + d not in
                          {s.toordinal() for s in saturdays}])
        days.add(day)
        start = dt.datetime.combine(dt.date(2020, 1, 1) + dt.timedelta(days=day), dt.time(7), SHANGHAI) + dt.timedelta(
            minutes=rng.randint(0, 8 * 60)
        )
        patrols.append(_patrol("individual", n, volunteer, start, seconds, ""))
    _write_csv("patrols-2020.csv", patrols)
    del by_station


def _patrol(kind: str, n: int, volunteer: dict, start: dt.datetime, seconds: int, task: str) -> dict:
    return {
        "client_uuid": str(uuid.uuid5(SEED_NAMESPACE, f"2020-{kind}-{n}")),
        "kind": kind,
        "app_account_id": volunteer["app_account_id"],
        "started_at": start.isoformat(),
        "ended_at": (start + dt.timedelta(seconds=seconds)).isoformat(),
        "task": task,
    }


def _write_csv(name: str, rows: list[dict]) -> None:
    with open(DATA / name, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    generate()
