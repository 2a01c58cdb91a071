"""The customer zone in a real browser: every query and statistics page opens without a script or
CSP error, the filter form works, and an export downloads as a file."""

from __future__ import annotations

import pytest

from tests.e2e.harness import sign_in

pytestmark = pytest.mark.e2e

PAGES = [
    "/queries/balances",
    "/queries/purchases",
    "/queries/purchases?tab=declined",
    "/queries/account-transactions",
    "/queries/points",
    "/queries/statements",
    "/statistics/transactions?group=month",
    "/statistics/points",
]


def test_admin_opens_every_page_and_downloads_an_export(live_server, browser_page):
    page, world = browser_page, live_server.world
    sign_in(page, world.admin, world.password)
    for path in PAGES:
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert page.locator("main h1").is_visible()

    page.goto(live_server.url + "/queries/purchases")
    page.select_option("select[name=preset]", "last_month")  # the script submits the form
    page.wait_for_url("**preset=last_month**")
    assert "start=" not in page.url  # preset periods do not carry stale dates
    with page.expect_download() as download:
        page.click("[data-testid=exports] a:text('CSV')")
    path = download.value.path()
    assert download.value.suggested_filename.endswith(".csv")
    with open(path, "rb") as exported:
        assert exported.read(3) == b"\xef\xbb\xbf"


def test_bad_dates_get_a_message_not_an_error(live_server, browser_page):
    page, world = browser_page, live_server.world
    sign_in(page, world.admin, world.password)
    # Fetched, not navigated: the browser logs every 4xx navigation as a console error.
    response = page.request.get(live_server.url + "/queries/purchases?preset=custom&start=2026-03-10&end=2026-03-01")
    assert response.status == 400
    assert 'data-testid="filter-error"' in response.text()


def test_driver_sees_purchases_but_not_statistics(live_server, browser_page):
    page, world = browser_page, live_server.world
    sign_in(page, world.driver, world.password)
    assert page.goto(live_server.url + "/queries/purchases").status == 200
    assert page.request.get(live_server.url + "/statistics/transactions").status == 403
