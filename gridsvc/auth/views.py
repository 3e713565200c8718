"""Sign-in pages, the token API and account administration."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user

from gridsvc.auth import onboarding, schemas, service
from gridsvc.access import public, public_credentials_exchange, require_roles, signed_in
from gridsvc.access import ROLES
from gridsvc.auth.web import act_as, safe_next, start_web_session
from gridsvc.errors import DomainError, ValidationError
from gridsvc.web import db, error_dict, json_object

blueprint = Blueprint("auth", __name__)

ROLE_LABELS = {
    "volunteer": _l("Volunteer"), "grid_worker": _l("Grid worker"), "station_manager": _l("Station manager"),
    "centre_viewer": _l("Centre viewer"), "manager": _l("Manager"), "admin": _l("Administrator"),
}
# Werkzeug's error names, shown (translated) on error pages; listed here so they are extracted.
HTTP_ERROR_NAMES = [_l("Bad Request"), _l("Unauthorized"), _l("Forbidden"), _l("Not Found"),
                    _l("Method Not Allowed"), _l("Request Entity Too Large"), _l("Too Many Requests")]


def _throttle_settings() -> dict:
    config = current_app.config
    return {"max_failures": config["LOGIN_MAX_FAILURES"], "max_failures_per_ip": config["LOGIN_MAX_FAILURES_PER_IP"],
            "lockout": dt.timedelta(minutes=config["LOGIN_LOCKOUT_MINUTES"])}


def _check_credentials(username: str, password: str):
    """The account, or (message, status) after the failure was committed (it must outlive the error answer)."""
    try:
        return service.authenticate(db(), username=username, password=password, ip=request.remote_addr,
                                    **_throttle_settings()), None
    except service.LoginRefused as refused:
        db().commit()  # the request's error status would roll the failure count back
        if refused.locked:
            return None, (gettext("Too many failed sign-ins: try again in %(minutes)s minutes.",
                                  minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"]), 429)
        return None, (gettext("Wrong username or password."), 401)


@blueprint.route("/login", methods=["GET", "POST"])
@public
def login():
    """The sign-in form; on success a brand-new session (new id, new CSRF token) and a redirect."""
    target = safe_next(request.values.get("next"))
    if request.method != "POST":
        return render_template("auth/login.html", next=target)
    username = request.form.get("username", "")
    user, refusal = _check_credentials(username, request.form.get("password", ""))
    if refusal:
        message, status = refusal
        return render_template("auth/login.html", next=target, error=message, username=username), status
    act_as(user)
    if current_user.is_authenticated:  # signing in over an open session ends the old one first
        service.end_session(db(), sid=current_user.session_id, reason="replaced")
    principal = service.start_session(db(), user=user, ip=request.remote_addr,
                                      user_agent=request.headers.get("User-Agent"),
                                      lifetime=dt.timedelta(hours=current_app.config["SESSION_HOURS"]))
    start_web_session(principal)
    return redirect(target)


@blueprint.post("/logout")
@signed_in
def logout():
    """End the web session on the server and in the browser."""
    if g.get("auth_method") == "session":
        service.end_session(db(), sid=current_user.session_id)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@blueprint.get("/api/v1/auth/me")
@signed_in
def me():
    """Who is calling: username, role, station (code) and linked patroller."""
    from gridsvc.grids.models import Grid

    user = current_user
    station = db().get(Grid, user.station_id) if user.station_id else None
    return jsonify(schemas.me_json(user, station_code=station.code if station else None, auth=g.get("auth_method")))


@blueprint.post("/api/v1/auth/tokens")
@public_credentials_exchange
def create_token():
    """Exchange {username, password[, name]} for a bearer token (201, shown once); 401 wrong, 429 locked."""
    credentials = schemas.parse_credentials(json_object())
    user, refusal = _check_credentials(credentials.username, credentials.password)
    if refusal:
        message, status = refusal
        return jsonify({"error": {"code": "login_refused" if status == 401 else "login_locked", "message": message}}), status
    act_as(user)
    token, secret = service.issue_token(db(), user=user, name=credentials.name)
    return jsonify(schemas.issued_token_json(token, secret)), 201


@blueprint.get("/api/v1/auth/tokens")
@signed_in
def list_tokens():
    """The caller's own tokens (never their secrets)."""
    return jsonify(schemas.token_list_json(service.list_tokens(db(), user_id=current_user.id)))


@blueprint.delete("/api/v1/auth/tokens/current")
@signed_in
def revoke_current_token():
    """Revoke the bearer token this request was made with (the phone's sign-out)."""
    if not current_user.token_id:
        return jsonify({"error": {"code": "no_token", "message": gettext("This request carries no token.")}}), 422
    return jsonify(schemas.token_json(service.revoke_token(db(), token_id=current_user.token_id)))


@blueprint.delete("/api/v1/auth/tokens/<int:token_id>")
@signed_in
def revoke_token(token_id: int):
    """Revoke one of the caller's tokens (an admin may revoke anyone's); another's id answers 404."""
    owner = None if current_user.role == "admin" else current_user.id
    return jsonify(schemas.token_json(service.revoke_token(db(), token_id=token_id, owner_id=owner)))


# --- account administration (admin) --------------------------------------------------------------

def _station_codes() -> dict[int, str]:
    import sqlalchemy as sa

    from gridsvc.grids.models import Grid

    return dict(db().execute(sa.select(Grid.id, Grid.code).where(Grid.level == "station")).all())


@blueprint.get("/api/v1/users")
@require_roles("admin")
def list_users_api():
    """Every account."""
    return jsonify(schemas.user_list_json(service.list_users(db()), _station_codes()))


@blueprint.post("/api/v1/users")
@require_roles("admin")
def create_user_api():
    """Create an account from {username, password, role, station_code?, patroller_id?, display_name?}."""
    new = schemas.parse_new_user(json_object())
    user = service.create_user(
        db(), username=new.username, password=new.password, role=new.role, station_code=new.station_code,
        patroller_id=new.patroller_id, display_name=new.display_name,
    )
    return jsonify(schemas.user_json(user, _station_codes())), 201


def _stations():
    """Every station, by code: (code, name) for the account form's list."""
    import sqlalchemy as sa

    from gridsvc.grids.models import Grid

    return db().execute(sa.select(Grid.code, Grid.name).where(Grid.level == "station").order_by(Grid.code)).all()


def _render_users(error: str | None = None, status: int = 200):
    stations = _stations()
    return render_template("auth/users.html", users=service.list_users(db()), station_codes=_station_codes(),
                           station_names={code: name for code, name in stations}, stations=stations,
                           patroller_choices=onboarding.patroller_choices(db()), roles=ROLES,
                           role_labels=ROLE_LABELS, error=error), status


def _create_from_form() -> None:
    """The account form: the person is found by account number or name, the station picked from the list."""
    form = request.form
    patroller = onboarding.find_patroller(db(), form.get("patroller", "")) if form.get("patroller", "").strip() else None
    station_code = form.get("station_code") or None
    role = form.get("role", "")
    if station_code is None and patroller is not None and role in ("volunteer", "grid_worker"):
        station_code = patroller.station.code  # the person's own station
    service.create_user(db(), username=form.get("username", ""), password=form.get("password", ""), role=role,
                        station_code=station_code, patroller_id=patroller.id if patroller else None,
                        display_name=form.get("display_name", "") or (patroller.name if patroller else ""))


@blueprint.route("/users", methods=["GET", "POST"])
@require_roles("admin")
def users_page():
    """Accounts: list, create, reset a password, enable or disable (admin only)."""
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "create":
                _create_from_form()
                flash(gettext("Account created."))
            elif action == "reset_password":
                service.set_password(db(), username=request.form.get("username", ""),
                                     password=request.form.get("password", ""))
                flash(gettext("Password reset; the account's sessions and tokens have ended."))
            elif action in ("disable", "enable"):
                service.set_active(db(), username=request.form.get("username", ""), active=action == "enable")
                flash(gettext("Account updated."))
        except DomainError as error:
            db().rollback()
            return _render_users(error_dict(error)["message"], error.http_status)
        return redirect(url_for("auth.users_page"))
    return _render_users()


# --- onboarding: a station's volunteer accounts (station managers for their station, admin) -----------

def _import_rows():
    """The CSV of an import: a text/csv body, or the file field of a form."""
    if request.mimetype in schemas.CSV_MEDIA_TYPES:
        return schemas.parse_import_csv(request.get_data())
    return schemas.parse_import_upload(request.files.get("file"))


@blueprint.post("/api/v1/users/import")
@require_roles("station_manager")
def import_users_api():
    """Volunteer accounts from a CSV (text/csv body or multipart file): all or nothing, per-row errors."""
    result = onboarding.import_volunteer_accounts(db(), actor=current_user, rows=_import_rows())
    body, status = schemas.import_answer(result, error_dict=error_dict, translate=gettext)
    return jsonify(body), status


def _invitation_ttl() -> dt.timedelta:
    return dt.timedelta(hours=current_app.config["INVITATION_TTL_HOURS"])


def _shown_time(moment: dt.datetime) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])).strftime("%Y-%m-%d %H:%M")


def _qr_svg(link: str):
    """The link as a QR code, inline SVG made on the server (no script, no outside service)."""
    import segno
    from markupsafe import Markup

    return Markup(segno.make(link, error="m").svg_inline(scale=4, border=2, title=""))


def _render_station(station, *, status: int = 200, error: str | None = None, result=None, invitation=None):
    volunteers = onboarding.station_volunteers(db(), actor=current_user, station_id=station.id)
    return render_template(
        "auth/station_accounts.html", station=station, volunteers=volunteers, error=error, result=result,
        row_errors=schemas.row_errors_json(result, error_dict) if result is not None else [], invitation=invitation,
        stations=onboarding.list_stations(db(), actor=current_user) if current_user.station_id is None else [],
        refused_message=schemas.refused_message(result, gettext) if result is not None and not result.ok else None,
    ), status


@blueprint.route("/station/accounts", methods=["GET", "POST"])
@require_roles("station_manager")
def station_accounts_page():
    """The station's volunteers and their accounts: import, create, invitation links, password resets."""
    station = onboarding.station_for(db(), actor=current_user,
                                     station_code=request.values.get("station") or None)
    if request.method != "POST":
        return _render_station(station)
    action = request.form.get("action")
    form = request.form
    try:
        if action in ("import", "create"):
            rows = _import_rows() if action == "import" else [
                onboarding.ImportRow(row=1, account=form.get("account", "").strip())]
            result = onboarding.import_volunteer_accounts(db(), actor=current_user, rows=rows)
            if not result.ok:
                db().rollback()
                return _render_station(station, status=422, result=result)
            if action == "create":
                flash(gettext("Account %(username)s created; give its volunteer an invitation to set a password.",
                              username=(result.created or result.unchanged)[0]["username"]))
                return redirect(url_for("auth.station_accounts_page", station=station.code))
            flash(gettext("Import done: %(created)s accounts created, %(unchanged)s unchanged.",
                          created=len(result.created), unchanged=len(result.unchanged)))
            return _render_station(station, result=result)
        if action == "invite":
            row, token = onboarding.issue_invitation(db(), actor=current_user, username=form.get("username", ""),
                                                     ttl=_invitation_ttl())
            link = url_for("auth.invitation_page", token=token, _external=True)
            flash(gettext("Invitation for %(username)s created; any earlier link of the account no longer works.",
                          username=row.user.username))
            # The page carries a live one-time link: no cache may keep it.
            return _private(current_app.make_response(_render_station(
                station, invitation={"username": row.user.username, "name": row.user.display_name,
                                     "link": link, "qr": _qr_svg(link), "expires": _shown_time(row.expires_at)})))
        if action == "reset_password":
            user = onboarding.reset_volunteer_password(db(), actor=current_user, username=form.get("username", ""),
                                                       password=form.get("password", ""))
            flash(gettext("Password of %(username)s reset; the volunteer's sessions and tokens have ended.",
                          username=user.username))
    except DomainError as error:
        db().rollback()
        return _render_station(station, status=error.http_status, error=error_dict(error)["message"])
    return redirect(url_for("auth.station_accounts_page", station=station.code))


def _private(response):
    """An invitation page: never cached, never named to another site."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@blueprint.get("/invite/<token>")
@public
def invitation_page(token: str):
    """A volunteer's invitation: the set-your-password form (an unknown, used or expired link: one error page)."""
    invitation = onboarding.open_invitation(db(), token=token)
    return _private(current_app.make_response(render_template(
        "auth/invitation.html", token=token, username=invitation.user.username,
        display_name=invitation.user.display_name)))


@blueprint.post("/invite")
@public
def accept_invitation():
    """Set the password of an invitation (the token comes in the form, never in this URL); nobody is signed in."""
    token = request.form.get("token", "")
    password = request.form.get("password", "")
    invitation = onboarding.open_invitation(db(), token=token)
    username, display_name = invitation.user.username, invitation.user.display_name
    if password != request.form.get("password_again", password):
        error = gettext("The two passwords differ.")
        return _private(current_app.make_response((render_template(
            "auth/invitation.html", token=token, username=username, display_name=display_name, error=error), 422)))
    act_as(invitation.user)  # the audit trail names the volunteer; no session is started for anyone
    try:
        onboarding.accept_invitation(db(), token=token, password=password)
    except ValidationError as refused:
        db().rollback()
        return _private(current_app.make_response((render_template(
            "auth/invitation.html", token=token, username=username, display_name=display_name,
            error=error_dict(refused)["message"]), 422)))
    return _private(current_app.make_response(render_template("auth/invitation_done.html", username=username)))
