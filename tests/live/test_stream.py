"""The live stream (issue 21): what changes become which events, when it beats and when it ends; then a real
server streaming to a real HTTP client, a point reaching it, a cap per account and a sign-out ending it.
"""
from __future__ import annotations

import datetime as dt
import http.client
import json
import secrets
import time
import uuid
from urllib.parse import urlencode

import pytest

from gridsvc.live.stream import changes, live_events, sse
from tests.reliability.live_server import LiveServer


def _patroller(session_id, *, time="10:00", state="online", volunteer=7):
    return {"volunteer": {"id": volunteer}, "state": state, "position": {"time": time}, "session": {"id": session_id}}


def _snapshot(*patrollers, online=None):
    return {"patrollers": list(patrollers), "counts": {"online": len(patrollers) if online is None else online},
            "by_station": {}, "generated_at": "t"}


def test_changes_name_each_kind_of_change_once():
    before = _snapshot(_patroller(1), _patroller(2, volunteer=8), _patroller(3, volunteer=9))
    after = _snapshot(_patroller(1, time="10:01"), _patroller(2, volunteer=8, state="stale"), _patroller(4, volunteer=10),
                      online=3)
    events = changes(before, after)
    assert [name for name, _data in events] == ["position", "state", "session_started", "session_ended"]
    assert events[1][1] == {"session_id": 2, "volunteer_id": 8, "state": "stale"}
    assert events[3][1] == {"session_id": 3, "volunteer_id": 9}
    assert changes(after, after) == []
    counted = changes(before, _snapshot(_patroller(1), _patroller(2, volunteer=8), _patroller(3, volunteer=9), online=2))
    assert [name for name, _ in counted] == ["counts"]


class _Watcher:
    """A change watcher whose versions the test decides: wait() advances a fake clock instead of sleeping."""

    def __init__(self, clock, versions):
        self.clock, self.versions, self.version = clock, versions, 0

    def wait(self, version, timeout):
        self.clock[0] += max(timeout, 0.0) if not self.versions else 0.1
        if self.versions:
            self.version = self.versions.pop(0)
        return self.version


def test_the_stream_starts_with_a_snapshot_beats_when_quiet_and_ends_once_signed_out():
    clock = [0.0]
    snapshots = [_snapshot(_patroller(1)), _snapshot(_patroller(1, time="10:01"))]
    allowed = [True, False]
    stream = live_events(load=lambda: snapshots.pop(0) if len(snapshots) > 1 else snapshots[0],
                         still_allowed=lambda: allowed.pop(0), watcher=_Watcher(clock, [1]), heartbeat_s=15,
                         recheck_s=30, recompute_s=1000, stream_id="s", clock=lambda: clock[0])
    out = list(stream)
    assert out[0] == "retry: 3000\n\n"
    assert out[1].startswith("id: s.1\nevent: snapshot\ndata: ")
    assert out[2].startswith("id: s.2\nevent: position\n")
    assert ": keepalive\n\n" in out
    assert out[-1] == 'id: s.%d\nevent: end\ndata: {"reason":"signed_out"}\n\n' % (2 + 1)
    assert clock[0] <= 60.5  # the second recheck (at 60 s) ended it


def test_an_event_is_json_on_data_lines():
    assert sse("x", {"名": 1}, "a.1") == 'id: a.1\nevent: x\ndata: {"名":1}\n\n'


@pytest.fixture
def streaming(empty_app, tmp_path):
    """A committed world, a centre viewer's sign-in, a volunteer's device and open patrol, a real server."""
    from gridsvc.auth import service as auth_service
    from gridsvc.db import session_scope
    from gridsvc.people.models import Patroller
    from gridsvc.positions import service as position_service
    from tests.reliability.conftest import build_live_world

    sessions = empty_app.extensions["gridsvc"].sessions
    world = build_live_world(sessions)
    with session_scope(sessions) as session:
        viewer = auth_service.create_user(session, username="duty", password=secrets.token_urlsafe(16),
                                          role="centre_viewer")
        _token, secret = auth_service.issue_token(session, user=viewer, name="duty screen")
        _device, key = position_service.register_device(session, patroller=session.get(Patroller, world.patroller_ids[0]),
                                                        name="phone")
    server = LiveServer(empty_app.config["DATABASE_URL"], log_path=tmp_path / "server.log",
                        env={"GRIDSVC_LIVE_STREAM_RECHECK_SECONDS": "2", "GRIDSVC_LIVE_MAX_STREAMS_PER_USER": "2"})
    server.start()
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(seconds=5)
    status, _ = server.request("POST", "/api/v1/patrols/recorder", {
        "device_id": key, "client_uuid": str(uuid.uuid4()), "kind": "individual", "start": started.isoformat()})
    assert status == 200
    yield server, secret, key, world, sessions
    server.stop()


class _EventReader:
    """An SSE client over http.client with a bearer header (the browser test streams with the page's cookie)."""

    def __init__(self, port: int, token: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=40)
        self.connection.request("GET", "/api/v1/live/stream",
                                headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"})
        self.response = self.connection.getresponse()

    def next_event(self) -> tuple[str | None, dict | None]:
        fields: dict[str, str] = {}
        while True:
            line = self.response.fp.readline()
            if not line:
                return None, None  # the server ended the stream
            line = line.decode().rstrip("\n")
            if line == "":
                if "event" in fields:
                    return fields["event"], json.loads(fields.get("data", "null"))
                fields = {}
                continue
            name, _, value = line.partition(": ")
            if name in ("event", "data"):
                fields[name] = value

    def until(self, wanted: str) -> dict:
        """The data of the next event named `wanted` (others are skipped)."""
        while True:
            event, data = self.next_event()
            if event == wanted:
                return data
            assert event is not None, f"the stream ended before a {wanted} event"

    def close(self):
        self.connection.close()


def test_a_point_reaches_a_streaming_viewer_within_two_seconds_and_disabling_the_account_ends_it(streaming):
    from gridsvc.auth import service as auth_service
    from gridsvc.db import session_scope

    server, token, key, world, sessions = streaming
    reader = _EventReader(server.port, token)
    try:
        assert reader.response.status == 200 and reader.response.getheader("Content-Type").startswith("text/event-stream")
        event, snapshot = reader.next_event()
        assert event == "snapshot" and [p["volunteer"]["id"] for p in snapshot["patrollers"]] == [world.patroller_ids[0]]
        lon, lat = world.point
        query = urlencode({"id": key, "lat": f"{lat:.7f}", "lon": f"{lon:.7f}", "timestamp": int(time.time()),
                           "accuracy": 5})
        status, _ = server.request("GET", f"/api/v1/positions/osmand?{query}")
        acknowledged = time.monotonic()
        assert status == 200
        data = reader.until("position")
        lag = time.monotonic() - acknowledged
        assert round(data["position"]["lat"], 7) == round(lat, 7) and data["state"] == "online"
        assert lag < 2.0, lag
        # Two streams per account here: a third is refused.
        second = _EventReader(server.port, token)
        third = _EventReader(server.port, token)
        assert second.response.status == 200 and third.response.status == 429
        second.close()
        third.close()
        with session_scope(sessions) as session:
            auth_service.set_active(session, username="duty", active=False)
        signed_out = time.monotonic()
        events = []
        while True:
            event, data = reader.next_event()
            if event is None:
                break
            events.append((event, data))
        assert ("end", {"reason": "signed_out"}) in events
        assert time.monotonic() - signed_out < 30
    finally:
        reader.close()



def test_with_two_servers_on_one_database_a_point_sent_to_one_reaches_a_viewer_of_the_other(streaming, tmp_path):
    server, token, key, world, _sessions = streaming
    other = LiveServer(server.database_url, log_path=tmp_path / "other.log", processes=1)
    other.start()
    try:
        reader = _EventReader(other.port, token)
        try:
            event, _snapshot = reader.next_event()
            assert event == "snapshot"
            lon, lat = world.point
            query = urlencode({"id": key, "lat": f"{lat + 0.001:.7f}", "lon": f"{lon:.7f}",
                               "timestamp": int(time.time()), "accuracy": 5})
            status, _ = server.request("GET", f"/api/v1/positions/osmand?{query}")
            acknowledged = time.monotonic()
            assert status == 200
            data = reader.until("position")
            assert round(data["position"]["lat"], 7) == round(lat + 0.001, 7)
            assert time.monotonic() - acknowledged < 2.0
        finally:
            reader.close()
    finally:
        other.stop()


def test_streams_of_one_scope_share_one_snapshot_per_change_and_one_difference():
    from gridsvc.live.stream import SharedViews

    version, clock, made = [1], [0.0], []

    def make():
        made.append(1)
        return _snapshot(_patroller(1, time=f"10:0{len(made)}"))

    shared = SharedViews(lambda: version[0], recompute_s=5.0, clock=lambda: clock[0])
    first = shared.snapshot(None, make)
    assert shared.snapshot(None, make) is first and len(made) == 1
    assert shared.snapshot(frozenset({3}), make) is not first  # another scope: its own
    version[0] = 2
    second = shared.snapshot(None, make)
    assert second is not first and len(made) == 3
    clock[0] = 5.0  # the recompute period passed: states age even without a change
    assert shared.snapshot(None, make) is not second
    events = shared.changes(first, second)
    assert [name for name, _ in events] == ["position"] and shared.changes(first, second) is events
