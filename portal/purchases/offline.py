"""Offline purchases: what the chip recorded while the pump had no line to the host, uploaded by
card sync (portal.chips.sync) and booked here once per (card, chip counter): purse ->
station_sales, points earned, anomaly checks. Flush, never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import idempotency, ledger
from portal.alerts.detection import check_purchase
from portal.alerts.facts import gather_facts
from portal.cards.loss import purchase_refusal
from portal.cards.models import Card
from portal.drivers.models import Vehicle
from portal.points import services as points
from portal.purchases import rollup
from portal.purchases.authorization import AuthorizationError
from portal.purchases.booking import post_purchase
from portal.purchases.models import Purchase
from portal.purchases.pump import lock_purse
from portal.reference.models import Product, Station
from portal.webhooks import events as webhooks
from portal.webhooks import payloads


class OfflinePurchaseRefused(AuthorizationError):
    """An offline purchase made after the card's loss took full effect (or on a card closed by then)."""

    _MESSAGES = {
        "card_lost": "The card was reported lost and the loss had taken full effect when this purchase was made.",
        "card_closed": "The card was closed when this purchase was made.",
    }

    def __init__(self, code: str):
        super().__init__(code, self._MESSAGES.get(code, "The card could not be used."), 409)


def claim_offline_purchase(session: Session, card_id: int, chip_counter: int) -> None:
    """Take the key of the chip's purchase (portal.idempotency) before looking for it."""
    idempotency.claim(session, "chip-purchase", card_id, chip_counter)


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

    A second call with the same counter (also one at the same moment: the counter is claimed
    first) returns the first Purchase and posts nothing. The chip already took the money, so
    controls never refuse it here, and neither does a loss report for a purchase made before the
    loss took full effect. One made after it is refused
    (`OfflinePurchaseRefused`, code "card_lost" or "card_closed"): nothing is posted, and card sync
    lists it among the problems, as it does the ledger's own refusals (InsufficientFunds,
    AccountFrozen, AccountClosed), which propagate for the caller to report.
    Raises AuthorizationError for an unknown station or product, or a bad amount.
    """
    existing = _recorded(session, card.id, chip_counter)
    if existing is not None:
        return existing
    station, product = _accepted(session, card, station_code, product_code, litres_ml, amount_fen, at=at)
    if unit_price_fen is None:
        # The chip logs litres and amount; the price is what they imply, rounded half up to the fen.
        unit_price_fen = max(1, (amount_fen * 1000 * 2 + litres_ml) // (2 * litres_ml)) if litres_ml else amount_fen
    purse = lock_purse(session, card.id)
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
        plate=_vehicle_plate(session, card.vehicle_id),
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
    _book(session, purchase, purse, product.kind, now=now)
    return purchase


def _recorded(session: Session, card_id: int, chip_counter: int) -> Purchase | None:
    """The purchase already booked for this chip counter, looked for once the counter is claimed."""
    claim_offline_purchase(session, card_id, chip_counter)
    return session.scalar(select(Purchase).where(Purchase.card_id == card_id, Purchase.chip_counter == chip_counter))


def _accepted(
    session: Session, card: Card, station_code: str, product_code: str, litres_ml: int, amount_fen: int, *, at
) -> tuple[Station, Product]:
    """The station and product the chip names, once the upload is found bookable (else raises)."""
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
    return station, product


def _book(session: Session, purchase: Purchase, purse, product_kind: str, *, now: datetime) -> None:
    """Record the purchase, its alerts, its money and points, the day's totals and its webhook event. The alert
    facts are read before the row is inserted, as the pump reads them (portal.alerts.facts)."""
    facts = gather_facts(session, purchase)
    purchase.balance_after_fen = ledger.available(purse) - purchase.amount_fen
    purchase.points = points.points_for_purchase(session, purchase, product_kind)
    session.add(purchase)
    session.flush()
    check_purchase(session, purchase, now=now, facts=facts)
    post_purchase(session, purchase, purse.id, now=now)
    rollup.record_purchase(session, purchase)
    webhooks.emit(
        session, purchase.customer_id, "purchase.approved", lambda: payloads.purchase(session, purchase), now=now
    )


def _vehicle_plate(session: Session, vehicle_id: int | None) -> str:
    """The plate of the card's vehicle, as an online purchase without a typed plate records it (the
    chip's log carries none)."""
    if vehicle_id is None:
        return ""
    return session.scalar(select(Vehicle.plate).where(Vehicle.id == vehicle_id)) or ""
