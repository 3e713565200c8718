"""Who is acting: set per request by the web layer, per command by the CLI; read by the audit listener.

A contextvars.ContextVar keeps services free of Flask: they never pass the actor around.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import getpass
from dataclasses import dataclass, replace
from typing import Iterator

import click  # Flask's CLI library: a click context means a command is running


@dataclass(frozen=True)
class Actor:
    """The author of the writes in progress: a user (id + description) or a process ("seed", "cli:root")."""

    description: str
    user_id: int | None = None
    request_id: str | None = None
    ip: str | None = None


_current: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("gridsvc_actor", default=None)


@functools.lru_cache(maxsize=1)
def os_user() -> str:
    """The operating-system account running this process."""
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers): still say something true
        return "unknown"


def current_actor() -> Actor:
    """The actor set for this context; without one, the process itself (a CLI command or a script)."""
    actor = _current.get()
    if actor is not None:
        return actor
    in_command = click.get_current_context(silent=True) is not None
    return Actor(description=f"{'cli' if in_command else 'process'}:{os_user()}")


def set_actor(actor: Actor | None) -> contextvars.Token:
    """Make `actor` the author of what follows in this context; returns a token for reset_actor."""
    return _current.set(actor)


def reset_actor(token: contextvars.Token) -> None:
    """Restore the actor that was current before set_actor returned `token`."""
    _current.reset(token)


@contextlib.contextmanager
def acting_as(description: str, *, user_id: int | None = None) -> Iterator[Actor]:
    """Run a block as a named actor; an enclosing actor is kept in the description ("seed via cli:root")."""
    outer = _current.get()
    if outer is None:
        outer = current_actor()
    actor = replace(outer, description=description if outer.description == description
                    else f"{description} via {outer.description}", user_id=user_id if user_id is not None else outer.user_id)
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def runs_as(description: str):
    """Decorator: the function's writes are attributed to `description` (e.g. the seed loader, "seed")."""
    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with acting_as(description):
                return function(*args, **kwargs)
        return wrapper
    return decorate
