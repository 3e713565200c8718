"""The live stream: the snapshot, then what changed, as Server-Sent Events.

One ChangeWatcher per server process reads the open sessions and the points stored since its last
read every LIVE_POLL_SECONDS, in a short transaction of its own, keeps each running patrol's last
fix, distance and count in memory (service.LiveState) and wakes the streams waiting on it; every
stream's snapshot is cut from that one state, so a process reads the database once per poll
however many viewers it serves, and servers sharing one database see each other's points through
it. A stream never holds a transaction while it waits. Framework-free: the view passes in how to
load the snapshot and how to recheck the sign-in.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Callable, Iterator

from gridsvc.db import DEFERRED, begin_as, utcnow
from gridsvc.live.service import LiveRules, LiveState

log = logging.getLogger(__name__)


class ChangeWatcher:
    """One per process: keeps the live state (service.LiveState) up to date and wakes every stream on a change."""

    def __init__(self, sessions, *, interval: float, rules: LiveRules):
        self._sessions = sessions
        self._interval = interval
        self._rules = rules
        self._changed = threading.Condition()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._state = LiveState()
        self._ready = threading.Event()
        self.version = 0

    def _ensure_running(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="gridsvc-live-watcher", daemon=True)
                self._thread.start()

    def poll_once(self) -> bool:
        """Read what changed once; True (and the streams woken) when something did."""
        session = begin_as(self._sessions(), DEFERRED)
        try:
            with self._changed:
                changed = self._state.refresh(session, now=utcnow(), rules=self._rules)
                if changed:
                    self.version += 1
                    self._changed.notify_all()
        finally:
            session.rollback()
            session.close()
        self._ready.set()
        return changed

    def snapshot(self, *, station_ids: set[int] | None) -> tuple:
        """(now, the patrollers out now in scope) from the process's state, read once it is up."""
        self._ensure_running()
        if not self._ready.wait(timeout=10):
            self.poll_once()  # the watcher thread is stuck: read here
        now = utcnow()
        with self._changed:
            return now, self._state.snapshot(station_ids=station_ids, now=now, rules=self._rules)

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


class SharedViews:
    """Snapshots and their differences computed once per change and scope, for every stream of that scope.

    Fifty viewers of the whole zone cost one snapshot per change, not fifty.
    """

    def __init__(self, version: Callable[[], int], recompute_s: float, clock: Callable[[], float] = time.monotonic):
        self._version, self._recompute_s, self._clock = version, recompute_s, clock
        self._lock = threading.Lock()
        self._snapshots: dict = {}  # scope -> (key, snapshot)
        self._changes: dict = {}    # (id(before), id(after)) -> (before, after, events)

    def snapshot(self, scope, make: Callable[[], dict]) -> dict:
        """The scope's snapshot at this version (and recompute period), made once."""
        key = (self._version(), int(self._clock() // self._recompute_s))
        with self._lock:
            held = self._snapshots.get(scope)
            if held is not None and held[0] == key:
                return held[1]
        fresh = make()
        with self._lock:
            self._snapshots[scope] = (key, fresh)
        return fresh

    def changes(self, before: dict, after: dict) -> list[tuple[str, dict]]:
        """changes(before, after), computed once for every stream going from one to the other."""
        key = (id(before), id(after))
        with self._lock:
            held = self._changes.get(key)
            if held is not None and held[0] is before and held[1] is after:
                return held[2]
        events = changes(before, after)
        with self._lock:
            if len(self._changes) > 8:  # the streams of a scope move together: a few recent pairs suffice
                self._changes.clear()
            self._changes[key] = (before, after, events)  # the objects are kept: their ids stay theirs
        return events


def live_events(*, load: Callable[[], dict], still_allowed: Callable[[], bool], watcher: ChangeWatcher,
                heartbeat_s: float, recheck_s: float, recompute_s: float, stream_id: str,
                clock: Callable[[], float] = time.monotonic,
                diff: Callable[[dict, dict], list] = changes) -> Iterator[str]:
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

    version = watcher.version  # read first: a change while the snapshot is cut is then seen at once
    snapshot = load()
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
            for event, data in diff(snapshot, fresh):
                yield sse(event, data, next_id())
                last_beat = now
            snapshot, last_read = fresh, now
        if now - last_beat >= heartbeat_s:
            yield ": keepalive\n\n"
            last_beat = now
