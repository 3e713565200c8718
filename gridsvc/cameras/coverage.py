"""Camera coverage per station: cameras per km², share of area within a radius of a camera, and the
length of patrol tracks outside every camera's radius.

Computed in Python from the stored geometries, so both databases give the same numbers:

- each camera's radius is a 256-gon in longitude/latitude, built in the camera's local tangent
  plane (meridian radius M and prime-vertical radius N of WGS-84 at its latitude; the error of
  this first-order geodesic circle is below 1 mm at 100 m). The polygon's radius is enlarged so
  that its area equals πr² exactly; its edge stays within 6 mm of the true circle at r = 100 m;
- areas are exact ellipsoidal areas: each vertex goes through the Lambert cylindrical equal-area
  projection of the WGS-84 ellipsoid (area scale 1 everywhere) and the shoelace formula is applied.
  gridsvc.geo.shapes.geodesic_area_m2 (geographiclib) agrees to 1e-5 on the stations but needs
  8 s for the 59,000 vertices of the zone's coverage (measured), this takes milliseconds;
- lengths sum each segment's length on the local ellipsoid (M, N at the segment's mid-latitude),
  which matches geographiclib's geodesic distance to better than 1e-8 for segments up to 1 km
  (tested) and is vectorised, for tracks of many thousand points.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import MultiLineString, MultiPolygon, Polygon, mapping
from sqlalchemy.orm import Session

from gridsvc.apidoc import BOOLEAN, COUNT, NUMBER, STRING, array, nullable, obj
from gridsvc.cameras.models import Camera
from gridsvc.errors import ValidationError
from gridsvc.geo.geodesy import WGS84_A, WGS84_F
from gridsvc.geo.shapes import from_db
from gridsvc.grids.models import Grid

CIRCLE_SEGMENTS = 256
MAX_RADIUS_M = 5000.0
_E2 = WGS84_F * (2 - WGS84_F)
_E = math.sqrt(_E2)


# --- geometry on the WGS-84 ellipsoid ----------------------------------------------------------------

def _radii(lat_deg):
    """Meridian radius M and prime-vertical radius N (metres) at the latitude(s)."""
    sin_lat = np.sin(np.radians(lat_deg))
    w = 1 - _E2 * sin_lat * sin_lat
    return WGS84_A * (1 - _E2) / w ** 1.5, WGS84_A / np.sqrt(w)


def circle_polygon(lon: float, lat: float, radius_m: float, segments: int = CIRCLE_SEGMENTS) -> Polygon:
    """The area within radius_m of a point, as a lon/lat polygon of the same area as the circle."""
    m, n = _radii(lat)
    area_preserving = radius_m * math.sqrt(2 * math.pi / (segments * math.sin(2 * math.pi / segments)))
    theta = np.arange(segments) * (2 * math.pi / segments)
    d_lon = np.degrees(area_preserving * np.sin(theta) / (n * math.cos(math.radians(lat))))
    d_lat = np.degrees(area_preserving * np.cos(theta) / m)
    return Polygon(np.column_stack([lon + d_lon, lat + d_lat]))


def covered_area(points, radius_m: float):
    """The union of the radius around every (lon, lat) point (an empty polygon when there are none)."""
    circles = [circle_polygon(lon, lat, radius_m) for lon, lat in points]
    return shapely.union_all(circles) if circles else Polygon()


def _authalic_q(lat_deg):
    sin_lat = np.sin(np.radians(lat_deg))
    return (1 - _E2) * (sin_lat / (1 - _E2 * sin_lat * sin_lat)
                        - np.log((1 - _E * sin_lat) / (1 + _E * sin_lat)) / (2 * _E))


def equal_area_m2(geometry) -> float:
    """Area in m² on the WGS-84 ellipsoid of a lon/lat (Multi)Polygon (Lambert cylindrical equal-area)."""
    if geometry is None or geometry.is_empty:
        return 0.0
    min_lon, _, max_lon, _ = geometry.bounds
    lon0 = (min_lon + max_lon) / 2

    def project(coords):
        x = WGS84_A * np.radians(coords[:, 0] - lon0)
        y = WGS84_A * _authalic_q(coords[:, 1]) / 2
        return np.column_stack([x, y])

    return float(shapely.transform(geometry, project).area)


def segment_lengths_m(coords) -> np.ndarray:
    """Lengths in metres of the segments of a lon/lat polyline (array of shape (n, 2))."""
    coords = np.asarray(coords, dtype=float)
    if len(coords) < 2:
        return np.zeros(0)
    mid_lat = (coords[1:, 1] + coords[:-1, 1]) / 2
    m, n = _radii(mid_lat)
    north = np.radians(np.diff(coords[:, 1])) * m
    east = np.radians(np.diff(coords[:, 0])) * n * np.cos(np.radians(mid_lat))
    return np.hypot(north, east)


def length_m(geometry) -> float:
    """Length in metres of the lines in a geometry (points and polygons count 0)."""
    if geometry is None or geometry.is_empty:
        return 0.0
    total = 0.0
    for part in getattr(geometry, "geoms", [geometry]):
        if part.geom_type == "LineString":
            total += float(segment_lengths_m(np.asarray(part.coords)[:, :2]).sum())
        elif part.geom_type in ("MultiLineString", "GeometryCollection"):
            total += length_m(part)
    return total


def _lines_only(geometry):
    """The linear parts of an intersection/difference result (dropping touching points)."""
    if geometry.is_empty:
        return MultiLineString()
    lines = []
    for part in getattr(geometry, "geoms", [geometry]):
        if part.geom_type == "LineString":
            lines.append(part)
        elif part.geom_type in ("MultiLineString", "GeometryCollection"):
            lines.extend(_lines_only(part).geoms)
    return MultiLineString(lines)


def _polygons_only(geometry):
    if geometry.is_empty:
        return MultiPolygon()
    polygons = []
    for part in getattr(geometry, "geoms", [geometry]):
        if part.geom_type == "Polygon":
            polygons.append(part)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            polygons.extend(_polygons_only(part).geoms)
    return MultiPolygon(polygons)


# --- the figures ---------------------------------------------------------------------------------------

def check_radius(value) -> float:
    """A coverage radius in metres: a number above 0 and at most 5000."""
    try:
        radius = float(value)
    except (TypeError, ValueError):
        radius = float("nan")
    if isinstance(value, bool) or not (0 < radius <= MAX_RADIUS_M):
        raise ValidationError("coverage_radius", "The coverage radius must be a number of metres above 0 and at most "
                              "%(max)s", max=int(MAX_RADIUS_M))
    return radius


def _percent(part: float, whole: float) -> float | None:
    from gridsvc.figures import percent

    value = percent(Fraction(part), Fraction(whole)) if whole > 0 else None
    return None if value is None else float(value)


_PERCENT = {**nullable(NUMBER), "description": "rounded half-up to 0.01; null without area (or track)"}
COVERAGE_FIGURES = {
    "area_m2": NUMBER, "area_km2": NUMBER, "cameras": {**COUNT, "description": "cameras in service of the station"},
    "cameras_per_km2": {**nullable(NUMBER), "description": "null without area"},
    "covered_m2": {**NUMBER, "description": "area within the radius of a camera"}, "covered_percent": _PERCENT,
    "track_m": {**NUMBER, "description": "patrol track length inside"},
    "track_outside_m": {**NUMBER, "description": "of it, outside every camera's radius"},
    "track_outside_percent": _PERCENT,
}


@dataclass
class _StationCoverage:
    station_id: int
    code: str
    name: str
    shape: object
    area_m2: float = 0.0
    cameras: int = 0
    covered: object = None
    covered_m2: float = 0.0
    track_m: float = 0.0
    track_outside_m: float = 0.0
    outside_lines: list = field(default_factory=list)

    def figures(self) -> dict:
        return {
            "area_m2": round(self.area_m2, 1),
            "area_km2": round(self.area_m2 / 1e6, 4),
            "cameras": self.cameras,
            "cameras_per_km2": round(self.cameras / (self.area_m2 / 1e6), 2) if self.area_m2 > 0 else None,
            "covered_m2": round(self.covered_m2, 1),
            "covered_percent": _percent(self.covered_m2, self.area_m2),
            "track_m": round(self.track_m, 2),
            "track_outside_m": round(self.track_outside_m, 2),
            "track_outside_percent": _percent(self.track_outside_m, self.track_m),
        }


def _compute(session: Session, *, radius_m, station_ids=None, only_online: bool = False, period=None):
    radius = check_radius(radius_m)
    stations_query = sa.select(Grid).where(Grid.level == "station").order_by(Grid.code)
    if station_ids is not None:
        stations_query = stations_query.where(Grid.id.in_(sorted(station_ids)))
    stations = [_StationCoverage(g.id, g.code, g.name, from_db(g.geom)) for g in session.scalars(stations_query)]

    cameras_query = sa.select(Camera.station_id, sa.func.ST_X(Camera.geom), sa.func.ST_Y(Camera.geom)).where(
        Camera.retired_at.is_(None))
    if only_online:
        cameras_query = cameras_query.where(Camera.status == "online")
    if station_ids is not None:
        # A station user sees their own cameras only: another station's camera near the boundary
        # would draw its circle -- and so give away its position -- inside this station's layer.
        cameras_query = cameras_query.where(Camera.station_id.in_(sorted(station_ids)))
    cameras = session.execute(cameras_query).all()
    # Every camera counts for every station its radius reaches, whichever station it belongs to.
    circles = [circle_polygon(float(lon), float(lat), radius) for _, lon, lat in cameras]
    circle_index = shapely.STRtree(circles) if circles else None
    per_station = {}
    for station_id, _, _ in cameras:
        per_station[station_id] = per_station.get(station_id, 0) + 1

    tracks = _tracks(session, period=period, station_ids=station_ids)
    track_index = shapely.STRtree(tracks) if tracks else None
    for station in stations:
        station.area_m2 = equal_area_m2(station.shape)
        station.cameras = per_station.get(station.station_id, 0)
        nearby = circle_index.query(station.shape, predicate="intersects") if circle_index is not None else []
        union = shapely.union_all([circles[i] for i in nearby]) if len(nearby) else Polygon()
        station.covered = _polygons_only(shapely.intersection(station.shape, union))
        station.covered_m2 = equal_area_m2(station.covered)
        if track_index is None:
            continue
        for index in track_index.query(station.shape, predicate="intersects"):
            inside = _lines_only(shapely.intersection(tracks[index], station.shape))
            if inside.is_empty:
                continue
            outside = _lines_only(shapely.difference(inside, station.covered)) if not station.covered.is_empty else inside
            station.track_m += length_m(inside)
            station.track_outside_m += length_m(outside)
            if not outside.is_empty:
                station.outside_lines.extend(outside.geoms)
    return radius, stations


def _tracks(session: Session, *, period=None, station_ids=None) -> list:
    from gridsvc.patrols.models import COUNTED, PatrolSession

    query = sa.select(PatrolSession.track).where(COUNTED, PatrolSession.track.is_not(None))
    if station_ids is not None:  # likewise only the tracks of the stations' own patrols
        query = query.where(PatrolSession.station_id.in_(sorted(station_ids)))
    if period is not None:
        start, end = period.utc_bounds()
        query = query.where(PatrolSession.started_at >= start, PatrolSession.started_at < end)
    return [from_db(track) for track in session.scalars(query)]


COVERAGE = obj({
    "radius_m": NUMBER,
    "only_online": BOOLEAN,
    "period": {**nullable(STRING), "description": "the tracks' period, null for every patrol"},
    "overall": obj({"stations": COUNT, **COVERAGE_FIGURES}, required=["stations", *COVERAGE_FIGURES]),
    "by_station": array(obj({"station_code": STRING, "station_name": STRING, **COVERAGE_FIGURES},
                            required=["station_code", "station_name", *COVERAGE_FIGURES])),
}, required=["radius_m", "only_online", "period", "overall", "by_station"])


def _figures_of(radius: float, stations: list, *, only_online: bool, period) -> dict:
    total = _StationCoverage(0, "", "", None)
    for station in stations:
        total.area_m2 += station.area_m2
        total.cameras += station.cameras
        total.covered_m2 += station.covered_m2
        total.track_m += station.track_m
        total.track_outside_m += station.track_outside_m
    return {
        "radius_m": radius,
        "only_online": bool(only_online),
        "period": getattr(period, "label", None),
        "overall": {"stations": len(stations), **total.figures()},
        "by_station": [{"station_code": s.code, "station_name": s.name, **s.figures()} for s in stations],
    }


def _rounded(geometry) -> dict:
    """GeoJSON of a geometry with coordinates rounded to 7 decimals (about 1 cm)."""
    return mapping(shapely.transform(geometry, lambda coords: np.round(coords, 7)))


def _geometry(kind: str, depth: int) -> dict:
    """A GeoJSON geometry of this type whose coordinates nest `depth` arrays above the positions (may be empty)."""
    coordinates = array(NUMBER, minItems=2, maxItems=2)
    for _ in range(depth):
        coordinates = array(coordinates)
    return obj({"type": {"const": kind}, "coordinates": coordinates}, required=["type", "coordinates"])


_LAYER_COMMON = {"station_code": STRING, "station_name": STRING, "radius_m": NUMBER}
_COVERED_FEATURE = obj({
    "type": {"const": "Feature"}, "id": {**STRING, "pattern": "^covered-"},
    "properties": obj({"layer": {"const": "covered"}, **_LAYER_COMMON, "covered_m2": NUMBER,
                       "covered_percent": _PERCENT},
                      required=["layer", *_LAYER_COMMON, "covered_m2", "covered_percent"]),
    "geometry": _geometry("MultiPolygon", 3),
}, required=["type", "id", "properties", "geometry"], description="the station's area within the radius")
_TRACK_OUTSIDE_FEATURE = obj({
    "type": {"const": "Feature"}, "id": {**STRING, "pattern": "^track-outside-"},
    "properties": obj({"layer": {"const": "track_outside"}, **_LAYER_COMMON, "track_m": NUMBER,
                       "track_outside_m": NUMBER},
                      required=["layer", *_LAYER_COMMON, "track_m", "track_outside_m"]),
    "geometry": _geometry("MultiLineString", 2),
}, required=["type", "id", "properties", "geometry"], description="the station's patrol tracks outside every radius")
COVERAGE_LAYER = obj({
    "type": {"const": "FeatureCollection"},
    "features": array({"oneOf": [_COVERED_FEATURE, _TRACK_OUTSIDE_FEATURE]},
                      description="per station (by code) its covered feature, then its track_outside one"),
}, required=["type", "features"], description="RFC 7946, WGS-84, positions to 7 decimals")


def _layer_of(radius: float, stations: list) -> dict:
    features = []
    for station in stations:
        figures = station.figures()
        common = {"station_code": station.code, "station_name": station.name, "radius_m": radius}
        features.append({
            "type": "Feature",
            "id": f"covered-{station.code}",
            "properties": {"layer": "covered", **common, "covered_m2": figures["covered_m2"],
                           "covered_percent": figures["covered_percent"]},
            "geometry": _rounded(station.covered),
        })
        features.append({
            "type": "Feature",
            "id": f"track-outside-{station.code}",
            "properties": {"layer": "track_outside", **common, "track_m": figures["track_m"],
                           "track_outside_m": figures["track_outside_m"]},
            "geometry": _rounded(MultiLineString(station.outside_lines)),
        })
    return {"type": "FeatureCollection", "features": features}


def camera_coverage(session: Session, *, radius_m, station_ids=None, only_online: bool = False, period=None) -> dict:
    """Per station and overall: area, cameras per km², m² and % within radius_m of a camera in service,
    and patrol track length inside the station and how much of it lies outside every camera's radius.

    A camera of one station also covers the parts of neighbouring stations within its radius. With
    station_ids (a station user's view) only those stations' cameras and patrols count.
    Tracks are those of patrol sessions started in `period` (a reports Period; all when None),
    cut to each station. Percentages are rounded half-up to 0.01 (None without area or track).
    """
    radius, stations = _compute(session, radius_m=radius_m, station_ids=station_ids, only_online=only_online,
                                period=period)
    return _figures_of(radius, stations, only_online=only_online, period=period)


def coverage_geojson(session: Session, *, radius_m, station_ids=None, only_online: bool = False, period=None) -> dict:
    """The coverage map layer: per station, a feature with the area within radius_m of a camera
    (properties.layer "covered", a MultiPolygon) and one with the patrol tracks outside every radius
    (properties.layer "track_outside", a MultiLineString); WGS-84, RFC 7946."""
    radius, stations = _compute(session, radius_m=radius_m, station_ids=station_ids, only_online=only_online,
                                period=period)
    return _layer_of(radius, stations)


def coverage_with_layer(session: Session, *, radius_m, station_ids=None, only_online: bool = False,
                        period=None) -> tuple[dict, dict]:
    """camera_coverage and coverage_geojson from one computation."""
    radius, stations = _compute(session, radius_m=radius_m, station_ids=station_ids, only_online=only_online,
                                period=period)
    return _figures_of(radius, stations, only_online=only_online, period=period), _layer_of(radius, stations)
