"""The statistics read from the daily purchase totals (`PurchaseDay`) when a filter and grouping
allow: the same figures as the statistics over the purchases, from a few rows per customer and day.

The totals are kept by the purchase side (`portal.purchases.rollup`); the filter's conditions on
them are the purchase query's (`portal.queries.purchases.day_conditions`), which this builds on.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.purchases.models import PurchaseDay
from portal.queries import purchases
from portal.queries.filters import Filter
from portal.queries.scope import Scope

#: Statistics groups the daily totals can answer (the others need card, driver, vehicle or station).
GROUPS = ("day", "month", "product", "region")


def covers(scope: Scope, flt: Filter, group: str | None = None) -> bool:
    """Whether the daily totals can answer this filter (and grouping) exactly."""
    return purchases.day_totals_cover(scope, flt) and (group is None or group in GROUPS)


def grouped(session: Session, scope: Scope, flt: Filter, group: str) -> list[tuple]:
    """Approved (key, purchases, amount, litres, points) per group, in the statistics' order: time
    groups by time, the others biggest amount first."""
    where = purchases.day_conditions(session, scope, flt, "approved")
    if group in ("day", "month"):
        rows = session.execute(
            select(PurchaseDay.day, *purchases.day_figures())
            .where(*where)
            .group_by(PurchaseDay.day)
            .order_by(PurchaseDay.day)
        ).all()
        width = 10 if group == "day" else 7  # "2026-03-01" or "2026-03"
        merged: dict[str, list[int]] = {}
        for day, *figures in rows:
            sums = merged.setdefault(day.isoformat()[:width], [0, 0, 0, 0])
            for index, value in enumerate(figures):
                sums[index] += int(value)
        return [(key, *sums) for key, sums in merged.items()]
    key = {"product": PurchaseDay.product_code, "region": PurchaseDay.region_id}[group]
    figures = purchases.day_figures()
    query = select(key, *figures).where(*where).group_by(key).order_by(figures[1].desc(), key)
    return [(k, *(int(v) for v in values)) for k, *values in session.execute(query)]
