"""Cards over the API: the exemplar module of an API area (copy its shape for drivers, funds...).

- Pydantic models for the query and the answers live here, beside their views; their names are
  the OpenAPI schema names (keep them unique across the API: prefix with the area).
- The list uses the same query code as the cards page (portal.cards.services.card_search) and keyset
  pagination (portal.api.pagination); the detail answers 404 for another customer's card.
- Writes call the services the card pages call (assignment: portal.cards.services.assign_card).
  Controls and templates are in portal.api.card_controls, loss reports, cancel and replacement in
  portal.api.card_loss.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from flask import g
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from portal.api import bp
from portal.api.auth import api_actor_id, api_audit, api_endpoint
from portal.api.pagination import EPOCH, NEXT_CURSOR, PageQuery, keyset_page
from portal.api.problems import ApiProblem, Problem
from portal.api.serialize import Fen, Time, local_time
from portal.cards import services
from portal.cards.models import Card
from portal.cards.views import balances as shown_balances
from portal.chips.loads import pending_load_totals
from portal.chips.sync import last_synced_at
from portal.extensions import clock, db
from portal.queries.cursor import Key

#: The cursor's report name: a cursor of this list is refused by any other.
REPORT = "api.cards"
#: Ids above this name nothing (and would overflow a BIGINT parameter).
MAX_ID = 2**53
#: The pattern of every text field a request sends: no NUL character (the app refuses one with 400
#: before validation; the schema says so, so clients and schemathesis know).
NO_NUL = r"^[^\x00]*$"


class CardQuery(PageQuery):
    """The cards page's filters: a search over number, nickname, driver and plate, and the status."""

    q: str = Field("", max_length=64, pattern=NO_NUL, description="part of the number, nickname, driver name or plate")
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


class Strict(BaseModel):
    """A request body: unknown fields are refused (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid")


class CardAssignIn(Strict):
    """Who uses the card, as on the card's assignment page. A field left out keeps its value;
    null removes the driver or vehicle."""

    nickname: str | None = Field(None, max_length=64, pattern=NO_NUL)
    driver_id: int | None = Field(None, ge=1, le=MAX_ID, description="one of the customer's active drivers")
    vehicle_id: int | None = Field(None, ge=1, le=MAX_ID, description="one of the customer's active vehicles")


class CardBalancesOut(BaseModel):
    """The card's money as the card page shows it: host-side ledger balances (null: account not open)."""

    card_number: str
    reserve_fen: Fen | None = Field(description="备用金: allocated to the card, not yet on the chip")
    purse_fen: Fen | None = Field(description="the chip's purse as the host knows it (as of the last sync)")
    pending_load_fen: Fen = Field(description="loads waiting to reach the chip (lapsed holds left out)")
    points: int | None
    last_synced_at: Time | None = Field(description="the chip's last sync; null: never synced")


class EmptyIn(Strict):
    """No fields: send `{}` (a view validated with it takes no `json` parameter)."""


def card_out(cards: list[Card]) -> list[CardOut]:
    """The answers for `cards`, in a fixed number of statements whatever their number."""
    drivers = {d.id: d for d in services.drivers_by_id(db.session, {c.driver_id for c in cards} - {None})}
    vehicles = {v.id: v for v in services.vehicles_by_id(db.session, {c.vehicle_id for c in cards} - {None})}
    versions = services.controls_versions(db.session, [c.id for c in cards])
    replaced = services.card_numbers(db.session, {c.replaces_card_id for c in cards} - {None})
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
    return CardList(data=card_out(page.rows), next_cursor=page.next_cursor)


@bp.get("/cards/<card_number>")
@api_endpoint("read", resp={200: CardOut}, tags=["cards"])
def get_card(card_number: str):
    """One card of the customer, by its number (another customer's card: 404)."""
    card = card_by_number(card_number)
    return card_out([card])[0]


@bp.patch("/cards/<card_number>")
@api_endpoint("cards", json=CardAssignIn, resp={200: CardOut, 404: Problem, 409: Problem}, tags=["cards"])
def assign_card(card_number: str, json: CardAssignIn):
    """Give the card a nickname, a driver and a vehicle (as the assignment page; not a closed card)."""
    card = card_by_number(card_number)
    given = json.model_fields_set
    services.assign_card(
        db.session, card,
        driver_id=json.driver_id if "driver_id" in given else card.driver_id,
        vehicle_id=json.vehicle_id if "vehicle_id" in given else card.vehicle_id,
        nickname=(json.nickname or "") if "nickname" in given else card.nickname,
        actor_id=api_actor_id(), now=clock().now(),
    )  # fmt: skip
    api_audit("cards.assign", {"card": card.number})
    return card_out([card])[0]


@bp.get("/cards/<card_number>/balances")
@api_endpoint("read", resp={200: CardBalancesOut, 404: Problem}, tags=["cards"])
def card_balances(card_number: str):
    """The card's reserve, chip purse (host-known, as of the last sync), loads waiting and points."""
    card = card_by_number(card_number)
    shown = shown_balances(card.id)
    return CardBalancesOut(
        card_number=card.number,
        reserve_fen=shown["reserve"],
        purse_fen=shown["purse"],
        pending_load_fen=pending_load_totals(db.session, [card.id], now=clock().now()).get(card.id, 0),
        points=shown["points"],
        last_synced_at=local_time(last_synced_at(db.session, [card.id]).get(card.id)),
    )


def cards_by_numbers(numbers: list[str]) -> list[Card]:
    """The key's customer's cards with these numbers (each once, in the order given), in one
    statement; 404 `card_not_found` naming the numbers that are not the customer's cards."""
    wanted = list(dict.fromkeys(numbers))
    found = {
        card.number: card
        for card in db.session.scalars(
            select(Card).where(Card.number.in_(wanted), Card.customer_id == g.api_customer_id, Card.role == "sub")
        )
    }
    missing = [number for number in wanted if number not in found]
    if missing:
        raise ApiProblem(404, "card_not_found", "no card with the number " + ", ".join(missing[:20]))
    return [found[number] for number in wanted]


def card_by_number(number: str, *, main_too: bool = False) -> Card:
    """The key's customer's sub-card with this number, else 404 `card_not_found` (whoever owns it).
    Every API view that names a card by number uses this; `main_too` also finds the main card (the
    loss pages let an admin report it lost too)."""
    roles = ("sub", "main") if main_too else ("sub",)
    card = db.session.scalar(
        select(Card).where(Card.number == number[:19], Card.customer_id == g.api_customer_id, Card.role.in_(roles))
    )
    if card is None:
        raise ApiProblem(404, "card_not_found", "no card with this number")
    return card
