"""assign_points: set-based point-to-station assignment agrees with station_at on both backends."""
import random

import sqlalchemy as sa

from gridsvc.geo.shapes import from_db
from gridsvc.grids.models import Grid
from gridsvc.grids.service import assign_points, station_at


def _sample_points(session, count: int) -> list[tuple[float, float]]:
    centre = session.scalar(sa.select(Grid).where(Grid.level == "centre"))
    x0, y0, x1, y1 = from_db(centre.geom).bounds
    rng = random.Random(8)
    pad = (x1 - x0) * 0.05  # some points fall outside every station
    return [(rng.uniform(x0 - pad, x1 + pad), rng.uniform(y0 - pad, y1 + pad)) for _ in range(count)]


def test_assign_points_matches_station_at(session):
    points = _sample_points(session, 400)
    codes = assign_points(session, points=points)
    expected = [(grid.code if (grid := station_at(session, lon=lon, lat=lat)) else None) for lon, lat in points]
    assert codes == expected
    assert sum(code is not None for code in codes) > 300  # most land inside a station
    assert any(code is None for code in codes)


def test_assign_points_keeps_order_across_chunks(session, monkeypatch):
    import gridsvc.grids.service as service

    points = _sample_points(session, 50)
    whole = assign_points(session, points=points)
    monkeypatch.setattr(service, "ASSIGN_CHUNK", 7)
    assert assign_points(session, points=points) == whole
    assert assign_points(session, points=[]) == []
