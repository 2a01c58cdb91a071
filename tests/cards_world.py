"""A small world for the cards/drivers/profile tests: two customers in two regions, each with an
admin, a driver with a login, a vehicle, a main card and two funded sub-cards; staff in each region.

Plain functions on a Session (integration tests pass the `session` fixture, web tests `db.session`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from portal import ledger
from portal.auth.services import create_user
from portal.cards.models import Card
from portal.cards.numbers import card_number
from portal.customers.models import Customer
from portal.drivers.models import Driver, Vehicle
from portal.reference.models import Product, Region, Station

PASSWORD = "Fleet-Card-2026"


@dataclass
class Fleet:
    customer: Customer
    admin_id: int
    driver: Driver
    driver_user_id: int
    vehicle: Vehicle
    main_card: Card
    cards: list[Card] = field(default_factory=list)
    staff_id: int = 0


def _fleet(session: Session, now: datetime, n: int, region: Region, seq: int) -> Fleet:
    customer = Customer(
        name=f"测试物流有限公司{n}",
        credit_code=f"91110000MA00000{n:02d}X",
        region_id=region.id,
        contact_name="王经理",
        phone="010-12345678",
        email=f"fleet{n}@example.com",
        created_at=now,
    )
    session.add(customer)
    session.flush()
    ledger.open_customer_accounts(session, customer.id)
    driver = Driver(customer_id=customer.id, name=f"司机{n}", phone="13800000000", created_at=now)
    vehicle = Vehicle(customer_id=customer.id, plate=f"京A1234{n}", tank_ml=400_000, created_at=now)
    session.add_all([driver, vehicle])
    session.flush()
    admin = create_user(
        session, username=f"admin{n}", password=PASSWORD, role="admin", rounds=4, now=now, customer_id=customer.id
    )
    driver_user = create_user(
        session,
        username=f"driver{n}",
        password=PASSWORD,
        role="driver",
        rounds=4,
        now=now,
        customer_id=customer.id,
        driver_id=driver.id,
    )
    staff = create_user(
        session, username=f"staff{n}", password=PASSWORD, role="staff", rounds=4, now=now, region_id=region.id
    )
    main = Card(
        number=card_number(region.code, seq),
        customer_id=customer.id,
        role="main",
        issued_at=now,
        expires_on=date(2030, 12, 31),
    )
    session.add(main)
    fleet = Fleet(customer, admin.id, driver, driver_user.id, vehicle, main, staff_id=staff.id)
    for i in (1, 2):
        card = Card(
            number=card_number(region.code, seq + i),
            customer_id=customer.id,
            role="sub",
            issued_at=now,
            expires_on=date(2030, 12, 31),
            driver_id=driver.id if i == 1 else None,
            vehicle_id=vehicle.id if i == 1 else None,
            nickname=f"车{i}",
        )
        session.add(card)
        session.flush()
        ledger.open_card_accounts(session, customer.id, card.id)
        fleet.cards.append(card)
    session.flush()
    return fleet


def fund(
    session: Session, fleet: Fleet, card: Card, *, reserve: int, purse: int, now: datetime, tag: str = "t"
) -> None:
    """Deposit, allocate and load (posted directly) so the card has the given balances."""
    clearing = ledger.system_account(session, "deposits_clearing")
    unit = ledger.unit_account(session, fleet.customer.id)
    reserve_acc = ledger.card_account(session, card.id, "reserve")
    purse_acc = ledger.card_account(session, card.id, "purse")
    reqs = [
        ledger.TransferRequest(f"{tag}:dep:{card.id}", clearing.id, unit.id, reserve + purse, "deposit"),
        ledger.TransferRequest(f"{tag}:alloc:{card.id}", unit.id, reserve_acc.id, reserve + purse, "allocation"),
    ]
    if purse:
        reqs.append(ledger.TransferRequest(f"{tag}:load:{card.id}", reserve_acc.id, purse_acc.id, purse, "load"))
    ledger.transfer_batch(session, reqs, now=now)


def build_world(session: Session, now: datetime) -> tuple[Fleet, Fleet]:
    """Two fleets: one in Beijing (11), one in Shanghai (31); reference products and two stations."""
    beijing = Region(code="11", name_zh="北京", name_en="Beijing")
    shanghai = Region(code="31", name_zh="上海", name_en="Shanghai")
    session.add_all([beijing, shanghai])
    session.flush()
    session.add_all(
        [
            Product(code="92", kind="gasoline", name_zh="92#汽油", name_en="92# gasoline"),
            Product(code="95", kind="gasoline", name_zh="95#汽油", name_en="95# gasoline"),
            Product(code="0", kind="diesel", name_zh="0#柴油", name_en="0# diesel"),
            Station(code="ST110001", name="中国石油北京朝阳路加油站", region_id=beijing.id, city="北京"),
            Station(code="ST310001", name="中国石油上海浦东加油站", region_id=shanghai.id, city="上海"),
        ]
    )
    session.flush()
    return _fleet(session, now, 1, beijing, 1), _fleet(session, now, 2, shanghai, 101)


@dataclass
class Ids:
    """Plain ids of a fleet, safe to use outside the app context that built it."""

    customer: int
    admin: str
    driver_user: str
    staff: str
    driver: int
    vehicle: int
    main_card: int
    cards: list[int]


def web_world(app) -> tuple[Ids, Ids]:
    """build_world inside the app's context and session; returns the ids of both fleets."""
    from portal.extensions import clock, db

    with app.app_context():
        fleets = build_world(db.session, clock().now())
        db.session.commit()
        return tuple(
            Ids(
                f.customer.id,
                f"admin{n}",
                f"driver{n}",
                f"staff{n}",
                f.driver.id,
                f.vehicle.id,
                f.main_card.id,
                [c.id for c in f.cards],
            )
            for n, f in enumerate(fleets, start=1)
        )
