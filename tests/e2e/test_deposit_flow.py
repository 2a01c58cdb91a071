"""A staff deposit in a real browser (issue #12): the form only previews; the preview names the
customer, the amount in words and figures and the bank reference; the deposit is recorded once the
password is re-entered, and not before."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from tests.e2e.harness import sign_in

pytestmark = pytest.mark.e2e


def _deposits_with(live_server, reference: str) -> list[int]:
    from portal.extensions import db
    from portal.funds.models import Deposit

    with live_server.app.app_context():
        return list(db.session.scalars(select(Deposit.amount).where(Deposit.bank_reference == reference)))


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_staff_preview_a_deposit_then_confirm_it_with_their_password(live_server, request, device):
    """(A wrong password is answered 422 on the same preview: tests/web/test_confirmations.py.)"""
    page = request.getfixturevalue("browser_page" if device == "desktop" else "phone_page")
    world = live_server.world
    reference = f"ICBC-{uuid.uuid4().hex[:10]}"
    sign_in(page, world.staff, world.password)

    page.goto("/funds/deposits")
    page.select_option("select[name=customer_id]", label="北京顺达物流有限公司 (91110105MA01TEST2X)")
    page.fill("input[name=amount]", "12345.6")
    page.fill("input[name=bank_reference]", reference)
    with page.expect_navigation():
        page.click("main form button[type=submit]")

    preview = page.locator("[data-testid=deposit-preview]")
    assert preview.is_visible()
    assert page.locator("[data-testid=deposit-customer]").inner_text().startswith("北京顺达物流有限公司")
    assert page.locator("[data-testid=deposit-amount]").inner_text() == "¥12,345.60"
    assert page.locator("[data-testid=deposit-amount-words]").inner_text() == "壹万贰仟叁佰肆拾伍元陆角"
    assert page.locator("[data-testid=deposit-reference]").inner_text() == reference
    box = page.locator("[data-testid=deposit-amount-words]").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]  # on screen, phone too
    assert _deposits_with(live_server, reference) == []  # a preview records nothing

    page.fill("input[name=password]", world.password)
    with page.expect_navigation():
        page.click("main form[action$='/deposits/confirm'] button[type=submit]")
    assert page.url.endswith("/funds/deposits")
    assert "已为北京顺达物流有限公司登记充值" in page.locator(".flash-success").inner_text()
    assert reference in page.locator("[data-testid=deposits]").inner_text()
    assert _deposits_with(live_server, reference) == [1_234_560]
