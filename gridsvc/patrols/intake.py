"""Turning outside input (API JSON, a web form, a CSV row, a GPX file) into a logged patrol. No Flask.

Every way in goes through PatrolIntake.submit(), so the API, the form, the batch endpoint and the
CLI imports apply the same rules and give the same errors.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from config import DefaultConfig
from gridsvc.db import utcnow
from gridsvc.errors import DomainError, ValidationError
from gridsvc.patrols import service
from gridsvc.patrols.models import PatrolSession
from gridsvc.patrols.tracks import DEFAULT_MAX_BYTES, DEFAULT_MAX_POINTS, Track, parse_geojson_track, parse_gpx
from gridsvc.patrols.verification import Areas, Limits
from gridsvc.people.service import resolve_patroller
from gridsvc.positions.intake import limits_from_config as position_limits_from_config
from gridsvc.positions.intake import store_track_file
from gridsvc.positions.protocols import Limits as PositionLimits

MAX_TIME_TEXT = 64


class PayloadTooLarge(DomainError):
    """The request carries more than the configured caps allow (HTTP 413); nothing was written."""

    http_status = 413


@dataclass(frozen=True)
class IntakeSettings:
    """The configurable limits of patrol intake (from the app's config)."""

    max_track_bytes: int = DEFAULT_MAX_BYTES
    max_track_points: int = DEFAULT_MAX_POINTS
    max_hours: int = 24
    limits: Limits = field(default_factory=Limits)
    # Times without a UTC offset (web forms, spreadsheets) are read in this zone.
    local_timezone: str = DefaultConfig.DISPLAY_TIMEZONE
    # The position flags' thresholds: a track file's points are kept as positions (None: they are not).
    position_limits: PositionLimits | None = None

    @classmethod
    def from_config(cls, config: Mapping) -> IntakeSettings:
        """Settings from the app's config (config.DefaultConfig holds every one of them)."""
        return cls(
            max_track_bytes=int(config["MAX_TRACK_BYTES"]),
            max_track_points=int(config["MAX_TRACK_POINTS"]),
            max_hours=int(config["MAX_SESSION_HOURS"]),
            limits=Limits(
                max_speed_kmh=float(config["VERIFY_MAX_SPEED_KMH"]),
                max_gap_seconds=float(config["VERIFY_MAX_GAP_SECONDS"]),
                zone_tolerance_m=float(config["PATROL_ZONE_TOLERANCE_M"]),
                route_buffer_m=float(config["PATROL_ROUTE_BUFFER_M"]),
            ),
            local_timezone=str(config["DISPLAY_TIMEZONE"]),
            position_limits=position_limits_from_config(config),
        )


def time_format_error(which: str) -> ValidationError:
    """The refusal of an unreadable start or end time (one msgid each, so translations read well)."""
    if which == "end":
        return ValidationError("time_format", "The end time must be ISO-8601, such as 2024-05-01T08:30:00+08:00",
                               which=which)
    return ValidationError("time_format", "The start time must be ISO-8601, such as 2024-05-01T08:30:00+08:00",
                           which=which)


def time_zone_error(which: str) -> ValidationError:
    """The refusal of a start or end time without a UTC offset."""
    if which == "end":
        return ValidationError("time_zone_required", "The end time needs a time zone", which=which)
    return ValidationError("time_zone_required", "The start time needs a time zone", which=which)


def parse_time(value, *, which: str, local_tz: dt.tzinfo | None = None) -> dt.datetime | None:
    """An ISO-8601 time as an aware datetime; naive times are read in local_tz, or refused without one."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_TIME_TEXT:
        raise time_format_error(which)
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise time_format_error(which) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        if local_tz is None:
            raise time_zone_error(which)
        moment = moment.replace(tzinfo=local_tz)
    try:
        return moment.astimezone(dt.timezone.utc)
    except (OverflowError, ValueError):
        raise time_format_error(which) from None


def parse_start_point(value) -> tuple[float, float] | None:
    """(lon, lat) from {"lon", "lat"}, [lon, lat] or a GeoJSON Point; None when absent."""
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, dict):
        if value.get("type") == "Point":
            value = value.get("coordinates")
        elif "lon" in value and "lat" in value:
            value = [value["lon"], value["lat"]]
    if isinstance(value, (list, tuple)) and len(value) in (2, 3):
        lon, lat = value[0], value[1]
        try:
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (lon, lat)):
                return float(lon), float(lat)  # the range is checked after the swapped-coordinates test
        except OverflowError:  # an integer beyond float range
            pass
    raise ValidationError("start_point_format", "The start point must be a longitude and a latitude")


def parse_task_id(value) -> int | None:
    """A task id from JSON (integer) or a form (digits); None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) < 10:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise ValidationError("task_id_format", "task_id must be the number of a group-patrol task")
    return value


class PatrolIntake:
    """Checks and logs submissions for one database session (one request, one import)."""

    def __init__(self, session: Session, settings: IntakeSettings | None = None, *, now: dt.datetime | None = None):
        self.session = session
        self.settings = settings or IntakeSettings()
        self.now = now
        self.local_tz = ZoneInfo(self.settings.local_timezone)
        self._areas: Areas | None = None
        self._patroller_ids: dict[tuple[type, object], int] = {}  # a batch names the same people many times
        # Held so the session's (weak) identity map keeps them: later look-ups by id need no query.
        self._patrollers: dict[int, object] = {}

    @property
    def areas(self) -> Areas:
        """The zone and grids, loaded on first use."""
        if self._areas is None:
            self._areas = service.load_areas(self.session)
        return self._areas

    def gpx_track(self, data: bytes) -> Track:
        """A GPX upload parsed behind the hardened parser, with the configured caps."""
        track = parse_gpx(data, max_bytes=self.settings.max_track_bytes, max_points=self.settings.max_track_points,
                          now=self.now, zone_bbox=self.areas.zone_bbox)
        return dataclasses.replace(track, file_format="gpx")

    def geojson_track(self, obj) -> Track:
        """A GeoJSON LineString (with a time per point) parsed with the configured caps."""
        track = parse_geojson_track(obj, max_points=self.settings.max_track_points, now=self.now,
                                    zone_bbox=self.areas.zone_bbox)
        return dataclasses.replace(track, file_format="geojson")

    def fields(self, payload: Mapping, *, naive_times_local: bool = False) -> dict:
        """log_patrol keyword arguments from a JSON object or form fields (track parsed when present)."""
        if not isinstance(payload, Mapping):
            raise ValidationError("json_object_required", "The request body must be a JSON object")
        local_tz = self.local_tz if naive_times_local else None
        client_uuid = payload.get("client_uuid")
        if client_uuid in (None, ""):
            raise ValidationError("client_uuid_required", "client_uuid is required: a UUID made by the client")
        kind = payload.get("kind")
        if not isinstance(kind, str) or kind not in ("group", "individual"):
            raise ValidationError("patrol_kind", "Kind must be group or individual; got %(kind)s", kind=str(kind)[:32])
        patroller_id = self.patroller_id(payload.get("volunteer"))
        track = payload.get("track")
        if track is not None and not isinstance(track, Track):
            track = self.geojson_track(track)
        return {
            "client_uuid": service.normalise_uuid(client_uuid),
            "kind": kind,
            "patroller_id": patroller_id,
            "started_at": parse_time(payload.get("start"), which="start", local_tz=local_tz),
            "ended_at": parse_time(payload.get("end"), which="end", local_tz=local_tz),
            "task_id": parse_task_id(payload.get("task_id")),
            "track": track,
            "start_point": parse_start_point(payload.get("start_point")),
        }

    def patroller_id(self, ref) -> int:
        """The id of the patroller a reference names (resolved once per intake)."""
        key = (type(ref), ref) if isinstance(ref, (str, int)) else None
        if key is not None and key in self._patroller_ids:
            return self._patroller_ids[key]
        patroller = resolve_patroller(self.session, ref)
        patroller_id = patroller.id
        self._patrollers[patroller_id] = patroller
        if key is not None:
            self._patroller_ids[key] = patroller_id
        return patroller_id

    def log(self, fields: dict, *, source: str) -> tuple[PatrolSession, bool]:
        """log_patrol with this intake's areas, limits and caps; a new patrol's track file points kept as positions."""
        patrol, created = service.log_patrol(
            self.session, **fields, source=source, areas=self.areas if fields.get("track") or fields.get("start_point")
            else None, limits=self.settings.limits, max_hours=self.settings.max_hours, now=self.now,
        )
        track = fields.get("track")
        if created and track is not None and track.file_format and self.settings.position_limits is not None:
            store_track_file(self.session, patroller_id=patrol.patroller_id, source=track.file_format,
                             points=[(point.time, point.lon, point.lat) for point in track.points],
                             now=self.now or utcnow(),
                             limits=self.settings.position_limits)
        return patrol, created

    def submit(self, payload: Mapping, *, source: str, naive_times_local: bool = False) -> tuple[PatrolSession, bool]:
        """Check and log one submission; returns (session, created)."""
        return self.log(self.fields(payload, naive_times_local=naive_times_local), source=source)
