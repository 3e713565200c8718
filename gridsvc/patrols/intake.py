"""Turning outside input (API JSON, a web form, a CSV row, a GPX file) into a logged patrol. No Flask.

The intake is the one validator of a patrol: every way in reads its submission here (uuid, kind,
volunteer, times, task, start point, track), checks that the caller may log it, and hands the
service a NewPatrol it can trust. PatrolIntake.submit() logs one submission; log_many() logs a
batch (the API's batch endpoint, a CSV import), each item in its own savepoint.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
import uuid as uuid_module
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from config import DefaultConfig
from gridsvc.access import can_see_station, ensure_own_record
from gridsvc.errors import DomainError, ValidationError
from gridsvc.patrols import service
from gridsvc.patrols.geojson_track import parse_geojson_track
from gridsvc.patrols.gpx import DEFAULT_MAX_BYTES, parse_gpx
from gridsvc.patrols.models import KINDS, PatrolSession, PatrolTask
from gridsvc.patrols.service import NewPatrol
from gridsvc.patrols.track import DEFAULT_MAX_POINTS, Track, check_not_swapped
from gridsvc.patrols.verification import Limits
from gridsvc.patrols.zone import Zone, load_zone
from gridsvc.people.service import patroller_not_found, resolve_patroller
from gridsvc.positions.intake import limits_from_config as position_limits_from_config
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


# ---------------------------------------------------------------------------------------------
# The fields of a submission, one check each
# ---------------------------------------------------------------------------------------------


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


def normalise_uuid(value) -> str:
    """A client uuid in canonical lower-case form, or ValidationError."""
    try:
        return str(uuid_module.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        raise ValidationError("client_uuid_format", "client_uuid must be a UUID") from None


def require_client_uuid(value):
    """The client_uuid as sent, or ValidationError when it is missing (normalise_uuid checks its form)."""
    if value in (None, ""):
        raise ValidationError("client_uuid_required", "client_uuid is required: a UUID made by the client")
    return value


def parse_kind(value) -> str:
    """The kind of patrol: one of KINDS."""
    if not isinstance(value, str) or value not in KINDS:
        raise ValidationError("patrol_kind", "Kind must be group or individual; got %(kind)s", kind=str(value)[:32])
    return value


def start_point_error() -> ValidationError:
    """The refusal of a start point that is not a longitude and a latitude."""
    return ValidationError("start_point_format", "The start point must be a longitude and a latitude")


def parse_start_point(value) -> tuple[float, float] | None:
    """(lon, lat) from {"lon", "lat"}, [lon, lat] or a GeoJSON Point; None when absent.

    Two finite numbers: their range is checked after the swapped-coordinates test (check_start_point).
    """
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
                return float(lon), float(lat)
        except OverflowError:  # an integer beyond float range
            pass
    raise start_point_error()


def start_point_from_text(lon: str | None, lat: str | None) -> tuple[float, float] | None:
    """The start point of two text fields (a form's start_lon and start_lat, a CSV row's); None when both are empty."""
    if not (lon or lat):
        return None
    return parse_start_point([_number_or_text(lon), _number_or_text(lat)])


def _number_or_text(text: str | None):
    try:
        return float(text)
    except (TypeError, ValueError):
        return text  # not a number: parse_start_point refuses it


def check_start_point(point: tuple[float, float], zone_bbox: tuple[float, float, float, float] | None) -> None:
    """Refuse a start point with swapped coordinates, then one out of range."""
    check_not_swapped([point], zone_bbox)
    if not (-180 <= point[0] <= 180 and -90 <= point[1] <= 90):
        raise start_point_error()


def parse_task_id(value) -> int | None:
    """A task id from JSON (integer) or a form (digits); None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) < 10:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise ValidationError("task_id_format", "task_id must be the number of a group-patrol task")
    return value


def times_required_error() -> ValidationError:
    """The refusal of a patrol with neither a start and an end nor a track with times."""
    return ValidationError("times_required", "A patrol needs a start and an end time, or a track with times")


# ---------------------------------------------------------------------------------------------
# Submissions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What became of one item of log_many: its patrol (new, or the original of a retry), or its refusal."""

    index: int
    payload: object  # the item as read; None when reading it failed
    patrol: PatrolSession | None = None
    created: bool = False
    error: DomainError | None = None


class PatrolIntake:
    """Checks and logs submissions for one database session (one request, one import).

    With a `caller` (the signed-in user) every submission must be for a patroller and a task the
    caller may log for; without one (the CLI) anyone's may be logged.
    """

    def __init__(self, session: Session, settings: IntakeSettings | None = None, *, now: dt.datetime | None = None,
                 caller=None):
        self.session = session
        self.settings = settings or IntakeSettings()
        self.now = now
        self.caller = caller
        self.local_tz = ZoneInfo(self.settings.local_timezone)
        self._zone: Zone | None = None
        self._patroller_ids: dict[tuple[type, object], int] = {}  # a batch names the same people many times
        # Held so the session's (weak) identity map keeps them: later look-ups by id need no query.
        self._patrollers: dict[int, object] = {}

    @property
    def zone(self) -> Zone:
        """The zone and grids, loaded on first use."""
        if self._zone is None:
            self._zone = load_zone(self.session)
        return self._zone

    def gpx_track(self, data: bytes) -> Track:
        """A GPX upload parsed behind the hardened parser, with the configured caps."""
        track = parse_gpx(data, max_bytes=self.settings.max_track_bytes, max_points=self.settings.max_track_points,
                          now=self.now, zone_bbox=self.zone.bbox)
        return dataclasses.replace(track, file_format="gpx")

    def geojson_track(self, obj) -> Track:
        """A GeoJSON LineString (with a time per point) parsed with the configured caps."""
        track = parse_geojson_track(obj, max_points=self.settings.max_track_points, now=self.now,
                                    zone_bbox=self.zone.bbox)
        return dataclasses.replace(track, file_format="geojson")

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

    def patrol(self, payload: Mapping, *, naive_times_local: bool = False) -> NewPatrol:
        """The checked patrol of a JSON object or form fields (a parsed Track may stand in for `track`)."""
        if not isinstance(payload, Mapping):
            raise ValidationError("json_object_required", "The request body must be a JSON object")
        local_tz = self.local_tz if naive_times_local else None
        client_uuid = require_client_uuid(payload.get("client_uuid"))
        kind = parse_kind(payload.get("kind"))
        patroller_id = self.patroller_id(payload.get("volunteer"))
        track = payload.get("track")
        if track is not None and not isinstance(track, Track):
            track = self.geojson_track(track)
        client_uuid = normalise_uuid(client_uuid)
        started_at = parse_time(payload.get("start"), which="start", local_tz=local_tz)
        ended_at = parse_time(payload.get("end"), which="end", local_tz=local_tz)
        task_id = parse_task_id(payload.get("task_id"))
        start_point = parse_start_point(payload.get("start_point"))
        self._ensure_may_log(patroller_id, task_id, volunteer=payload.get("volunteer"))
        if track is not None:  # without a start or an end, the track's first or last time is the patrol's
            started_at, ended_at = started_at or track.start, ended_at or track.end
        if started_at is None or ended_at is None:
            raise times_required_error()
        if start_point is not None:
            check_start_point(start_point, self.zone.bbox)
        return NewPatrol(client_uuid=client_uuid, kind=kind, patroller_id=patroller_id, started_at=started_at,
                         ended_at=ended_at, task_id=task_id, track=track, start_point=start_point)

    def file_patrol(self, *, client_uuid: str, kind, patroller_id: int, task_id: int | None, track: Track) -> NewPatrol:
        """The checked patrol of one imported track file for a known patroller (times from the track)."""
        return NewPatrol(client_uuid=normalise_uuid(client_uuid), kind=parse_kind(kind), patroller_id=patroller_id,
                         started_at=track.start, ended_at=track.end, task_id=task_id, track=track)

    def _ensure_may_log(self, patroller_id: int, task_id: int | None, *, volunteer) -> None:
        """404, worded as for a missing record, unless the caller may log for this patroller and this task.

        The answer names what the caller sent (the volunteer, the task id), exactly as a lookup of
        something absent would, so it tells nothing about records of other stations.
        """
        if self.caller is None:
            return
        patroller = self._patrollers[patroller_id]
        ensure_own_record(self.caller, station_id=patroller.station_id, patroller_id=patroller_id,
                          missing=patroller_not_found(volunteer))
        if task_id is not None:
            task = self.session.get(PatrolTask, task_id)
            if not can_see_station(self.caller, task.station_id if task is not None else None):
                raise service.task_not_found(task_id)

    def log(self, patrol: NewPatrol, *, source: str) -> tuple[PatrolSession, bool]:
        """log_patrol with this intake's zone, limits and caps; a new patrol's track file points kept as positions."""
        return service.log_patrol(
            self.session, patrol=patrol, source=source, zone=self.zone if patrol.track is not None else None,
            limits=self.settings.limits, max_hours=self.settings.max_hours,
            position_limits=self.settings.position_limits, now=self.now,
        )

    def submit(self, payload: Mapping, *, source: str, naive_times_local: bool = False) -> tuple[PatrolSession, bool]:
        """Check and log one submission; returns (session, created)."""
        return self.log(self.patrol(payload, naive_times_local=naive_times_local), source=source)

    def log_many(
        self,
        items: Iterable,
        *,
        source: str,
        read: Callable[[object], Mapping] | None = None,
        naive_times_local: bool = False,
        in_given_order: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> list[Outcome]:
        """Check every item, then log each in its own savepoint; one outcome per item, in the items' order.

        `read` turns an item into a submission first (a CSV row into its payload). A refused item
        writes nothing and stops no other. The patrols are logged by patroller id (then position),
        so two concurrent batches lock patrollers in one order and cannot deadlock; in_given_order
        logs them as given instead (an import, where the earlier row wins a conflict).
        """
        items = list(items)
        outcomes: list[Outcome | None] = [None] * len(items)
        checked: list[tuple[int, object, NewPatrol]] = []
        for index, item in enumerate(items):
            payload = None
            try:
                payload = read(item) if read is not None else item
                checked.append((index, payload, self.patrol(payload, naive_times_local=naive_times_local)))
            except DomainError as error:
                outcomes[index] = Outcome(index, payload, error=error)
                if progress:
                    progress(1)
        if not in_given_order:
            checked.sort(key=lambda entry: (entry[2].patroller_id, entry[0]))
        for index, payload, patrol in checked:
            try:
                with self.session.begin_nested():
                    row, created = self.log(patrol, source=source)
            except DomainError as error:
                outcomes[index] = Outcome(index, payload, error=error)
            else:
                outcomes[index] = Outcome(index, payload, patrol=row, created=created)
            if progress:
                progress(1)
        return outcomes
