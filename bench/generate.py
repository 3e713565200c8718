"""Deterministic synthetic city-scale data: stations, volunteers, patrol sessions, cameras, points, tracks.

Everything comes from random.Random(seed), so the same sizes and seed give the same rows on every
machine and on both databases. Pure Python: no database, no Flask, no pyproj.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
import uuid
from dataclasses import dataclass, field
from typing import Iterator

# A city-sized extent (about 20 km × 17 km) around central Zhangzhou.
CITY_EXTENT = (117.55, 24.45, 117.75, 24.60)
UTC = dt.timezone.utc
LOCAL = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai has no DST
YEAR = 2020


@dataclass(frozen=True)
class Sizes:
    """How much data a benchmark run generates."""

    stations: int
    volunteers: int
    sessions: int
    points: int
    cameras: tuple[int, ...]
    ingest_sessions: int
    points_per_track: int
    repeats: int  # API/SQL calls per latency measurement
    vertices_per_edge: int = 25  # real station boundaries have many vertices; PIP cost follows them
    seed: int = 20200101


SCALES = {
    # `make bench`: a few minutes on 2 cores for both databases.
    "small": Sizes(stations=30, volunteers=2_000, sessions=50_000, points=10_000, cameras=(252, 2_000),
                   ingest_sessions=500, points_per_track=60, repeats=7),
    # `make bench BENCH_ARGS="--scale city"`: the sizes of issue 8.
    "city": Sizes(stations=300, volunteers=20_000, sessions=1_000_000, points=100_000,
                  cameras=(252, 10_000, 100_000), ingest_sessions=2_000, points_per_track=120, repeats=15),
    # The smoke test's size: seconds.
    "tiny": Sizes(stations=6, volunteers=50, sessions=500, points=300, cameras=(252,),
                  ingest_sessions=20, points_per_track=10, repeats=3),
}


@dataclass
class Station:
    """A station polygon (a densified rectangle) with its code and name."""

    code: str
    name: str
    ring: list[tuple[float, float]]

    def wkt(self) -> str:
        """The station as a WKT MULTIPOLYGON."""
        return "MULTIPOLYGON(((" + ",".join(f"{x:.7f} {y:.7f}" for x, y in self.ring) + ")))"


@dataclass
class City:
    """One generated city: a centre partitioned into stations, and the station count per row."""

    centre_code: str
    centre_ring: list[tuple[float, float]]
    stations: list[Station] = field(default_factory=list)

    def centre_wkt(self) -> str:
        """The centre as a WKT MULTIPOLYGON."""
        return "MULTIPOLYGON(((" + ",".join(f"{x:.7f} {y:.7f}" for x, y in self.centre_ring) + ")))"


def _densified_rectangle(x0: float, y0: float, x1: float, y1: float, per_edge: int) -> list[tuple[float, float]]:
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    ring: list[tuple[float, float]] = []
    for (ax, ay), (bx, by) in zip(corners, corners[1:]):
        for step in range(per_edge):
            t = step / per_edge
            ring.append((ax + (bx - ax) * t, ay + (by - ay) * t))
    ring.append(ring[0])
    return ring


def make_city(sizes: Sizes, *, region_code: str = "350600") -> City:
    """Stations tiling the city extent in rows (no gaps, no overlaps), codes region+001+NNN."""
    x0, y0, x1, y1 = CITY_EXTENT
    centre_code = f"{region_code}001"
    city = City(centre_code, _densified_rectangle(x0, y0, x1, y1, 1))
    rows = max(1, round(math.sqrt(sizes.stations)))
    base, extra = divmod(sizes.stations, rows)
    number = 0
    for row in range(rows):
        columns = base + (1 if row < extra else 0)
        ry0 = y0 + (y1 - y0) * row / rows
        ry1 = y0 + (y1 - y0) * (row + 1) / rows
        for column in range(columns):
            cx0 = x0 + (x1 - x0) * column / columns
            cx1 = x0 + (x1 - x0) * (column + 1) / columns
            number += 1
            city.stations.append(Station(
                code=f"{centre_code}{number:03d}", name=f"Station {number:03d}",
                ring=_densified_rectangle(cx0, ry0, cx1, ry1, sizes.vertices_per_edge),
            ))
    return city


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def patrollers(sizes: Sizes, station_count: int) -> list[dict]:
    """Volunteers (plus 2 % grid workers) spread evenly over stations; ids start at 1."""
    rng = random.Random(sizes.seed + 1)
    workers = max(1, sizes.volunteers // 50)
    rows = []
    for number in range(1, sizes.volunteers + workers + 1):
        role = "volunteer" if number <= sizes.volunteers else "grid_worker"
        joined_late = rng.random() < 0.1
        active_from = dt.date(YEAR, 1, 1) + dt.timedelta(days=rng.randrange(366)) if joined_late else dt.date(2019, 1, 1)
        rows.append({
            "id": number, "role": role, "name": f"{role} {number}",
            "station_index": rng.randrange(station_count), "active_from": active_from,
        })
    return rows


def sessions(sizes: Sizes, people: list[dict]) -> Iterator[tuple]:
    """Patrol sessions of 2020 without tracks, as tuples (uuid, digest, kind, patroller, station index,
    start UTC naive, end UTC naive, seconds); generated lazily so a million rows stream."""
    rng = random.Random(sizes.seed + 2)
    year_start = dt.datetime(YEAR, 1, 1, tzinfo=LOCAL).astimezone(UTC).replace(tzinfo=None)
    year_seconds = 366 * 86400
    count = len(people)
    for _ in range(sizes.sessions):
        person = people[rng.randrange(count)]
        client_uuid = _uuid(rng)
        seconds = rng.randrange(1800, 14401, 60)
        start = year_start + dt.timedelta(seconds=rng.randrange(year_seconds - seconds))
        kind = "group" if rng.random() < 0.5 else "individual"
        yield (client_uuid, hashlib.sha256(client_uuid.encode()).hexdigest(), kind, person["id"],
               person["station_index"], start, start + dt.timedelta(seconds=seconds), seconds)


def points(sizes: Sizes) -> list[tuple[float, float]]:
    """Points over the city extent; about 1 % fall outside it (they belong to no station)."""
    rng = random.Random(sizes.seed + 3)
    x0, y0, x1, y1 = CITY_EXTENT
    margin = 0.005  # ~1 % of points land in this frame around the extent
    return [
        (round(rng.uniform(x0 - margin, x1 + margin), 7), round(rng.uniform(y0 - margin, y1 + margin), 7))
        for _ in range(sizes.points)
    ]


def cameras(count: int, station_count: int, *, seed: int, region_code: str = "350600") -> list[dict]:
    """Cameras with GB/T 28181 ids (centre 8 + industry 2 + type 131 + network 5 + serial 6)."""
    rng = random.Random(seed + 4)
    x0, y0, x1, y1 = CITY_EXTENT
    return [
        {
            "device_id": f"{region_code}00" + "01" + "131" + "5" + f"{number:06d}",
            "name": f"Camera {number}", "kind": "security" if rng.random() < 0.7 else "grid",
            "lon": round(rng.uniform(x0, x1), 7), "lat": round(rng.uniform(y0, y1), 7),
            "station_index": rng.randrange(station_count),
        }
        for number in range(1, count + 1)
    ]


def tracks(sizes: Sizes, people: list[dict]) -> Iterator[dict]:
    """Sessions with GPS tracks for the ingest benchmark: a walk at ~1.2 m/s, a fix every 30 s."""
    rng = random.Random(sizes.seed + 5)
    x0, y0, x1, y1 = CITY_EXTENT
    volunteers = [p for p in people if p["role"] == "volunteer"]
    # The year after the bulk-loaded sessions, so an ingested patrol never overlaps one of them.
    year_start = dt.datetime(YEAR + 1, 1, 1, tzinfo=LOCAL).astimezone(UTC)
    metres_per_degree = 111_320.0
    for _ in range(sizes.ingest_sessions):
        person = volunteers[rng.randrange(len(volunteers))]
        start = year_start + dt.timedelta(seconds=rng.randrange(360 * 86400))
        lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
        heading = rng.uniform(0, 2 * math.pi)
        coords, times = [], []
        for step in range(sizes.points_per_track):
            coords.append((round(lon, 7), round(lat, 7)))
            times.append(start + dt.timedelta(seconds=30 * step))
            heading += rng.uniform(-0.5, 0.5)
            distance = 36.0  # 1.2 m/s × 30 s
            lon += distance * math.cos(heading) / (metres_per_degree * math.cos(math.radians(lat)))
            lat += distance * math.sin(heading) / metres_per_degree
            # Turn back at the city's edge: a track leaving every station is refused by the API.
            if not x0 < lon < x1:
                lon, heading = min(max(lon, x0 + 1e-4), x1 - 1e-4), math.pi - heading
            if not y0 < lat < y1:
                lat, heading = min(max(lat, y0 + 1e-4), y1 - 1e-4), -heading
        yield {
            # Individual patrols: a group patrol must name the task its volunteers signed up for.
            "client_uuid": _uuid(rng), "kind": "individual",
            "patroller_id": person["id"], "station_index": person["station_index"],
            "start": times[0], "end": times[-1], "coords": coords, "times": times,
        }
