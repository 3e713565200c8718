"""A real gridsvc server in a child process on 127.0.0.1, for crash, concurrency and streaming tests."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """`python -m gridsvc.server` (the production server `make run` starts) on a free loopback port.

    It runs in a process group of its own (the supervisor and its waitress workers), so kill()
    ends them all at once.
    """

    def __init__(self, database_url: str, *, log_path: Path, processes: int = 2, env: dict | None = None):
        self.database_url = database_url
        self.log_path = log_path
        self.processes = processes
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until it answers."""
        env = {**os.environ, "GRIDSVC_DATABASE_URL": self.database_url, "GRIDSVC_SECRET_KEY": "reliability",
               "PYTHONPATH": str(PROJECT_ROOT), **self.extra_env}
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gridsvc.server", "--host", "127.0.0.1", "--port", str(self.port),
             "--processes", str(self.processes)],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self.log_path}")
            try:
                status, _body = self.request("GET", "/api/v1/openapi.json", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer within {timeout} s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, exactly like a power cut of the process."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=30)
            self._wait_until_group_gone()

    def _wait_until_group_gone(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 10 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()  # whatever of the group is left

    def request(self, method: str, path: str, body=None, *, headers: dict | None = None,
                timeout: float = 30.0) -> tuple[int, dict | None]:
        """One HTTP request on a new connection; (status, JSON body or None)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            payload = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
            all_headers = dict(headers or {})
            if isinstance(body, (dict, list)):
                all_headers.setdefault("Content-Type", "application/json")
            connection.request(method, path, body=payload, headers=all_headers)
            response = connection.getresponse()
            data = response.read()
            try:
                parsed = json.loads(data) if data else None
            except ValueError:
                parsed = None
            return response.status, parsed
        finally:
            connection.close()
