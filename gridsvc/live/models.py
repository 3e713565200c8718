"""The live streams open now, one row each, so LIVE_MAX_STREAMS_PER_USER holds across processes and servers."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gridsvc.db import Base, UTCDateTime


class LiveStream(Base):
    """A viewer's open live stream; `seen_at` is renewed while it runs, and a row left by a killed process expires."""

    __tablename__ = "live_streams"
    # Bookkeeping of open connections, renewed every few seconds: no record for the audit trail.
    __audit_skip__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
