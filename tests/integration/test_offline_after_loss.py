"""Offline purchases uploaded after a loss report: believed until the loss takes full effect,
refused (nothing posted) after it, directly and through card sync."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.cards import loss
from portal.chips.models import PurchaseUpload
from portal.chips.sync import sync_card
from portal.chips.virtual import VirtualReader
from portal.ledger.models import Transfer
from portal.purchases.models import Purchase
from portal.purchases.offline import OfflinePurchaseRefused, record_offline_purchase
from tests.builders import points_balance, purse_balance, station_setup
from tests.conftest import T0

EFFECT = loss.LossPolicy().effect


@pytest.fixture
def world(session):
    w = station_setup(session, now=T0 - timedelta(days=2), purse_fen=100_000)
    session.commit()
    return w


def offline(session, card, counter, at, amount=7_500):
    return record_offline_purchase(
        session, card, chip_counter=counter, station_code="ST110001", product_code="92",
        litres_ml=10_000, amount_fen=amount, at=at, now=T0 + timedelta(days=2),
    )  # fmt: skip


def purchase_transfers(session) -> int:
    return session.scalar(select(func.count(Transfer.id)).where(Transfer.code == "purchase"))


def test_made_before_full_effect_is_accepted_with_points(session, world):
    loss.report_loss(session, world.card, reason="lost", actor_id=None, now=T0)
    purchase = offline(session, world.card, 1, at=T0 + EFFECT - timedelta(minutes=1))
    session.commit()
    assert purchase.status == "approved" and purchase.source == "offline"
    assert purse_balance(session, world.card) == 92_500
    assert points_balance(session, world.card) == 75  # credits still land on the frozen points account


def test_made_after_full_effect_is_refused_and_nothing_is_posted(session, world):
    loss.report_loss(session, world.card, reason="stolen", actor_id=None, now=T0)
    session.commit()
    for at in (T0 + EFFECT, T0 + EFFECT + timedelta(hours=5)):
        with pytest.raises(OfflinePurchaseRefused) as caught:
            offline(session, world.card, 2, at=at)
        assert caught.value.code == "card_lost" and caught.value.status == 409
        assert "full effect" in caught.value.message
    session.rollback()
    assert purse_balance(session, world.card) == 100_000
    assert purchase_transfers(session) == 0
    assert session.scalar(select(func.count(Purchase.id))) == 0


def test_a_cancelled_report_no_longer_refuses(session, world):
    report = loss.report_loss(session, world.card, reason="lost", actor_id=None, now=T0)
    loss.cancel_loss(session, report, actor_id=None, now=T0 + timedelta(hours=30), password_confirmed=True)
    assert offline(session, world.card, 3, at=T0 + timedelta(hours=29)).status == "approved"


def test_card_sync_reports_the_refusal_and_posts_only_what_came_before(session, world):
    reader = VirtualReader(session, now=T0)
    before = T0 + timedelta(hours=2)
    after = T0 + EFFECT + timedelta(hours=1)
    reader.simulate_purchase(world.card.number, amount=7_500, at=before, station_code="ST110001",
                             product_code="92", litres_ml=10_000)  # fmt: skip
    reader.simulate_purchase(world.card.number, amount=3_750, at=after, station_code="ST110001",
                             product_code="92", litres_ml=5_000)  # fmt: skip
    loss.report_loss(session, world.card, reason="lost", actor_id=None, now=T0)
    session.commit()

    now = T0 + timedelta(days=2)
    result = sync_card(session, reader, world.card, now=now, actor_id=None)
    session.commit()
    assert (result.purchases_uploaded, result.purchases_total) == (1, 7_500)
    assert len(result.problems) == 1
    code, detail = result.problems[0]
    assert code == "purchase_refused" and detail.startswith("#2:") and "full effect" in detail
    assert purse_balance(session, world.card) == 92_500
    assert purchase_transfers(session) == 1
    assert [p.at for p in session.scalars(select(Purchase))] == [before]

    again = sync_card(session, reader, world.card, now=now, actor_id=None)
    session.commit()
    assert again.purchases_uploaded == 0 and [c for c, _ in again.problems] == ["purchase_refused"]
    assert session.scalar(select(func.count(PurchaseUpload.id))) == 1
    assert purse_balance(session, world.card) == 92_500
