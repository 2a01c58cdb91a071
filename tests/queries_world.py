"""A small fleet with history for the customer-zone tests (queries, statistics, exports, statements).

Built through the real ledger API, so balances and journal agree by construction; purchases are
written as `Purchase` facts with their ledger transfer, the way the stations area records them.

Customer "Acme" (region 11): main card, cards C1 (driver Li, 京A10001), C2 (driver Wang, 京A10002),
C3 (no driver). Customer "Other" (region 31) with card X1, to check nobody sees across customers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from portal import ledger
from portal.cards.models import Card
from portal.customers.models import Customer
from portal.drivers.models import Driver, Vehicle
from portal.purchases.models import Purchase
from portal.reference.models import Product, Region, Station

_ids = itertools.count(1)


@dataclass
class World:
    acme: Customer
    other: Customer
    cards: dict[str, Card]
    drivers: dict[str, Driver]
    vehicles: dict[str, Vehicle]
    stations: dict[str, Station]
    purchases: list[Purchase] = field(default_factory=list)


def _card(session, customer, number, role="sub", driver=None, vehicle=None) -> Card:
    card = Card(
        number=number,
        customer_id=customer.id,
        role=role,
        driver_id=driver.id if driver else None,
        vehicle_id=vehicle.id if vehicle else None,
        expires_on=date(2030, 12, 31),
    )
    session.add(card)
    session.flush()
    if role == "sub":
        ledger.open_card_accounts(session, customer.id, card.id)
    return card


def move(session, code, debit, credit, amount, at, *, customer_id=None, memo="") -> ledger.Transfer:
    request = ledger.TransferRequest(f"t{next(_ids)}-{code}", debit.id, credit.id, amount, code, memo=memo)
    return ledger.transfer(session, request, now=at, customer_id=customer_id)


def buy(
    session,
    world: World,
    card: Card,
    at: datetime,
    *,
    amount,
    litres_ml,
    station="S1",
    product="92",
    points=None,
    kind="purchase",
    status="approved",
    decline_code=None,
    odometer_km=None,
    refund_of=None,
):
    """One purchase (or refund) fact and, when approved, its ledger transfer and points."""
    station_row = world.stations[station]
    transfer_id = None
    if status == "approved":
        purse = ledger.card_account(session, card.id, "purse")
        sales = ledger.system_account(session, "station_sales")
        if kind == "purchase":
            transfer_id = move(session, "purchase", purse, sales, amount, at).id
        else:
            transfer_id = move(session, "refund", sales, purse, amount, at).id
    points = amount // 100 if points is None and status == "approved" else (points or 0)
    if points and status == "approved":
        card_points = ledger.card_account(session, card.id, "points")
        issued = ledger.system_account(session, "points_issued")
        if kind == "purchase":
            move(session, "points_earn", issued, card_points, points, at)
        else:
            move(session, "points_redeem", card_points, ledger.system_account(session, "points_redeemed"), points, at)
    vehicle = session.get(Vehicle, card.vehicle_id) if card.vehicle_id else None
    purchase = Purchase(
        kind=kind,
        status=status,
        decline_code=decline_code,
        customer_id=card.customer_id,
        card_id=card.id,
        driver_id=card.driver_id,
        vehicle_id=card.vehicle_id,
        plate=vehicle.plate if vehicle else "",
        station_id=station_row.id,
        region_id=station_row.region_id,
        product_code=product,
        litres_ml=litres_ml,
        unit_price_fen=max(1, amount * 1000 // max(litres_ml, 1)),
        amount_fen=amount,
        points=points if status == "approved" else 0,
        odometer_km=odometer_km,
        transfer_id=transfer_id,
        refund_of_id=refund_of.id if refund_of else None,
        at=at,
        received_at=at,
    )
    session.add(purchase)
    session.flush()
    world.purchases.append(purchase)
    return purchase


def build(session: Session, t0: datetime) -> World:
    """The fleet, with money in it: a deposit, allocations, a load, purchases this and last month."""
    beijing = Region(code="11", name_zh="北京", name_en="Beijing")
    shanghai = Region(code="31", name_zh="上海", name_en="Shanghai")
    session.add_all([beijing, shanghai])
    session.add_all(
        [
            Product(code="92", kind="gasoline", name_zh="92号汽油", name_en="92# gasoline"),
            Product(code="95", kind="gasoline", name_zh="95号汽油", name_en="95# gasoline"),
            Product(code="0", kind="diesel", name_zh="0号柴油", name_en="0# diesel"),
        ]
    )
    session.flush()
    stations = {
        "S1": Station(code="S1", name="北京朝阳站", region_id=beijing.id, city="北京"),
        "S2": Station(code="S2", name="上海浦东站", region_id=shanghai.id, city="上海"),
    }
    session.add_all(stations.values())
    acme = Customer(name="Acme 物流", credit_code="91110000000000001A", region_id=beijing.id)
    other = Customer(name="Other 运输", credit_code="91310000000000002B", region_id=shanghai.id)
    session.add_all([acme, other])
    session.flush()
    drivers = {
        "li": Driver(customer_id=acme.id, name="李师傅"),
        "wang": Driver(customer_id=acme.id, name="王师傅"),
        "zhao": Driver(customer_id=other.id, name="赵师傅"),
    }
    vehicles = {
        "v1": Vehicle(customer_id=acme.id, plate="京A10001", tank_ml=60000),
        "v2": Vehicle(customer_id=acme.id, plate="京A10002", tank_ml=60000),
        "x1": Vehicle(customer_id=other.id, plate="沪B20001", tank_ml=80000),
    }
    session.add_all([*drivers.values(), *vehicles.values()])
    session.flush()
    for customer in (acme, other):
        ledger.open_customer_accounts(session, customer.id)
    cards = {
        "main": _card(session, acme, "9030000000000000", role="main"),
        "c1": _card(session, acme, "9030000000000001", driver=drivers["li"], vehicle=vehicles["v1"]),
        "c2": _card(session, acme, "9030000000000002", driver=drivers["wang"], vehicle=vehicles["v2"]),
        "c3": _card(session, acme, "9030000000000003"),
        "x1": _card(session, other, "9031000000000001", driver=drivers["zhao"], vehicle=vehicles["x1"]),
    }
    world = World(acme, other, cards, drivers, vehicles, stations)

    last_month = t0 - timedelta(days=20)  # 2026-02-10 for T0 = 2026-03-02
    clearing = ledger.system_account(session, "deposits_clearing")
    for customer, key in ((acme, ("c1", "c2", "c3")), (other, ("x1",))):
        unit = ledger.unit_account(session, customer.id)
        move(session, "deposit", clearing, unit, 10_000_00, last_month - timedelta(days=5), memo="bank 001")
        for name in key:
            reserve = ledger.card_account(session, cards[name].id, "reserve")
            move(
                session, "allocation", unit, reserve, 2_000_00, last_month - timedelta(days=4), customer_id=customer.id
            )
            purse = ledger.card_account(session, cards[name].id, "purse")
            move(session, "load", reserve, purse, 1_000_00, last_month - timedelta(days=3), customer_id=customer.id)

    c1, c2, x1 = cards["c1"], cards["c2"], cards["x1"]
    # A load onto C2's chip still waiting for the chip write: held, not yet moved.
    ledger.create_pending(
        session,
        ledger.TransferRequest(
            f"t{next(_ids)}-load",
            ledger.card_account(session, c2.id, "reserve").id,
            ledger.card_account(session, c2.id, "purse").id,
            300_00,
            "load",
        ),
        now=t0 - timedelta(hours=3),
        expires_at=t0 + timedelta(days=1),
    )
    buy(session, world, c1, last_month, amount=300_00, litres_ml=40_000, odometer_km=10_000)
    buy(session, world, c1, last_month + timedelta(days=2), amount=150_00, litres_ml=20_000, odometer_km=10_400)
    buy(session, world, c2, last_month + timedelta(days=3), amount=200_00, litres_ml=25_000, product="95", station="S2")
    buy(session, world, x1, last_month + timedelta(days=3), amount=500_00, litres_ml=70_000, product="0", station="S2")
    # This month (T0 is the 2nd, 10:00 Beijing): a purchase late on the 1st Beijing time, which is
    # still the 1st in UTC... and one just after midnight Beijing time on the 2nd (the 1st in UTC).
    first = buy(session, world, c1, t0 - timedelta(hours=12), amount=100_00, litres_ml=12_500, odometer_km=10_800)
    buy(session, world, c2, t0 - timedelta(hours=9, minutes=30), amount=80_00, litres_ml=10_000)
    buy(
        session,
        world,
        c1,
        t0 - timedelta(hours=2),
        amount=20_00,
        litres_ml=2_500,
        kind="refund",
        refund_of=first,
        points=20,
    )
    buy(
        session,
        world,
        c2,
        t0 - timedelta(hours=1),
        amount=5000_00,
        litres_ml=600_000,
        status="declined",
        decline_code="insufficient_balance",
    )
    session.flush()
    return world


def make_users(app, world: World) -> dict[str, str]:
    """Users for the web tests; returns username -> password (the same for all)."""
    from portal.auth import services
    from portal.extensions import clock, db

    password = "Correct-Horse-9"
    with app.app_context():
        for username, role, fields in (
            ("acme_admin", "admin", {"customer_id": world.acme.id}),
            ("li", "driver", {"customer_id": world.acme.id, "driver_id": world.drivers["li"].id}),
            ("other_admin", "admin", {"customer_id": world.other.id}),
            ("staff1", "staff", {"region_id": world.acme.region_id}),
            ("root", "sysadmin", {}),
        ):
            services.create_user(
                db.session, username=username, password=password, role=role, rounds=4, now=clock().now(), **fields
            )
        db.session.commit()
    return {"password": password}
