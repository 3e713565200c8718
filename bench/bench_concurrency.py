"""50 concurrent /dashboard requests: p95 against the CPU bound, on the production server and Flask's dev server.

The CPU bound is what two cores could at best do: one request's time alone x 50 / cores. A server
that serves one request at a time is near cores x the bound; one that uses every core is near 1.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.report import Table
from bench.server import PROJECT_ROOT, BenchServer, Credentials

CONCURRENT = 50
PATH = "/dashboard"
ALONE_REPEATS = 10
ROUNDS = 3


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServedBy(BenchServer):
    """BenchServer's HTTP helpers against a server started from a command line (production or dev)."""

    def __init__(self, url: str, *, credentials: Credentials, command: list[str], label: str):
        super().__init__(url, credentials=credentials)
        self.command, self.label = command, label

    def __enter__(self) -> ServedBy:
        self.port = _free_port()
        env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), GRIDSVC_DATABASE_URL=self.url,
                   GRIDSVC_SECRET_KEY="bench", FLASK_DEBUG="0")
        self.log_path = PROJECT_ROOT / "bench" / "out" / f"server_{self.label}_{os.getpid()}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen([*self.command, "--port", str(self.port)], cwd=PROJECT_ROOT, env=env,
                                            stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self._call("GET", "/healthz", None, {})[0] == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.label} did not start; see {self.log_path}")

    def __exit__(self, *_exc) -> None:
        import signal

        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _burst(server: ServedBy, count: int) -> tuple[list[float], list[int]]:
    """`count` page requests released together by a barrier; the wall times of the answered ones, every status.

    A request that got no answer (connection refused or reset) has status 0 and no time.
    """
    barrier = threading.Barrier(count)
    times: list[float | None] = [None] * count
    statuses = [0] * count

    def one(index: int) -> None:
        barrier.wait()
        started = time.perf_counter()
        try:
            statuses[index] = server.page(PATH)[0]
        except OSError:
            return
        times[index] = time.perf_counter() - started

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [t for t in times if t is not None], statuses


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def run(url: str, credentials: Credentials, *, backend: str) -> Table:
    """The table: per server, request time alone, p95 of 50 at once, the CPU bound and their ratio."""
    cores = os.cpu_count() or 1
    from config import load_config

    settings = load_config()
    servers = [
        ("gridsvc.server (waitress)", [sys.executable, "-m", "gridsvc.server", "--host", "127.0.0.1"],
         f"{settings['SERVER_PROCESSES'] or cores} processes x {settings['SERVER_THREADS']} threads"),
        ("flask run --with-threads (dev)", [sys.executable, "-m", "flask", "--app", "gridsvc", "run", "--no-reload",
                                            "--with-threads", "--host", "127.0.0.1"], "1 process, a thread per request"),
    ]
    table = Table(f"{CONCURRENT} concurrent {PATH} requests, {backend}",
                  ["server", "processes x threads", "alone median s", f"p95 of {CONCURRENT} s", "CPU bound s",
                   "p95 / bound", "non-200"])
    for label, command, shape in servers:
        with ServedBy(url, credentials=credentials, command=command, label=label.split()[0]) as server:
            server.sign_in()
            server.page(PATH)  # warm: templates compiled, caches filled
            alone = statistics.median(_timed_page(server) for _ in range(ALONE_REPEATS))
            p95s, failures = [], 0
            for _ in range(ROUNDS):
                times, statuses = _burst(server, CONCURRENT)
                p95s.append(_p95(times))
                failures += sum(1 for status in statuses if status != 200)
            p95 = statistics.median(p95s)
            bound = alone * CONCURRENT / cores
            table.add(label, shape, alone, p95, bound, p95 / bound, failures)
    table.note(f"CPU bound = alone x {CONCURRENT} / {cores} cores; goal p95 / bound <= 1.5. p95 is the median of "
               f"{ROUNDS} bursts, each released together by a barrier; alone is the median of {ALONE_REPEATS}.")
    table.note("The load generator's threads run on the same cores as the server.")
    return table


def _timed_page(server: ServedBy) -> float:
    started = time.perf_counter()
    status, _body = server.page(PATH)
    if status != 200:
        raise RuntimeError(f"{PATH} answered {status}")
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit("run through `python -m bench --only concurrency`")
