"""Completion of volunteer patrol against targets: exact integer seconds, rounded only for display.

completion() is the one computation behind the dashboard, the API, the CLI and every export: it
returns the totals by kind and the tables asked for (by station, by volunteer, by month; all by
default) with claimed and verified figures side by side; the other layers only select and format them.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridsvc.access import ensure_visible, visible_station_ids
from gridsvc.errors import NotFoundError, ValidationError
from gridsvc.figures import hours, percent
from gridsvc.grids.models import Grid
from gridsvc.grids.service import grid_not_found
from gridsvc.patrols.models import KINDS, PatrolSession
from gridsvc.people.models import Patroller
from gridsvc.reports.models import Target
from gridsvc.periods import Period
from gridsvc.reports.targets import active_days, rate_segments, target_as_dict, target_of

CENT = Decimal("0.01")
BASES = ("claimed", "verified")
GROUPINGS = ("kind", "station", "volunteer", "month")
# The tables completion() can compute beside the totals (by_station, by_volunteer, by_month).
TABLES = ("station", "volunteer", "month")
# A report runs one CASE branch per month in SQL and returns a row per month: 20 years is plenty.
MAX_REPORT_MONTHS = 240


def volunteer_target_seconds(active_from: dt.date, active_to: dt.date | None, period: Period,
                             quota_hours_per_year: Fraction) -> Fraction:
    """One volunteer's target for the period under the configured yearly quota alone (no target rows).

    A full year gives exactly the yearly quota (366 days of 2020 are one year); a volunteer who
    joined on the period's last day owes one day's share.
    """
    return target_of(rate_segments(period, quota_hours_per_year=quota_hours_per_year), active_from, active_to)


def _number(value: Fraction) -> int | float:
    """An exact seconds value for JSON: an integer when whole, else the nearest float."""
    return value.numerator if value.denominator == 1 else float(value)


class Tally:
    """Seconds and session counts per kind, claimed and verified."""

    __slots__ = ("claimed", "verified", "sessions", "sessions_verified")

    def __init__(self):
        self.claimed: dict[str, int] = defaultdict(int)
        self.verified: dict[str, int] = defaultdict(int)
        self.sessions: dict[str, int] = defaultdict(int)
        self.sessions_verified: dict[str, int] = defaultdict(int)

    def add(self, kind: str, claimed: int, verified: int, sessions: int, sessions_verified: int) -> None:
        """Add one group of sessions of a kind."""
        self.claimed[kind] += claimed
        self.verified[kind] += verified
        self.sessions[kind] += sessions
        self.sessions_verified[kind] += sessions_verified

    def done(self, kind: str, basis: str) -> int:
        """Seconds of the kind on the basis."""
        return (self.claimed if basis == "claimed" else self.verified)[kind]


def _figure(seconds: int, target: Fraction) -> dict:
    done = percent(seconds, target)
    return {"seconds": seconds, "hours": float(hours(seconds)), "percent": None if done is None else float(done)}


def _figures(tally: Tally, target: Fraction, kinds, basis: str) -> dict:
    """by_kind (on the basis, the original shape), claimed and verified, side by side."""
    claimed = {kind: _figure(tally.claimed[kind], target) for kind in kinds}
    verified = {kind: _figure(tally.verified[kind], target) for kind in kinds}
    return {
        "by_kind": claimed if basis == "claimed" else verified,  # computed once: a row per volunteer adds up
        "claimed": {kind: {**claimed[kind], "sessions": tally.sessions[kind]} for kind in kinds},
        "verified": {kind: {**verified[kind], "sessions_verified": tally.sessions_verified[kind]} for kind in kinds},
    }


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
    return query.where(PatrolSession.started_at >= start_utc, PatrolSession.started_at < end_utc)


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


def report_tables(group_by: str) -> tuple[str, ...]:
    """The tables completion() must compute for api_view(group_by=...): none for kind, else that one."""
    if group_by not in GROUPINGS:
        raise ValidationError("completion_group_by", "group_by must be one of kind, station, volunteer, month; "
                              "got %(group_by)s", group_by=str(group_by)[:20])
    return () if group_by == "kind" else (group_by,)


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
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise ValueError(f"unknown completion tables: {sorted(unknown)}")
    with_stations, with_volunteers, with_months = (name in tables for name in TABLES)
    months = _months(period)
    if len(months) > MAX_REPORT_MONTHS:
        raise ValidationError("period_too_long", "A report covers at most %(years)s years", years=MAX_REPORT_MONTHS // 12)
    stations = _station_rows(session, station_code)
    station_by_id = {station_id: (code, name) for station_id, code, name in stations}
    only_station = stations[0].id if station_code else None

    targets = list(session.scalars(
        sa.select(Target).where(Target.starts_on <= period.last_day, Target.ends_on >= period.start)
        .where(sa.true() if only_station is None else sa.or_(Target.station_id.is_(None),
                                                              Target.station_id == only_station))
        .order_by(Target.starts_on, Target.id)
    ))
    segments_cache: dict[int, list] = {}

    def segments_of(station_id: int):
        """The station's day rates over the period (computed once per station)."""
        if station_id not in segments_cache:
            segments_cache[station_id] = rate_segments(period, quota_hours_per_year=quota_hours_per_year,
                                                       targets=targets, station_id=station_id)
        return segments_cache[station_id]

    def month_targets(station_id: int, active_from: dt.date, active_to: dt.date | None) -> list[Fraction]:
        """One volunteer's target in each month of the period."""
        by_month = [Fraction(0)] * len(months)
        for segment in segments_of(station_id):
            days = active_days(segment, active_from, active_to)
            if days:
                by_month[_month_index(segment.first, period)] += days * segment.seconds_per_day
        return by_month

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

    # Volunteers' sessions count wherever they fall, also outside their active dates (target 0 then).
    total = Tally()
    workers = Tally()
    station_tally: dict[int, Tally] = defaultdict(Tally)
    tally_by_person: dict[int, Tally] = defaultdict(Tally)
    for patroller_id, kind, claimed, verified, count, count_verified in totals:
        figures = (kind, int(claimed or 0), int(verified or 0), int(count), int(count_verified))
        person = patrollers[patroller_id]
        if person.role != "volunteer":
            workers.add(*figures)
            continue
        total.add(*figures)
        if with_stations:
            station_tally[person.station_id].add(*figures)
        if with_volunteers:
            tally_by_person[patroller_id].add(*figures)

    # Volunteers with the same station and dates owe the same: the seed's 647 share 15 such keys.
    count_by_key: dict[tuple, int] = defaultdict(int)
    for person in volunteers.values():
        count_by_key[(person.station_id, person.active_from, person.active_to)] += 1
    target_by_key: dict[tuple, Fraction] = {}
    target_by_month = [Fraction(0)] * len(months)
    volunteers_by_month = [0] * len(months)
    station_target: dict[int, Fraction] = defaultdict(Fraction)
    station_count: dict[int, int] = defaultdict(int)
    for key, count in count_by_key.items():
        shares = month_targets(*key)
        target_by_key[key] = sum(shares, Fraction(0))
        station_target[key[0]] += count * target_by_key[key]
        station_count[key[0]] += count
        if not with_months:
            continue
        for index, share in enumerate(shares):
            target_by_month[index] += count * share
            if _active_in(months[index], key[1], key[2]):
                volunteers_by_month[index] += count

    total_target = sum(station_target.values(), Fraction(0))
    station_codes = {station_id: code for station_id, (code, _name) in station_by_id.items()}
    report = {
        "period": period.label,
        "from": period.start.isoformat(),
        "to": period.last_day.isoformat(),
        "basis": basis,
        "station": station_code or None,
        "kinds": list(kinds),
        "volunteers": len(volunteers),
        "quota_hours": float(Decimal(str(quota_hours_per_year)).quantize(CENT)),
        "target_seconds": _number(total_target),
        "target_hours": float(hours(total_target)),
        "targets": [target_as_dict(t, station_codes) for t in targets],
        **_figures(total, total_target, kinds, basis),
    }
    if with_stations:
        report["by_station"] = [
            {
                "station_code": code,
                "station_name": name,
                "volunteers": station_count.get(station_id, 0),
                "target_seconds": _number(station_target.get(station_id, Fraction(0))),
                "target_hours": float(hours(station_target.get(station_id, Fraction(0)))),
                **_figures(station_tally.get(station_id) or Tally(), station_target.get(station_id, Fraction(0)),
                           kinds, basis),
            }
            for station_id, code, name in stations
        ]
    if with_months:
        tally_by_month: list[Tally] = [Tally() for _ in months]
        for kind, month, claimed, verified, count, count_verified in _volunteer_month_totals(session, period,
                                                                                             only_station):
            tally_by_month[int(month)].add(kind, int(claimed or 0), int(verified or 0), int(count),
                                           int(count_verified))
        report["by_month"] = [
            {
                "month": f"{first.year:04d}-{first.month:02d}",
                "from": first.isoformat(),
                "to": last.isoformat(),
                "volunteers": volunteers_by_month[index],
                "target_seconds": _number(target_by_month[index]),
                "target_hours": float(hours(target_by_month[index])),
                **_figures(tally_by_month[index], target_by_month[index], kinds, basis),
            }
            for index, (first, last) in enumerate(months)
        ]
    report["grid_workers"] = {kind: {"seconds": workers.claimed[kind], "hours": float(hours(workers.claimed[kind]))}
                              for kind in kinds}
    if with_volunteers:
        report["by_volunteer"] = _volunteer_rows(volunteers, patrollers, tally_by_person, target_by_key,
                                                 station_by_id, kinds, basis)
    return report


def _volunteer_rows(volunteers: dict, patrollers: dict, tally_by_person: dict, target_by_key: dict,
                    station_by_id: dict, kinds, basis: str) -> list[dict]:
    """by_volunteer: the period's volunteers and any volunteer with sessions in it, furthest behind first."""
    rows = []
    for patroller_id in set(volunteers) | set(tally_by_person):
        person = patrollers[patroller_id]
        tally = tally_by_person.get(patroller_id) or Tally()
        target = target_by_key[(person.station_id, person.active_from, person.active_to)] \
            if patroller_id in volunteers else Fraction(0)
        code, name = station_by_id.get(person.station_id, (None, None))
        ratios = [Fraction(tally.done(kind, basis)) / target for kind in kinds] if target else []
        rows.append((
            (0, min(ratios), sum(ratios), person.app_account_id or "", person.id) if ratios
            else (1, 0, 0, person.app_account_id or "", person.id),
            {
                "volunteer_id": person.id,
                "app_account_id": person.app_account_id,
                "name": person.name,
                "station_code": code,
                "station_name": name,
                "active_from": person.active_from.isoformat(),
                "active_to": person.active_to.isoformat() if person.active_to else None,
                "target_seconds": _number(target),
                "target_hours": float(hours(target)),
                **_figures(tally, target, kinds, basis),
            },
        ))
    rows.sort(key=lambda pair: pair[0])
    return [row for _key, row in rows]


def _active_in(month: tuple[dt.date, dt.date], active_from: dt.date, active_to: dt.date | None) -> bool:
    """True when someone active from..to (inclusive) was active on at least one day of the (first, last) month."""
    return active_from <= month[1] and (active_to is None or active_to >= month[0])


def api_view(report: dict, *, group_by: str = "station") -> dict:
    """The report as the API answers it: the totals plus the one table asked for (station by default)."""
    tables = report_tables(group_by)
    view = {key: value for key, value in report.items() if key not in ("by_station", "by_volunteer", "by_month")}
    view["group_by"] = group_by
    for table in tables:
        view[f"by_{table}"] = report[f"by_{table}"]
    return view
