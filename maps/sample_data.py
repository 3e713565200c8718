"""Deterministic synthetic GeoJSON shaped like gridsvc's API output, for tests, demos and benchmarks.

The geometry is illustrative (no public boundary of the zone exists): a rectangle near
117.30 E, 23.88 N split into 15 station rectangles.
"""

from __future__ import annotations

import random
from typing import Any

CENTRE_WEST, CENTRE_EAST = 117.22, 117.38
CENTRE_SOUTH, CENTRE_NORTH = 23.82, 23.94
STATION_COLUMNS, STATION_ROWS = 5, 3
CENTRE_CODE = "3506000001"
SAMPLE_REGION_CENTRE = "35060000"  # 8-digit GB/T 28181 centre part; synthetic

# Chosen to hit every completion class edge: below 60, exactly 60, exactly 100, the report's
# 182.09 and 194.37, and a station with no quota yet (None).
_STATION_PERCENTS = [
    "45.50", "60.00", "79.99", "80.00", "99.99", "100.00", "120.25", "149.99",
    "150.00", "182.09", "194.37", "0.00", None, "101.10", "88.88",
]


def _rectangle(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "MultiPolygon", "coordinates": [[ring]]}


def _station_bounds(row: int, column: int) -> tuple[float, float, float, float]:
    width = (CENTRE_EAST - CENTRE_WEST) / STATION_COLUMNS
    height = (CENTRE_NORTH - CENTRE_SOUTH) / STATION_ROWS
    west = CENTRE_WEST + column * width
    south = CENTRE_SOUTH + row * height
    return west, south, west + width, south + height


def station_code(index: int) -> str:
    """Code of station number index (0-based): the centre's code plus a 3-digit sequence."""
    return f"{CENTRE_CODE}{index + 1:03d}"


def sample_grids(*, station_name: str = "第{n}网格服务站") -> dict[str, Any]:
    """One centre and 15 stations covering it, with completion stats."""
    features = [{
        "type": "Feature",
        "geometry": _rectangle(CENTRE_WEST, CENTRE_SOUTH, CENTRE_EAST, CENTRE_NORTH),
        "properties": {
            "code": CENTRE_CODE, "name": "常山网格中心", "level": "centre", "parent_code": None,
            "volunteers": 647, "hours": "7068.88", "percent": "182.09", "camera_count": 252,
        },
    }]
    for index in range(STATION_ROWS * STATION_COLUMNS):
        row, column = divmod(index, STATION_COLUMNS)
        percent = _STATION_PERCENTS[index]
        features.append({
            "type": "Feature",
            "geometry": _rectangle(*_station_bounds(row, column)),
            "properties": {
                "code": station_code(index),
                "name": station_name.format(n=index + 1),
                "level": "station",
                "parent_code": CENTRE_CODE,
                "volunteers": 40 + index,
                "hours": f"{(40 + index) * 6 * float(percent or 0) / 100:.2f}",
                "percent": percent,
                "camera_count": 16 + index % 3,
            },
        })
    return {"type": "FeatureCollection", "features": features}


def sample_cameras(count: int, *, seed: int = 20201231) -> dict[str, Any]:
    """count cameras spread over the stations, mostly online and linked, some not."""
    rng = random.Random(seed)
    features = []
    for serial in range(1, count + 1):
        lon = rng.uniform(CENTRE_WEST, CENTRE_EAST)
        lat = rng.uniform(CENTRE_SOUTH, CENTRE_NORTH)
        column = min(int((lon - CENTRE_WEST) / (CENTRE_EAST - CENTRE_WEST) * STATION_COLUMNS), STATION_COLUMNS - 1)
        row = min(int((lat - CENTRE_SOUTH) / (CENTRE_NORTH - CENTRE_SOUTH) * STATION_ROWS), STATION_ROWS - 1)
        is_security = rng.random() < 0.6
        industry = "00" if is_security else "01"
        device_type = "131" if rng.random() < 0.5 else "132"
        network = "5"
        serial_text = f"{serial % 1_000_000:06d}"
        roll = rng.random()
        status = "online" if roll < 0.92 else ("offline" if roll < 0.97 else "fault")
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
            "properties": {
                "device_id": SAMPLE_REGION_CENTRE + industry + device_type + network + serial_text,
                "name": f"{'治安' if is_security else '网格'}探头{serial:06d}",
                "kind": "security" if is_security else "grid",
                "police_linked": rng.random() >= 0.03,
                "status": status,
                "station_code": station_code(row * STATION_COLUMNS + column),
                "id_parts": {
                    "centre": SAMPLE_REGION_CENTRE, "industry": industry, "type": device_type,
                    "network": network, "serial": serial_text,
                },
            },
        })
    return {"type": "FeatureCollection", "features": features}


def sample_tracks(count: int = 6, *, seed: int = 7) -> dict[str, Any]:
    """count patrol tracks (alternating group and individual) of 30-60 points each."""
    rng = random.Random(seed)
    features = []
    for index in range(count):
        lon = rng.uniform(CENTRE_WEST + 0.02, CENTRE_EAST - 0.02)
        lat = rng.uniform(CENTRE_SOUTH + 0.02, CENTRE_NORTH - 0.02)
        points = []
        for _ in range(rng.randint(30, 60)):
            lon += rng.uniform(-0.0015, 0.0015)
            lat += rng.uniform(-0.0015, 0.0015)
            points.append([round(lon, 7), round(lat, 7)])
        features.append({
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": points},
            "properties": {
                "kind": "group" if index % 2 == 0 else "individual",
                "patroller": f"巡逻员{index + 1:02d}",
                "start": f"2020-06-{index + 1:02d}T19:00:00+08:00",
                "end": f"2020-06-{index + 1:02d}T21:30:00+08:00",
                "hours": "2.50",
            },
        })
    return {"type": "FeatureCollection", "features": features}


def sample_effort(cell_degrees: float = 0.02, *, seed: int = 3) -> dict[str, Any]:
    """Square effort cells over the centre with patrol hours."""
    rng = random.Random(seed)
    features = []
    lat = CENTRE_SOUTH
    while lat < CENTRE_NORTH - 1e-9:
        lon = CENTRE_WEST
        while lon < CENTRE_EAST - 1e-9:
            ring = [[lon, lat], [lon + cell_degrees, lat], [lon + cell_degrees, lat + cell_degrees],
                    [lon, lat + cell_degrees], [lon, lat]]
            features.append({
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[[round(x, 7), round(y, 7)] for x, y in ring]]},
                "properties": {"hours": f"{rng.uniform(0, 120):.2f}"},
            })
            lon += cell_degrees
        lat += cell_degrees
    return {"type": "FeatureCollection", "features": features}
