"""Camera registry writes; a camera's station follows from its location."""
from __future__ import annotations

import sqlalchemy as sa
from shapely.geometry import Point
from sqlalchemy.orm import Session

from gridsvc.cameras.gbt28181 import parse_device_id
from gridsvc.cameras.models import KINDS, STATUSES, Camera
from gridsvc.errors import ConflictError, ValidationError
from gridsvc.geo.shapes import to_db
from gridsvc.grids.service import station_at


def create_camera(
    session: Session,
    *,
    device_id: str,
    name: str,
    kind: str,
    lon: float,
    lat: float,
    police_linked: bool = True,
    status: str = "online",
    region_prefix: str | None = None,
) -> Camera:
    """Register a camera after validating its GB/T 28181 id and locating its station."""
    device = parse_device_id(device_id, cameras_only=True, region_prefix=region_prefix)
    if kind not in KINDS:
        raise ValidationError("camera_kind", "Camera kind must be security or grid; got %(kind)s", kind=kind)
    if status not in STATUSES:
        raise ValidationError("camera_status", "Status must be online, offline or fault; got %(status)s", status=status)
    name = (name or "").strip()
    if not name:
        raise ValidationError("camera_name_required", "A camera needs a name")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        if -90 <= lon <= 90 and -180 <= lat <= 180 and station_at(session, lon=lat, lat=lon) is not None:
            raise ValidationError("swapped_coordinates", "Longitude and latitude look swapped (%(lon)s, %(lat)s)", lon=lon, lat=lat)
        raise ValidationError("bad_coordinates", "Coordinates must be WGS-84 longitude/latitude in degrees")
    if session.scalar(sa.select(Camera.id).where(Camera.device_id == device.value)) is not None:
        raise ConflictError("camera_duplicate", "Device id %(device_id)s is already registered", device_id=device.value)
    station = station_at(session, lon=lon, lat=lat)
    if station is None:
        if station_at(session, lon=lat, lat=lon) is not None:
            raise ValidationError("swapped_coordinates", "Longitude and latitude look swapped (%(lon)s, %(lat)s)", lon=lon, lat=lat)
        raise ValidationError("outside_zone", "The point (%(lon)s, %(lat)s) lies in no station", lon=lon, lat=lat)
    camera = Camera(
        device_id=device.value, name=name, kind=kind, police_linked=bool(police_linked), status=status,
        station=station, geom=to_db(Point(lon, lat)),
    )
    session.add(camera)
    session.flush()
    return camera


def list_cameras(session: Session) -> list[Camera]:
    """All cameras ordered by device id."""
    return list(session.scalars(sa.select(Camera).order_by(Camera.device_id)))


def cameras_geojson(session: Session) -> dict:
    """All cameras as an RFC 7946 FeatureCollection with their GB/T 28181 id parts."""
    from gridsvc.grids.models import Grid

    rows = session.execute(
        sa.select(Camera, Grid.code, sa.func.ST_X(Camera.geom), sa.func.ST_Y(Camera.geom))
        .join(Grid, Camera.station_id == Grid.id)
        .order_by(Camera.device_id)
    ).all()
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": camera.device_id,
                "properties": {
                    "device_id": camera.device_id,
                    "name": camera.name,
                    "kind": camera.kind,
                    "police_linked": camera.police_linked,
                    "status": camera.status,
                    "station_code": station_code,
                    "id_parts": parse_device_id(camera.device_id).parts(),
                },
                "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
            }
            for camera, station_code, lon, lat in rows
        ],
    }
