"""GeoJSON patrol tracks: a LineString or MultiLineString with one ISO-8601 time per position. No database, no Flask."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from gridsvc.patrols.track import (
    DEFAULT_EARLIEST_TIME,
    DEFAULT_MAX_POINTS,
    Track,
    TrackError,
    TrackPoint,
    check_not_swapped,
    checked_lon_lat,
    describe,
    to_utc,
    track_from_checked,
)

_LINE_TYPES = ("LineString", "MultiLineString")
_TIME_KEYS = ("times", "coordTimes")
_MAX_TIME_TEXT = 64


def parse_geojson_track(
    obj: Any,
    *,
    max_points: int = DEFAULT_MAX_POINTS,
    now: datetime | None = None,
    earliest: datetime = DEFAULT_EARLIEST_TIME,
    zone_bbox: tuple[float, float, float, float] | None = None,
) -> Track:
    """A Track from a GeoJSON LineString/MultiLineString with one ISO-8601 time per position.

    Times come from `properties.times` (or the `coordTimes` name used by togeojson) of a
    Feature, or from a `times`/`coordTimes` foreign member of a bare geometry; for a
    MultiLineString they are a list per line (or one flat list). A third coordinate is elevation
    (RFC 7946) and is ignored. Times need a UTC offset: a naive time is ambiguous in UTC+8.
    """
    if not isinstance(obj, dict):
        raise TrackError("geojson_invalid", path="$")
    kind = obj.get("type")
    if kind == "Feature":
        geometry = obj.get("geometry")
        properties = obj.get("properties")
        if properties is not None and not isinstance(properties, dict):
            raise TrackError("geojson_invalid", path="$.properties")
        times_holder, times_path = properties or {}, "$.properties"
        geometry_path = "$.geometry"
        if not isinstance(geometry, dict):
            raise TrackError("not_linestring", type=describe(geometry))
        kind = geometry.get("type")
    else:
        geometry, times_holder, times_path, geometry_path = obj, obj, "$", "$"
    if kind not in _LINE_TYPES:
        raise TrackError("not_linestring", type=describe(kind))

    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list):
        raise TrackError("geojson_invalid", path=f"{geometry_path}.coordinates")
    lines = [coordinates] if kind == "LineString" else coordinates
    for number, line in enumerate(lines):
        if not isinstance(line, list):
            raise TrackError("geojson_invalid", path=f"{geometry_path}.coordinates[{number}]")
    point_count = sum(len(line) for line in lines)
    if point_count > max_points:
        raise TrackError("too_many_points", count=point_count, max_points=max_points)
    if point_count == 0:
        raise TrackError("no_points")

    times_key = next((key for key in _TIME_KEYS if key in times_holder), None)
    times = times_holder.get(times_key) if times_key else None
    if times is None:
        raise TrackError("no_times")
    flat_times = _split_times(times, lines, kind, path=f"{times_path}.{times_key}")

    positions = [position for line in lines for position in line]
    check_not_swapped(positions, zone_bbox)
    missing = sum(1 for value in flat_times if value is None)
    if missing == len(flat_times):
        raise TrackError("no_times")
    if missing:
        raise TrackError("missing_times", missing=missing, total=len(flat_times))

    points = []
    for index, (position, value) in enumerate(zip(positions, flat_times)):
        if not isinstance(position, (list, tuple)) or len(position) < 2:
            raise TrackError("bad_coordinates", number=index + 1, value=describe(position))
        lon, lat = checked_lon_lat(position[0], position[1], index)
        points.append(TrackPoint(lon, lat, _parse_iso_time(value, index)))
    segments = sum(1 for line in lines if line)
    # Coordinates and times were checked (and made UTC) point by point above, in file order.
    return track_from_checked(points, segments=segments, dropped_untimed=0, now=now, earliest=earliest)


def _split_times(times: Any, lines: list[list], kind: str, *, path: str) -> list:
    """The times as one flat list matching the positions, or TrackError."""
    if not isinstance(times, list):
        raise TrackError("geojson_invalid", path=path)
    point_count = sum(len(line) for line in lines)
    nested = [isinstance(value, list) for value in times]
    if kind == "MultiLineString" and times and all(nested):
        # One list of times per line, as togeojson writes coordTimes for a MultiLineString.
        if len(times) != len(lines) or any(len(t) != len(line) for t, line in zip(times, lines)):
            raise TrackError("times_mismatch", times=sum(len(t) for t in times), points=point_count)
        return [value for line_times in times for value in line_times]
    if any(nested):
        raise TrackError("geojson_invalid", path=path)
    if len(times) != point_count:
        raise TrackError("times_mismatch", times=len(times), points=point_count)
    return times


def _parse_iso_time(value: Any, index: int) -> datetime:
    if not isinstance(value, str) or len(value) > _MAX_TIME_TEXT:
        raise TrackError("bad_time", number=index + 1, value=describe(value))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise TrackError("bad_time", number=index + 1, value=describe(value)) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise TrackError("bad_time", number=index + 1, value=describe(value))
    return to_utc(moment, index)
