"""A GPS patrol track: timed points, their checks, and the errors of every track parser. No database, no Flask.

A track is the time-ordered list of timed points of one patrol. All segments of all tracks in a
file are concatenated in time order; exact duplicate points are dropped. Lengths are geodesic on
the WGS-84 ellipsoid (gridsvc.geo.geodesy, Vincenty). Durations are whole seconds so that sums of
hours over many patrols stay exact. The parsers are gridsvc.patrols.gpx and .geojson_track.

Errors are TrackError: a stable `code`, an English msgid `message` with %(name)s placeholders,
`params`, and `http_status` (413 for the byte cap, 422 otherwise).
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from gridsvc.errors import ValidationError
from gridsvc.geo.geodesy import geodesic_distance_m
from gridsvc.i18n import N_

# 50,000 points is 14 hours at one point per second; parsing that many takes about 4-5 s on the
# project's 2-core machines (defusedxml scan plus gpxpy), so a bigger cap is not worth it.
DEFAULT_MAX_POINTS = 50_000
# The volunteer app started in 2017; anything before 2000 is a device clock fault, such as
# 1901-12-13T20:45:52Z, which is Unix time -2**31 (the most negative signed 32-bit value).
DEFAULT_EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
# Phones and loggers whose clocks run slightly ahead must not be refused.
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=10)


TRACK_ERROR_MESSAGES: dict[str, str] = {
    "track_too_large": N_("The track file is %(size)s bytes; at most %(max_bytes)s bytes are accepted."),
    "too_many_points": N_("The track has more than %(max_points)s points, the most accepted."),
    "gpx_not_xml": N_("The file is not a readable XML document, so it cannot be a GPX track."),
    "gpx_entities_forbidden": N_("GPX files with DOCTYPE or ENTITY declarations are refused for security reasons."),
    "gpx_invalid": N_("The file is XML but not a valid GPX track."),
    "gpx_too_complex": N_("The GPX file is too complex: more than %(max_elements)s elements or nesting deeper than %(max_depth)s."),
    "geojson_invalid": N_("The GeoJSON track is malformed at %(path)s."),
    "not_linestring": N_("A GeoJSON track must be a LineString or MultiLineString (bare or in a Feature), not %(type)s."),
    "no_points": N_("The file contains no track or route points."),
    "no_times": N_("The track has no times, so its patrol hours cannot be computed."),
    "missing_times": N_("%(missing)s of %(total)s track points have no time, so the patrol hours cannot be computed."),
    "times_mismatch": N_("The track has %(times)s times for %(points)s points; every point needs a time."),
    "bad_time": N_("Point %(number)s has an invalid time %(value)s; use ISO-8601 with a UTC offset, such as 2024-05-01T08:30:00+08:00."),
    "impossible_times": N_("The track time %(time)s is impossible: times must lie between %(earliest)s and %(latest)s."),
    "too_few_points": N_("A track needs at least 2 distinct timed points; this one has %(count)s."),
    "bad_coordinates": N_("Point %(number)s has invalid coordinates %(value)s; longitude must be -180..180 and latitude -90..90."),
    "swapped_coordinates": N_("The coordinates look swapped: longitude and latitude are in the wrong order."),
}
SIZE_CAP_CODES = frozenset({"track_too_large"})


class TrackError(ValidationError, ValueError):
    """A track refused with a stable code; `message` is the English msgid, `params` fill it."""

    def __init__(self, code: str, **params: Any):
        super().__init__(code, TRACK_ERROR_MESSAGES[code], **params)
        self.http_status = 413 if code in SIZE_CAP_CODES else 422


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One position in degrees (WGS-84) with its aware UTC time, or None while not yet checked."""

    lon: float
    lat: float
    time: datetime | None = None


@dataclass(frozen=True)
class Track:
    """A patrol track: at least 2 timed points sorted by time, and what parsing dropped."""

    points: tuple[TrackPoint, ...]
    segments: int = 1
    dropped_duplicates: int = 0
    # Points of whole segments that carried no times (e.g. Garmin "saved" copies of a log).
    dropped_untimed: int = 0
    # The file it came from ("gpx", "geojson"; "" when built from points): its points are kept as positions of that source.
    file_format: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", tuple(self.points))  # a list would make the track mutable
        if len(self.points) < 2:
            raise TrackError("too_few_points", count=len(self.points))
        previous = None
        for point in self.points:
            if point.time is None:
                raise TrackError("no_times")
            if point.time.tzinfo is None:
                raise ValueError("Track point times must be timezone-aware; use track_from_points()")
            if previous is not None and point.time < previous:
                raise ValueError("Track points must be sorted by time; use track_from_points()")
            previous = point.time

    @property
    def start(self) -> datetime:
        """Time of the first point (UTC)."""
        return self.points[0].time.astimezone(UTC)

    @property
    def end(self) -> datetime:
        """Time of the last point (UTC)."""
        return self.points[-1].time.astimezone(UTC)

    @property
    def duration_seconds(self) -> int:
        """Whole seconds from the first to the last point, rounded."""
        return round_micros(micros_between(self.points[0].time, self.points[-1].time))

    @cached_property
    def pair_distances_m(self) -> tuple[float, ...]:
        """Geodesic distance in metres of each consecutive pair of points."""
        return tuple(
            geodesic_distance_m(a.lon, a.lat, b.lon, b.lat) for a, b in zip(self.points, self.points[1:])
        )

    @cached_property
    def pair_micros(self) -> tuple[int, ...]:
        """Microseconds from each point to the next (verify and time_in_areas judge the same pairs)."""
        return tuple(micros_between(a.time, b.time) for a, b in zip(self.points, self.points[1:]))

    @property
    def length_m(self) -> float:
        """Geodesic length in metres of the whole line, gaps between segments included."""
        return math.fsum(self.pair_distances_m)


def track_digest(track: Track) -> str:
    """SHA-256 of a track's points and times: the same track as GPX or as GeoJSON has the same digest."""
    digest = hashlib.sha256()
    for point in track.points:
        digest.update(f"{point.lon!r},{point.lat!r},{format_time(point.time)};".encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Times
# ---------------------------------------------------------------------------------------------


def format_time(moment: datetime) -> str:
    """An aware datetime as ISO-8601 in UTC with a Z suffix."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_utc(moment: datetime, index: int) -> datetime:
    """Aware UTC datetime of point `index`; naive times are UTC as the GPX schema defines them."""
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 with a positive offset falls before datetime.min
        raise TrackError("bad_time", number=index + 1, value=describe(str(moment))) from None


def micros_between(start: datetime, end: datetime) -> int:
    """Whole microseconds from start to end (exact: no float)."""
    delta = end - start
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def round_micros(micros: int) -> int:
    """Microseconds to whole seconds, halves rounded up (so sums and parts agree)."""
    return (micros + 500_000) // 1_000_000


def _check_time_range(points: list[TrackPoint], *, now: datetime | None, earliest: datetime) -> None:
    if not points:
        return
    latest = (now if now is not None else datetime.now(UTC)) + CLOCK_SKEW_ALLOWANCE
    first = min(p.time for p in points)
    last = max(p.time for p in points)
    for moment in (first, last):
        if moment < earliest or moment > latest:
            raise TrackError(
                "impossible_times",
                time=_format_second(moment),
                earliest=_format_second(earliest),
                latest=_format_second(latest),
            )


def _format_second(moment: datetime) -> str:
    """UTC time to the second, for messages people read."""
    return format_time(moment.replace(microsecond=0))


# ---------------------------------------------------------------------------------------------
# Building a track from points
# ---------------------------------------------------------------------------------------------


def track_from_points(
    points: Iterable[TrackPoint],
    *,
    segments: int = 1,
    dropped_untimed: int = 0,
    now: datetime | None = None,
    earliest: datetime = DEFAULT_EARLIEST_TIME,
) -> Track:
    """Check times and coordinates, sort by time, drop exact duplicates, and build a Track."""
    points = list(points)
    missing = sum(1 for p in points if p.time is None)
    if points and missing == len(points):
        raise TrackError("no_times")
    if missing:
        raise TrackError("missing_times", missing=missing, total=len(points))
    checked = []
    for index, point in enumerate(points):
        lon, lat = checked_lon_lat(point.lon, point.lat, index)
        if not isinstance(point.time, datetime):
            raise TrackError("bad_time", number=index + 1, value=describe(point.time))
        checked.append(TrackPoint(lon, lat, to_utc(point.time, index)))
    return track_from_checked(checked, segments=segments, dropped_untimed=dropped_untimed, now=now,
                              earliest=earliest)


def track_from_checked(
    checked: list[TrackPoint], *, segments: int, dropped_untimed: int, now: datetime | None, earliest: datetime
) -> Track:
    """track_from_points for points whose coordinates and UTC times are already checked."""
    _check_time_range(checked, now=now, earliest=earliest)

    checked.sort(key=lambda p: p.time)  # stable: equal times keep file order
    seen: set[tuple[float, float, datetime]] = set()
    unique = []
    for point in checked:
        key = (point.lon, point.lat, point.time)
        if key not in seen:
            seen.add(key)
            unique.append(point)
    return Track(
        points=tuple(unique),
        segments=segments,
        dropped_duplicates=len(checked) - len(unique),
        dropped_untimed=dropped_untimed,
    )


# ---------------------------------------------------------------------------------------------
# Coordinates
# ---------------------------------------------------------------------------------------------


def checked_lon_lat(lon: Any, lat: Any, index: int) -> tuple[float, float]:
    """Finite floats within -180..180 / -90..90 for point `index`, or TrackError bad_coordinates."""
    if is_real_number(lon) and is_real_number(lat):
        try:
            lon_f, lat_f = float(lon), float(lat)
        except OverflowError:  # an int beyond float range
            pass
        else:
            # Comparisons are False for NaN, so NaN falls through to the error too.
            if -180 <= lon_f <= 180 and -90 <= lat_f <= 90:
                return lon_f, lat_f
    raise TrackError("bad_coordinates", number=index + 1, value=f"[{describe(lon)}, {describe(lat)}]")


def is_real_number(value: Any) -> bool:
    """An int or float, but not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def detect_swapped(track_or_points: Track | Iterable[Any], zone_bbox: tuple[float, float, float, float]) -> bool:
    """True when most points lie outside zone_bbox but would lie inside with lon and lat swapped.

    Accepts a Track, TrackPoints, or raw (lon, lat, ...) sequences (possibly out of range, as in
    unvalidated input); zone_bbox is (min_lon, min_lat, max_lon, max_lat).
    """
    points = track_or_points.points if isinstance(track_or_points, Track) else track_or_points
    min_lon, min_lat, max_lon, max_lat = zone_bbox
    total = as_given = swapped = 0
    for point in points:
        if isinstance(point, TrackPoint):
            lon, lat = point.lon, point.lat
        elif isinstance(point, (list, tuple)) and len(point) >= 2:
            lon, lat = point[0], point[1]
        else:
            continue
        if not (is_real_number(lon) and is_real_number(lat)):
            continue
        total += 1
        as_given += min_lon <= lon <= max_lon and min_lat <= lat <= max_lat
        swapped += min_lon <= lat <= max_lon and min_lat <= lon <= max_lat
    return total > 0 and swapped > as_given and 2 * swapped >= total


def check_not_swapped(points: Iterable[Any], zone_bbox: tuple[float, float, float, float] | None) -> None:
    """TrackError swapped_coordinates when the points fit the zone's box only with lon and lat swapped."""
    if zone_bbox is not None and detect_swapped(points, zone_bbox):
        raise TrackError("swapped_coordinates")


def describe(value: Any) -> str:
    """A short, non-recursive description of untrusted input for error params."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "...")
    if isinstance(value, bool) or (isinstance(value, int) and value.bit_length() < 64) or isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return "a huge integer"
    if isinstance(value, (list, tuple)):
        return f"an array of {len(value)} items"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
