"""Test helpers for GPS tracks: the real GPX files in tests/data/gpx, moving them into the zone, writing GPX,
GeoJSON and WKT.

The reference reader here uses only the standard library's ElementTree (the files are trusted
test data), so tests can check gridsvc.patrols.gpx against an independent reading.
"""
from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gridsvc.geo.geodesy import WGS84_A, WGS84_F
from gridsvc.patrols.gpx import parse_gpx
from gridsvc.patrols.track import Track, TrackError, TrackPoint, format_time

# The files live in the repository (tests/data/gpx, with their source and licence), so a clone
# anywhere passes on its own. GRIDSVC_GPX_DIR overrides it.
GPX_DIR = Path(os.environ.get("GRIDSVC_GPX_DIR", Path(__file__).resolve().parents[1] / "data" / "gpx"))

# Unverified centre of the zone (field notes, section 2) and an illustrative box around it,
# about 20 km x 22 km: test values only, not the zone's real boundary.
ZONE_CENTRE = (117.30, 23.88)
ZONE_BBOX = (117.20, 23.78, 117.40, 23.98)

GPX_NAMESPACE = "http://www.topografix.com/GPX/1/1"

_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$")


def gpx_files() -> list[Path]:
    """Every real GPX file of the test data, sorted by name."""
    return sorted(GPX_DIR.glob("*.gpx"))


def load_gpx_bytes(name: str) -> bytes:
    """The raw bytes of one real GPX file."""
    return (GPX_DIR / name).read_bytes()


def parse_reference_time(text: str) -> datetime:
    """An ISO-8601 GPX time as aware UTC, fractions beyond microseconds cut (independent of gpxpy)."""
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"not a GPX time: {text!r}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    micros = int((match.group(7) or "0")[:6].ljust(6, "0"))
    moment = datetime(year, month, day, hour, minute, second, micros, tzinfo=UTC)
    zone = match.group(8)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


def read_reference_segments(data: bytes) -> list[list[tuple[float, float, datetime | None]]]:
    """Track segments (or, if none has points, routes) as (lon, lat, time) lists, by plain ElementTree."""
    root = ET.fromstring(data)
    namespace = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""

    def points(parent, tag):
        result = []
        for element in parent.findall(namespace + tag):
            time_text = element.findtext(namespace + "time")
            result.append(
                (
                    float(element.get("lon")),
                    float(element.get("lat")),
                    parse_reference_time(time_text) if time_text else None,
                )
            )
        return result

    segments = [points(seg, "trkpt") for trk in root.findall(namespace + "trk") for seg in trk.findall(namespace + "trkseg")]
    segments = [segment for segment in segments if segment]
    if not segments:
        segments = [points(rte, "rtept") for rte in root.findall(namespace + "rte")]
        segments = [segment for segment in segments if segment]
    return segments


def points_to_gpx_bytes(
    segments: list[list[tuple[float, float, datetime | None]]],
    *,
    encoding: str = "utf-8",
    bom: bool = False,
    name: str = "patrol",
) -> bytes:
    """GPX 1.1 bytes with one track holding the given segments of (lon, lat, time or None)."""
    gpx = ET.Element("gpx", {"version": "1.1", "creator": "gridsvc tests", "xmlns": GPX_NAMESPACE})
    trk = ET.SubElement(gpx, "trk")
    ET.SubElement(trk, "name").text = name
    for segment in segments:
        trkseg = ET.SubElement(trk, "trkseg")
        for lon, lat, moment in segment:
            trkpt = ET.SubElement(trkseg, "trkpt", {"lat": repr(float(lat)), "lon": repr(float(lon))})
            if moment is not None:
                ET.SubElement(trkpt, "time").text = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    body = ET.tostring(gpx, encoding="unicode")
    text = f'<?xml version="1.0" encoding="{encoding}"?>\n{body}\n'
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom and encoding.lower().replace("-", "") == "utf8" else data


def track_to_gpx_bytes(track: Track, **options) -> bytes:
    """A Track written back as GPX 1.1 bytes (one segment, full float precision)."""
    return points_to_gpx_bytes([[(p.lon, p.lat, p.time) for p in track.points]], **options)


def track_geojson(track: Track) -> dict:
    """A track as a GeoJSON Feature: LineString plus properties.times (ISO-8601, UTC)."""
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[p.lon, p.lat] for p in track.points]},
        "properties": {"times": [format_time(p.time) for p in track.points]},
    }


def track_wkt(track: Track) -> str:
    """A track as a WKT LINESTRING of lon lat pairs (full float precision)."""
    return "LINESTRING (" + ", ".join(f"{float(p.lon)!r} {float(p.lat)!r}" for p in track.points) + ")"


_E2 = WGS84_F * (2 - WGS84_F)


def translate_track(track: Track, *, to_lon: float, to_lat: float) -> Track:
    """The same track moved so its first point is at (to_lon, to_lat), times unchanged.

    Offsets from the first point are kept in metres, not degrees (using the ellipsoid's local
    radii), so lengths and speeds survive a move from 46° N to 24° N to within about 0.1 % for a
    track a few kilometres across; a plain degree shift would stretch east-west distances by 30 %.
    """
    if not (-180 <= to_lon <= 180 and -90 <= to_lat <= 90):
        raise TrackError("bad_coordinates", number=1, value=f"[{to_lon!r}, {to_lat!r}]")
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


def zone_track(name: str, *, to_lon: float = ZONE_CENTRE[0], to_lat: float = ZONE_CENTRE[1]) -> Track:
    """A real GPX file parsed and moved so that it starts at (to_lon, to_lat) in the zone."""
    return translate_track(parse_gpx(load_gpx_bytes(name)), to_lon=to_lon, to_lat=to_lat)


def zone_gpx_bytes(name: str, *, to_lon: float = ZONE_CENTRE[0], to_lat: float = ZONE_CENTRE[1]) -> bytes:
    """A real GPX file moved into the zone and re-serialised as GPX bytes, ready to upload."""
    return track_to_gpx_bytes(zone_track(name, to_lon=to_lon, to_lat=to_lat))
