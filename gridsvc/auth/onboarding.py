"""Onboarding a station's volunteers: accounts in bulk from a CSV, one-time invitations, resets; no Flask here.

Every function takes the acting user (a Principal or User: role, station_id) as `actor`: an admin
acts on any station, a station manager on their own station's volunteers only, and another
station's volunteer or account answers exactly as one that does not exist.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridsvc.access import ensure_visible, visible_station_ids
from gridsvc.auth import service
from gridsvc.auth.models import AccountInvitation, User
from gridsvc.db import utcnow
from gridsvc.errors import ConflictError, DomainError, NotFoundError, ValidationError
from gridsvc.grids.models import Grid
from gridsvc.people.models import Patroller
from gridsvc.people.service import patroller_not_found

# The password_hash of an account made by the import: not an Argon2 hash, so no password matches it
# until the volunteer sets one through an invitation (or a station manager resets it).
UNUSABLE_PASSWORD = "!unset"
MAX_IMPORT_ROWS = 5000
DEFAULT_INVITATION_TTL = dt.timedelta(hours=72)

# CSV header names (lower-cased) of each column; a file without a known header row is read as
# account, username, display name in this order.
ACCOUNT_HEADERS = {"account", "app_account_id", "app_account", "volunteer", "账号", "芗里芗亲账号", "志愿者账号"}
USERNAME_HEADERS = {"username", "用户名"}
NAME_HEADERS = {"display_name", "name", "姓名", "名称", "显示名"}


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- the CSV import ----------------------------------------------------------------------------

@dataclass
class ImportRow:
    """One data row of the file: its line number in the file (the header is row 1), account, optional names."""

    row: int
    account: str
    username: str = ""
    display_name: str = ""


@dataclass
class ImportResult:
    """What an import did: rows created, rows unchanged, and (row, error) when it refused the file."""

    created: list[dict] = field(default_factory=list)
    unchanged: list[dict] = field(default_factory=list)
    errors: list[tuple[int, DomainError]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK by default
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError("import_encoding", "The file is neither UTF-8 nor GBK text")


def parse_accounts_csv(data: bytes | str) -> list[ImportRow]:
    """The file's data rows (blank lines skipped); ValidationError for a file that isn't such a CSV."""
    text = _decode(data)
    if "\x00" in text:
        raise ValidationError("import_not_csv", "The file is not a CSV text file")
    try:
        lines = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        raise ValidationError("import_not_csv", "The file is not a CSV text file") from None
    columns = {"account": 0, "username": 1, "display_name": 2}
    start = 0
    first = next((line for line in lines if any(cell.strip() for cell in line)), None)
    if first is not None:
        names = [cell.strip().lower() for cell in first]
        if any(name in ACCOUNT_HEADERS | USERNAME_HEADERS | NAME_HEADERS for name in names):
            found = {}
            for index, name in enumerate(names):
                for key, headers in (("account", ACCOUNT_HEADERS), ("username", USERNAME_HEADERS),
                                     ("display_name", NAME_HEADERS)):
                    if name in headers and key not in found:
                        found[key] = index
            if "account" not in found:
                raise ValidationError("import_account_column",
                                      "The header row has no column of volunteer-app account numbers (account)")
            columns = {"account": found["account"], "username": found.get("username"),
                       "display_name": found.get("display_name")}
            start = lines.index(first) + 1

    def cell(line, key):
        index = columns.get(key)
        return line[index].strip() if index is not None and index < len(line) else ""

    rows = []
    for number, line in enumerate(lines[start:], start=start + 1):
        if not any(value.strip() for value in line):
            continue
        rows.append(ImportRow(row=number, account=cell(line, "account"), username=cell(line, "username"),
                              display_name=cell(line, "display_name")))
    if not rows:
        raise ValidationError("import_empty", "The file has no volunteer rows")
    if len(rows) > MAX_IMPORT_ROWS:
        raise ValidationError("import_too_many", "A file has at most %(max)s rows; this one has %(count)s",
                              max=MAX_IMPORT_ROWS, count=len(rows))
    return rows


def _username_error(username: str) -> DomainError | None:
    if not username or len(username) > 64 or not all(c.isascii() and (c.isalnum() or c in "._-") for c in username):
        return ValidationError("username_format", "A username is 1 to 64 letters, digits, dots, dashes or underscores")
    return None


def import_volunteer_accounts(session: Session, *, actor, rows: list[ImportRow]) -> ImportResult:
    """Make a volunteer account for each row, linked to the volunteer with that app account, at their station.

    All or nothing: every row is checked first, and when any is refused nothing is written and the
    result lists each refused row. A row whose volunteer has an account already that matches it
    (same username and name, when the row gives them) is unchanged, so importing a file twice
    changes nothing. New accounts have no usable password: the volunteer sets one by invitation.
    Username defaults to the account number in lower case, the name to the volunteer's.
    """
    result = ImportResult()
    visible = visible_station_ids(actor)
    accounts = {row.account for row in rows if row.account}
    patrollers = {p.app_account_id: p for p in session.scalars(
        sa.select(Patroller).where(Patroller.app_account_id.in_(accounts)))} if accounts else {}
    ids = [p.id for p in patrollers.values()]
    existing = {u.patroller_id: u for u in session.scalars(sa.select(User).where(User.patroller_id.in_(ids)))} if ids else {}
    seen_accounts: dict[str, int] = {}
    seen_usernames: dict[str, int] = {}
    planned = []
    for row in rows:
        error, outcome = _check_row(session, row, patrollers, existing, visible, seen_accounts, seen_usernames)
        if error is not None:
            result.errors.append((row.row, error))
        else:
            planned.append(outcome)
    if result.errors:
        return result
    for kind, row, patroller, username, display_name in planned:
        entry = {"row": row.row, "account": row.account, "username": username, "display_name": display_name}
        if kind == "unchanged":
            result.unchanged.append(entry)
            continue
        session.add(User(username=username, display_name=display_name, password_hash=UNUSABLE_PASSWORD,
                         role="volunteer", station_id=patroller.station_id, patroller_id=patroller.id, active=True))
        result.created.append(entry)
    session.flush()
    return result


def _check_row(session, row, patrollers, existing, visible, seen_accounts, seen_usernames):
    """(error, None) or (None, (kind, row, patroller, username, display_name))."""
    if not row.account:
        return ValidationError("import_account_required", "The volunteer-app account number is missing"), None
    if row.account in seen_accounts:
        return ValidationError("import_account_repeated", "Account %(account)s is on row %(first)s already",
                               account=row.account, first=seen_accounts[row.account]), None
    seen_accounts[row.account] = row.row
    patroller = patrollers.get(row.account)
    if patroller is None or (visible is not None and patroller.station_id not in visible):
        return patroller_not_found(row.account), None
    if patroller.role != "volunteer":
        return ValidationError("import_not_volunteer", "%(account)s is not a volunteer", account=row.account), None
    account = existing.get(patroller.id)
    username = service._normal_username(row.username) if row.username else (
        account.username if account is not None else service._normal_username(row.account))
    display_name = row.display_name or (account.display_name if account is not None else patroller.name)
    error = _username_error(username)
    if error is not None:
        return error, None
    if len(display_name) > 200:
        return ValidationError("import_name_too_long", "A name has at most 200 characters"), None
    if username in seen_usernames:
        return ValidationError("import_username_repeated", "Username %(username)s is on row %(first)s already",
                               username=username, first=seen_usernames[username]), None
    seen_usernames[username] = row.row
    if account is not None:
        if account.username != username or account.display_name != display_name or account.role != "volunteer":
            return ConflictError("import_account_differs",
                                 "%(account)s has the account %(username)s already, with other details; "
                                 "the import changes no existing account",
                                 account=row.account, username=account.username), None
        return None, ("unchanged", row, patroller, username, display_name)
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        return ConflictError("username_taken", "The username %(username)s is taken", username=username), None
    return None, ("create", row, patroller, username, display_name)


# --- the station's volunteers and their accounts -------------------------------------------------

def station_for(session: Session, *, actor, station_code: str | None = None) -> Grid:
    """The station an actor works on: a station manager's own; an admin's choice (code), else the first."""
    query = sa.select(Grid).where(Grid.level == "station")
    if actor.station_id is not None:
        station = session.get(Grid, actor.station_id)
        if station_code and (station is None or station.code != station_code):
            raise NotFoundError("station_not_found", "No station has the code %(code)s", code=station_code)
        return station
    if station_code:
        station = session.scalar(query.where(Grid.code == station_code))
        if station is None:
            raise NotFoundError("station_not_found", "No station has the code %(code)s", code=station_code)
        return station
    station = session.scalar(query.order_by(Grid.code).limit(1))
    if station is None:
        raise NotFoundError("station_not_found", "No station has the code %(code)s", code="-")
    return station


def list_stations(session: Session, *, actor) -> list[Grid]:
    """The stations the actor may see, by code."""
    query = sa.select(Grid).where(Grid.level == "station").order_by(Grid.code)
    visible = visible_station_ids(actor)
    if visible is not None:
        query = query.where(Grid.id.in_(visible))
    return list(session.scalars(query))


def station_volunteers(session: Session, *, actor, station_id: int) -> list[dict]:
    """The station's volunteers by name, each with their account (or None) and live invitation (or None)."""
    ensure_visible(actor, station_id, missing=NotFoundError("station_not_found", "No station has the code %(code)s",
                                                            code="-"))
    people = list(session.scalars(sa.select(Patroller).where(Patroller.station_id == station_id,
                                                             Patroller.role == "volunteer")
                                  .order_by(Patroller.name, Patroller.app_account_id)))
    users = {u.patroller_id: u for u in session.scalars(
        sa.select(User).where(User.patroller_id.in_([p.id for p in people])))} if people else {}
    now = utcnow()
    invitations = {}
    if users:
        for invitation in session.scalars(sa.select(AccountInvitation).where(
                AccountInvitation.user_id.in_([u.id for u in users.values()]), AccountInvitation.used_at.is_(None),
                AccountInvitation.voided_at.is_(None), AccountInvitation.expires_at > now)):
            invitations[invitation.user_id] = invitation
    return [{"patroller": p, "user": users.get(p.id),
             "invitation": invitations.get(users[p.id].id) if p.id in users else None,
             "has_password": p.id in users and users[p.id].password_hash != UNUSABLE_PASSWORD}
            for p in people]


def volunteer_account(session: Session, *, actor, username: str) -> User:
    """A volunteer's account the actor may manage (their station's), or the same NotFoundError as a missing one."""
    missing = NotFoundError("user_not_found", "No account named %(username)s", username=username)
    user = session.scalar(sa.select(User).where(User.username == service._normal_username(username)))
    if user is None or user.role != "volunteer":
        raise missing
    ensure_visible(actor, user.station_id, missing=missing)
    return user


def reset_volunteer_password(session: Session, *, actor, username: str, password: str) -> User:
    """A station manager (or admin) sets a volunteer's new password; the volunteer's sessions and tokens end.

    An invitation link still open for the account stops working too.
    """
    user = volunteer_account(session, actor=actor, username=username)
    user = service.set_password(session, username=user.username, password=password)
    _void_open_invitations(session, user_id=user.id)
    session.flush()
    return user


def _void_open_invitations(session: Session, *, user_id: int) -> None:
    now = utcnow()
    for earlier in session.scalars(sa.select(AccountInvitation).where(
            AccountInvitation.user_id == user_id, AccountInvitation.used_at.is_(None),
            AccountInvitation.voided_at.is_(None))):
        earlier.voided_at = now


# --- invitations -------------------------------------------------------------------------------

def invitation_invalid(status: int = 404) -> DomainError:
    """One answer for an unknown, used, replaced or expired invitation link (404 unknown, 410 the rest)."""
    error = NotFoundError("invitation_invalid",
                          "This invitation link does not work: it was used already, it expired or a newer one "
                          "replaced it. Ask your station manager for a new one.")
    if status == 410:
        error.http_status = 410
    return error


def issue_invitation(session: Session, *, actor, username: str,
                     ttl: dt.timedelta = DEFAULT_INVITATION_TTL) -> tuple[AccountInvitation, str]:
    """A new one-time invitation for the volunteer's account: (row, token); the token is shown once, never stored.

    Issuing voids the account's earlier invitations that are still open.
    """
    user = volunteer_account(session, actor=actor, username=username)
    if not user.active:
        raise ValidationError("invitation_account_disabled", "The account %(username)s is disabled",
                              username=user.username)
    _void_open_invitations(session, user_id=user.id)
    now = utcnow()
    token = secrets.token_urlsafe(32)  # 256 random bits
    invitation = AccountInvitation(user_id=user.id, token_hash=_digest(token), created_at=now, expires_at=now + ttl,
                                   created_by_id=getattr(actor, "id", None))
    session.add(invitation)
    session.flush()
    return invitation, token


def open_invitation(session: Session, *, token: str | None, lock: bool = False) -> AccountInvitation:
    """The invitation of this token while it is usable, else invitation_invalid (404 unknown, 410 used/expired)."""
    if not token or len(token) > 200 or "\x00" in token:
        raise invitation_invalid()
    query = sa.select(AccountInvitation).where(AccountInvitation.token_hash == _digest(token))
    if lock:
        query = query.with_for_update()
    invitation = session.scalar(query)
    if invitation is None:
        raise invitation_invalid()
    if (invitation.used_at is not None or invitation.voided_at is not None or invitation.expires_at <= utcnow()
            or not invitation.user.active):
        raise invitation_invalid(410)
    return invitation


def accept_invitation(session: Session, *, token: str, password: str) -> User:
    """Set the invited account's password (the password rules apply) and use the invitation up.

    Nobody is signed in by it; the account's other sessions and tokens end as with any new password.
    """
    invitation = open_invitation(session, token=token, lock=True)
    user = service.set_password(session, username=invitation.user.username, password=password)
    invitation.used_at = utcnow()
    session.flush()
    return user


# --- linking a user to a volunteer by name or account (the admin's account form) -----------------

SEPARATOR = " · "


def patroller_choice(patroller: Patroller, station_name: str) -> str:
    """How the account form's list offers a person: name · account number · station name."""
    return SEPARATOR.join(part for part in (patroller.name, patroller.app_account_id, station_name) if part)


def find_patroller(session: Session, text: str) -> Patroller:
    """The volunteer or grid worker named by an account number, a name, or a choice of the form's list.

    A name that several people share is refused with a hint to pick from the list.
    """
    text = (text or "").strip()
    if not text:
        raise ValidationError("user_patroller_required", "A volunteer account is linked to the volunteer it is")
    if "\x00" in text or len(text) > 400:
        raise patroller_not_found(text[:64])
    parts = [part.strip() for part in text.split("·")]
    for part in parts:
        found = session.scalar(sa.select(Patroller).where(Patroller.app_account_id == part)) if part else None
        if found is not None:
            return found
    query = sa.select(Patroller).where(Patroller.name == parts[0])
    if len(parts) > 1:
        query = query.join(Grid, Patroller.station_id == Grid.id).where(Grid.name == parts[-1])
    matches = list(session.scalars(query.limit(2)))
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ValidationError("patroller_ambiguous", "Several people are called %(name)s: pick one from the list",
                              name=parts[0])
    raise patroller_not_found(parts[0])


def patroller_choices(session: Session) -> list[str]:
    """Every volunteer and grid worker as the account form's list offers them, by station and name."""
    rows = session.execute(sa.select(Patroller, Grid.name).join(Grid, Patroller.station_id == Grid.id)
                           .order_by(Grid.code, Patroller.name)).all()
    return [patroller_choice(patroller, station_name) for patroller, station_name in rows]
