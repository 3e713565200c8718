"""Who may call what: per-view role policies (default deny) and per-station visibility of data.

Every view declares its policy with one of these decorators (order relative to the route
decorator does not matter; they mark the function, they do not wrap it):

    @blueprint.get("/api/v1/things")
    @require_roles("manager", "centre_viewer", "station_manager")
    def list_things(): ...

- ``@public``: no sign-in (the login page, static files).
- ``@require_roles(*roles)``: signed-in callers whose role is listed; admin is always allowed.
- ``@signed_in``: any signed-in caller (each role still sees only its stations' data).

A view without a policy answers 403 to everyone but admin. Station scoping is data, not routing:
services and views filter with ``visible_station_ids(user)`` and check single objects with
``ensure_visible(user, station_id)``, which raises NotFoundError (404) for another station's object
so ids from elsewhere are indistinguishable from ids that do not exist.
"""
from __future__ import annotations

from dataclasses import dataclass

from gridsvc.errors import NotFoundError

# The roles an account may have (gridsvc.auth stores them; every domain's views and services check them).
ROLES = ("volunteer", "grid_worker", "station_manager", "centre_viewer", "manager", "admin")
STATION_ROLES = ("volunteer", "grid_worker", "station_manager")  # belong to one station
ZONE_ROLES = ("centre_viewer", "manager", "admin")               # see every station

ALL_ROLES = frozenset(ROLES)
# Roles that see every station; the others see only their own.
ZONE_WIDE = frozenset(ZONE_ROLES)


@dataclass(frozen=True)
class Policy:
    """A view's access rule: public, or the roles allowed; `csrf=False` only for credential-exchange endpoints.

    `cookie=False`: the caller is never looked up (no session cookie, no bearer token): the request
    itself carries its credential (a tracker device's key).
    """

    public: bool = False
    roles: frozenset = frozenset({"admin"})
    csrf: bool = True
    cookie: bool = True


def _mark(view, policy: Policy):
    view.access_policy = policy
    return view


def public(view):
    """No sign-in needed."""
    return _mark(view, Policy(public=True, roles=ALL_ROLES))


def public_credentials_exchange(view):
    """No sign-in and no CSRF token: the body itself carries the credentials (POST username+password → token).

    A browser can't send a cross-site JSON body without a CORS pre-flight, and the answer is
    readable only by the caller, so a forged request gains the forger nothing.
    """
    return _mark(view, Policy(public=True, roles=ALL_ROLES, csrf=False))


def device_intake(view):
    """A tracker app's endpoint: authenticated by the device key in the message, never by a cookie.

    No sign-in, no CSRF token (tracker apps have neither), and the session cookie is not read:
    a forged cross-site request would need the device's key, which the forger does not have.
    """
    return _mark(view, Policy(public=True, roles=ALL_ROLES, csrf=False, cookie=False))


def require_roles(*roles: str):
    """Signed-in callers with one of these roles (admin always) may call the view."""
    unknown = set(roles) - ALL_ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def decorate(view):
        return _mark(view, Policy(roles=frozenset(roles) | {"admin"}))
    return decorate


def signed_in(view):
    """Any signed-in caller."""
    return _mark(view, Policy(roles=ALL_ROLES))


def policy_of(view) -> Policy | None:
    """The policy a view declared, or None (then only admin may call it)."""
    return getattr(view, "access_policy", None)


def allows(policy: Policy | None, role: str | None) -> bool:
    """True when the role may call a view with this policy (None policy: admin only)."""
    if policy is None:
        return role == "admin"
    return policy.public or role in policy.roles


# --- station scoping (Flask-free: services may use these) ----------------------------------------

def visible_station_ids(user) -> set[int] | None:
    """The station ids whose data the user may see: None means every station."""
    if user.role in ZONE_WIDE:
        return None
    if user.role in STATION_ROLES and user.station_id is not None:
        return {user.station_id}
    return set()


def can_see_station(user, station_id: int | None) -> bool:
    """True when the user may see data of this station."""
    visible = visible_station_ids(user)
    return visible is None or station_id in visible


def ensure_visible(user, station_id: int | None, *, missing: NotFoundError | None = None) -> None:
    """Raise `missing` -- the very error a lookup of an absent object raises -- unless the user may see the station.

    So "not yours" and "not there" are one answer: the code and message never tell them apart.
    """
    if not can_see_station(user, station_id):
        raise missing if missing is not None else NotFoundError("not_found", "Not found")


def own_patroller_id(user) -> int | None:
    """For a volunteer, the patroller whose records alone they may see; None for other roles."""
    if user.role == "volunteer":
        return user.patroller_id if user.patroller_id is not None else -1
    return None


def ensure_own_record(user, *, station_id: int | None, patroller_id: int | None,
                      missing: NotFoundError | None = None) -> None:
    """Raise `missing` (as ensure_visible) unless the record is in the user's stations and, for a volunteer, their own."""
    ensure_visible(user, station_id, missing=missing)
    own = own_patroller_id(user)
    if own is not None and patroller_id != own:
        raise missing if missing is not None else NotFoundError("not_found", "Not found")
