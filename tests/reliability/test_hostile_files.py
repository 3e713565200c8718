"""Hostile inputs are refused quickly, clearly and in bounded memory.

In-process cases run each in a fresh Python process (tests/reliability/hostile_probe.py) so the
peak resident memory of the request can be read; the 10-million-point track (about 600 MB of GPX)
is streamed over a socket to a real server, with and without a Content-Length, and the server's
own peak memory is read from /proc.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import select
import socket
import subprocess
import sys
import time
import uuid

import pytest

from tests.reliability.conftest import record_figure, table_row_counts
from tests.patrols.helpers import SHANGHAI, VOLUNTEER_S08, zone_gpx
from tests.reliability.hostile_probe import BILLION_LAUGHS, GPX_HEAD, GPX_TAIL, TEN_MILLION, XXE, gpx_point
from tests.reliability.live_server import PROJECT_ROOT, LiveServer

# case -> (expected status, expected error code)
IN_PROCESS_CASES = {
    "xxe_gpx": (422, "gpx_entities_forbidden"),              # uploaded to POST /api/v1/patrols
    "billion_laughs_gpx": (422, "gpx_entities_forbidden"),   # uploaded to POST /api/v1/patrols
    "gzip_bomb": (415, "unsupported_media_type"),
    "deep_geojson": (422, "json_object_required"),
    "huge_geojson": (422, "polygon_too_complex"),            # just under MAX_JSON_BODY_BYTES
    "oversized_geojson": (413, "request_entity_too_large"),  # 32 MiB, with a Content-Length
    "oversized_geojson_chunked": (413, "request_entity_too_large"),  # 32 MiB, no Content-Length
}
MAX_SECONDS = 20.0
MAX_MEMORY_MIB = 512


@pytest.mark.parametrize("case", sorted(IN_PROCESS_CASES))
def test_hostile_input_is_refused_quickly_in_bounded_memory(case, live_database, empty_app, backend):
    url, token, volunteers, _point = live_database
    engine = empty_app.extensions["gridsvc"].engine
    with engine.connect() as connection:
        rows_before = table_row_counts(connection)
    completed = subprocess.run(
        [sys.executable, "-m", "tests.reliability.hostile_probe", case, url, token, str(volunteers[0])],
        cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    record_figure(f"hostile[{backend}] {case}", result)
    assert (result["status"], result["code"]) == IN_PROCESS_CASES[case]
    assert result["seconds"] < MAX_SECONDS and result["memory_mib"] < MAX_MEMORY_MIB
    assert not result["passwd_in_answer"]
    with engine.connect() as connection:
        assert table_row_counts(connection) == rows_before  # nothing written


def _peak_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))


def _stream_track(port: int, token: str, *, chunked: bool, time_limit: float = 120.0) -> tuple[int | None, int, float]:
    """Send a 10-million-point GPX upload until the server answers; (status, bytes sent, seconds)."""
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"client_uuid\"\r\n\r\n{uuid.uuid4()}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"track\"; filename=\"huge.gpx\"\r\n"
            f"Content-Type: application/gpx+xml\r\n\r\n").encode() + GPX_HEAD
    tail = GPX_TAIL + f"\r\n--{boundary}--\r\n".encode()
    total = len(head) + len(tail) + len(gpx_point(0)) * TEN_MILLION
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    request_head = (f"POST /api/v1/patrols HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
                    f"Content-Type: multipart/form-data; boundary={boundary}\r\n{framing}\r\n\r\n").encode()
    sent, started = 0, time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request_head)

        def send(data: bytes) -> bool:
            nonlocal sent
            payload = b"%x\r\n%s\r\n" % (len(data), data) if chunked else data
            try:
                conn.sendall(payload)
            except (BrokenPipeError, ConnectionResetError):
                return False
            sent += len(data)
            return not select.select([conn], [], [], 0)[0]  # stop as soon as the server has answered

        going = send(head)
        index = 0
        while going and index < TEN_MILLION and time.monotonic() - started < time_limit:
            going = send(b"".join(gpx_point(i) for i in range(index, min(index + 20_000, TEN_MILLION))))
            index += 20_000
        if going:
            going = send(tail)
            if chunked and going:
                conn.sendall(b"0\r\n\r\n")
        conn.settimeout(60)
        try:
            answer = conn.recv(4096)
        except (ConnectionResetError, socket.timeout):
            answer = b""
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None
    return status, sent, time.monotonic() - started


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_ten_million_point_track_is_refused_without_reading_it_all(chunked, live_database, backend, tmp_path):
    url, token, _volunteers, _point = live_database
    server = LiveServer(url, log_path=tmp_path / "server.log")
    server.start()
    try:
        with open(f"/proc/{server.process.pid}/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # new high-water mark of the server's resident memory
        before = _peak_mib(server.process.pid)
        status, sent, seconds = _stream_track(server.port, token, chunked=chunked)
        memory = _peak_mib(server.process.pid) - before
    finally:
        server.stop()
    name = "chunked" if chunked else "content-length"
    record_figure(f"hostile[{backend}] ten_million_point_track ({name})",
                  {"status": status, "bytes_sent_before_refusal": sent, "seconds": round(seconds, 3),
                   "server_memory_mib": round(memory, 1)})
    assert status == 413
    assert seconds < MAX_SECONDS and memory < MAX_MEMORY_MIB


# --- The same hostile GPX files through every upload path, and the body cap of JSON endpoints -------

HOSTILE_GPX = {"xxe": XXE, "billion_laughs": BILLION_LAUGHS}
# The XXE file without its DOCTYPE, on a free day: the same upload is then stored (so the refusal
# above is the entities', not a missing field's).
BENIGN_GPX = XXE.replace(b'<!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n', b"").replace(
    b"&xxe;", b"walk").replace(b"2020-03-01", b"2021-03-02")
ENTITIES_REFUSED = "GPX files with DOCTYPE or ENTITY declarations are refused for security reasons."


def _all_rows(app) -> dict[str, int]:
    session = app.extensions["gridsvc"].sessions()
    try:
        return table_row_counts(session.connection())
    finally:
        session.close()


def _gpx_form(data: bytes, **fields) -> dict:
    return {"client_uuid": str(uuid.uuid4()), "kind": "individual", "volunteer": VOLUNTEER_S08, **fields,
            "track": (io.BytesIO(data), "hostile.gpx")}


@pytest.mark.parametrize("name", sorted(HOSTILE_GPX))
def test_hostile_gpx_upload_to_the_api_is_refused_and_writes_nothing(app, client, name):
    before = _all_rows(app)

    response = client.post("/api/v1/patrols?lang=en", data=_gpx_form(HOSTILE_GPX[name]),
                           content_type="multipart/form-data")

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert (error["code"], error["message"]) == ("gpx_entities_forbidden", ENTITIES_REFUSED)
    assert b"root:" not in response.data
    assert _all_rows(app) == before
    stored = client.post("/api/v1/patrols?lang=en", data=_gpx_form(BENIGN_GPX), content_type="multipart/form-data")
    assert stored.status_code == 201, stored.get_json()


@pytest.mark.parametrize("name", sorted(HOSTILE_GPX))
def test_hostile_gpx_upload_through_the_web_form_is_refused_and_writes_nothing(app, client, name):
    before = _all_rows(app)
    form = _gpx_form(HOSTILE_GPX[name], task_id="", start="", end="")

    response = client.post("/patrols/new?lang=en", data=form, content_type="multipart/form-data")

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert ENTITIES_REFUSED in page and "root:" not in page
    assert _all_rows(app) == before


@pytest.mark.parametrize("name", sorted(HOSTILE_GPX))
def test_hostile_gpx_in_an_import_folder_is_refused_and_nothing_is_imported(app, tmp_path, name):
    folder = tmp_path / "gpx"
    folder.mkdir()
    (folder / "a-good.gpx").write_bytes(zone_gpx("korita-zbevnica.gpx", starting=dt.datetime(2021, 9, 4, 8, tzinfo=SHANGHAI)))
    (folder / f"{name}.gpx").write_bytes(HOSTILE_GPX[name])
    before = _all_rows(app)

    result = app.test_cli_runner().invoke(
        args=["patrols", "import-gpx", str(folder), "--volunteer", VOLUNTEER_S08, "--quiet"])

    assert result.exit_code == 1, result.output
    assert f"{name}.gpx: gpx_entities_forbidden: {ENTITIES_REFUSED}" in result.output
    assert "nothing imported: 1 of 2 files refused" in result.output
    assert "root:" not in result.output
    assert _all_rows(app) == before


def _polygon(size: int) -> bytes:
    """A grid-creation JSON body of exactly `size` bytes (padded in its name)."""
    body = json.dumps({"name": "", "level": "cell", "geometry": {"type": "Polygon", "coordinates": [[
        [117.30, 23.88], [117.301, 23.88], [117.301, 23.881], [117.30, 23.88]]]}}).encode()
    return body.replace(b'"name": ""', b'"name": "' + b"x" * (size - len(body)) + b'"')


def test_json_body_cap_default_leaves_room_for_a_station_at_the_vertex_limit(app):
    from gridsvc.geo.shapes import MAX_POLYGON_VERTICES
    from tests.reliability.hostile_probe import polygon_body

    assert app.config["MAX_JSON_BODY_BYTES"] == 4 * 1024 * 1024 < app.config["MAX_CONTENT_LENGTH"]
    _body, vertices = polygon_body(app.config["MAX_JSON_BODY_BYTES"])
    assert vertices > MAX_POLYGON_VERTICES  # a body at the cap still reaches the vertex check


@pytest.mark.parametrize("lang, message", [
    ("en", "The request body is larger than the 4194304 bytes accepted here."),
    ("zh", "请求内容超过此处允许的 4194304 字节。"),
])
def test_grid_body_over_the_json_cap_is_413_before_it_is_read(app, client, lang, message):
    cap = app.config["MAX_JSON_BODY_BYTES"]
    before = _all_rows(app)

    response = client.post(f"/api/v1/grids?lang={lang}", data=_polygon(cap + 1), content_type="application/json")

    assert response.status_code == 413
    assert response.get_json() == {"error": {"code": "request_entity_too_large", "message": message,
                                             "params": {"max_bytes": cap}}}
    assert _all_rows(app) == before


def test_camera_create_and_patch_bodies_over_the_json_cap_are_413(client, monkeypatch, app):
    monkeypatch.setitem(app.config, "MAX_JSON_BODY_BYTES", 1024)
    camera = {"device_id": "35060000001320000001", "name": "x" * 2000, "kind": "bullet", "lon": 117.3, "lat": 23.88}

    created = client.post("/api/v1/cameras?lang=en", json=camera)
    device = client.get("/api/v1/cameras").get_json()["features"][0]["properties"]["device_id"]
    patched = client.patch(f"/api/v1/cameras/{device}?lang=en", json={"note": "x" * 2000})

    for response in (created, patched):
        assert response.status_code == 413
        assert response.get_json()["error"]["params"] == {"max_bytes": 1024}


def _chunked(client, path: str, body: bytes):
    """POST `body` with no Content-Length (as Transfer-Encoding: chunked arrives from the server)."""
    return client.post(path, input_stream=io.BytesIO(body), content_type="application/json",
                       headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})


def test_chunked_grid_body_is_capped_too(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_JSON_BODY_BYTES", 1024)
    before = _all_rows(app)

    over = _chunked(client, "/api/v1/grids?lang=en", _polygon(1025))
    at_cap = _chunked(client, "/api/v1/grids?lang=en", _polygon(1024))

    assert over.status_code == 413 and over.get_json()["error"]["code"] == "request_entity_too_large"
    assert _all_rows(app) == before
    # exactly the cap is read whole and reaches the grid rules (a cell needs a parent), not the cap
    assert at_cap.status_code == 422, at_cap.get_json()
    assert at_cap.get_json()["error"]["code"] != "request_entity_too_large"


class _CountingStream(io.BytesIO):
    """A request body that remembers how many bytes the server read from it."""

    bytes_read = 0

    def read(self, size=-1):
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer):
        count = super().readinto(buffer)
        self.bytes_read += count
        return count


@pytest.mark.parametrize("path", ["/api/v1/patrols/batch", "/api/v1/grids", "/api/v1/no-such-endpoint"])
def test_anonymous_chunked_body_is_refused_unread(app, path):
    body = _CountingStream(b"[" + b" " * (5 * 1024 * 1024) + b"]")  # over the 4 MiB JSON cap

    response = app.test_client().post(path, input_stream=body, content_type="application/json",
                                      headers={"Transfer-Encoding": "chunked"},
                                      environ_overrides={"wsgi.input_terminated": True})

    assert response.status_code == 401, response.get_data(as_text=True)[:300]
    assert body.bytes_read == 0


def test_upload_endpoints_keep_the_larger_cap(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_JSON_BODY_BYTES", 1024)
    gpx = zone_gpx("korita-zbevnica.gpx", starting=dt.datetime(2021, 9, 5, 8, tzinfo=SHANGHAI))
    assert len(gpx) > 1024

    as_api = client.post("/api/v1/patrols?lang=en", data=_gpx_form(gpx), content_type="multipart/form-data")
    as_json = client.post("/api/v1/patrols?lang=en", json={
        "client_uuid": str(uuid.uuid4()), "kind": "individual", "volunteer": VOLUNTEER_S08,
        "start": "2021-09-06T19:00:00+08:00", "end": "2021-09-06T20:00:00+08:00", "padding": "x" * 2000})
    grid = client.post("/api/v1/grids?lang=en", data=_polygon(1025), content_type="application/json")

    assert as_api.status_code == 201, as_api.get_json()
    assert as_json.status_code == 201, as_json.get_json()
    assert grid.status_code == 413


def test_page_form_over_the_cap_gets_a_413_page(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_JSON_BODY_BYTES", 1024)

    response = client.post("/cameras/new?lang=en", data={"name": "x" * 2000})

    assert response.status_code == 413
    assert "The request body is larger than the 1024 bytes accepted here." in response.get_data(as_text=True)
