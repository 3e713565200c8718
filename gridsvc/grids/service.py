"""Grid writes with their checks, point-in-station lookup and the coverage check."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import Point
from shapely.ops import unary_union
from sqlalchemy.orm import Session

from gridsvc.apidoc import COUNT, NUMBER, STRING, array, obj, ref
from gridsvc.db import spatial_candidates
from gridsvc.errors import ConflictError, NotFoundError, ValidationError
from gridsvc.geo.shapes import from_db, geodesic_area_m2, interiors_overlap, parse_multipolygon, to_db
from gridsvc.grids.models import CHILD_LEVEL, LEVELS, Grid

# Shared edges computed in floating point can leave slivers of a few cm²; ignore below this.
SLIVER_M2 = 1.0
NAME_MAX = 200  # the column's length: PostgreSQL refuses a longer name
CODE_MAX = 32


def grid_not_found(code) -> NotFoundError:
    """The answer for a grid that is not there (or not the caller's to see)."""
    return NotFoundError("grid_not_found", "No grid has the code %(code)s", code=str(code)[:64].replace("\x00", ""))


def get_grid(session: Session, *, code: str) -> Grid:
    """The grid with this code, or NotFoundError."""
    if not isinstance(code, str) or "\x00" in code or len(code) > CODE_MAX:  # PostgreSQL refuses NUL in text
        raise grid_not_found(code)
    grid = session.scalar(sa.select(Grid).where(Grid.code == code))
    if grid is None:
        raise grid_not_found(code)
    return grid


def list_grids(session: Session, *, level: str | None = None) -> list[Grid]:
    """All grids ordered by code, optionally of one level."""
    query = sa.select(Grid).order_by(Grid.code)
    if level and level not in LEVELS:
        return []  # matches no grid (and a NUL would be refused by PostgreSQL)
    if level:
        query = query.where(Grid.level == level)
    return list(session.scalars(query))


def _next_child_code(session: Session, parent: Grid | None, region_code: str, digits: int) -> str:
    prefix = parent.code if parent else region_code
    siblings = session.scalars(sa.select(Grid.code).where(Grid.parent_id == (parent.id if parent else None)))
    used = [int(code[len(prefix):]) for code in siblings if code.startswith(prefix) and code[len(prefix):].isascii() and code[len(prefix):].isdigit()]
    return prefix + str(max(used, default=0) + 1).zfill(digits)


def _check_code(code: str, parent: Grid | None, region_code: str, digits: int) -> None:
    prefix = parent.code if parent else region_code
    sequence = code[len(prefix):]
    if not (code.startswith(prefix) and len(sequence) == digits and sequence.isascii() and sequence.isdigit()
            and int(sequence) > 0):  # isdigit alone lets '²' through, which int() refuses
        raise ValidationError(
            "grid_code_format",
            "Grid code %(code)s must be %(prefix)s followed by a %(digits)s-digit sequence number",
            code=code,
            prefix=prefix,
            digits=digits,
        )


def create_grid(
    session: Session,
    *,
    name: str,
    level: str,
    geometry: dict,
    region_code: str,
    code_digits: int = 3,
    parent_code: str | None = None,
    code: str | None = None,
) -> Grid:
    """Create a grid after checking its code, polygon, containment in its parent and sibling overlap."""
    for field, value in (("name", name), ("level", level), ("parent_code", parent_code), ("code", code)):
        if value is not None and not isinstance(value, str):  # JSON numbers, lists, objects: a 422, not a 500
            raise ValidationError("field_not_text", "%(field)s must be text", field=field)
    name = (name or "").strip()
    if not name:
        raise ValidationError("grid_name_required", "A grid needs a name")
    if len(name) > NAME_MAX:
        raise ValidationError("grid_name_length", "A grid name has at most %(max)s characters", max=NAME_MAX)
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise ValidationError("grid_name_characters", "A grid name cannot contain control characters")
    if level not in LEVELS:
        raise ValidationError("grid_level", "Level must be one of centre, station, cell; got %(level)s", level=level)
    parent = get_grid(session, code=parent_code) if parent_code else None
    if level == "centre" and parent is not None:
        raise ValidationError("centre_has_parent", "A grid centre has no parent")
    if level != "centre":
        if parent is None:
            raise ValidationError("grid_parent_required", "A %(level)s needs a parent grid", level=level)
        if CHILD_LEVEL.get(parent.level) != level:
            raise ValidationError(
                "grid_parent_level", "A %(level)s cannot be placed under a %(parent_level)s",
                level=level, parent_level=parent.level,
            )
    polygon = parse_multipolygon(geometry)
    if code is None:
        code = _next_child_code(session, parent, region_code, code_digits)
    else:
        _check_code(code, parent, region_code, code_digits)
    if session.scalar(sa.select(Grid.id).where(Grid.code == code)) is not None:
        raise ConflictError("grid_code_taken", "Grid code %(code)s is already used", code=code)
    siblings = session.scalars(sa.select(Grid).where(Grid.parent_id == (parent.id if parent else None)))
    for sibling in siblings:
        if sibling.name == name:
            raise ConflictError("grid_name_taken", "Another grid under the same parent is named %(name)s", name=name)
        if interiors_overlap(polygon, from_db(sibling.geom)):
            raise ValidationError(
                "grid_overlap", "The polygon overlaps grid %(other)s (%(other_name)s)",
                other=sibling.code, other_name=sibling.name,
            )
    if parent is not None:
        outside = polygon.difference(from_db(parent.geom))
        if geodesic_area_m2(outside) > SLIVER_M2:
            raise ValidationError(
                "grid_outside_parent",
                "The polygon extends %(area).0f m² outside its parent %(parent)s",
                area=geodesic_area_m2(outside), parent=parent.code,
            )
    grid = Grid(code=code, name=name, level=level, parent=parent, geom=to_db(polygon))
    session.add(grid)
    session.flush()
    return grid


def delete_grid(session: Session, *, code: str) -> None:
    """Delete a grid that has no children."""
    grid = get_grid(session, code=code)
    if session.scalar(sa.select(sa.func.count()).where(Grid.parent_id == grid.id)):
        raise ConflictError("grid_has_children", "Grid %(code)s has child grids and cannot be deleted", code=code)
    session.delete(grid)
    session.flush()


def station_at(session: Session, *, lon: float, lat: float) -> Grid | None:
    """The station whose polygon contains the point, found through the spatial index."""
    frame = Point(lon, lat).wkt
    query = (
        sa.select(Grid)
        .where(Grid.level == "station")
        .where(spatial_candidates(session, "grids", "geom", Grid.id, frame))
        .where(sa.func.ST_Intersects(Grid.geom, sa.func.ST_GeomFromText(frame, 4326)))
        .order_by(Grid.code)
        .limit(1)
    )
    return session.scalar(query)


_OVERLAP = obj({"a": {**STRING, "description": "one station's code"}, "b": {**STRING, "description": "the other's"},
                "area_m2": {**NUMBER, "description": "their common area, m² to 0.1"}}, required=["a", "b", "area_m2"])
COVERAGE = obj({
    "centre_code": STRING,
    "stations": {**COUNT, "description": "the centre's stations"},
    "centre_area_m2": {**NUMBER, "description": "geodesic area, m² to 0.1"},
    "uncovered_m2": {**NUMBER, "description": "area in no station, m² to 0.1 (slivers of 1 m² or less: 0)"},
    "covered_percent": {"type": "string", "pattern": r"^-?\d+\.\d\d$", "description": "rounded half-up to the cent"},
    "overlaps": array(_OVERLAP, description="pairs of stations whose interiors overlap by more than 1 m²"),
}, required=["centre_code", "stations", "centre_area_m2", "uncovered_m2", "covered_percent", "overlaps"])


def coverage(session: Session, *, centre_code: str) -> dict:
    """How much of the centre no station covers, and which stations overlap, in m² and %."""
    centre = get_grid(session, code=centre_code)
    stations = list(session.scalars(sa.select(Grid).where(Grid.parent_id == centre.id).order_by(Grid.code)))
    centre_shape = from_db(centre.geom)
    shapes = [(s.code, from_db(s.geom)) for s in stations]
    centre_area = geodesic_area_m2(centre_shape)
    uncovered = centre_shape.difference(unary_union([s for _, s in shapes])) if shapes else centre_shape
    uncovered_m2 = geodesic_area_m2(uncovered)
    if uncovered_m2 <= SLIVER_M2:
        uncovered_m2 = 0.0
    overlaps = []
    for i, (code_a, shape_a) in enumerate(shapes):
        for code_b, shape_b in shapes[i + 1:]:
            if interiors_overlap(shape_a, shape_b):
                area = geodesic_area_m2(shape_a.intersection(shape_b))
                if area > SLIVER_M2:
                    overlaps.append({"a": code_a, "b": code_b, "area_m2": round(area, 1)})
    covered_percent = Decimal(100) if centre_area == 0 else Decimal(str(100 * (1 - uncovered_m2 / centre_area)))
    return {
        "centre_code": centre.code,
        "stations": len(stations),
        "centre_area_m2": round(centre_area, 1),
        "uncovered_m2": round(uncovered_m2, 1),
        "covered_percent": str(covered_percent.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
        "overlaps": overlaps,
    }


GRID_FEATURE = obj({
    "type": {"const": "Feature"},
    "id": {**STRING, "description": "the grid's code"},
    "properties": obj({"code": STRING, "name": STRING, "level": {"type": "string", "enum": list(LEVELS)},
                       "parent_code": {"type": ["string", "null"], "description": "null for a centre"}},
                      required=["code", "name", "level", "parent_code"]),
    "geometry": ref("PolygonGeometry"),
}, required=["type", "id", "properties", "geometry"])
GRID_COLLECTION = obj({"type": {"const": "FeatureCollection"}, "features": array(GRID_FEATURE)},
                      required=["type", "features"], description="RFC 7946, WGS-84, positions to 7 decimals")


def grids_geojson(session: Session, *, level: str | None = None) -> dict:
    """All grids as an RFC 7946 FeatureCollection."""
    grids = list_grids(session, level=level)
    code_of_id = dict(session.execute(sa.select(Grid.id, Grid.code)).all())
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": grid.code,
                "properties": {
                    "code": grid.code,
                    "name": grid.name,
                    "level": grid.level,
                    "parent_code": code_of_id.get(grid.parent_id),
                },
                "geometry": _rounded(from_db(grid.geom).__geo_interface__),
            }
            for grid in grids
        ],
    }


def _rounded(geometry: dict) -> dict:
    """RFC 7946 §11.2: about 7 decimals (1 cm) is all the precision a position needs."""
    def walk(value):
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        return round(value, 7)

    return {"type": geometry["type"], "coordinates": walk(geometry["coordinates"])}


def _station_polygons(session: Session) -> tuple[list[str], np.ndarray]:
    """Every station's code and prepared polygon, in the database's code order (station_at's ORDER BY)."""
    rows = session.execute(
        sa.select(Grid.code, sa.func.ST_AsBinary(Grid.geom)).where(Grid.level == "station").order_by(Grid.code)
    ).all()
    polygons = shapely.from_wkb([bytes(wkb) for _, wkb in rows]) if rows else np.empty(0, dtype=object)
    shapely.prepare(polygons)
    return [code for code, _ in rows], polygons


def _coordinates(points: list) -> np.ndarray:
    """The points as an (n, 2) float array; a TypeError/ValueError for a value float() refuses, as before."""
    coords = np.asarray(points, dtype=float) if points else np.empty((0, 2))
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError("each point must be a (lon, lat) pair")
    for row in np.flatnonzero(np.isnan(coords).any(axis=1)):  # numpy reads None as NaN; float() refuses it
        float(points[row][0]), float(points[row][1])
    return coords


def assign_points(session: Session, *, points) -> list[str | None]:
    """The station code containing each (lon, lat), in input order (None outside every station).

    The stations are read once and the exact test runs in process on their prepared polygons
    (bench/RESULTS.md, item 3: per-candidate ST_Intersects in SQL was the cost on both backends).
    Candidates come from the points sorted by longitude: each station takes the slice within its
    bounding box, so no shapely Point is built per input. Same answer as station_at: ST_Intersects
    semantics (a point on a boundary is in), the lowest code on a shared edge; None for
    non-finite points.
    """
    points = list(points)
    coords = _coordinates(points)
    codes, polygons = _station_polygons(session)
    by_lon = np.argsort(coords[:, 0])  # NaN sorts last, outside every slice
    lons, lats = coords[by_lon, 0], coords[by_lon, 1]
    outside = len(codes)
    best = np.full(len(points), outside)
    for row, (polygon, (west, south, east, north)) in enumerate(zip(polygons, shapely.bounds(polygons))):
        start, stop = np.searchsorted(lons, west, side="left"), np.searchsorted(lons, east, side="right")
        in_box = start + np.flatnonzero((lats[start:stop] >= south) & (lats[start:stop] <= north))
        inside = by_lon[in_box[shapely.intersects_xy(polygon, lons[in_box], lats[in_box])]]
        inside = inside[best[inside] == outside]  # rows go in code order: the lowest code keeps a shared edge
        best[inside] = row
    return np.array([*codes, None], dtype=object)[best].tolist()
