"""Trip detection and kept points (gridsvc.patrols.trips): stops, gaps, cuts, jumps judged again, the walking defaults."""
from __future__ import annotations

import datetime as dt
import math

from gridsvc.patrols.trips import StoredPoint, TripRules, detect_trips, kept_points

T0 = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.timezone.utc)
LON0, LAT0 = 117.30, 23.88
METRE_LON = 1 / (111_320 * math.cos(math.radians(LAT0)))


def _walk(start_s: int, seconds: int, *, every: int = 10, speed_mps: float = 1.0, from_m: float = 0.0,
          device: int = 1) -> list[StoredPoint]:
    """Points walking east at speed_mps from from_m metres east of the origin."""
    return [StoredPoint(T0 + dt.timedelta(seconds=start_s + s), LON0 + (from_m + speed_mps * s) * METRE_LON, LAT0, device)
            for s in range(0, seconds + 1, every)]


def _stand(start_s: int, seconds: int, *, at_m: float, every: int = 10) -> list[StoredPoint]:
    return [StoredPoint(T0 + dt.timedelta(seconds=start_s + s), LON0 + at_m * METRE_LON, LAT0, 1)
            for s in range(0, seconds + 1, every)]


LATER = T0 + dt.timedelta(days=1)


def test_a_stop_of_ten_minutes_ends_a_trip_and_a_shorter_pause_does_not():
    # A point a minute, 60 m apart while walking: each leaves the 50 m of the one before.
    points = (_walk(0, 900, every=60) + _stand(960, 300, at_m=900, every=60)
              + _walk(1320, 900, every=60, from_m=960) + _stand(2280, 660, at_m=1860, every=60)
              + _walk(3000, 900, every=60, from_m=1920))
    trips = detect_trips(points, rules=TripRules(), now=LATER)
    # The 6-minute pause (900 s to 1260 s) is part of the first trip; the 12-minute stop (from the
    # arrival at 2220 s to the last point there at 2940 s) ends it, and the next trip departs from there.
    assert [(t.started_at, t.ended_at) for t in trips] == [
        (T0, T0 + dt.timedelta(seconds=2220)), (T0 + dt.timedelta(seconds=2940), T0 + dt.timedelta(seconds=3900))]
    # Metres east by a spherical degree: the geodesic lengths agree to 0.1 %.
    assert abs(trips[0].length_m - 1860) < 2 and abs(trips[1].length_m - 960) < 1


def test_a_silence_over_the_split_gap_splits_and_the_open_tail_waits():
    points = _walk(0, 900) + _walk(900 + 901, 900, from_m=900)
    trips = detect_trips(points, rules=TripRules(), now=LATER)
    assert [(t.started_at, t.ended_at) for t in trips] == [(T0, T0 + dt.timedelta(seconds=900)),
                                                            (T0 + dt.timedelta(seconds=1801), T0 + dt.timedelta(seconds=2701))]
    # Ten minutes after the last point the patroller may still be walking: the tail is not proposed yet.
    just_after = T0 + dt.timedelta(seconds=2701 + 600)
    assert len(detect_trips(points, rules=TripRules(), now=just_after)) == 1
    assert len(detect_trips(points, rules=TripRules(), now=just_after + dt.timedelta(seconds=300))) == 2


def test_short_or_near_trips_are_not_proposed():
    across_the_street = _walk(0, 1200, speed_mps=0.2)  # 20 minutes, 240 m
    quick = _walk(0, 500, speed_mps=1.5)  # 750 m in 8 minutes
    assert detect_trips(across_the_street, rules=TripRules(), now=LATER) == []
    assert detect_trips(quick, rules=TripRules(), now=LATER) == []
    assert len(detect_trips(quick, rules=TripRules(min_duration_seconds=300), now=LATER)) == 1


def test_covered_points_are_left_out_and_cut_the_stream():
    points = _walk(0, 2400)
    recorded = (T0 + dt.timedelta(seconds=1000), T0 + dt.timedelta(seconds=1400))
    trips = detect_trips(points, rules=TripRules(), now=LATER,
                         covered=lambda p: recorded[0] <= p.time <= recorded[1])
    assert [(t.started_at, t.ended_at) for t in trips] == [(T0, T0 + dt.timedelta(seconds=990)),
                                                            (T0 + dt.timedelta(seconds=1410), T0 + dt.timedelta(seconds=2400))]


def test_kept_points_drop_flagged_points_and_judge_jumps_again_per_device():
    points = _walk(0, 60)
    far = StoredPoint(T0 + dt.timedelta(seconds=25), LON0 + 5000 * METRE_LON, LAT0, 1, ("jump",))
    blurred = StoredPoint(T0 + dt.timedelta(seconds=35), LON0, LAT0, 1, ("poor_accuracy",))
    other_device = StoredPoint(T0 + dt.timedelta(seconds=45), LON0 + 5000 * METRE_LON, LAT0, 2)
    kept = kept_points([*points, far, blurred, other_device], max_jump_kmh=150)
    assert far not in kept and blurred not in kept and other_device in kept
    assert [p for p in kept if p.device_id == 1] == points
    # At a higher limit the 5 km in 5 s (3,600 km/h) is still a jump; at 4,000 km/h it is kept.
    assert far in kept_points([*points, far], max_jump_kmh=4000)


def test_a_phone_lying_still_with_scattered_fixes_makes_no_trip():
    import random

    scatter = random.Random(20261203)
    points = []
    for second in range(0, 3 * 3600 + 1, 10):  # 3 hours on a desk, fixes scattered up to 40 m
        distance, bearing = 40 * math.sqrt(scatter.random()), scatter.uniform(0, 2 * math.pi)
        points.append(StoredPoint(T0 + dt.timedelta(seconds=second),
                                  LON0 + distance * math.cos(bearing) * METRE_LON,
                                  LAT0 + distance * math.sin(bearing) / 110_574, 1))
    assert detect_trips(points, rules=TripRules(), now=LATER) == []


def test_a_first_point_flagged_as_a_jump_is_not_kept_and_the_walk_after_it_is():
    walk = _walk(10, 1800)
    wrong_start = StoredPoint(T0, LON0 + 20_000 * METRE_LON, LAT0, 1, ("jump",))
    assert kept_points([wrong_start, *walk], max_jump_kmh=150) == walk
