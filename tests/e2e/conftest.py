"""Browser-test fixtures. A flow test looks like:

    @pytest.mark.e2e
    def test_report_loss(live_server, browser_page):
        sign_in(browser_page, live_server.world.admin, live_server.world.password)
        browser_page.get_by_role("link", name="卡片挂失").click()
        ...

`browser_page` fails the test if the page logged a JavaScript error or a CSP violation.
"""

from __future__ import annotations

import pytest

from tests.e2e.harness import ChromiumMissing, LiveServer, launch_chromium, new_page, start_server
from tests.e2e.harness import sign_in as sign_in  # re-exported for tests: from tests.e2e.conftest import sign_in


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> LiveServer:
    """The real portal on a free 127.0.0.1 port, over its own migrated SQLite file with the test world."""
    server = start_server(tmp_path_factory.mktemp("e2e") / "portal.db")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        try:
            chromium = launch_chromium(playwright)
        except ChromiumMissing as missing:
            pytest.fail(str(missing), pytrace=False)
        yield chromium
        chromium.close()


def _watched(page):
    """Collect console errors (CSP violations show up there) and uncaught exceptions of `page`."""
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


@pytest.fixture
def browser_page(browser, live_server):
    """A desktop-size page in a fresh context (no cookies, so Chinese by default)."""
    page = new_page(browser, live_server)
    problems = _watched(page)
    yield page
    page.context.close()
    assert problems == [], f"the browser reported errors: {problems}"


@pytest.fixture
def phone_page(browser, live_server):
    """A 390x844 touch page, like a phone."""
    page = new_page(browser, live_server, phone=True)
    problems = _watched(page)
    yield page
    page.context.close()
    assert problems == [], f"the browser reported errors: {problems}"
