"""The production server with a slow phone: its upload holds no worker and no lock; reads answer at once.

Against the real server (`python -m gridsvc.server`, two waitress processes) on both databases.
`make test` trickles for 8 s; `make reliability` for the issue's 60 s.
"""
from __future__ import annotations

import json
import socket
import threading
import time
import uuid

from tests.reliability.conftest import admin_account, record_figure, scaled
from tests.reliability.live_server import LiveServer

BYTES_PER_SECOND = 15
READS = 100
READ_BOUND_SECONDS = 1.0


def _slow_upload(port: int, token: str, body: bytes, seconds: float, result: dict) -> None:
    """POST the body at BYTES_PER_SECOND over `seconds`, then read the answer's status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds + 30) as connection:
        head = (f"POST /api/v1/patrols HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        connection.sendall(head.encode())
        started = time.monotonic()
        for offset in range(0, len(body), BYTES_PER_SECOND):
            connection.sendall(body[offset:offset + BYTES_PER_SECOND])
            time.sleep(max(0.0, started + (offset // BYTES_PER_SECOND + 1) - time.monotonic()))
        answer = b""
        while b"\r\n" not in answer:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    result["status"] = int(answer.split(b" ", 2)[1]) if answer else None


def test_reads_answer_within_a_second_while_a_phone_uploads_at_15_bytes_a_second(live_database, backend, tmp_path):
    from gridsvc import create_app

    url, uploader_token, patroller_ids, _point = live_database
    seconds = scaled(8, 60)
    reader_app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x"})
    _reader, reader_token = admin_account(reader_app.extensions["gridsvc"].sessions)
    reader_app.extensions["gridsvc"].engine.dispose()
    patrol = json.dumps({"client_uuid": str(uuid.uuid4()), "kind": "individual", "volunteer": patroller_ids[0],
                         "start": "2020-06-01T08:00:00+08:00", "end": "2020-06-01T09:00:00+08:00"}).encode()
    # Padded with JSON whitespace so that sending it takes `seconds` at 15 bytes/s.
    body = patrol + b" " * max(0, BYTES_PER_SECOND * seconds - len(patrol))

    server = LiveServer(url, log_path=tmp_path / "server.log")
    server.start()
    try:
        result: dict = {}
        uploader = threading.Thread(target=_slow_upload, args=(server.port, uploader_token, body, seconds, result))
        uploader.start()
        time.sleep(1)  # the upload is under way: headers sent, body trickling
        timings, statuses = [], []
        gap = (seconds - 2) / READS
        for _ in range(READS):
            started = time.monotonic()
            status, answer = server.request("GET", "/api/v1/auth/me", headers={"Authorization": f"Bearer {reader_token}"},
                                            timeout=READ_BOUND_SECONDS * 10)
            timings.append(time.monotonic() - started)
            statuses.append(status)
            time.sleep(max(0.0, gap - timings[-1]))
        still_uploading = uploader.is_alive()
        uploader.join(timeout=seconds + 60)
    finally:
        server.stop()
    timings.sort()
    record_figure(f"slow upload[{backend}] {seconds} s at 15 B/s: reads", len(timings))
    record_figure(f"slow upload[{backend}] read p50 / max s", (round(timings[len(timings) // 2], 3), round(timings[-1], 3)))
    assert still_uploading, "the upload finished before the reads did: the test proved nothing"
    assert statuses == [200] * READS
    assert timings[-1] < READ_BOUND_SECONDS
    assert result.get("status") == 201
