"""The two ways a purchase is booked, at the pump (online, `authorize`) and from the chip at card
sync (offline, `record_offline_purchase`), earn the same points and raise the same alerts for the
same purchase: both read the points rules and the alert facts by one definition each."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.alerts.models import Alert
from portal.points import services as points
from portal.points.models import PointsRule
from portal.purchases.authorization import PurchaseRequest, authorize
from portal.purchases.models import Purchase
from portal.purchases.offline import record_offline_purchase
from tests.builders import CARD_NUMBER, PRICE_92, station_setup
from tests.conftest import T0

NIGHT = T0 - timedelta(hours=8)  # 02:00 in Shanghai


@pytest.fixture
def world(session):
    w = station_setup(session, now=T0, purse_fen=2_000_000)
    session.add_all(
        [
            PointsRule(product_kind="gasoline", step_fen=100, points_per_step=2),
            PointsRule(product_kind="gasoline", region_id=w.far_region.id, step_fen=100, points_per_step=3),
            PointsRule(
                product_kind="gasoline", product_code="92", region_id=w.region.id, step_fen=50, points_per_step=1
            ),
            PointsRule(product_kind="diesel", step_fen=100, points_per_step=9),
        ]
    )
    session.commit()
    return w


def online(session, terminal, seq, *, litres_ml, at):
    request = PurchaseRequest(CARD_NUMBER, "92", litres_ml, PRICE_92, litres_ml * PRICE_92 // 1000, seq, at)
    answer = authorize(session, terminal, request, now=at)
    assert answer.approved, answer.code
    return answer.purchase


def offline(session, world, station, *, litres_ml, at):
    return record_offline_purchase(
        session,
        world.card,
        chip_counter=1,
        station_code=station.code,
        product_code="92",
        litres_ml=litres_ml,
        amount_fen=litres_ml * PRICE_92 // 1000,
        unit_price_fen=PRICE_92,
        at=at,
        now=at,
    )


def booked(session, purchase: Purchase):
    """What the booking decided: the points, and each alert the purchase raised with its figures."""
    alerts = session.scalars(select(Alert).where(Alert.purchase_id == purchase.id))
    return purchase.points, sorted((a.kind, sorted(a.detail.items())) for a in alerts)


#: (earlier fills at the home station: minutes after T0; the purchase: far station?, litres, at)
SCENARIOS = {
    "ordinary": ([], False, 20_000, T0),
    "tank overfill": ([], False, 70_000, T0),
    "night, outside the home region": ([], True, 20_000, NIGHT),
    "fourth fill of the day": ([-30, -20, -10], False, 5_000, T0),
    "impossible travel": ([-60], True, 20_000, T0 + timedelta(minutes=60)),
    "travel with time enough": ([-600], True, 20_000, T0),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_online_and_offline_book_the_same_points_and_alerts(session, world, scenario):
    earlier, far, litres_ml, at = SCENARIOS[scenario]
    for seq, minutes in enumerate(earlier, start=1):
        online(session, world.terminal, seq, litres_ml=5_000, at=T0 + timedelta(minutes=minutes))
    session.commit()
    terminal, station = (world.far_terminal, world.far_station) if far else (world.terminal, world.station)

    results = []
    for book in (
        lambda: online(session, terminal, 100, litres_ml=litres_ml, at=at),
        lambda: offline(session, world, station, litres_ml=litres_ml, at=at),
    ):
        nested = session.begin_nested()
        results.append(booked(session, book()))
        nested.rollback()
    assert results[0] == results[1]
    assert results[0][0] > 0
    if scenario != "ordinary" and scenario != "travel with time enough":
        assert results[0][1], "the scenario should raise an alert"


def test_an_offline_purchase_records_the_cards_vehicle_plate_as_an_online_one_does(session, world):
    plates = []
    for book in (
        lambda: online(session, world.terminal, 100, litres_ml=20_000, at=T0),
        lambda: offline(session, world, world.station, litres_ml=20_000, at=T0),
    ):
        nested = session.begin_nested()
        plates.append(book().plate)
        nested.rollback()
    assert plates == [world.vehicle.plate, world.vehicle.plate] == ["京A12345", "京A12345"]


def test_the_rules_read_for_a_purchase_are_those_that_apply(session, world):
    """The SQL narrowing (`points.models.rules_that_may_apply`) keeps exactly the rules that
    `points.rules.Rule.applies` accepts."""
    session.add_all(
        [
            PointsRule(product_kind="diesel", product_code="0", step_fen=100, points_per_step=5),
            PointsRule(product_kind="gasoline", step_fen=100, points_per_step=4, active=False),
        ]
    )
    session.flush()
    every = points.load_rules(session)
    for kind, code in (("gasoline", "92"), ("diesel", "0"), ("gasoline", "0")):
        for region in (world.region, world.far_region):
            purchase = Purchase(product_code=code, region_id=region.id)
            narrowed = points.load_rules(session, purchase=purchase, product_kind=kind)
            assert narrowed == [rule for rule in every if rule.applies(kind, code, region.id)]
