"""Small RFC 7946 helpers: validate, re-project (for display) and measure GeoJSON geometries."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping

Position = tuple[float, float]
PositionTransform = Callable[[float, float], Position]

# Nesting depth of the "coordinates" array for each geometry type.
_COORDINATE_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}

_NUMBER_TYPES = (int, float)
DISPLAY_DECIMALS = 6  # 1e-6 degree is about 0.1 m: finer only bloats the page


class InvalidGeometry(ValueError):
    """A geometry that is missing, of an unexpected type or has non-numeric coordinates."""


def identity(lon: float, lat: float) -> Position:
    """Return the position unchanged (the display transform for WGS-84 tiles)."""
    return lon, lat


def _position(raw: Any, transform: PositionTransform) -> list[float]:
    if type(raw) not in (list, tuple) or len(raw) < 2:
        raise InvalidGeometry(f"not a position: {raw!r}")
    lon, lat = raw[0], raw[1]
    if type(lon) not in _NUMBER_TYPES or type(lat) not in _NUMBER_TYPES:  # bool is no number here
        raise InvalidGeometry(f"non-numeric position: {raw!r}")
    # Chained comparisons are False for NaN, so this also rejects non-finite values.
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise InvalidGeometry(f"position out of range: {raw!r}")
    lon, lat = transform(float(lon), float(lat))
    return [round(lon, DISPLAY_DECIMALS), round(lat, DISPLAY_DECIMALS)]


def display_point(geometry: Mapping[str, Any] | None, transform: PositionTransform = identity) -> list[float]:
    """Return [lon, lat] of a Point geometry, validated, transformed and rounded (fast path)."""
    # type() first: isinstance against the Mapping ABC is slow enough to show at 100k cameras.
    if (type(geometry) is not dict and not isinstance(geometry, Mapping)) or geometry.get("type") != "Point":
        raise InvalidGeometry("not a Point geometry")
    return _position(geometry.get("coordinates"), transform)


def _coordinates(raw: Any, depth: int, transform: PositionTransform) -> Any:
    if depth == 0:
        return _position(raw, transform)
    if not isinstance(raw, (list, tuple)) or not raw:
        raise InvalidGeometry("empty or non-array coordinates")
    return [_coordinates(item, depth - 1, transform) for item in raw]


def display_geometry(
    geometry: Mapping[str, Any] | None,
    allowed_types: Iterable[str],
    transform: PositionTransform = identity,
) -> dict[str, Any]:
    """Return a validated copy of geometry with every position transformed and rounded."""
    if not isinstance(geometry, Mapping):
        raise InvalidGeometry("feature has no geometry")
    geometry_type = geometry.get("type")
    if geometry_type not in allowed_types or geometry_type not in _COORDINATE_DEPTH:
        raise InvalidGeometry(f"unexpected geometry type {geometry_type!r}")
    coordinates = _coordinates(geometry.get("coordinates"), _COORDINATE_DEPTH[geometry_type], transform)
    return {"type": geometry_type, "coordinates": coordinates}


def features_of(collection: Mapping[str, Any] | None, what: str) -> list[Mapping[str, Any]]:
    """Return the features of a FeatureCollection dict (None gives []); raise on anything else."""
    if collection is None:
        return []
    if not isinstance(collection, Mapping) or collection.get("type") != "FeatureCollection":
        raise ValueError(f"{what} must be a GeoJSON FeatureCollection dict")
    features = collection.get("features")
    if not isinstance(features, list):
        raise ValueError(f"{what}.features must be a list")
    return features


class Bounds:
    """Running (west, south, east, north) bounding box of displayed positions."""

    def __init__(self) -> None:
        self.west = self.south = math.inf
        self.east = self.north = -math.inf

    def add_position(self, lon: float, lat: float) -> None:
        """Extend the box to include one position."""
        self.west = min(self.west, lon)
        self.east = max(self.east, lon)
        self.south = min(self.south, lat)
        self.north = max(self.north, lat)

    def add_geometry(self, geometry: Mapping[str, Any]) -> None:
        """Extend the box to include every position of a (validated) geometry."""
        self._add_nested(geometry["coordinates"], _COORDINATE_DEPTH[geometry["type"]])

    def _add_nested(self, coordinates: Any, depth: int) -> None:
        if depth == 0:
            self.add_position(coordinates[0], coordinates[1])
            return
        for item in coordinates:
            self._add_nested(item, depth - 1)

    @property
    def is_empty(self) -> bool:
        """True until a position has been added."""
        return self.west > self.east

    def centre_lat_lon(self) -> tuple[float, float]:
        """Middle of the box as (lat, lon)."""
        return (self.south + self.north) / 2, (self.west + self.east) / 2

    def as_leaflet(self) -> list[list[float]]:
        """Return [[south, west], [north, east]], the order Leaflet's fitBounds takes."""
        return [[self.south, self.west], [self.north, self.east]]
