"""Whose rows a user may see: an admin their whole customer, a driver only their own cards."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.cards.models import Card


@dataclass(frozen=True)
class Scope:
    customer_id: int
    #: None: every card of the customer (fleet admin); otherwise only these cards (a driver's).
    card_ids: frozenset[int] | None = None

    @property
    def whole_customer(self) -> bool:
        return self.card_ids is None


def customer_scope(customer_id: int) -> Scope:
    return Scope(customer_id)


def driver_scope(session: Session, customer_id: int, driver_id: int) -> Scope:
    """Cards assigned to the driver now, closed ones included (their history stays visible)."""
    ids = session.scalars(select(Card.id).where(Card.customer_id == customer_id, Card.driver_id == driver_id)).all()
    return Scope(customer_id, frozenset(ids))


class UnknownCard(LookupError):
    """A card-number filter naming no card this scope may see (foreign cards look exactly the same)."""


def resolve_card(session: Session, scope: Scope, number: str) -> Card:
    card = session.scalar(select(Card).where(Card.number == number, Card.customer_id == scope.customer_id))
    if card is None or (scope.card_ids is not None and card.id not in scope.card_ids):
        raise UnknownCard(number)
    return card
