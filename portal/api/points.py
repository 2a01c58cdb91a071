"""Points over the API: each card's points, and redeeming them as the rewards pages do
(portal.rewards.services: whole blocks of points for a voucher, on a card that is not blocked).

- `GET /points`: the customer's points account and each card's available points (the cards the
  redemption page offers: not closed, main card included), a page of cards at a time.
- `POST /points/redemptions` `{card_number, points}`: redeem, once per `Idempotency-Key` (the
  redemption's ledger id derives from it).
- `GET /points/redemptions/<redemption_id>`: a redemption (the receipt page's figures).
"""

from __future__ import annotations

from typing import Annotated

from flask import g
from pydantic import BaseModel, ConfigDict, Field

from portal import ledger
from portal.api import bp
from portal.api.auth import api_audit, api_endpoint
from portal.api.cards import card_by_number
from portal.api.funds import key_owner, owned_row
from portal.api.idempotency import service_key
from portal.api.pagination import EPOCH, NEXT_CURSOR, PageQuery, keyset_page
from portal.api.serialize import Fen, Time, local_time
from portal.cards.models import Card
from portal.extensions import client_ip, clock, db
from portal.points.models import PointsRedemption
from portal.queries.cursor import Key
from portal.rewards import services

REPORT = "api.points"
#: The redemption form's bound on the number of points.
MAX_POINTS = 10**9


class CardPointsOut(BaseModel):
    card_number: str
    role: str = Field(description="main or sub")
    status: str
    available_points: int = Field(description="points that can be spent now")


class PointsOut(BaseModel):
    customer_points: int = Field(description="the customer's own points account")
    block_points: int = Field(description="points are redeemed in whole blocks of this many")
    block_value_fen: Fen = Field(description="what one block is worth")
    data: list[CardPointsOut] = Field(description="a page of the cards, in number order")
    next_cursor: str | None = NEXT_CURSOR


class RedemptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_number: str = Field(min_length=1, max_length=32)
    points: Annotated[int, Field(strict=True, ge=1, le=MAX_POINTS, description="a whole number of blocks")]


class RedemptionOut(BaseModel):
    id: int
    card_number: str
    points: int
    value_fen: Fen = Field(description="the voucher's value")
    channel: str = Field(description="portal (here, the API) or station")
    redeemed_at: Time
    points_left: int = Field(description="the card's available points now")


@bp.get("/points")
@api_endpoint("read", query=PageQuery, resp={200: PointsOut}, tags=["points"])
def points(query: PageQuery):
    """The customer's points and each card's available points."""
    stmt = services.card_points(g.api_customer_id).order_by(Card.number)
    page = keyset_page(
        db.session, stmt, query, report=REPORT, scalars=False,
        key=lambda row: Key(EPOCH, row[0].number), after=lambda key: Card.number > str(key.id),
    )  # fmt: skip
    cards = [
        CardPointsOut(card_number=card.number, role=card.role, status=card.status, available_points=int(available))
        for card, available in page.rows
    ]
    return PointsOut(
        customer_points=ledger.customer_balances(db.session, g.api_customer_id).points.posted,
        block_points=services.BLOCK_POINTS, block_value_fen=services.BLOCK_VALUE_FEN, data=cards,
        next_cursor=page.next_cursor,
    )  # fmt: skip


def _redemption_out(redemption: PointsRedemption, card: Card) -> RedemptionOut:
    return RedemptionOut(
        id=redemption.id, card_number=card.number, points=redemption.points, value_fen=redemption.value_fen,
        channel=redemption.channel, redeemed_at=local_time(redemption.at),
        points_left=services.available_points(db.session, card.id),
    )  # fmt: skip


@bp.post("/points/redemptions")
@api_endpoint(
    "points", json=RedemptionIn, resp={201: RedemptionOut}, tags=["points"],
    idempotent=True,
)  # fmt: skip
def redeem(json: RedemptionIn):
    """Redeem whole blocks of a card's points for a voucher."""
    actor_id = key_owner()
    card = card_by_number(json.card_number, main_too=True)
    done = services.redeem(
        db.session, card, json.points, key=service_key(), actor_id=actor_id, now=clock().now(), ip=client_ip()
    )
    api_audit("api.points.redeem", {"card": card.number, "points": json.points, "redemption": done.redemption.id})
    return _redemption_out(done.redemption, card), 201


@bp.get("/points/redemptions/<redemption_id>")
@api_endpoint("read", resp={200: RedemptionOut}, tags=["points"])
def get_redemption(redemption_id: str):
    """One redemption (the receipt)."""
    redemption = owned_row(PointsRedemption, redemption_id, "redemption_not_found", "redemption")
    return _redemption_out(redemption, db.session.get(Card, redemption.card_id))
