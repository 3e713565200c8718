"""Grid writes are checked and a refused write leaves nothing behind, on both databases."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from gridsvc.errors import ConflictError, ValidationError
from gridsvc.grids import service
from gridsvc.grids.models import Grid

REGION = "350600"


def _square(west, south, size=0.01):
    return {"type": "Polygon", "coordinates": [[[west, south], [west + size, south], [west + size, south + size],
                                                 [west, south + size], [west, south]]]}


def _count(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Grid))


def _post(client, session, payload, status, code):
    before = _count(session)
    response = client.post("/api/v1/grids?lang=en", json=payload)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code
    assert _count(session) == before
    return response.get_json()["error"]["message"]


def test_self_intersecting_polygon_is_refused(client, session):
    bowtie = {"type": "Polygon", "coordinates": [[[117.30, 23.88], [117.31, 23.89], [117.31, 23.88],
                                                  [117.30, 23.89], [117.30, 23.88]]]}
    message = _post(client, session, {"name": "bow", "level": "cell", "parent_code": "350600001001",
                                      "geometry": bowtie}, 422, "invalid_polygon")
    assert "Self-intersection" in message


def test_station_outside_its_centre_is_refused(client, session):
    message = _post(client, session, {"name": "far away", "level": "station", "parent_code": "350600001",
                                      "geometry": _square(118.5, 24.5)}, 422, "grid_outside_parent")
    assert "outside its parent 350600001" in message


def test_overlapping_station_is_refused(client, session):
    # A small square well inside the zone necessarily overlaps one of the 15 partitioning stations.
    message = _post(client, session, {"name": "overlapping", "level": "station", "parent_code": "350600001",
                                      "geometry": _square(117.30, 23.88)}, 422, "grid_overlap")
    assert "overlaps grid 350600001" in message


def test_cell_inside_a_station_gets_the_next_code(client, session):
    station = service.station_at(session, lon=117.3005, lat=23.8805)
    response = client.post("/api/v1/grids", json={
        "name": "单元网格1", "level": "cell", "parent_code": station.code,
        "geometry": _square(117.3001, 23.8801, 0.0005)})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["code"] == station.code + "001"


def test_malformed_code_is_refused(session):
    with pytest.raises(ValidationError) as error:
        service.create_grid(session, name="x", level="centre", geometry=_square(100, 20), region_code=REGION,
                            code="35060A001")
    assert error.value.code == "grid_code_format"


def test_duplicate_name_under_same_parent_is_refused(session):
    with pytest.raises(ConflictError) as error:
        service.create_grid(session, name="第01社区(村)网格服务站", level="station", parent_code="350600001",
                            geometry=_square(117.25, 23.85, 0.0001), region_code=REGION)
    assert error.value.code == "grid_name_taken"


def test_grid_with_children_cannot_be_deleted(session):
    with pytest.raises(ConflictError) as error:
        service.delete_grid(session, code="350600001")
    assert error.value.code == "grid_has_children"


def test_point_lookup_uses_the_station_polygons(session):
    station = service.station_at(session, lon=117.2405, lat=23.8405)
    assert station is not None and station.level == "station"
    assert service.station_at(session, lon=118.5, lat=24.5) is None


def test_coverage_reports_the_gap_left_by_a_missing_station(session):
    centre = service.get_grid(session, code="350600001")
    removed = service.get_grid(session, code="350600001015")
    from gridsvc.geo.shapes import from_db, geodesic_area_m2

    expected_gap = geodesic_area_m2(from_db(removed.geom))
    # Detach the station from its centre instead of deleting it (cameras and people refer to it).
    removed.parent_id = None
    removed.name = removed.name + " (detached)"
    session.flush()
    result = service.coverage(session, centre_code=centre.code)
    assert result["stations"] == 14
    assert result["uncovered_m2"] == pytest.approx(expected_gap, rel=1e-6)
    assert float(result["covered_percent"]) < 100
