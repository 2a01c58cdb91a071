"""Issue #14, item 10, through the browser-facing views on PostgreSQL: one deposit form submitted
twice at once (two tabs, a double click that reaches two workers) is recorded once, and both
submissions end on the same page: the deposit recorded, never a 500 or "reference already
recorded". Likewise a preview confirmed twice at once: posted once, both shown the receipt; and a
terminal's refund sent twice at once: one refund, both answered alike (but the `replayed` flag)."""

from __future__ import annotations

import re
import threading
import uuid

import pytest

from portal.funds.models import Deposit
from portal.purchases.models import Purchase
from tests.builders import CARD_NUMBER, PASSWORD, UNIT_A, funds_customers, purse_balance, station_setup, unit_balance
from tests.web.conftest import count, csrf_token, peek, signed_in

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROUNDS = 10


@pytest.fixture
def world(session, clock):
    w = funds_customers(session, clock.now())
    session.commit()
    return w


def at_once(posts) -> list:
    """Run the `posts` (functions returning a response) in threads started together."""
    start = threading.Barrier(len(posts))
    responses: list = [None] * len(posts)

    def run(i):
        start.wait(timeout=30)
        responses[i] = posts[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(posts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def test_one_deposit_form_submitted_twice_at_once_is_recorded_once(app, session, world):
    tabs = [signed_in(app.test_client(), "staff_r1") for _ in range(2)]
    for n in range(ROUNDS):
        key = uuid.uuid4().hex
        forms = [
            {
                "csrf_token": csrf_token(tab, "/funds/deposits"),
                "key": key,
                "customer_id": world.b,
                "amount": "100",
                "bank_reference": f"ICBC-{n}",
                "memo": "",
                "password": PASSWORD,
            }  # fmt: skip
            for tab in tabs
        ]
        responses = at_once([lambda tab=tab, form=form: tab.post("/funds/deposits/confirm", data=form) for tab, form in
                             zip(tabs, forms, strict=True)])  # fmt: skip
        assert [r.status_code for r in responses] == [302, 302], [r.get_data(as_text=True)[:300] for r in responses]
        assert {r.headers["Location"] for r in responses} == {"/funds/deposits"}
        for tab in tabs:
            page = tab.get("/funds/deposits").get_data(as_text=True)
            assert re.search(r"已为乙运输有限公司登记充值|recorded for", page), page[:2000]
            assert "已经登记过" not in page and "already recorded" not in page
    assert count(session, session.query(Deposit)) == ROUNDS
    assert peek(session, lambda: unit_balance(session, world.b)) == ROUNDS * 100_00


def test_one_preview_confirmed_twice_at_once_posts_once(app, session, world):
    tabs = [signed_in(app.test_client(), name) for name in ("admin_a", "admin_a2")]
    for _ in range(ROUNDS // 2):
        table = tabs[0].post(
            "/funds/allocate",
            data={
                "csrf_token": csrf_token(tabs[0], "/funds/allocate"),
                f"amount-{world.a1}": "10",
                "action": "preview",
            },
        )
        batch_path = table.headers["Location"]
        forms = [{"csrf_token": csrf_token(tab, batch_path), "password": PASSWORD} for tab in tabs]
        confirm = f"{batch_path}/confirm"
        responses = at_once([lambda tab=tab, form=form, url=confirm: tab.post(url, data=form) for tab, form in
                             zip(tabs, forms, strict=True)])  # fmt: skip
        assert [r.status_code for r in responses] == [302, 302], [r.get_data(as_text=True)[:300] for r in responses]
        assert {r.headers["Location"] for r in responses} == {f"{batch_path}/receipt"}
    assert peek(session, lambda: unit_balance(session, world.a)) == UNIT_A - ROUNDS // 2 * 10_00


def test_one_refund_sent_twice_at_once_is_answered_alike(app, session, clock):
    stations = station_setup(session, now=clock.now(), purse_fen=100_000)
    session.commit()
    headers = {"Authorization": f"Bearer {stations.key}"}
    pumps = [app.test_client() for _ in range(2)]
    purchase = {"card_number": CARD_NUMBER, "product_code": "92", "litres_ml": 10_000, "unit_price_fen": 750,
                "amount_fen": 7_500, "at": clock.now().isoformat()}  # fmt: skip
    for seq in range(1, ROUNDS + 1):
        bought = pumps[0].post("/api/terminal/v1/purchases", json=purchase | {"terminal_seq": 1_000 + seq},
                               headers=headers)  # fmt: skip
        body = {"purchase_id": bought.get_json()["purchase_id"], "terminal_seq": seq}
        responses = at_once([lambda pump=pump, body=body: pump.post("/api/terminal/v1/refunds", json=body,
                                                                    headers=headers) for pump in pumps])  # fmt: skip
        assert [r.status_code for r in responses] == [200, 200], [r.get_json() for r in responses]
        answers = [r.get_json() for r in responses]
        assert sorted(answer.pop("replayed") for answer in answers) == [False, True]
        assert answers[0] == answers[1] and answers[0]["kind"] == "refund" and answers[0]["approved"]
    assert count(session, session.query(Purchase).filter(Purchase.kind == "refund")) == ROUNDS
    assert peek(session, lambda: purse_balance(session, stations.card)) == 100_000
