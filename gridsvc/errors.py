"""Domain errors raised by services; the web layer translates their English message ids."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def _shown(value, tz):
    """A parameter as a message shows it: an aware time as ISO-8601 in the zone, to the second."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(tz).replace(microsecond=0).isoformat()
    return value


class DomainError(Exception):
    """A refused operation: a stable code, an English msgid with %(name)s params, an HTTP status."""

    http_status = 422

    def __init__(self, code: str, message: str, /, **params):
        shown = {name: _shown(value, dt.timezone.utc) for name, value in params.items()}
        super().__init__(message % shown if params else message)
        self.code = code
        self.message = message
        self.params = params

    def to_dict(self, translate=None, *, tz: str | None = None) -> dict:
        """JSON-ready form; translate is gettext (or None for English); times in `tz` (UTC when None).

        Services raise with aware datetimes and no zone of their own: the caller that shows the
        message knows the display zone (DISPLAY_TIMEZONE).
        """
        zone = ZoneInfo(tz) if tz else dt.timezone.utc
        params = {name: _shown(value, zone) for name, value in self.params.items()}
        text = translate(self.message) if translate else self.message
        return {"code": self.code, "message": text % params if params else text, "params": params}


class ValidationError(DomainError):
    """The input breaks a rule; nothing was written."""

    http_status = 422


class ConflictError(DomainError):
    """The input conflicts with stored data (duplicate, overlap, idempotency mismatch)."""

    http_status = 409


class NotFoundError(DomainError):
    """A referenced object does not exist (or is not visible to the caller)."""

    http_status = 404


class TooManyRequests(DomainError):
    """A sender over its limit: nothing was stored; try again after `retry_after_seconds`."""

    http_status = 429

    def __init__(self, code: str, message: str, /, *, retry_after_seconds: int, **params):
        super().__init__(code, message, retry_after_seconds=retry_after_seconds, **params)
        self.retry_after_seconds = retry_after_seconds
