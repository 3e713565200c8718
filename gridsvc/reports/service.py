"""Completion of volunteer patrol against targets: exact integer seconds, rounded only for display.

completion() is the one computation behind the dashboard, the API, the CLI and every export: it
returns the totals by kind and the tables asked for (by station, by volunteer, by month; all by
default) with claimed and verified figures side by side; the other layers only select and format them.
Its steps: the scope (months, stations), the targets, the people and their sessions, the sums by
kind, what is owed, the tables asked for; gridsvc.reports.schemas.report_json shapes the result.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridsvc.access import ensure_visible, visible_station_ids
from gridsvc.errors import NotFoundError, ValidationError
from gridsvc.grids.models import Grid
from gridsvc.grids.service import grid_not_found
from gridsvc.patrols.models import COUNTED, KINDS, PatrolSession
from gridsvc.people.models import Patroller
from gridsvc.periods import Period
from gridsvc.reports import schemas
from gridsvc.reports.models import Target
from gridsvc.reports.schemas import BASES, TABLES
from gridsvc.reports.targets import active_days, rate_segments, target_of
from gridsvc.reports.values import Completion, MonthFigures, StationFigures, Tally, VolunteerFigures

# A report runs one CASE branch per month in SQL and returns a row per month: 20 years is plenty.
MAX_REPORT_MONTHS = 240


def volunteer_target_seconds(active_from: dt.date, active_to: dt.date | None, period: Period,
                             quota_hours_per_year: Fraction) -> Fraction:
    """One volunteer's target for the period under the configured yearly quota alone (no target rows).

    A full year gives exactly the yearly quota (366 days of 2020 are one year); a volunteer who
    joined on the period's last day owes one day's share.
    """
    return target_of(rate_segments(period, quota_hours_per_year=quota_hours_per_year), active_from, active_to)


def _months(period: Period) -> list[tuple[dt.date, dt.date]]:
    """The period's months as (first, last) days, clipped to the period."""
    months = []
    first = period.start
    while first < period.end:
        after = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        months.append((first, min(after, period.end) - dt.timedelta(days=1)))
        first = after
    return months


def _month_index(day: dt.date, period: Period) -> int:
    return (day.year - period.start.year) * 12 + day.month - period.start.month


def _check_options(basis: str, kinds) -> tuple:
    if basis not in BASES:
        raise ValidationError("completion_basis", "Basis must be claimed or verified; got %(basis)s", basis=str(basis)[:20])
    kinds = tuple(kinds or KINDS)
    for kind in kinds:
        if kind not in KINDS:
            raise ValidationError("completion_kind", "Kind must be group or individual; got %(kind)s", kind=str(kind)[:20])
    return tuple(kind for kind in KINDS if kind in kinds)


def report_station(session: Session, user, requested: str | None) -> str | None:
    """The station code a report for `user` covers (None: every station).

    Zone-wide roles get what they asked for. A station role always gets its own station: no code
    means theirs, their own code works, and any other code -- another station's or one no station
    has -- answers the one "no grid has the code" 404, so nothing tells the two apart.
    """
    visible = visible_station_ids(user)
    if visible is None:
        return requested or None
    if requested:
        station_id = session.scalar(sa.select(Grid.id).where(Grid.code == requested, Grid.level == "station"))
        ensure_visible(user, station_id, missing=grid_not_found(requested))
        return requested
    own = session.scalar(sa.select(Grid.code).where(Grid.id.in_(visible), Grid.level == "station")
                         .order_by(Grid.code).limit(1)) if visible else None
    if own is None:
        raise NotFoundError("own_station_missing", "Your account is not linked to a station yet; "
                            "an administrator can link it to one")
    return own


def _station_rows(session: Session, station_code: str | None):
    query = sa.select(Grid.id, Grid.code, Grid.name).where(Grid.level == "station").order_by(Grid.code)
    if station_code:
        query = query.where(Grid.code == station_code)
    stations = session.execute(query).all()
    if station_code and not stations:
        raise NotFoundError("station_not_found", "No station has the code %(code)s", code=station_code)
    return stations


def _sums(duration_seconds=PatrolSession.duration_seconds, verified_seconds=PatrolSession.verified_seconds) -> list:
    """Claimed seconds, verified seconds (0 while unverified), sessions and verified sessions of a group."""
    return [sa.func.sum(duration_seconds), sa.func.sum(sa.func.coalesce(verified_seconds, 0)),
            sa.func.count(), sa.func.count(verified_seconds)]


def _in_period(query, period: Period):
    start_utc, end_utc = period.utc_bounds()
    return query.where(COUNTED, PatrolSession.started_at >= start_utc, PatrolSession.started_at < end_utc)


def _session_totals(session: Session, period: Period, station_id: int | None):
    """Sums per patroller and kind over the period, in one grouped query."""
    query = _in_period(sa.select(PatrolSession.patroller_id, PatrolSession.kind, *_sums()), period)
    if station_id is not None:
        query = query.join(Patroller, PatrolSession.patroller_id == Patroller.id).where(Patroller.station_id == station_id)
    return session.execute(query.group_by(PatrolSession.patroller_id, PatrolSession.kind)).all()


def _volunteer_month_totals(session: Session, period: Period, station_id: int | None):
    """The volunteers' sums per kind and month of the period (local month starts, found in SQL by a CASE)."""
    zone = ZoneInfo(period.tz)
    month_starts = [dt.datetime.combine(first, dt.time(0), zone).astimezone(dt.timezone.utc)
                    for first, _last in _months(period)[1:]]
    if month_starts:
        month = sa.case(*[(PatrolSession.started_at < bound, index) for index, bound in enumerate(month_starts)],
                        else_=len(month_starts))
    else:
        month = sa.literal(0)
    inner = _in_period(
        sa.select(PatrolSession.kind, month.label("month"), PatrolSession.duration_seconds,
                  PatrolSession.verified_seconds)
        .join(Patroller, PatrolSession.patroller_id == Patroller.id).where(Patroller.role == "volunteer"),
        period,
    )
    if station_id is not None:
        inner = inner.where(Patroller.station_id == station_id)
    rows = inner.subquery()
    return session.execute(
        sa.select(rows.c.kind, rows.c.month, *_sums(rows.c.duration_seconds, rows.c.verified_seconds))
        .group_by(rows.c.kind, rows.c.month)
    ).all()


def completion(session: Session, *, period: Period, quota_hours_per_year, basis: str = "claimed",
               station_code: str | None = None, kinds=KINDS, tables=TABLES) -> dict:
    """Volunteer completion for a period: overall, by station, by volunteer and by month, by kind.

    Claimed (duration_seconds) and verified (verified_seconds; a session not yet verified counts
    0 verified seconds and is visible through the sessions / sessions_verified counts) figures
    come side by side; `by_kind` repeats the figures of `basis`. Grid workers are reported beside,
    not inside, the volunteers' completion. Volunteers are sorted furthest behind first.
    `tables` names the tables computed (by_station, by_volunteer, by_month); the totals are always
    there, and a table left out is neither queried nor in the report.
    """
    kinds = _check_options(basis, kinds)
    wanted = _check_tables(tables)
    scope = _scope(session, period, station_code)
    targets = _targets(session, period, scope.only_station)
    people = _people(session, period, scope.only_station)
    sums = _sums_by_kind(people, by_station="station" in wanted, by_volunteer="volunteer" in wanted)
    owed = _owed(period, quota_hours_per_year, targets, people.volunteers, scope.months, by_month="month" in wanted)
    # Shaped here, once, so the dashboard, the API, the CLI, the map and the exports show the same figures.
    return schemas.report_json(Completion(
        period=period, basis=basis, station_code=station_code, kinds=kinds, volunteers=len(people.volunteers),
        quota_hours_per_year=quota_hours_per_year, target=owed.total, targets=targets,
        station_codes={station_id: code for station_id, code, _name in scope.stations},
        sums=sums.total, grid_workers=sums.workers,
        by_station=_station_table(scope, sums, owed) if "station" in wanted else None,
        by_month=_month_table(session, period, scope, owed) if "month" in wanted else None,
        by_volunteer=_volunteer_table(people, sums, owed, scope, kinds, basis) if "volunteer" in wanted else None,
    ))


def patroller_target(session: Session, *, patroller_id: int, period: Period, quota_hours_per_year,
                     basis: str = "claimed") -> dict | None:
    """One volunteer's by_volunteer row of completion() for the period, with its exact `target` (None: no target)."""
    station_id = session.scalar(sa.select(Patroller.station_id).where(Patroller.id == patroller_id))
    if station_id is None:
        return None
    # The steps of completion() for the volunteer's station, so the row is the report's very row.
    stations = session.execute(sa.select(Grid.id, Grid.code, Grid.name).where(Grid.id == station_id)).all()
    scope = _Scope(stations=stations, only_station=station_id, months=_months(period))
    people = _people(session, period, station_id)
    sums = _sums_by_kind(people, by_station=False, by_volunteer=True)
    owed = _owed(period, quota_hours_per_year, _targets(session, period, station_id), people.volunteers,
                 scope.months, by_month=False)
    kinds = _check_options(basis, KINDS)
    row = next((row for row in _volunteer_table(people, sums, owed, scope, kinds, basis)
                if row.volunteer_id == patroller_id), None)
    if row is None:  # a grid worker, or a volunteer neither active nor patrolling in the period
        return None
    return {**schemas.volunteer_row_json(row, kinds, basis), "basis": basis, "target": row.target or None}


def _check_tables(tables) -> set[str]:
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise ValueError(f"unknown completion tables: {sorted(unknown)}")
    return set(tables)


@dataclass(frozen=True)
class _Scope:
    """The stations a report covers (by code), the one station it is limited to, and its months."""

    stations: list  # (id, code, name) rows
    only_station: int | None
    months: list[tuple[dt.date, dt.date]]


def _scope(session: Session, period: Period, station_code: str | None) -> _Scope:
    """Step 1: the period's months and the stations reported on."""
    months = _months(period)
    if len(months) > MAX_REPORT_MONTHS:
        raise ValidationError("period_too_long", "A report covers at most %(years)s years", years=MAX_REPORT_MONTHS // 12)
    stations = _station_rows(session, station_code)
    return _Scope(stations=stations, only_station=stations[0].id if station_code else None, months=months)


def _targets(session: Session, period: Period, only_station: int | None) -> list[Target]:
    """Step 2: the stored targets overlapping the period that apply to the stations reported on."""
    return list(session.scalars(
        sa.select(Target).where(Target.starts_on <= period.last_day, Target.ends_on >= period.start)
        .where(sa.true() if only_station is None else sa.or_(Target.station_id.is_(None),
                                                              Target.station_id == only_station))
        .order_by(Target.starts_on, Target.id)
    ))


@dataclass(frozen=True)
class _People:
    """The period's volunteers, everyone with sessions in it, and those sessions' sums."""

    volunteers: dict  # id -> row: the volunteers active on a day of the period
    patrollers: dict  # id -> row: the volunteers and everyone with sessions in the period
    totals: list  # (patroller_id, kind, claimed, verified, sessions, sessions_verified)


def _people(session: Session, period: Period, only_station: int | None) -> _People:
    """Step 3: who the report counts, and their sessions' sums per patroller and kind."""
    people_query = sa.select(Patroller.id, Patroller.role, Patroller.name, Patroller.app_account_id,
                             Patroller.station_id, Patroller.active_from, Patroller.active_to)
    if only_station is not None:
        people_query = people_query.where(Patroller.station_id == only_station)
    volunteers = {row.id: row for row in session.execute(people_query.where(
        Patroller.role == "volunteer",
        Patroller.active_from <= period.last_day,
        sa.or_(Patroller.active_to.is_(None), Patroller.active_to >= period.start),
    ))}
    totals = _session_totals(session, period, only_station)
    others = {patroller_id for patroller_id, *_ in totals} - set(volunteers)
    patrollers = dict(volunteers)
    if others:
        patrollers.update({row.id: row for row in session.execute(people_query.where(Patroller.id.in_(others)))})
    return _People(volunteers=volunteers, patrollers=patrollers, totals=totals)


@dataclass(frozen=True)
class _Sums:
    """Sums by kind: the volunteers', the grid workers', and the volunteers' per station and per person."""

    total: Tally
    workers: Tally
    by_station: dict[int, Tally]
    by_person: dict[int, Tally]


def _sums_by_kind(people: _People, *, by_station: bool, by_volunteer: bool) -> _Sums:
    """Step 4: the sessions' sums by kind (per station and per volunteer only for the tables asked for)."""
    # Volunteers' sessions count wherever they fall, also outside their active dates (target 0 then).
    sums = _Sums(total=Tally(), workers=Tally(), by_station=defaultdict(Tally), by_person=defaultdict(Tally))
    for patroller_id, kind, claimed, verified, count, count_verified in people.totals:
        figures = (kind, int(claimed or 0), int(verified or 0), int(count), int(count_verified))
        person = people.patrollers[patroller_id]
        if person.role != "volunteer":
            sums.workers.add(*figures)
            continue
        sums.total.add(*figures)
        if by_station:
            sums.by_station[person.station_id].add(*figures)
        if by_volunteer:
            sums.by_person[patroller_id].add(*figures)
    return sums


@dataclass(frozen=True)
class _Owed:
    """The exact seconds owed: per (station, active_from, active_to), per station and per month."""

    by_key: dict[tuple, Fraction]
    by_station: dict[int, Fraction]
    volunteers_by_station: dict[int, int]
    by_month: list[Fraction]
    volunteers_by_month: list[int]

    @property
    def total(self) -> Fraction:
        """Seconds owed by every volunteer of the report."""
        return sum(self.by_station.values(), Fraction(0))


def _owed(period: Period, quota_hours_per_year, targets: list[Target], volunteers: dict,
          months: list[tuple[dt.date, dt.date]], *, by_month: bool) -> _Owed:
    """Step 5: what the volunteers owe under the targets (per month only for the by_month table)."""
    segments_by_station: dict[int, list] = {}

    def segments_of(station_id: int):
        """The station's day rates over the period (computed once per station)."""
        if station_id not in segments_by_station:
            segments_by_station[station_id] = rate_segments(period, quota_hours_per_year=quota_hours_per_year,
                                                            targets=targets, station_id=station_id)
        return segments_by_station[station_id]

    # Volunteers with the same station and dates owe the same: the seed's 647 share 15 such keys.
    count_by_key: dict[tuple, int] = defaultdict(int)
    for person in volunteers.values():
        count_by_key[(person.station_id, person.active_from, person.active_to)] += 1
    owed = _Owed(by_key={}, by_station=defaultdict(Fraction), volunteers_by_station=defaultdict(int),
                 by_month=[Fraction(0)] * len(months), volunteers_by_month=[0] * len(months))
    for key, count in count_by_key.items():
        shares = _month_shares(segments_of(key[0]), period, len(months), key[1], key[2])
        owed.by_key[key] = sum(shares, Fraction(0))
        owed.by_station[key[0]] += count * owed.by_key[key]
        owed.volunteers_by_station[key[0]] += count
        if not by_month:
            continue
        for index, share in enumerate(shares):
            owed.by_month[index] += count * share
            if _active_in(months[index], key[1], key[2]):
                owed.volunteers_by_month[index] += count
    return owed


def _month_shares(segments: list, period: Period, month_count: int, active_from: dt.date,
                  active_to: dt.date | None) -> list[Fraction]:
    """One volunteer's target in each month of the period."""
    by_month = [Fraction(0)] * month_count
    for segment in segments:
        days = active_days(segment, active_from, active_to)
        if days:
            by_month[_month_index(segment.first, period)] += days * segment.seconds_per_day
    return by_month


# Step 6: the tables asked for.

def _station_table(scope: _Scope, sums: _Sums, owed: _Owed) -> list[StationFigures]:
    """by_station: every station reported on, by code."""
    return [
        StationFigures(code=code, name=name, volunteers=owed.volunteers_by_station.get(station_id, 0),
                       target=owed.by_station.get(station_id, Fraction(0)),
                       sums=sums.by_station.get(station_id) or Tally())
        for station_id, code, name in scope.stations
    ]


def _month_table(session: Session, period: Period, scope: _Scope, owed: _Owed) -> list[MonthFigures]:
    """by_month: the period's months, with the volunteers' sums of each."""
    sums_by_month: list[Tally] = [Tally() for _ in scope.months]
    for kind, month, claimed, verified, count, count_verified in _volunteer_month_totals(session, period,
                                                                                         scope.only_station):
        sums_by_month[int(month)].add(kind, int(claimed or 0), int(verified or 0), int(count), int(count_verified))
    return [MonthFigures(first=first, last=last, volunteers=owed.volunteers_by_month[index],
                         target=owed.by_month[index], sums=sums_by_month[index])
            for index, (first, last) in enumerate(scope.months)]


def _volunteer_table(people: _People, sums: _Sums, owed: _Owed, scope: _Scope, kinds, basis: str
                     ) -> list[VolunteerFigures]:
    """by_volunteer: the period's volunteers and any volunteer with sessions in it, furthest behind first."""
    station_by_id = {station_id: (code, name) for station_id, code, name in scope.stations}
    rows = []
    for patroller_id in set(people.volunteers) | set(sums.by_person):
        person = people.patrollers[patroller_id]
        tally = sums.by_person.get(patroller_id) or Tally()
        target = owed.by_key[(person.station_id, person.active_from, person.active_to)] \
            if patroller_id in people.volunteers else Fraction(0)
        code, name = station_by_id.get(person.station_id, (None, None))
        ratios = [Fraction(tally.done(kind, basis)) / target for kind in kinds] if target else []
        rows.append((
            (0, min(ratios), sum(ratios), person.app_account_id or "", person.id) if ratios
            else (1, 0, 0, person.app_account_id or "", person.id),
            VolunteerFigures(volunteer_id=person.id, app_account_id=person.app_account_id, name=person.name,
                             station_code=code, station_name=name, active_from=person.active_from,
                             active_to=person.active_to, target=target, sums=tally),
        ))
    rows.sort(key=lambda pair: pair[0])
    return [row for _key, row in rows]


def _active_in(month: tuple[dt.date, dt.date], active_from: dt.date, active_to: dt.date | None) -> bool:
    """True when someone active from..to (inclusive) was active on at least one day of the (first, last) month."""
    return active_from <= month[1] and (active_to is None or active_to >= month[0])
