"""Sign-in pages, the token API and account administration."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user

from gridsvc.auth import service
from gridsvc.access import public, public_credentials_exchange, require_roles, signed_in
from gridsvc.access import ROLES
from gridsvc.auth.web import act_as, safe_next, start_web_session
from gridsvc.web import db, json_object

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
    return jsonify({"username": user.username, "display_name": user.display_name, "role": user.role,
                    "station_code": station.code if station else None, "patroller_id": user.patroller_id,
                    "auth": g.get("auth_method")})


@blueprint.post("/api/v1/auth/tokens")
@public_credentials_exchange
def create_token():
    """Exchange {username, password[, name]} for a bearer token (201, shown once); 401 wrong, 429 locked."""
    payload = json_object()
    user, refusal = _check_credentials(str(payload.get("username") or ""), str(payload.get("password") or ""))
    if refusal:
        message, status = refusal
        return jsonify({"error": {"code": "login_refused" if status == 401 else "login_locked", "message": message}}), status
    act_as(user)
    token, secret = service.issue_token(db(), user=user, name=str(payload.get("name") or "api"))
    return jsonify({**service.token_dict(token), "token": secret, "token_type": "Bearer"}), 201


@blueprint.get("/api/v1/auth/tokens")
@signed_in
def list_tokens():
    """The caller's own tokens (never their secrets)."""
    return jsonify({"tokens": [service.token_dict(t) for t in service.list_tokens(db(), user_id=current_user.id)]})


@blueprint.delete("/api/v1/auth/tokens/current")
@signed_in
def revoke_current_token():
    """Revoke the bearer token this request was made with (the phone's sign-out)."""
    if not current_user.token_id:
        return jsonify({"error": {"code": "no_token", "message": gettext("This request carries no token.")}}), 422
    return jsonify(service.token_dict(service.revoke_token(db(), token_id=current_user.token_id)))


@blueprint.delete("/api/v1/auth/tokens/<int:token_id>")
@signed_in
def revoke_token(token_id: int):
    """Revoke one of the caller's tokens (an admin may revoke anyone's); another's id answers 404."""
    owner = None if current_user.role == "admin" else current_user.id
    return jsonify(service.token_dict(service.revoke_token(db(), token_id=token_id, owner_id=owner)))


# --- account administration (admin) --------------------------------------------------------------

def _user_dict(user, station_codes: dict[int, str]) -> dict:
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role,
            "station_code": station_codes.get(user.station_id), "patroller_id": user.patroller_id,
            "active": user.active, "created_at": user.created_at.isoformat()}


def _station_codes() -> dict[int, str]:
    import sqlalchemy as sa

    from gridsvc.grids.models import Grid

    return dict(db().execute(sa.select(Grid.id, Grid.code).where(Grid.level == "station")).all())


@blueprint.get("/api/v1/users")
@require_roles("admin")
def list_users_api():
    """Every account."""
    codes = _station_codes()
    return jsonify({"users": [_user_dict(u, codes) for u in service.list_users(db())]})


@blueprint.post("/api/v1/users")
@require_roles("admin")
def create_user_api():
    """Create an account from {username, password, role, station_code?, patroller_id?, display_name?}."""
    payload = json_object()
    user = service.create_user(
        db(), username=str(payload.get("username") or ""), password=str(payload.get("password") or ""),
        role=str(payload.get("role") or ""), station_code=payload.get("station_code") or None,
        patroller_id=payload.get("patroller_id"), display_name=str(payload.get("display_name") or ""),
    )
    return jsonify(_user_dict(user, _station_codes())), 201


@blueprint.route("/users", methods=["GET", "POST"])
@require_roles("admin")
def users_page():
    """Accounts: list, create, reset a password, enable or disable (admin only)."""
    from gridsvc.errors import DomainError

    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "create":
                patroller = request.form.get("patroller_id", "").strip()
                service.create_user(
                    db(), username=request.form.get("username", ""), password=request.form.get("password", ""),
                    role=request.form.get("role", ""), station_code=request.form.get("station_code") or None,
                    patroller_id=int(patroller) if patroller.isdigit() else None,
                    display_name=request.form.get("display_name", ""),
                )
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
            codes = _station_codes()
            return render_template("auth/users.html", users=service.list_users(db()), station_codes=codes,
                                   roles=ROLES, role_labels=ROLE_LABELS,
                                   error=error.to_dict(gettext)["message"]), error.http_status
        return redirect(url_for("auth.users_page"))
    return render_template("auth/users.html", users=service.list_users(db()), station_codes=_station_codes(),
                           roles=ROLES, role_labels=ROLE_LABELS)
