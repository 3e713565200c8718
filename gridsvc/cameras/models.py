"""Surveillance cameras identified by GB/T 28181 device ids."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridsvc.db import SRID, Base, UTCDateTime, utcnow
from gridsvc.grids.models import Grid

KINDS = ("security", "grid")
STATUSES = ("online", "offline", "fault")


class Camera(Base):
    """A camera; its station follows from its location."""

    __tablename__ = "cameras"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('security', 'grid')", name="ck_cameras_kind"),
        sa.CheckConstraint("status IN ('online', 'offline', 'fault')", name="ck_cameras_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))
    police_linked: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="online")
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("grids.id", ondelete="RESTRICT"), index=True)
    geom = mapped_column(Geometry("POINT", srid=SRID, spatial_index=True), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    station: Mapped[Grid] = relationship()
