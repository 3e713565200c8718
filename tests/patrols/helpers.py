"""Helpers of the patrol API/web/CLI tests: requests, row counts, tracks moved in time, reference figures.

The reference figures are computed here without gridsvc's code: ElementTree for reading GPX
(gpx_helpers.read_reference_segments), a local-ellipsoid distance instead of Vincenty, and a
ray-casting point-in-polygon test on the seed's own GeoJSON instead of shapely.
"""
from __future__ import annotations

import io
import json
import math
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from gridsvc.patrols.models import PatrolGridTime, PatrolSession, TaskSignup
from gridsvc.patrols.track import Track, TrackPoint
from tests.patrols.gpx_helpers import read_reference_segments, track_to_gpx_bytes, zone_track

SHANGHAI = ZoneInfo("Asia/Shanghai")
GRIDS_GEOJSON = Path(__file__).resolve().parents[2] / "seed" / "data" / "grids.geojson"

# Seed volunteers (seed/data/volunteers.csv): their stations and codes in the seeded database.
VOLUNTEER_S08 = "XLXQ000028"  # station S08, which holds the zone's centre (117.30, 23.88)
VOLUNTEER_S14 = "XLXQ000001"
STATION_S08 = "350600001008"
STATION_S14 = "350600001014"

WGS84_A = 6378137.0
WGS84_E2 = (1 / 298.257223563) * (2 - 1 / 298.257223563)


def new_uuid() -> str:
    """A fresh client uuid."""
    return str(uuid.uuid4())


def local(text: str) -> str:
    """'2021-03-01 19:00' in Shanghai as ISO-8601 with offset."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).isoformat()


def patrol_body(**changes) -> dict:
    """A valid individual-patrol JSON body for the S08 volunteer, with changes."""
    body = {"client_uuid": new_uuid(), "kind": "individual", "volunteer": VOLUNTEER_S08,
            "start": local("2021-03-01 19:00"), "end": local("2021-03-01 21:00")}
    body.update(changes)
    return body


def post_json(client, path: str, body, lang: str = "en"):
    """POST a JSON body with English messages."""
    return client.post(f"{path}?lang={lang}", data=json.dumps(body), content_type="application/json")


def post_gpx(client, data: bytes, lang: str = "en", **fields):
    """POST a GPX file as multipart to /api/v1/patrols."""
    form = {"client_uuid": new_uuid(), "kind": "individual", "volunteer": VOLUNTEER_S08, **fields,
            "track": (io.BytesIO(data), "patrol.gpx")}
    return client.post(f"/api/v1/patrols?lang={lang}", data=form, content_type="multipart/form-data")


def count(app, model=PatrolSession, *where) -> int:
    """Rows of a table as the test's transaction sees them."""
    session = app.extensions["gridsvc"].sessions()
    try:
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))
    finally:
        session.close()


def counts(app) -> tuple[int, int, int]:
    """(sessions, grid-time rows, sign-ups): what a refused request must leave unchanged."""
    return count(app, PatrolSession), count(app, PatrolGridTime), count(app, TaskSignup)


def shifted(track: Track, *, starting: datetime) -> Track:
    """The same track with every time moved so it starts at `starting`."""
    delta = starting - track.start
    return Track(points=tuple(TrackPoint(p.lon, p.lat, p.time + delta) for p in track.points),
                 segments=track.segments, dropped_duplicates=track.dropped_duplicates,
                 dropped_untimed=track.dropped_untimed)


def zone_gpx(name: str, *, starting: datetime | None = None, to_lon: float = 117.30, to_lat: float = 23.88) -> bytes:
    """A shared real GPX file moved into the zone (and optionally in time), as GPX bytes."""
    track = zone_track(name, to_lon=to_lon, to_lat=to_lat)
    if starting is not None:
        track = shifted(track, starting=starting)
    return track_to_gpx_bytes(track)


def local_ellipsoid_m(lon1, lat1, lon2, lat2) -> float:
    """Distance with the ellipsoid's radii of curvature at the mid-latitude (not Vincenty)."""
    phi = math.radians((lat1 + lat2) / 2)
    s2 = math.sin(phi) ** 2
    meridian = WGS84_A * (1 - WGS84_E2) / (1 - WGS84_E2 * s2) ** 1.5
    prime_vertical = WGS84_A / math.sqrt(1 - WGS84_E2 * s2)
    return math.hypot(meridian * math.radians(lat2 - lat1), prime_vertical * math.cos(phi) * math.radians(lon2 - lon1))


def station_ring(key: str) -> list[tuple[float, float]]:
    """The outer ring of a station of the seed's grids.geojson (S01..S15)."""
    collection = json.loads(GRIDS_GEOJSON.read_text(encoding="utf-8"))
    feature = next(f for f in collection["features"] if f["properties"]["key"] == key)
    return [tuple(p) for p in feature["geometry"]["coordinates"][0]]


def ray_cast_inside(lon: float, lat: float, ring: list[tuple[float, float]]) -> bool:
    """Even-odd point-in-polygon test."""
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def reference_figures(data: bytes, *, ring=None, max_speed_kmh=25.0, max_gap_seconds=600.0) -> dict:
    """Duration, length and the verified/too-fast/gap/outside split of GPX bytes, computed independently."""
    segments = [s for s in read_reference_segments(data) if all(p[2] is not None for p in s)]
    points = sorted((p for s in segments for p in s), key=lambda p: p[2])
    unique = []
    for point in points:
        if point not in unique[-5:]:
            unique.append(point)
    length = fast = gap = outside = 0.0
    for (lon1, lat1, t1), (lon2, lat2, t2) in zip(unique, unique[1:]):
        seconds = (t2 - t1).total_seconds()
        distance = local_ellipsoid_m(lon1, lat1, lon2, lat2)
        length += distance
        if seconds > max_gap_seconds:
            gap += seconds
        elif distance > max_speed_kmh / 3.6 * seconds:
            fast += seconds
        elif ring is not None and not ray_cast_inside((lon1 + lon2) / 2, (lat1 + lat2) / 2, ring):
            outside += seconds
    duration = (unique[-1][2] - unique[0][2]).total_seconds()
    return {"start": unique[0][2], "end": unique[-1][2], "duration": duration, "length": length, "fast": fast,
            "gap": gap, "outside": outside, "verified": duration - fast - gap - outside}


def utc(text: str) -> datetime:
    """An ISO time as aware UTC."""
    return datetime.fromisoformat(text).astimezone(UTC)


def minutes(n: float) -> timedelta:
    """n minutes."""
    return timedelta(minutes=n)
