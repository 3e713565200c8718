"""Tracker devices (a patroller's phone or tracker app) and the positions they send."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

import gridsvc.audit.models  # noqa: F401  (every write to these tables is audited)
from gridsvc.db import Base, UTCDateTime, utcnow
from gridsvc.people.models import Patroller

# The datum a device's app sends its coordinates in: WGS-84 (GPS), or GCJ-02 (Chinese map SDKs,
# WeChat mini-programs by default). Points are stored in WGS-84 whatever the device sends.
DATUMS = ("wgs84", "gcj02")


class Device(Base):
    """One tracker of one patroller; its key (its identity on the wire) is stored only as a SHA-256."""

    __tablename__ = "devices"
    __table_args__ = (sa.CheckConstraint("datum IN ('wgs84', 'gcj02')", name="ck_devices_datum"),)
    __audit_redact__ = ("key_hash",)
    # Bookkeeping written by every point: recording it would copy the device's rhythm into the trail.
    __audit_ignore__ = ("last_seen_at", "battery_percent")

    id: Mapped[int] = mapped_column(primary_key=True)
    patroller_id: Mapped[int] = mapped_column(sa.ForeignKey("patrollers.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    platform: Mapped[str] = mapped_column(sa.String(64), default="")
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    battery_percent: Mapped[float | None] = mapped_column(sa.Float)
    datum: Mapped[str] = mapped_column(sa.String(8), default="wgs84", server_default="wgs84")
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    patroller: Mapped[Patroller] = relationship()
