"""assign_points: bulk point-to-station assignment agrees with station_at on both backends."""
import math
import random
from fractions import Fraction

import pytest
import sqlalchemy as sa

from gridsvc.geo.shapes import from_db
from gridsvc.grids.models import Grid
from gridsvc.grids.service import assign_points, station_at


def _zone_bounds(session) -> tuple[float, float, float, float]:
    centre = session.scalar(sa.select(Grid).where(Grid.level == "centre"))
    return from_db(centre.geom).bounds


def _sample_points(session, count: int, seed: int = 8) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = _zone_bounds(session)
    rng = random.Random(seed)
    pad = (x1 - x0) * 0.05  # some points fall outside every station
    return [(rng.uniform(x0 - pad, x1 + pad), rng.uniform(y0 - pad, y1 + pad)) for _ in range(count)]


def _station_edges(session) -> tuple[dict, dict]:
    """Codes of the stations at each vertex, and at each edge (as a frozenset of its two end points)."""
    at_vertex, at_edge = {}, {}
    for grid in session.scalars(sa.select(Grid).where(Grid.level == "station")):
        for polygon in from_db(grid.geom).geoms:
            ring = list(polygon.exterior.coords)
            for a, b in zip(ring, ring[1:]):
                at_vertex.setdefault(a, set()).add(grid.code)
                at_edge.setdefault(frozenset((a, b)), set()).add(grid.code)
    return at_vertex, at_edge


def _exact_midpoint(a, b) -> tuple[float, float] | None:
    """The midpoint of a and b when floating point represents it exactly (so it lies exactly on the edge)."""
    mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    exact = all(Fraction(m) * 2 == Fraction(p) + Fraction(q) for m, p, q in zip(mid, a, b))
    return mid if exact else None


def _station_at_codes(session, points) -> list:
    return [(grid.code if (grid := station_at(session, lon=lon, lat=lat)) else None) for lon, lat in points]


def test_assign_points_matches_station_at(session):
    points = _sample_points(session, 400)
    codes = assign_points(session, points=points)
    assert codes == _station_at_codes(session, points)
    assert sum(code is not None for code in codes) > 300  # most land inside a station
    assert any(code is None for code in codes)


def test_assign_points_on_shared_edges_and_vertices_matches_station_at(session):
    at_vertex, at_edge = _station_edges(session)
    shared_vertices = [vertex for vertex, codes in at_vertex.items() if len(codes) > 1]
    midpoints = {
        mid: codes for edge, codes in at_edge.items()
        if len(codes) > 1 and (mid := _exact_midpoint(*edge)) is not None
    }
    outer_vertices = [vertex for vertex, codes in at_vertex.items() if len(codes) == 1]
    assert len(shared_vertices) >= 10 and len(midpoints) >= 5 and outer_vertices
    on_boundaries = shared_vertices + list(midpoints) + outer_vertices
    points = _sample_points(session, 300, seed=20) + on_boundaries
    random.Random(3).shuffle(points)

    codes = assign_points(session, points=points)

    assert codes == _station_at_codes(session, points)
    code_of = dict(zip(points, codes))
    for vertex in shared_vertices:  # a corner of 2-4 stations goes to the lowest of their codes
        assert code_of[vertex] == min(at_vertex[vertex])
    for mid, sharing in midpoints.items():
        assert code_of[mid] == min(sharing)
    for vertex in outer_vertices:  # the zone's own boundary is inside its station
        assert code_of[vertex] in at_vertex[vertex]


def test_assign_points_keeps_input_order(session):
    points = _sample_points(session, 200)
    codes = assign_points(session, points=points)
    assert assign_points(session, points=reversed(points)) == codes[::-1]  # any iterable
    assert assign_points(session, points=[list(p) for p in points[:5]]) == codes[:5]
    assert assign_points(session, points=[]) == []


def test_assign_points_non_finite_points_are_outside(session):
    inside = _sample_points(session, 1)[0]
    x0, y0, x1, y1 = _zone_bounds(session)
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    expected = station_at(session, lon=centre[0], lat=centre[1]).code
    points = [(math.nan, centre[1]), centre, (centre[0], math.inf), (-math.inf, math.nan), inside]
    alone = assign_points(session, points=[inside])[0]
    assert assign_points(session, points=points) == [None, expected, None, None, alone]
    with pytest.raises(TypeError):
        assign_points(session, points=[centre, (None, centre[1])])
    with pytest.raises(ValueError):
        assign_points(session, points=[(centre[0], centre[1], 0.0)])
