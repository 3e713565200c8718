"""Item 4: map render time, page weight and Chromium load, from bench/bench_map_render.py (the map engineer's)."""
from __future__ import annotations

from bench.report import Table


def run(camera_counts) -> list[Table]:
    """bench_map_render.run for these camera counts; a note instead when it is not there yet."""
    try:
        from bench import bench_map_render
    except ImportError as missing:
        table = Table("Map render", ["cameras", "note"])
        table.note(f"bench/bench_map_render.py not available ({missing}); map benchmark skipped.")
        return [table]
    tables = bench_map_render.run(tuple(camera_counts))
    for table in tables:
        table.note("The page is built from the cameras in memory: the same on both databases (the /map page "
                   "served from each database is timed in the server-memory table).")
    return tables + [ratios(tables[0])] if tables else tables


def ratios(measured: Table) -> Table:
    """gridsvc's page against the bare folium page with the same points (one Marker per camera)."""
    table = Table("Map page ratios: gridsvc / bare folium (folium-markers)",
                  ["cameras", "render ratio", "HTML size ratio", "chromium load ratio"])
    by_key = {(row[0], row[1]): row for row in measured.rows}
    # Columns by name: bench_map_render's table may gain columns.
    wanted = [next((i for i, c in enumerate(measured.columns) if c.startswith(prefix)), None)
              for prefix in ("python render", "HTML", "chromium load")]
    for count in dict.fromkeys(row[0] for row in measured.rows):
        ours, theirs = by_key.get((count, "gridsvc")), by_key.get((count, "folium-markers"))
        if not ours or not theirs:
            continue
        table.add(count, *(None if i is None else _ratio(ours[i], theirs[i]) for i in wanted))
    table.note("Below 1x: gridsvc is faster / lighter. '-' where a side hit its time cap.")
    return table


def _ratio(ours, theirs) -> str | None:
    if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) and theirs:
        return f"{ours / theirs:.2f}x"
    return None
