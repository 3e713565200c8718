"""The plain values completion() computes, before gridsvc.reports.schemas shapes them as the report.

Exact integer seconds and Fraction targets; nothing here is rounded (rounding is for display, in
the shaping). Beside service.py and schemas.py so that both can name them without importing each
other.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

from gridsvc.periods import Period
from gridsvc.reports.models import Target


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


@dataclass(frozen=True)
class StationFigures:
    """One station's volunteers, what they owe and what they did (a by_station row)."""

    code: str
    name: str
    volunteers: int
    target: Fraction
    sums: Tally


@dataclass(frozen=True)
class MonthFigures:
    """One month of the period, clipped to it (a by_month row)."""

    first: dt.date
    last: dt.date
    volunteers: int
    target: Fraction
    sums: Tally


@dataclass(frozen=True)
class VolunteerFigures:
    """One volunteer of the period, or one with sessions in it (a by_volunteer row)."""

    volunteer_id: int
    app_account_id: str | None
    name: str
    station_code: str | None
    station_name: str | None
    active_from: dt.date
    active_to: dt.date | None
    target: Fraction
    sums: Tally


@dataclass(frozen=True)
class Completion:
    """Everything a report shows; a table not asked for is None (neither queried nor shown)."""

    period: Period
    basis: str
    station_code: str | None
    kinds: tuple[str, ...]
    volunteers: int
    quota_hours_per_year: object  # as configured: an int, a float or a text like "6"
    target: Fraction
    targets: list[Target]
    station_codes: dict[int, str]  # station id -> code, for the targets' station_code
    sums: Tally  # the volunteers'
    grid_workers: Tally
    by_station: list[StationFigures] | None
    by_month: list[MonthFigures] | None
    by_volunteer: list[VolunteerFigures] | None
