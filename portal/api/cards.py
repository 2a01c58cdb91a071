"""Cards over the API: the exemplar module of an API area (copy its shape for drivers, funds...).

- Pydantic models for the query and the answers live here, beside their views; their names are
  the OpenAPI schema names (keep them unique across the API: prefix with the area).
- The list uses the same query code as the cards page (portal.cards.services.card_search) and keyset
  pagination (portal.api.pagination); the detail answers 404 for another customer's card.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from flask import g
from pydantic import BaseModel, Field
from sqlalchemy import select

from portal.api import bp
from portal.api.auth import api_endpoint
from portal.api.pagination import EPOCH, NEXT_CURSOR, PageQuery, keyset_page
from portal.api.problems import ApiProblem
from portal.api.serialize import Time, local_time
from portal.cards import services
from portal.cards.models import Card
from portal.extensions import db
from portal.queries.cursor import Key

#: The cursor's report name: a cursor of this list is refused by any other.
REPORT = "api.cards"


class CardQuery(PageQuery):
    """The cards page's filters: a search over number, nickname, driver and plate, and the status."""

    q: str = Field("", max_length=64, description="part of the number, nickname, driver name or plate")
    status: Literal["active", "lost", "closed"] | None = None


class CardOut(BaseModel):
    number: str = Field(description="the 16-digit card number")
    status: Literal["active", "lost", "closed"]
    nickname: str
    driver_id: int | None
    driver_name: str | None
    vehicle_id: int | None
    vehicle_plate: str | None
    issued_at: Time
    expires_on: date
    controls_version: int = Field(description="version of the card's controls (0: none set yet)")
    replaces_card_number: str | None = Field(description="for a replacement card, the card it replaced")


class CardList(BaseModel):
    data: list[CardOut]
    next_cursor: str | None = NEXT_CURSOR


def _card_out(cards: list[Card]) -> list[CardOut]:
    """The answers for `cards`, in a fixed number of statements whatever their number."""
    drivers = {d.id: d for d in services.drivers_by_id(db.session, {c.driver_id for c in cards} - {None})}
    vehicles = {v.id: v for v in services.vehicles_by_id(db.session, {c.vehicle_id for c in cards} - {None})}
    versions = services.controls_versions(db.session, [c.id for c in cards])
    replaced_ids = {c.replaces_card_id for c in cards} - {None}
    replaced = (
        dict(db.session.execute(select(Card.id, Card.number).where(Card.id.in_(replaced_ids))).all())
        if replaced_ids
        else {}
    )
    return [
        CardOut(
            number=card.number,
            status=card.status,
            nickname=card.nickname,
            driver_id=card.driver_id,
            driver_name=drivers[card.driver_id].name if card.driver_id in drivers else None,
            vehicle_id=card.vehicle_id,
            vehicle_plate=vehicles[card.vehicle_id].plate if card.vehicle_id in vehicles else None,
            issued_at=local_time(card.issued_at),
            expires_on=card.expires_on,
            controls_version=versions.get(card.id, 0),
            replaces_card_number=replaced.get(card.replaces_card_id),
        )
        for card in cards
    ]


@bp.get("/cards")
@api_endpoint("read", query=CardQuery, resp={200: CardList}, tags=["cards"])
def list_cards(query: CardQuery):
    """The customer's sub-cards in number order, filtered as on the cards page."""
    stmt = services.card_search(g.api_customer_id, query=query.q, status=query.status or "")
    page = keyset_page(
        db.session, stmt, query, report=REPORT,
        key=lambda card: Key(EPOCH, card.number), after=lambda key: Card.number > str(key.id),
    )  # fmt: skip
    return CardList(data=_card_out(page.rows), next_cursor=page.next_cursor)


@bp.get("/cards/<card_number>")
@api_endpoint("read", resp={200: CardOut}, tags=["cards"])
def get_card(card_number: str):
    """One card of the customer, by its number (another customer's card: 404)."""
    card = card_by_number(card_number)
    return _card_out([card])[0]


def card_by_number(number: str) -> Card:
    """The key's customer's card with this number, else 404 `card_not_found` (whoever owns it).
    Every API view that names a card by number uses this."""
    card = db.session.scalar(
        select(Card).where(Card.number == number[:19], Card.customer_id == g.api_customer_id, Card.role == "sub")
    )
    if card is None:
        raise ApiProblem(404, "card_not_found", "no card with this number")
    return card
