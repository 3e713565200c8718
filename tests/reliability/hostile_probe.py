"""Run one hostile input against gridsvc in this (fresh) process and print time and memory as JSON.

    python -m tests.reliability.hostile_probe CASE DATABASE_URL TOKEN [VOLUNTEER]

A fresh process per case makes ru_maxrss (the peak resident memory) mean something: the figure
printed is the peak during the request minus the resident memory just before it. The request body
is built before that mark (so the client's own copy is not counted as the server's); payloads that
are bigger than memory should allow are generated lazily and streamed, never built in memory.
"""
from __future__ import annotations

import gzip
import io
import json
import sys
import time
import uuid

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


POLYGON_HEAD = b'{"name":"huge","level":"centre","geometry":{"type":"Polygon","coordinates":[['
POLYGON_TAIL = b"]]}}"


def _zone_vertex(index: int, vertices: int) -> bytes:
    """One position of a circle-like ring in the zone; always 25 bytes ("[117.3xxxxxx, 23.88xxxxx]")."""
    import math

    angle = 2 * math.pi * index / vertices
    return b"[%.7f, %.7f]" % (117.30 + 0.01 * math.cos(angle), 23.88 + 0.01 * math.sin(angle))


def polygon_body(max_bytes: int) -> tuple[bytes, int]:
    """A grid-creation JSON body of at most `max_bytes`, a valid closed ring with as many vertices as fit.

    Written straight into one buffer: no list of a million coordinate pairs beside it.
    """
    per_vertex = len(_zone_vertex(0, 1)) + 2  # with its ", "
    vertices = (max_bytes - len(POLYGON_HEAD) - len(POLYGON_TAIL) - len(_zone_vertex(0, 1))) // per_vertex
    body = bytearray(POLYGON_HEAD)
    for index in range(vertices):
        body += _zone_vertex(index, vertices) + b", "
    body += _zone_vertex(0, vertices) + POLYGON_TAIL  # closed
    assert len(body) <= max_bytes
    return bytes(body), vertices


class BytesReader(io.RawIOBase):
    """A read-only, seekable stream over the prepared body, without a second copy of it."""

    def __init__(self, data: bytes):
        self.view, self.position = memoryview(data), 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: len(self.view)}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, target) -> int:
        count = max(0, min(len(target), len(self.view) - self.position))
        target[:count] = self.view[self.position:self.position + count]
        self.position += count
        return count


def prepare_case(case: str, app, headers: dict, volunteer: str | None):
    """Build the case's request; answer (send, facts), send() performing the request and answering the response."""
    client = app.test_client()
    json_headers = {**headers, "Content-Type": "application/json"}
    grid_path = "/api/v1/grids"  # a JSON geometry endpoint: held to MAX_JSON_BODY_BYTES
    if case in ("xxe_gpx", "billion_laughs_gpx"):
        payload = XXE if case == "xxe_gpx" else BILLION_LAUGHS
        form = {"client_uuid": str(uuid.uuid4()), "kind": "individual", "volunteer": volunteer or "",
                "track": (io.BytesIO(payload), "hostile.gpx")}
        return (lambda: client.post("/api/v1/patrols?lang=en", data=form, headers=headers,
                                    content_type="multipart/form-data")), {"bytes": len(payload)}
    if case == "gzip_bomb":
        # 256 MiB of zeros is about 250 KiB compressed.
        compressed = io.BytesIO()
        with gzip.GzipFile(fileobj=compressed, mode="wb", compresslevel=9) as writer:
            zeros = b"0" * (1 << 20)
            for _ in range(256):
                writer.write(zeros)
        body = compressed.getvalue()
        return (lambda: client.post(grid_path, data=body, headers={**json_headers, "Content-Encoding": "gzip"})), {
            "bytes": len(body)}
    if case == "deep_geojson":
        depth = 200_000
        body = b'{"name":"deep","level":"centre","geometry":{"type":"Polygon","coordinates":' + b"[" * depth + b"]" * depth + b"}}"
        return (lambda: client.post(grid_path, data=body, headers=json_headers)), {"bytes": len(body)}
    if case == "huge_geojson":
        # Just under MAX_JSON_BODY_BYTES (4 MiB): read and decoded, then refused for its vertex count.
        body, vertices = polygon_body(app.config["MAX_JSON_BODY_BYTES"])
        return (lambda: client.post(grid_path, data=body, headers=json_headers)), {"bytes": len(body), "vertices": vertices}
    if case in ("oversized_geojson", "oversized_geojson_chunked"):
        # Just under MAX_CONTENT_LENGTH (32 MiB), the size that used to be read and decoded (291 MiB, 2-6 s).
        body, vertices = polygon_body(app.config["MAX_CONTENT_LENGTH"])
        if case == "oversized_geojson":
            return (lambda: client.post(grid_path, data=body, headers=json_headers)), {"bytes": len(body), "vertices": vertices}
        # No Content-Length: the server only learns the size by reading (as with Transfer-Encoding: chunked).
        chunked = {**json_headers, "Transfer-Encoding": "chunked"}
        return (lambda: client.post(grid_path, input_stream=BytesReader(body), headers=chunked,
                                    environ_overrides={"wsgi.input_terminated": True})), {
            "bytes": len(body), "vertices": vertices}
    if case == "ten_million_point_track":
        size = lazy_track_size(TEN_MILLION)
        return (lambda: client.post(grid_path, input_stream=LazyTrack(TEN_MILLION),
                                    headers={**headers, "Content-Type": "application/gpx+xml",
                                             "Content-Length": str(size)})), {"bytes": size}
    raise SystemExit(f"unknown case {case}")


def main(case: str, database_url: str, token: str, volunteer: str | None = None) -> None:
    import gc

    from gridsvc import create_app

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "hostile", "TESTING": True})
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    app.test_client().get("/api/v1/openapi.json", headers=headers)  # warm up imports and the first request
    send, result = prepare_case(case, app, headers, volunteer)
    gc.collect()
    reset_peak_rss()
    before = _status_mib("VmRSS")
    started = time.monotonic()
    response = send()
    seconds = time.monotonic() - started
    peak = _status_mib("VmHWM")
    answer = response.get_data()
    result.update({
        "status": response.status_code,
        "code": ((response.get_json(silent=True) or {}).get("error") or {}).get("code"),
        "seconds": round(seconds, 3),
        "peak_rss_mib": round(peak, 1),
        "memory_mib": round(max(peak - before, 0.0), 1),
        "passwd_in_answer": b"root:" in answer,
    })
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:5])
