"""Smoke test of bench/: the generator is deterministic and a benchmark prints a table (SpatiaLite, seconds)."""
from bench import generate
from bench.__main__ import main


def test_generator_is_deterministic_and_tiles_the_city():
    sizes = generate.SCALES["tiny"]
    city = generate.make_city(sizes)
    assert len(city.stations) == sizes.stations
    people = generate.patrollers(sizes, len(city.stations))
    first = list(generate.sessions(sizes, people))
    assert first == list(generate.sessions(sizes, people))
    assert len(first) == sizes.sessions and generate.points(sizes) == generate.points(sizes)


def test_benchmarks_print_their_tables(tmp_path, capsys):
    results = tmp_path / "results.md"
    assert main(["--scale", "tiny", "--backends", "spatialite", "--only", "spatial,completion,memory",
                 "--results", str(results)]) == 0
    printed = capsys.readouterr().out
    assert "### Spatial assignment, 300 points, spatialite" in printed
    assert "| gridsvc assign_points (stations from DB)" in printed
    assert "### Completion report" in printed
    for report in ("by kind", "by station", "by volunteer", "by month"):
        assert f"| {report} " in printed
    # The map pages are fetched signed in through the /login form, as a browser does.
    assert "| GET /map (" in printed and "| GET /map/frame (" in printed
    assert "not measured" not in printed
    assert results.read_text().startswith("# gridsvc benchmarks, scale tiny")
