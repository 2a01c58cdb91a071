"""The pump's decision, as pure rules: which decline reason (if any) a purchase attempt meets.

No database, no Flask. `portal.purchases.authorization` gathers the facts under the card's lock and
asks `decline_reason`; the answer's code is stable (terminals and the UI translate it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from portal.cards import controls as card_controls
from portal.clock import business_date

CARD_LOST = "card_lost"
CARD_BLOCKED = "card_blocked"
CARD_CLOSED = "card_closed"
CARD_EXPIRED = "card_expired"
INSUFFICIENT_BALANCE = "insufficient_balance"
PER_PURCHASE_LIMIT = "per_purchase_limit"
DAILY_AMOUNT_LIMIT = "daily_amount_limit"
DAILY_COUNT_LIMIT = "daily_count_limit"
DAILY_LITRES_LIMIT = "daily_litres_limit"
PRODUCT_NOT_ALLOWED = "product_not_allowed"
STATION_NOT_ALLOWED = "station_not_allowed"
REGION_NOT_ALLOWED = "region_not_allowed"
HOURS_NOT_ALLOWED = "hours_not_allowed"
PLATE_MISMATCH = "plate_mismatch"

#: The card-controls check's codes (portal.cards.controls) -> the pump's decline codes.
CONTROL_DECLINES = {
    card_controls.PER_PURCHASE_AMOUNT: PER_PURCHASE_LIMIT,
    card_controls.DAILY_AMOUNT: DAILY_AMOUNT_LIMIT,
    card_controls.DAILY_COUNT: DAILY_COUNT_LIMIT,
    card_controls.DAILY_LITRES: DAILY_LITRES_LIMIT,
    card_controls.PRODUCT: PRODUCT_NOT_ALLOWED,
    card_controls.STATION: STATION_NOT_ALLOWED,
    card_controls.REGION: REGION_NOT_ALLOWED,
    card_controls.HOURS: HOURS_NOT_ALLOWED,
    card_controls.PLATE: PLATE_MISMATCH,
}

#: Every decline code, in the order they are checked: the card itself, then its controls, then money.
DECLINE_CODES = (
    CARD_CLOSED,
    CARD_LOST,
    CARD_BLOCKED,
    CARD_EXPIRED,
    *(CONTROL_DECLINES[code] for code in card_controls.REASONS),
    INSUFFICIENT_BALANCE,
)


@dataclass(frozen=True)
class CardState:
    """What the pump needs to know about the card and its chip purse."""

    status: str  # Card.status: active / lost / closed
    expires_on: date
    #: The purse account is frozen (card blocked by the issuer) or closed.
    blocked: bool
    #: Purse money that can still be spent, fen.
    purse_available_fen: int


def card_decline(card: CardState, at: datetime) -> str | None:
    """The card-level reason to refuse any purchase at `at`, or None."""
    if card.status == "closed":
        return CARD_CLOSED
    if card.status == "lost":
        return CARD_LOST
    if card.blocked:
        return CARD_BLOCKED
    if business_date(at) > card.expires_on:
        return CARD_EXPIRED
    return None


def decline_reason(
    card: CardState,
    controls: card_controls.Controls,
    purchase: card_controls.Purchase,
    day_totals: card_controls.DayTotals,
) -> str | None:
    """The first reason to decline the purchase, or None to approve it."""
    reason = card_decline(card, purchase.at)
    if reason:
        return reason
    broken = card_controls.check_purchase_allowed(controls, purchase, day_totals)
    if broken:
        return CONTROL_DECLINES[broken[0]]
    if purchase.amount_fen > card.purse_available_fen:
        return INSUFFICIENT_BALANCE
    return None


def amount_matches(litres_ml: int, unit_price_fen: int, amount_fen: int, *, tolerance_fen: int = 1) -> bool:
    """Does the amount agree with litres x unit price to within one fen? Exact integer arithmetic:
    |amount x 1000 - litres_ml x price| <= tolerance x 1000."""
    return abs(amount_fen * 1000 - litres_ml * unit_price_fen) <= tolerance_fen * 1000
