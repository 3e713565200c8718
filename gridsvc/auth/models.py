"""Accounts, their web sessions and API tokens, and the login throttle."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

import gridsvc.audit.models  # noqa: F401  (every write to these tables is audited)
from gridsvc.access import ROLES, STATION_ROLES, ZONE_ROLES
from gridsvc.db import Base, UTCDateTime, utcnow

# Volunteer: own patrols. Grid worker: own station's patrols and tasks. Station manager: own station.
# Centre viewer: reads everything (maps). Manager: completion, exports. Admin: accounts, configuration.


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(Base):
    """A person who signs in. Station roles belong to exactly one station; zone roles to none."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(_in("role", ROLES), name="ck_users_role"),
        sa.CheckConstraint(
            f"({_in('role', STATION_ROLES)} AND station_id IS NOT NULL) OR ({_in('role', ZONE_ROLES)} AND station_id IS NULL)",
            name="ck_users_station_scope",
        ),
    )
    __audit_redact__ = ("password_hash",)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(32))
    station_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grids.id", ondelete="RESTRICT"), index=True)
    # The volunteer or grid worker this account is (their own patrols); unique when present.
    patroller_id: Mapped[int | None] = mapped_column(sa.ForeignKey("patrollers.id", ondelete="RESTRICT"), unique=True)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebSession(Base):
    """A signed-in browser: the cookie carries a random id, the database its hash and whether it ended."""

    __tablename__ = "web_sessions"
    __audit_redact__ = ("sid_hash",)

    id: Mapped[int] = mapped_column(primary_key=True)
    sid_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_reason: Mapped[str | None] = mapped_column(sa.String(32))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(200))

    user: Mapped[User] = relationship()


class ApiToken(Base):
    """A revocable bearer token for phones and scripts; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __audit_redact__ = ("token_hash",)
    __audit_ignore__ = ("last_used_at",)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100), default="")
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class LoginThrottle(Base):
    """Failed sign-ins per key ("user:<name>" or "ip:<address>"); a key with too many is locked for a while.

    Keyed by name rather than stored on the users row so unknown usernames lock exactly like real
    ones (the lock reveals nothing about which accounts exist), and the database shares the count
    between processes.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    first_failure_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AccountInvitation(Base):
    """A one-time link that lets a volunteer set their own password; only the token's SHA-256 is stored.

    Re-issuing voids the account's earlier invitation (voided_at); using one stamps used_at. An
    invitation counts only while it is neither used nor voided nor past expires_at.
    """

    __tablename__ = "account_invitations"
    __audit_redact__ = ("token_hash",)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    voided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Who issued it (the station manager or admin); kept when that account goes.
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
