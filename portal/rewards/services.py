"""Redeeming points in the portal: which cards a user may redeem for, the checks shown before the
confirmation, and the redemption itself (once per idempotency key). Flush, never commit; no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import idempotency, ledger
from portal.audit.services import record
from portal.cards.models import Card
from portal.ledger.models import Account
from portal.points import rules
from portal.points import services as points
from portal.points.models import PointsRedemption

BLOCK_POINTS = rules.REDEMPTION_BLOCK_POINTS
BLOCK_VALUE_FEN = rules.REDEMPTION_BLOCK_VALUE_FEN
#: Portal redemptions' ledger ids: the prefix and the form's idempotency key (a UUID, 32 hex digits).
TRANSFER_PREFIX = "portal-redeem:"


class RewardError(Exception):
    """A redemption that cannot be made; `code` is stable, the web layer words it."""

    def __init__(self, code: str, status: int = 409, **params):
        super().__init__(code)
        self.code = code
        self.status = status
        self.params = params


@dataclass(frozen=True)
class CardPoints:
    card: Card
    #: Points that can be spent now (the posted balance less anything held).
    available: int

    @property
    def blocks(self) -> int:
        return self.available // BLOCK_POINTS


@dataclass(frozen=True)
class Redeemed:
    redemption: PointsRedemption
    #: True when this key had already redeemed (a double submit): nothing happened this time.
    replayed: bool


def cards_for(session: Session, customer_id: int, driver_id: int | None = None) -> list[CardPoints]:
    """The cards a user may redeem for, not closed, with their points: all the customer's cards for an
    admin, only the driver's own for a driver (`driver_id`)."""
    stmt = card_points(customer_id, driver_id).order_by(Card.role, Card.number)
    return [CardPoints(card, int(available)) for card, available in session.execute(stmt)]


def card_points(customer_id: int, driver_id: int | None = None):
    """The statement behind `cards_for`, unordered: rows of (card, available points); the API
    orders and pages it by card number."""
    stmt = (
        select(Card, ledger.card_balance_column("points", "available"))
        .outerjoin(Account, (Account.card_id == Card.id) & (Account.kind == "points"))
        .where(Card.customer_id == customer_id, Card.status != "closed")
        .group_by(Card.id)
    )
    if driver_id is not None:
        stmt = stmt.where(Card.driver_id == driver_id)
    return stmt


def available_points(session: Session, card_id: int) -> int:
    return ledger.card_balances(session, card_id).points.available


def check(session: Session, card: Card, points_amount: int) -> int:
    """The checks shown before the confirmation; returns the voucher's value in fen.

    The redemption itself checks again under the ledger's lock (points may be spent meanwhile).
    """
    if card.status != "active":
        raise RewardError("card_blocked")
    try:
        value = rules.redemption_value(points_amount)
    except ValueError:
        raise RewardError("not_whole_blocks", 422, block=BLOCK_POINTS) from None
    available = available_points(session, card.id)
    if points_amount > available:
        raise RewardError("insufficient_points", available=available)
    return value


def redeem(
    session: Session, card: Card, points_amount: int, *, key: str, actor_id: int, now: datetime, ip: str = ""
) -> Redeemed:
    """Spend `points_amount` of the card's points for a voucher, once per `key`."""
    transfer_id = TRANSFER_PREFIX + key
    idempotency.claim(session, points.REDEMPTION, transfer_id)  # a second copy of the form waits here
    existing = _by_transfer(session, transfer_id)
    if existing is not None:
        return _replay(existing, card, points_amount)
    check(session, card, points_amount)
    request = points.RedeemRequest(
        card_id=card.id,
        customer_id=card.customer_id,
        points=points_amount,
        channel="portal",
        transfer_id=transfer_id,
        actor_id=actor_id,
    )
    try:
        redemption = points.redeem(session, request, now=now)
    except points.PointsError as exc:
        raise RewardError(exc.code, exc.status) from None
    record(
        session,
        "points.redeem",
        actor_id=actor_id,
        customer_id=card.customer_id,
        ip=ip,
        detail={"card": card.number, "points": points_amount, "amount": redemption.value_fen},
        now=now,
    )
    session.flush()
    return Redeemed(redemption, replayed=False)


def _by_transfer(session: Session, transfer_id: str) -> PointsRedemption | None:
    return session.scalar(select(PointsRedemption).where(PointsRedemption.transfer_id == transfer_id))


def _replay(existing: PointsRedemption, card: Card, points_amount: int) -> Redeemed:
    if (existing.card_id, existing.points) != (card.id, points_amount):
        raise RewardError("key_reused")
    return Redeemed(existing, replayed=True)
