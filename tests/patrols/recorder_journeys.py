"""The phone recorder's journeys in a real browser: a committed world with a volunteer who signs in, a real server."""
from __future__ import annotations

import time

PHONE = (390, 844)
WALKER_NAME = "可靠性测试0"  # build_live_world's first volunteer


def wait(page, expression: str, timeout: float = 30.0):
    """Poll a JS expression until it is truthy (Playwright's own waiting evaluates strings, which the CSP forbids)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = page.evaluate(expression)
        except Exception:  # the page is navigating: try again
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {expression}")
        time.sleep(0.1)


def sign_in(page, base: str, password: str, lang: str = "zh") -> None:
    page.goto(f"{base}/login?lang={lang}")
    page.fill("#username", "walker")
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def controlled(page) -> None:
    """Wait until the service worker controls the page (its first visit installs the shell)."""
    wait(page, "navigator.serviceWorker && navigator.serviceWorker.controller !== null", 30)


