"""Behind a proxy: X-Forwarded-* only from GRIDSVC_TRUSTED_PROXIES; and GET /healthz."""
from __future__ import annotations

import pytest

from gridsvc.auth.models import LoginThrottle
from gridsvc.proxies import TrustedProxies
from tests.auth.conftest import sign_in_form


@pytest.fixture
def trusting(app):
    """The app trusting the proxy at 10.0.0.1 and the network 10.8.0.0/16 (restored afterwards)."""
    previous = app.config["TRUSTED_PROXIES"]
    app.config["TRUSTED_PROXIES"] = "10.0.0.1, 10.8.0.0/16"
    yield app
    app.config["TRUSTED_PROXIES"] = previous


def _failed_sign_in(app, remote: str, forwarded: str | None):
    browser = app.test_client()
    browser.environ_base.update({"REMOTE_ADDR": remote})
    if forwarded is not None:
        browser.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded
    return sign_in_form(browser, "manager", "not the password")


def test_throttle_counts_the_forwarded_address_from_a_trusted_proxy(trusting, session):
    assert _failed_sign_in(trusting, "10.0.0.1", "203.0.113.7").status_code == 401
    assert session.get(LoginThrottle, "ip:203.0.113.7").failures == 1
    assert session.get(LoginThrottle, "ip:10.0.0.1") is None


def test_a_chain_of_trusted_proxies_is_skipped_from_the_right(trusting, session):
    # The client forged the left-most entry; the trusted proxies appended the real address and each other.
    assert _failed_sign_in(trusting, "10.0.0.1", "198.51.100.1, 203.0.113.9, 10.8.3.4").status_code == 401
    assert session.get(LoginThrottle, "ip:203.0.113.9").failures == 1
    assert session.get(LoginThrottle, "ip:198.51.100.1") is None


def test_forwarded_headers_from_anyone_else_are_ignored(trusting, session):
    assert _failed_sign_in(trusting, "192.0.2.50", "203.0.113.8").status_code == 401
    assert session.get(LoginThrottle, "ip:192.0.2.50").failures == 1
    assert session.get(LoginThrottle, "ip:203.0.113.8") is None


def test_without_trusted_proxies_the_header_is_never_believed(app, session):
    assert app.config["TRUSTED_PROXIES"] == ""
    assert _failed_sign_in(app, "10.0.0.1", "203.0.113.10").status_code == 401
    assert session.get(LoginThrottle, "ip:10.0.0.1").failures == 1
    assert session.get(LoginThrottle, "ip:203.0.113.10") is None


@pytest.mark.parametrize(("remote", "headers", "expected"), [
    ("10.0.0.1", {"HTTP_X_FORWARDED_FOR": "203.0.113.1", "HTTP_X_FORWARDED_PROTO": "https"}, ("203.0.113.1", "https")),
    ("10.0.0.1", {"HTTP_X_FORWARDED_FOR": "not-an-address"}, ("10.0.0.1", "http")),
    ("10.0.0.1", {"HTTP_X_FORWARDED_PROTO": "gopher"}, ("10.0.0.1", "http")),
    ("10.0.0.2", {"HTTP_X_FORWARDED_FOR": "203.0.113.1", "HTTP_X_FORWARDED_PROTO": "https"}, ("10.0.0.2", "http")),
    ("10.0.0.1", {"HTTP_X_FORWARDED_FOR": "2001:db8::5"}, ("2001:db8::5", "http")),
    # A dual-stack socket reports the IPv4 proxy as ::ffff:10.0.0.1: still the trusted proxy.
    ("::ffff:10.0.0.1", {"HTTP_X_FORWARDED_FOR": "203.0.113.2"}, ("203.0.113.2", "http")),
])
def test_middleware_sets_address_and_scheme(remote, headers, expected):
    seen = {}

    def inner(environ, _start_response):
        seen["addr"], seen["scheme"] = environ["REMOTE_ADDR"], environ["wsgi.url_scheme"]
        return []

    TrustedProxies(inner, {"TRUSTED_PROXIES": "10.0.0.1"})({"REMOTE_ADDR": remote, "wsgi.url_scheme": "http", **headers}, None)
    assert (seen["addr"], seen["scheme"]) == expected


def test_healthz_is_public_and_says_the_schema_is_at_head(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "database": "ok", "schema": "ok"}


def test_healthz_is_503_when_the_schema_is_behind(app, session):
    import sqlalchemy as sa

    session.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    session.commit()
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"ok": False, "database": "ok", "schema": "behind"}


def test_healthz_is_503_when_the_database_is_unreachable():
    from gridsvc import create_app
    from tests.reliability.live_server import free_port

    unreachable = create_app({"DATABASE_URL": f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none",
                              "SECRET_KEY": "test", "TESTING": True})
    response = unreachable.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"ok": False, "database": "unreachable", "schema": "unknown"}
