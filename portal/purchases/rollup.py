"""Keeping the daily purchase totals (`PurchaseDay`): up to date with each purchase, rebuilt on
demand. (Reading them is the read side's: `portal.queries.purchases` for page totals,
`portal.statistics.rollup` for statistics.)

Keeping them: every booking of a purchase or refund here (portal.purchases) calls
`record_purchase(session, purchase)` in the transaction that adds the purchase (after its flush),
so the totals commit or roll back with it. An upsert: two purchases of one customer, day, product
and region at once queue on that row until the first commits (as they already do on the ledger's
station sales account).
Rebuilding: `rebuild(session)` (CLI: `flask statistics rebuild-rollup`) recomputes them from the
purchases, e.g. once before the app starts reading them (`PURCHASE_ROLLUP = True`).
"""

from __future__ import annotations

from sqlalchemy import bindparam, delete, func, insert, select, text
from sqlalchemy.orm import Session

from portal.clock import business_date as business_date_of
from portal.purchases.models import Purchase, PurchaseDay
from portal.sql_clock import business_date

KEY = ("customer_id", "day", "status", "kind", "product_code", "region_id")
SUMS = ("count", "amount_fen", "litres_ml", "points")


#: INSERT ... ON CONFLICT (the key) DO UPDATE adding the sums, as text: the same SQL on PostgreSQL
#: and SQLite (3.24+). SQLAlchemy cannot cache a compiled dialect `on_conflict_do_update`, and
#: compiling it anew for every purchase cost more than its round trip.
_UPSERT = text(
    f"INSERT INTO purchase_days ({', '.join(KEY + SUMS)}) "  # noqa: S608 (constants)
    f"VALUES ({', '.join(':' + name for name in KEY + SUMS)}) "
    f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
    + ", ".join(f"{name} = purchase_days.{name} + excluded.{name}" for name in SUMS)
).bindparams(*(bindparam(name, type_=PurchaseDay.__table__.c[name].type) for name in KEY + SUMS))


def record_purchase(session: Session, purchase: Purchase) -> None:
    """Add a flushed purchase (approved or declined, purchase or refund) to its day's totals."""
    row = {
        "customer_id": purchase.customer_id,
        "day": business_date_of(purchase.at),
        "status": purchase.status,
        "kind": purchase.kind,
        "product_code": purchase.product_code,
        "region_id": purchase.region_id,
        "count": 1,
        "amount_fen": purchase.amount_fen,
        "litres_ml": purchase.litres_ml,
        "points": purchase.points,
    }
    session.execute(_UPSERT, row)


def rebuild(session: Session, customer_id: int | None = None) -> int:
    """Recompute the totals (of one customer, or all) from the purchases; returns the rows written.
    On PostgreSQL new purchases wait for the rebuild to commit, so none is counted twice or missed."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE purchases IN SHARE MODE"))
    wipe = delete(PurchaseDay)
    day = business_date(Purchase.at)
    sums = select(
        Purchase.customer_id,
        day,
        Purchase.status,
        Purchase.kind,
        Purchase.product_code,
        Purchase.region_id,
        func.count(),
        func.sum(Purchase.amount_fen),
        func.sum(Purchase.litres_ml),
        func.sum(Purchase.points),
    ).group_by(Purchase.customer_id, day, Purchase.status, Purchase.kind, Purchase.product_code, Purchase.region_id)
    if customer_id is not None:
        wipe = wipe.where(PurchaseDay.customer_id == customer_id)
        sums = sums.where(Purchase.customer_id == customer_id)
    session.execute(wipe)
    session.execute(insert(PurchaseDay).from_select([*KEY, *SUMS], sums))
    session.flush()
    query = select(func.count()).select_from(PurchaseDay)
    if customer_id is not None:
        query = query.where(PurchaseDay.customer_id == customer_id)
    return session.scalar(query)
