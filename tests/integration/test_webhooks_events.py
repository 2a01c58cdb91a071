"""Every event type is emitted by the service that makes the change, in its transaction, and only
for customers with an enabled endpoint subscribed to it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.cards import loss
from portal.cards.models import Card
from portal.chips import loads
from portal.chips.virtual import VirtualReader
from portal.funds import services as funds
from portal.funds.plan import RawLine
from portal.purchases.authorization import PurchaseRequest, authorize
from portal.purchases.offline import record_offline_purchase
from portal.purchases.refunds import refund
from portal.webhooks.events import EVENT_TYPES
from portal.webhooks.models import WebhookDelivery, WebhookEvent
from tests.builders import CARD_NUMBER, PRICE_92, funds_customers, station_setup
from tests.conftest import T0
from tests.webhook_receiver import register

URL = "http://127.0.0.1:9/hooks"


def emitted(session, event_type: str) -> list[dict]:
    rows = session.scalars(
        select(WebhookEvent).where(WebhookEvent.type == event_type).order_by(WebhookEvent.created_at)
    )
    return [json.loads(row.payload) for row in rows]


def only_types(session) -> list[str]:
    return list(session.scalars(select(WebhookEvent.type).order_by(WebhookEvent.created_at, WebhookEvent.type)))


# --- purchases and alerts ---------------------------------------------------------------------------


@pytest.fixture
def station(session):
    w = station_setup(session, now=T0)
    register(session, w.customer.id, URL, EVENT_TYPES, now=T0, threshold_fen=100)
    session.commit()
    return w


def pump(session, w, *, seq=1, litres_ml=10_000, at=T0):
    request = PurchaseRequest(CARD_NUMBER, "92", litres_ml, PRICE_92, litres_ml * PRICE_92 // 1000, seq, at)
    answer = authorize(session, w.terminal, request, now=at)
    session.commit()
    return answer


def test_an_approved_purchase_emits_purchase_approved(session, station):
    answer = pump(session, station)
    (event,) = emitted(session, "purchase.approved")
    assert event["data"]["purchase_id"] == answer.purchase.id and event["data"]["amount_fen"] == 7500
    assert event["data"]["balance_after_fen"] == 92_500 and event["data"]["points"] == answer.purchase.points
    assert event["customer_id"] == station.customer.id and event["id"].startswith("evt_")
    assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1


def test_a_declined_purchase_emits_purchase_declined(session, station):
    pump(session, station, litres_ml=200_000)  # 1,500 yuan: more than the purse holds
    (event,) = emitted(session, "purchase.declined")
    assert event["data"]["status"] == "declined" and event["data"]["decline_code"] == "insufficient_balance"
    assert emitted(session, "purchase.approved") == []


def test_a_refund_emits_purchase_refunded(session, station):
    original = pump(session, station).purchase
    refund(session, station.terminal, purchase_id=original.id, terminal_seq=2, now=T0 + timedelta(minutes=5))
    session.commit()
    (event,) = emitted(session, "purchase.refunded")
    assert event["data"]["kind"] == "refund" and event["data"]["refund_of_purchase_id"] == original.id
    assert event["data"]["amount_fen"] == original.amount_fen


def test_an_offline_purchase_emits_purchase_approved(session, station):
    record_offline_purchase(session, station.card, chip_counter=5, station_code="ST110001", product_code="0",
                            litres_ml=50_000, amount_fen=36_000, at=T0 - timedelta(days=1), now=T0)  # fmt: skip
    session.commit()
    (event,) = emitted(session, "purchase.approved")
    assert event["data"]["source"] == "offline" and event["data"]["amount_fen"] == 36_000


def test_an_anomaly_emits_alert_raised(session, station):
    answer = pump(session, station, litres_ml=70_000)  # 70 l into a 60 l tank
    (event,) = emitted(session, "alert.raised")
    assert event["data"]["kind"] == "tank_overfill" and event["data"]["purchase_id"] == answer.purchase.id
    assert event["data"]["card_number"] == CARD_NUMBER and event["data"]["detail"]["tank_ml"] == 60_000


def test_only_subscribed_types_are_written(session):
    w = station_setup(session, now=T0)
    register(session, w.customer.id, URL, ["purchase.declined"], now=T0)
    session.commit()
    pump(session, w)
    assert only_types(session) == []


# --- cards, loads, funds ------------------------------------------------------------------------------


@pytest.fixture
def fleet(session):
    w = funds_customers(session, T0)
    register(session, w.a, URL, EVENT_TYPES, now=T0, threshold_fen=500_000)
    session.commit()
    return w


def allocate(session, w, *amounts, kind="allocation", at=T0):
    cards = (w.a1_number, w.a2_number, w.a3_number)
    lines = [RawLine(n, cards[n - 1], str(amount)) for n, amount in enumerate(amounts, 1)]
    batch = funds.prepare_batch(session, customer_id=w.a, kind=kind, lines=lines, actor_id=w.admin_a, now=at)
    funds.confirm_batch(session, batch, actor_id=w.admin_a, now=at)
    session.commit()
    return batch


def test_allocation_and_collection_emit_confirmed(session, fleet):
    batch = allocate(session, fleet, 100, 50)
    (event,) = emitted(session, "allocation.confirmed")
    assert event["data"]["batch_id"] == batch.id and event["data"]["total_fen"] == 15_000
    assert [line["amount_fen"] for line in event["data"]["lines"]] == [10_000, 5_000]
    assert event["data"]["lines"][0]["card_number"] == fleet.a1_number
    allocate(session, fleet, 30, kind="collection", at=T0 + timedelta(minutes=1))
    (event,) = emitted(session, "collection.confirmed")
    assert event["data"]["kind"] == "collection" and event["data"]["total_fen"] == 3_000


def test_an_allocation_crossing_the_threshold_emits_below_threshold_once(session, fleet):
    allocate(session, fleet, 4_000)  # 10,000 -> 6,000 yuan: still above 5,000
    assert emitted(session, "unit_balance.below_threshold") == []
    allocate(session, fleet, 1_500, at=T0 + timedelta(minutes=1))  # 6,000 -> 4,500: crosses
    (event,) = emitted(session, "unit_balance.below_threshold")
    assert event["data"]["unit_balance_fen"] == 450_000 and event["data"]["previous_balance_fen"] == 600_000
    allocate(session, fleet, 100, at=T0 + timedelta(minutes=2))  # below already: no second event
    assert len(emitted(session, "unit_balance.below_threshold")) == 1


def test_loads_emit_waiting_written_and_expired(session, fleet):
    allocate(session, fleet, 500, 500)
    card = session.get(Card, fleet.a1)
    load = loads.request_load(session, load_id="L1", card=card, amount=10_000, actor_id=fleet.admin_a, now=T0)
    session.commit()
    (waiting,) = emitted(session, "load.waiting")
    assert waiting["data"]["load_id"] == "L1" and waiting["data"]["amount_fen"] == 10_000
    loads.write_load(session, VirtualReader(session, now=T0), load, now=T0, actor_id=fleet.admin_a)
    session.commit()
    (written,) = emitted(session, "load.written")
    assert written["data"]["status"] == "loaded" and written["data"]["card_number"] == fleet.a1_number
    other = session.get(Card, fleet.a2)
    loads.request_load(session, load_id="L2", card=other, amount=5_000, actor_id=fleet.admin_a, now=T0,
                       expiry=timedelta(hours=1))  # fmt: skip
    session.commit()
    loads.expire_overdue_loads(session, now=T0 + timedelta(hours=2), end_batch=session.commit)
    (expired,) = emitted(session, "load.expired")
    assert expired["data"]["load_id"] == "L2" and expired["data"]["status"] == "expired"


def test_a_loss_emits_reported_then_effective_when_it_takes_effect(session, fleet):
    card = session.get(Card, fleet.a1)
    report = loss.report_loss(session, card, reason="lost", actor_id=fleet.admin_a, now=T0)
    session.commit()
    (reported,) = emitted(session, "card.reported_lost")
    assert reported["data"]["loss_report_id"] == report.id and reported["data"]["card_number"] == fleet.a1_number
    (effective,) = emitted(session, "card.loss_effective")
    assert effective["timestamp"] == "2026-03-03T10:00:00+08:00"  # 24 h later
    due = session.scalars(select(WebhookDelivery.next_attempt_at).join(WebhookEvent).where(
        WebhookEvent.type == "card.loss_effective")).one()  # fmt: skip
    assert due == T0 + timedelta(hours=24)
    new = loss.replace_card(session, report, actor_id=fleet.admin_a, now=T0 + timedelta(days=7),
                            password_confirmed=True, idempotency_key="k1")  # fmt: skip
    session.commit()
    (replaced,) = emitted(session, "card.replaced")
    assert replaced["data"]["new_card_number"] == new.number and replaced["data"]["card_number"] == fleet.a1_number


def test_a_cancelled_loss_withdraws_its_effective_event(session, fleet):
    card = session.get(Card, fleet.a1)
    report = loss.report_loss(session, card, reason="lost", actor_id=fleet.admin_a, now=T0)
    session.commit()
    loss.cancel_loss(session, report, actor_id=fleet.admin_a, now=T0 + timedelta(hours=1), password_confirmed=True)
    session.commit()
    statuses = dict(session.execute(select(WebhookEvent.type, WebhookDelivery.status).join(WebhookDelivery)).all())
    assert statuses == {"card.reported_lost": "pending", "card.loss_effective": "cancelled"}


def test_another_customer_writes_nothing(session, fleet):
    allocate(session, fleet, 100)
    before = session.scalar(select(func.count()).select_from(WebhookEvent))
    card = session.get(Card, fleet.b1)
    loss.report_loss(session, card, reason="lost", actor_id=fleet.admin_b, now=T0)
    session.commit()
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == before


def test_every_event_type_is_covered_here():
    import inspect
    import sys

    source = inspect.getsource(sys.modules[__name__])
    assert all(f'"{name}"' in source for name in EVENT_TYPES)
