"""People who patrol: safety volunteers and full-time grid workers, each attached to a station."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridsvc.db import Base, UTCDateTime, utcnow
from gridsvc.grids.models import Grid

ROLES = ("volunteer", "grid_worker")


class Patroller(Base):
    """A volunteer (counted in completion) or a grid worker (reported beside it)."""

    __tablename__ = "patrollers"
    __table_args__ = (
        sa.CheckConstraint("role IN ('volunteer', 'grid_worker')", name="ck_patrollers_role"),
        sa.CheckConstraint("active_to IS NULL OR active_to >= active_from", name="ck_patrollers_active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(200))
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("grids.id", ondelete="RESTRICT"), index=True)
    # The volunteer's account in the city's volunteer app (芗里芗亲); unique when present.
    app_account_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    active_from: Mapped[dt.date] = mapped_column(sa.Date)
    active_to: Mapped[dt.date | None] = mapped_column(sa.Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    station: Mapped[Grid] = relationship()
