"""GPS patrol tracks: hardened GPX / GeoJSON parsing and verified patrol time. No database, no Flask.

A track is the time-ordered list of timed points of one patrol. All segments of all tracks in a
file are concatenated in time order; exact duplicate points are dropped. Lengths are geodesic on
the WGS-84 ellipsoid (gridsvc.geo.geodesy, Vincenty). Durations are whole seconds so that sums of
hours over many patrols stay exact.

Errors are TrackError: a stable `code`, an English msgid `message` with %(name)s placeholders,
`params`, and `http_status` (413 for the byte cap, 422 otherwise).
"""
from __future__ import annotations

import codecs
import math
import re
import xml.etree.ElementTree as std_etree
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import defusedxml
import defusedxml.ElementTree as defused_etree
import gpxpy
import gpxpy.gpx
import gpxpy.gpxfield
import numpy
import shapely

from gridsvc.errors import ValidationError
from gridsvc.geo.geodesy import WGS84_A, WGS84_F, geodesic_distance_m
from gridsvc.i18n import N_

# 16 MiB holds 50,000 Garmin points with extensions (about 250 bytes each) with room for waypoints.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
# 50,000 points is 14 hours at one point per second; parsing that many takes about 4-5 s on the
# project's 2-core machines (defusedxml scan plus gpxpy), so a bigger cap is not worth it.
DEFAULT_MAX_POINTS = 50_000
# Foot and bicycle patrols; 25 km/h is also the design-speed cap of Chinese e-bikes (GB 17761-2018),
# so a driven or motorcycle stretch is excluded while a fast cyclist still counts.
DEFAULT_MAX_SPEED_KMH = 25.0
# Loggers record at least every few seconds while moving; 10 minutes without a point means the
# device was off, lost its fix, or was left behind: that time is not verified.
DEFAULT_MAX_GAP_SECONDS = 600
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
        return _round_micros(_micros_between(self.points[0].time, self.points[-1].time))

    @cached_property
    def pair_distances_m(self) -> tuple[float, ...]:
        """Geodesic distance in metres of each consecutive pair of points."""
        return tuple(
            geodesic_distance_m(a.lon, a.lat, b.lon, b.lat) for a, b in zip(self.points, self.points[1:])
        )

    @cached_property
    def pair_micros(self) -> tuple[int, ...]:
        """Microseconds from each point to the next (verify and time_in_areas judge the same pairs)."""
        return tuple(_micros_between(a.time, b.time) for a, b in zip(self.points, self.points[1:]))

    @property
    def length_m(self) -> float:
        """Geodesic length in metres of the whole line, gaps between segments included."""
        return math.fsum(self.pair_distances_m)

    def as_wkt(self) -> str:
        """The track as a WKT LINESTRING of lon lat pairs (full float precision)."""
        return "LINESTRING (" + ", ".join(f"{float(p.lon)!r} {float(p.lat)!r}" for p in self.points) + ")"

    def as_geojson(self) -> dict:
        """The track as a GeoJSON Feature: LineString plus properties.times (ISO-8601, UTC)."""
        return {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[p.lon, p.lat] for p in self.points]},
            "properties": {"times": [format_time(p.time) for p in self.points]},
        }


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


def format_time(moment: datetime) -> str:
    """An aware datetime as ISO-8601 in UTC with a Z suffix."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


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
        lon, lat = _checked_lon_lat(point.lon, point.lat, index)
        if not isinstance(point.time, datetime):
            raise TrackError("bad_time", number=index + 1, value=_describe(point.time))
        checked.append(TrackPoint(lon, lat, _to_utc(point.time, index)))
    return _track_from_checked(checked, segments=segments, dropped_untimed=dropped_untimed, now=now,
                               earliest=earliest)


def _track_from_checked(
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


def _checked_lon_lat(lon: Any, lat: Any, index: int) -> tuple[float, float]:
    """Finite floats within -180..180 / -90..90, or TrackError bad_coordinates."""
    if _is_real_number(lon) and _is_real_number(lat):
        try:
            lon_f, lat_f = float(lon), float(lat)
        except OverflowError:  # an int beyond float range
            pass
        else:
            # Comparisons are False for NaN, so NaN falls through to the error too.
            if -180 <= lon_f <= 180 and -90 <= lat_f <= 90:
                return lon_f, lat_f
    raise TrackError("bad_coordinates", number=index + 1, value=f"[{_describe(lon)}, {_describe(lat)}]")


def _is_real_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _to_utc(moment: datetime, index: int) -> datetime:
    """Aware UTC datetime; naive times are UTC as the GPX schema defines them."""
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 with a positive offset falls before datetime.min
        raise TrackError("bad_time", number=index + 1, value=_describe(str(moment))) from None


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
# GPX
# ---------------------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: its BOM starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]{0,200}?\sencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]{0,39})["']""")
# gpxpy scans the raw text with unanchored regexes such as \sxmlns:?[^=]*="[^"]+"; where such a
# prefix is followed by a long stretch without '=' or quotes they run in quadratic time (120 kB of
# " xmlns" in a <desc> costs 2 s). Real files have a few short declarations, so bound them.
_GPXPY_REGEX_PREFIX = re.compile(r"\s(?:xmlns|xsi:schemaLocation)")
_GPXPY_PREFIX_REACH = 8192
_GPXPY_MAX_PREFIXES = 1000
_POINT_TAGS = frozenset({"trkpt", "rtept", "wpt"})
# A Garmin point with heart rate, cadence and temperature has about 8 elements; beyond the
# allowance the file is refused before any tree is built (16 MiB of "<x/>" is 4 million elements).
MAX_ELEMENTS_PER_POINT = 16
MAX_OTHER_ELEMENTS = 10_000
MAX_XML_DEPTH = 32


def parse_gpx(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_points: int = DEFAULT_MAX_POINTS,
    now: datetime | None = None,
    earliest: datetime = DEFAULT_EARLIEST_TIME,
    zone_bbox: tuple[float, float, float, float] | None = None,
) -> Track:
    """Parse an uploaded GPX file into a Track, refusing unsafe, oversized or unusable input."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"parse_gpx() takes bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise TrackError("track_too_large", size=len(data), max_bytes=max_bytes)
    text = _decode_xml(data)
    _scan_xml(text, max_points=max_points)
    _check_safe_for_gpxpy(text)
    gpx = _parse_with_gpxpy(text)

    segments = [segment.points for track in gpx.tracks for segment in track.segments if segment.points]
    if not segments:
        # A route is a plan, not a recording; only accept its points if they carry times.
        segments = [route.points for route in gpx.routes if route.points]
    if not segments:
        raise TrackError("no_points")

    # A segment with no time at all is dropped (Garmin devices save copies of a log without
    # times); a segment with only some times makes the hours unknowable and is refused.
    timed_segments = []
    untimed_points = 0
    partly_timed = False
    for points in segments:
        timed = sum(1 for p in points if p.time is not None)
        if timed == 0:
            untimed_points += len(points)
        else:
            partly_timed = partly_timed or timed < len(points)
            timed_segments.append(points)
    if partly_timed:
        missing = sum(1 for points in segments for p in points if p.time is None)
        raise TrackError("missing_times", missing=missing, total=sum(len(points) for points in segments))
    if not timed_segments:
        raise TrackError("no_times")

    raw = [(p.longitude, p.latitude) for points in timed_segments for p in points]
    if zone_bbox is not None and detect_swapped(raw, zone_bbox):
        raise TrackError("swapped_coordinates")
    for index, point in enumerate(p for points in segments for p in points):  # numbered as in the file
        _checked_lon_lat(point.longitude, point.latitude, index)
    track_points = [TrackPoint(p.longitude, p.latitude, p.time) for points in timed_segments for p in points]
    return track_from_points(
        track_points, segments=len(timed_segments), dropped_untimed=untimed_points, now=now, earliest=earliest
    )


def _decode_xml(data: bytes) -> str:
    """The document as text: by its BOM, else by its XML declaration, else UTF-8.

    Decoding here rather than in expat lets GBK/GB18030 files from Chinese devices through:
    expat itself refuses multi-byte encodings other than UTF-8/16.
    """
    encoding = "utf-8"
    for bom, bom_encoding in _BOMS:
        if data.startswith(bom):
            encoding = bom_encoding
            break
    else:
        if data.startswith(b"<\x00"):
            encoding = "utf-16-le"
        elif data.startswith(b"\x00<"):
            encoding = "utf-16-be"
        else:
            declared = _DECLARED_ENCODING.match(data)
            if declared:
                encoding = declared.group(1).decode("ascii")
    try:
        # bytes.decode refuses non-text codecs (base64, zlib...) with LookupError.
        return data.decode(encoding)
    except (LookupError, UnicodeError, ValueError):
        raise TrackError("gpx_not_xml") from None


class _XmlLimitExceeded(Exception):
    def __init__(self, error: TrackError):
        super().__init__(error.code)
        self.error = error


class _XmlScan:
    """ElementTree parser target that keeps no tree: it checks the root, counts, and aborts early.

    It also checks the text of each point's <time>, because gpxpy turns an unreadable time
    into None without a word, which would misreport "2024-13-40" as a missing time.
    """

    def __init__(self, max_points: int):
        self.max_points = max_points
        self.max_elements = max_points * MAX_ELEMENTS_PER_POINT + MAX_OTHER_ELEMENTS
        self.elements = 0
        self.points = 0
        self.depth = 0
        self.track_points = 0  # trkpt and rtept, numbered as in bad_time messages
        self.point_depth: int | None = None
        self.point_has_time = False
        self.time_depth: int | None = None
        self.time_chunks: list[str] = []
        self.time_has_child = False

    def start(self, tag: str, attrib: dict) -> None:
        name = _local_name(tag)
        if self.elements == 0 and name != "gpx":
            raise _XmlLimitExceeded(TrackError("gpx_invalid", reason="root element is not gpx"))
        self.elements += 1
        self.depth += 1
        if name in _POINT_TAGS:
            self.points += 1
            if self.points > self.max_points:
                raise _XmlLimitExceeded(TrackError("too_many_points", max_points=self.max_points))
        if self.elements > self.max_elements or self.depth > MAX_XML_DEPTH:
            raise _XmlLimitExceeded(
                TrackError("gpx_too_complex", max_elements=self.max_elements, max_depth=MAX_XML_DEPTH)
            )
        if self.time_depth is not None:
            self.time_has_child = True
        elif name in ("trkpt", "rtept"):
            self.track_points += 1
            self.point_depth, self.point_has_time = self.depth, False
        elif name == "time" and self.point_depth == self.depth - 1 and not self.point_has_time:
            # gpxpy reads the text of a point's first <time> child, before any nested element.
            self.point_has_time = True
            self.time_depth, self.time_chunks, self.time_has_child = self.depth, [], False

    def data(self, text: str) -> None:
        if self.time_depth is not None and not self.time_has_child:
            self.time_chunks.append(text)

    def end(self, tag: str) -> None:
        if self.time_depth == self.depth:
            self.time_depth = None
            _check_gpx_time("".join(self.time_chunks), self.track_points)
        elif self.point_depth == self.depth:
            self.point_depth = None
        self.depth -= 1

    def close(self) -> None:
        return None


def _check_gpx_time(text: str, number: int) -> None:
    if not text:
        return  # an empty <time/> is no time, as for gpxpy
    try:
        gpxpy.gpxfield.parse_time(text)
    except Exception:  # gpxpy's parse_time raises GPXException, ValueError, and others on garbage
        raise _XmlLimitExceeded(TrackError("bad_time", number=number, value=_describe(text))) from None


def _scan_xml(text: str, *, max_points: int) -> None:
    """One defusedxml pass without building a tree: refuse DTDs, bad XML, non-GPX and oversize.

    The DTD is refused before any entity could be expanded or fetched (XXE, billion laughs),
    and limits abort the pass early, so gpxpy only ever sees small, entity-free documents.
    """
    parser = defused_etree.DefusedXMLParser(
        target=_XmlScan(max_points), forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        parser.feed(text)
        parser.close()
    except _XmlLimitExceeded as exc:
        raise exc.error from None
    except defusedxml.DefusedXmlException:
        raise TrackError("gpx_entities_forbidden") from None
    except std_etree.ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        raise TrackError("gpx_not_xml", line=line, column=column) from None
    except (ValueError, LookupError):  # e.g. an encoding declaration expat cannot honour
        raise TrackError("gpx_not_xml") from None


def _local_name(tag: Any) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _check_safe_for_gpxpy(text: str) -> None:
    """Refuse text on which gpxpy's namespace regexes would run in quadratic time."""
    for count, match in enumerate(_GPXPY_REGEX_PREFIX.finditer(text), start=1):
        if count > _GPXPY_MAX_PREFIXES:
            raise TrackError("gpx_invalid", reason="too many namespace declarations")
        start = match.end()
        equals = text.find("=", start, start + _GPXPY_PREFIX_REACH)
        if equals < 0:
            raise TrackError("gpx_invalid", reason="unbounded namespace declaration")
        quote = text[equals + 1 : equals + 2]
        if quote in ("'", '"') and text.find(quote, equals + 2, equals + 2 + _GPXPY_PREFIX_REACH) < 0:
            raise TrackError("gpx_invalid", reason="unbounded namespace declaration")


def _parse_with_gpxpy(text: str) -> gpxpy.gpx.GPX:
    """gpxpy on text already checked by defusedxml; its failures become gpx_invalid."""
    # gpxpy registers every xmlns prefix of every file in ElementTree's process-wide map; restore
    # it so uploads cannot grow it without bound or change how other code serialises XML.
    namespace_map = getattr(std_etree, "_namespace_map", None)
    saved = dict(namespace_map) if isinstance(namespace_map, dict) else None
    try:
        return gpxpy.parse(text)
    # gpxpy raises GPXException for what it recognises, and plain ValueError/TypeError etc.
    # from its converters (float("x"), datetime(2024, 13, 1)) for what it does not.
    except (gpxpy.gpx.GPXException, ValueError, TypeError, AttributeError, IndexError, KeyError, OverflowError) as exc:
        raise TrackError("gpx_invalid", reason=str(exc)[:200]) from None
    finally:
        if saved is not None:
            namespace_map.clear()
            namespace_map.update(saved)


# ---------------------------------------------------------------------------------------------
# GeoJSON
# ---------------------------------------------------------------------------------------------

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
            raise TrackError("not_linestring", type=_describe(geometry))
        kind = geometry.get("type")
    else:
        geometry, times_holder, times_path, geometry_path = obj, obj, "$", "$"
    if kind not in _LINE_TYPES:
        raise TrackError("not_linestring", type=_describe(kind))

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
    if zone_bbox is not None and detect_swapped(positions, zone_bbox):
        raise TrackError("swapped_coordinates")
    missing = sum(1 for value in flat_times if value is None)
    if missing == len(flat_times):
        raise TrackError("no_times")
    if missing:
        raise TrackError("missing_times", missing=missing, total=len(flat_times))

    points = []
    for index, (position, value) in enumerate(zip(positions, flat_times)):
        if not isinstance(position, (list, tuple)) or len(position) < 2:
            raise TrackError("bad_coordinates", number=index + 1, value=_describe(position))
        lon, lat = _checked_lon_lat(position[0], position[1], index)
        points.append(TrackPoint(lon, lat, _parse_iso_time(value, index)))
    segments = sum(1 for line in lines if line)
    # Coordinates and times were checked (and made UTC) point by point above, in file order.
    return _track_from_checked(points, segments=segments, dropped_untimed=0, now=now, earliest=earliest)


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
        raise TrackError("bad_time", number=index + 1, value=_describe(value))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise TrackError("bad_time", number=index + 1, value=_describe(value)) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise TrackError("bad_time", number=index + 1, value=_describe(value))
    return _to_utc(moment, index)


def _describe(value: Any) -> str:
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


# ---------------------------------------------------------------------------------------------
# Coordinates sanity
# ---------------------------------------------------------------------------------------------


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
        if not (_is_real_number(lon) and _is_real_number(lat)):
            continue
        total += 1
        as_given += min_lon <= lon <= max_lon and min_lat <= lat <= max_lat
        swapped += min_lon <= lat <= max_lon and min_lat <= lon <= max_lat
    return total > 0 and swapped > as_given and 2 * swapped >= total


# ---------------------------------------------------------------------------------------------
# Verified time
# ---------------------------------------------------------------------------------------------


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
    pair whose midpoint is not inside the station is "outside_station"; the rest is verified.
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
        result[name] = _round_micros(total)
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


def _micros_between(start: datetime, end: datetime) -> int:
    delta = end - start
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _round_micros(micros: int) -> int:
    """Microseconds to whole seconds, halves rounded up (so sums and parts agree)."""
    return (micros + 500_000) // 1_000_000


# ---------------------------------------------------------------------------------------------
# Moving a track
# ---------------------------------------------------------------------------------------------

_E2 = WGS84_F * (2 - WGS84_F)


def translate_track(track: Track, *, to_lon: float, to_lat: float) -> Track:
    """The same track moved so its first point is at (to_lon, to_lat), times unchanged.

    Offsets from the first point are kept in metres, not degrees (using the ellipsoid's local
    radii), so lengths and speeds survive a move from 46° N to 24° N to within about 0.1 % for a
    track a few kilometres across; a plain degree shift would stretch east-west distances by 30 %.
    """
    _checked_lon_lat(to_lon, to_lat, 0)
    origin = track.points[0]
    north_scale = _meridian_radius(origin.lat) / _meridian_radius(to_lat)
    moved = []
    for index, point in enumerate(track.points):
        lat = to_lat + (point.lat - origin.lat) * north_scale
        if not -90 < lat < 90:
            raise TrackError("bad_coordinates", number=index + 1, value=f"[{to_lon!r}, {lat!r}]")
        east_scale = _parallel_radius(point.lat) / _parallel_radius(lat)
        lon = (to_lon + _wrap(point.lon - origin.lon) * east_scale + 180.0) % 360.0 - 180.0
        moved.append(TrackPoint(lon, lat, point.time))
    return Track(
        points=tuple(moved),
        segments=track.segments,
        dropped_duplicates=track.dropped_duplicates,
        dropped_untimed=track.dropped_untimed,
    )


def _meridian_radius(lat_deg: float) -> float:
    sin_lat = math.sin(math.radians(lat_deg))
    return WGS84_A * (1 - _E2) / (1 - _E2 * sin_lat * sin_lat) ** 1.5


def _parallel_radius(lat_deg: float) -> float:
    """Radius of the parallel at lat_deg: metres per radian of longitude."""
    sin_lat = math.sin(math.radians(lat_deg))
    return WGS84_A * math.cos(math.radians(lat_deg)) / math.sqrt(1 - _E2 * sin_lat * sin_lat)


def _wrap(delta_lon: float) -> float:
    return (delta_lon + 180.0) % 360.0 - 180.0
