"""Allocation and load in a real browser: an admin allocates to two sub-cards (preview, password,
receipt), then loads one card's chip through the virtual reader."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from tests.e2e.harness import sign_in

pytestmark = pytest.mark.e2e

#: Active sub-cards of the world's first customer that no other browser flow uses.
CARD_A, CARD_B = "9030000100000112", "9030000100000113"


def _fund_the_unit_account(live_server, fen: int) -> dict[str, int]:
    """The e2e world has no money yet: open the accounts and record a deposit through the ledger."""
    from portal import ledger
    from portal.cards.models import Card
    from portal.extensions import clock, db

    with live_server.app.app_context():
        customer_id = live_server.world.customer_id
        ledger.open_customer_accounts(db.session, customer_id)
        cards = {c.number: c.id for c in db.session.scalars(select(Card).where(Card.number.in_([CARD_A, CARD_B])))}
        for card_id in cards.values():
            ledger.open_card_accounts(db.session, customer_id, card_id)
        ledger.transfer(
            db.session,
            ledger.TransferRequest(
                id=f"e2e-deposit:{uuid.uuid4().hex}",
                debit_account_id=ledger.system_account(db.session, "deposits_clearing").id,
                credit_account_id=ledger.unit_account(db.session, customer_id).id,
                amount=fen,
                code="deposit",
            ),
            now=clock().now(),
        )
        db.session.commit()
        return cards


def test_admin_allocates_with_preview_and_loads_a_chip(live_server, browser_page):
    page, world = browser_page, live_server.world
    cards = _fund_the_unit_account(live_server, 1_000_000)
    sign_in(page, world.admin, world.password)

    page.goto("/funds/allocate")
    page.fill(f"input[name=amount-{cards[CARD_A]}]", "300")
    page.fill(f"input[name=amount-{cards[CARD_B]}]", "200.50")
    with page.expect_navigation():
        page.click("button[name=action][value=preview]")
    assert "/funds/batches/" in page.url
    assert page.locator("[data-testid=batch-total]").inner_text().strip() == "¥500.50"
    page.fill("input[name=password]", world.password)
    with page.expect_navigation():
        page.click("main form[action$='/confirm'] button[type=submit]")
    assert page.url.endswith("/receipt")
    assert page.locator(".flash-success").is_visible()
    assert "¥500.50" in page.locator("[data-testid=batch-lines]").inner_text()

    page.goto("/chips/load")
    assert page.locator("[data-testid=virtual-reader]").is_visible()
    page.select_option("select[name=card_id]", str(cards[CARD_A]))
    page.fill("input[name=amount]", "100")
    page.fill("input[name=password]", world.password)
    with page.expect_navigation():
        page.click("#request form button[type=submit]")
    assert page.locator(".flash-success").is_visible()
    waiting = page.locator(f"[data-testid=waiting-{cards[CARD_A]}]")
    assert "¥100.00" in waiting.inner_text()
    with page.expect_navigation():
        waiting.locator("button", has_text="立即写卡").click()
    assert page.locator(".flash-success").is_visible()
    row = page.locator("[data-testid=load-cards] tr", has_text=CARD_A[-4:])
    assert "¥200.00" in row.inner_text() and "¥100.00" in row.inner_text()  # reserve 200, chip 100

    page.goto(f"/chips/read?card={cards[CARD_A]}")
    assert page.locator("[data-testid=chip-vs-host] [data-differs]").count() == 0
