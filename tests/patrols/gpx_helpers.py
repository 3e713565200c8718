"""Test helpers for GPS tracks: the real GPX files in tests/data/gpx, moving them into the zone, writing GPX.

The reference reader here uses only the standard library's ElementTree (the files are trusted
test data), so tests can check gridsvc.patrols.tracks against an independent reading.
"""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gridsvc.patrols.tracks import Track, parse_gpx, translate_track

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


def zone_track(name: str, *, to_lon: float = ZONE_CENTRE[0], to_lat: float = ZONE_CENTRE[1]) -> Track:
    """A real GPX file parsed and moved so that it starts at (to_lon, to_lat) in the zone."""
    return translate_track(parse_gpx(load_gpx_bytes(name)), to_lon=to_lon, to_lat=to_lat)


def zone_gpx_bytes(name: str, *, to_lon: float = ZONE_CENTRE[0], to_lat: float = ZONE_CENTRE[1]) -> bytes:
    """A real GPX file moved into the zone and re-serialised as GPX bytes, ready to upload."""
    return track_to_gpx_bytes(zone_track(name, to_lon=to_lon, to_lat=to_lat))
