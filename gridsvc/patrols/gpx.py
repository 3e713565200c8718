"""Uploaded GPX files into Tracks, behind a hardened XML scan. No database, no Flask.

The bytes are decoded here, scanned once by defusedxml without building a tree (no DTD, no
entities, capped elements, depth and points), checked against gpxpy's slow regexes, and only then
parsed by gpxpy; its points become a Track through gridsvc.patrols.track.track_from_points.
"""
from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as std_etree
from datetime import datetime
from typing import Any

import defusedxml
import defusedxml.ElementTree as defused_etree
import gpxpy
import gpxpy.gpx
import gpxpy.gpxfield

from gridsvc.patrols.track import (
    DEFAULT_EARLIEST_TIME,
    DEFAULT_MAX_POINTS,
    Track,
    TrackError,
    TrackPoint,
    check_not_swapped,
    checked_lon_lat,
    describe,
    track_from_points,
)

# 16 MiB holds 50,000 Garmin points with extensions (about 250 bytes each) with room for waypoints.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024

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

    check_not_swapped([(p.longitude, p.latitude) for points in timed_segments for p in points], zone_bbox)
    for index, point in enumerate(p for points in segments for p in points):  # numbered as in the file
        checked_lon_lat(point.longitude, point.latitude, index)
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
        raise _XmlLimitExceeded(TrackError("bad_time", number=number, value=describe(text))) from None


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
