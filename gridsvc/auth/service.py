"""Accounts, sign-in with throttling, server-side web sessions and API tokens; no Flask here."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridsvc.access import ROLES, STATION_ROLES
from gridsvc.auth.models import ApiToken, LoginThrottle, User, WebSession
from gridsvc.auth.passwords import MIN_SCORE, guessability_score, hash_password, needs_rehash, verify_password
from gridsvc.db import utcnow
from gridsvc.errors import ConflictError, NotFoundError, ValidationError
from gridsvc.i18n import N_

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
MAX_FAILURES = 5          # per username
MAX_FAILURES_PER_IP = 20  # per address: several people may share one intranet address
LOCKOUT = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(hours=12)
# A token's last use is written at most this often: one GET must not mean one write.
LAST_USED_RESOLUTION = dt.timedelta(minutes=5)
USERNAME_MAX = 64
DISPLAY_NAME_MAX = 200
TOKEN_NAME_MAX = 100
_THROTTLE_KEY_MAX = 200  # the login_throttles.key column
_ID_MAX = 2**31 - 1  # an INTEGER id: a larger one is nobody's (and PostgreSQL would refuse to compare it)


@dataclass(frozen=True)
class Principal:
    """The signed-in caller, detached from any database session (Flask-Login's current_user)."""

    id: int
    username: str
    display_name: str
    role: str
    station_id: int | None
    patroller_id: int | None
    session_id: str | None = None  # the web session's id (cookie), or None for a token
    token_id: int | None = None
    token_last_used_at: dt.datetime | None = None

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str | None:
        """Flask-Login keeps the web session's random id, never the user id, in the cookie."""
        return self.session_id

    @property
    def label(self) -> str:
        """How the audit trail names this caller."""
        return f"token:{self.username}#{self.token_id}" if self.token_id else f"user:{self.username}"


def _principal(user: User, *, session_id: str | None = None, token: ApiToken | None = None) -> Principal:
    return Principal(id=user.id, username=user.username, display_name=user.display_name or user.username,
                     role=user.role, station_id=user.station_id, patroller_id=user.patroller_id,
                     session_id=session_id, token_id=token.id if token else None,
                     token_last_used_at=token.last_used_at if token else None)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _normal_username(username: str | None) -> str:
    # PostgreSQL refuses NUL in text, even in a query: such a name is nobody's, and is counted as such.
    return (username or "").strip().lower().replace("\x00", "\ufffd")


# --- accounts ---------------------------------------------------------------------------------

# Messages that name a role name it as people read it, never by its code (translated where shown).
STATION_REQUIRED = {
    "volunteer": N_("A volunteer belongs to a station: choose one"),
    "grid_worker": N_("A grid worker belongs to a station: choose one"),
    "station_manager": N_("A station manager belongs to a station: choose one"),
}
STATION_FORBIDDEN = {
    "centre_viewer": N_("A centre viewer sees every station and belongs to none"),
    "manager": N_("A manager sees every station and belongs to none"),
    "admin": N_("An administrator sees every station and belongs to none"),
}


def check_password_strength(password: str, *, own_words=()) -> None:
    """Refuse short passwords and guessable ones (a strength estimator, the site's and the account's words)."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError("password_too_short", "A password needs at least %(length)s characters",
                              length=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError("password_too_long", "A password has at most %(length)s characters",
                              length=MAX_PASSWORD_LENGTH)
    if guessability_score(password, own_words=own_words) < MIN_SCORE:
        raise ValidationError(
            "password_too_weak",
            "This password is too easy to guess: it is common, repetitive or made of names this site uses. "
            "Choose a longer one, for example several unrelated words.")


def get_user(session: Session, *, username: str) -> User:
    """The account with this username, or NotFoundError."""
    user = session.scalar(sa.select(User).where(User.username == _normal_username(username)))
    if user is None:
        raise NotFoundError("user_not_found", "No account named %(username)s", username=username)
    return user


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    station_code: str | None = None,
    patroller_id: int | None = None,
    display_name: str = "",
) -> User:
    """Create an account; station roles need a station, volunteers the patroller they are."""
    from gridsvc.grids.models import Grid
    from gridsvc.people.models import Patroller

    username = _normal_username(username)
    if not username or len(username) > USERNAME_MAX or not all(c.isalnum() or c in "._-" for c in username):
        raise ValidationError("username_format", "A username is 1 to 64 letters, digits, dots, dashes or underscores")
    if role not in ROLES:
        raise ValidationError("user_role", "Unknown role: choose volunteer, grid worker, station manager, centre viewer, "
                              "manager or administrator", roles=", ".join(ROLES), role=str(role)[:32])
    display_name = (display_name or "").strip()
    if len(display_name) > DISPLAY_NAME_MAX:
        raise ValidationError("display_name_too_long", "A name has at most 200 characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in display_name):
        raise ValidationError("display_name_characters", "A name cannot contain control characters")
    check_password_strength(password, own_words=(username, display_name))
    station_id = None
    if role in STATION_ROLES:
        if not station_code:
            raise ValidationError("user_station_required", STATION_REQUIRED[role], role=role)
        station = None
        if "\x00" not in station_code and len(station_code) <= 32:  # else no station's code (PostgreSQL refuses NUL)
            station = session.scalar(sa.select(Grid).where(Grid.code == station_code, Grid.level == "station"))
        if station is None:
            raise NotFoundError("station_not_found", "No station has the code %(code)s", code=station_code)
        station_id = station.id
    elif station_code:
        raise ValidationError("user_station_forbidden", STATION_FORBIDDEN[role], role=role)
    if role == "volunteer" and patroller_id is None:
        raise ValidationError("user_patroller_required", "A volunteer account is linked to the volunteer it is")
    if patroller_id is not None:
        patroller = session.get(Patroller, patroller_id) if 0 < patroller_id <= _ID_MAX else None
        if patroller is None:
            raise NotFoundError("patroller_not_found", "No such volunteer or grid worker: %(ref)s", ref=patroller_id)
        if patroller.station_id != station_id:
            raise ValidationError("user_patroller_station", "The linked person belongs to another station")
        if session.scalar(sa.select(User.id).where(User.patroller_id == patroller_id)) is not None:
            raise ConflictError("patroller_has_account", "That person already has an account")
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise ConflictError("username_taken", "The username %(username)s is taken", username=username)
    user = User(username=username, display_name=display_name, password_hash=hash_password(password),
                role=role, station_id=station_id, patroller_id=patroller_id, active=True)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, *, username: str, password: str) -> User:
    """Reset a password; every web session and API token of the account ends."""
    user = get_user(session, username=username)
    check_password_strength(password, own_words=(user.username, user.display_name))
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    end_all_sessions(session, user_id=user.id, reason="password_reset")
    revoke_all_tokens(session, user_id=user.id)
    void_open_invitations(session, user_id=user.id)
    session.flush()
    return user


def void_open_invitations(session: Session, *, user_id: int) -> None:
    """An outstanding set-your-password link must not override a password set since, or revive a disabled account."""
    from gridsvc.auth.models import AccountInvitation

    now = utcnow()
    for invitation in session.scalars(sa.select(AccountInvitation).where(
            AccountInvitation.user_id == user_id, AccountInvitation.used_at.is_(None),
            AccountInvitation.voided_at.is_(None))):
        invitation.voided_at = now


def set_active(session: Session, *, username: str, active: bool) -> User:
    """Enable or disable an account; disabling ends its sessions and tokens."""
    user = get_user(session, username=username)
    user.active = active
    if not active:
        end_all_sessions(session, user_id=user.id, reason="disabled")
        revoke_all_tokens(session, user_id=user.id)
        void_open_invitations(session, user_id=user.id)
    session.flush()
    return user


def list_users(session: Session) -> list[User]:
    """Every account, by username."""
    return list(session.scalars(sa.select(User).order_by(User.username)))


# --- signing in -------------------------------------------------------------------------------

class LoginRefused(Exception):
    """Wrong credentials, a disabled account or a lockout: the caller says the same thing to all."""

    def __init__(self, locked: bool = False):
        super().__init__("login refused")
        self.locked = locked


def _throttle_rows(session: Session, keys: list[str]) -> dict[str, LoginThrottle]:
    return {row.key: row for row in session.scalars(sa.select(LoginThrottle).where(LoginThrottle.key.in_(keys)))}


def _throttle_keys(username: str, ip: str | None) -> list[str]:
    # A longer name than the column holds is counted under its first characters.
    return [f"user:{username}"[:_THROTTLE_KEY_MAX]] + ([f"ip:{ip}"[:_THROTTLE_KEY_MAX]] if ip else [])


def is_locked(session: Session, *, username: str, ip: str | None, now: dt.datetime | None = None) -> bool:
    """True while the username or the address is locked out."""
    now = now or utcnow()
    rows = _throttle_rows(session, _throttle_keys(_normal_username(username), ip))
    return any(row.locked_until and row.locked_until > now for row in rows.values())


def record_failure(session: Session, *, username: str, ip: str | None, now: dt.datetime | None = None,
                   max_failures: int = MAX_FAILURES, max_failures_per_ip: int = MAX_FAILURES_PER_IP,
                   lockout: dt.timedelta = LOCKOUT) -> bool:
    """Count a failed sign-in for the username and the address; True when this locks one of them.

    Failures older than the lockout window are forgotten; the max_failures-th within it locks the key.
    """
    now = now or utcnow()
    keys = _throttle_keys(_normal_username(username), ip)
    rows = _throttle_rows(session, keys)
    locked = False
    for key in keys:
        row = rows.get(key)
        if row is None:
            row = LoginThrottle(key=key, failures=0, first_failure_at=now)
            session.add(row)
        elif row.first_failure_at + lockout <= now and not (row.locked_until and row.locked_until > now):
            row.failures, row.first_failure_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= (max_failures_per_ip if key.startswith("ip:") else max_failures):
            row.locked_until = now + lockout
            locked = True
    session.flush()
    return locked


def clear_failures(session: Session, *, username: str) -> None:
    """A successful sign-in forgets the username's failures (the address keeps its count)."""
    row = session.get(LoginThrottle, _throttle_keys(_normal_username(username), None)[0])
    if row is not None:
        session.delete(row)
        session.flush()


def authenticate(session: Session, *, username: str, password: str, ip: str | None,
                 max_failures: int = MAX_FAILURES, max_failures_per_ip: int = MAX_FAILURES_PER_IP,
                 lockout: dt.timedelta = LOCKOUT) -> User:
    """The account for these credentials, or LoginRefused (after recording the failure).

    A locked username or address is refused without looking at the password, so guessing stops.
    """
    username = _normal_username(username)
    if is_locked(session, username=username, ip=ip):
        raise LoginRefused(locked=True)
    user = session.scalar(sa.select(User).where(User.username == username))
    if not verify_password(user.password_hash if user else None, password or "") or not user.active:
        locked = record_failure(session, username=username, ip=ip, max_failures=max_failures,
                                max_failures_per_ip=max_failures_per_ip, lockout=lockout)
        raise LoginRefused(locked=locked)
    clear_failures(session, username=username)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


# --- web sessions -----------------------------------------------------------------------------

def start_session(session: Session, *, user: User, ip: str | None, user_agent: str | None,
                  lifetime: dt.timedelta = SESSION_LIFETIME) -> Principal:
    """Open a server-side web session; the returned principal carries its new random id (for the cookie)."""
    sid = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(WebSession(sid_hash=_digest(sid), user_id=user.id, created_at=now, expires_at=now + lifetime,
                           ip=ip, user_agent=(user_agent or "")[:200]))
    session.flush()
    return _principal(user, session_id=sid)


def load_session(session: Session, *, sid: str | None) -> Principal | None:
    """The principal of a live web session (not ended, not expired, account active), or None."""
    if not sid:
        return None
    row = session.execute(
        sa.select(WebSession, User).join(User, WebSession.user_id == User.id)
        .where(WebSession.sid_hash == _digest(sid), WebSession.ended_at.is_(None), WebSession.expires_at > utcnow(),
               User.active.is_(True))
    ).first()
    return None if row is None else _principal(row.User, session_id=sid)


def still_signed_in(session: Session, *, session_id: str | None, token_id: int | None) -> bool:
    """Whether a caller's web session (by its id) or API token (by its id) is still live, its account active.

    For requests that last (the live stream): signing out, an expiry or a disabled account ends them.
    """
    if session_id:
        return load_session(session, sid=session_id) is not None
    if token_id is None:
        return False
    return session.execute(
        sa.select(ApiToken.id).join(User, ApiToken.user_id == User.id)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None), User.active.is_(True))
    ).first() is not None


def end_session(session: Session, *, sid: str | None, reason: str = "logout") -> bool:
    """End one web session on the server; its cookie stops working at once."""
    if not sid:
        return False
    web_session = session.scalar(sa.select(WebSession).where(WebSession.sid_hash == _digest(sid),
                                                             WebSession.ended_at.is_(None)))
    if web_session is None:
        return False
    web_session.ended_at, web_session.ended_reason = utcnow(), reason
    session.flush()
    return True


def end_all_sessions(session: Session, *, user_id: int, reason: str) -> int:
    """End every open web session of an account; returns how many."""
    open_sessions = list(session.scalars(sa.select(WebSession).where(WebSession.user_id == user_id,
                                                                     WebSession.ended_at.is_(None))))
    now = utcnow()
    for web_session in open_sessions:
        web_session.ended_at, web_session.ended_reason = now, reason
    session.flush()
    return len(open_sessions)


# --- API tokens -------------------------------------------------------------------------------

def issue_token(session: Session, *, user: User, name: str = "") -> tuple[ApiToken, str]:
    """A new bearer token for the account: (row, secret). The secret is shown once and never stored."""
    secret = "gs_" + secrets.token_urlsafe(32)
    label = (name or "").strip()[:TOKEN_NAME_MAX].replace("\x00", "\ufffd")  # PostgreSQL refuses NUL in text
    token = ApiToken(user_id=user.id, name=label, token_hash=_digest(secret))
    session.add(token)
    session.flush()
    return token, secret


def load_token(session: Session, *, secret: str | None) -> Principal | None:
    """The principal of a live token (not revoked, account active), or None (reads only)."""
    if not secret:
        return None
    row = session.execute(
        sa.select(ApiToken, User).join(User, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == _digest(secret), ApiToken.revoked_at.is_(None), User.active.is_(True))
    ).first()
    if row is None:
        return None
    return _principal(row.User, token=row.ApiToken)


def token_use_due(principal: Principal) -> bool:
    """Whether the token's last-use stamp is older than its resolution (and so worth writing)."""
    last = principal.token_last_used_at
    return last is None or utcnow() - last >= LAST_USED_RESOLUTION


def note_token_use(session: Session, *, token_id: int) -> None:
    """Stamp a token's last use now."""
    token = session.get(ApiToken, token_id)
    if token is not None:
        token.last_used_at = utcnow()
        session.flush()


def list_tokens(session: Session, *, user_id: int | None = None) -> list[ApiToken]:
    """Tokens of one account (or all), newest first."""
    query = sa.select(ApiToken).order_by(ApiToken.id.desc())
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return list(session.scalars(query))


def revoke_token(session: Session, *, token_id: int, owner_id: int | None = None) -> ApiToken:
    """Revoke a token (only the owner's own when owner_id is given); revoking twice is harmless."""
    token = session.get(ApiToken, token_id)
    if token is None or (owner_id is not None and token.user_id != owner_id):
        raise NotFoundError("token_not_found", "No such token: %(token)s", token=token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
    return token


def revoke_all_tokens(session: Session, *, user_id: int) -> int:
    """Revoke every live token of an account; returns how many."""
    tokens = list(session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))))
    now = utcnow()
    for token in tokens:
        token.revoked_at = now
    session.flush()
    return len(tokens)


# --- demo accounts ----------------------------------------------------------------------------

DEMO_STATION = "350600001001"
DEMO_OTHER_STATION = "350600001002"


def demo_password() -> tuple[str, bool]:
    """The demo accounts' password and whether it was chosen: GRIDSVC_DEMO_PASSWORD, else a new random one."""
    chosen = os.environ.get("GRIDSVC_DEMO_PASSWORD")
    if chosen:
        return chosen, True
    return "demo-" + secrets.token_urlsafe(12), False


def demo_accounts(session: Session) -> list[dict]:
    """The demo accounts: one per role, station roles on station 001, a second station manager on 002."""
    from gridsvc.grids.models import Grid
    from gridsvc.people.models import Patroller

    def first_patroller(role: str) -> int | None:
        return session.scalar(sa.select(Patroller.id).join(Grid, Patroller.station_id == Grid.id)
                              .where(Grid.code == DEMO_STATION, Patroller.role == role).order_by(Patroller.id).limit(1))

    return [
        {"username": "admin", "role": "admin", "display_name": "Administrator"},
        {"username": "manager", "role": "manager", "display_name": "Manager"},
        {"username": "viewer", "role": "centre_viewer", "display_name": "Centre viewer"},
        {"username": "station1", "role": "station_manager", "station_code": DEMO_STATION, "display_name": "Station 001 manager"},
        {"username": "worker1", "role": "grid_worker", "station_code": DEMO_STATION,
         "patroller_id": first_patroller("grid_worker"), "display_name": "Station 001 grid worker"},
        {"username": "volunteer1", "role": "volunteer", "station_code": DEMO_STATION,
         "patroller_id": first_patroller("volunteer"), "display_name": "Station 001 volunteer"},
        {"username": "station2", "role": "station_manager", "station_code": DEMO_OTHER_STATION,
         "display_name": "Station 002 manager"},
    ]


def seed_demo_users(session: Session, *, password: str) -> list[str]:
    """Create the demo accounts that are missing, with this password; returns the usernames created.

    Only when the demo is asked for (`flask seed --demo`): a real deployment starts with no account
    until `flask users create` makes the first admin. An existing account of the same name (the
    demo's from an earlier run, or a real one) is never touched.
    """
    from gridsvc.grids.models import Grid

    if session.scalar(sa.select(Grid.id).where(Grid.code == DEMO_STATION)) is None:
        return []  # a replaced grid file without the demo station: no demo accounts
    check_password_strength(password)
    existing = set(session.scalars(sa.select(User.username)))
    names = []
    for account in demo_accounts(session):
        if account["role"] == "volunteer" and account.get("patroller_id") is None:
            continue
        if account["username"] in existing:
            continue
        create_user(session, password=password, **account)
        names.append(account["username"])
    return names
