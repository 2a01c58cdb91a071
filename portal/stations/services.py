"""The station side's services beyond authorization: refunds, offline purchases from card sync,
and points redemption at a station. Flush, never commit.

    from portal.stations.services import authorize, refund, record_offline_purchase, redeem_at_station
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import ledger
from portal.alerts.detection import check_purchase
from portal.cards.loss import purchase_refusal
from portal.cards.models import Card
from portal.points import services as points
from portal.reference.models import Product, Station
from portal.stations.authorization import (
    Answer,
    AuthorizationError,
    PurchaseRequest,
    _lock_purse,
    authorize,
    find_card,
    post_purchase,
)
from portal.stations.models import PointsRedemption, Purchase, Terminal
from portal.statistics import rollup

__all__ = [
    "Answer",
    "AuthorizationError",
    "OfflinePurchaseRefused",
    "PurchaseRequest",
    "authorize",
    "record_offline_purchase",
    "redeem_at_station",
    "refund",
]


def refund(session: Session, terminal: Terminal, *, purchase_id: int, terminal_seq: int, now: datetime) -> Answer:
    """Refund a whole approved purchase made at this terminal's station: station_sales -> purse,
    and the points it earned taken back. Idempotent on the terminal's sequence number."""
    existing = session.scalar(
        select(Purchase).where(Purchase.terminal_id == terminal.id, Purchase.terminal_seq == terminal_seq)
    )
    if existing is not None:
        if existing.kind != "refund" or existing.refund_of_id != purchase_id:
            raise AuthorizationError(
                "sequence_reused", "This terminal sequence number was already used for a different request.", 409
            )
        return Answer(existing, replayed=True)
    original = session.get(Purchase, purchase_id)
    if original is None or original.station_id != terminal.station_id or original.kind != "purchase":
        raise AuthorizationError("unknown_purchase", "No purchase with this id was made at this station.", 404)
    if original.status != "approved":
        raise AuthorizationError("not_refundable", "A declined purchase cannot be refunded.", 409)
    purse = _lock_purse(session, original.card_id)
    if session.scalar(select(Purchase.id).where(Purchase.refund_of_id == original.id)) is not None:
        raise AuthorizationError("already_refunded", "This purchase was already refunded.", 409)
    if purse is None or purse.closed:
        raise AuthorizationError("card_closed", "The card's purse is closed; refund by other means.", 409)
    transfer_id = f"pos:{terminal.id}:{terminal_seq}"
    ledger.transfer(
        session,
        ledger.TransferRequest(
            id=transfer_id,
            debit_account_id=ledger.system_account(session, "station_sales").id,
            credit_account_id=purse.id,
            amount=original.amount_fen,
            code="refund",
            memo=f"refund of purchase {original.id}",
        ),
        now=now,
    )
    refund_row = Purchase(
        kind="refund",
        status="approved",
        source="online",
        customer_id=original.customer_id,
        card_id=original.card_id,
        driver_id=original.driver_id,
        vehicle_id=original.vehicle_id,
        plate=original.plate,
        station_id=original.station_id,
        region_id=original.region_id,
        terminal_id=terminal.id,
        terminal_seq=terminal_seq,
        product_code=original.product_code,
        litres_ml=original.litres_ml,
        unit_price_fen=original.unit_price_fen,
        amount_fen=original.amount_fen,
        points=points.take_back_for_refund(session, original, transfer_id, now=now),
        transfer_id=transfer_id,
        refund_of_id=original.id,
        balance_after_fen=ledger.available(purse),
        at=now,
        received_at=now,
    )
    session.add(refund_row)
    session.flush()
    rollup.record_purchase(session, refund_row)
    return Answer(refund_row)


class OfflinePurchaseRefused(AuthorizationError):
    """An offline purchase made after the card's loss took full effect (or on a card closed by then)."""

    _MESSAGES = {
        "card_lost": "The card was reported lost and the loss had taken full effect when this purchase was made.",
        "card_closed": "The card was closed when this purchase was made.",
    }

    def __init__(self, code: str):
        super().__init__(code, self._MESSAGES.get(code, "The card could not be used."), 409)


def record_offline_purchase(
    session: Session,
    card: Card,
    *,
    chip_counter: int,
    station_code: str,
    product_code: str,
    litres_ml: int,
    amount_fen: int,
    at: datetime,
    now: datetime,
    unit_price_fen: int | None = None,
    transfer_id: str | None = None,
) -> Purchase:
    """Book a purchase the chip made offline, once per (card, chip counter): purse -> station_sales,
    points earned, anomaly checks (hours / regions outside the controls, tank, travel).

    A second call with the same counter returns the first Purchase and posts nothing. The chip
    already took the money, so controls never refuse it here, and neither does a loss report for a
    purchase made before the loss took full effect. One made after it is refused
    (`OfflinePurchaseRefused`, code "card_lost" or "card_closed"): nothing is posted, and card sync
    lists it among the problems, as it does the ledger's own refusals (InsufficientFunds,
    AccountFrozen, AccountClosed), which propagate for the caller to report.
    Raises AuthorizationError for an unknown station or product, or a bad amount.
    """
    existing = session.scalar(
        select(Purchase).where(Purchase.card_id == card.id, Purchase.chip_counter == chip_counter)
    )
    if existing is not None:
        return existing
    station = session.scalar(select(Station).where(Station.code == station_code))
    if station is None:
        raise AuthorizationError("unknown_station", f"No station has code {station_code!r}.", 404)
    product = session.get(Product, product_code)
    if product is None:
        raise AuthorizationError("unknown_product", f"No product has code {product_code!r}.", 404)
    if amount_fen <= 0 or litres_ml < 0:
        raise AuthorizationError("out_of_range", "Amount must be positive and litres not negative.", 400)
    refusal = purchase_refusal(session, card, made_at=at, online=False)
    if refusal is not None:
        raise OfflinePurchaseRefused(refusal)
    if unit_price_fen is None:
        # The chip logs litres and amount; the price is what they imply, rounded half up to the fen.
        unit_price_fen = max(1, (amount_fen * 1000 * 2 + litres_ml) // (2 * litres_ml)) if litres_ml else amount_fen
    purse = _lock_purse(session, card.id)
    if purse is None:
        raise ledger.UnknownAccount(f"card {card.id} has no purse account")
    purchase = Purchase(
        kind="purchase",
        status="approved",
        source="offline",
        customer_id=card.customer_id,
        card_id=card.id,
        driver_id=card.driver_id,
        vehicle_id=card.vehicle_id,
        plate="",
        station_id=station.id,
        region_id=station.region_id,
        chip_counter=chip_counter,
        product_code=product.code,
        litres_ml=litres_ml,
        unit_price_fen=unit_price_fen,
        amount_fen=amount_fen,
        transfer_id=transfer_id or f"chip-purchase:{card.id}:{chip_counter}",
        at=at,
        received_at=now,
    )
    purchase.balance_after_fen = ledger.available(purse) - amount_fen
    purchase.points = points.points_for_purchase(session, purchase, product.kind)
    session.add(purchase)
    session.flush()
    check_purchase(session, purchase, now=now)
    post_purchase(session, purchase, purse.id, now=now)
    rollup.record_purchase(session, purchase)
    return purchase


@dataclass(frozen=True)
class StationRedemption:
    redemption: PointsRedemption
    replayed: bool
    balance_after: int


def redeem_at_station(
    session: Session, terminal: Terminal, *, card_number: str, points_amount: int, terminal_seq: int, now: datetime
) -> StationRedemption:
    """Redeem points for a voucher at the pump; idempotent on the terminal's sequence number."""
    transfer_id = f"pos-redeem:{terminal.id}:{terminal_seq}"
    card = find_card(session, card_number)
    existing = session.scalar(select(PointsRedemption).where(PointsRedemption.transfer_id == transfer_id))
    if existing is None and card is None:
        raise AuthorizationError("unknown_card", "No card has this number.", 404)
    if card is not None and existing is None and card.status != "active":
        raise AuthorizationError(f"card_{card.status}", "The card cannot be used.", 409)
    card_id = card.id if card is not None else -1
    try:
        redemption = points.redeem(
            session,
            points.RedeemRequest(
                card_id=card_id,
                customer_id=card.customer_id if card is not None else -1,
                points=points_amount,
                channel="station",
                transfer_id=transfer_id,
                station_id=terminal.station_id,
                terminal_id=terminal.id,
                terminal_seq=terminal_seq,
            ),
            now=now,
        )
    except points.PointsError as exc:
        raise AuthorizationError(exc.code, exc.message, exc.status) from None
    account = points.points_account(session, redemption.card_id)
    return StationRedemption(redemption, existing is not None, ledger.balance(account) if account else 0)
