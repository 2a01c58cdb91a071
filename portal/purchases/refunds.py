"""Refunds at the pump: a whole approved purchase made at the terminal's station is given back
(the station_sales account it was paid to -> purse) and the points it earned taken back, as a new
`Purchase` row of kind "refund". Idempotent on the terminal's sequence number, claimed first
(portal.idempotency), so copies sent at once get one answer. Flush, never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import idempotency, ledger
from portal.ledger import memos
from portal.ledger.models import Account
from portal.points import services as points
from portal.purchases import rollup
from portal.purchases.authorization import TERMINAL_SEQ, Answer, AuthorizationError, Terminal
from portal.purchases.models import Purchase
from portal.purchases.pump import by_terminal_seq, lock_purse
from portal.webhooks import events as webhooks
from portal.webhooks import payloads


def refund(session: Session, terminal: Terminal, *, purchase_id: int, terminal_seq: int, now: datetime) -> Answer:
    """Refund a whole approved purchase made at this terminal's station: station_sales -> purse,
    and the points it earned taken back. Idempotent on the terminal's sequence number."""
    idempotency.claim(session, TERMINAL_SEQ, terminal.id, terminal_seq)
    existing = by_terminal_seq(session, terminal.id, terminal_seq)
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
    purse = lock_purse(session, original.card_id)
    if session.scalar(select(Purchase.id).where(Purchase.refund_of_id == original.id)) is not None:
        raise AuthorizationError("already_refunded", "This purchase was already refunded.", 409)
    if purse is None or purse.closed:
        raise AuthorizationError("card_closed", "The card's purse is closed; refund by other means.", 409)
    transfer_id = f"pos:{terminal.id}:{terminal_seq}"
    ledger.transfer(
        session,
        ledger.TransferRequest(
            id=transfer_id,
            debit_account_id=_sales_account_id(session, original),
            credit_account_id=purse.id,
            amount=original.amount_fen,
            code="refund",
            memo=memos.structured(purchase=original.id),
        ),
        now=now,
    )
    refund_row = _refund_row(session, original, purse, terminal, terminal_seq, transfer_id, now=now)
    session.add(refund_row)
    session.flush()
    rollup.record_purchase(session, refund_row)
    webhooks.emit(
        session, refund_row.customer_id, "purchase.refunded", lambda: payloads.purchase(session, refund_row), now=now
    )
    return Answer(refund_row)


def _sales_account_id(session: Session, original: Purchase) -> int:
    """The account the purchase's money went to (its station's sales account; the national one for
    purchases booked before stations had their own): the refund takes it back from there."""
    paid_to = session.scalar(
        select(ledger.Transfer.credit_account_id).where(ledger.Transfer.id == original.transfer_id)
    )
    return paid_to if paid_to is not None else ledger.station_account(session, "station_sales", original.station_id).id


def _refund_row(
    session: Session,
    original: Purchase,
    purse: Account,
    terminal: Terminal,
    terminal_seq: int,
    transfer_id: str,
    *,
    now: datetime,
) -> Purchase:
    """The refund's row, copying the original's facts; takes the original's points back first."""
    return Purchase(
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
