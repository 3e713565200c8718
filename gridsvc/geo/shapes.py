"""Geometry helpers: shapely <-> database values, validation, geodesic areas, distances outside an area."""
from __future__ import annotations

import numpy
import shapely
from geographiclib.geodesic import Geodesic
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.validation import explain_validity

from gridsvc.db import SRID
from gridsvc.errors import ValidationError


def _ring_area_m2(coords) -> float:
    # geographiclib is pure Python: pyproj's bundled PROJ/SQLite beside mod_spatialite's
    # crashes the process at exit ("double free"), so pyproj is not used.
    polygon = Geodesic.WGS84.Polygon()
    points = list(coords)
    if len(points) > 1 and points[0] == points[-1]:
        points = points[:-1]
    for lon, lat, *_ in points:
        polygon.AddPoint(lat, lon)
    _count, _perimeter, area = polygon.Compute(False, True)
    return abs(area)


def to_db(geometry) -> object:
    """A shapely geometry as a GeoAlchemy2 value in SRID 4326."""
    return from_shape(geometry, srid=SRID)


def from_db(value):
    """A GeoAlchemy2 value (WKB element) as a shapely geometry, or None."""
    return None if value is None else to_shape(value)


def geodesic_area_m2(geometry) -> float:
    """Area in m² on the WGS-84 ellipsoid."""
    if geometry.is_empty:
        return 0.0
    polygons = getattr(geometry, "geoms", [geometry])
    total = 0.0
    for polygon in polygons:
        if polygon.geom_type != "Polygon" or polygon.is_empty:
            continue
        total += _ring_area_m2(polygon.exterior.coords)
        total -= sum(_ring_area_m2(ring.coords) for ring in polygon.interiors)
    return total


# A surveyed station boundary has a few thousand vertices; 1.3 million (32 MiB of GeoJSON) passed
# every check and then failed inside SpatiaLite's GeomFromEWKT as a 500 after 11 s and 585 MiB.
MAX_POLYGON_VERTICES = 100_000


def _too_many_positions(coordinates, limit: int) -> bool:
    """True when nested coordinate lists hold more than `limit` positions (iterative: no recursion limit)."""
    count, stack = 0, [coordinates]
    while stack:
        value = stack.pop()
        if isinstance(value, (list, tuple)):
            if value and not isinstance(value[0], (list, tuple)):
                count += 1
                if count > limit:
                    return True
            else:
                stack.extend(value)
    return False


def parse_multipolygon(geojson: dict) -> MultiPolygon:
    """A GeoJSON Polygon/MultiPolygon as a valid shapely MultiPolygon, or a ValidationError."""
    if isinstance(geojson, dict) and _too_many_positions(geojson.get("coordinates"), MAX_POLYGON_VERTICES):
        raise ValidationError("polygon_too_complex", "The polygon has more than %(max)s vertices", max=MAX_POLYGON_VERTICES)
    try:
        geometry = shape(geojson)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise ValidationError("bad_geometry", "The geometry is not valid GeoJSON: %(reason)s", reason=str(exc)) from exc
    if isinstance(geometry, Polygon):
        geometry = MultiPolygon([geometry])
    if not isinstance(geometry, MultiPolygon):
        raise ValidationError(
            "not_polygon", "A grid must be a Polygon or MultiPolygon, not %(type)s", type=geometry.geom_type
        )
    if geometry.is_empty:
        raise ValidationError("empty_geometry", "The polygon is empty")
    check_lon_lat(geometry)
    if not geometry.is_valid:
        raise ValidationError(
            "invalid_polygon", "The polygon is not valid: %(reason)s", reason=explain_validity(geometry)
        )
    return geometry


def check_lon_lat(geometry) -> None:
    """Refuse coordinates outside longitude -180..180 / latitude -90..90."""
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    if min_lon < -180 or max_lon > 180 or min_lat < -90 or max_lat > 90:
        raise ValidationError("bad_coordinates", "Coordinates must be WGS-84 longitude/latitude in degrees")


def interiors_overlap(a, b) -> bool:
    """True when two areas share interior (touching edges is fine)."""
    return shapely.relate_pattern(a, b, "T********")


def as_geojson(geometry) -> dict:
    """A shapely geometry as a GeoJSON geometry dict."""
    return mapping(geometry)


# A local flat-earth scale near the zone (24 deg N): only for tolerances, never for reported lengths.
METRES_PER_DEGREE_LAT = 110_574.0
METRES_PER_DEGREE_LON_EQUATOR = 111_320.0


def metres_to_area(area, lons, lats) -> numpy.ndarray:
    """Approximate metres from each point to the nearest point of `area` (0 inside it; local flat-earth scale)."""
    lons, lats = numpy.asarray(lons, dtype=float), numpy.asarray(lats, dtype=float)
    points = shapely.points(lons, lats)
    nearest = shapely.get_coordinates(shapely.shortest_line(points, area)).reshape(-1, 2, 2)[:, 1, :]
    d_lat = (nearest[:, 1] - lats) * METRES_PER_DEGREE_LAT
    d_lon = (nearest[:, 0] - lons) * METRES_PER_DEGREE_LON_EQUATOR * numpy.cos(numpy.radians(lats))
    return numpy.hypot(d_lat, d_lon)
