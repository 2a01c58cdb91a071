"""Points redemption at a station's terminal (the terminal API's service beside the purchase
side's `authorize` and `refund`, portal.purchases). Flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import idempotency, ledger
from portal.points import services as points
from portal.points.models import PointsRedemption
from portal.purchases.authorization import AuthorizationError
from portal.purchases.pump import find_card
from portal.stations.models import Terminal


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
    idempotency.claim(session, points.REDEMPTION, transfer_id)
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
