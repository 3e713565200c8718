"""Reporting periods: a year, quarter, month or date range, in the display time zone."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from config import DefaultConfig
from gridsvc.errors import ValidationError


@dataclass(frozen=True)
class Period:
    """Days [start, end) with a label; boundaries are local midnights in `tz`."""

    label: str
    start: dt.date
    end: dt.date  # exclusive
    tz: str = DefaultConfig.DISPLAY_TIMEZONE

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.end - self.start).days

    @property
    def last_day(self) -> dt.date:
        """The last day included."""
        return self.end - dt.timedelta(days=1)

    def utc_bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The period as an aware UTC [start, end) interval."""
        zone = ZoneInfo(self.tz)
        return tuple(
            dt.datetime.combine(day, dt.time(0), zone).astimezone(dt.timezone.utc) for day in (self.start, self.end)
        )


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    return dt.date(day.year + month_index // 12, month_index % 12 + 1, 1)


def parse_period(text: str | None = None, *, date_from: str | None = None, date_to: str | None = None,
                 tz: str = DefaultConfig.DISPLAY_TIMEZONE) -> Period:
    """Parse '2020', '2020-Q3', '2020-07' or an inclusive from/to date range."""
    try:
        period = _parse_period(text, date_from=date_from, date_to=date_to, tz=tz)
        period.utc_bounds()  # years 0001 and 9999 overflow once shifted to UTC
    except (ValueError, OverflowError):  # year 0000, 9999-12 + 1 month, ...: a 422, not a 500
        raise ValidationError("period_range", "The period lies outside the supported years") from None
    return period


def _parse_period(text: str | None, *, date_from: str | None, date_to: str | None, tz: str) -> Period:
    if date_from or date_to:
        try:
            start = dt.date.fromisoformat(date_from or "")
            last = dt.date.fromisoformat(date_to or "")
        except ValueError:
            raise ValidationError("period_dates", "from and to must both be dates like 2020-01-31") from None
        if last < start:
            raise ValidationError("period_order", "The period's end date is before its start date")
        return Period(f"{start.isoformat()}..{last.isoformat()}", start, last + dt.timedelta(days=1), tz)
    text = (text or "").strip()
    if re.fullmatch(r"\d{4}", text):
        year = int(text)
        return Period(text, dt.date(year, 1, 1), dt.date(year + 1, 1, 1), tz)
    match = re.fullmatch(r"(\d{4})-?Q([1-4])", text, flags=re.IGNORECASE)
    if match:
        start = dt.date(int(match[1]), 3 * int(match[2]) - 2, 1)
        return Period(f"{match[1]}-Q{match[2]}", start, _add_months(start, 3), tz)
    match = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if match and 1 <= int(match[2]) <= 12:
        start = dt.date(int(match[1]), int(match[2]), 1)
        return Period(text, start, _add_months(start, 1), tz)
    raise ValidationError(
        "period_format", "Period must look like 2020, 2020-Q1 or 2020-03, or give from and to dates; got %(text)s",
        text=text[:40],
    )
