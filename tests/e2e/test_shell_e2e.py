"""The shell in a real browser: sign in, home page, language switch, phone menu."""

from __future__ import annotations

import pytest

from tests.e2e.harness import sign_in

pytestmark = pytest.mark.e2e


def test_admin_signs_in_and_sees_home_in_chinese_then_english(live_server, browser_page):
    page, world = browser_page, live_server.world
    page.goto("/auth/sign-in")
    assert page.get_attribute("html", "lang") == "zh-CN"

    sign_in(page, world.admin, world.password)
    assert page.url == live_server.url + "/"
    assert page.locator("h1").inner_text() == "北京顺达物流有限公司"
    assert page.get_by_role("link", name="客户首页").get_attribute("aria-current") == "page"
    assert page.locator("[data-testid=identity]").inner_text().startswith("王建国")
    assert page.get_by_role("navigation").is_visible()

    with page.expect_navigation():
        page.get_by_role("button", name="English").click()
    assert page.get_attribute("html", "lang") == "en"
    assert page.url == live_server.url + "/"
    assert page.get_by_role("link", name="Customer home").is_visible()
    assert page.get_by_role("heading", name="Cards", exact=True).is_visible()
    assert "Fleet admin" in page.locator("[data-testid=identity]").inner_text()

    with page.expect_navigation():
        page.get_by_role("button", name="中文").click()
    assert page.get_attribute("html", "lang") == "zh-CN"

    with page.expect_navigation():
        page.get_by_role("button", name="退出").click()
    assert page.url.startswith(live_server.url + "/auth/sign-in")


def test_phone_menu_is_collapsed_until_opened(live_server, phone_page):
    page, world = phone_page, live_server.world
    sign_in(page, world.driver, world.password)
    home_link = page.get_by_role("link", name="首页", exact=True)
    assert not home_link.is_visible()  # the menu waits behind its button

    page.locator("details[data-menu] > summary").click()
    assert home_link.is_visible()
    assert page.get_by_role("navigation").get_by_text("我的卡片").is_visible()
    # Nothing is wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    with page.expect_navigation():
        home_link.click()
    assert page.locator("h1").inner_text() == "张伟"
