"""Completion targets: stored target rules and the per-day rate they give each station.

The rule, in one place:
- A target row gives `quota_seconds` to a volunteer active on every day of its period
  [starts_on, ends_on] (inclusive): quota per volunteer *per target period*, not per year. Each day
  of that period therefore weighs quota_seconds / days-in-the-target-period.
- A row with a station applies to that station's volunteers; a row without one to every station.
  On a given day a station's own row wins over a zone-wide row; rows of the same scope may not
  overlap (refused when created).
- A day no row covers falls back to the configured QUOTA_HOURS_PER_YEAR, spread over the days of
  its calendar year (1/366 of it per day in 2020), so a whole year is exactly the quota.
- A volunteer's target for a reporting period is the sum of the day rates over the days of the
  period on which they were active (active_from .. active_to inclusive). Everything is an exact
  Fraction of seconds; rounding happens only for display.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridsvc.errors import ConflictError, NotFoundError, ValidationError
from gridsvc.grids.models import Grid
from gridsvc.reports.models import Target
from gridsvc.periods import Period

# A quota above this many hours per volunteer and period is a typo, not a target.
MAX_QUOTA_HOURS = 10_000


@dataclass(frozen=True)
class RateSegment:
    """Days first..last (inclusive) on which each active volunteer owes seconds_per_day."""

    first: dt.date
    last: dt.date
    seconds_per_day: Fraction
    target_id: int | None  # None: the configured yearly quota

    @property
    def days(self) -> int:
        """Number of days in the segment."""
        return (self.last - self.first).days + 1


def quota_seconds_from_hours(value) -> int:
    """Hours (a number or text, at most two decimals, 0..10000) as exact integer seconds."""
    try:
        quota = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError("target_quota", "The quota must be a number of hours like 6 or 1.5") from None
    if not quota.is_finite() or quota < 0 or quota > MAX_QUOTA_HOURS:
        raise ValidationError("target_quota_range", "The quota must be between 0 and %(max)s hours",
                              max=MAX_QUOTA_HOURS)
    if quota != quota.quantize(Decimal("0.01")):
        raise ValidationError("target_quota_precision", "The quota may have at most two decimals")
    return int(quota * 3600)


def _days_in_year(year: int) -> int:
    return (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def rate_segments(period: Period, *, quota_hours_per_year, targets=(), station_id: int | None = None
                  ) -> list[RateSegment]:
    """The period cut into runs of days with one rate each, for one station's volunteers.

    Segments never cross a month boundary (so monthly shares add up exactly to the period's
    target) nor a target's edge nor a new year.
    """
    yearly = Fraction(str(quota_hours_per_year)) * 3600
    own = [t for t in targets if station_id is not None and t.station_id == station_id]
    zone = [t for t in targets if t.station_id is None]
    cuts = {period.start, period.end}
    month = _next_month(period.start)
    while month < period.end:  # month starts include every 1 January
        cuts.add(month)
        month = _next_month(month)
    for target in own + zone:
        for edge in (target.starts_on, target.ends_on + dt.timedelta(days=1)):
            if period.start < edge < period.end:
                cuts.add(edge)
    edges = sorted(cuts)
    segments = []
    for first, after in zip(edges, edges[1:]):
        rule = next((t for t in own if t.starts_on <= first <= t.ends_on), None) or \
            next((t for t in zone if t.starts_on <= first <= t.ends_on), None)
        if rule is not None:
            rate = Fraction(rule.quota_seconds, (rule.ends_on - rule.starts_on).days + 1)
        else:
            rate = yearly / _days_in_year(first.year)
        segments.append(RateSegment(first, after - dt.timedelta(days=1), rate, rule.id if rule else None))
    return segments


def active_days(segment: RateSegment, active_from: dt.date, active_to: dt.date | None) -> int:
    """Days of the segment on which a volunteer active from..to (inclusive; None = still active) was active."""
    first = max(segment.first, active_from)
    last = segment.last if active_to is None else min(segment.last, active_to)
    return max((last - first).days + 1, 0)


def target_of(segments: list[RateSegment], active_from: dt.date, active_to: dt.date | None) -> Fraction:
    """One volunteer's exact target in seconds over the segments."""
    return sum((active_days(s, active_from, active_to) * s.seconds_per_day for s in segments), Fraction(0))


def _station(session: Session, code: str) -> Grid:
    station = session.scalar(sa.select(Grid).where(Grid.code == code))
    if station is None or station.level != "station":
        raise NotFoundError("station_not_found", "No station has the code %(code)s", code=code)
    return station


def create_target(session: Session, *, period: Period, quota_hours, station_code: str | None = None,
                  note: str | None = None) -> Target:
    """Store a target: quota hours per volunteer for the whole period, zone-wide or for one station."""
    quota_seconds = quota_seconds_from_hours(quota_hours)
    station = _station(session, station_code) if station_code else None
    station_id = station.id if station else None
    clash = session.scalar(
        sa.select(Target).where(
            Target.station_id.is_(None) if station_id is None else Target.station_id == station_id,
            Target.starts_on <= period.last_day,
            Target.ends_on >= period.start,
        ).limit(1)
    )
    if clash is not None:
        raise ConflictError("target_overlap", "A target for the same stations already covers part of %(period)s: "
                            "%(other)s", period=period.label, other=clash.label)
    target = Target(label=period.label, starts_on=period.start, ends_on=period.last_day, station=station,
                    quota_seconds=quota_seconds, note=(note or "").strip()[:200] or None)
    session.add(target)
    session.flush()
    return target


def list_targets(session: Session, *, period: Period | None = None, station_code: str | None = None) -> list[Target]:
    """Stored targets ordered by start, optionally those overlapping a period and applying to a station."""
    query = sa.select(Target).order_by(Target.starts_on, Target.station_id.is_not(None), Target.id)
    if period is not None:
        query = query.where(Target.starts_on <= period.last_day, Target.ends_on >= period.start)
    if station_code:
        station = _station(session, station_code)
        query = query.where(sa.or_(Target.station_id.is_(None), Target.station_id == station.id))
    return list(session.scalars(query))


def delete_target(session: Session, *, target_id: int) -> None:
    """Remove a target; its days fall back to the next rule."""
    target = session.get(Target, target_id)
    if target is None:
        raise NotFoundError("target_not_found", "No target has the id %(id)s", id=target_id)
    session.delete(target)
    session.flush()
