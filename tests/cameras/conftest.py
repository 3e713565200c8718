"""Camera test helpers: the seed's camera rows, CSV/GeoJSON builders, and two square test stations."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
import sqlalchemy as sa

from gridsvc.cameras.models import Camera, CameraStatusChange

SEED_CAMERAS = Path(__file__).resolve().parents[2] / "seed" / "data" / "cameras.csv"
REGION = "350600"
COLUMNS = ("device_id", "name", "kind", "police_linked", "status", "lon", "lat")

# Two adjacent 0.01° squares away from the seeded zone, inside a test centre of their own:
# A = 118.000..118.010 E, B = 118.010..118.020 E, both 24.500..24.510 N.
A_WEST, A_EAST, B_EAST = 118.000, 118.010, 118.020
SOUTH, NORTH = 24.500, 24.510
MID_LAT = (SOUTH + NORTH) / 2


def seed_camera_rows() -> list[dict]:
    """The 252 seeded cameras as import rows (region code filled in)."""
    with SEED_CAMERAS.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["device_id"] = row["device_id"].replace("{region}", REGION)
    return rows


def csv_bytes(rows: list[dict], columns=COLUMNS) -> bytes:
    """Rows as a CSV file with a header line (so data row i is line i + 2)."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def geojson_document(rows: list[dict]) -> dict:
    """Rows as a GeoJSON FeatureCollection (feature i is row i + 1)."""
    features = []
    for row in rows:
        properties = {key: row[key] for key in ("device_id", "name", "kind", "status", "crs") if key in row}
        if "police_linked" in row:
            properties["police_linked"] = row["police_linked"] in ("1", 1, True, "true")
        features.append({"type": "Feature", "properties": properties,
                         "geometry": {"type": "Point", "coordinates": [_number(row["lon"]), _number(row["lat"])]}})
    return {"type": "FeatureCollection", "features": features}


def _number(text):
    try:
        return float(text)
    except ValueError:
        return text  # kept as it is: a bad coordinate the import must report


def counts(session) -> tuple[int, int]:
    """(cameras, history rows): what an import that writes nothing must leave as it was."""
    return (session.scalar(sa.select(sa.func.count()).select_from(Camera)),
            session.scalar(sa.select(sa.func.count()).select_from(CameraStatusChange)))


def metres_east(lon: float, lat: float, metres: float) -> float:
    """The longitude `metres` east of lon at lat (local prime-vertical radius of WGS-84)."""
    from gridsvc.cameras.coverage import _radii

    _, n = _radii(lat)
    return lon + math.degrees(metres / (n * math.cos(math.radians(lat))))


def _square(west, south, east, north) -> dict:
    return {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north],
                                                [west, south]]]}


@pytest.fixture
def test_stations(session):
    """A test centre with stations A and B (adjacent 0.01° squares); returns their codes and ids."""
    from gridsvc.grids.service import create_grid

    centre = create_grid(session, name="测试中心", level="centre", region_code=REGION,
                         geometry=_square(A_WEST, SOUTH, B_EAST + 0.01, NORTH + 0.01))
    a = create_grid(session, name="测试站A", level="station", region_code=REGION, parent_code=centre.code,
                    geometry=_square(A_WEST, SOUTH, A_EAST, NORTH))
    b = create_grid(session, name="测试站B", level="station", region_code=REGION, parent_code=centre.code,
                    geometry=_square(A_EAST, SOUTH, B_EAST, NORTH))
    return {"a": a, "b": b, "ids": {a.id, b.id}}
