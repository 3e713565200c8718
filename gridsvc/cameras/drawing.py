"""A self-contained SVG drawing of the coverage layer (stations, covered areas, uncovered tracks,
cameras) for the coverage page: no tiles, no script, so it works on an intranet and under the
site's strict Content-Security-Policy. The interactive map is the map page's job."""
from __future__ import annotations

import math
from html import escape

import shapely
import sqlalchemy as sa
from shapely.geometry import shape
from sqlalchemy.orm import Session

from gridsvc.cameras.models import Camera
from gridsvc.geo.shapes import from_db
from gridsvc.grids.models import Grid

WIDTH = 1000
# Simplification of the covered areas for drawing only, in degrees (about 1 m): a 256-gon per
# camera is far more than a 1000-pixel drawing of a 12 km zone shows.
DRAW_TOLERANCE_DEG = 1e-5


def _path(geometry, to_xy) -> str:
    parts = []
    for polygon in getattr(geometry, "geoms", [geometry]):
        if polygon.is_empty:
            continue
        if polygon.geom_type == "Polygon":
            rings = [polygon.exterior, *polygon.interiors]
            for ring in rings:
                points = [to_xy(x, y) for x, y in ring.coords]
                parts.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points) + " Z")
        elif polygon.geom_type == "LineString":
            points = [to_xy(x, y) for x, y in polygon.coords]
            parts.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points))
        else:
            parts.append(_path(polygon, to_xy))
    return " ".join(part for part in parts if part)


def coverage_svg(session: Session, *, layer: dict, station_ids=None) -> str:
    """SVG markup of the stations, the covered areas and uncovered tracks of `layer`, and the cameras."""
    query = sa.select(Grid).where(Grid.level == "station").order_by(Grid.code)
    if station_ids is not None:
        query = query.where(Grid.id.in_(sorted(station_ids)))
    stations = [(grid.code, grid.name, from_db(grid.geom)) for grid in session.scalars(query)]
    if not stations:
        return ""
    min_lon, min_lat, max_lon, max_lat = shapely.union_all([geom for _, _, geom in stations]).bounds
    x_scale = math.cos(math.radians((min_lat + max_lat) / 2))
    span_x = max((max_lon - min_lon) * x_scale, 1e-9)
    span_y = max(max_lat - min_lat, 1e-9)
    pixels = WIDTH / span_x
    height = span_y * pixels

    def to_xy(lon, lat):
        return (lon - min_lon) * x_scale * pixels, (max_lat - lat) * pixels

    out = [f'<svg class="coverage-map" xmlns="http://www.w3.org/2000/svg" viewBox="-4 -4 {WIDTH + 8:.0f} '
           f'{height + 8:.0f}" role="img">']
    for code, name, geometry in stations:
        out.append(f'<path class="station" d="{_path(geometry, to_xy)}"><title>{escape(code)} {escape(name)}</title>'
                   f'</path>')
    for feature in layer["features"]:
        geometry = shape(feature["geometry"])
        if geometry.is_empty:
            continue
        properties = feature["properties"]
        if properties["layer"] == "covered":
            simplified = geometry.simplify(DRAW_TOLERANCE_DEG)
            out.append(f'<path class="covered" d="{_path(simplified, to_xy)}"><title>{escape(properties["station_code"])}'
                       f' {properties["covered_percent"] if properties["covered_percent"] is not None else "-"} %</title>'
                       f'</path>')
        elif properties["layer"] == "track_outside":
            out.append(f'<path class="track-outside" d="{_path(geometry, to_xy)}"></path>')
    camera_query = sa.select(Camera.device_id, sa.func.ST_X(Camera.geom), sa.func.ST_Y(Camera.geom)).where(
        Camera.retired_at.is_(None))
    if station_ids is not None:
        camera_query = camera_query.where(Camera.station_id.in_(sorted(station_ids)))
    for device_id, lon, lat in session.execute(camera_query):
        x, y = to_xy(float(lon), float(lat))
        if -4 <= x <= WIDTH + 4 and -4 <= y <= height + 4:
            out.append(f'<circle class="camera" cx="{x:.1f}" cy="{y:.1f}" r="1.6"><title>{escape(device_id)}</title>'
                       f'</circle>')
    out.append("</svg>")
    return "".join(out)
