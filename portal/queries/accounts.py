"""The ledger accounts a scope may see, and how to name them on a page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.cards.models import Card
from portal.drivers.models import Vehicle
from portal.ledger.models import Account
from portal.queries.filters import Filter
from portal.queries.scope import Scope, resolve_card


@dataclass(frozen=True)
class AccountInfo:
    id: int
    kind: str
    card_id: int | None
    card_number: str


def scope_accounts(session: Session, scope: Scope, ledger: str, flt: Filter | None = None) -> dict[int, AccountInfo]:
    """Accounts of `ledger` the scope may see, narrowed by the filter's card, driver and plate.

    A fleet admin sees the customer-level accounts (unit, customer points) too, unless the filter
    names a card, driver or plate; a driver sees only their cards' accounts."""
    query = (
        select(Account.id, Account.kind, Account.card_id, Card.number)
        .outerjoin(Card, Card.id == Account.card_id)
        .where(Account.customer_id == scope.customer_id, Account.ledger == ledger)
    )
    narrowed = flt is not None and (flt.card or flt.driver is not None or flt.plate)
    if scope.card_ids is not None or narrowed:
        query = query.where(Account.card_id.is_not(None))
    if scope.card_ids is not None:
        query = query.where(Account.card_id.in_(sorted(scope.card_ids) or [-1]))
    if flt is not None:
        if flt.card:
            query = query.where(Account.card_id == resolve_card(session, scope, flt.card).id)
        if flt.driver is not None:
            query = query.where(Card.driver_id == flt.driver)
        if flt.plate:
            query = query.where(
                Card.vehicle_id.in_(
                    select(Vehicle.id).where(Vehicle.customer_id == scope.customer_id, Vehicle.plate == flt.plate)
                )
            )
    return {row.id: AccountInfo(row.id, row.kind, row.card_id, row.number or "") for row in session.execute(query)}


def system_kinds(session: Session, ids) -> dict[int, str]:
    """Kinds of the system (and other) accounts a journal page refers to, by id."""
    ids = set(ids)
    if not ids:
        return {}
    return dict(session.execute(select(Account.id, Account.kind).where(Account.id.in_(ids))).all())
