"""Long lists in a real browser: a fleet with 120 cards allocates to every card of one driver
(search, "all matching", preview, password, receipt), and pages through 46 alerts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.e2e.harness import sign_in

pytestmark = pytest.mark.e2e

CARDS = 120
ADMIN = "lists_admin"


@pytest.fixture(scope="module")
def fleet(live_server) -> dict:
    """A customer of its own (the shared world stays as the other flows expect it): 120 cards on
    vehicles 粤C00000..., even ones driven by 赵六; ¥10,000.00 in the unit account; 46 open alerts."""
    from portal import ledger
    from portal.alerts.models import Alert
    from portal.extensions import clock, db
    from tests import builders

    with live_server.app.app_context():
        s, now = db.session, clock().now()
        customer = builders.create_customer(s, builders.create_region(s, "44"), name="粤顺物流有限公司",
                                            credit_code="91440000000000099E")  # fmt: skip
        builders.create_user(s, ADMIN, "admin", now, customer_id=customer.id)
        zhao = builders.create_driver(s, customer, "赵六")
        cards = []
        for i in range(CARDS):
            vehicle = builders.create_vehicle(s, customer, f"粤C{i:05d}", tank_ml=60_000)
            cards.append(builders.create_card(s, customer, f"{9044000000000000 + i}", vehicle_id=vehicle.id,
                                              driver_id=zhao.id if i % 2 == 0 else None))  # fmt: skip
        ledger.transfer(s, ledger.TransferRequest("e2e-lists-deposit", ledger.system_account(s, "deposits_clearing").id,
                                                  ledger.unit_account(s, customer.id).id, 1_000_000, "deposit"),
                        now=now)  # fmt: skip
        s.add_all(
            Alert(customer_id=customer.id, card_id=cards[i].id, kind="tank_overfill", dedupe_key=f"e2e-lists:{i}",
                  detail={"plate": f"粤C{i:05d}", "litres_ml": 70_000, "tank_ml": 60_000},
                  created_at=now - timedelta(minutes=i))
            for i in range(46)
        )  # fmt: skip
        s.commit()
        return {"customer": customer.id, "zhao_cards": [c.id for c in cards[::2]]}


def test_allocate_to_every_card_of_a_driver_across_pages(live_server, browser_page, fleet):
    from portal import ledger
    from portal.extensions import db

    page = browser_page
    sign_in(page, ADMIN, live_server.world.password)
    page.goto("/funds/allocate")
    assert page.locator("[data-testid=cards-table] tbody tr").count() == 50
    page.fill("input#q", "赵六")
    with page.expect_navigation():
        page.click("form[role=search] button[type=submit]")
    assert "共 60 条" in page.locator("[data-testid=pager]").inner_text()  # 60 cards, two pages
    page.check("[data-testid=pick-matching]")
    page.fill("input#each_amount", "12.50")
    with page.expect_navigation():
        page.click("button[name=action][value=each]")
    assert "/funds/batches/" in page.url
    assert page.locator("[data-testid=line-count]").inner_text().startswith("60")
    assert page.locator("[data-testid=batch-total]").inner_text().strip() == "¥750.00"
    assert page.locator("[data-testid=batch-lines] tbody tr").count() == 60
    page.fill("input[name=password]", live_server.world.password)
    with page.expect_navigation():
        page.click("main form[action$='/confirm'] button[type=submit]")
    assert page.url.endswith("/receipt") and page.locator(".flash-success").is_visible()
    with live_server.app.app_context():
        balances = ledger.many_card_balances(db.session, fleet["zhao_cards"])
        assert {b.reserve.posted for b in balances.values()} == {1250}
        assert ledger.customer_balances(db.session, fleet["customer"]).unit.posted == 1_000_000 - 60 * 1250


def test_alerts_are_paged(live_server, browser_page, fleet):
    from portal.alerts.models import Alert
    from portal.extensions import db

    page = browser_page
    sign_in(page, ADMIN, live_server.world.password)
    page.goto("/alerts/")
    assert re.search(r"46", page.locator("[data-testid=alerts-count]").inner_text())
    seen = []
    for expected in (20, 20, 6):
        rows = page.locator("[data-testid=alerts] tbody tr")
        assert rows.count() == expected
        seen += [rows.nth(i).get_attribute("data-alert-id") for i in range(expected)]
        next_link = page.locator("[data-testid=alerts-pager] a[rel=next]")
        if expected == 6:
            assert next_link.count() == 0
            break
        with page.expect_navigation():
            next_link.click()
    with live_server.app.app_context():
        ids = db.session.scalars(select(Alert.id).where(Alert.customer_id == fleet["customer"])).all()
    assert sorted(int(i) for i in seen) == sorted(ids)
    with page.expect_navigation():
        page.locator("[data-testid=alerts-pager] a", has_text="第一页").click()
    assert page.locator("[data-testid=alerts] tbody tr").count() == 20
