"""Patrol sessions (group and individual) and the group-patrol tasks volunteers sign up for."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridsvc.db import SRID, Base, UTCDateTime, utcnow
from gridsvc.grids.models import Grid
from gridsvc.people.models import Patroller

KINDS = ("group", "individual")
SOURCES = ("web", "api", "gpx", "import")


class PatrolTask(Base):
    """A group-patrol task (群防任务) published by a station for volunteers to claim."""

    __tablename__ = "patrol_tasks"
    __table_args__ = (sa.CheckConstraint("ends_at > starts_at", name="ck_patrol_tasks_window"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("grids.id", ondelete="RESTRICT"), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    headcount: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    station: Mapped[Grid] = relationship()


class PatrolSession(Base):
    """One patroller's patrol; durations are integer seconds so every sum stays exact."""

    __tablename__ = "patrol_sessions"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('group', 'individual')", name="ck_patrol_sessions_kind"),
        sa.CheckConstraint("source IN ('web', 'api', 'gpx', 'import')", name="ck_patrol_sessions_source"),
        sa.CheckConstraint("ended_at > started_at", name="ck_patrol_sessions_order"),
        sa.CheckConstraint("duration_seconds > 0", name="ck_patrol_sessions_duration"),
        sa.Index("ix_patrol_sessions_patroller_start", "patroller_id", "started_at"),
        sa.Index("ix_patrol_sessions_start", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Made by the client (phone); the same id is the same submission, so retries never duplicate.
    client_uuid: Mapped[str] = mapped_column(sa.String(36), unique=True)
    payload_digest: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(16))
    patroller_id: Mapped[int] = mapped_column(sa.ForeignKey("patrollers.id", ondelete="RESTRICT"))
    task_id: Mapped[int | None] = mapped_column(sa.ForeignKey("patrol_tasks.id", ondelete="RESTRICT"), index=True)
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("grids.id", ondelete="RESTRICT"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[int] = mapped_column(sa.Integer)
    verified_seconds: Mapped[int | None] = mapped_column(sa.Integer)
    verification: Mapped[dict | None] = mapped_column(sa.JSON)
    track = mapped_column(Geometry("LINESTRING", srid=SRID, spatial_index=True), nullable=True)
    source: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    patroller: Mapped[Patroller] = relationship()
    station: Mapped[Grid] = relationship()
    task: Mapped[PatrolTask | None] = relationship()
