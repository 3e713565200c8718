"""Item 5: the server's resident memory (VmRSS before, VmHWM peak) during the completion report and /map."""
from __future__ import annotations

from bench.report import Table
from bench.server import BenchServer

# The page (filters and an iframe) and the frame it embeds, which carries every camera.
MAP_PATHS = ("/map", "/map/frame")


class Memory:
    """Peak resident memory of the bench server, phase by phase (peak reset between phases)."""

    def __init__(self, server: BenchServer) -> None:
        self.server = server
        self.rows: list[list] = []
        self.notes: list[str] = []
        self.idle_kib = server.memory_kib()["VmRSS"]
        self._phase: tuple[str, int, bool] | None = None

    def start(self, label: str) -> None:
        """Begin a phase: remember the current RSS and reset the peak."""
        reset = self.server.reset_peak()
        self._phase = (label, self.server.memory_kib()["VmRSS"], reset)

    def stop(self, detail: str = "") -> None:
        """End the phase: record its peak."""
        label, before, reset = self._phase
        peak = self.server.memory_kib()["VmHWM"]
        self.rows.append([label, before / 1024, peak / 1024, (peak - before) / 1024, detail])
        if not reset:
            self.notes.append(f"{label}: peak could not be reset; it is the process's peak so far.")

    def measure_map(self, *, cameras: int) -> None:
        """GET /map and the frame it embeds, signed in as a browser is, with every camera in the database."""
        self.server.sign_in()
        for path in MAP_PATHS:
            self.start(f"GET {path} ({cameras:,} cameras)")
            status, body, seconds = self.server.timed_page(path)
            if status != 200:
                self._phase = None
                self.notes.append(f"{path}: answered {status}; not measured.")
                continue
            self.stop(f"HTTP {status}, {seconds:.2f} s, {len(body) / 1e6:.2f} MB")

    def table(self, backend: str) -> Table:
        """The memory table of this backend's server."""
        table = Table(f"Server memory, {backend}", ["phase", "RSS before MiB", "peak MiB", "growth MiB", "detail"])
        for row in self.rows:
            table.add(*row)
        table.note(f"Server process idle after start: {self.idle_kib / 1024:.0f} MiB RSS; "
                   "peak = VmHWM from /proc, reset before each phase (clear_refs 5).")
        for note in self.notes:
            table.note(note)
        return table
