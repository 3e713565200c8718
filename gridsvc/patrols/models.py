"""Patrol sessions (group and individual), group-patrol tasks with their sign-ups, time per grid."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridsvc.db import SRID, Base, UTCDateTime, utcnow
from gridsvc.grids.models import Grid
from gridsvc.people.models import Patroller

KINDS = ("group", "individual")
# points: an explicit session (started and stopped), its time and track from the stored points;
# trip: a trip detected in an on-duty tracker stream and confirmed.
SOURCES = ("web", "api", "gpx", "import", "points", "trip")
# open: started, not yet stopped; proposed: a detected trip awaiting confirmation; rejected: a trip
# the patroller or station said was no patrol (kept so it is not proposed again); logged: counts.
# Only logged sessions count in any figure (COUNTED).
SESSION_STATUSES = ("open", "proposed", "rejected", "logged")
# signed_up: claimed the task; attended: has a patrol session for it; absent: confirmed not there.
SIGNUP_STATUSES = ("signed_up", "attended", "absent", "cancelled")


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
    # Where to patrol: a (Multi)Polygon area or a LineString route; none means the whole station.
    area = mapped_column(Geometry("GEOMETRY", srid=SRID, spatial_index=False), nullable=True)
    # A cancelled task takes no sign-ups or attendance; it stays listed, marked, for the record.
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    station: Mapped[Grid] = relationship()
    signups: Mapped[list[TaskSignup]] = relationship(back_populates="task", order_by="TaskSignup.id")


class PatrolSession(Base):
    """One patroller's patrol; durations are integer seconds so every sum stays exact."""

    __tablename__ = "patrol_sessions"
    # A track is where a volunteer walked, personal data: the trail says it changed, never where.
    __audit_redact__ = ("track", "start_point")
    __table_args__ = (
        sa.CheckConstraint("kind IN ('group', 'individual')", name="ck_patrol_sessions_kind"),
        sa.CheckConstraint("source IN ('web', 'api', 'gpx', 'import', 'points', 'trip')",
                           name="ck_patrol_sessions_source"),
        sa.CheckConstraint("status IN ('open', 'proposed', 'rejected', 'logged')", name="ck_patrol_sessions_status"),
        sa.CheckConstraint("ended_at > started_at", name="ck_patrol_sessions_order"),
        sa.CheckConstraint("duration_seconds > 0", name="ck_patrol_sessions_duration"),
        sa.Index("ix_patrol_sessions_patroller_start", "patroller_id", "started_at"),
        sa.Index("ix_patrol_sessions_start", "started_at"),
        # One open session per patroller, whatever two concurrent starts do.
        sa.Index("uq_patrol_sessions_open", "patroller_id", unique=True,
                 sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'")),
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
    # None while the session is open (started, not stopped).
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[int | None] = mapped_column(sa.Integer)
    verified_seconds: Mapped[int | None] = mapped_column(sa.Integer)
    verification: Mapped[dict | None] = mapped_column(sa.JSON)
    track = mapped_column(Geometry("LINESTRING", srid=SRID, spatial_index=True), nullable=True)
    source: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Where the patrol began when there is no track (a phone's position, or a map pick).
    start_point = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False), nullable=True)
    # Geodesic length of the stored track in metres (gaps between segments included).
    track_length_m: Mapped[float | None] = mapped_column(sa.Float)
    # Entered afterwards from a paper sign-in sheet (补录): claimed hours only, never verified.
    from_paper: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    status: Mapped[str] = mapped_column(sa.String(16), default="logged", server_default="logged")

    patroller: Mapped[Patroller] = relationship()
    station: Mapped[Grid] = relationship()
    task: Mapped[PatrolTask | None] = relationship()
    grid_times: Mapped[list[PatrolGridTime]] = relationship(
        back_populates="patrol", cascade="all, delete-orphan", order_by="PatrolGridTime.grid_id"
    )


# The sessions every figure counts: logged ones (not open, proposed or rejected).
COUNTED = PatrolSession.status == "logged"


class PatrolGridTime(Base):
    """Whole seconds a session's track spent moving in one grid, so hours per grid are one SUM away."""

    __tablename__ = "patrol_grid_time"
    __table_args__ = (sa.CheckConstraint("seconds > 0", name="ck_patrol_grid_time_seconds"),)

    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("patrol_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("grids.id", ondelete="RESTRICT"), primary_key=True, index=True)
    seconds: Mapped[int] = mapped_column(sa.Integer)

    patrol: Mapped[PatrolSession] = relationship(back_populates="grid_times")
    grid: Mapped[Grid] = relationship()


class TaskSignup(Base):
    """A volunteer's claim on a group-patrol task, and afterwards their confirmed attendance."""

    __tablename__ = "patrol_task_signups"
    __table_args__ = (
        sa.UniqueConstraint("task_id", "patroller_id", name="uq_patrol_task_signups_task_patroller"),
        sa.CheckConstraint(
            "status IN ('signed_up', 'attended', 'absent', 'cancelled')", name="ck_patrol_task_signups_status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(sa.ForeignKey("patrol_tasks.id", ondelete="CASCADE"), index=True)
    patroller_id: Mapped[int] = mapped_column(sa.ForeignKey("patrollers.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="signed_up")
    # The patrol session holding the attended time (person-hours); one per participant and task.
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("patrol_sessions.id", ondelete="SET NULL"), unique=True
    )
    signed_up_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the station confirmed attendance (or absence); None while unconfirmed.
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    task: Mapped[PatrolTask] = relationship(back_populates="signups")
    patroller: Mapped[Patroller] = relationship()
    patrol: Mapped[PatrolSession | None] = relationship()
