"""Result tables (printed as Markdown) and the machine description that goes with them."""
from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass, field


@dataclass
class Table:
    """A titled table of rows; str() is Markdown, so the printout pastes into RESULTS.md."""

    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *values) -> None:
        """Append one row (values are formatted when printed)."""
        self.rows.append(list(values))

    def note(self, text: str) -> None:
        """A line printed under the table (skips, caveats)."""
        self.notes.append(text)

    def __str__(self) -> str:
        cells = [[_cell(v) for v in row] for row in self.rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells if i < len(r)]) for i, c in enumerate(self.columns)]
        lines = [f"### {self.title}", "",
                 "| " + " | ".join(c.ljust(w) for c, w in zip(self.columns, widths)) + " |",
                 "| " + " | ".join("-" * w for w in widths) + " |"]
        lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
        lines += [""] + [f"- {n}" for n in self.notes] if self.notes else []
        return "\n".join(lines) + "\n"


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def median_p95(samples: list[float]) -> tuple[float, float]:
    """Median and 95th percentile (nearest rank) of the samples."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(0.95 * len(ordered) + 0.5) - 1))
    return statistics.median(ordered), ordered[rank]


def ratio(numerator: float | None, denominator: float | None) -> str | None:
    """numerator / denominator as '3.2x' (None when either is missing)."""
    if not numerator or not denominator:
        return None
    return f"{numerator / denominator:.2f}x"


def machine() -> str:
    """CPU model, core count, RAM, OS and Python: the context every figure needs."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model)
    except OSError:
        pass
    ram_gib = None
    try:
        with open("/proc/meminfo") as meminfo:
            kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
        ram_gib = kib / 1024 / 1024
    except (OSError, StopIteration):
        pass
    ram = f"{ram_gib:.1f} GiB RAM" if ram_gib else "RAM unknown"
    return f"{model}, {os.cpu_count()} cores (nproc), {ram}, {platform.system()} {platform.release()}, Python {platform.python_version()}"
