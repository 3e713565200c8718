"""Completion targets: quota hours per volunteer for a period, zone-wide or for one station."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridsvc.db import Base, UTCDateTime, utcnow
from gridsvc.grids.models import Grid


class Target(Base):
    """A volunteer who is active on every day of [starts_on, ends_on] owes quota_seconds of patrol.

    The quota is per volunteer for the whole target period (not per year); a volunteer active on
    part of it owes the same share of days. station_id NULL means every station.
    """

    __tablename__ = "targets"
    __table_args__ = (
        sa.CheckConstraint("ends_on >= starts_on", name="ck_targets_dates"),
        sa.CheckConstraint("quota_seconds >= 0", name="ck_targets_quota"),
        sa.Index("ix_targets_dates", "starts_on", "ends_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # As given: 2020, 2020-Q1, 2020-03 or 2020-01-01..2020-06-30.
    label: Mapped[str] = mapped_column(sa.String(40))
    starts_on: Mapped[dt.date] = mapped_column(sa.Date)
    ends_on: Mapped[dt.date] = mapped_column(sa.Date)  # inclusive
    station_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grids.id", ondelete="RESTRICT"), index=True)
    # Integer seconds, like every duration: 6 h is 21600; hours with two decimals are whole seconds.
    quota_seconds: Mapped[int] = mapped_column(sa.Integer)
    note: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    station: Mapped[Grid | None] = relationship()
