"""Registration (注册) in a real browser: details, the SMS code read from the outbox, an account that
breaks a rule and then one that passes, and signing in with the region chosen."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


def sms_code(live_server, phone: str) -> str:
    from portal.notify.web import console_messages

    body = console_messages(live_server.app, phone)[-1].body
    return re.search(r"\b(\d{6})\b", body).group(1)


@pytest.fixture
def page(browser, live_server):
    """Like `browser_page`, but a refused form (422, as designed) is not a browser error."""
    from tests.e2e.harness import new_page

    page = new_page(browser, live_server)
    problems: list[str] = []
    page.on(
        "console",
        lambda m: m.type == "error" and "status of 422" not in m.text and problems.append(m.text),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    page.context.close()
    assert problems == [], f"the browser reported errors: {problems}"


def test_customer_registers_with_the_sms_code_and_signs_in(live_server, page):
    world = live_server.world
    page.goto("/auth/sign-in")
    with page.expect_navigation():
        page.get_by_role("link", name="注册").first.click()

    page.fill("input[name=card_number]", "9030000100000099")  # not a card of ours
    page.fill("input[name=credit_code]", "91110105MA01TEST2X")
    page.fill("input[name=contact]", "010-6521 8890")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.locator(".flash-error").is_visible()  # one neutral message

    page.fill("input[name=card_number]", world.main_card_number)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url.endswith("/auth/register/account")
    assert page.locator("[data-testid=password-rules] li").count() >= 4

    page.fill("input[name=code]", sms_code(live_server, "010-6521 8890"))
    page.fill("input[name=username]", "shunda_second")
    page.fill("input[name=new_password]", "password1")
    page.fill("input[name=confirm]", "password1")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.locator(".field-error").first.is_visible()  # a common password is refused

    page.fill("input[name=new_password]", "Shunda-Fleet-2026")
    page.fill("input[name=confirm]", "Shunda-Fleet-2026")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url.startswith(live_server.url + "/auth/sign-in")

    page.select_option("select[name=region]", "11")
    page.fill("input[name=username]", "shunda_second")
    page.fill("input[name=password]", "Shunda-Fleet-2026")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url == live_server.url + "/"
    assert page.locator("h1").inner_text() == "北京顺达物流有限公司"
