"""Sign-in, throttling, session rotation, logout, tokens, CSRF, size limits, headers and cookies."""
from __future__ import annotations

import sqlalchemy as sa

from gridsvc.auth.models import ApiToken, LoginThrottle, WebSession
from tests.auth.conftest import csrf_token_of, sign_in_form


def _session_cookie(test_client):
    cookie = test_client.get_cookie("gridsvc_session")
    return cookie.value if cookie else None


def test_sign_in_with_the_demo_password_opens_a_server_side_session(browser, password, session):
    response = sign_in_form(browser, "admin", password, next="/api/v1/auth/me")
    assert response.status_code == 302 and response.headers["Location"] == "/api/v1/auth/me"
    assert browser.get("/api/v1/auth/me").get_json()["role"] == "admin"
    assert session.scalar(sa.select(sa.func.count()).select_from(WebSession).where(WebSession.ended_at.is_(None))) >= 1


def test_next_never_leaves_the_site(browser, password):
    response = sign_in_form(browser, "admin", password, next="//evil.example/steal")
    assert response.headers["Location"] == "/"


def test_wrong_password_is_refused_and_counted(browser, password, session):
    response = sign_in_form(browser, "manager", "not the password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    row = session.get(LoginThrottle, "user:manager")
    assert row is not None and row.failures >= 1  # committed although the answer was an error


def test_five_failures_lock_the_username_for_fifteen_minutes(browser, password, session, app):
    statuses = [sign_in_form(browser, "viewer", f"wrong-{n}").status_code for n in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    # Locked: even the right password is refused now, without being checked.
    assert sign_in_form(browser, "viewer", password).status_code == 429
    lock = session.get(LoginThrottle, "user:viewer")
    assert lock.failures == 5 and lock.locked_until is not None
    minutes = (lock.locked_until - lock.first_failure_at).total_seconds() / 60
    assert app.config["LOGIN_LOCKOUT_MINUTES"] == 15 and 15 <= minutes < 16  # 15 min from the 5th failure
    # An unknown username locks the same way, so the lock reveals nothing about which accounts exist.
    unknown = [sign_in_form(browser, "nobody-here", f"x{n}").status_code for n in range(5)]
    assert unknown == [401, 401, 401, 401, 429]


def test_lockout_expires(app, session):
    import datetime as dt

    from gridsvc.auth import service

    start = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    for n in range(5):
        service.record_failure(session, username="somebody", ip="10.9.9.9", now=start + dt.timedelta(seconds=n))
    assert service.is_locked(session, username="somebody", ip=None, now=start + dt.timedelta(minutes=14))
    assert not service.is_locked(session, username="somebody", ip=None, now=start + dt.timedelta(minutes=16))


def test_one_address_is_throttled_across_usernames(browser, app):
    previous = app.config["LOGIN_MAX_FAILURES_PER_IP"]
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 3
    try:
        statuses = [sign_in_form(browser, f"user{n}", "wrong").status_code for n in range(4)]
    finally:
        app.config["LOGIN_MAX_FAILURES_PER_IP"] = previous
    assert statuses == [401, 401, 429, 429]


def test_sign_in_rotates_the_session(browser, password):
    browser.get("/login")
    before = _session_cookie(browser)
    sign_in_form(browser, "manager", password)
    first = _session_cookie(browser)
    assert first and first != before
    me = browser.get("/api/v1/auth/me").get_json()
    sign_in_form(browser, "manager", password)  # signing in again: yet another session id
    second = _session_cookie(browser)
    assert second != first and me["username"] == "manager"
    # The session replaced by the second sign-in no longer works.
    replay = browser.application.test_client()
    replay.set_cookie("gridsvc_session", first)
    assert replay.get("/api/v1/auth/me").status_code == 401


def test_a_pre_login_cookie_does_not_become_authenticated(browser, password):
    """Session fixation: a cookie planted before sign-in stays anonymous after the victim signs in."""
    browser.get("/login")
    planted = _session_cookie(browser)
    sign_in_form(browser, "manager", password)
    attacker = browser.application.test_client()
    attacker.set_cookie("gridsvc_session", planted)
    assert attacker.get("/api/v1/auth/me").status_code == 401


def test_logout_ends_the_session_on_the_server(browser, password, session):
    sign_in_form(browser, "station1", password)
    cookie = _session_cookie(browser)
    token = csrf_token_of(browser.get("/").get_data(as_text=True))
    response = browser.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert browser.get("/api/v1/auth/me").status_code == 401
    # Replaying the old cookie (say, copied from the browser) does not bring the session back.
    replay = browser.application.test_client()
    replay.set_cookie("gridsvc_session", cookie)
    assert replay.get("/api/v1/auth/me").status_code == 401
    assert replay.get("/").status_code == 302
    ended = session.scalars(sa.select(WebSession).where(WebSession.ended_reason == "logout")).all()
    assert ended


def test_csrf_is_required_on_forms(browser, password):
    assert browser.post("/login", data={"username": "admin", "password": password}).status_code == 400
    sign_in_form(browser, "admin", password)
    assert browser.post("/logout").status_code == 400  # no token: refused, still signed in
    assert browser.get("/api/v1/auth/me").status_code == 200
    assert browser.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert browser.get("/api/v1/auth/me").status_code == 200


def test_session_authenticated_json_calls_need_the_csrf_header(browser, password):
    sign_in_form(browser, "admin", password)
    body = {"username": "csrf-check", "password": "a long enough password", "role": "manager"}
    assert browser.post("/api/v1/users", json=body).status_code == 400
    token = csrf_token_of(browser.get("/").get_data(as_text=True))
    response = browser.post("/api/v1/users", json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.get_json()


def test_bearer_token_calls_need_no_csrf_token(browser, token_for):
    headers = {"Authorization": f"Bearer {token_for('admin')}"}
    body = {"username": "token-made", "password": "a long enough password", "role": "manager"}
    assert browser.post("/api/v1/users", json=body, headers=headers).status_code == 201


def test_phone_token_lifecycle(browser, password, session):
    issued = browser.post("/api/v1/auth/tokens", json={"username": "worker1", "password": password, "name": "phone"})
    assert issued.status_code == 201
    secret = issued.get_json()["token"]
    headers = {"Authorization": f"Bearer {secret}"}
    assert browser.get("/api/v1/auth/me", headers=headers).get_json()["username"] == "worker1"
    stored = session.get(ApiToken, issued.get_json()["id"])
    assert stored.token_hash != secret and secret not in stored.token_hash  # only a digest is stored
    assert browser.delete("/api/v1/auth/tokens/current", headers=headers).status_code == 200
    assert browser.get("/api/v1/auth/me", headers=headers).status_code == 401
    wrong = browser.post("/api/v1/auth/tokens", json={"username": "worker1", "password": "wrong"})
    assert wrong.status_code == 401 and "token" not in wrong.get_json()


def test_another_users_token_id_answers_404(token_for, browser):
    own = browser.get("/api/v1/auth/tokens", headers={"Authorization": f"Bearer {token_for('station2')}"}).get_json()
    other_token_id = own["tokens"][0]["id"]
    headers = {"Authorization": f"Bearer {token_for('station1')}"}
    assert browser.delete(f"/api/v1/auth/tokens/{other_token_id}", headers=headers).status_code == 404


def test_password_reset_ends_sessions_and_tokens(app, browser, password, token_for):
    from gridsvc.auth import service
    from gridsvc.db import session_scope

    sign_in_form(browser, "station2", password)
    secret = token_for("station2")
    with session_scope(app.extensions["gridsvc"].sessions) as db_session:
        service.set_password(db_session, username="station2", password="a brand new password")
    assert browser.get("/api/v1/auth/me").status_code == 401
    assert browser.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_request_size_is_limited(app, client):
    assert app.config["MAX_CONTENT_LENGTH"] == 32 * 1024 * 1024
    previous = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = client.post("/api/v1/grids", data=b"{" + b" " * 4096 + b"}", content_type="application/json")
    finally:
        app.config["MAX_CONTENT_LENGTH"] = previous
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"


def test_security_headers_and_cookie_flags(browser, password, app):
    page = browser.get("/login")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self';" in csp and "frame-ancestors 'self'" in csp
    assert "'unsafe-inline'" not in csp  # only map pages may run inline scripts
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert page.headers["Referrer-Policy"] == "same-origin"
    set_cookie = sign_in_form(browser, "admin", password).headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Secure" not in set_cookie
    assert browser.get("/api/v1/auth/me").headers["Cache-Control"] == "no-store"


def test_secure_cookies_when_configured(browser, password, app):
    previous = app.config["SESSION_COOKIE_SECURE"]
    app.config["SESSION_COOKIE_SECURE"] = True
    try:
        set_cookie = sign_in_form(browser, "admin", password).headers["Set-Cookie"]
    finally:
        app.config["SESSION_COOKIE_SECURE"] = previous
    assert "Secure" in set_cookie


def test_tile_host_is_allowed_in_the_csp(app):
    from maps.basemaps import tile_hosts

    assert tile_hosts({"kind": "none"}) == []
    assert tile_hosts({"kind": "tianditu", "key": "k"}) == ["https://*.tianditu.gov.cn"]
    assert tile_hosts({"kind": "xyz", "url": "http://tiles.intranet:8080/{z}/{x}/{y}.png",
                       "attribution": "x"}) == ["http://tiles.intranet:8080"]


def test_error_pages_leak_nothing(client):
    page = client.get("/no/such/page")
    assert page.status_code == 404
    text = page.get_data(as_text=True)
    assert "Traceback" not in text and "werkzeug" not in text.lower()
    api = client.get("/api/v1/grids/999999999/coverage?lang=en")
    assert api.status_code == 404 and set(api.get_json()["error"]) == {"code", "message", "params"}


def test_english_is_selectable(browser):
    assert "登录" in browser.get("/login").get_data(as_text=True)  # Chinese by default
    assert "Sign in" in browser.get("/login?lang=en").get_data(as_text=True)
