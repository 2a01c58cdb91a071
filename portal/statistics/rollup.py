"""The daily purchase totals (`PurchaseDay`): kept up to date with each purchase, rebuilt on demand,
and read by the statistics and the purchase query's totals when a filter allows.

Keeping them: the stations area calls `record_purchase(session, purchase)` in the transaction that
adds the purchase (after its flush), so the totals commit or roll back with it. An upsert: two
purchases of one customer, day, product and region at once queue on that row until the first
commits (as they already do on the ledger's station sales account).
Rebuilding: `rebuild(session)` (CLI: `flask statistics rebuild-rollup`) recomputes them from the
purchases, e.g. once before the app starts reading them (`PURCHASE_ROLLUP = True`).
"""

from __future__ import annotations

from sqlalchemy import bindparam, case, delete, func, insert, select, text
from sqlalchemy.orm import Session

from portal.clock import business_date as business_date_of
from portal.queries.filters import Filter
from portal.queries.purchases import UnknownReference
from portal.queries.scope import Scope
from portal.reference.models import Product, Region
from portal.stations.models import Purchase
from portal.statistics.buckets import business_date
from portal.statistics.models import PurchaseDay

KEY = ("customer_id", "day", "status", "kind", "product_code", "region_id")
SUMS = ("count", "amount_fen", "litres_ml", "points")
#: Statistics groups the daily totals can answer (the others need card, driver, vehicle or station).
GROUPS = ("day", "month", "product", "region")


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


def covers(scope: Scope, flt: Filter, group: str | None = None) -> bool:
    """Whether the daily totals can answer this filter (and grouping) exactly."""
    if not scope.whole_customer or flt.card or flt.driver is not None or flt.plate or flt.get("station"):
        return False
    return group is None or group in GROUPS


def _where(session: Session, scope: Scope, flt: Filter, status: str) -> list:
    where = [
        PurchaseDay.customer_id == scope.customer_id,
        PurchaseDay.day >= flt.start,
        PurchaseDay.day <= flt.end,
        PurchaseDay.status == status,
    ]
    if flt.get("type"):
        where.append(PurchaseDay.kind == flt.get("type"))
    if flt.get("product"):
        if session.get(Product, flt.get("product")) is None:
            raise UnknownReference("product", flt.get("product"))
        where.append(PurchaseDay.product_code == flt.get("product"))
    if flt.get("region"):
        region_id = session.scalar(select(Region.id).where(Region.code == flt.get("region")))
        if region_id is None:
            raise UnknownReference("region", flt.get("region"))
        where.append(PurchaseDay.region_id == region_id)
    return where


def _signed(column):
    return case((PurchaseDay.kind == "refund", -column), else_=column)


def _figures():
    """Purchases (refunds are not extra purchases), then net amount, litres and points."""
    return (
        func.coalesce(func.sum(case((PurchaseDay.kind == "purchase", PurchaseDay.count), else_=0)), 0),
        func.coalesce(func.sum(_signed(PurchaseDay.amount_fen)), 0),
        func.coalesce(func.sum(_signed(PurchaseDay.litres_ml)), 0),
        func.coalesce(func.sum(_signed(PurchaseDay.points)), 0),
    )


def totals(session: Session, scope: Scope, flt: Filter, status: str) -> tuple[int, int, int, int, int]:
    """(rows, purchases, net amount, net litres, net points) of the filter, as `purchases.totals`."""
    row = session.execute(
        select(func.coalesce(func.sum(PurchaseDay.count), 0), *_figures()).where(*_where(session, scope, flt, status))
    ).one()
    return tuple(int(value) for value in row)


def grouped(session: Session, scope: Scope, flt: Filter, group: str) -> list[tuple]:
    """Approved (key, purchases, amount, litres, points) per group, in the statistics' order: time
    groups by time, the others biggest amount first."""
    where = _where(session, scope, flt, "approved")
    if group in ("day", "month"):
        rows = session.execute(
            select(PurchaseDay.day, *_figures()).where(*where).group_by(PurchaseDay.day).order_by(PurchaseDay.day)
        ).all()
        width = 10 if group == "day" else 7  # "2026-03-01" or "2026-03"
        merged: dict[str, list[int]] = {}
        for day, *figures in rows:
            sums = merged.setdefault(day.isoformat()[:width], [0, 0, 0, 0])
            for index, value in enumerate(figures):
                sums[index] += int(value)
        return [(key, *sums) for key, sums in merged.items()]
    key = {"product": PurchaseDay.product_code, "region": PurchaseDay.region_id}[group]
    figures = _figures()
    query = select(key, *figures).where(*where).group_by(key).order_by(figures[1].desc(), key)
    return [(k, *(int(v) for v in values)) for k, *values in session.execute(query)]
