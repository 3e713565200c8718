"""Camera registry: create, edit, retire, history and shares; a camera's station follows from its location.

Every change of a camera's link, status, name, kind, location or retirement is written to
camera_status_changes in the same flush, with the acting user (gridsvc.audit's context, or an
explicit `actor=`). Services only flush; the request or the CLI's session scope commits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import sqlalchemy as sa
from shapely.geometry import Point
from sqlalchemy.orm import Session

from gridsvc.apidoc import BOOLEAN, COUNT, DATE_TIME, NUMBER, STRING, array, nullable, obj
from gridsvc.cameras.gbt28181 import ID_PARTS, parse_device_id
from gridsvc.cameras.models import KINDS, STATUSES, Camera, CameraStatusChange
from gridsvc.db import utcnow
from gridsvc.errors import ConflictError, NotFoundError, ValidationError
from gridsvc.geo.geodesy import geodesic_distance_m
from gridsvc.geo.shapes import to_db
from gridsvc.grids.models import Grid
from gridsvc.grids.service import station_at

# Two positions closer than this are the same place: exported files carry 7 decimals (≤ 1.1 cm).
LOCATION_TOLERANCE_M = 0.05
# A row whose position matches a stored camera this closely once read in the other system was
# given in the wrong system (the GCJ-02 offset here is about 576 m).
CRS_MISMATCH_TOLERANCE_M = 1.0
NAME_MAX = 200
NOTE_MAX = 500
UNSET = object()

CRS_ALIASES = {
    "wgs84": "wgs84", "wgs-84": "wgs84", "wgs_84": "wgs84", "epsg:4326": "wgs84", "4326": "wgs84",
    "cgcs2000": "wgs84", "epsg:4490": "wgs84",  # CGCS2000 differs from WGS-84 by centimetres (field notes §4)
    "gcj02": "gcj02", "gcj-02": "gcj02", "gcj_02": "gcj02", "gcj": "gcj02",
}
TRUE_WORDS = {"1", "true", "yes", "y", "t", "是", "已接入"}
FALSE_WORDS = {"0", "false", "no", "n", "f", "否", "未接入"}


# --- input checks (pure) ---------------------------------------------------------------------------

def normalise_crs(value) -> str:
    """'wgs84' or 'gcj02' from the usual spellings (WGS-84, EPSG:4326, GCJ-02, ...); ValidationError otherwise."""
    if value is None or value == "":
        return "wgs84"
    key = str(value).strip().lower() if isinstance(value, str) else None
    if key not in CRS_ALIASES:
        raise ValidationError("camera_crs", "Coordinate system must be wgs84 or gcj02; got %(crs)s", crs=str(value)[:40])
    return CRS_ALIASES[key]


def to_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """A position in `crs` as WGS-84 longitude/latitude."""
    if crs == "gcj02":
        from maps.gcj02 import gcj02_to_wgs84

        return gcj02_to_wgs84(lon, lat)
    return lon, lat


def from_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """A WGS-84 position expressed in `crs`."""
    if crs == "gcj02":
        from maps.gcj02 import wgs84_to_gcj02

        return wgs84_to_gcj02(lon, lat)
    return lon, lat


def _has_control_characters(text: str) -> bool:
    return any(ord(char) < 32 or ord(char) == 127 for char in text)


def check_name(value) -> str:
    """A camera name: text, trimmed, 1-200 characters, no control characters."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("camera_name_required", "A camera needs a name")
    name = value.strip()
    if len(name) > NAME_MAX:
        raise ValidationError("camera_name_length", "A camera name has at most %(max)s characters", max=NAME_MAX)
    if _has_control_characters(name):
        raise ValidationError("camera_name_characters", "A camera name cannot contain control characters")
    return name


def check_kind(value) -> str:
    """security or grid."""
    if value not in KINDS:
        raise ValidationError("camera_kind", "Camera kind must be security or grid; got %(kind)s", kind=str(value)[:40])
    return value


def check_status(value) -> str:
    """online, offline or fault."""
    if value not in STATUSES:
        raise ValidationError("camera_status", "Status must be online, offline or fault; got %(status)s",
                              status=str(value)[:40])
    return value


def check_police_linked(value) -> bool:
    """A boolean, or 1/0, true/false, yes/no, 是/否 as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise ValidationError("camera_police_linked", "police_linked must be true or false (1 or 0); got %(value)s",
                          value=str(value)[:40])


def check_coordinate(value, field: str) -> float:
    """A finite number of degrees (numbers, or numeric text as in CSV files)."""
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # a JSON integer beyond float range
            number = None
    elif isinstance(value, str) and value.strip():
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise ValidationError("camera_coordinate", "%(field)s must be a number of degrees; got %(value)s",
                              field=field, value=str(value)[:40])
    return number


def check_note(value) -> str | None:
    """An optional free-text reason: at most 500 characters, no control characters but newlines."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError("camera_note", "The note must be text")
    text = value.strip()
    if len(text) > NOTE_MAX or any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise ValidationError("camera_note", "The note must be text of at most %(max)s characters", max=NOTE_MAX)
    return text or None


@dataclass(frozen=True)
class CameraInput:
    """Checked camera fields; the position still in the system it was given in (source_crs)."""

    device_id: str
    name: str
    kind: str
    police_linked: bool
    status: str
    source_crs: str
    source_lon: float
    source_lat: float


def check_camera_input(*, device_id, name, kind, lon, lat, police_linked=True, status="online", crs="wgs84",
                       region_prefix: str | None = None) -> CameraInput:
    """Every check of a new camera that needs no database: id, name, kind, link, status, numbers, system."""
    device = parse_device_id(device_id, cameras_only=True, region_prefix=region_prefix)
    return CameraInput(
        device_id=device.value, name=check_name(name), kind=check_kind(kind),
        police_linked=check_police_linked(police_linked), status=check_status(status),
        source_crs=normalise_crs(crs), source_lon=check_coordinate(lon, "lon"), source_lat=check_coordinate(lat, "lat"),
    )


# --- location --------------------------------------------------------------------------------------

def _in_range(lon: float, lat: float) -> bool:
    return -180 <= lon <= 180 and -90 <= lat <= 90


def diagnose_unlocated(session: Session, *, lon: float, lat: float, crs: str, locate=None) -> ValidationError:
    """Why a position given in `crs` lies in no station: swapped, the other system, out of range, or outside."""
    locate = locate or (lambda x, y: station_at(session, lon=x, lat=y))
    if _in_range(lat, lon):
        swapped = to_wgs84(lat, lon, crs)
        if locate(*swapped) is not None:
            return ValidationError("swapped_coordinates", "Longitude and latitude look swapped (%(lon)s, %(lat)s)",
                                   lon=lon, lat=lat)
    if not _in_range(lon, lat):
        return ValidationError("bad_coordinates", "Coordinates must be WGS-84 longitude/latitude in degrees")
    other = "wgs84" if crs == "gcj02" else "gcj02"
    if locate(*to_wgs84(lon, lat, other)) is not None:
        return ValidationError(
            "crs_suspected",
            "The point (%(lon)s, %(lat)s) lies in no station read as %(crs)s, but does read as %(other)s; "
            "give its coordinate system as %(other)s",
            lon=lon, lat=lat, crs=crs, other=other,
        )
    return ValidationError("outside_zone", "The point (%(lon)s, %(lat)s) lies in no station", lon=lon, lat=lat)


def locate(session: Session, *, lon: float, lat: float, crs: str) -> tuple[float, float, Grid]:
    """WGS-84 lon, lat and station of a position given in `crs`; a ValidationError says why it has none."""
    if _in_range(lon, lat):
        wgs_lon, wgs_lat = to_wgs84(lon, lat, crs)
        station = station_at(session, lon=wgs_lon, lat=wgs_lat)
        if station is not None:
            return wgs_lon, wgs_lat, station
    raise diagnose_unlocated(session, lon=lon, lat=lat, crs=crs)


def camera_lon_lat(session: Session, camera: Camera) -> tuple[float, float]:
    """The stored WGS-84 position of a camera."""
    lon, lat = session.execute(sa.select(sa.func.ST_X(Camera.geom), sa.func.ST_Y(Camera.geom))
                               .where(Camera.id == camera.id)).one()
    return float(lon), float(lat)


def same_place(a: tuple[float, float], b: tuple[float, float], tolerance_m: float = LOCATION_TOLERANCE_M) -> bool:
    """True when two WGS-84 (lon, lat) positions are within tolerance_m metres."""
    return geodesic_distance_m(a[0], a[1], b[0], b[1]) <= tolerance_m


def location_text(lon: float, lat: float) -> str:
    """A position as it is written in the history: 'lon,lat' with 7 decimals."""
    return f"{lon:.7f},{lat:.7f}"


# --- history ---------------------------------------------------------------------------------------

def actor_name(actor: str | None = None) -> str | None:
    """The explicit actor, else the one gridsvc.audit's context holds for this request or command."""
    if actor:
        return str(actor)[:200]
    try:
        from gridsvc.audit.context import current_actor
    except ImportError:  # the audit package is optional for the registry
        return None
    return current_actor().description[:200]


def _value_text(field: str, value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)[:200]


def record_change(session: Session, camera: Camera, *, field: str, old, new, actor: str | None,
                  note: str | None = None, at=None) -> CameraStatusChange:
    """Append one history row for a camera (flushed with the camera)."""
    change = CameraStatusChange(
        camera=camera, field=field, old_value=_value_text(field, old), new_value=_value_text(field, new),
        changed_at=at or utcnow(), actor=actor, note=(note or None) and note[:NOTE_MAX],
    )
    session.add(change)
    return change


# --- writes ----------------------------------------------------------------------------------------

def _existing_device(session: Session, device_id: str) -> Camera | None:
    return session.scalar(sa.select(Camera).where(Camera.device_id == device_id))


def insert_camera(session: Session, *, fields: CameraInput, lon: float, lat: float, station: Grid,
                  actor: str | None, note: str | None = None, flush: bool = True) -> Camera:
    """Add a checked camera at a located WGS-84 position and write its initial status and link."""
    camera = Camera(
        device_id=fields.device_id, name=fields.name, kind=fields.kind, police_linked=fields.police_linked,
        status=fields.status, station=station, geom=to_db(Point(lon, lat)), source_crs=fields.source_crs,
        source_lon=fields.source_lon, source_lat=fields.source_lat,
    )
    session.add(camera)
    now = utcnow()
    record_change(session, camera, field="status", old=None, new=fields.status, actor=actor, note=note, at=now)
    record_change(session, camera, field="police_linked", old=None, new=fields.police_linked, actor=actor, note=note,
                  at=now)
    if flush:
        session.flush()
    return camera


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
    crs: str = "wgs84",
    region_prefix: str | None = None,
    actor: str | None = None,
    note: str | None = None,
) -> Camera:
    """Register a camera: GB/T 28181 id (camera types, region), fields, unique id, position inside a station.

    lon/lat are in `crs` (wgs84 or gcj02); GCJ-02 is converted to WGS-84 and the given values kept.
    """
    fields = check_camera_input(device_id=device_id, name=name, kind=kind, lon=lon, lat=lat,
                                police_linked=police_linked, status=status, crs=crs, region_prefix=region_prefix)
    note = check_note(note)
    if _existing_device(session, fields.device_id) is not None:
        raise ConflictError("camera_duplicate", "Device id %(device_id)s is already registered",
                            device_id=fields.device_id)
    wgs_lon, wgs_lat, station = locate(session, lon=fields.source_lon, lat=fields.source_lat, crs=fields.source_crs)
    try:
        # A savepoint: if a concurrent request registered the same id since the check above, the
        # unique constraint answers and only this insert is undone (PostgreSQL would otherwise
        # abort the whole transaction). SQLite's BEGIN IMMEDIATE already serialises writers.
        with session.begin_nested():
            return insert_camera(session, fields=fields, lon=wgs_lon, lat=wgs_lat, station=station,
                                 actor=actor_name(actor), note=note)
    except sa.exc.IntegrityError:
        raise ConflictError("camera_duplicate", "Device id %(device_id)s is already registered",
                            device_id=fields.device_id) from None


def camera_not_found(device_id) -> NotFoundError:
    """The answer for a camera that is not there (or not the caller's to see)."""
    return NotFoundError("camera_not_found", "No camera has the device id %(device_id)s", device_id=str(device_id)[:40])


def get_camera(session: Session, *, device_id) -> Camera:
    """The camera with this device id (retired ones too), or NotFoundError."""
    text = device_id.strip() if isinstance(device_id, str) else ""
    camera = None
    if len(text) == 20 and text.isascii() and text.isdigit():
        camera = _existing_device(session, text)
    if camera is None:
        raise camera_not_found(device_id)
    return camera


def update_camera(
    session: Session,
    *,
    device_id: str,
    name=UNSET,
    kind=UNSET,
    police_linked=UNSET,
    status=UNSET,
    lon=UNSET,
    lat=UNSET,
    crs="wgs84",
    actor: str | None = None,
    note: str | None = None,
    allowed_station_ids: set[int] | None = None,
) -> list[str]:
    """Change some fields of a camera in service; returns the fields that really changed (history written).

    Moving a camera (lon and lat together, in `crs`) re-derives its station. With
    allowed_station_ids, a camera may not be moved into a station outside that set.
    """
    camera = get_camera(session, device_id=device_id)
    if camera.retired_at is not None:
        raise ConflictError("camera_retired", "Camera %(device_id)s is retired and cannot be changed",
                            device_id=camera.device_id)
    note = check_note(note)
    wanted: dict = {}
    if name is not UNSET:
        wanted["name"] = check_name(name)
    if kind is not UNSET:
        wanted["kind"] = check_kind(kind)
    if police_linked is not UNSET:
        wanted["police_linked"] = check_police_linked(police_linked)
    if status is not UNSET:
        wanted["status"] = check_status(status)
    if (lon is UNSET) != (lat is UNSET):
        raise ValidationError("camera_location_pair", "Give lon and lat together to move a camera")
    location = None
    if lon is not UNSET:
        source_crs = normalise_crs(crs)
        source = (check_coordinate(lon, "lon"), check_coordinate(lat, "lat"))
        wgs_lon, wgs_lat, station = locate(session, lon=source[0], lat=source[1], crs=source_crs)
        if allowed_station_ids is not None and station.id not in allowed_station_ids:
            raise ValidationError("camera_station_not_allowed",
                                  "The new position lies in station %(station)s, which you do not manage",
                                  station=station.code)
        location = (wgs_lon, wgs_lat, station, source_crs, source)
    return apply_changes(session, camera, wanted=wanted, location=location, actor=actor_name(actor), note=note)


def apply_changes(session: Session, camera: Camera, *, wanted: dict, location, actor: str | None,
                  note: str | None = None, flush: bool = True) -> list[str]:
    """Set checked values on a camera, writing one history row per field that really changed."""
    changed = []
    now = utcnow()
    for field in ("police_linked", "status", "name", "kind"):
        if field in wanted and getattr(camera, field) != wanted[field]:
            record_change(session, camera, field=field, old=getattr(camera, field), new=wanted[field], actor=actor,
                          note=note, at=now)
            setattr(camera, field, wanted[field])
            changed.append(field)
    if location is not None:
        wgs_lon, wgs_lat, station, source_crs, source = location
        old = camera_lon_lat(session, camera)
        if not same_place(old, (wgs_lon, wgs_lat)):
            record_change(session, camera, field="location", old=location_text(*old),
                          new=location_text(wgs_lon, wgs_lat), actor=actor, note=note, at=now)
            camera.geom = to_db(Point(wgs_lon, wgs_lat))
            camera.station = station
            camera.source_crs, (camera.source_lon, camera.source_lat) = source_crs, source
            changed.append("location")
    if changed:
        camera.updated_at = now
    if flush:
        session.flush()
    return changed


def retire_camera(session: Session, *, device_id: str, reason: str | None = None, actor: str | None = None) -> Camera:
    """Take a camera out of service: kept with its history and id, left out of maps, shares and coverage."""
    camera = get_camera(session, device_id=device_id)
    if camera.retired_at is not None:
        raise ConflictError("camera_already_retired", "Camera %(device_id)s is already retired",
                            device_id=camera.device_id)
    note = check_note(reason)
    now = utcnow()
    camera.retired_at = now
    camera.updated_at = now
    record_change(session, camera, field="retired", old=None, new=now.isoformat(), actor=actor_name(actor), note=note,
                  at=now)
    session.flush()
    return camera


# --- reads -----------------------------------------------------------------------------------------

def camera_history(session: Session, *, device_id: str) -> list[CameraStatusChange]:
    """A camera's changes, newest first."""
    camera = get_camera(session, device_id=device_id)
    return list(session.scalars(sa.select(CameraStatusChange).where(CameraStatusChange.camera_id == camera.id)
                                .order_by(CameraStatusChange.changed_at.desc(), CameraStatusChange.id.desc())))


@dataclass(frozen=True)
class CameraFilter:
    """Which cameras a list shows; None means no restriction on that field."""

    station_ids: frozenset[int] | None = None  # the caller's visible stations
    station_code: str | None = None
    status: str | None = None
    kind: str | None = None
    police_linked: bool | None = None
    retired: str = "no"  # no (in service), only, all
    search: str | None = None


def _filtered(query, wanted: CameraFilter):
    if wanted.station_ids is not None:
        query = query.where(Camera.station_id.in_(sorted(wanted.station_ids)))
    if wanted.station_code:
        query = query.where(Grid.code == wanted.station_code)
    if wanted.status:
        query = query.where(Camera.status == wanted.status)
    if wanted.kind:
        query = query.where(Camera.kind == wanted.kind)
    if wanted.police_linked is not None:
        query = query.where(Camera.police_linked == wanted.police_linked)
    if wanted.retired == "no":
        query = query.where(Camera.retired_at.is_(None))
    elif wanted.retired == "only":
        query = query.where(Camera.retired_at.is_not(None))
    if wanted.search:
        pattern = "%" + wanted.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(sa.or_(Camera.device_id.like(pattern, escape="\\"), Camera.name.like(pattern, escape="\\")))
    return query


def check_filter(*, station_ids=None, station_code=None, status=None, kind=None, police_linked=None, retired="no",
                 search=None) -> CameraFilter:
    """A CameraFilter from loose (query-string) values; ValidationError for values that can't match."""
    if station_code is not None and station_code != "" and not (
            isinstance(station_code, str) and station_code.isascii() and station_code.isdigit() and len(station_code) <= 32):
        raise ValidationError("camera_filter", "Unknown filter value %(value)s", value=str(station_code)[:40])
    if status:
        check_status(status)
    if kind:
        check_kind(kind)
    linked = None if police_linked in (None, "") else check_police_linked(police_linked)
    if retired not in ("no", "only", "all"):
        raise ValidationError("camera_filter", "Unknown filter value %(value)s", value=str(retired)[:40])
    if search is not None and (not isinstance(search, str) or len(search) > 100 or _has_control_characters(search)):
        raise ValidationError("camera_filter", "Unknown filter value %(value)s", value=str(search)[:40])
    return CameraFilter(
        station_ids=frozenset(station_ids) if station_ids is not None else None, station_code=station_code or None,
        status=status or None, kind=kind or None, police_linked=linked, retired=retired,
        search=(search or "").strip() or None,
    )


def list_cameras(session: Session, *, wanted: CameraFilter | None = None, limit: int | None = None,
                 offset: int = 0) -> tuple[list[Camera], int]:
    """Cameras matching the filter, ordered by device id, and how many match in all."""
    wanted = wanted or CameraFilter()
    base = _filtered(sa.select(Camera).join(Grid, Camera.station_id == Grid.id), wanted)
    total = session.scalar(sa.select(sa.func.count()).select_from(base.subquery()))
    query = base.order_by(Camera.device_id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query)), total


DEVICE_ID = {"type": "string", "pattern": "^[0-9]{20}$", "description": "GB/T 28181 device id"}
KIND = {"type": "string", "enum": list(KINDS)}
STATUS = {"type": "string", "enum": list(STATUSES)}
POINT = obj({"type": {"const": "Point"}, "coordinates": array(NUMBER, minItems=2, maxItems=2,
                                                             description="longitude, latitude to 7 decimals")},
            required=["type", "coordinates"])
_CAMERA_PROPERTIES = obj({
    "device_id": DEVICE_ID, "name": STRING, "kind": KIND, "police_linked": BOOLEAN, "status": STATUS,
    "station_code": STRING, "id_parts": ID_PARTS,
    "retired_at": {**nullable(DATE_TIME), "description": "only with retired=all"},
}, required=["device_id", "name", "kind", "police_linked", "status", "station_code", "id_parts"])
CAMERA_COLLECTION = obj({
    "type": {"const": "FeatureCollection"},
    "features": array(obj({"type": {"const": "Feature"}, "id": DEVICE_ID, "properties": _CAMERA_PROPERTIES,
                           "geometry": POINT}, required=["type", "id", "properties", "geometry"])),
}, required=["type", "features"], description="RFC 7946, WGS-84, by device id")


def cameras_geojson(session: Session, *, include_retired: bool = False, station_ids=None) -> dict:
    """Cameras in service (all with include_retired) as an RFC 7946 FeatureCollection with their id parts."""
    # Plain columns, not Camera entities: the map asks for every camera (100,000 at city scale),
    # and building ORM objects with their geometry took most of the time.
    query = (
        sa.select(Camera.device_id, Camera.name, Camera.kind, Camera.police_linked, Camera.status,
                  Camera.retired_at, Grid.code, sa.func.ST_X(Camera.geom), sa.func.ST_Y(Camera.geom))
        .join(Grid, Camera.station_id == Grid.id)
        .order_by(Camera.device_id)
    )
    if not include_retired:
        query = query.where(Camera.retired_at.is_(None))
    if station_ids is not None:
        query = query.where(Camera.station_id.in_(sorted(station_ids)))
    features = []
    for device_id, name, kind, police_linked, status, retired_at, station_code, lon, lat in session.execute(query):
        properties = {
            "device_id": device_id,
            "name": name,
            "kind": kind,
            "police_linked": police_linked,
            "status": status,
            "station_code": station_code,
            "id_parts": parse_device_id(device_id).parts(),
        }
        if include_retired:
            properties["retired_at"] = retired_at.isoformat() if retired_at else None
        features.append({
            "type": "Feature",
            "id": device_id,
            "properties": properties,
            "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
        })
    return {"type": "FeatureCollection", "features": features}


def _share(count: int, total: int) -> float | None:
    from gridsvc.figures import percent

    value = percent(count, total)
    return None if value is None else float(value)


_SHARE = {**nullable(NUMBER), "description": "percent rounded half-up to 0.01; null without cameras"}
FIGURES = {
    "cameras": {**COUNT, "description": "in service"}, "linked": {**COUNT, "description": "police-linked"},
    "linked_percent": _SHARE, "online": COUNT, "online_percent": _SHARE, "offline": COUNT, "fault": COUNT,
}
STATS = obj({
    "overall": obj(FIGURES, required=list(FIGURES)),
    "by_station": array(obj({"station_code": STRING, "station_name": STRING, **FIGURES},
                            required=["station_code", "station_name", *FIGURES])),
}, required=["overall", "by_station"])


def _figures(total: int, linked: int, online: int, offline: int, fault: int) -> dict:
    return {
        "cameras": total, "linked": linked, "linked_percent": _share(linked, total),
        "online": online, "online_percent": _share(online, total), "offline": offline, "fault": fault,
    }


def camera_stats(session: Session, *, station_ids=None) -> dict:
    """Cameras in service overall and per station: how many are police-linked and online, as counts and %.

    Percentages are rounded half-up to 0.01 and are None for a station without cameras.
    """
    def count_if(condition):
        return sa.func.sum(sa.case((condition, 1), else_=0))

    stations = sa.select(Grid.id, Grid.code, Grid.name).where(Grid.level == "station")
    if station_ids is not None:
        stations = stations.where(Grid.id.in_(sorted(station_ids)))
    counts = {
        row.station_id: row
        for row in session.execute(
            sa.select(
                Camera.station_id,
                sa.func.count().label("total"),
                count_if(Camera.police_linked.is_(True)).label("linked"),
                count_if(Camera.status == "online").label("online"),
                count_if(Camera.status == "offline").label("offline"),
                count_if(Camera.status == "fault").label("fault"),
            ).where(Camera.retired_at.is_(None)).group_by(Camera.station_id)
        )
    }
    by_station = []
    totals = [0, 0, 0, 0, 0]
    for station_id, code, name in session.execute(stations.order_by(Grid.code)):
        row = counts.get(station_id)
        values = [int(getattr(row, f) or 0) if row else 0 for f in ("total", "linked", "online", "offline", "fault")]
        totals = [a + b for a, b in zip(totals, values)]
        by_station.append({"station_code": code, "station_name": name, **_figures(*values)})
    return {"overall": _figures(*totals), "by_station": by_station}


from gridsvc.cameras.coverage import camera_coverage, coverage_geojson  # noqa: E402,F401  (the map layer's entry points)
