"""Booking an approved purchase: its money and points on the ledger, and its row. Shared by the
online (portal.purchases.authorization) and offline (portal.purchases.offline) paths. Flush,
never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session, make_transient_to_detached

from portal import ledger
from portal.ledger import memos
from portal.points import services as points
from portal.purchases.models import Purchase

_purchases = Purchase.__table__
#: Every column of a purchase row but its id: the Core INSERT sends them all, so the object that
#: joins the session afterwards has every attribute loaded and never reads the row back.
_PURCHASE_COLUMNS = tuple(c.key for c in _purchases.c if c.key != "id")
_INSERT_PURCHASE = insert(_purchases).returning(_purchases.c.id)


def post_purchase(
    session: Session,
    purchase: Purchase,
    purse_id: int,
    *,
    now: datetime,
    points_account_id: int | None = None,
    system_ids: dict[str, int | None] | None = None,
) -> None:
    """The approved purchase's money (purse -> the station's station_sales) and its points (the
    station's points_issued -> the card's points), on the ledger in one batch: one lock, one write.
    The station's own system accounts, so purchases at different stations share no account row.
    `system_ids`: their ids when the caller has read them already (missing ones are looked up, or
    created)."""
    earns = purchase.points > 0
    kinds = ("station_sales", "points_issued") if earns else ("station_sales",)
    if system_ids is None or any(system_ids.get(kind) is None for kind in kinds):
        system_ids = ledger.system_account_ids(session, kinds, station_id=purchase.station_id)
    requests = [
        ledger.TransferRequest(
            id=purchase.transfer_id,
            debit_account_id=purse_id,
            credit_account_id=system_ids["station_sales"],
            amount=purchase.amount_fen,
            code="purchase",
            memo=memos.structured(source=purchase.source, product=purchase.product_code, station=purchase.station_id),
        )
    ]
    if earns:
        if points_account_id is None:
            points_account_id = points.points_account(session, purchase.card_id).id
        requests.append(points.earn_request(purchase, system_ids["points_issued"], points_account_id))
    ledger.transfer_batch(session, requests, now=now)


def insert_purchase(session: Session, purchase: Purchase) -> None:
    """Insert a new purchase with one Core INSERT ... RETURNING id, then attach it to the session
    as if it had been loaded (every attribute set, nothing pending): the ORM's unit of work costs
    several times the statement's own time for a single row."""
    values = {name: getattr(purchase, name) for name in _PURCHASE_COLUMNS}
    purchase.id = session.execute(_INSERT_PURCHASE, values).scalar_one()
    make_transient_to_detached(purchase)
    session.add(purchase)
