"""Headless Debian Chromium via Playwright, with the network cut off except for local hosts.

Reusable by any test: ``with offline_browser_page() as (page, log): ...`` then assert on log.
Playwright downloads no browser here: it drives the system's /usr/bin/chromium.
"""

from __future__ import annotations

import shutil
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
# Schemes that never leave the machine.
LOCAL_SCHEMES = frozenset({"file", "data", "blob", "about"})


def require_chromium() -> None:
    """Skip the test without Chromium, except in CI or make e2e, where a missing browser fails it."""
    import os

    import pytest

    if chromium_executable() is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true" or os.environ.get("GRIDSVC_REQUIRE_BROWSER") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def chromium_executable() -> str | None:
    """Path of the system Chromium, or None if it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def is_local_url(url: str, also: frozenset[str] = frozenset()) -> bool:
    """True for file:, data:, blob:, about: URLs and http(s) URLs on this machine (or a name in `also`)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme in LOCAL_SCHEMES:
        return True
    host = (parsed.hostname or "").lower()
    return host in LOCAL_HOSTS or host in also or host.startswith("127.")


def host_resolver_rules(names_to_loopback=()) -> str:
    """Chromium's DNS rules: the given names are this machine, every other name resolves to nothing.

    This blocks outside hosts below the page, so a service worker's requests are covered too
    (Playwright's routes see only the page's).
    """
    rules = [f"MAP {name} 127.0.0.1" for name in names_to_loopback]
    return ", ".join([*rules, "MAP * ~NOTFOUND", "EXCLUDE localhost", "EXCLUDE 127.0.0.1"])


@dataclass
class BrowserLog:
    """What the page did that a test may want to forbid."""

    blocked_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def problems(self) -> dict[str, list[str]]:
        """Every non-empty category, for a readable assertion message."""
        return {name: values for name, values in vars(self).items() if values}


@contextmanager
def offline_browser_page(*, viewport: tuple[int, int] = (1280, 800), local_names=(), extra_args=(),
                         **context_options) -> Iterator[tuple[object, BrowserLog]]:
    """Yield (playwright page, BrowserLog) in a Chromium that may only reach local URLs.

    `local_names` resolve to 127.0.0.1 (a non-localhost origin for https tests); `extra_args` go to
    Chromium; `context_options` to the browser context (geolocation, permissions, locale...).
    """
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    if executable is None:
        raise RuntimeError("Chromium is not installed (apt-get install chromium)")
    log = BrowserLog()
    with sync_playwright() as playwright:
        args = [*CHROMIUM_ARGS, f"--host-resolver-rules={host_resolver_rules(local_names)}", *extra_args]
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        also = frozenset(name.lower() for name in local_names)
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, **context_options)

            def guard(route, request):
                if is_local_url(request.url, also):
                    route.continue_()
                else:
                    log.blocked_requests.append(request.url)
                    route.abort("blockedbyclient")

            context.route("**/*", guard)
            page = context.new_page()
            page.on("console", lambda message: message.type == "error" and log.console_errors.append(message.text))
            page.on("pageerror", lambda error: log.page_errors.append(str(error)))
            page.on("requestfailed", lambda request: log.failed_requests.append(f"{request.url} {request.failure}"))

            def dismiss(dialog):
                log.dialogs.append(f"{dialog.type}: {dialog.message}")
                dialog.dismiss()

            page.on("dialog", dismiss)
            yield page, log
            context.close()
        finally:
            browser.close()
