"""Item 1: patrol sessions with tracks through the batch API, against a raw bulk insert of the same rows.

The batch endpoint is found in /api/v1/openapi.json (a POST under /api/v1/patrols whose path says
batch), and each item's field names follow its schema, so the benchmark keeps up with the API.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import time

import sqlalchemy as sa

from bench import generate
from bench.database import SQLITE_TIME
from bench.report import Table, ratio

# Our field -> the names the API may use for it (the first one in the item schema wins).
FIELD_NAMES = {
    "client_uuid": ("client_uuid",),
    "kind": ("kind",),
    "volunteer": ("volunteer", "volunteer_id", "patroller_id", "patroller"),
    "start": ("start", "started_at", "start_time"),
    "end": ("end", "ended_at", "end_time"),
    "track": ("track", "geometry"),
}
BATCH_LIMIT = 1000
DEFAULT_PATH = "/api/v1/patrols/batch"  # the patrol engineer's route


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _resolve(schema: dict, spec: dict) -> dict:
    """Follow a local $ref in the OpenAPI document."""
    while isinstance(schema, dict) and "$ref" in schema:
        node = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def find_batch_endpoint(server) -> tuple[str, str | None, dict] | None:
    """(path, key of the item list or None for a bare array, item properties) of the batch API, or None.

    From /api/v1/openapi.json when it documents the endpoint, else probed at DEFAULT_PATH.
    """
    status, body = server.request("GET", "/api/v1/openapi.json")
    spec = json.loads(body) if status == 200 else {}
    for path, operations in spec.get("paths", {}).items():
        if "patrol" in path and "batch" in path and "post" in operations:
            content = operations["post"].get("requestBody", {}).get("content", {}).get("application/json", {})
            schema = _resolve(content.get("schema", {}), spec)
            if schema.get("type") == "array":
                return path, None, _resolve(schema.get("items", {}), spec).get("properties", {})
            for key, prop in schema.get("properties", {}).items():
                prop = _resolve(prop, spec)
                if prop.get("type") == "array":
                    return path, key, _resolve(prop.get("items", {}), spec).get("properties", {})
            return path, "sessions", {}
    # Not documented (yet): an empty batch is refused with 4xx (not 404/405) where the endpoint exists.
    status, _body = server.request("POST", DEFAULT_PATH, {"sessions": []})
    return (DEFAULT_PATH, "sessions", {}) if status not in (404, 405) and status < 500 else None


def _item(track: dict, names: dict) -> dict:
    feature = {"type": "Feature", "properties": {"times": [_iso(t) for t in track["times"]]},
               "geometry": {"type": "LineString", "coordinates": [list(c) for c in track["coords"]]}}
    return {names["client_uuid"]: track["client_uuid"], names["kind"]: track["kind"],
            names["volunteer"]: track["patroller_id"], names["start"]: _iso(track["start"]),
            names["end"]: _iso(track["end"]), names["track"]: feature}


def _accepted(status: int, body: bytes, errors: dict | None = None) -> int:
    """Items the batch answer reports as stored (per-item answers with a 2xx status or an id);
    refused items' error codes are counted into `errors`."""
    if status >= 400:
        return 0
    answer = json.loads(body)
    items = answer if isinstance(answer, list) else next(
        (v for v in answer.values() if isinstance(v, list)), []) if isinstance(answer, dict) else []
    count = 0
    for item in items:
        if not isinstance(item, dict):
            continue
        code = item.get("status")
        if (isinstance(code, int) and 200 <= code < 300) or code in ("created", "replayed", "ok") or (
                code is None and "error" not in item):
            count += 1
        elif errors is not None:
            error = item.get("error")
            reason = error.get("code") if isinstance(error, dict) else str(code)
            errors[reason] = errors.get(reason, 0) + 1
    return count


def raw_insert(engine, tracks: list[dict], station_ids: dict[int, int]) -> float:
    """executemany (SQLite) / COPY (PostgreSQL) of the same sessions with their tracks; seconds."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    columns = ("client_uuid", "payload_digest", "kind", "patroller_id", "station_id", "started_at", "ended_at",
               "duration_seconds", "track", "source", "created_at")
    rows = []
    for t in tracks:
        start, end = (t["start"].astimezone(dt.timezone.utc).replace(tzinfo=None),
                      t["end"].astimezone(dt.timezone.utc).replace(tzinfo=None))
        line = "LINESTRING(" + ",".join(f"{x} {y}" for x, y in t["coords"]) + ")"
        rows.append((t["client_uuid"], hashlib.sha256(t["client_uuid"].encode()).hexdigest(), t["kind"],
                     t["patroller_id"], station_ids[t["station_index"]], start, end,
                     int((end - start).total_seconds()), line, "import", now))
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN")
            cursor.executemany(
                f"INSERT INTO patrol_sessions ({','.join(columns)}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ST_GeomFromText(?, 4326), ?, ?)",
                [r[:5] + (r[5].strftime(SQLITE_TIME), r[6].strftime(SQLITE_TIME)) + r[7:10] + (r[10].strftime(SQLITE_TIME),)
                 for r in rows],
            )
            cursor.execute("COMMIT")
        else:
            with cursor.copy(f"COPY patrol_sessions ({','.join(columns)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r[:8] + ("SRID=4326;" + r[8],) + r[9:])
            raw.commit()
        cursor.close()
    finally:
        raw.close()
    return time.perf_counter() - started


def _delete(engine, uuids: list[str]) -> None:
    with engine.begin() as connection:
        for offset in range(0, len(uuids), 500):
            connection.execute(sa.text("DELETE FROM patrol_sessions WHERE client_uuid IN :ids")
                               .bindparams(sa.bindparam("ids", expanding=True)), {"ids": uuids[offset:offset + 500]})


def run(server, app, sizes: generate.Sizes, people: list[dict], station_ids: dict[int, int], *, backend: str) -> Table:
    """sessions/s and points/s through the batch API and by raw bulk insert; API/raw ratio."""
    tracks = list(generate.tracks(sizes, people))
    points = sum(len(t["coords"]) for t in tracks)
    table = Table(f"Ingest, {len(tracks):,} sessions × {sizes.points_per_track} points, {backend}",
                  ["method", "seconds", "sessions/s", "points/s", "stored", "ratio (API/raw time)"])
    engine = app.extensions["gridsvc"].engine
    raw_seconds = raw_insert(engine, tracks, station_ids)
    _delete(engine, [t["client_uuid"] for t in tracks])
    raw_label = "raw executemany" if backend == "spatialite" else "raw COPY"

    endpoint = find_batch_endpoint(server)
    if endpoint is None:
        table.add(raw_label, raw_seconds, len(tracks) / raw_seconds, points / raw_seconds, len(tracks), None)
        table.note("No batch patrol endpoint (openapi.json or POST /api/v1/patrols/batch) yet: API ingest not measured.")
        return table
    path, key, properties = endpoint
    names = {ours: next((n for n in candidates if n in properties), candidates[0])
             for ours, candidates in FIELD_NAMES.items()}
    stored, statuses, errors = 0, set(), {}
    started = time.perf_counter()
    for offset in range(0, len(tracks), BATCH_LIMIT):
        items = [_item(t, names) for t in tracks[offset:offset + BATCH_LIMIT]]
        status, body = server.request("POST", path, items if key is None else {key: items})
        statuses.add(status)
        stored += _accepted(status, body, errors)
    api_seconds = time.perf_counter() - started
    table.add(f"API POST {path}", api_seconds, len(tracks) / api_seconds, points / api_seconds, stored,
              ratio(api_seconds, raw_seconds))
    table.add(raw_label, raw_seconds, len(tracks) / raw_seconds, points / raw_seconds, len(tracks), "1x")
    table.note(f"Batches of {BATCH_LIMIT}; HTTP statuses {sorted(statuses)}; API time includes JSON encoding on "
               "the client. Raw insert: the same rows and tracks, no validation, verification or audit.")
    if stored < len(tracks):
        table.note(f"Only {stored:,} of {len(tracks):,} sessions were accepted by the API; refusals: "
                   + ", ".join(f"{code} × {n}" for code, n in sorted(errors.items())))
    return table
