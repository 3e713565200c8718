"""gridsvc settings: defaults here, each overridable by a GRIDSVC_<NAME> environment variable."""
from __future__ import annotations

import json
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent
INSTANCE_DIR = PROJECT_ROOT / "instance"


class DefaultConfig:
    """Zero-configuration defaults: embedded SpatiaLite, Chinese UI, no base map."""

    # Database: a SQLite file with SpatiaLite; set a postgresql+psycopg:// URL for PostGIS.
    DATABASE_URL = f"sqlite:///{INSTANCE_DIR / 'gridsvc.sqlite'}"
    SPATIALITE_LIBRARY_PATH = "mod_spatialite"
    # SQLite: how long a write waits for the write lock before answering 503 with Retry-After.
    SQLITE_LOCK_WAIT_SECONDS = 5.0

    # Production server (gridsvc.server, `make run`): waitress processes sharing one port.
    SERVER_PROCESSES = 0            # 0: one per core
    SERVER_THREADS = 32             # per process; each open live stream holds one
    SERVER_CONNECTION_LIMIT = 500   # per process
    SERVER_IDLE_TIMEOUT_SECONDS = 60  # a connection that sends or receives nothing this long is closed
    # Addresses (or networks, comma-separated) of reverse proxies whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; from anyone else those headers are ignored.
    TRUSTED_PROXIES = ""

    SECRET_KEY = None  # generated and kept in instance/secret_key when unset
    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ["zh", "en"]
    DISPLAY_TIMEZONE = "Asia/Shanghai"

    # Grid codes: the zone has no confirmed GB/T 2260 code, so the prefix is configuration.
    REGION_CODE = "350600"
    STATION_CODE_DIGITS = 3
    CELL_CODE_DIGITS = 3

    # Completion: hours per active volunteer per year; 6 h reproduces the 2020 report.
    QUOTA_HOURS_PER_YEAR = 6
    DEFAULT_PERIOD = "2020"

    # Patrol validation and verification.
    MAX_SESSION_HOURS = 24
    # The phone recorder (/patrols/record): after this many minutes within RECORDER_IDLE_RADIUS_M it
    # asks whether the patrol goes on, and stops at the last movement when no one answers.
    # The live view (/live, /api/v1/live): a patroller's last fix up to LIVE_STALE_SECONDS old is online,
    # up to LIVE_OFFLINE_SECONDS stale, older offline (Traccar's offline is after 10 minutes).
    LIVE_STALE_SECONDS = 120
    LIVE_OFFLINE_SECONDS = 600
    LIVE_PAGE_REFRESH_SECONDS = 5.0  # the page's polling when its stream is unavailable
    LIVE_POLL_SECONDS = 0.5               # each server process reads the change marker this often
    LIVE_STREAM_HEARTBEAT_SECONDS = 15.0  # a comment line keeps proxies from closing a quiet stream
    LIVE_STREAM_RECHECK_SECONDS = 10.0    # a sign-out or a disabled account ends a stream within this
    LIVE_STREAM_RECOMPUTE_SECONDS = 5.0   # states age without a new point: the snapshot is read again
    LIVE_MAX_STREAMS_PER_USER = 4         # per account, across servers; each stream holds one server thread
    RECORDER_IDLE_MINUTES = 20
    RECORDER_IDLE_RADIUS_M = 50
    RECORDER_IDLE_ANSWER_MINUTES = 5
    VERIFY_MAX_SPEED_KMH = 25.0
    VERIFY_MAX_GAP_SECONDS = 600
    PATROL_ZONE_TOLERANCE_M = 50.0   # a track may stray this far outside its station or task area
    PATROL_ROUTE_BUFFER_M = 100.0    # a task given as a route covers this far either side of it
    MAX_TRACK_BYTES = 20 * 1024 * 1024
    MAX_TRACK_POINTS = 200_000
    MAX_BATCH_SIZE = 1000
    MAX_CONTENT_LENGTH = 32 * 1024 * 1024  # file uploads (GPX, CSV, GeoJSON tracks, batches)
    # Every other body (grid and camera JSON, forms). A station boundary at the polygon limit
    # (100,000 vertices, gridsvc.geo.shapes) written compactly at full double precision is 3.95 MiB
    # (at 7 decimals 2.6 MiB), so it fits; a pretty-printed one does not and must be minified first.
    # JSON decodes to about 9 times its size in memory: 4 MiB bodies cost about 36 MiB, not 290.
    MAX_JSON_BODY_BYTES = 4 * 1024 * 1024

    # Base map: {"kind": "none"} (intranet default), "xyz", "tianditu" or "gaode".
    BASE_MAP = {"kind": "none"}

    # Security. Cookies get the Secure flag only when served over HTTPS: intranet deployments are
    # often plain http, where a Secure cookie would never come back. Set GRIDSVC_SECURE_COOKIES=1 behind TLS.
    SECURE_COOKIES = False
    LOGIN_MAX_FAILURES = 5           # per username, then locked for LOGIN_LOCKOUT_MINUTES
    LOGIN_MAX_FAILURES_PER_IP = 20   # per address (several people may share one intranet address)
    LOGIN_LOCKOUT_MINUTES = 15
    SESSION_HOURS = 12               # a web session ends this long after sign-in at the latest
    INVITATION_TTL_HOURS = 72        # a volunteer's set-your-password link works this long, once

    # Positions are personal data: stored only on duty, kept this many days, then purged
    # (`flask --app gridsvc positions purge`); the figures derived from them stay.
    POSITION_RETENTION_DAYS = 90
    DUTY_MAX_HOURS = 12              # an on-duty switch left on turns itself off after this
    # What the Traccar Client set-up code (/devices) tells the app:
    TRACKER_INTERVAL_SECONDS = 10    # send a fix at least this often while moving
    TRACKER_DISTANCE_M = 10          # ... or after moving this far
    TRACKER_ACCURACY = "highest"     # the app's location accuracy: highest, high, medium or low
    # Tracker positions (gridsvc.positions): a point is stored and flagged, never dropped, when its
    # accuracy is worse than this, when it implies a speed from the device's previous fix above
    # this, when it lies further ahead of the receive time, or further back.
    POSITION_MAX_ACCURACY_M = 100.0
    POSITION_MAX_JUMP_KMH = 150.0
    POSITION_MAX_FUTURE_SECONDS = 300
    POSITION_MAX_AGE_DAYS = 7
    # OsmAnd `speed` unit ("kn" as Traccar by default; "kmh", "mps", "mph").
    POSITION_OSMAND_SPEED_UNIT = "kn"
    # A point farther than this outside the zone (the centre grid's outline) is flagged outside_zone.
    POSITION_ZONE_TOLERANCE_M = 200.0
    # Intake limits, kept in the database so every server process shares them. Per device a token
    # bucket: a burst this large (a phone emptying a day's buffer: 8,640 points at one every 10 s)
    # is never refused, refilled at the steady rate; beyond it 429 with Retry-After.
    POSITION_DEVICE_BURST = 10_000
    POSITION_DEVICE_PER_MINUTE = 120
    # Per address, requests that name no live device or carry no readable fix (key guessing,
    # broken senders): this many at once, refilled per minute; then the address waits (429).
    POSITION_ADDRESS_FAILURE_BURST = 60
    POSITION_ADDRESS_FAILURES_PER_MINUTE = 30
    # On PostGIS the positions table is partitioned by month; this many months ahead are created
    # in advance (a point beyond them lands in the default partition until its month is created).
    POSITION_PARTITION_MONTHS_AHEAD = 3

    # Trips detected in an on-duty tracker stream (gridsvc.patrols.trips), proposed as patrols for
    # the patroller or their station to confirm. Walking figures, not Traccar's vehicle defaults
    # (200 m / 180 s / 3600 s): a stop is this long within this radius; a silence this long ends a
    # trip; a shorter trip, or one never this far from its start (across the street to a shop), is never proposed.
    TRIP_STOP_RADIUS_M = 50.0
    TRIP_STOP_SECONDS = 600
    TRIP_SPLIT_GAP_SECONDS = 900
    TRIP_MIN_DISTANCE_M = 300.0
    TRIP_MIN_DURATION_SECONDS = 600
    TRIP_LOOKBACK_HOURS = 48         # how far back `patrols detect-trips` and the proposals list look

    # Camera coverage radius in metres.
    CAMERA_COVERAGE_RADIUS_M = 100.0


def _coerce(value: str, default):
    """Convert an environment string to the type of the default it overrides."""
    if isinstance(default, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, (dict, list)):
        return json.loads(value)
    return value


def load_config(overrides: dict | None = None) -> dict:
    """Return the settings: defaults, then GRIDSVC_* environment variables, then overrides."""
    settings = {k: v for k, v in vars(DefaultConfig).items() if k.isupper()}
    for name, default in list(settings.items()):
        env_value = os.environ.get(f"GRIDSVC_{name}")
        if env_value is not None:
            settings[name] = _coerce(env_value, default)
    settings.update(overrides or {})
    return settings
