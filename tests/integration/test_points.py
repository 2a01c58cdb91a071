"""Points on the POINTS ledger: configurable rules, redemption and FIFO expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal import ledger
from portal.points import services as points
from portal.points.models import PointsRule
from portal.purchases.authorization import AuthorizationError, PurchaseRequest, authorize
from portal.stations.services import redeem_at_station
from tests.builders import CARD_NUMBER, points_balance, station_setup
from tests.conftest import T0


@pytest.fixture
def world(session):
    w = station_setup(session, now=T0, purse_fen=1_000_000)
    session.commit()
    return w


def buy(session, world, seq, litres_ml, at=T0, product="92", price=750):
    request = PurchaseRequest(CARD_NUMBER, product, litres_ml, price, litres_ml * price // 1000, seq, at)
    return authorize(session, world.terminal, request, now=at).purchase


def test_rules_from_the_table_apply_per_region(session, world):
    session.add(PointsRule(product_kind="gasoline", region_id=world.region.id, step_fen=100, points_per_step=3))
    session.flush()
    assert buy(session, world, 1, 40_000).points == 900  # 300 yuan x 3


def test_redeem_at_station_in_blocks(session, world):
    buy(session, world, 1, 200_000)  # 1,500 yuan: 1,500 points
    result = redeem_at_station(
        session, world.terminal, card_number=CARD_NUMBER, points_amount=1000, terminal_seq=2, now=T0
    )
    assert result.redemption.value_fen == 1000 and result.balance_after == 500
    again = redeem_at_station(
        session, world.terminal, card_number=CARD_NUMBER, points_amount=1000, terminal_seq=2, now=T0
    )
    assert again.replayed and points_balance(session, world.card) == 500
    with pytest.raises(AuthorizationError) as caught:
        redeem_at_station(session, world.terminal, card_number=CARD_NUMBER, points_amount=1000, terminal_seq=3, now=T0)
    assert caught.value.code == "insufficient_points"
    with pytest.raises(AuthorizationError) as caught:
        redeem_at_station(session, world.terminal, card_number=CARD_NUMBER, points_amount=500, terminal_seq=4, now=T0)
    assert caught.value.code == "bad_points"


def test_portal_redemption(session, world):
    buy(session, world, 1, 200_000)
    request = points.RedeemRequest(
        card_id=world.card.id,
        customer_id=world.customer.id,
        points=1000,
        channel="portal",
        transfer_id="portal-redeem:abc",
    )
    assert points.redeem(session, request, now=T0).value_fen == 1000
    assert points_balance(session, world.card) == 500


def test_expiry_takes_only_unconsumed_old_points_once(session, world):
    old = T0 - timedelta(days=800)
    buy(session, world, 1, 200_000, at=old)  # 1,500 points, old
    buy(session, world, 2, 40_000)  # 300 points, new
    request = points.RedeemRequest(
        card_id=world.card.id,
        customer_id=world.customer.id,
        points=1000,
        channel="portal",
        transfer_id="portal-redeem:1",
    )
    points.redeem(session, request, now=T0)  # consumes the oldest first
    result = points.expire_points(session, now=T0, days=730)
    assert (result.accounts, result.points) == (1, 500)
    assert points_balance(session, world.card) == 300
    assert points.expire_points(session, now=T0, days=730).points == 0
    assert ledger.balance(ledger.system_account(session, "points_expired", ledger.POINTS)) == 500
    assert ledger.verify(session).ok
