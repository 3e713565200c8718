"""The real gridsvc app served in a subprocess on 127.0.0.1, called over HTTP, its memory read from /proc.

`python -m bench.server <database url>` serves (werkzeug, one thread, a free port printed on
stdout); `BenchServer` starts that, makes calls with http.client and reads VmHWM/VmRSS.
"""
from __future__ import annotations

import http.client
import json
import os
import secrets
import subprocess
import sys
import re
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Credentials:
    """A bench admin account: its password for the browser-style sign-in, and an API bearer token."""

    username: str
    password: str
    token: str


def bench_admin(app) -> Credentials:
    """Create a bench admin account and issue it a bearer token."""
    from gridsvc.auth import service as auth
    from gridsvc.db import session_scope

    username, password = f"bench-{secrets.token_hex(3)}", secrets.token_urlsafe(24)
    with app.app_context(), session_scope(app.extensions["gridsvc"].sessions) as session:
        user = auth.create_user(session, username=username, password=password, role="admin")
        _row, secret = auth.issue_token(session, user=user, name="bench")
    return Credentials(username, password, secret)


def _memory_kib(pid: int) -> dict[str, int]:
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(rest.split()[0])
    return values


class BenchServer:
    """The app on `url`, served by a child process; use as a context manager."""

    def __init__(self, url: str, *, credentials: Credentials, timeout: float = 600.0):
        self.url, self.credentials, self.timeout = url, credentials, timeout
        self.token = credentials.token
        self.cookies: dict[str, str] = {}
        self.process: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> BenchServer:
        env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
        self.log_path = PROJECT_ROOT / "bench" / "out" / f"server_{os.getpid()}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "w") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bench.server", self.url], cwd=PROJECT_ROOT, env=env,
                stdout=subprocess.PIPE, stderr=log, text=True,
            )
        line = self.process.stdout.readline()  # "port <n>" once the socket listens
        if not line.startswith("port "):
            self.process.kill()
            raise RuntimeError(f"bench server did not start; see {self.log_path}")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *_exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def memory_kib(self) -> dict[str, int]:
        """The server's current (VmRSS) and peak (VmHWM) resident memory in KiB."""
        return _memory_kib(self.pid)

    def reset_peak(self) -> bool:
        """Reset VmHWM to the current RSS (Linux clear_refs 5); False where not permitted."""
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as handle:
                handle.write("5")
            return True
        except OSError:
            return False

    def _call(self, method: str, path: str, payload: bytes | None, headers: dict) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        if self.cookies:
            headers = {**headers, "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, value = header.split(";", 1)[0].partition("=")
                self.cookies[name.strip()] = value.strip()
            return response.status, response.read()
        finally:
            connection.close()

    def request(self, method: str, path: str, body=None) -> tuple[int, bytes]:
        """One API call on loopback with the bearer token; JSON body when given; returns (status, raw body)."""
        headers = {"Accept": "application/json", "Authorization": f"Bearer {self.token}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return self._call(method, path, payload, headers)

    def sign_in(self) -> None:
        """Sign in through the /login form as a browser does (CSRF token, session cookie), for pages."""
        status, page = self._call("GET", "/login", None, {"Accept": "text/html"})
        match = re.search(rb'name="csrf_token" value="([^"]+)"', page)
        if status != 200 or not match:
            raise RuntimeError(f"bench: /login answered {status} without a CSRF token")
        form = urllib.parse.urlencode({"csrf_token": match.group(1).decode(), "next": "/",
                                       "username": self.credentials.username,
                                       "password": self.credentials.password}).encode()
        status, _body = self._call("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded",
                                                            "Accept": "text/html"})
        if status != 302:
            raise RuntimeError(f"bench: signing in answered {status}, not a redirect")

    def page(self, path: str) -> tuple[int, bytes]:
        """GET a page with the signed-in browser session's cookie (no bearer token)."""
        return self._call("GET", path, None, {"Accept": "text/html"})

    def timed(self, method: str, path: str, body=None) -> tuple[int, bytes, float]:
        """request() and its wall time in seconds."""
        started = time.perf_counter()
        status, data = self.request(method, path, body)
        return status, data, time.perf_counter() - started

    def timed_page(self, path: str) -> tuple[int, bytes, float]:
        """page() and its wall time in seconds."""
        started = time.perf_counter()
        status, data = self.page(path)
        return status, data, time.perf_counter() - started


def main(url: str) -> None:
    """Serve the app on a free loopback port and print it."""
    from werkzeug.serving import make_server

    from gridsvc import create_app

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "REGION_CODE": "350600"})
    server = make_server("127.0.0.1", 0, app, threaded=False)
    parent = os.getppid()

    def exit_with_parent() -> None:  # an interrupted benchmark must not leave its server behind
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    import threading

    threading.Thread(target=exit_with_parent, daemon=True).start()
    print(f"port {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
