"""Item 3: assign points to their station with gridsvc (stations read from the DB, tested in process) vs GeoPandas."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from bench.database import OUT_DIR
from bench.report import Table, ratio
from bench.server import PROJECT_ROOT

GEOPANDAS_TIMEOUT = 600
LABEL = "gridsvc assign_points (stations from DB)"


def geopandas_join(city, points) -> dict:
    """Run the GeoPandas join in a separate process (never beside mod_spatialite); its timings and codes."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    source = OUT_DIR / f"sjoin_in_{os.getpid()}.json"
    target = OUT_DIR / f"sjoin_out_{os.getpid()}.json"
    source.write_text(json.dumps({"stations": [{"code": s.code, "wkt": s.wkt()} for s in city.stations],
                                  "points": points}))
    try:
        completed = subprocess.run([sys.executable, "-m", "bench.geopandas_join", str(source), str(target)],
                                   cwd=PROJECT_ROOT, env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)),
                                   capture_output=True, text=True, timeout=GEOPANDAS_TIMEOUT)
        if completed.returncode != 0:
            return {"error": (completed.stderr.strip().splitlines() or [f"exit {completed.returncode}"])[-1]}
        return json.loads(target.read_text())
    finally:
        source.unlink(missing_ok=True)
        target.unlink(missing_ok=True)


def run(app, points, geopandas: dict, *, backend: str, repeats: int = 3) -> Table:
    """Best-of-`repeats` wall time of gridsvc.grids.service.assign_points against the GeoPandas join."""
    from gridsvc.grids.service import assign_points

    table = Table(f"Spatial assignment, {len(points):,} points, {backend}",
                  ["method", "seconds", "points/s", "ratio (time / GeoPandas)", "agreement"])
    timings, codes = [], []
    session = app.extensions["gridsvc"].sessions()
    try:
        for _ in range(repeats):
            started = time.perf_counter()
            codes = assign_points(session, points=points)
            timings.append(time.perf_counter() - started)
    finally:
        session.close()
    ours = min(timings)
    if "error" in geopandas:
        table.add(LABEL, ours, len(points) / ours, None, None)
        table.note(f"GeoPandas side failed: {geopandas['error']}")
        return table
    theirs = geopandas["join_seconds"]
    agree = sum(a == b for a, b in zip(codes, geopandas["codes"]))
    table.add(LABEL, ours, len(points) / ours, ratio(ours, theirs), f"{agree:,}/{len(points):,}")
    table.add("GeoPandas sjoin (in memory)", theirs, len(points) / theirs, "1x", "-")
    table.add("GeoPandas build GeoDataFrames", geopandas["build_seconds"], None, None, None)
    table.note(f"Best of {repeats}; gridsvc time includes reading the stations from the database, testing "
               f"every point and building the list of codes; GeoPandas {geopandas['versions']['geopandas']} "
               f"time is the join alone, its import ({geopandas['import_seconds']:.2f} s) and frame building "
               f"are not counted. "
               f"{sum(c is None for c in codes):,} points lie outside every station.")
    return table
