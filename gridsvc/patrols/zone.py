"""The zone and its grids in memory, loaded once per request or import for the track checks. No Flask.

Everything verification reads is computed here once, when the zone is loaded: the outline, its
bounding box, and the grids by id and by level.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridsvc.geo.shapes import from_db
from gridsvc.grids.models import Grid


@dataclass(frozen=True)
class GridArea:
    """One grid's polygon."""

    id: int
    code: str
    level: str
    geometry: shapely.Geometry


@dataclass
class Zone:
    """The zone's grids, its outline (the centre, else the union of the stations) and their indexes."""

    grids: list[GridArea]
    outline: shapely.Geometry | None = None
    by_id: dict[int, GridArea] = field(init=False)
    # Level -> grid id -> polygon, in code order (time_in_areas gives shared edges to the first).
    by_level: dict[str, dict[int, shapely.Geometry]] = field(init=False)
    # (min_lon, min_lat, max_lon, max_lat) of the outline, for the swapped-coordinates test.
    bbox: tuple[float, float, float, float] | None = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {grid.id: grid for grid in self.grids}
        self.by_level = {}
        for grid in sorted(self.grids, key=lambda g: (g.level, g.code)):
            self.by_level.setdefault(grid.level, {})[grid.id] = grid.geometry
        if self.outline is None:
            centres = [g.geometry for g in self.grids if g.level == "centre"]
            stations = [g.geometry for g in self.grids if g.level == "station"]
            parts = centres or stations
            self.outline = shapely.union_all(parts) if parts else None
        if self.outline is not None:
            shapely.prepare(self.outline)
        self.bbox = None if self.outline is None else tuple(self.outline.bounds)


def load_zone(session: Session) -> Zone:
    """Every grid's polygon in memory (load once per request or import)."""
    rows = session.execute(sa.select(Grid.id, Grid.code, Grid.level, Grid.geom)).all()
    return Zone([GridArea(id=row.id, code=row.code, level=row.level, geometry=from_db(row.geom)) for row in rows])
