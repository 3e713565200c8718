"""Grid hierarchy: the centre, its stations and their cells, each a MultiPolygon."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridsvc.db import SRID, Base, UTCDateTime, utcnow

LEVELS = ("centre", "station", "cell")
CHILD_LEVEL = {"centre": "station", "station": "cell"}


class Grid(Base):
    """A grid unit with a hierarchical numeric code: a child's code is its parent's plus a sequence."""

    __tablename__ = "grids"
    __table_args__ = (
        sa.UniqueConstraint("parent_id", "name", name="uq_grids_parent_name"),
        sa.CheckConstraint("level IN ('centre', 'station', 'cell')", name="ck_grids_level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    level: Mapped[str] = mapped_column(sa.String(16))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grids.id", ondelete="RESTRICT"), index=True)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    parent: Mapped[Grid | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Grid]] = relationship(back_populates="parent")
