"""Surveillance cameras identified by GB/T 28181 device ids, and the history of their changes."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridsvc.db import SRID, Base, UTCDateTime, utcnow
from gridsvc.grids.models import Grid

KINDS = ("security", "grid")
STATUSES = ("online", "offline", "fault")
# Coordinate systems a camera's position may be given in; storage is always WGS-84.
CRS_CODES = ("wgs84", "gcj02")
# Fields whose changes camera_status_changes records.
HISTORY_FIELDS = ("police_linked", "status", "name", "kind", "location", "retired")


class Camera(Base):
    """A camera; its station follows from its location.

    Retiring sets retired_at instead of deleting (or a "retired" status): the operational status
    stays what it last was, the history stays attached, the device id stays reserved, and
    maps, shares and coverage simply leave out cameras with retired_at set.
    """

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
    # The position as it was given (before conversion to the stored WGS-84 geom), and in which system.
    source_crs: Mapped[str] = mapped_column(sa.String(8), default="wgs84", server_default="wgs84")
    source_lon: Mapped[float | None] = mapped_column(sa.Float)
    source_lat: Mapped[float | None] = mapped_column(sa.Float)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    station: Mapped[Grid] = relationship()
    changes: Mapped[list[CameraStatusChange]] = relationship(
        back_populates="camera", order_by="CameraStatusChange.id", passive_deletes=True
    )


class CameraStatusChange(Base):
    """One change of one camera field (link, status, name, kind, location, retirement): who, when, from, to."""

    __tablename__ = "camera_status_changes"
    __table_args__ = (sa.Index("ix_camera_status_changes_camera_at", "camera_id", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(sa.ForeignKey("cameras.id", ondelete="RESTRICT"))
    field: Mapped[str] = mapped_column(sa.String(32))
    # Text forms: "true"/"false", status words, "lon,lat" with 7 decimals; old is None on creation.
    old_value: Mapped[str | None] = mapped_column(sa.String(200))
    new_value: Mapped[str | None] = mapped_column(sa.String(200))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str | None] = mapped_column(sa.String(200))
    # Why, or where from: a retirement reason, "import cameras.csv row 12".
    note: Mapped[str | None] = mapped_column(sa.String(500))

    camera: Mapped[Camera] = relationship(back_populates="changes")
