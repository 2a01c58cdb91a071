"""Allocation, collection and deposits through the services (SQLite, and PostgreSQL in its pass)."""

from datetime import timedelta

import pytest

from portal import ledger
from portal.funds import services
from portal.funds.models import FundsBatch
from portal.funds.plan import PlanRejected, RawLine
from tests.builders import UNIT_A, funds_customers
from tests.builders import reserve_balance as reserve
from tests.builders import unit_balance as unit


@pytest.fixture
def world(session, clock):
    w = funds_customers(session, clock.now())
    session.commit()
    return w


def prepare(session, w, clock, kind, *pairs, key=None):
    lines = [RawLine(i, number, amount) for i, (number, amount) in enumerate(pairs, start=1)]
    batch = services.prepare_batch(
        session, customer_id=w.a, kind=kind, lines=lines, actor_id=w.admin_a, now=clock.now(), key=key
    )
    session.commit()
    return batch


def test_allocation_moves_nothing_until_confirmed_then_posts_once(session, clock, world):
    w = world
    batch = prepare(session, w, clock, "allocation", (w.a1_number, "100"), (w.a2_number, "0.5"))
    assert unit(session, w.a) == UNIT_A
    assert batch.total == 10050 and batch.status == "draft"
    services.confirm_batch(session, batch, actor_id=w.admin_a, now=clock.now())
    session.commit()
    assert unit(session, w.a) == UNIT_A - 10050
    assert reserve(session, w.a1) == 10000 and reserve(session, w.a2) == 50
    assert [line.reserve_after for line in batch.lines] == [10000, 50]
    assert batch.unit_balance_after == UNIT_A - 10050
    # a second confirmation (double submit, retry) posts nothing
    services.confirm_batch(session, session.get(FundsBatch, batch.id), actor_id=w.admin_a, now=clock.now())
    session.commit()
    assert unit(session, w.a) == UNIT_A - 10050
    assert session.query(ledger.Transfer).filter(ledger.Transfer.code == "allocation").count() == 2
    assert ledger.verify(session).ok


def test_collection_returns_reserves_to_the_unit_account(session, clock, world):
    w = world
    batch = prepare(session, w, clock, "allocation", (w.a1_number, "300"), (w.a2_number, "200"))
    services.confirm_batch(session, batch, actor_id=w.admin_a, now=clock.now())
    session.commit()
    back = prepare(session, w, clock, "collection", (w.a1_number, "300"), (w.a2_number, "50"))
    services.confirm_batch(session, back, actor_id=w.admin_a, now=clock.now())
    session.commit()
    assert reserve(session, w.a1) == 0 and reserve(session, w.a2) == 15000
    assert unit(session, w.a) == UNIT_A - 15000
    with pytest.raises(PlanRejected) as excinfo:
        prepare(session, w, clock, "collection", (w.a2_number, "150.01"))
    assert excinfo.value.errors[0].code == "above_reserve"


def test_other_customers_cards_are_unknown(session, clock, world):
    w = world
    with pytest.raises(PlanRejected) as excinfo:
        prepare(session, w, clock, "allocation", (w.b1_number, "1"))
    assert excinfo.value.errors[0].code == "unknown_card"
    assert services.get_batch(session, "0" * 32, w.b) is None


def test_balances_that_moved_after_the_preview_refuse_the_whole_batch(session, clock, world):
    w = world
    first = prepare(session, w, clock, "allocation", (w.a1_number, "6000"))
    second = prepare(session, w, clock, "allocation", (w.a2_number, "3000"), (w.a3_number, "3000"))
    services.confirm_batch(session, first, actor_id=w.admin_a, now=clock.now())
    session.commit()
    with pytest.raises(services.FundsError) as excinfo:
        services.confirm_batch(session, second, actor_id=w.admin_a, now=clock.now())
    session.rollback()
    assert excinfo.value.code == "insufficient"
    assert reserve(session, w.a2) == 0 and reserve(session, w.a3) == 0  # nothing applied
    assert session.get(FundsBatch, second.id).status == "draft"


def test_a_card_lost_after_the_preview_is_refused_at_confirmation(session, clock, world):
    w = world
    batch = prepare(session, w, clock, "allocation", (w.a1_number, "1"), (w.a2_number, "1"))
    from portal.cards.models import Card

    session.get(Card, w.a2).status = "lost"
    session.commit()
    with pytest.raises(PlanRejected):
        services.confirm_batch(session, batch, actor_id=w.admin_a, now=clock.now())
    session.rollback()
    assert reserve(session, w.a1) == 0


def test_an_old_preview_must_be_redone(session, clock, world):
    w = world
    batch = prepare(session, w, clock, "allocation", (w.a1_number, "1"))
    with pytest.raises(services.FundsError) as excinfo:
        services.confirm_batch(session, batch, actor_id=w.admin_a, now=clock.now() + timedelta(hours=2))
    assert excinfo.value.code == "draft_expired"


def test_a_three_hundred_card_allocation_is_one_ledger_batch(session, clock, world, create_card):
    from portal.customers.models import Customer

    w = world
    customer = session.get(Customer, w.a)
    cards = [create_card(customer) for _ in range(300)]
    session.commit()
    batch = prepare(session, w, clock, "allocation", *[(c.number, "1.01") for c in cards])
    services.confirm_batch(session, batch, actor_id=w.admin_a, now=clock.now())
    session.commit()
    assert unit(session, w.a) == UNIT_A - 300 * 101
    assert {t.batch_id for t in session.query(ledger.Transfer).filter(ledger.Transfer.code == "allocation")} == {
        f"alloc:{batch.id}"
    }


def test_deposit_is_recorded_once_per_key_and_per_bank_reference(session, clock, world):
    from portal.customers.models import Customer

    w = world
    customer = session.get(Customer, w.b)
    kwargs = dict(customer=customer, amount=50000, bank_reference="BOC-2026-0001", memo="", actor_id=w.staff_r1,
                  now=clock.now())  # fmt: skip
    first = services.record_deposit(session, key="k1", **kwargs)
    again = services.record_deposit(session, key="k1", **kwargs)
    session.commit()
    assert first.id == again.id
    assert unit(session, w.b) == 50000
    with pytest.raises(services.FundsError) as excinfo:
        services.record_deposit(session, key="k2", **kwargs)
    assert excinfo.value.code == "duplicate_reference"
    session.rollback()
    assert unit(session, w.b) == 50000
    rows = services.deposits_for(session, region_id=w.r1).rows
    assert [d.bank_reference for d, _c in rows] == ["BOC-2026-0001"]
    assert services.deposits_for(session, region_id=w.r2).total == 0
