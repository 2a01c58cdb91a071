"""账户余额查询: every card's reserve, chip purse, pending loads and points, with totals.

The figures come from the ledger's read API (portal.ledger.balances): here only what this page adds,
the search, status filter and sort, in the same one statement that pivots a card's three accounts
into a row. The unit account's figures are `ledger.customer_balances`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.cards.models import Card
from portal.drivers.models import Driver, Vehicle
from portal.ledger import card_balance_column
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


def card_balances(
    session: Session, scope: Scope, *, search: str = "", status: str = "", sort: str = "number", descending=False
) -> Balances:
    """Sub-cards' balances; `search` matches card number, driver name or plate (substring)."""
    reserve, purse = card_balance_column("reserve"), card_balance_column("purse")
    pending, points = card_balance_column("reserve", "held"), card_balance_column("points")
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
