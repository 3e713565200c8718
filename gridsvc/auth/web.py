"""The web side of access control: sign-in state, default-deny authorization, CSRF, security headers.

Installed once by the auth blueprint (`blueprint.record_once(install)`), before any domain's
views run. Per request, in order:

1. a request id, and the audit actor "anonymous" with the caller's address;
2. who is calling: `Authorization: Bearer <token>` on /api/ paths, else the session cookie
   (Flask-Login; the cookie holds a random web-session id checked against web_sessions, so a
   logout or a password reset ends it on the server);
3. not signed in and the view isn't @public: pages redirect to /login, the API answers 401 JSON;
4. CSRF: every POST/PUT/PATCH/DELETE must carry the form field csrf_token or an X-CSRFToken
   header, unless it is authenticated by a bearer token (browsers never send those by themselves)
   or the view exchanges credentials in its JSON body (POST /api/v1/auth/tokens), or it is a
   tracker device's intake (access.device_intake: its key is in the message; no cookie is read
   for it at all). So a JSON call
   from a page, authenticated by the session cookie, needs the X-CSRFToken header too;
5. the view's policy (gridsvc.access): a role not allowed, or a view with no policy and a
   caller who isn't admin, gets 403.
"""
from __future__ import annotations

import secrets

from flask import Flask, current_app, g, jsonify, redirect, request, session, url_for
from flask_babel import gettext
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import Forbidden

from gridsvc.audit.context import Actor, set_actor
from gridsvc.auth import service
from gridsvc.access import Policy, allows, policy_of
from gridsvc.web import lookup_session, receive_body, wants_json, write_if_free

PUBLIC = Policy(public=True)
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Views that render folium maps: folium writes inline <script>/<style> blocks (see csp_header).
INLINE_SCRIPT_ATTRIBUTE = "allows_inline_scripts"

csrf = CSRFProtect()
login_manager = LoginManager()


def allows_inline_scripts(view):
    """Mark a view whose HTML (a folium map) needs inline scripts and styles under the CSP."""
    setattr(view, INLINE_SCRIPT_ATTRIBUTE, True)
    return view


def install(app: Flask, *, image_sources=()) -> None:
    """Configure cookies, Flask-Login and CSRF, and add the request hooks.

    image_sources: the hosts pages may load images from besides their own (the base map's tiles,
    which the map package works out from BASE_MAP), for the Content-Security-Policy.
    """
    app.extensions["csp_image_sources"] = tuple(image_sources)
    secure = bool(app.config.get("SECURE_COOKIES"))
    app.config.update(
        SESSION_COOKIE_NAME="gridsvc_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_SECURE=secure,
        SESSION_PROTECTION="strong",
        # CSRF is checked by our own hook (rule 4 above), not by Flask-WTF's blanket one.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the (server-side limited) session
    )
    app.config.setdefault("WTF_CSRF_ENABLED", True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.user_loader(_load_web_session)
    app.before_request(_authenticate_and_authorize)
    app.after_request(_security_headers)
    app.context_processor(lambda: {"may_open": may_open})
    app.teardown_request(lambda _exc: set_actor(None))


def _load_web_session(sid: str):
    with lookup_session() as session:
        return service.load_session(session, sid=sid)


def _load_token(secret: str):
    with lookup_session() as session:
        principal = service.load_token(session, secret=secret)
    if principal is not None and service.token_use_due(principal):
        # Its own short transaction, skipped while another writer holds SQLite's lock: a read
        # never waits for bookkeeping (the stamp is retried on the token's next use).
        write_if_free(lambda session: service.note_token_use(session, token_id=principal.token_id))
    return principal


def may_open(endpoint: str) -> bool:
    """Whether the signed-in caller's role may open this endpoint (menus show only those)."""
    if not current_user.is_authenticated:
        return False
    return allows(policy_of(current_app.view_functions.get(endpoint)), current_user.role)


def view_policy() -> Policy | None:
    """The policy of the endpoint this request goes to (static files are public)."""
    endpoint = request.endpoint
    if endpoint is None:
        return None
    if endpoint == "static" or endpoint.endswith(".static"):
        return PUBLIC
    return policy_of(current_app.view_functions.get(endpoint))


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if request.path.startswith("/api/") and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def _unauthenticated():
    if wants_json():
        response = jsonify({"error": {"code": "unauthorized", "message": gettext("Sign in first")}})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="gridsvc"'
        return response
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.login", next=target))


def _authenticate_and_authorize():
    g.request_id = secrets.token_hex(8)
    ip = request.remote_addr
    set_actor(Actor(description="anonymous", request_id=g.request_id, ip=ip))
    policy = view_policy()

    principal = None
    token = _bearer_token() if policy is None or policy.cookie else None
    if policy is not None and not policy.cookie:
        pass  # a device endpoint: the message carries its own credential; no cookie, no token is read
    elif token is not None:
        principal = _load_token(token)
        if principal is None:
            return _unauthenticated()  # a wrong token is never silently ignored
        g._login_user = principal  # Flask-Login's per-request user; nothing goes into the cookie
        g.auth_method = "token"
    elif current_user.is_authenticated:
        principal = current_user._get_current_object()
        g.auth_method = "session"
    if principal is not None:
        set_actor(Actor(description=principal.label, user_id=principal.id, request_id=g.request_id, ip=ip))

    public = policy is not None and policy.public
    if principal is None and not public:
        return _unauthenticated()
    receive_body()  # only now: an anonymous caller's body is never read
    if (request.method in UNSAFE_METHODS and current_app.config["WTF_CSRF_ENABLED"]
            and g.get("auth_method") != "token" and (policy is None or policy.csrf)):
        csrf.protect()  # 400 on a missing or wrong token
    if request.endpoint is None:
        return None  # routing failed: let the 404/405 through to a signed-in caller
    if not public and not allows(policy, principal.role):
        raise Forbidden()
    return None


def csp_header(inline_scripts: bool) -> str:
    """The Content-Security-Policy: same-origin only; map pages may run their inline scripts.

    folium renders each map as inline <script> and <style> blocks whose content changes with the
    data, so hashes can't be listed ahead, and adding per-response nonces to folium's output after
    the fact would bless any script injected into it as well. So map pages (views marked with
    allows_inline_scripts) get 'unsafe-inline' for scripts and styles; every other page keeps
    script-src 'self', where an injected inline script does not run. Images may come from the
    configured base-map tile host (install's image_sources), nothing else leaves the origin.
    """
    inline = " 'unsafe-inline'" if inline_scripts else ""
    images = " ".join(["'self'", "data:", "blob:", *current_app.extensions.get("csp_image_sources", ())])
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self'{inline}",
        f"style-src 'self'{inline}",
        f"img-src {images}",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ])


def _security_headers(response):
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    headers = response.headers
    headers.setdefault("Content-Security-Policy", csp_header(bool(getattr(view, INLINE_SCRIPT_ATTRIBUTE, False))))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "geolocation=(self), camera=(), microphone=()")
    if current_app.config.get("SECURE_COOKIES"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if g.get("auth_method") and not (request.endpoint or "").endswith("static"):
        headers["Cache-Control"] = "no-store"  # signed-in data stays out of shared and browser caches
        headers.add("Vary", "Cookie")
    return response


def act_as(user) -> None:
    """From here on this request's writes are the user's (once their password checked out)."""
    set_actor(Actor(description=f"user:{user.username}", user_id=user.id, request_id=g.get("request_id"),
                    ip=request.remote_addr))


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only, never another host.

    A path is "/" alone or "/" followed by a character that is neither "/" nor "\\"; nothing in it
    may be a control character or white space, which browsers drop or fold ("/%09/evil.example"
    decodes to a tab, and a browser follows it to //evil.example) and which cannot stand in a Location header.
    """
    if (not target or not target.startswith("/") or target[1:2] in ("/", "\\") or "\\" in target
            or any(ord(char) < 0x21 or 0x7F <= ord(char) <= 0x9F or char.isspace() for char in target)):
        return url_for("home.home")
    return target


def start_web_session(principal) -> None:
    """Rotate the cookie session: drop everything it held and keep only the new session's id."""
    from flask_login import login_user

    session.clear()
    login_user(principal)
