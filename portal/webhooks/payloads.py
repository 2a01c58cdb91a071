"""The `data` of each event type, built from the rows the service already holds (only when some
endpoint listens: the services pass these as functions to `events.emit`). Money in integer fen, times
in ISO 8601 with an offset, card numbers as printed on the card (digits)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.alerts.models import Alert
from portal.cards.models import Card, LossReport
from portal.chips.models import LoadRequest
from portal.funds.models import FundsBatch
from portal.purchases.models import Purchase
from portal.reference.models import Station
from portal.webhooks.events import iso


def card_number(session: Session, card_id: int | None) -> str | None:
    if card_id is None:
        return None
    card = session.get(Card, card_id)
    return None if card is None else card.number


def purchase(session: Session, row: Purchase) -> dict[str, Any]:
    station = session.execute(select(Station.code, Station.name).where(Station.id == row.station_id)).first()
    return {
        "purchase_id": row.id,
        "kind": row.kind,
        "status": row.status,
        "decline_code": row.decline_code,
        "source": row.source,
        "card_number": card_number(session, row.card_id),
        "plate": row.plate or None,
        "station_code": station.code if station else None,
        "station_name": station.name if station else None,
        "product_code": row.product_code,
        "litres_ml": row.litres_ml,
        "unit_price_fen": row.unit_price_fen,
        "amount_fen": row.amount_fen,
        "points": row.points,
        "balance_after_fen": row.balance_after_fen,
        "refund_of_purchase_id": row.refund_of_id,
        "at": iso(row.at),
        "received_at": iso(row.received_at),
    }


def loss_report(session: Session, report: LossReport, **extra) -> dict[str, Any]:
    return {
        "loss_report_id": report.id,
        "card_number": card_number(session, report.card_id),
        "reason": report.reason,
        "status": report.status,
        "reported_at": iso(report.reported_at),
        "effective_at": iso(report.effective_at),
        "replaceable_from": iso(report.replaceable_from),
        **extra,
    }


def load(session: Session, row: LoadRequest) -> dict[str, Any]:
    return {
        "load_id": row.id,
        "card_number": card_number(session, row.card_id),
        "amount_fen": row.amount,
        "status": row.status,
        "requested_at": iso(row.requested_at),
        "expires_at": iso(row.expires_at),
        "resolved_at": iso(row.resolved_at),
    }


def funds_batch(session: Session, batch: FundsBatch) -> dict[str, Any]:
    numbers = dict(
        session.execute(select(Card.id, Card.number).where(Card.id.in_([ln.card_id for ln in batch.lines]))).all()
    )
    return {
        "batch_id": batch.id,
        "kind": batch.kind,
        "total_fen": batch.total,
        "card_count": batch.line_count,
        "unit_balance_after_fen": batch.unit_balance_after,
        "posted_at": iso(batch.posted_at),
        "lines": [
            {
                "card_number": numbers.get(line.card_id),
                "amount_fen": line.amount,
                "reserve_after_fen": line.reserve_after,
            }
            for line in sorted(batch.lines, key=lambda line: line.line_no)
        ],
    }


def alert(session: Session, row: Alert) -> dict[str, Any]:
    return {
        "alert_id": row.id,
        "kind": row.kind,
        "card_number": card_number(session, row.card_id),
        "purchase_id": row.purchase_id,
        "detail": dict(row.detail or {}),
        "created_at": iso(row.created_at),
    }
