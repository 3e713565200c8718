"""Domain errors raised by services; the web layer translates their English message ids."""
from __future__ import annotations


class DomainError(Exception):
    """A refused operation: a stable code, an English msgid with %(name)s params, an HTTP status."""

    http_status = 422

    def __init__(self, code: str, message: str, /, **params):
        super().__init__(message % params if params else message)
        self.code = code
        self.message = message
        self.params = params

    def to_dict(self, translate=None) -> dict:
        """JSON-ready form; translate is gettext (or None for English)."""
        text = translate(self.message) if translate else self.message
        return {"code": self.code, "message": text % self.params if self.params else text, "params": self.params}


class ValidationError(DomainError):
    """The input breaks a rule; nothing was written."""

    http_status = 422


class ConflictError(DomainError):
    """The input conflicts with stored data (duplicate, overlap, idempotency mismatch)."""

    http_status = 409


class NotFoundError(DomainError):
    """A referenced object does not exist (or is not visible to the caller)."""

    http_status = 404
