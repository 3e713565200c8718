"""Fixtures of the accounts tests: the demo password, a CSRF-checking anonymous client, a form scraper."""
from __future__ import annotations

import re

import pytest

from tests.conftest import DEMO_PASSWORD


@pytest.fixture
def password() -> str:
    """The seeded demo accounts' password."""
    return DEMO_PASSWORD


@pytest.fixture
def browser(app):
    """An anonymous test client with CSRF checks on (as in production)."""
    previous = app.config.get("WTF_CSRF_ENABLED", True)
    app.config["WTF_CSRF_ENABLED"] = True
    yield app.test_client()
    app.config["WTF_CSRF_ENABLED"] = previous


def csrf_token_of(page_html: str) -> str:
    """The CSRF token a page carries (meta tag or hidden field)."""
    match = re.search(r'name="csrf-token" content="([^"]+)"', page_html) or re.search(
        r'name="csrf_token" value="([^"]+)"', page_html)
    assert match, "no CSRF token in the page"
    return match[1]


def sign_in_form(test_client, username: str, password: str, **extra):
    """GET /login for a CSRF token, then POST the form; returns the POST's response."""
    token = csrf_token_of(test_client.get("/login").get_data(as_text=True))
    return test_client.post("/login", data={"username": username, "password": password, "csrf_token": token, **extra})
