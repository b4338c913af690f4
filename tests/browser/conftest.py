"""Browser tests: Playwright drives Debian's chromium against pytest-django's live server."""

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("COACH_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).is_file() and not os.environ.get("CI"):
    # CI installs chromium (.ci/run) and must run these; elsewhere they need `apt-get install chromium`.
    pytest.skip(
        f"browser tests need chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True
    )

import playwright.sync_api as playwright_sync  # noqa: E402

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make around it are
# ordinary synchronous calls, so Django's async-safety guard does not apply to them.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: Any, live_server: Any) -> Iterator[Callable[[], Any]]:
    """Open pages in fresh browser contexts (one per person); all are closed after the test."""
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=live_server.url)
        context.set_default_timeout(8000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    _wait_for_requests_in_flight(live_server)


def _wait_for_requests_in_flight(live_server: Any, *, quiet: float = 0.3, timeout: float = 10.0) -> None:
    """Let the live server finish what the closed pages sent (an autosave, a poll, a draft a page sends
    as it goes away, which can arrive an instant after its context closed) before the test's database
    is flushed under it: a request holding a table while the flush locks them all is a deadlock, and the
    flush then fails. Done when no request has run for `quiet` seconds."""
    threads = getattr(live_server.thread.httpd, "_threads", None)
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        alive = [thread for thread in list(threads or []) if thread.is_alive()]
        if alive:
            for thread in alive:
                thread.join(max(0.0, deadline - time.monotonic()))
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet:
            return
        else:
            time.sleep(0.02)


@pytest.fixture
def page(new_page: Callable[[], Any]) -> Any:
    return new_page()
