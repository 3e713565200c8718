"""Completion of volunteer patrol against targets: exact integer seconds, rounded only for display."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridsvc.grids.models import Grid
from gridsvc.patrols.models import KINDS, PatrolSession
from gridsvc.people.models import Patroller
from gridsvc.reports.periods import Period

CENT = Decimal("0.01")


def round_half_up(value: Fraction) -> Decimal:
    """A fraction rounded half-up to two decimals (the report's rounding)."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(CENT, rounding=ROUND_HALF_UP) \
        if value.denominator != 1 else Decimal(value.numerator).quantize(CENT)


def hours(seconds) -> Decimal:
    """Seconds as hours rounded half-up to 0.01 h."""
    return round_half_up(Fraction(seconds) / 3600)


def percent(done_seconds, target_seconds) -> Decimal | None:
    """done / target × 100, not capped, rounded half-up; None when there is no target."""
    if not target_seconds:
        return None
    return round_half_up(Fraction(done_seconds) * 100 / Fraction(target_seconds))


def volunteer_target_seconds(active_from: dt.date, active_to: dt.date | None, period: Period,
                             quota_hours_per_year: Fraction) -> Fraction:
    """One volunteer's target for the period: the yearly quota pro rata to the days they were active.

    A full year gives exactly the yearly quota (366 days of 2020 are one year); a volunteer who
    joined on the period's last day owes one day's share.
    """
    first = max(active_from, period.start)
    last = min(active_to or period.last_day, period.last_day)
    if last < first:
        return Fraction(0)
    target = Fraction(0)
    day = first
    while day <= last:  # walk calendar years so leap years weigh each day as 1/366
        year_end = min(dt.date(day.year, 12, 31), last)
        days_in_year = (dt.date(day.year + 1, 1, 1) - dt.date(day.year, 1, 1)).days
        target += Fraction((year_end - day).days + 1, days_in_year)
        day = year_end + dt.timedelta(days=1)
    return target * quota_hours_per_year * 3600


def _figures(seconds_by_kind: dict[str, int], target: Fraction) -> dict:
    return {
        kind: {
            "seconds": seconds_by_kind.get(kind, 0),
            "hours": float(hours(seconds_by_kind.get(kind, 0))),
            "percent": None if percent(seconds_by_kind.get(kind, 0), target) is None
            else float(percent(seconds_by_kind.get(kind, 0), target)),
        }
        for kind in KINDS
    }


def completion(session: Session, *, period: Period, quota_hours_per_year, basis: str = "claimed") -> dict:
    """Volunteer completion for a period, overall and by station, by kind; grid workers beside it."""
    quota = Fraction(str(quota_hours_per_year))
    start_utc, end_utc = period.utc_bounds()
    volunteers = session.execute(
        sa.select(Patroller.id, Patroller.station_id, Patroller.active_from, Patroller.active_to).where(
            Patroller.role == "volunteer",
            Patroller.active_from <= period.last_day,
            sa.or_(Patroller.active_to.is_(None), Patroller.active_to >= period.start),
        )
    ).all()
    target_by_station: dict[int, Fraction] = defaultdict(Fraction)
    count_by_station: dict[int, int] = defaultdict(int)
    for _id, station_id, active_from, active_to in volunteers:
        target_by_station[station_id] += volunteer_target_seconds(active_from, active_to, period, quota)
        count_by_station[station_id] += 1

    seconds_column = PatrolSession.duration_seconds if basis == "claimed" else sa.func.coalesce(
        PatrolSession.verified_seconds, 0
    )
    rows = session.execute(
        sa.select(Patroller.role, Patroller.station_id, PatrolSession.kind, sa.func.sum(seconds_column))
        .join(Patroller, PatrolSession.patroller_id == Patroller.id)
        .where(PatrolSession.started_at >= start_utc, PatrolSession.started_at < end_utc)
        .group_by(Patroller.role, Patroller.station_id, PatrolSession.kind)
    ).all()
    volunteer_seconds: dict[int, dict[str, int]] = defaultdict(dict)
    worker_seconds: dict[str, int] = defaultdict(int)
    for role, station_id, kind, total in rows:
        if role == "volunteer":
            volunteer_seconds[station_id][kind] = int(total or 0)
        else:
            worker_seconds[kind] += int(total or 0)

    stations = session.execute(
        sa.select(Grid.id, Grid.code, Grid.name).where(Grid.level == "station").order_by(Grid.code)
    ).all()
    total_target = sum(target_by_station.values(), Fraction(0))
    totals = {kind: sum(v.get(kind, 0) for v in volunteer_seconds.values()) for kind in KINDS}
    return {
        "period": period.label,
        "from": period.start.isoformat(),
        "to": period.last_day.isoformat(),
        "basis": basis,
        "volunteers": len(volunteers),
        "quota_hours": float(Decimal(str(quota_hours_per_year)).quantize(CENT)),
        "target_seconds": float(total_target) if total_target.denominator != 1 else int(total_target),
        "target_hours": float(hours(total_target)),
        "by_kind": _figures(totals, total_target),
        "by_station": [
            {
                "station_code": code,
                "station_name": name,
                "volunteers": count_by_station.get(station_id, 0),
                "target_hours": float(hours(target_by_station.get(station_id, Fraction(0)))),
                "by_kind": _figures(volunteer_seconds.get(station_id, {}), target_by_station.get(station_id, 0)),
            }
            for station_id, code, name in stations
        ],
        "grid_workers": {kind: {"seconds": worker_seconds.get(kind, 0), "hours": float(hours(worker_seconds.get(kind, 0)))}
                         for kind in KINDS},
    }
