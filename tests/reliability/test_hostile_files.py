"""Hostile inputs are refused quickly, clearly and in bounded memory.

In-process cases run each in a fresh Python process (tests/reliability/hostile_probe.py) so the
peak resident memory of the request can be read; the 10-million-point track (about 600 MB of GPX)
is streamed over a socket to a real server, with and without a Content-Length, and the server's
own peak memory is read from /proc.
"""
from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
import uuid

import pytest

from tests.reliability.conftest import record_figure
from tests.reliability.hostile_probe import GPX_HEAD, GPX_TAIL, TEN_MILLION, gpx_point
from tests.reliability.live_server import PROJECT_ROOT, LiveServer

# case -> (expected status, expected error code)
IN_PROCESS_CASES = {
    "xxe_gpx": (422, "gpx_entities_forbidden"),
    "billion_laughs_gpx": (422, "gpx_entities_forbidden"),
    "gzip_bomb": (415, "unsupported_media_type"),
    "deep_geojson": (422, "json_object_required"),
    "huge_geojson": (422, "polygon_too_complex"),
}
MAX_SECONDS = 20.0
MAX_MEMORY_MIB = 512


@pytest.mark.parametrize("case", sorted(IN_PROCESS_CASES))
def test_hostile_input_is_refused_quickly_in_bounded_memory(case, live_database, backend):
    url, token, _volunteers, _point = live_database
    completed = subprocess.run(
        [sys.executable, "-m", "tests.reliability.hostile_probe", case, url, token],
        cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    record_figure(f"hostile[{backend}] {case}", result)
    assert (result["status"], result["code"]) == IN_PROCESS_CASES[case]
    assert result["seconds"] < MAX_SECONDS and result["memory_mib"] < MAX_MEMORY_MIB


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
