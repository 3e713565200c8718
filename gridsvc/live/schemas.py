"""The live snapshot's JSON: the answer's shape and its JSON Schema, side by side."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from gridsvc.apidoc import obj
from gridsvc.live.service import LIVE_STATES, LivePatroller

_NUMBER_OR_NULL = {"type": ["number", "null"]}
_TIME = {"type": "string", "format": "date-time", "description": "in DISPLAY_TIMEZONE"}

LIVE_POSITION = obj({
    "lon": {"type": "number"}, "lat": {"type": "number"},
    "time": _TIME,
    "age_seconds": {"type": "integer", "minimum": 0, "description": "how old the fix is now"},
    "accuracy_m": _NUMBER_OR_NULL, "speed_mps": _NUMBER_OR_NULL,
    "battery_percent": _NUMBER_OR_NULL,
}, required=["lon", "lat", "time", "age_seconds", "accuracy_m", "speed_mps", "battery_percent"])
LIVE_PATROLLER = obj({
    "volunteer": obj({"id": {"type": "integer"}, "name": {"type": "string"},
                      "app_account_id": {"type": ["string", "null"]}}, required=["id", "name", "app_account_id"]),
    "state": {"enum": list(LIVE_STATES), "description": "online: a fix within LIVE_STALE_SECONDS; stale: within "
                                                       "LIVE_OFFLINE_SECONDS; offline: older, or none yet"},
    "position": {"anyOf": [LIVE_POSITION, {"type": "null"}], "description": "the last kept fix since the start"},
    "session": obj({
        "id": {"type": "integer"}, "kind": {"enum": ["group", "individual"]},
        "task": {"anyOf": [obj({"id": {"type": "integer"}, "title": {"type": "string"}}, required=["id", "title"]),
                           {"type": "null"}]},
        "station": obj({"code": {"type": "string"}, "name": {"type": "string"}}, required=["code", "name"]),
        "start": _TIME,
        "elapsed_seconds": {"type": "integer", "minimum": 0},
        "distance_m": {"type": "number", "minimum": 0, "description": "along the kept fixes since the start"},
        "points": {"type": "integer", "minimum": 0},
    }, required=["id", "kind", "task", "station", "start", "elapsed_seconds", "distance_m", "points"]),
}, required=["volunteer", "state", "position", "session"])
LIVE_SNAPSHOT = obj({
    "generated_at": _TIME,
    "thresholds": obj({"stale_after_seconds": {"type": "number"}, "offline_after_seconds": {"type": "number"}},
                      required=["stale_after_seconds", "offline_after_seconds"]),
    "counts": obj({state: {"type": "integer", "minimum": 0} for state in LIVE_STATES}, required=list(LIVE_STATES)),
    "by_station": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0},
                   "description": "patrollers out now per station code"},
    "patrollers": {"type": "array", "items": LIVE_PATROLLER},
}, required=["generated_at", "thresholds", "counts", "by_station", "patrollers"])


def _local(moment: dt.datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="seconds")


def live_patroller_json(live: LivePatroller, *, now: dt.datetime, zone: ZoneInfo) -> dict:
    """One patroller out now."""
    patrol, last = live.patrol, live.last
    return {
        "volunteer": {"id": patrol.patroller_id, "name": patrol.patroller_name, "app_account_id": patrol.app_account_id},
        "state": live.state,
        "position": None if last is None else {
            "lon": round(last.lon, 7), "lat": round(last.lat, 7), "time": _local(last.fixed_at, zone),
            "age_seconds": max(0, int((now - last.fixed_at).total_seconds())),
            "accuracy_m": last.accuracy_m, "speed_mps": last.speed_mps, "battery_percent": last.battery_percent,
        },
        "session": {
            "id": patrol.id, "kind": patrol.kind,
            "task": None if patrol.task_id is None else {"id": patrol.task_id, "title": patrol.task_title},
            "station": {"code": patrol.station_code, "name": patrol.station_name},
            "start": _local(patrol.started_at, zone),
            "elapsed_seconds": max(0, int((now - patrol.started_at).total_seconds())),
            "distance_m": round(live.distance_m, 1), "points": live.points,
        },
    }


def snapshot_json(patrollers: list[LivePatroller], *, now: dt.datetime, zone: ZoneInfo, stale_after: dt.timedelta,
                  offline_after: dt.timedelta) -> dict:
    """The snapshot: counts by state and by station, then every patroller out now."""
    counts = {state: 0 for state in LIVE_STATES}
    by_station: dict[str, int] = {}
    for live in patrollers:
        counts[live.state] += 1
        by_station[live.patrol.station_code] = by_station.get(live.patrol.station_code, 0) + 1
    return {
        "generated_at": _local(now, zone),
        "thresholds": {"stale_after_seconds": stale_after.total_seconds(),
                       "offline_after_seconds": offline_after.total_seconds()},
        "counts": counts,
        "by_station": by_station,
        "patrollers": [live_patroller_json(live, now=now, zone=zone) for live in patrollers],
    }
