"""Loss reporting in a real browser: an admin reports a card lost, sees the timers, and cancels the
report (解挂) again, which leaves the shared test world as it found it."""

from __future__ import annotations

import pytest

from tests.e2e.harness import sign_in

pytestmark = pytest.mark.e2e

#: An active sub-card of the world's first customer that no other flow uses.
CARD = "9030000100000114"
#: The card as the pages print it: grouped in fours.
CARD_SHOWN = "9030 0001 0000 0114"


def test_admin_reports_a_card_lost_and_cancels_the_report(live_server, browser_page):
    page, world = browser_page, live_server.world
    sign_in(page, world.admin, world.password)
    with page.expect_navigation():
        page.click("nav a[href='/cards/loss']")
    form = page.locator("[data-testid=report-form]")
    form.locator("select[name=card_id]").select_option(label=CARD_SHOWN)
    form.locator("select[name=reason]").select_option("stolen")
    form.locator("textarea[name=note]").fill("夜间停车场被盗")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()

    assert "/cards/loss/" in page.url
    assert page.locator(".flash-success").is_visible()
    timers = page.locator("[data-testid=timers]")
    assert "夜间停车场被盗" in timers.inner_text()
    assert page.locator("[data-testid=effective-at]").inner_text().strip()
    assert page.locator("[data-testid=replaceable-from]").inner_text().strip()

    with page.expect_navigation():
        page.click("a[href$='/cancel']")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.locator(".flash-success").is_visible()
    assert page.locator("[data-testid=replaceable-from]").count() == 0

    page.goto("/cards/loss")
    options = page.locator("select[name=card_id] option").all_inner_texts()
    assert any(text.startswith(CARD_SHOWN) for text in options)  # active again, so reportable again


def test_driver_sees_their_cards_on_a_phone(live_server, phone_page):
    page, world = phone_page, live_server.world
    sign_in(page, world.driver, world.password)
    page.goto("/cards/mine")
    assert page.locator("[data-testid=my-card]").count() >= 1
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page must not scroll sideways on a phone"
