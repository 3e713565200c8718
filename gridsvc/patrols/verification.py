"""How much of a patrol a track supports, and where it happened. Pure computation: no database, no Flask.

verify() judges a track pair by pair: each consecutive pair of points is a "gap" (no point for
longer than the gap limit), "too_fast" (faster than on foot or by bicycle), outside the area the
patrol is for (the station, or the task's area or route), or verified. verify_patrol() applies it to
a session, which claims a time window: the track is cut to the window, and every claimed second
then falls in exactly one part, verified or excluded for a reason (the uncovered rest is
"untracked"). The parts are whole seconds that add up to the claimed seconds. time_in_areas()
gives the moving seconds per grid by the same pairs.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy
import shapely

from gridsvc.errors import ValidationError
from gridsvc.geo.shapes import METRES_PER_DEGREE_LAT, metres_to_area
from gridsvc.i18n import N_
from gridsvc.patrols.track import Track, TrackPoint, format_time, round_micros
from gridsvc.patrols.zone import Zone

# Foot and bicycle patrols; 25 km/h is also the design-speed cap of Chinese e-bikes (GB 17761-2018),
# so a driven or motorcycle stretch is excluded while a fast cyclist still counts.
DEFAULT_MAX_SPEED_KMH = 25.0
# Loggers record at least every few seconds while moving; 10 minutes without a point means the
# device was off, lost its fix, or was left behind: that time is not verified.
DEFAULT_MAX_GAP_SECONDS = 600
# Phones outdoors are accurate to 5-20 m, under trees or between buildings to about 50 m: a track
# that strays this far past the zone's edge is GPS noise, not a patrol outside the zone.
DEFAULT_ZONE_TOLERANCE_M = 50.0
# A task route counts as the area within this distance of its line.
DEFAULT_ROUTE_BUFFER_M = 100.0

REASON_LABELS = {
    "paper_sheet": N_("entered afterwards from a paper sign-in sheet (not verified)"),
    "too_fast": N_("faster than on foot or by bicycle"),
    "gap": N_("no GPS point for too long"),
    "outside_area": N_("outside the station or task area"),
    "untracked": N_("not covered by the track"),
    "no_track": N_("no track"),
}
# verify() reports the moving time outside its `inside` test as "outside_station", the code its
# tests pin; a patrol's stored reasons (REASON_LABELS, the API) call it "outside_area", since the
# area may be a task's. This is the one place where the two codes meet.
_STORED_REASON_CODES = {"outside_station": "outside_area"}


@dataclass(frozen=True)
class Limits:
    """The configurable rules of verification."""

    max_speed_kmh: float = DEFAULT_MAX_SPEED_KMH
    max_gap_seconds: float = DEFAULT_MAX_GAP_SECONDS
    zone_tolerance_m: float = DEFAULT_ZONE_TOLERANCE_M
    route_buffer_m: float = DEFAULT_ROUTE_BUFFER_M


# ---------------------------------------------------------------------------------------------
# A track, pair by pair
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """How much of a track counts as patrol time, and why the rest does not (whole seconds)."""

    duration_seconds: int
    verified_seconds: int
    moving_seconds: int  # pairs at or below the speed limit and not gaps; includes outside_seconds
    gap_seconds: int
    fast_seconds: int
    outside_seconds: int
    reasons: list[tuple[str, int]]  # ("too_fast" | "gap" | "outside_station", seconds), zeros left out
    max_speed_kmh: float
    max_gap_seconds: float


def verify(
    track: Track,
    *,
    max_speed_kmh: float = DEFAULT_MAX_SPEED_KMH,
    max_gap_seconds: float = DEFAULT_MAX_GAP_SECONDS,
    inside: Callable[[numpy.ndarray, numpy.ndarray], numpy.ndarray] | None = None,
) -> Verification:
    """Split a track's duration into verified patrol time and excluded time with reasons.

    Each consecutive pair of points is judged once, in this order: a time gap over
    max_gap_seconds is "gap"; a speed over max_speed_kmh is "too_fast"; with `inside` given, a
    pair whose midpoint is not inside the area is "outside_station"; the rest is verified.
    `inside(lons, lats)` takes arrays of midpoints and answers an array of booleans (one call per
    track). The parts are whole seconds that add up exactly to duration_seconds.
    """
    micros = {"verified": 0, "too_fast": 0, "gap": 0, "outside_station": 0}
    moving = []  # pairs neither gap nor too fast, when `inside` decides: all tested at once below
    for a, b, dt_us, category in _classified_pairs(track, max_speed_kmh, max_gap_seconds):
        if category is None and inside is not None:
            moving.append(((a.lon + b.lon) / 2, (a.lat + b.lat) / 2, dt_us))
        else:
            micros[category or "verified"] += dt_us
    if moving:
        lons, lats, durations = zip(*moving)
        answers = numpy.asarray(inside(numpy.array(lons), numpy.array(lats))).tolist()
        for dt_us, is_inside in zip(durations, answers):
            micros["verified" if is_inside else "outside_station"] += dt_us
    seconds = _apportion_seconds(micros, track.duration_seconds)
    return Verification(
        duration_seconds=track.duration_seconds,
        verified_seconds=seconds["verified"],
        moving_seconds=seconds["verified"] + seconds["outside_station"],
        gap_seconds=seconds["gap"],
        fast_seconds=seconds["too_fast"],
        outside_seconds=seconds["outside_station"],
        reasons=[(code, seconds[code]) for code in ("too_fast", "gap", "outside_station") if seconds[code] > 0],
        max_speed_kmh=max_speed_kmh,
        max_gap_seconds=max_gap_seconds,
    )


def inside_area(area: shapely.Geometry) -> Callable[[numpy.ndarray, numpy.ndarray], numpy.ndarray]:
    """A fast vectorised (lons, lats) -> booleans test for `verify(inside=...)`; the boundary counts as inside."""
    shapely.prepare(area)
    return lambda lons, lats: shapely.intersects_xy(area, lons, lats)


def time_in_areas(
    track: Track,
    areas: Mapping[str, shapely.Geometry],
    *,
    moving_only: bool = True,
    max_speed_kmh: float = DEFAULT_MAX_SPEED_KMH,
    max_gap_seconds: float = DEFAULT_MAX_GAP_SECONDS,
) -> dict[str, int]:
    """Whole seconds of the track spent in each area, by the area covering each pair's midpoint.

    With moving_only (the default) gaps and too-fast pairs are left out, as in verify(). A pair
    counts at most once: where areas overlap or share a border, the first area in `areas` order
    covering the midpoint gets it. Every area appears in the result, 0 if never visited.
    """
    names = list(areas)
    result = {name: 0 for name in names}
    if not names:
        return result
    pairs = [
        (a, b, dt_us)
        for a, b, dt_us, category in _classified_pairs(track, max_speed_kmh, max_gap_seconds)
        if dt_us > 0 and (category is None or not moving_only)
    ]
    if not pairs:
        return result
    midpoints = shapely.points(
        numpy.fromiter(((a.lon + b.lon) / 2 for a, b, _ in pairs), float, len(pairs)),
        numpy.fromiter(((a.lat + b.lat) / 2 for a, b, _ in pairs), float, len(pairs)),
    )
    tree = shapely.STRtree([areas[name] for name in names])
    pair_indexes, area_indexes = tree.query(midpoints, predicate="covered_by").tolist()
    owner: dict[int, int] = {}  # pair -> the first area, in the caller's order, covering its midpoint
    for pair_index, area_index in zip(pair_indexes, area_indexes):
        if area_index < owner.get(pair_index, len(names)):
            owner[pair_index] = area_index
    micros = [0] * len(names)
    for pair_index, area_index in owner.items():
        micros[area_index] += pairs[pair_index][2]
    for name, total in zip(names, micros):
        result[name] = round_micros(total)
    return result


def _classified_pairs(track: Track, max_speed_kmh: float, max_gap_seconds: float):
    """(a, b, microseconds, None | "gap" | "too_fast") for each consecutive pair."""
    max_gap_us = max_gap_seconds * 1_000_000
    max_speed_ms = max_speed_kmh / 3.6
    for (a, b), distance, dt_us in zip(zip(track.points, track.points[1:]), track.pair_distances_m,
                                       track.pair_micros):
        if dt_us > max_gap_us:
            category = "gap"
        elif distance > max_speed_ms * dt_us / 1_000_000:
            category = "too_fast"  # includes a move in zero time
        else:
            category = None
        yield a, b, dt_us, category


def _apportion_seconds(micros: dict[str, int], total_seconds: int) -> dict[str, int]:
    """Whole seconds per part, summing exactly to total_seconds (largest remainder method)."""
    seconds = {key: value // 1_000_000 for key, value in micros.items()}
    remainders = sorted(micros, key=lambda key: micros[key] % 1_000_000, reverse=True)
    for key in remainders[: max(0, total_seconds - sum(seconds.values()))]:
        seconds[key] += 1
    return seconds


# ---------------------------------------------------------------------------------------------
# A patrol: its claimed window, its area, its grids
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatrolVerification:
    """What supports a claimed patrol: its verified seconds, the record stored with it, and where it was."""

    verified_seconds: int | None  # None: nothing supports the claim ("not verified", counted as 0)
    details: dict  # stored as PatrolSession.verification: method, claimed and verified seconds, reasons
    station_id: int | None = None  # the station holding most of the track's moving time
    grid_seconds: dict[int, int] = field(default_factory=dict)
    length_m: float | None = None


def _check_in_zone(track: Track, zone: Zone, *, tolerance_m: float) -> None:
    """Refuse a track with points farther than tolerance_m outside the zone, naming how many and how far."""
    if zone.outline is None:
        raise ValidationError("zone_missing", "No zone is defined yet: load the grids first")
    lons = numpy.fromiter((p.lon for p in track.points), float, len(track.points))
    lats = numpy.fromiter((p.lat for p in track.points), float, len(track.points))
    outside = ~shapely.intersects_xy(zone.outline, lons, lats)
    if not outside.any():
        return
    indexes = numpy.flatnonzero(outside)
    distances = metres_to_area(zone.outline, lons[indexes], lats[indexes])
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


def _patrol_area(*, task_area: shapely.Geometry | None, task_id: int | None, station_id: int | None, zone: Zone,
                 limits: Limits) -> tuple[shapely.Geometry | None, dict]:
    """The area a patrol is for, and its label: the task's area or route, else the station `station_id`."""
    if task_area is not None:
        if task_area.geom_type in ("LineString", "MultiLineString"):
            return route_area(task_area, buffer_m=limits.route_buffer_m), {
                "kind": "task_route", "task": task_id, "buffer_m": limits.route_buffer_m}
        return task_area, {"kind": "task_area", "task": task_id}
    station = zone.by_id.get(station_id)
    if station is None:
        return None, {"kind": "none"}
    return station.geometry, {"kind": "station", "code": station.code}


def verify_patrol(
    track: Track,
    *,
    started_at: datetime,
    ended_at: datetime,
    zone: Zone,
    task_area: shapely.Geometry | None,
    task_id: int | None,
    station_id: int | None,
    limits: Limits,
) -> PatrolVerification:
    """A tracked patrol's verified seconds with reasons, seconds per grid, and the station of most moving time.

    The track must lie in the zone (within limits.zone_tolerance_m); it is judged against the
    task's area or route (`task_area`), else against the station `station_id`.
    """
    _check_in_zone(track, zone, tolerance_m=limits.zone_tolerance_m)
    area, area_label = _patrol_area(task_area=task_area, task_id=task_id, station_id=station_id, zone=zone,
                                    limits=limits)
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
    reasons = [{"code": _STORED_REASON_CODES.get(code, code), "seconds": seconds} for code, seconds in result.reasons]
    if untracked:
        reasons.append({"code": "untracked", "seconds": untracked})

    grid_seconds: dict[int, int] = {}
    for level in sorted(zone.by_level):
        spent = time_in_areas(clipped, zone.by_level[level], max_speed_kmh=limits.max_speed_kmh,
                              max_gap_seconds=limits.max_gap_seconds)
        grid_seconds.update({grid_id: seconds for grid_id, seconds in spent.items() if seconds > 0})
    station_seconds = {grid_id: s for grid_id, s in grid_seconds.items() if zone.by_id[grid_id].level == "station"}
    station_id = None
    if station_seconds:
        station_id = max(station_seconds, key=lambda grid_id: (station_seconds[grid_id],
                                                                _negated_code(zone.by_id[grid_id].code)))
    details = {
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
    return PatrolVerification(verified_seconds=verified, details=details, station_id=station_id,
                              grid_seconds=grid_seconds, length_m=track.length_m)


def _negated_code(code: str) -> tuple:
    """Sort key making the lowest code win ties under max()."""
    return tuple(-ord(c) for c in code)


def verify_without_track(claimed_seconds: int, *, confirmed_by_station: bool,
                         from_paper: bool = False) -> PatrolVerification:
    """The verification of a session without a track.

    Attendance confirmed by the station verifies the whole claimed time; otherwise nothing
    supports the claim and verified_seconds stays None ("not verified", counted as 0). A session
    entered afterwards from a paper sign-in sheet (补录) is never verified, whoever entered it.
    """
    if from_paper:
        return PatrolVerification(None, {"method": "paper", "claimed_seconds": claimed_seconds, "verified_seconds": 0,
                                         "reasons": [{"code": "paper_sheet", "seconds": claimed_seconds}]})
    if confirmed_by_station:
        return PatrolVerification(claimed_seconds, {"method": "attendance", "claimed_seconds": claimed_seconds,
                                                    "verified_seconds": claimed_seconds, "reasons": []})
    return PatrolVerification(None, {"method": "none", "claimed_seconds": claimed_seconds, "verified_seconds": 0,
                                     "reasons": [{"code": "no_track", "seconds": claimed_seconds}]})
