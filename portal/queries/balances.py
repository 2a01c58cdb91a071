"""账户余额查询: every card's reserve, chip purse, pending loads and points, with totals.

Balances come only from the ledger's stored account totals (kept in step with the journal by the
ledger services; `ledger verify` checks them). One query pivots a card's three accounts into a row.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from portal.cards.models import Card
from portal.drivers.models import Driver, Vehicle
from portal.ledger.models import Account
from portal.queries.scope import Scope

SORTS = ("number", "reserve", "purse", "pending", "points", "driver")
STATUSES = ("active", "lost", "closed")
MAX_SEARCH = 32


@dataclass(frozen=True)
class CardBalance:
    card_id: int
    number: str
    status: str
    driver: str
    plate: str
    reserve: int
    purse: int
    #: Loads held from the reserve, not yet written to the chip.
    pending: int
    points: int


@dataclass(frozen=True)
class Balances:
    rows: list[CardBalance]
    reserve: int
    purse: int
    pending: int
    points: int


def _of(kind: str, expression):
    return func.coalesce(func.sum(case((Account.kind == kind, expression), else_=0)), 0)


def card_balances(
    session: Session, scope: Scope, *, search: str = "", status: str = "", sort: str = "number", descending=False
) -> Balances:
    """Sub-cards' balances; `search` matches card number, driver name or plate (substring)."""
    posted = Account.credits_posted - Account.debits_posted
    reserve, purse = _of("reserve", posted), _of("purse", posted)
    pending, points = _of("reserve", Account.debits_pending), _of("points", posted)
    query = (
        select(Card.id, Card.number, Card.status, Driver.name, Vehicle.plate, reserve, purse, pending, points)
        .join(Account, Account.card_id == Card.id)
        .outerjoin(Driver, Driver.id == Card.driver_id)
        .outerjoin(Vehicle, Vehicle.id == Card.vehicle_id)
        .where(Card.customer_id == scope.customer_id, Card.role == "sub")
        .group_by(Card.id, Card.number, Card.status, Driver.name, Vehicle.plate)
    )
    if scope.card_ids is not None:
        query = query.where(Card.id.in_(sorted(scope.card_ids) or [-1]))
    if status:
        query = query.where(Card.status == status)
    search = "".join(search.split())[:MAX_SEARCH]
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                Card.number.like(pattern, escape="\\"),
                Driver.name.like(pattern, escape="\\"),
                Vehicle.plate.like(pattern.upper(), escape="\\"),
            )
        )
    column = {
        "number": Card.number,
        "reserve": reserve,
        "purse": purse,
        "pending": pending,
        "points": points,
        "driver": Driver.name,
    }[sort]
    query = query.order_by(column.desc() if descending else column.asc(), Card.number)
    rows = [
        CardBalance(r[0], r[1], r[2], r[3] or "", r[4] or "", *(int(v) for v in r[5:])) for r in session.execute(query)
    ]
    return Balances(
        rows,
        reserve=sum(r.reserve for r in rows),
        purse=sum(r.purse for r in rows),
        pending=sum(r.pending for r in rows),
        points=sum(r.points for r in rows),
    )


def customer_account_balances(session: Session, customer_id: int) -> dict[str, int]:
    """The unit account's balance, what of it is available, and the customer-level points."""
    rows = session.execute(
        select(Account.kind, Account.credits_posted, Account.debits_posted, Account.debits_pending).where(
            Account.customer_id == customer_id, Account.card_id.is_(None)
        )
    ).all()
    result = {"unit": 0, "unit_available": 0, "customer_points": 0}
    for kind, credits, debits, held in rows:
        if kind == "unit":
            result["unit"] = credits - debits
            result["unit_available"] = credits - debits - held
        elif kind == "points":
            result["customer_points"] = credits - debits
    return result
