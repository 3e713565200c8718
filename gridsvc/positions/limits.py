"""Intake limits as token buckets kept in the database, so every server process shares them.

Per device: a bucket as large as a phone's day of buffered points, refilled at a steady rate; a
device emptying its buffer as fast as it can is never refused, a device sending more than the
rate for longer is told to wait (429, Retry-After) and keeps its points. Per address: a bucket
of failures only (no live device named, no readable fix), so a sender guessing keys is slowed
while the phones behind one intranet address that send good points are never counted.

Keyword arguments, no Flask, flushes only (record_address_failure excepted: it runs in a
transaction of its own, because the failing request's own is rolled back).
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridsvc.errors import TooManyRequests
from gridsvc.i18n import N_
from gridsvc.positions.models import AddressLimit, Device

IDLE_ADDRESS_AFTER = dt.timedelta(days=1)


@dataclass(frozen=True)
class Bucket:
    """A token bucket: `burst` tokens at most, `per_minute` added back each minute."""

    burst: float
    per_minute: float

    def level(self, tokens: float | None, at: dt.datetime | None, now: dt.datetime) -> float:
        """The tokens held now, from `tokens` held at `at` (an untouched bucket is full)."""
        if tokens is None or at is None:
            return self.burst
        elapsed = max(0.0, (now - at).total_seconds())
        return min(self.burst, tokens + elapsed * self.per_minute / 60)

    def wait_seconds(self, level: float) -> int:
        """Whole seconds until one token is back (at least 1)."""
        if self.per_minute <= 0:
            return 3600
        return max(1, math.ceil((1 - level) * 60 / self.per_minute))


DEVICE_OVER_LIMIT = N_("The device sends more points than the server takes; nothing was stored. "
                       "Try again in %(seconds)s s.")
ADDRESS_OVER_LIMIT = N_("Too many refused tracker messages from this address; nothing was stored. "
                        "Try again in %(seconds)s s.")


def take_device_token(session: Session, *, device: Device, count: int, now: dt.datetime, bucket: Bucket) -> None:
    """Take `count` tokens from the device's bucket, or refuse with 429 (nothing taken).

    The device row is locked (PostgreSQL) so that two servers never both spend the same tokens;
    on SQLite the writer's lock already serialises them.
    """
    locked = session.execute(sa.select(Device).where(Device.id == device.id).with_for_update()
                             .execution_options(populate_existing=True)).scalar_one()
    level = bucket.level(locked.rate_tokens, locked.rate_at, now)
    if level < count:
        seconds = bucket.wait_seconds(level - count + 1)
        raise TooManyRequests("device_rate_limited", DEVICE_OVER_LIMIT, retry_after_seconds=seconds, seconds=seconds)
    locked.rate_tokens = level - count
    locked.rate_at = now
    session.flush()


def address_wait(session: Session, *, address: str, now: dt.datetime, bucket: Bucket) -> int | None:
    """Seconds the address must wait before its next message is read, or None when it may send."""
    row = session.get(AddressLimit, address)
    if row is None:
        return None
    level = bucket.level(row.tokens, row.updated_at, now)
    return None if level >= 1 else bucket.wait_seconds(level)


def refuse_waiting_address(session: Session, *, address: str, now: dt.datetime, bucket: Bucket) -> None:
    """429 with Retry-After when the address has spent its failures."""
    seconds = address_wait(session, address=address, now=now, bucket=bucket)
    if seconds is not None:
        raise TooManyRequests("address_rate_limited", ADDRESS_OVER_LIMIT, retry_after_seconds=seconds, seconds=seconds)


def record_address_failure(session: Session, *, address: str, now: dt.datetime, bucket: Bucket) -> None:
    """Spend one failure token of the address (in the caller's own short transaction)."""
    row = session.get(AddressLimit, address, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():
                session.add(AddressLimit(address=address, tokens=bucket.burst, updated_at=now))
        except sa.exc.IntegrityError:  # another server counted this address first
            pass
        row = session.get(AddressLimit, address, with_for_update=True, populate_existing=True)
    row.tokens = max(0.0, bucket.level(row.tokens, row.updated_at, now) - 1)
    row.updated_at = now
    session.flush()


def forget_idle_addresses(session: Session, *, now: dt.datetime) -> int:
    """Delete address buckets untouched for a day (full again long since); how many went."""
    result = session.execute(sa.delete(AddressLimit).where(AddressLimit.updated_at < now - IDLE_ADDRESS_AFTER))
    session.flush()
    return result.rowcount or 0
