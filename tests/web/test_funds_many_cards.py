"""A customer with 2,000 sub-cards: the allocation and collection tables are searched and paged, and
"all matching" allocates to every matching card (not only the page shown) without posting a field
per card (Werkzeug refuses more than 1,000 form parts with a 413)."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, insert, select

from portal import ledger
from portal.cards.models import Card
from portal.drivers.models import Driver, Vehicle
from portal.funds.models import FundsBatch
from portal.ledger.models import CARD_KINDS, CUSTOMER_KINDS
from tests.builders import EXPIRES, PASSWORD, funds_customers
from tests.web.conftest import count, csrf_token, peek, signed_in

MANY = 2000
#: The bulk cards' numbers: 9030009900000000 + i, outside the builders' numbering.
FIRST_NUMBER = 9030009900000000
BULK = "90300099%"


def _bulk_cards(session, customer_id: int, now) -> None:
    """MANY sub-cards with their accounts in a handful of statements: each on its own vehicle
    (京B00000...), even ones driven by 张三, odd ones by 李四."""
    drivers = [Driver(customer_id=customer_id, name=name, created_at=now) for name in ("张三", "李四")]
    session.add_all(drivers)
    session.flush()
    session.execute(
        insert(Vehicle), [{"customer_id": customer_id, "plate": f"京B{i:05d}", "tank_ml": 60_000} for i in range(MANY)]
    )
    vehicles = dict(session.execute(select(Vehicle.plate, Vehicle.id).where(Vehicle.customer_id == customer_id)).all())
    session.execute(
        insert(Card),
        [
            {"number": str(FIRST_NUMBER + i), "customer_id": customer_id, "role": "sub", "status": "active",
             "expires_on": EXPIRES, "issued_at": now, "driver_id": drivers[i % 2].id,
             "vehicle_id": vehicles[f"京B{i:05d}"]}
            for i in range(MANY)
        ],
    )  # fmt: skip
    card_ids = session.scalars(select(Card.id).where(Card.number.like(BULK))).all()
    session.execute(
        insert(ledger.Account),
        [
            {"kind": kind, "card_id": card_id, "customer_id": customer_id, "ledger": CUSTOMER_KINDS[kind],
             "no_overdraft": True}
            for card_id in card_ids
            for kind in CARD_KINDS
        ],
    )  # fmt: skip


@pytest.fixture
def world(session, clock):
    w = funds_customers(session, clock.now(), deposit=10_000_000)  # ¥100,000.00
    _bulk_cards(session, w.a, clock.now())
    session.commit()
    return w


def _post(client, path, data):
    return client.post(path, data={"csrf_token": csrf_token(client, path), **data})


def _batch(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return re.search(r"/funds/batches/([0-9a-f]{32})", response.headers["Location"]).group(1)


def _allocated(session) -> int:
    return count(session, session.query(ledger.Transfer).filter(ledger.Transfer.code == "allocation"))


def test_the_table_is_paged_and_searched_by_card_driver_and_plate(client, world):
    client.set_cookie("lang", "en")
    signed_in(client, "admin_a")
    page = client.get("/funds/allocate").get_data(as_text=True)
    total = MANY + 4  # a1, a2, a3 and the lost card are listed too (closed cards are not)
    assert page.count('name="amount-') == 50
    assert f"1–50 of {total:,}" in page and "all 2,004 cards" in page
    last = client.get("/funds/allocate?page=999").get_data(as_text=True)  # out of range: the last page
    assert f"2,001–{total:,} of {total:,}" in last
    by_driver = client.get("/funds/allocate?q=李四").get_data(as_text=True)
    assert "of 1,000" in by_driver and "all 1,000 cards matching" in by_driver
    by_plate = client.get("/funds/allocate?q=京B0001").get_data(as_text=True)
    assert "1–10 of 10" in by_plate and by_plate.count('name="amount-') == 10
    by_number = client.get(f"/funds/allocate?q={FIRST_NUMBER + 1234}").get_data(as_text=True)
    assert "1–1 of 1" in by_number and str(FIRST_NUMBER + 1234)[-4:] in by_number
    collect = client.get("/funds/collect?q=张三&page=3").get_data(as_text=True)
    assert "101–150 of 1,000" in collect


def test_all_matching_allocates_to_every_matching_card_with_preview_and_confirmation(client, session, world):
    client.set_cookie("lang", "en")
    signed_in(client, "admin_a")
    started = time.perf_counter()
    # page 2 of the search is shown; the helper still acts on all 2,000 matching cards
    response = _post(client, "/funds/allocate", {"q": "京B", "page": "2", "matching": "1", "each_amount": "1.50",
                                                  "action": "each"})  # fmt: skip
    batch_id = _batch(response)
    batch = peek(session, lambda: session.get(FundsBatch, batch_id))
    assert (batch.line_count, batch.total, batch.status) == (MANY, MANY * 150, "draft")
    assert _allocated(session) == 0  # nothing moves before the confirmation
    preview = client.get(f"/funds/batches/{batch_id}").get_data(as_text=True)
    assert "2,000" in preview and "¥3,000.00" in preview
    assert preview.count("<tr><td>") == 100  # lines paged 100 at a time, all 20 pages reachable
    assert "Page 1 of 20" in preview
    last = client.get(f"/funds/batches/{batch_id}?page=20").get_data(as_text=True)
    assert str(FIRST_NUMBER + MANY - 1)[-4:] in last
    # a card added after the preview matches the search, but is not silently included
    late = peek(session, lambda: None)
    session.add(Card(number=str(FIRST_NUMBER + MANY), customer_id=world.a, role="sub", status="active",
                     expires_on=EXPIRES, vehicle_id=session.scalar(select(Vehicle.id).where(Vehicle.plate == "京B00000"))))  # fmt: skip
    session.commit()
    token = csrf_token(client, f"/funds/batches/{batch_id}")
    ok = client.post(f"/funds/batches/{batch_id}/confirm", data={"csrf_token": token, "password": PASSWORD})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/receipt")
    again = client.post(f"/funds/batches/{batch_id}/confirm", data={"csrf_token": token, "password": PASSWORD})
    assert again.status_code == 302
    assert _allocated(session) == MANY
    reserves = peek(session, lambda: ledger.many_card_balances(
        session, session.scalars(select(Card.id).where(Card.number.like(BULK)))))  # fmt: skip
    assert sorted({b.reserve.posted for b in reserves.values()}) == [0, 150]
    assert sum(b.reserve.posted for b in reserves.values()) == MANY * 150  # the late card got nothing
    elapsed = time.perf_counter() - started
    assert late is None and elapsed < 30, elapsed


def test_all_matching_acts_on_the_search_only_and_a_page_helper_on_the_page_only(client, session, world):
    signed_in(client, "admin_a")
    subset = _post(client, "/funds/allocate", {"q": "京B0001", "matching": "1", "split_total": "100",
                                                "action": "split"})  # fmt: skip
    batch = peek(session, lambda: session.get(FundsBatch, _batch(subset)))
    assert (batch.line_count, batch.total) == (10, 10_000)
    # without "all matching" a helper fills the ticked cards of the page shown, moving nothing
    page = peek(session, lambda: session.scalars(select(Card.id).where(Card.number.like(BULK))
                                                 .order_by(Card.number).limit(50)).all())  # fmt: skip
    filled = _post(client, "/funds/allocate", {"q": "京B", "pick_all": "1", "each_amount": "2", "action": "each"})
    text = filled.get_data(as_text=True)
    assert filled.status_code == 200 and text.count('value="2.00"') == 50
    assert f'name="amount-{page[0]}"' in text and count(session, session.query(FundsBatch)) == 1


def test_collect_everything_from_all_matching_cards(client, session, world):
    signed_in(client, "admin_a")
    allocated = _post(client, "/funds/allocate", {"q": "李四", "matching": "1", "each_amount": "3", "action": "each"})
    batch_id = _batch(allocated)
    token = csrf_token(client, f"/funds/batches/{batch_id}")
    client.post(f"/funds/batches/{batch_id}/confirm", data={"csrf_token": token, "password": PASSWORD})
    collected = _post(client, "/funds/collect", {"q": "京B", "matching": "1", "action": "all"})
    batch = peek(session, lambda: session.get(FundsBatch, _batch(collected)))
    assert (batch.kind, batch.line_count, batch.total) == ("collection", 1000, 300_000)


def test_all_matching_with_a_bad_helper_amount_or_no_match_changes_nothing(client, session, world):
    client.set_cookie("lang", "en")
    signed_in(client, "admin_a")
    bad = _post(client, "/funds/allocate", {"q": "京B", "matching": "1", "each_amount": "-1", "action": "each"})
    assert bad.status_code == 422 and "valid amount" in bad.get_data(as_text=True)
    none = _post(client, "/funds/allocate", {"q": "无此车", "matching": "1", "each_amount": "1", "action": "each"})
    assert none.status_code == 422
    too_much = _post(client, "/funds/allocate", {"q": "京B", "matching": "1", "each_amount": "100", "action": "each"})
    assert too_much.status_code == 422 and "more than the unit account" in too_much.get_data(as_text=True)
    assert count(session, session.query(FundsBatch)) == 0
    assert peek(session, lambda: session.scalar(select(func.count()).select_from(ledger.Transfer))) == 1  # the seed
