"""API keys in a real browser: an admin creates a key, sees it once, a program calls the API with
it, the admin revokes it and the program is refused; and the API's docs page renders offline."""

from __future__ import annotations

import re

import pytest
import requests

from tests.e2e.harness import sign_in

pytestmark = pytest.mark.e2e


def test_admin_creates_a_key_uses_it_and_revokes_it(live_server, browser_page):
    page, world = browser_page, live_server.world
    sign_in(page, world.admin, world.password)
    with page.expect_navigation():
        page.click("nav a[href='/api-keys/']")
    page.fill("input[name=name]", "浏览器测试 ERP")
    page.check("input[name=scopes][value=read]")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    token = page.locator("[data-testid=token]").inner_text().strip()
    assert re.fullmatch(r"fcp_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", token)

    api = f"{live_server.url}/api/v1/cards"
    answer = requests.get(api, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200 and answer.json()["data"]

    page.goto("/api-keys/")
    assert token not in page.content()  # shown once only
    row = page.locator("tr", has_text="浏览器测试 ERP")
    with page.expect_navigation():
        row.locator("a", has_text="吊销").click()
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.locator(".flash-success").is_visible()

    refused = requests.get(api, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert refused.status_code == 401 and refused.json()["code"] == "key_revoked"


def test_the_api_docs_page_renders_from_this_server(live_server, browser_page):
    page = browser_page
    outside, missing = [], []
    page.on("response", lambda r: r.status == 404 and missing.append(r.url))
    page.on(
        "request", lambda r: r.url.startswith(live_server.url) or r.url.startswith("data:") or outside.append(r.url)
    )
    page.goto("/api/v1/docs")
    page.get_by_text("The customer's sub-cards in number order").wait_for(timeout=15_000)
    assert outside == [] and missing == []
