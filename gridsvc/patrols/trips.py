"""Which stored points a patrol is computed from, and the trips in a tracker's stream. Pure computation.

A tracker app that runs all day sends the walk to the market as well as the patrol. Trips are found
as Traccar finds them (session/state/NewMotionProcessor.java: moving once far enough from the last
stop, stopped after some time within a radius, a data gap splits), with figures for walking instead
of Traccar's vehicle defaults (200 m / 180 s / 3600 s); a trip is only ever a proposal.

Flags are EarthRanger's idea: a bad point is kept and flagged, so a changed rule can be re-applied.
The intake judges a jump against the device's last point not itself a jump; kept_points judges it
again with the current limit, so a new POSITION_MAX_JUMP_KMH applies to stored points too.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from gridsvc.geo.geodesy import geodesic_distance_m

# Flags that say the point is wrong; a patrol's time is never computed from such a point. "jump" is
# judged again (kept_points); "outside_zone" is a fact about the place, which verification weighs.
EXCLUDING_FLAGS = frozenset({"invalid", "zero_position", "future", "too_old", "poor_accuracy",
                             "conflicting_fix", "reused_position"})

# Walking defaults (config.py TRIP_*): a patroller who stands at a crossing for a few minutes is
# still on patrol; ten minutes within 50 m is a stop. A phone reports every 5-30 s while walking,
# so a quarter of an hour without a point is the phone off or left behind: the trip ends there (the
# verification already refuses any pair more than VERIFY_MAX_GAP_SECONDS apart). A trip shorter
# than 10 minutes, or that never gets 300 m from where it began (across the street to a shop), is
# not proposed at all.
DEFAULT_STOP_RADIUS_M = 50.0
DEFAULT_STOP_SECONDS = 600
DEFAULT_SPLIT_GAP_SECONDS = 900
DEFAULT_MIN_DISTANCE_M = 300.0
DEFAULT_MIN_DURATION_SECONDS = 600


@dataclass(frozen=True)
class TripRules:
    """How trips are cut from a stream of points (config.py TRIP_*)."""

    stop_radius_m: float = DEFAULT_STOP_RADIUS_M
    stop_seconds: float = DEFAULT_STOP_SECONDS
    split_gap_seconds: float = DEFAULT_SPLIT_GAP_SECONDS
    min_distance_m: float = DEFAULT_MIN_DISTANCE_M
    min_duration_seconds: float = DEFAULT_MIN_DURATION_SECONDS

    @classmethod
    def from_config(cls, config) -> TripRules:
        """The rules of an app's configuration."""
        return cls(stop_radius_m=float(config["TRIP_STOP_RADIUS_M"]), stop_seconds=float(config["TRIP_STOP_SECONDS"]),
                   split_gap_seconds=float(config["TRIP_SPLIT_GAP_SECONDS"]),
                   min_distance_m=float(config["TRIP_MIN_DISTANCE_M"]),
                   min_duration_seconds=float(config["TRIP_MIN_DURATION_SECONDS"]))


@dataclass(frozen=True, slots=True)
class StoredPoint:
    """One stored position as this module needs it: aware UTC time, degrees, its device and flags."""

    time: dt.datetime
    lon: float
    lat: float
    device_id: int
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Trip:
    """A run of points between two stops (or a gap): at least two points, in time order."""

    points: tuple[StoredPoint, ...]

    @property
    def started_at(self) -> dt.datetime:
        """Time of its first point."""
        return self.points[0].time

    @property
    def ended_at(self) -> dt.datetime:
        """Time of its last point."""
        return self.points[-1].time

    @property
    def duration_seconds(self) -> float:
        """Seconds from the first point to the last."""
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def length_m(self) -> float:
        """Geodesic length of the line through its points."""
        return math.fsum(_distance(a, b) for a, b in zip(self.points, self.points[1:]))

    @property
    def reach_m(self) -> float:
        """How far from its first point it went: scattered fixes of a phone lying still add length, not reach."""
        return max(_distance(self.points[0], point) for point in self.points)


def _distance(a: StoredPoint, b: StoredPoint) -> float:
    return geodesic_distance_m(a.lon, a.lat, b.lon, b.lat)


def kept_points(points: Iterable[StoredPoint], *, max_jump_kmh: float) -> list[StoredPoint]:
    """The points a patrol is computed from, by time: excluding flags left out, jumps judged again.

    A point is a jump when the speed implied from its device's last kept point is over max_jump_kmh;
    points of different devices (a phone and a tracker on one patroller) are not judged against
    each other. A point the intake flagged as a jump is kept only when a kept point before it shows
    it is none at max_jump_kmh.
    """
    last_kept: dict[int, StoredPoint] = {}
    kept = []
    for point in sorted(points, key=lambda p: p.time):
        if EXCLUDING_FLAGS.intersection(point.flags):
            continue
        previous = last_kept.get(point.device_id)
        if previous is None:
            if "jump" in point.flags:  # nothing here to judge it against: the intake's judgement stands
                continue
        else:
            seconds = (point.time - previous.time).total_seconds()
            if seconds > 0 and _distance(previous, point) / seconds * 3.6 > max_jump_kmh:
                continue
        last_kept[point.device_id] = point
        kept.append(point)
    return kept


def _stays(run: Sequence[StoredPoint], rules: TripRules) -> list[tuple[int, int]]:
    """(first, last) index of each stop: points within stop_radius_m of the stop's centre for at least stop_seconds.

    The centre is the mean of the stop's points so far, so a phone lying still, its fixes
    scattered around the true place, stays one stop instead of seeming to walk.
    """
    stays, first = [], 0
    lon_sum, lat_sum, count = run[0].lon, run[0].lat, 1
    for index in range(1, len(run) + 1):
        if index < len(run):
            centre = StoredPoint(run[first].time, lon_sum / count, lat_sum / count, run[first].device_id)
            if _distance(centre, run[index]) <= rules.stop_radius_m:
                lon_sum, lat_sum, count = lon_sum + run[index].lon, lat_sum + run[index].lat, count + 1
                continue
        if (run[index - 1].time - run[first].time).total_seconds() >= rules.stop_seconds:
            stays.append((first, index - 1))
        if index < len(run):
            first, lon_sum, lat_sum, count = index, run[index].lon, run[index].lat, 1
    return stays


def _trips_in_run(run: Sequence[StoredPoint], rules: TripRules, *, finished: bool) -> list[Trip]:
    """The movements between the stops of one run; its tail only once the run is finished."""
    trips, start = [], 0
    for first, last in _stays(run, rules):
        if first > start:  # moved from the last departure to this stop's arrival
            trips.append(Trip(tuple(run[start:first + 1])))
        start = last  # departs from the stop's last point
    if finished and start < len(run) - 1:
        trips.append(Trip(tuple(run[start:])))
    return trips


def detect_trips(points: Sequence[StoredPoint], *, rules: TripRules, now: dt.datetime,
                 covered: Callable[[StoredPoint], bool] | None = None) -> list[Trip]:
    """The finished trips in kept points (time order) long enough, and reaching far enough, to propose.

    A `covered` point (inside a session already recorded) is left out and cuts the stream there.
    The last run is finished once `now` is split_gap_seconds past its last point (or it ends in a
    stop); until then the patroller may still be walking and its tail is not proposed.
    """
    runs: list[tuple[list[StoredPoint], bool]] = []  # (run, ended by a cut)
    current: list[StoredPoint] = []
    for point in points:
        if covered is not None and covered(point):
            if current:
                runs.append((current, True))
            current = []
        elif current and (point.time - current[-1].time).total_seconds() >= rules.split_gap_seconds:
            runs.append((current, True))
            current = [point]
        else:
            current.append(point)
    if current:
        runs.append((current, (now - current[-1].time).total_seconds() >= rules.split_gap_seconds))
    trips = []
    for run, finished in runs:
        trips.extend(_trips_in_run(run, rules, finished=finished))
    return [trip for trip in trips
            if trip.duration_seconds >= rules.min_duration_seconds and trip.reach_m >= rules.min_distance_m]
