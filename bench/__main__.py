"""`python -m bench [--scale small|city]`: every benchmark of issue 8 on SpatiaLite and PostGIS, as tables.

make bench                              # small: a few minutes on 2 cores
make bench BENCH_ARGS="--scale city"    # 1M sessions, 100k points, 100k cameras (long)
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import sys
import time

from bench import generate
from bench.database import OUT_DIR, analyze, bulk_cameras, bulk_sessions, load_city, migrated_app, postgis_available, scratch_database
from bench.report import Table, machine

BENCHMARKS = ("spatial", "completion", "memory", "ingest", "map", "concurrency", "tracker", "live")
# These build a scratch database of their own: the city data set is not made for them alone.
OWN_DATA = {"tracker", "live"}


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(generate.SCALES), default="small",
                        help="data sizes (small: make bench; city: 1M sessions, 100k points/cameras)")
    parser.add_argument("--backends", default="spatialite,postgis", help="comma-separated: spatialite,postgis")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--tracker-seconds", type=float, default=60.0,
                        help="length of the tracker benchmark's open loop (60 for the record; 10 to try)")
    parser.add_argument("--live-seconds", type=float, default=60.0,
                        help="length of the live benchmark's device load (60 for the record; 20 to try)")
    parser.add_argument("--results", default=None, help="Markdown file for the tables (default bench/out/results-<scale>.md)")
    return parser.parse_args(argv)


class Output:
    """Prints each table as it is ready and keeps them for the results file."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def __call__(self, item) -> None:
        text = str(item)
        print(text, flush=True)
        self.parts.append(text)


def run_backend(backend: str, sizes: generate.Sizes, wanted: set[str], city, people, points, geopandas, out) -> None:
    """Build the scratch database of one backend and run the wanted benchmarks on it."""
    from bench import bench_completion, bench_ingest, bench_memory, bench_spatial
    from bench.server import BenchServer, bench_admin

    with scratch_database(backend) as url:
        app = migrated_app(url)
        engine = app.extensions["gridsvc"].engine
        load = Table(f"Data loaded, {backend}", ["table", "rows", "seconds", "rows/s"])
        started = time.perf_counter()
        station_ids = load_city(engine, city, people)
        load.add("grids + patrollers", len(city.stations) + 1 + len(people), time.perf_counter() - started, None)
        count, cameras = 0, []
        if wanted & {"completion", "memory", "ingest", "concurrency"}:  # the spatial benchmark needs stations only
            count, seconds = bulk_sessions(engine, generate.sessions(sizes, people), station_ids)
            load.add("patrol_sessions (" + ("executemany" if backend == "spatialite" else "COPY") + ")",
                     count, seconds, count / seconds)
        if "memory" in wanted:
            cameras = generate.cameras(max(sizes.cameras), len(city.stations), seed=sizes.seed)
            started = time.perf_counter()
            bulk_cameras(engine, cameras, station_ids)
            seconds = time.perf_counter() - started
            load.add("cameras", len(cameras), seconds, len(cameras) / seconds)
        analyze(engine)
        out(load)

        if "spatial" in wanted:
            out(bench_spatial.run(app, points, geopandas, backend=backend))
        credentials = bench_admin(app)
        engine.dispose()
        if "concurrency" in wanted:
            from bench import bench_concurrency

            out(bench_concurrency.run(url, credentials, backend=backend))
        if not wanted & {"completion", "memory", "ingest"}:
            return
        with BenchServer(url, credentials=credentials) as server:
            memory = bench_memory.Memory(server)
            if "completion" in wanted or "memory" in wanted:
                memory.start("completion report")
                out(bench_completion.run(server, url, sessions=count, repeats=sizes.repeats, backend=backend))
                memory.stop()
            if "memory" in wanted:
                memory.measure_map(cameras=len(cameras))
            if "ingest" in wanted:
                out(bench_ingest.run(server, app, sizes, people, station_ids, backend=backend))
            out(memory.table(backend))


def main(argv=None) -> int:
    """Run the benchmarks and write the results file."""
    args = parse_args(argv)
    sizes = generate.SCALES[args.scale]
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - set(BENCHMARKS)
    if unknown:
        sys.exit(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    out = Output()
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    out(f"# gridsvc benchmarks, scale {args.scale}\n\n- machine: {machine()}\n- command: `{command}`\n"
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n- sizes: {sizes}\n")

    city_wanted = bool(wanted - OWN_DATA)
    city = generate.make_city(sizes) if city_wanted else None
    people = generate.patrollers(sizes, len(city.stations)) if city_wanted else None
    points = generate.points(sizes) if city_wanted else None
    geopandas = None
    if "spatial" in wanted:
        from bench.bench_spatial import geopandas_join

        geopandas = geopandas_join(city, points)
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "postgis" and (reason := postgis_available()):
            if os.environ.get("CI") == "true" or os.environ.get("GRIDSVC_REQUIRE_POSTGIS") == "1":
                sys.exit(f"PostGIS unreachable: {reason}")
            out(f"PostGIS skipped: unreachable ({reason})\n")
            continue
        if city_wanted:
            run_backend(backend, sizes, wanted, city, people, points, geopandas, out)
        if "tracker" in wanted:
            from bench import bench_tracker

            for table in bench_tracker.run(backend, seconds=args.tracker_seconds):
                out(table)
        if "live" in wanted:
            from bench import bench_live

            for table in bench_live.run(backend, seconds=args.live_seconds):
                out(table)
    if "map" in wanted:
        from bench import bench_map

        for table in bench_map.run(sizes.cameras):
            out(table)

    results = args.results or str(OUT_DIR / f"results-{args.scale}.md")
    os.makedirs(os.path.dirname(os.path.abspath(results)), exist_ok=True)
    with open(results, "w") as handle:
        handle.write("\n".join(out.parts))
    print(f"tables written to {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
