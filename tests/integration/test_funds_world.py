"""A small world for the funds and chips tests (imported by their web tests too): two customers in
one region and one in another, sub-cards in every state, an admin each, a driver, staff per region."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from portal import ledger
from portal.auth.services import create_user
from portal.cards.models import Card
from portal.cards.numbers import card_number
from portal.customers.models import Customer
from portal.drivers.models import Driver
from portal.reference.models import Product, Region, Station

PASSWORD = "Correct-Horse-9"
#: The unit account of customer A starts with 10,000.00 yuan.
UNIT_A = 1_000_000


@dataclass
class World:
    ids: dict = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.ids[name]
        except KeyError:
            raise AttributeError(name) from None


_sequence = iter(range(1, 10**6))


def _card(session, customer, role="sub", status="active", **fields) -> Card:
    card = Card(
        number=card_number("11", next(_sequence)), customer_id=customer.id, role=role, status=status,
        expires_on=date(2030, 12, 31), **fields,
    )  # fmt: skip
    session.add(card)
    session.flush()
    if role == "sub":
        ledger.open_card_accounts(session, customer.id, card.id)
    return card


def build_world(session, now, *, deposit: int = UNIT_A) -> World:
    w = World()
    r1 = Region(code="11", name_zh="北京", name_en="Beijing")
    r2 = Region(code="31", name_zh="上海", name_en="Shanghai")
    session.add_all([r1, r2])
    session.flush()
    session.add(Product(code="92", kind="gasoline", name_zh="92号汽油", name_en="92 gasoline"))
    session.add(Station(code="ST110001", name="中国石油北京朝阳路加油站", region_id=r1.id, city="北京"))
    a = Customer(name="甲物流有限公司", credit_code="91110000000000001A", region_id=r1.id)
    b = Customer(name="乙运输有限公司", credit_code="91110000000000002B", region_id=r1.id)
    c = Customer(name="丙快运有限公司", credit_code="91310000000000003C", region_id=r2.id)
    session.add_all([a, b, c])
    session.flush()
    for customer in (a, b, c):
        ledger.open_customer_accounts(session, customer.id)
    driver = Driver(customer_id=a.id, name="王师傅")
    session.add(driver)
    session.flush()
    cards = {
        "main_a": _card(session, a, role="main"),
        "a1": _card(session, a, nickname="一号车", driver_id=driver.id),
        "a2": _card(session, a, nickname="二号车"),
        "a3": _card(session, a, nickname="三号车"),
        "a_lost": _card(session, a, status="lost"),
        "a_closed": _card(session, a, status="closed"),
        "b1": _card(session, b),
    }
    users = {
        "admin_a": create_user(session, username="admin_a", password=PASSWORD, role="admin", rounds=4, now=now,
                               customer_id=a.id),
        "admin_a2": create_user(session, username="admin_a2", password=PASSWORD, role="admin", rounds=4, now=now,
                                customer_id=a.id),
        "admin_b": create_user(session, username="admin_b", password=PASSWORD, role="admin", rounds=4, now=now,
                               customer_id=b.id),
        "driver_a": create_user(session, username="driver_a", password=PASSWORD, role="driver", rounds=4, now=now,
                                customer_id=a.id, driver_id=driver.id),
        "staff_r1": create_user(session, username="staff_r1", password=PASSWORD, role="staff", rounds=4, now=now,
                                region_id=r1.id),
        "staff_r2": create_user(session, username="staff_r2", password=PASSWORD, role="staff", rounds=4, now=now,
                                region_id=r2.id),
    }  # fmt: skip
    if deposit:
        ledger.transfer(
            session,
            ledger.TransferRequest(
                id="seed-deposit-a",
                debit_account_id=ledger.system_account(session, "deposits_clearing").id,
                credit_account_id=ledger.unit_account(session, a.id).id,
                amount=deposit,
                code="deposit",
            ),
            now=now,
        )
    session.flush()
    w.ids.update(r1=r1.id, r2=r2.id, a=a.id, b=b.id, c=c.id, driver=driver.id)
    w.ids.update({name: card.id for name, card in cards.items()})
    w.ids.update({f"{name}_number": card.number for name, card in cards.items()})
    w.ids.update({name: user.id for name, user in users.items()})
    return w


def unit(session, customer_id) -> int:
    return ledger.balance(ledger.unit_account(session, customer_id))


def reserve(session, card_id) -> int:
    return ledger.balance(ledger.card_account(session, card_id, "reserve"))


def purse(session, card_id) -> int:
    return ledger.balance(ledger.card_account(session, card_id, "purse"))


def test_world_builds_and_the_ledger_verifies(session, clock):
    w = build_world(session, clock.now())
    session.commit()
    assert unit(session, w.a) == UNIT_A
    assert reserve(session, w.a1) == 0
    assert ledger.verify(session).ok
