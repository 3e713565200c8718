"""The live stream: the snapshot, then what changed, as Server-Sent Events.

One ChangeWatcher per server process reads a cheap marker of what the live view shows (the newest
point, the open sessions) every LIVE_POLL_SECONDS in a short transaction of its own and wakes the
streams waiting on it in memory; servers sharing one database see each other's changes through it.
A stream never holds a transaction while it waits: each snapshot is read in a transaction of its
own. Framework-free: the view passes in how to load the snapshot and how to recheck the sign-in.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Callable, Iterator

import sqlalchemy as sa

from gridsvc.db import DEFERRED, begin_as
from gridsvc.patrols.models import PatrolSession
from gridsvc.positions.models import Position

log = logging.getLogger(__name__)


def read_marker(session) -> tuple:
    """What changes when the live view changes: the newest point, and the open sessions' count and newest id."""
    newest_point = session.scalar(sa.select(sa.func.max(Position.id)))
    open_count, newest_open = session.execute(
        sa.select(sa.func.count(), sa.func.max(PatrolSession.id)).where(PatrolSession.status == "open")).one()
    newest_session = session.scalar(sa.select(sa.func.max(PatrolSession.id)))
    return newest_point, open_count, newest_open, newest_session


class ChangeWatcher:
    """One per process: notices a change of the marker and wakes every stream waiting on it."""

    def __init__(self, sessions, *, interval: float):
        self._sessions = sessions
        self._interval = interval
        self._changed = threading.Condition()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._marker = None
        self.version = 0

    def _ensure_running(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="gridsvc-live-watcher", daemon=True)
                self._thread.start()

    def poll_once(self) -> bool:
        """Read the marker once; True (and the streams woken) when it changed."""
        session = begin_as(self._sessions(), DEFERRED)
        try:
            marker = read_marker(session)
        finally:
            session.rollback()
            session.close()
        if marker == self._marker:
            return False
        with self._changed:
            self._marker = marker
            self.version += 1
            self._changed.notify_all()
        return True

    def _run(self) -> None:
        while True:
            try:
                self.poll_once()
            except Exception:  # a database restart: the streams go on, the watcher tries again
                log.warning("live: change watcher could not read the database", exc_info=True)
            time.sleep(self._interval)

    def wait(self, version: int, timeout: float) -> int:
        """Wait until the version differs from `version` (or the timeout); the version now."""
        self._ensure_running()
        with self._changed:
            self._changed.wait_for(lambda: self.version != version, timeout=max(0.0, timeout))
            return self.version


def sse(event: str, data, event_id: str | None = None) -> str:
    """One Server-Sent Event."""
    lines = [f"id: {event_id}"] if event_id else []
    lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in json.dumps(data, ensure_ascii=False, separators=(",", ":")).splitlines())
    return "\n".join(lines) + "\n\n"


def _by_session(snapshot: dict) -> dict[int, dict]:
    return {patroller["session"]["id"]: patroller for patroller in snapshot["patrollers"]}


def changes(before: dict, after: dict) -> list[tuple[str, dict]]:
    """The events from one snapshot to the next: sessions started and ended, new positions, state changes, counts."""
    old, new = _by_session(before), _by_session(after)
    events: list[tuple[str, dict]] = []
    for session_id, patroller in new.items():
        was = old.get(session_id)
        if was is None:
            events.append(("session_started", patroller))
        elif (was["position"] or {}).get("time") != (patroller["position"] or {}).get("time"):
            events.append(("position", patroller))
        elif was["state"] != patroller["state"]:
            events.append(("state", {"session_id": session_id, "volunteer_id": patroller["volunteer"]["id"],
                                     "state": patroller["state"]}))
    for session_id, patroller in old.items():
        if session_id not in new:
            events.append(("session_ended", {"session_id": session_id, "volunteer_id": patroller["volunteer"]["id"]}))
    if (before["counts"], before["by_station"]) != (after["counts"], after["by_station"]):
        events.append(("counts", {"counts": after["counts"], "by_station": after["by_station"],
                                  "generated_at": after["generated_at"]}))
    return events


def live_events(*, load: Callable[[], dict], still_allowed: Callable[[], bool], watcher: ChangeWatcher,
                heartbeat_s: float, recheck_s: float, recompute_s: float, stream_id: str,
                clock: Callable[[], float] = time.monotonic) -> Iterator[str]:
    """The stream: the snapshot, then changes as they happen, a heartbeat when quiet, an end once signed out.

    A reconnect (EventSource sends Last-Event-ID) starts again with a snapshot: the client takes the
    state as it is now, so nothing that changed while it was away is missed. The snapshot is read
    again on every change and at least every `recompute_s` (states age without a new point).
    """
    sequence = 0

    def next_id() -> str:
        nonlocal sequence
        sequence += 1
        return f"{stream_id}.{sequence}"

    snapshot = load()
    version = watcher.version
    yield "retry: 3000\n\n"
    yield sse("snapshot", snapshot, next_id())
    last_beat = last_check = last_read = clock()
    while True:
        now = clock()
        timeout = min(last_beat + heartbeat_s, last_check + recheck_s, last_read + recompute_s) - now
        seen = watcher.wait(version, timeout)
        now = clock()
        if now - last_check >= recheck_s:
            if not still_allowed():
                yield sse("end", {"reason": "signed_out"}, next_id())
                return
            last_check = now
        if seen != version or now - last_read >= recompute_s:
            version = seen
            fresh = load()
            for event, data in changes(snapshot, fresh):
                yield sse(event, data, next_id())
                last_beat = now
            snapshot, last_read = fresh, now
        if now - last_beat >= heartbeat_s:
            yield ": keepalive\n\n"
            last_beat = now
