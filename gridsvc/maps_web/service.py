"""Features for the overview map: grids with completion figures, cameras, tracks, effort cells."""
from __future__ import annotations

import math
from collections import defaultdict
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from gridsvc.cameras.models import Camera
from gridsvc.cameras.service import cameras_geojson
from gridsvc.grids.models import Grid
from gridsvc.grids.service import grids_geojson
from gridsvc.patrols.models import COUNTED, PatrolSession
from gridsvc.people.models import Patroller
from gridsvc.periods import Period
from gridsvc.figures import hours
from gridsvc.reports.service import completion

# Tracks drawn at most; beyond this the effort layer still counts every track.
MAX_TRACKS_DRAWN = 2000
EFFORT_CELL_METRES = 500.0


def grids_with_completion(session: Session, *, period: Period, kind: str, quota_hours_per_year) -> dict:
    """Grid features whose stations carry volunteers, hours, percent (for `kind`) and camera_count."""
    collection = grids_geojson(session)
    report = completion(session, period=period, quota_hours_per_year=quota_hours_per_year, tables=("station",))
    by_station = {row["station_code"]: row for row in report["by_station"]}
    camera_counts = dict(session.execute(
        sa.select(Grid.code, sa.func.count(Camera.id)).join(Camera, Camera.station_id == Grid.id)
        .where(Camera.retired_at.is_(None)).group_by(Grid.code)
    ).all())
    for feature in collection["features"]:
        props = feature["properties"]
        row = by_station.get(props["code"])
        if row is not None:
            figure = row["by_kind"][kind]
            props.update(volunteers=row["volunteers"], hours=f"{figure['hours']:.2f}",
                         percent=None if figure["percent"] is None else f"{figure['percent']:.2f}")
        props["camera_count"] = camera_counts.get(props["code"], 0)
    return collection


def tracks_geojson(session: Session, *, period: Period, station_code: str | None = None,
                   kind: str | None = None, tz: str) -> dict:
    """Patrol tracks that start in the period (optionally one station and kind), newest first."""
    start_utc, end_utc = period.utc_bounds()
    query = (
        sa.select(PatrolSession.kind, PatrolSession.track, PatrolSession.started_at, PatrolSession.ended_at,
                  PatrolSession.duration_seconds, Patroller.name)
        .join(Patroller, PatrolSession.patroller_id == Patroller.id)
        .where(COUNTED, PatrolSession.track.isnot(None))
        .where(PatrolSession.started_at >= start_utc, PatrolSession.started_at < end_utc)
        .order_by(PatrolSession.started_at.desc())
        .limit(MAX_TRACKS_DRAWN)
    )
    if station_code:
        query = query.join(Grid, PatrolSession.station_id == Grid.id).where(Grid.code == station_code)
    if kind:
        query = query.where(PatrolSession.kind == kind)
    zone = ZoneInfo(tz)
    features = []
    for row in session.execute(query):
        line = to_shape(row.track)
        features.append({
            "type": "Feature",
            "properties": {
                "kind": row.kind, "patroller": row.name,
                "start": row.started_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "end": row.ended_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "hours": f"{hours(row.duration_seconds):.2f}",
            },
            "geometry": {"type": "LineString", "coordinates": [list(c[:2]) for c in line.coords]},
        })
    return {"type": "FeatureCollection", "features": features}


def effort_cells(tracks: dict, *, cell_metres: float = EFFORT_CELL_METRES) -> dict:
    """Patrol hours per square cell: each track's hours split evenly over its vertices' cells."""
    if not tracks["features"]:
        return {"type": "FeatureCollection", "features": []}
    latitudes = [c[1] for f in tracks["features"] for c in f["geometry"]["coordinates"]]
    mid_lat = sum(latitudes) / len(latitudes)
    cell_lat = cell_metres / 110_574.0
    cell_lon = cell_metres / (111_320.0 * math.cos(math.radians(mid_lat)))
    seconds_by_cell: dict[tuple[int, int], float] = defaultdict(float)
    for feature in tracks["features"]:
        coords = feature["geometry"]["coordinates"]
        share = float(feature["properties"]["hours"]) / len(coords)
        for lon, lat in coords:
            seconds_by_cell[(math.floor(lon / cell_lon), math.floor(lat / cell_lat))] += share
    features = []
    for (ix, iy), cell_hours in sorted(seconds_by_cell.items()):
        west, south = ix * cell_lon, iy * cell_lat
        ring = [[west, south], [west + cell_lon, south], [west + cell_lon, south + cell_lat],
                [west, south + cell_lat], [west, south]]
        features.append({"type": "Feature", "properties": {"hours": f"{cell_hours:.2f}"},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return {"type": "FeatureCollection", "features": features}


def overview_features(session: Session, *, period: Period, kind: str, station_code: str | None,
                      quota_hours_per_year, tz: str) -> dict:
    """Everything the overview map shows, as GeoJSON FeatureCollections keyed for build_overview_map."""
    tracks = tracks_geojson(session, period=period, station_code=station_code, kind=kind, tz=tz)
    return {
        "grids": grids_with_completion(session, period=period, kind=kind, quota_hours_per_year=quota_hours_per_year),
        "cameras": cameras_geojson(session),
        "tracks": tracks,
        # No tracks, no effort layer: an all-zero legend would only confuse.
        "effort": effort_cells(tracks) if tracks["features"] else None,
    }
