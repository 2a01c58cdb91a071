"""Builders for auth tests (and the browser test): two regions, a customer in each with a main card.

Rows outside auth are inserted directly, so these tests do not depend on other areas' services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth import services
from portal.cards.models import Card
from portal.customers.models import Customer
from portal.reference.models import Region

PASSWORD = "Correct-Horse-9"


@dataclass(frozen=True)
class Customers:
    region_a: int
    region_b: int
    customer_a: int
    customer_b: int
    main_card_a: str = "9030110000000017"
    main_card_b: str = "9030310000000015"
    sub_card_a: str = "9030110000000025"
    credit_code_a: str = "91110105MA01AUTH1X"
    credit_code_b: str = "91310115MA1KAUTH2Y"
    phone_a: str = "13900000001"
    email_a: str = "fleet@example.cn"


def _region(session: Session, code: str, zh: str, en: str) -> Region:
    region = session.scalar(select(Region).where(Region.code == code))
    if region is None:
        region = Region(code=code, name_zh=zh, name_en=en)
        session.add(region)
        session.flush()
    return region


def build_customers(session: Session, now: datetime) -> Customers:
    """Flushed, not committed."""
    region_a = _region(session, "11", "北京", "Beijing")
    region_b = _region(session, "31", "上海", "Shanghai")
    c = Customers(region_a.id, region_b.id, 0, 0)
    customer_a = Customer(
        name="北京测试物流", credit_code=c.credit_code_a, region_id=region_a.id, contact_name="王建国",
        phone=c.phone_a, email=c.email_a, created_at=now,
    )  # fmt: skip
    customer_b = Customer(
        name="上海测试储运", credit_code=c.credit_code_b, region_id=region_b.id, phone="13900000002",
        email="b@example.cn", created_at=now,
    )  # fmt: skip
    session.add_all([customer_a, customer_b])
    session.flush()
    expires = date(2030, 12, 31)
    session.add_all(
        [
            Card(number=c.main_card_a, customer_id=customer_a.id, role="main", issued_at=now, expires_on=expires),
            Card(number=c.sub_card_a, customer_id=customer_a.id, role="sub", issued_at=now, expires_on=expires),
            Card(number=c.main_card_b, customer_id=customer_b.id, role="main", issued_at=now, expires_on=expires),
        ]
    )
    session.flush()
    return Customers(region_a.id, region_b.id, customer_a.id, customer_b.id)


def add_user(session: Session, username: str, role: str, now: datetime, password: str = PASSWORD, **fields):
    return services.create_user(session, username=username, password=password, role=role, rounds=4, now=now, **fields)
