"""Where a patrol happened and how much of it a track supports. Pure computation: no database, no Flask.

A session claims a time window (start to end). Its track is cut to that window; every second of
the window then falls in exactly one part: verified, or excluded as "too_fast" (faster than foot
or bicycle), "gap" (no point for longer than the gap limit), "outside_area" (moving, but outside
the station or task area the patrol is for) or "untracked" (the track does not cover it). The
parts are whole seconds that add up to the claimed seconds.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy
import shapely
from shapely.geometry import LineString, Point

from gridsvc.errors import ValidationError
from gridsvc.geo.shapes import METRES_PER_DEGREE_LAT, metres_to_area
from gridsvc.i18n import N_
from gridsvc.patrols.tracks import (
    DEFAULT_MAX_GAP_SECONDS,
    DEFAULT_MAX_SPEED_KMH,
    Track,
    TrackError,
    TrackPoint,
    detect_swapped,
    format_time,
    inside_area,
    time_in_areas,
    verify,
)

# Phones outdoors are accurate to 5-20 m, under trees or between buildings to about 50 m: a track
# that strays this far past the zone's edge is GPS noise, not a patrol outside the zone.
DEFAULT_ZONE_TOLERANCE_M = 50.0
# A task route counts as the area within this distance of its line.
DEFAULT_ROUTE_BUFFER_M = 100.0




@dataclass(frozen=True)
class Limits:
    """The configurable rules of verification."""

    max_speed_kmh: float = DEFAULT_MAX_SPEED_KMH
    max_gap_seconds: float = DEFAULT_MAX_GAP_SECONDS
    zone_tolerance_m: float = DEFAULT_ZONE_TOLERANCE_M
    route_buffer_m: float = DEFAULT_ROUTE_BUFFER_M


@dataclass(frozen=True)
class GridArea:
    """One grid polygon, as loaded for in-memory tests."""

    id: int
    code: str
    level: str
    geometry: shapely.Geometry


@dataclass
class Areas:
    """The zone and its grids in memory, loaded once per request or import."""

    grids: list[GridArea]
    zone: shapely.Geometry | None = None
    by_id: dict[int, GridArea] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {grid.id: grid for grid in self.grids}
        if self.zone is None:
            centres = [g.geometry for g in self.grids if g.level == "centre"]
            stations = [g.geometry for g in self.grids if g.level == "station"]
            parts = centres or stations
            self.zone = shapely.union_all(parts) if parts else None
        if self.zone is not None:
            shapely.prepare(self.zone)

    @property
    def zone_bbox(self) -> tuple[float, float, float, float] | None:
        """(min_lon, min_lat, max_lon, max_lat) of the zone, for detect_swapped."""
        return None if self.zone is None else tuple(self.zone.bounds)

    def level(self, level: str) -> dict[int, shapely.Geometry]:
        """Grid id -> polygon for one level, in code order (time_in_areas gives shared edges to the first)."""
        return {g.id: g.geometry for g in sorted(self.grids, key=lambda g: g.code) if g.level == level}

    def levels(self) -> list[str]:
        """The grid levels present (centre, station, cell) that partition the zone."""
        return sorted({g.level for g in self.grids})


@dataclass(frozen=True)
class Assessment:
    """What a track says about a claimed patrol."""

    station_id: int | None
    verified_seconds: int
    verification: dict
    grid_seconds: dict[int, int]
    length_m: float


def track_digest(track: Track) -> str:
    """SHA-256 of a track's points and times: the same track as GPX or as GeoJSON has the same digest."""
    digest = hashlib.sha256()
    for point in track.points:
        digest.update(f"{point.lon!r},{point.lat!r},{format_time(point.time)};".encode())
    return digest.hexdigest()


def check_not_swapped(points, areas: Areas) -> None:
    """ValidationError swapped_coordinates when the points fit the zone only with lon and lat swapped."""
    bbox = areas.zone_bbox
    if bbox is not None and detect_swapped(points, bbox):
        raise TrackError("swapped_coordinates")


def check_track_in_zone(track: Track, areas: Areas, *, tolerance_m: float) -> None:
    """Refuse a track with points farther than tolerance_m outside the zone, naming how many and how far."""
    check_not_swapped(track, areas)
    if areas.zone is None:
        raise ValidationError("zone_missing", "No zone is defined yet: load the grids first")
    lons = numpy.fromiter((p.lon for p in track.points), float, len(track.points))
    lats = numpy.fromiter((p.lat for p in track.points), float, len(track.points))
    outside = ~shapely.intersects_xy(areas.zone, lons, lats)
    if not outside.any():
        return
    indexes = numpy.flatnonzero(outside)
    distances = metres_to_area(areas.zone, lons[indexes], lats[indexes])
    beyond = distances > tolerance_m
    if not beyond.any():
        return
    first = int(indexes[numpy.argmax(beyond)])
    raise ValidationError(
        "track_outside_zone",
        "%(count)s of %(total)s track points lie outside the zone, up to %(distance)s m beyond its edge "
        "(the first is point %(number)s at %(lon)s, %(lat)s); only patrols inside the zone are recorded",
        count=int(beyond.sum()), total=len(track.points), distance=int(math.ceil(distances.max())),
        number=first + 1, lon=round(float(lons[first]), 6), lat=round(float(lats[first]), 6),
    )


def route_area(route: shapely.Geometry, *, buffer_m: float) -> shapely.Geometry:
    """The area within about buffer_m of a route line (metric buffer on a locally scaled plane)."""
    lat0 = route.centroid.y
    scale = math.cos(math.radians(lat0))
    stretched = shapely.transform(route, lambda xy: numpy.column_stack([xy[:, 0] * scale, xy[:, 1]]))
    buffered = stretched.buffer(buffer_m / METRES_PER_DEGREE_LAT)
    return shapely.transform(buffered, lambda xy: numpy.column_stack([xy[:, 0] / scale, xy[:, 1]]))


def clip_track(track: Track, start: datetime, end: datetime) -> Track | None:
    """The part of a track between start and end, with points interpolated at both cuts; None if it misses."""
    if track.start >= start and track.end <= end:
        return track
    if track.end <= start or track.start >= end:
        return None
    kept: list[TrackPoint] = []
    points = track.points
    for a, b in zip(points, points[1:]):
        if a.time < start < b.time:
            kept.append(_interpolate(a, b, start))
        if start <= a.time <= end and (not kept or kept[-1].time < a.time):
            kept.append(a)
        if a.time < end < b.time:
            kept.append(_interpolate(a, b, end))
    last = points[-1]
    if start <= last.time <= end and (not kept or kept[-1].time < last.time):
        kept.append(last)
    if len(kept) < 2:
        return None
    return Track(points=tuple(kept), segments=track.segments, dropped_duplicates=track.dropped_duplicates,
                 dropped_untimed=track.dropped_untimed)


def _interpolate(a: TrackPoint, b: TrackPoint, moment: datetime) -> TrackPoint:
    share = (moment - a.time) / (b.time - a.time)
    return TrackPoint(a.lon + (b.lon - a.lon) * share, a.lat + (b.lat - a.lat) * share, moment)


def assess_track(
    track: Track,
    *,
    started_at: datetime,
    ended_at: datetime,
    areas: Areas,
    area: shapely.Geometry | None,
    area_label: dict,
    limits: Limits,
) -> Assessment:
    """Verified seconds with reasons, seconds per grid, and the station holding most of the moving time."""
    claimed = int((ended_at - started_at).total_seconds())
    clipped = clip_track(track, started_at, ended_at)
    if clipped is None:
        raise ValidationError(
            "track_outside_claimed_time",
            "The track runs from %(track_start)s to %(track_end)s, which does not overlap the patrol time "
            "%(start)s to %(end)s",
            track_start=format_time(track.start), track_end=format_time(track.end),
            start=format_time(started_at), end=format_time(ended_at),
        )
    result = verify(
        clipped, max_speed_kmh=limits.max_speed_kmh, max_gap_seconds=limits.max_gap_seconds,
        inside=inside_area(area) if area is not None else None,
    )
    untracked = max(0, claimed - result.duration_seconds)
    verified = min(result.verified_seconds, claimed)
    reasons = [{"code": "outside_area" if code == "outside_station" else code, "seconds": seconds}
               for code, seconds in result.reasons]
    if untracked:
        reasons.append({"code": "untracked", "seconds": untracked})

    grid_seconds: dict[int, int] = {}
    for level in areas.levels():
        spent = time_in_areas(clipped, areas.level(level), max_speed_kmh=limits.max_speed_kmh,
                              max_gap_seconds=limits.max_gap_seconds)
        grid_seconds.update({grid_id: seconds for grid_id, seconds in spent.items() if seconds > 0})
    station_seconds = {grid_id: s for grid_id, s in grid_seconds.items() if areas.by_id[grid_id].level == "station"}
    station_id = None
    if station_seconds:
        station_id = max(station_seconds, key=lambda grid_id: (station_seconds[grid_id],
                                                                _negated_code(areas.by_id[grid_id].code)))
    verification = {
        "method": "track",
        "claimed_seconds": claimed,
        "verified_seconds": verified,
        "reasons": reasons,
        "moving_seconds": result.moving_seconds,
        "inside_seconds": result.verified_seconds if area is not None else None,
        "area": area_label,
        "track": {
            "points": len(track.points),
            "segments": track.segments,
            "start": format_time(track.start),
            "end": format_time(track.end),
            "duration_seconds": track.duration_seconds,
            "length_m": round(track.length_m, 1),
            "dropped_duplicates": track.dropped_duplicates,
            "dropped_untimed": track.dropped_untimed,
            "seconds_outside_claimed_time": track.duration_seconds - clipped.duration_seconds,
        },
        "limits": {"max_speed_kmh": limits.max_speed_kmh, "max_gap_seconds": limits.max_gap_seconds},
    }
    return Assessment(station_id=station_id, verified_seconds=verified, verification=verification,
                      grid_seconds=grid_seconds, length_m=track.length_m)


def _negated_code(code: str) -> tuple:
    """Sort key making the lowest code win ties under max()."""
    return tuple(-ord(c) for c in code)


def unverified(claimed_seconds: int, *, confirmed_by_station: bool, from_paper: bool = False) -> tuple[int | None, dict]:
    """Verified seconds and verification of a session without a track.

    Attendance confirmed by the station verifies the whole claimed time; otherwise nothing
    supports the claim and verified_seconds stays None ("not verified", counted as 0). A session
    entered afterwards from a paper sign-in sheet (补录) is never verified, whoever entered it.
    """
    if from_paper:
        return None, {"method": "paper", "claimed_seconds": claimed_seconds, "verified_seconds": 0,
                      "reasons": [{"code": "paper_sheet", "seconds": claimed_seconds}]}
    if confirmed_by_station:
        return claimed_seconds, {"method": "attendance", "claimed_seconds": claimed_seconds,
                                 "verified_seconds": claimed_seconds, "reasons": []}
    return None, {"method": "none", "claimed_seconds": claimed_seconds, "verified_seconds": 0,
                  "reasons": [{"code": "no_track", "seconds": claimed_seconds}]}


def as_linestring(track: Track) -> LineString:
    """The track's positions as a shapely LineString (lon, lat)."""
    return LineString([(p.lon, p.lat) for p in track.points])


def as_point(lon: float, lat: float) -> Point:
    """A shapely point (lon, lat)."""
    return Point(lon, lat)


def utc(moment: datetime) -> datetime:
    """An aware datetime in UTC."""
    return moment.astimezone(UTC)


REASON_LABELS = {
    "paper_sheet": N_("entered afterwards from a paper sign-in sheet (not verified)"),
    "too_fast": N_("faster than on foot or by bicycle"),
    "gap": N_("no GPS point for too long"),
    "outside_area": N_("outside the station or task area"),
    "untracked": N_("not covered by the track"),
    "no_track": N_("no track"),
}
