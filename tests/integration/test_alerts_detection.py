"""Each anomaly fires, explains itself with figures, and fires once per cause."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.alerts.detection import distance_km
from portal.alerts.models import Alert
from portal.alerts.services import acknowledge, open_alerts
from portal.purchases.authorization import PurchaseRequest, authorize
from portal.purchases.offline import record_offline_purchase
from tests.builders import CARD_NUMBER, set_controls, station_setup
from tests.conftest import T0


@pytest.fixture
def world(session):
    w = station_setup(session, now=T0, purse_fen=1_000_000)
    session.commit()
    return w


def buy(session, terminal, seq, litres_ml=20_000, at=T0):
    request = PurchaseRequest(CARD_NUMBER, "92", litres_ml, 750, litres_ml * 750 // 1000, seq, at)
    return authorize(session, terminal, request, now=at).purchase


def kinds(session):
    return sorted(a.kind for a in session.scalars(select(Alert)))


def test_normal_purchase_raises_nothing(session, world):
    buy(session, world.terminal, 1)
    assert kinds(session) == []


def test_fill_larger_than_the_tank(session, world):
    buy(session, world.terminal, 1, litres_ml=70_000)  # tank holds 60 L
    alert = session.scalar(select(Alert))
    assert alert.kind == "tank_overfill" and alert.detail["litres_ml"] == 70_000 and alert.detail["tank_ml"] == 60_000


def test_more_fills_a_day_than_the_fleet_normal(session, world):
    for seq in range(1, 5):
        buy(session, world.terminal, seq, litres_ml=5_000, at=T0 + timedelta(minutes=seq))
    assert kinds(session) == ["too_many_fills"]
    buy(session, world.terminal, 5, litres_ml=5_000, at=T0 + timedelta(minutes=5))
    assert kinds(session) == ["too_many_fills"]  # once a day
    detail = session.scalar(select(Alert)).detail
    assert detail["count"] == 4 and detail["threshold"] == 3


def test_two_stations_too_far_apart(session, world):
    buy(session, world.terminal, 1, at=T0)
    buy(session, world.far_terminal, 1, at=T0 + timedelta(hours=2))  # ~1,070 km in 2 h
    alert = session.scalar(select(Alert).where(Alert.kind == "impossible_travel"))
    assert alert.detail["minutes"] == 120 and 1000 < alert.detail["km"] < 1100


def test_far_apart_with_enough_time_is_fine(session, world):
    buy(session, world.terminal, 1, at=T0)
    buy(session, world.far_terminal, 1, at=T0 + timedelta(hours=10))
    assert "impossible_travel" not in kinds(session)


def test_distance_km():
    assert round(distance_km(39_913_818, 116_363_625, 31_230_416, 121_473_701)) in range(1060, 1080)


def test_night_fill_and_fill_outside_home_region(session, world):
    night = T0 - timedelta(hours=8)  # 02:00 Shanghai
    buy(session, world.far_terminal, 1, at=night)
    assert kinds(session) == ["outside_hours", "outside_region"]


def test_offline_fill_outside_the_card_controls(session, world):
    set_controls(
        session, world.card, hours_start_min=6 * 60, hours_end_min=9 * 60, allowed_region_ids=[world.region.id]
    )
    record_offline_purchase(
        session,
        world.card,
        chip_counter=1,
        station_code="ST310001",
        product_code="92",
        litres_ml=10_000,
        amount_fen=7_500,
        at=T0,
        now=T0,
    )
    alerts = {a.kind: a for a in session.scalars(select(Alert))}
    assert set(alerts) == {"outside_hours", "outside_region"}
    assert alerts["outside_hours"].detail == {"time": "10:00", "allowed": "06:00-09:00"}


def test_repeated_declines(session, world):
    world.card.status = "lost"
    for seq in range(1, 4):
        buy(session, world.terminal, seq, at=T0 + timedelta(minutes=seq))
    alert = session.scalar(select(Alert))
    assert alert.kind == "repeated_declines" and alert.detail["count"] == 3 and alert.detail["last_code"] == "card_lost"


def test_open_alerts_and_acknowledge(session, world):
    from portal.auth.services import create_user

    admin = create_user(
        session,
        username="admin1",
        password="Correct-Horse-9",
        role="admin",
        customer_id=world.customer.id,
        rounds=4,
        now=T0,
    )
    buy(session, world.terminal, 1, litres_ml=70_000)
    [alert] = open_alerts(session, world.customer.id, 10)
    acknowledge(session, alert, user_id=admin.id, now=T0)
    assert open_alerts(session, world.customer.id, 10) == []
    assert alert.acknowledged_by == admin.id
