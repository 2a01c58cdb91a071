"""Webhooks in a real browser: a fleet admin registers an endpoint (events ticked), sees its secret
once, sends a test event to a real receiver that verifies the signature, and finds it in the log."""

from __future__ import annotations

import re

import pytest

from tests.builders import PASSWORD
from tests.e2e.harness import sign_in
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

ADMIN = "hooks_admin"


@pytest.fixture(scope="module")
def fleet(live_server) -> int:
    """A customer of its own, so the shared world stays as the other flows expect it."""
    from portal.extensions import clock, db
    from tests import builders

    with live_server.app.app_context():
        s = db.session
        customer = builders.create_customer(s, builders.create_region(s, "45"), name="桂通物流有限公司",
                                            credit_code="91450000000000045W")  # fmt: skip
        builders.create_user(s, ADMIN, "admin", clock().now(), customer_id=customer.id)
        s.commit()
        return customer.id


def test_register_see_the_secret_once_and_send_a_test_event(live_server, browser_page, fleet):
    page = browser_page
    with WebhookReceiver() as receiver:
        sign_in(page, ADMIN, PASSWORD)
        page.get_by_role("link", name="Webhook 推送").first.click()
        page.get_by_test_id("new-endpoint").click()
        page.fill("input[name=url]", receiver.url)
        page.fill("input[name=description]", "调度系统")
        page.get_by_label("消费已批准").check()
        page.get_by_label("产生异常预警").check()
        page.get_by_role("button", name="添加端点").click()
        secret = page.get_by_test_id("secret").inner_text().strip()
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]{40,}", secret)
        receiver.secret = secret
        page.get_by_test_id("secret-done").click()
        assert secret not in page.content()  # shown once
        page.get_by_role("button", name="发送测试事件").click()
        page.wait_for_selector('tr[data-status="delivered"]')
        row = page.locator('tr[data-status="delivered"]').first.inner_text()
        assert "测试事件" in row and "已送达" in row and "200" in row
        assert receiver.wait_for(1) and receiver.arrivals[0].verified
        assert receiver.arrivals[0].payload["type"] == "webhook.test"
        assert receiver.arrivals[0].headers["webhook-id"] in row
