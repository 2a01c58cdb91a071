"""A small set of books for ledger tests: customers with a unit account and funded-or-not cards."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from portal import ledger
from portal.cards.models import Card
from portal.customers.models import Customer
from portal.reference.models import Region


@dataclass
class Holder:
    """One customer's account ids: unit, customer points, and per card reserve / purse / points."""

    customer_id: int
    unit: int
    points: int
    card_ids: list[int] = field(default_factory=list)
    reserves: list[int] = field(default_factory=list)
    purses: list[int] = field(default_factory=list)
    card_points: list[int] = field(default_factory=list)


@dataclass
class Books:
    holders: list[Holder]
    clearing: int
    sales: int
    points_issued: int
    points_redeemed: int
    points_expired: int


def make_books(session: Session, now: datetime, *, customers: int = 2, cards: int = 3) -> Books:
    region = session.query(Region).filter_by(code="11").one_or_none()
    if region is None:
        region = Region(code="11", name_zh="北京", name_en="Beijing")
        session.add(region)
        session.flush()
    holders = []
    for n in range(customers):
        customer = Customer(name=f"客户{n}", credit_code=f"91110000LEDGER{n:04d}", region_id=region.id, created_at=now)
        session.add(customer)
        session.flush()
        ledger.open_customer_accounts(session, customer.id)
        holder = Holder(
            customer.id,
            ledger.unit_account(session, customer.id).id,
            ledger.customer_points_account(session, customer.id).id,
        )
        for i in range(cards):
            card = Card(
                number=f"9{customer.id:07d}{i:08d}",
                customer_id=customer.id,
                role="sub",
                issued_at=now,
                expires_on=date(2030, 12, 31),
            )
            session.add(card)
            session.flush()
            ledger.open_card_accounts(session, customer.id, card.id)
            holder.card_ids.append(card.id)
            holder.reserves.append(ledger.card_account(session, card.id, "reserve").id)
            holder.purses.append(ledger.card_account(session, card.id, "purse").id)
            holder.card_points.append(ledger.card_account(session, card.id, "points").id)
        holders.append(holder)
    books = Books(
        holders,
        ledger.system_account(session, "deposits_clearing").id,
        ledger.system_account(session, "station_sales").id,
        ledger.system_account(session, "points_issued").id,
        ledger.system_account(session, "points_redeemed").id,
        ledger.system_account(session, "points_expired").id,
    )
    session.commit()
    return books


def totals(session: Session, account_id: int) -> tuple[int, int, int, int]:
    """An account's stored (debits_posted, credits_posted, debits_pending, credits_pending), fresh."""
    session.expire_all()
    account = session.get(ledger.Account, account_id)
    return (account.debits_posted, account.credits_posted, account.debits_pending, account.credits_pending)


def bal(session: Session, account_id: int) -> int:
    session.expire_all()
    return ledger.balance(session.get(ledger.Account, account_id))


def journal_count(session: Session) -> int:
    return session.query(ledger.Transfer).count()
