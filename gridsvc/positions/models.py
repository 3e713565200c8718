"""Tracker devices (a patroller's phone or tracker app) and the positions they send."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column, relationship

import gridsvc.audit.models  # noqa: F401  (every write to these tables is audited)
from gridsvc.db import SRID, Base, UTCDateTime, utcnow
from gridsvc.people.models import Patroller
from gridsvc.positions.protocols import SOURCES

# The datum a device's app sends its coordinates in: WGS-84 (GPS), or GCJ-02 (Chinese map SDKs,
# WeChat mini-programs by default). Points are stored in WGS-84 whatever the device sends.
DATUMS = ("wgs84", "gcj02")


class Device(Base):
    """One tracker of one patroller; its key (its identity on the wire) is stored only as a SHA-256."""

    __tablename__ = "devices"
    __table_args__ = (sa.CheckConstraint("datum IN ('wgs84', 'gcj02')", name="ck_devices_datum"),)
    __audit_redact__ = ("key_hash",)
    # Bookkeeping written by every point: recording it would copy the device's rhythm into the trail.
    __audit_ignore__ = ("last_seen_at", "battery_percent", "rate_tokens", "rate_at")

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
    # The device's intake token bucket (gridsvc.positions.limits): tokens left at rate_at.
    rate_tokens: Mapped[float | None] = mapped_column(sa.Float)
    rate_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    patroller: Mapped[Patroller] = relationship()


# How a point came in: a tracker protocol, the phone recorder, or a track file.
POSITION_SOURCES = SOURCES
SOURCE_CHECK = "source IN ({})".format(", ".join(f"'{source}'" for source in POSITION_SOURCES))


class Position(Base):
    """One fix as a device sent it, in WGS-84, with the named reasons it is flagged (never dropped).

    Not row-audited (`__audit_skip__`): a volunteer's whereabouts are personal information (PIPL
    art. 28) and the append-only trail would keep them for ever. The same fix sent again (same
    device, fix time and fields: `payload_digest`) is a replay and stores nothing.
    """

    __tablename__ = "positions"
    __table_args__ = (
        sa.UniqueConstraint("device_id", "fixed_at", "payload_digest", name="uq_positions_device_fix_payload"),
        sa.Index("ix_positions_patroller_fixed", "patroller_id", "fixed_at"),
        sa.Index("ix_positions_device_fixed", "device_id", "fixed_at"),
        sa.CheckConstraint(SOURCE_CHECK, name="ck_positions_source"),
    )
    __audit_skip__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("devices.id", ondelete="CASCADE"))
    patroller_id: Mapped[int] = mapped_column(sa.ForeignKey("patrollers.id", ondelete="RESTRICT"))
    fixed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    geom = mapped_column(Geometry("POINT", srid=SRID, spatial_index=True), nullable=False)
    accuracy_m: Mapped[float | None] = mapped_column(sa.Float)
    speed_mps: Mapped[float | None] = mapped_column(sa.Float)
    heading_deg: Mapped[float | None] = mapped_column(sa.Float)
    altitude_m: Mapped[float | None] = mapped_column(sa.Float)
    battery_percent: Mapped[float | None] = mapped_column(sa.Float)
    source: Mapped[str] = mapped_column(sa.String(16))
    flags: Mapped[list] = mapped_column(sa.JSON, default=list)
    payload_digest: Mapped[str] = mapped_column(sa.String(64))


class DutySwitch(Base):
    """A patroller's own on-duty switch: points are stored only while on duty (PIPL art. 28: no more than duty needs).

    `on_since` is when it was switched on, None when off; it counts for DUTY_MAX_HOURS at most.
    """

    __tablename__ = "duty_switches"

    patroller_id: Mapped[int] = mapped_column(sa.ForeignKey("patrollers.id", ondelete="CASCADE"), primary_key=True)
    on_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AddressLimit(Base):
    """The intake's failure bucket of one sender address: requests naming no live device or no readable fix.

    In the database so that every server process shares it; rows idle for a day go with
    `flask positions purge`.
    """

    __tablename__ = "intake_address_limits"
    __audit_skip__ = True

    address: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(sa.Float)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
