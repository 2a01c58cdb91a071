"""The terminal API's reference page in a real browser: Swagger UI, from this server's files, under
the portal's Content-Security-Policy (browser_page fails on any CSP violation or script error)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_the_reference_page_shows_every_operation_without_a_cdn(live_server, browser_page):
    page = browser_page
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/api/terminal/v1/docs")
    page.wait_for_selector(".opblock")
    assert page.title() == "终端 API 参考"
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert sorted(path.replace("\u200b", "") for path in paths) == [
        "/api/terminal/v1/purchases",
        "/api/terminal/v1/redemptions",
        "/api/terminal/v1/refunds",
    ]
    outside = [url for url in requested if not url.startswith(live_server.url) and not url.startswith("data:")]
    assert outside == []
