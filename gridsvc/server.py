"""The production server: waitress worker processes, one per core, sharing one listening socket.

`python -m gridsvc.server [--host H] [--port P]` (what `make run` and the systemd unit start).

Why waitress: its I/O thread receives each request whole -- headers and body, chunked or not,
up to MAX_CONTENT_LENGTH -- before a worker thread and the application see it, so a phone on a
slow link never holds a worker, a database connection or SQLite's write lock while it sends; a
connection idle for SERVER_IDLE_TIMEOUT_SECONDS is closed; responses are streamed, so a live
event stream costs one worker thread and no process. It is pure Python, maintained by the Pylons
project, and runs unchanged under a service manager. It has one process; this module forks
SERVER_PROCESSES of them (default: one per core) over one socket bound before the fork, and
restarts any that dies. The parent holds no application and no database connection.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import time

log = logging.getLogger("gridsvc.server")


def bind(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket on host:port, inherited by the worker processes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(backlog)
    listener.setblocking(False)
    return listener


def run_worker(listener: socket.socket, settings_overrides: dict | None = None) -> None:
    """One worker process: build the app, then serve the shared socket with waitress until signalled."""
    import waitress

    from gridsvc import create_app

    app = create_app(settings_overrides)
    config = app.config
    waitress.serve(
        app,
        sockets=[listener],
        threads=config["SERVER_THREADS"],
        connection_limit=config["SERVER_CONNECTION_LIMIT"],
        channel_timeout=config["SERVER_IDLE_TIMEOUT_SECONDS"],
        max_request_body_size=config["MAX_CONTENT_LENGTH"],
        asyncore_use_poll=True,  # select() stops at 1,024 descriptors; live streams need more
        expose_tracebacks=False,
        ident="gridsvc",
        _quiet=True,
    )


class Supervisor:
    """Fork the workers, restart one that dies, and pass SIGTERM/SIGINT on to all of them."""

    def __init__(self, listener: socket.socket, processes: int, overrides: dict | None = None):
        self.listener, self.processes, self.overrides = listener, processes, overrides
        self.children: dict[int, float] = {}  # pid -> start time
        self.stopping = False

    def _spawn(self) -> None:
        # Signals wait until the child is registered (parent) or has its own handlers (child):
        # a SIGTERM in between would leave a worker nobody stops, or make a child stop its siblings.
        stop_signals = {signal.SIGTERM, signal.SIGINT}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
            try:
                run_worker(self.listener, self.overrides)
            except Exception:
                log.exception("worker failed")
                os._exit(1)
            os._exit(0)
        self.children[pid] = time.monotonic()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)

    def _stop(self, signum, _frame) -> None:
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def run(self) -> int:
        """Run until signalled; returns the exit status."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for _ in range(self.processes):
            self._spawn()
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            started = self.children.pop(pid, None)
            if self.stopping or started is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            log.warning("worker %s ended (%s); starting another", pid, code)
            if time.monotonic() - started < 1:
                time.sleep(1)  # a worker that dies at start-up is not restarted in a tight loop
            if not self.stopping:  # a SIGTERM during the pause: start nothing nobody would stop
                self._spawn()
        return 0


def main(argv: list[str] | None = None) -> int:
    """Command line: serve gridsvc on --host/--port with SERVER_PROCESSES waitress workers."""
    from config import load_config

    parser = argparse.ArgumentParser(prog="python -m gridsvc.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--processes", type=int, default=None, help="worker processes (default: one per core)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    settings = load_config()
    if not settings.get("SECRET_KEY"):
        from gridsvc import _instance_secret_key

        _instance_secret_key()  # made once here, so the workers do not race to write different keys
    processes = args.processes or settings["SERVER_PROCESSES"] or os.cpu_count() or 1
    listener = bind(args.host, args.port)
    log.info("gridsvc on http://%s:%s/ with %s processes x %s threads (waitress)",
             args.host, args.port, processes, settings["SERVER_THREADS"])
    sys.stdout.flush()
    return Supervisor(listener, processes).run()


if __name__ == "__main__":
    sys.exit(main())
