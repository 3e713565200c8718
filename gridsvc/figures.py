"""Figures as the report shows them: exact seconds in, hours and percentages rounded half-up to 0.01 out.

Every layer that shows a figure (pages, API, CLI, exports) rounds it here, so one figure is the
same everywhere.
"""
from __future__ import annotations

from decimal import Decimal


def _half_up(numerator: int, denominator: int) -> Decimal:
    """numerator / denominator rounded half-up (away from zero) to 0.01, in integer arithmetic."""
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    cents = (abs(numerator) * 200 + denominator) // (2 * denominator)
    return Decimal(-cents if numerator < 0 else cents).scaleb(-2)


def hours(seconds) -> Decimal:
    """Seconds as hours rounded half-up to 0.01 h."""
    return _half_up(seconds.numerator, seconds.denominator * 3600)


def percent(done_seconds, target_seconds) -> Decimal | None:
    """done / target × 100, not capped, rounded half-up; None when there is no target."""
    if not target_seconds:
        return None
    # ints and Fractions both have numerator/denominator: no Fraction objects are built.
    return _half_up(done_seconds.numerator * 100 * target_seconds.denominator,
                    done_seconds.denominator * target_seconds.numerator)
