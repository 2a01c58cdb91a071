"""Loads, the virtual reader, read chip and sync, through the services."""

from datetime import timedelta

import pytest

from portal import ledger
from portal.cards.models import Card
from portal.chips import loads
from portal.chips.models import ChipSync, LoadRequest, PurchaseUpload, VirtualChip
from portal.chips.reader import ReaderError
from portal.chips.sync import compare_chip, sync_card
from portal.chips.virtual import VirtualReader
from portal.funds import services
from portal.funds.plan import RawLine
from tests.builders import funds_customers
from tests.builders import purse_balance as purse
from tests.builders import reserve_balance as reserve


@pytest.fixture
def world(session, clock):
    w = funds_customers(session, clock.now())
    batch = services.prepare_batch(
        session, customer_id=w.a, kind="allocation", lines=[RawLine(1, w.a1_number, "500"), RawLine(2, w.a2_number, "500")],
        actor_id=w.admin_a, now=clock.now(),
    )  # fmt: skip
    services.confirm_batch(session, batch, actor_id=w.admin_a, now=clock.now())
    session.commit()
    return w


def card(session, card_id) -> Card:
    return session.get(Card, card_id)


def request(session, w, clock, amount=10000, load_id="L1", card_id=None):
    load = loads.request_load(
        session, load_id=load_id, card=card(session, card_id or w.a1), amount=amount, actor_id=w.admin_a,
        now=clock.now(),
    )  # fmt: skip
    session.commit()
    return load


def test_a_load_holds_the_reserve_then_posts_when_the_chip_is_written(session, clock, world):
    w = world
    load = request(session, w, clock)
    assert reserve(session, w.a1) == 50000
    assert ledger.available(ledger.card_account(session, w.a1, "reserve")) == 40000
    assert [x.id for x in loads.pending_loads_for_card(session, w.a1)] == ["L1"]
    reader = VirtualReader(session, now=clock.now())
    assert loads.write_load(session, reader, load, now=clock.now(), actor_id=w.admin_a)
    session.commit()
    assert load.status == "loaded" and load.chip_counter == 1
    assert reserve(session, w.a1) == 40000 and purse(session, w.a1) == 10000
    assert reader.read(w.a1_number).purse_balance == 10000
    assert loads.pending_loads_for_card(session, w.a1) == []
    # the same form submitted again does not hold a second time
    assert request(session, w, clock).status == "loaded"
    assert reserve(session, w.a1) == 40000
    assert ledger.verify(session).ok


def test_a_load_larger_than_the_reserve_or_on_a_lost_card_is_refused(session, clock, world):
    w = world
    with pytest.raises(loads.LoadError) as excinfo:
        request(session, w, clock, amount=50001)
    assert excinfo.value.code == "reserve_insufficient"
    session.rollback()
    with pytest.raises(loads.LoadError) as excinfo:
        request(session, w, clock, card_id=w.a_lost)
    assert excinfo.value.code == "card_not_active"
    session.rollback()
    assert session.query(LoadRequest).count() == 0


def test_cancel_and_expiry_release_the_reserve(session, clock, world):
    w = world
    first = request(session, w, clock, load_id="L1")
    second = request(session, w, clock, load_id="L2", amount=5000)
    loads.cancel_load(session, first, now=clock.now(), actor_id=w.admin_a)
    session.commit()
    assert first.status == "cancelled"
    assert ledger.available(ledger.card_account(session, w.a1, "reserve")) == 45000
    clock.advance(timedelta(hours=73))
    assert loads.expire_loads(session, now=clock.now()) == 1
    session.commit()
    assert second.status == "expired"
    assert ledger.available(ledger.card_account(session, w.a1, "reserve")) == 50000
    with pytest.raises(loads.LoadError):
        loads.write_load(session, VirtualReader(session, now=clock.now()), second, now=clock.now(), actor_id=None)
    assert purse(session, w.a1) == 0
    assert ledger.verify(session).ok


def test_a_credit_retried_on_the_chip_is_not_credited_twice(session, clock, world):
    w = world
    reader = VirtualReader(session, now=clock.now())
    one = reader.credit_purse(w.a1_number, amount=100, load_id="X", at=clock.now())
    two = reader.credit_purse(w.a1_number, amount=100, load_id="X", at=clock.now())
    assert one == two and reader.read(w.a1_number).purse_balance == 0 + 100


def test_sync_uploads_offline_purchases_once_and_writes_controls_and_blocked_state(session, clock, world):
    w = world
    reader = VirtualReader(session, now=clock.now())
    load = request(session, w, clock, amount=20000)
    loads.write_load(session, reader, load, now=clock.now(), actor_id=w.admin_a)
    session.commit()
    reader.simulate_purchase(w.a1_number, amount=7550, at=clock.now(), station_code="ST110001", product_code="92",
                             litres_ml=10000)  # fmt: skip
    reader.simulate_purchase(w.a1_number, amount=450, at=clock.now(), station_code="ST110001", product_code="92")
    reader.simulate_purchase(w.a1_number, amount=1, at=clock.now(), station_code="NOWHERE", product_code="92")
    with pytest.raises(ReaderError):
        reader.simulate_purchase(w.a1_number, amount=20000, at=clock.now())
    session.commit()
    rows = {r.key: r for r in compare_chip(session, card(session, w.a1), reader.read(w.a1_number))}
    assert rows["purse_balance"].differs and rows["purse_balance"].chip == 11999 and rows["purse_balance"].host == 20000
    assert rows["purchases_not_uploaded"].chip == 3

    result = sync_card(session, reader, card(session, w.a1), now=clock.now(), actor_id=w.admin_a)
    session.commit()
    assert (result.purchases_uploaded, result.purchases_total) == (2, 8000)
    assert [code for code, _detail in result.problems] == ["purchase_refused"]  # unknown station: reported
    assert purse(session, w.a1) == 12000
    again = sync_card(session, reader, card(session, w.a1), now=clock.now(), actor_id=w.admin_a)
    session.commit()
    assert again.purchases_uploaded == 0 and purse(session, w.a1) == 12000
    assert session.query(PurchaseUpload).count() == 2
    from portal.purchases.models import Purchase

    booked = session.query(Purchase).filter_by(card_id=w.a1, source="offline").order_by(Purchase.chip_counter).all()
    assert [(p.chip_counter, p.amount_fen, p.transfer_id) for p in booked] == [
        (2, 7550, f"chip-purchase:{w.a1}:2"),
        (3, 450, f"chip-purchase:{w.a1}:3"),
    ]
    assert session.query(ChipSync).count() == 2
    rows = compare_chip(session, card(session, w.a1), reader.read(w.a1_number))
    assert [r.key for r in rows if r.differs] == ["purse_balance", "purchases_not_uploaded"]

    # the card is reported lost: the next sync blacklists the chip and writes no load
    pending = request(session, w, clock, amount=1000, load_id="L9")
    card(session, w.a1).status = "lost"
    session.commit()
    result = sync_card(session, reader, card(session, w.a1), now=clock.now(), actor_id=w.admin_a)
    session.commit()
    assert result.chip.blocked and result.loads_applied == 0
    assert pending.status == "pending"
    assert ledger.verify(session).ok


def test_sync_applies_waiting_loads_and_posts_loads_the_host_did_not_hear_about(session, clock, world):
    w = world
    reader = VirtualReader(session, now=clock.now())
    waiting = request(session, w, clock, amount=3000, load_id="W1")
    lost_reply = request(session, w, clock, amount=2000, load_id="W2")
    # the chip took W2 but the host never heard back (connection lost after the write)
    reader.credit_purse(w.a1_number, amount=2000, load_id="W2", at=clock.now())
    session.commit()
    result = sync_card(session, reader, card(session, w.a1), now=clock.now(), actor_id=w.admin_a)
    session.commit()
    assert (result.loads_reconciled, result.loads_applied) == (1, 1)
    assert waiting.status == lost_reply.status == "loaded"
    assert purse(session, w.a1) == 5000 == reader.read(w.a1_number).purse_balance
    assert ledger.verify(session).ok


def test_controls_from_the_cards_area_reach_the_chip(session, clock, world):
    w = world
    try:
        from portal.cards.models import CardControls
    except ImportError:  # pragma: no cover - the cards area has not landed
        pytest.skip("no card controls yet")
    controls = {"version": 3, "per_purchase_limit_fen": 50000, "allowed_products": ["92"]}
    session.add(CardControls(card_id=w.a2, customer_id=w.a, **controls))
    session.commit()
    reader = VirtualReader(session, now=clock.now())
    sync_card(session, reader, card(session, w.a2), now=clock.now(), actor_id=w.admin_a)
    session.commit()
    chip = session.query(VirtualChip).filter_by(card_id=w.a2).one()
    assert chip.controls_version == 3
    assert chip.controls["per_purchase_limit_fen"] == 50000


def test_the_state_filter_of_the_loads_list_is_the_status_pages_show(session, clock, world):
    """`loads_page(state=...)` selects exactly the loads `shown_status` shows in that state, a lapsed
    hold counting as expired before the expiry job voids it."""
    w = world
    request(session, w, clock, amount=100, load_id="written")
    loads.write_load(session, VirtualReader(session, now=clock.now()), session.get(LoadRequest, "written"),
                     now=clock.now(), actor_id=w.admin_a)  # fmt: skip
    loads.cancel_load(session, request(session, w, clock, amount=100, load_id="cancelled"), now=clock.now(),
                      actor_id=w.admin_a)  # fmt: skip
    request(session, w, clock, amount=100, load_id="lapsed")
    clock.advance(loads.DEFAULT_LOAD_EXPIRY - timedelta(hours=1))
    request(session, w, clock, amount=100, load_id="waiting")
    clock.advance(timedelta(hours=2))
    session.commit()
    now = clock.now()
    everything = loads.loads_page(session, w.a, limit=50).rows
    for state in ("pending", "loaded", "cancelled", "expired"):
        found = {load.id for load in loads.loads_page(session, w.a, state=state, now=now, limit=50).rows}
        assert found == {load.id for load in everything if loads.shown_status(load, now) == state}, state
        assert found, state
    assert loads.load_expiry(None) == loads.DEFAULT_LOAD_EXPIRY
    assert loads.load_expiry(2) == loads.load_expiry(timedelta(hours=2)) == timedelta(hours=2)
