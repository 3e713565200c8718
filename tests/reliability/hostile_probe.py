"""Run one hostile input against gridsvc in this (fresh) process and print time and memory as JSON.

    python -m tests.reliability.hostile_probe CASE DATABASE_URL

A fresh process per case makes ru_maxrss (the peak resident memory) mean something: the figure
printed is the peak during the request minus the resident memory just before it. Payloads that
are bigger than memory should allow are generated lazily and streamed, never built in memory.
"""
from __future__ import annotations

import gzip
import io
import json
import sys
import time

GPX_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="hostile" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>\n'
GPX_TAIL = b"</trkseg></trk></gpx>\n"
TEN_MILLION = 10_000_000


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss() -> None:
    """Start a new high-water mark of resident memory (Linux: write 5 to clear_refs)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def gpx_point(index: int) -> bytes:
    """One track point, one second after the previous, walking east from the zone."""
    seconds = index % 86400
    return (b'<trkpt lat="23.88" lon="%.7f"><time>2020-03-01T%02d:%02d:%02dZ</time></trkpt>\n'
            % (117.3 + index * 1e-7, seconds // 3600, seconds // 60 % 60, seconds % 60))


class LazyTrack(io.RawIOBase):
    """A GPX file of `points` points produced while it is read (600 MB for 10 million points)."""

    def __init__(self, points: int):
        self.points, self.next_index, self.buffer, self.done = points, 0, GPX_HEAD, False

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while len(self.buffer) < len(target) and not self.done:
            chunk = b"".join(gpx_point(i) for i in range(self.next_index, min(self.next_index + 2000, self.points)))
            self.next_index += 2000
            if self.next_index >= self.points:
                chunk += GPX_TAIL
                self.done = True
            self.buffer += chunk
        count = min(len(target), len(self.buffer))
        target[:count] = self.buffer[:count]
        self.buffer = self.buffer[count:]
        return count


def lazy_track_size(points: int) -> int:
    """Exact byte size of LazyTrack(points), computed without building it."""
    return len(GPX_HEAD) + len(GPX_TAIL) + sum(len(gpx_point(i)) for i in range(points)) if points < 100_000 else (
        len(GPX_HEAD) + len(GPX_TAIL) + len(gpx_point(0)) * points)


XXE = (b'<?xml version="1.0"?>\n<!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
       b'<gpx version="1.1" creator="x" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>&xxe;</name><trkseg>'
       b'<trkpt lat="23.88" lon="117.3"><time>2020-03-01T00:00:00Z</time></trkpt>'
       b'<trkpt lat="23.881" lon="117.3"><time>2020-03-01T00:10:00Z</time></trkpt></trkseg></trk></gpx>')
BILLION_LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
                             for n in range(1, 10))
                  + b']>\n<gpx version="1.1" creator="x" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>&lol9;</name></trk></gpx>')


def _zone_ring(vertices: int) -> list:
    """A valid closed ring of `vertices` positions (a thin circle-like polygon in the zone)."""
    import math

    ring = [[round(117.30 + 0.01 * math.cos(2 * math.pi * i / vertices), 7),
             round(23.88 + 0.01 * math.sin(2 * math.pi * i / vertices), 7)] for i in range(vertices)]
    return ring + [ring[0]]


def run_case(case: str, app, headers: dict) -> dict:
    """Send the case's request; answer status, error code and the request's seconds."""
    from gridsvc.api.openapi import openapi_document  # noqa: F401  (import cost outside the timing)
    from gridsvc.patrols import tracks

    client = app.test_client()
    json_headers = {**headers, "Content-Type": "application/json"}
    upload_path = "/api/v1/grids"  # every POST shares MAX_CONTENT_LENGTH and JSON decoding
    status, code = None, None
    if case in ("xxe_gpx", "billion_laughs_gpx"):
        payload = XXE if case == "xxe_gpx" else BILLION_LAUGHS
        started = time.monotonic()
        try:
            tracks.parse_gpx(payload)
        except tracks.TrackError as refusal:
            status, code = refusal.http_status, refusal.code
        return {"status": status, "code": code, "seconds": time.monotonic() - started, "bytes": len(payload)}
    if case == "gzip_bomb":
        # 256 MiB of zeros is about 250 KiB compressed.
        compressed = io.BytesIO()
        with gzip.GzipFile(fileobj=compressed, mode="wb", compresslevel=9) as writer:
            zeros = b"0" * (1 << 20)
            for _ in range(256):
                writer.write(zeros)
        body = compressed.getvalue()
        started = time.monotonic()
        response = client.post(upload_path, data=body, headers={**json_headers, "Content-Encoding": "gzip"})
    elif case == "deep_geojson":
        depth = 200_000
        body = b'{"name":"deep","level":"centre","geometry":{"type":"Polygon","coordinates":' + b"[" * depth + b"]" * depth + b"}}"
        started = time.monotonic()
        response = client.post(upload_path, data=body, headers=json_headers)
    elif case == "huge_geojson":
        # Just under MAX_CONTENT_LENGTH (32 MiB): about 1.3 million vertices.
        limit = app.config["MAX_CONTENT_LENGTH"]
        vertices = int(limit / 26)
        body = json.dumps({"name": "huge", "level": "centre",
                           "geometry": {"type": "Polygon", "coordinates": [_zone_ring(vertices)]}}).encode()
        while len(body) > limit:
            vertices = int(vertices * 0.95)
            body = json.dumps({"name": "huge", "level": "centre",
                               "geometry": {"type": "Polygon", "coordinates": [_zone_ring(vertices)]}}).encode()
        started = time.monotonic()
        response = client.post(upload_path, data=body, headers=json_headers)
    elif case == "ten_million_point_track":
        size = lazy_track_size(TEN_MILLION)
        started = time.monotonic()
        response = client.post(upload_path, input_stream=LazyTrack(TEN_MILLION),
                               headers={**headers, "Content-Type": "application/gpx+xml", "Content-Length": str(size)})
    else:
        raise SystemExit(f"unknown case {case}")
    seconds = time.monotonic() - started
    code = (response.get_json(silent=True) or {}).get("error", {}).get("code")
    return {"status": response.status_code, "code": code, "seconds": seconds, "bytes": len(body) if case != "ten_million_point_track" else size}


def main(case: str, database_url: str, token: str) -> None:
    from gridsvc import create_app

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "hostile", "TESTING": True})
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    app.test_client().get("/api/v1/openapi.json", headers=headers)  # warm up imports and the first request
    reset_peak_rss()
    before = _status_mib("VmRSS")
    result = run_case(case, app, headers)
    result["peak_rss_mib"] = round(_status_mib("VmHWM"), 1)
    result["memory_mib"] = round(max(_status_mib("VmHWM") - before, 0.0), 1)
    result["seconds"] = round(result["seconds"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:4])
