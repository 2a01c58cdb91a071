"""Chip loads over the API (资金圈存), exactly as the chip load page does them (portal.chips.loads).

- `POST /loads` requests a load of `amount_fen` from a card's reserve to its chip: the amount is
  held on the reserve and the load is `waiting` until the card's chip is written (a reader, or the
  card's next contact with a station), then `loaded`; a load not written in time is `expired` and
  the hold released. `Idempotency-Key` is required; the load's id derives from it.
- `POST /loads/<load_id>/cancel` cancels a waiting load (the hold is released); cancelling one that
  is already cancelled or expired changes nothing, one already on the chip is 409 `not_pending`.
- `GET /loads` (filters: `q` as the page's search, `card_number`, `state`) and `GET /loads/<load_id>`.

States are the pages' words: waiting, loaded, cancelled, expired (a waiting load past its hold
shows as expired before the expiry job voids it, as on the pages).
"""

from __future__ import annotations

from typing import Literal

from flask import current_app, g
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from portal.api import bp
from portal.api.auth import api_audit, api_endpoint, owned_or_404
from portal.api.cards import card_by_number
from portal.api.funds import key_owner
from portal.api.idempotency import service_key
from portal.api.pagination import NEXT_CURSOR, PageQuery, cursor_key, cursor_of
from portal.api.serialize import Fen, Time, local_time
from portal.cards.models import Card
from portal.chips import loads as services
from portal.chips.models import LoadRequest
from portal.extensions import clock, db
from portal.funds.services import matching
from portal.money import MAX_FEN

REPORT = "api.loads"
#: The API's state -> the service's status (`shown_status`): "waiting" is the pages' word for pending.
STATES = {"waiting": "pending", "loaded": "loaded", "cancelled": "cancelled", "expired": "expired"}
_STATE_OF = {status: state for state, status in STATES.items()}
State = Literal["waiting", "loaded", "cancelled", "expired"]


class LoadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_number: str = Field(min_length=1, max_length=32, description="an active sub-card of the customer")
    amount_fen: Fen = Field(ge=1, le=MAX_FEN, description="held on the card's reserve until written")


class LoadCancelIn(BaseModel):
    """No fields: send `{}`."""

    model_config = ConfigDict(extra="forbid")


class LoadOut(BaseModel):
    id: str
    card_number: str
    amount_fen: Fen
    state: State
    requested_at: Time
    expires_at: Time = Field(description="when a load not yet written is released")
    resolved_at: Time | None = Field(description="when it was written, cancelled or expired")


class LoadQuery(PageQuery):
    q: str = Field("", max_length=64, description="the cards' search: part of a number, nickname, driver or plate")
    card_number: str | None = Field(None, max_length=32, description="this card's loads only")
    state: State | None = None


class LoadList(BaseModel):
    data: list[LoadOut]
    next_cursor: str | None = NEXT_CURSOR


def _loads_out(loads: list[LoadRequest]) -> list[LoadOut]:
    now = clock().now()
    ids = {load.card_id for load in loads}
    numbers = dict(db.session.execute(select(Card.id, Card.number).where(Card.id.in_(ids))).all()) if ids else {}
    return [
        LoadOut(
            id=load.id,
            card_number=numbers[load.card_id],
            amount_fen=load.amount,
            state=_STATE_OF[services.shown_status(load, now)],
            requested_at=local_time(load.requested_at),
            expires_at=local_time(load.expires_at),
            resolved_at=local_time(load.resolved_at),
        )  # fmt: skip
        for load in loads
    ]


def _load(load_id: str) -> LoadRequest:
    return owned_or_404(LoadRequest, load_id[:32], "load_not_found", "load")


@bp.post("/loads")
@api_endpoint("funds", json=LoadIn, resp={201: LoadOut}, tags=["loads"], idempotent=True)
def request_load(json: LoadIn):
    """Request a chip load: the amount is held on the card's reserve, the load is `waiting` until written."""
    actor_id = key_owner()
    card = card_by_number(json.card_number)
    load = services.request_load(
        db.session, load_id=service_key(), card=card, amount=json.amount_fen, actor_id=actor_id, now=clock().now(),
        expiry=services.load_expiry(current_app.config.get("CHIP_LOAD_EXPIRY")),
    )  # fmt: skip
    api_audit("api.chips.load_requested", {"load": load.id, "card": card.number, "amount": load.amount})
    return _loads_out([load])[0], 201


@bp.post("/loads/<load_id>/cancel")
@api_endpoint("funds", json=LoadCancelIn, resp={200: LoadOut}, tags=["loads"])
def cancel_load(load_id: str):
    """Cancel a waiting load: the hold on the reserve is released (again: nothing changes)."""
    load = _load(load_id)
    actor_id = key_owner()
    services.cancel_load(db.session, load, now=clock().now(), actor_id=actor_id)
    api_audit("api.chips.load_cancelled", {"load": load.id, "amount": load.amount})
    return _loads_out([load])[0]


@bp.get("/loads")
@api_endpoint("read", query=LoadQuery, resp={200: LoadList}, tags=["loads"])
def list_loads(query: LoadQuery):
    """The customer's chip loads, newest first."""
    card_ids = None
    if query.card_number is not None:
        card_ids = [card_by_number(query.card_number).id]
    elif query.q.strip():
        card_ids = list(db.session.scalars(matching(g.api_customer_id, query.q).with_only_columns(Card.id)))
    page = services.loads_page(
        db.session, g.api_customer_id, card_ids=card_ids, key=cursor_key(query, report=REPORT), limit=query.limit,
        state=STATES[query.state] if query.state else None, now=clock().now(),
    )  # fmt: skip
    return LoadList(data=_loads_out(page.rows), next_cursor=cursor_of(page.next_key, report=REPORT))


@bp.get("/loads/<load_id>")
@api_endpoint("read", resp={200: LoadOut}, tags=["loads"])
def get_load(load_id: str):
    """One chip load and its state."""
    return _loads_out([_load(load_id)])[0]
