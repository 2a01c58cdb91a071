"""A small, realistic world for web and browser tests: two customers in two regions, cards in every
status, drivers, vehicles, and one user of each role. Users come from the auth service; the other
rows are inserted directly until their areas' services exist (tests must not depend on half-built
features)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth import services as auth
from portal.cards.models import Card
from portal.customers.models import Customer
from portal.drivers.models import Driver, Vehicle
from portal.reference.models import Region, Station

PASSWORD = "Fleet-Demo-2026"


@dataclass(frozen=True)
class World:
    beijing_id: int
    shanghai_id: int
    customer_id: int
    other_customer_id: int
    driver_id: int
    main_card_number: str
    #: user names, all with PASSWORD
    admin: str = "shunda_admin"
    driver: str = "zhang_wei"
    staff: str = "bj_support"
    sysadmin: str = "sysadmin"
    other_admin: str = "haiyun_admin"
    password: str = PASSWORD


def _region(session: Session, code: str, zh: str, en: str) -> Region:
    region = session.scalar(select(Region).where(Region.code == code))
    if region is None:
        region = Region(code=code, name_zh=zh, name_en=en)
        session.add(region)
        session.flush()
    return region


def build_world(session: Session, *, now: datetime, rounds: int = 4) -> World:
    """Create the world in `session` (flushed, not committed)."""
    beijing = _region(session, "11", "北京", "Beijing")
    shanghai = _region(session, "31", "上海", "Shanghai")
    session.add_all(
        [
            Station(code="BJ0001", name="中石油北京建国门加油站", region_id=beijing.id, city="北京"),
            Station(code="BJ0002", name="中石油北京望京加油站", region_id=beijing.id, city="北京"),
            Station(code="SH0001", name="中石油上海浦东加油站", region_id=shanghai.id, city="上海"),
        ]
    )
    shunda = Customer(
        name="北京顺达物流有限公司",
        credit_code="91110105MA01TEST2X",
        region_id=beijing.id,
        contact_name="王建国",
        phone="010-6521 8890",
        email="fleet@shunda-logistics.cn",
        address="北京市朝阳区建国路 88 号",
        created_at=now,
    )
    haiyun = Customer(
        name="上海海运储运有限公司", credit_code="91310115MA1KTEST3Y", region_id=shanghai.id, created_at=now
    )
    session.add_all([shunda, haiyun])
    session.flush()

    drivers = [
        Driver(customer_id=shunda.id, name=name, phone=phone, created_at=now)
        for name, phone in (
            ("张伟", "13800000001"),
            ("李娜", "13800000002"),
            ("王强", "13800000003"),
            ("刘洋", "13800000004"),
        )
    ]
    vehicles = [
        Vehicle(customer_id=shunda.id, plate=plate, tank_ml=tank, created_at=now)
        for plate, tank in (("京A12345", 60_000), ("京B67890", 80_000), ("京C24680", 300_000))
    ]
    session.add_all(drivers + vehicles)
    session.flush()

    expires = date(2029, 12, 31)
    main_number = "9030000100000001"
    cards = [Card(number=main_number, customer_id=shunda.id, role="main", issued_at=now, expires_on=expires)]
    statuses = ("active", "active", "active", "active", "active", "lost", "closed")
    for i, status in enumerate(statuses):
        cards.append(
            Card(
                number=f"90300001000001{i + 10:02d}",
                customer_id=shunda.id,
                role="sub",
                status=status,
                nickname=f"{i + 1}号车" if i < 3 else "",
                driver_id=drivers[i % len(drivers)].id,
                vehicle_id=vehicles[i].id if i < len(vehicles) else None,
                issued_at=now,
                expires_on=expires,
            )
        )
    cards.append(Card(number="9031000200000001", customer_id=haiyun.id, role="main", issued_at=now, expires_on=expires))
    session.add_all(cards)
    session.flush()

    world = World(
        beijing_id=beijing.id,
        shanghai_id=shanghai.id,
        customer_id=shunda.id,
        other_customer_id=haiyun.id,
        driver_id=drivers[0].id,
        main_card_number=main_number,
    )
    for username, role, fields in (
        (world.admin, "admin", {"customer_id": shunda.id, "display_name": "王建国"}),
        (world.driver, "driver", {"customer_id": shunda.id, "driver_id": drivers[0].id, "display_name": "张伟"}),
        (world.staff, "staff", {"region_id": beijing.id, "display_name": "陈静"}),
        (world.sysadmin, "sysadmin", {"display_name": "System admin"}),
        (world.other_admin, "admin", {"customer_id": haiyun.id, "display_name": "赵敏"}),
    ):
        auth.create_user(session, username=username, password=PASSWORD, role=role, rounds=rounds, now=now, **fields)
    return world
